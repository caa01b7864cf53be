"""normalize: raw channel payloads -> reports.normalized (keyed by region), or
reports.by_reporter when a report has a reporter (its thread comes first), or
reports.deadletter.

A report without a fix whose address the source's address book holds is
placed at that address's point here (``pipeline/addresses.py``), before its
thread and dedupe see it.

A social post is judged here, where it becomes a report (``pipeline/social.py``):
its verdict goes into ``details["relevance"]``, and a post that is not an
emergency is flagged ``not_an_emergency`` and counts in no surge window; dedupe
then keeps it off the incidents (``reports.irrelevant``)."""

from __future__ import annotations

import logging
import time

from faust.types import EventT, StreamT

from agents import metrics
from agents.app import Context, describe, now_ms, raw_ref, value_of
from agents.resources import load_triage
from pipeline.addresses import GEOCODED_BY
from pipeline.normalize import Rejection, normalize
from pipeline.regions import region_key
from pipeline.social import NOT_AN_EMERGENCY
from pipeline.surge import surge_keys

logger = logging.getLogger(__name__)
STAGE = "normalize"
DAY_MS = 86_400_000


def received_ms(event: EventT, now: int) -> int:
    """When the channel handed the report over: its raw message's create time.

    Latency is measured from there, so time spent queued in the raw topic
    under load counts. A timestamp that is missing, ahead of our clock, or a
    day old (a producer that stamps event times, not hand-over times) gives
    way to the time normalize took the message.
    """
    stamp = event.message.timestamp
    if not stamp or not now - DAY_MS < stamp * 1000 <= now:
        return now
    return int(stamp * 1000)


def install(ctx: Context) -> None:
    raw_names = [name for name, spec in ctx.specs.items() if spec.format]
    formats = {name: ctx.specs[name].format or "" for name in raw_names}
    source = ctx.app.topic(*raw_names, value_serializer="raw", key_serializer="raw")
    config = ctx.models.normalize
    addresses = ctx.models.addresses.load()
    triage = load_triage(ctx.models)

    @ctx.app.agent(source, name="normalize")
    async def normalize_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            started = time.perf_counter()
            now = now_ms()
            good = bad = 0
            posts = {"emergency": 0, "not_an_emergency": 0}
            geocoded = {"address": 0, "text": 0}
            for event in events:
                ref = raw_ref(event)
                try:
                    result = normalize(
                        value_of(event), formats[event.message.topic],
                        received_ms(event, now), config, raw_ref=ref,
                    )
                    if isinstance(result, Rejection):
                        bad += 1
                        await out.dead_letter(event, result.reason, result.detail)
                        continue
                    good += 1
                    # A call without a fix at the address it gives, as a CAD
                    # geocodes it (pipeline/addresses.py).
                    placed = addresses.locate(result)
                    if placed is not result:
                        geocoded[placed.details[GEOCODED_BY]] += 1
                        result = placed
                    held = False
                    if triage is not None and result.channel == "social":
                        result = triage.triaged(result)
                        held = NOT_AN_EMERGENCY in result.flags
                        posts["not_an_emergency" if held else "emergency"] += 1
                    if result.reporter:
                        # Through the reporter's thread first (agents/thread.py).
                        await out.send("reports.by_reporter", result.reporter,
                                       result.to_dict())
                    else:
                        await out.send("reports.normalized",
                                       region_key(result),
                                       result.to_dict())
                    for key in () if held else surge_keys(result):
                        await out.send("reports.by_area", key,
                                       {"key": key, "event_ms": result.event_ms})
                except Exception as exc:
                    bad += 1
                    logger.exception("normalize failed on %s", describe(event))
                    await out.dead_letter(event, "normalize_error", repr(exc))
            await out.delivered()
            metrics.STAGE_EVENTS.labels(STAGE, "dead_letter").inc(bad)
            for verdict, count in posts.items():
                if count:
                    metrics.POSTS_JUDGED.labels(verdict).inc(count)
            for by, count in geocoded.items():
                if count:
                    metrics.GEOCODED.labels(by).inc(count)
            metrics.batch_done(STAGE, good, started)
