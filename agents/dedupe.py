"""dedupe/thread: reports.normalized (keyed by cell) -> incidents.changes (by incident).

The open incidents of each grid cell live in a Faust table keyed by cell, so
the matching state survives a worker restart through its changelog.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from faust.types import EventT, StreamT, TableT

from agents import metrics
from agents.app import Context, Outbox, as_current, each_record
from pipeline.dedupe import CellState, IncidentMatcher, partition_key
from pipeline.schema import Report

logger = logging.getLogger(__name__)
STAGE = "dedupe"


class CellBatch:
    """One batch's cells: each read from the table once and written back once."""

    def __init__(self, cells: TableT, matcher: IncidentMatcher, cell_deg: float):
        self.cells, self.matcher, self.cell_deg = cells, matcher, cell_deg
        self.states: dict[str, CellState] = {}
        self.last_event: dict[str, EventT] = {}
        self.changes: dict[str, int] = {}

    async def match(self, out: Outbox, event: EventT, record: dict[str, Any]) -> None:
        report = Report.from_dict(record)
        key = partition_key(report, self.cell_deg)
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = CellState(self.cells.get(key))
        change = self.matcher.apply(state, report)
        self.last_event[key] = event
        self.changes[change.change] = self.changes.get(change.change, 0) + 1
        await out.send("incidents.changes", change.incident_id, change.to_dict())

    def write_back(self) -> None:
        for key, state in self.states.items():
            if key.startswith("u:"):
                continue  # a report with no point has no cell to keep
            as_current(self.last_event[key])
            self.cells[key] = state.to_dict()


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
            batch = CellBatch(cells, matcher, ctx.models.match.cell_deg)
            done = await each_record(ctx, out, events, STAGE, batch.match)
            batch.write_back()
            await out.delivered()

            for outcome, count in batch.changes.items():
                metrics.INCIDENT_CHANGES.labels(outcome).inc(count)
            metrics.batch_done(STAGE, done, started)
