"""score: incidents.changes -> incidents.scored (priority and the reasons for it)."""

from __future__ import annotations

import dataclasses
import logging
import time

import orjson
from faust.types import StreamT

from agents import metrics
from agents.app import Context, carried_ref, describe, value_of
from pipeline.schema import IncidentChange

logger = logging.getLogger(__name__)
STAGE = "score"


def install(ctx: Context) -> None:
    scorer = ctx.models.scorer

    @ctx.app.agent(ctx.topic("incidents.changes"), name="score")
    async def score_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            started = time.perf_counter()
            done = 0
            for event in events:
                try:
                    change = IncidentChange.from_dict(orjson.loads(value_of(event)))
                    priority, reasons = scorer.score(
                        change.kind, change.texts, change.report_count
                    )
                    scored = dataclasses.replace(
                        change, priority=priority, priority_reasons=reasons
                    )
                    await out.send("incidents.scored", change.incident_id,
                                   scored.to_dict())
                    done += 1
                except Exception as exc:
                    logger.exception("score failed on %s", describe(event))
                    await out.dead_letter(event, "score_error", repr(exc),
                                          carried_ref(value_of(event)))
            await out.delivered()
            metrics.STAGE_EVENTS.labels(STAGE, "ok").inc(done)
            metrics.STAGE_BATCH_SECONDS.labels(STAGE).observe(
                time.perf_counter() - started
            )
