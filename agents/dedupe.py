"""dedupe/thread: reports.normalized (keyed by cell) -> incidents.changes (by incident).

The open incidents of each grid cell live in a Faust table keyed by cell, so
the matching state survives a worker restart through its changelog.
"""

from __future__ import annotations

import logging
import time

import orjson
from faust.types import StreamT

from agents import metrics
from agents.app import Context, as_current, carried_ref, describe, key_of, value_of
from pipeline.dedupe import CellState, IncidentMatcher
from pipeline.schema import Report

logger = logging.getLogger(__name__)
STAGE = "dedupe"


def install(ctx: Context) -> None:
    matcher = IncidentMatcher(ctx.models.kinds, ctx.models.match)
    cells = ctx.app.Table(
        "dedupe-cells",
        default=None,
        partitions=ctx.specs["reports.normalized"].partitions,
    )

    @ctx.app.agent(ctx.topic("reports.normalized"), name="dedupe")
    async def dedupe_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            started = time.perf_counter()
            # One state object per cell per batch; each written back once.
            states: dict[str, CellState] = {}
            last_event = {}
            changes: dict[str, int] = {}
            for event in events:
                try:
                    report = Report.from_dict(orjson.loads(value_of(event)))
                    key = key_of(event)
                    state = states.get(key)
                    if state is None:
                        state = states[key] = CellState(cells.get(key))
                    change = matcher.apply(state, report)
                    last_event[key] = event
                    changes[change.change] = changes.get(change.change, 0) + 1
                    await out.send("incidents.changes", change.incident_id,
                                   change.to_dict())
                except Exception as exc:
                    logger.exception("dedupe failed on %s", describe(event))
                    await out.dead_letter(event, "dedupe_error", repr(exc),
                                          carried_ref(value_of(event)))
            for key, state in states.items():
                if key.startswith("u:"):
                    continue  # a report with no point has no cell to keep
                as_current(last_event[key])
                cells[key] = state.to_dict()
            await out.delivered()
            for outcome, count in changes.items():
                metrics.INCIDENT_CHANGES.labels(outcome).inc(count)
            metrics.STAGE_EVENTS.labels(STAGE, "ok").inc(sum(changes.values()))
            metrics.STAGE_BATCH_SECONDS.labels(STAGE).observe(
                time.perf_counter() - started
            )

