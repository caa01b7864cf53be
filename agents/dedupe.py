"""dedupe: reports.normalized (keyed by region) -> incidents.changes (by incident).

Operators' commands (``incidents.commands``, keyed by region like the reports,
so on the same partitions) split a report out of an incident; the split goes
downstream as changes like any other.

Every report of one region (a source's service area, ``region_key``) comes in
on one partition, so matching sees every incident a report could join. The
region's open incidents live in a Faust table keyed by ``<region>|<cell>``:
a batch reads and writes only the cells it touches, and the matching state
survives a worker restart through the table's changelog. Each region's index
of recent incidents (``pipeline.dedupe.Region``) is rebuilt from the table the
first time the worker sees the region.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from faust.types import EventT, StreamT, TableT

from agents import metrics
from agents.app import Context, Outbox, as_current, each_record
from pipeline.dedupe import IncidentMatcher, Region, SplitRefused, region_key
from pipeline.schema import Report

logger = logging.getLogger(__name__)
STAGE = "dedupe"


class RegionBatch:
    """One batch's regions: each cell read from the table once, written once."""

    def __init__(self, cells: TableT, regions: dict[str, Region],
                 matcher: IncidentMatcher):
        self.cells, self.regions, self.matcher = cells, regions, matcher
        self.used: dict[str, Region] = {}
        self.last_event: dict[str, EventT] = {}
        self.changes: dict[str, int] = {}

    def region_of(self, key: str) -> Region:
        region = self.used.get(key)
        if region is not None:
            return region
        if key.startswith("u:"):
            region = Region(key)  # a report matched with nothing: no state
        else:
            region = self.regions.get(key)
            if region is None:
                region = self.regions[key] = Region(key, self.cells.get,
                                                    self.cells.items)
                region.rebuild(self.cells.items())
            region.begin()
        self.used[key] = region
        return region

    async def match(self, out: Outbox, event: EventT, record: dict[str, Any]) -> None:
        if "command" in record:
            await self.command(out, event, record)
            return
        report = Report.from_dict(record)
        key = region_key(report)
        change = self.matcher.apply(self.region_of(key), report)
        self.last_event[key] = event
        self.changes[change.change] = self.changes.get(change.change, 0) + 1
        await out.send("incidents.changes", change.incident_id, change.to_dict())

    async def command(self, out: Outbox, event: EventT, record: dict[str, Any]
                      ) -> None:
        """An operator's command (``incidents.commands``): a split."""
        key = str(record.get("region", ""))
        if record["command"] != "split" or not key.startswith("r:"):
            raise ValueError(f"not a command dedupe knows: {record['command']!r} "
                             f"for region {key!r}")
        try:
            changes = self.matcher.split(
                self.region_of(key), str(record["incident_id"]),
                str(record["report_id"]), str(record.get("by", "")),
                str(record.get("reason", "")), int(record.get("at_ms") or 0))
        except SplitRefused as exc:
            logger.warning("split refused: %s", exc)
            await out.dead_letter(event, "split_refused", str(exc))
            return
        self.last_event[key] = event
        if changes:
            logger.info("split %s out of %s into %s by %r", record["report_id"],
                        record["incident_id"], changes[1].incident_id,
                        record.get("by", ""))
        for change in changes:
            self.changes[change.change] = self.changes.get(change.change, 0) + 1
            await out.send("incidents.changes", change.incident_id, change.to_dict())

    def write_back(self) -> None:
        for key, region in self.used.items():
            if key.startswith("u:"):
                continue  # a report matched with nothing has no state to keep
            # The cells go to the changelog partition of the region's messages.
            as_current(self.last_event[key])
            for cell in region.changed:
                self.cells[cell] = region.cells[cell].to_dict()


def install(ctx: Context) -> None:
    matcher = IncidentMatcher(ctx.models.kinds, ctx.models.match, ctx.models.places)
    cells = ctx.app.Table(
        "dedupe-cells",
        default=None,
        partitions=ctx.specs["reports.normalized"].partitions,
    )
    regions: dict[str, Region] = {}

    # Commands come in on the partitions of the reports they are about.
    source = ctx.app.topic("reports.normalized", "incidents.commands",
                           value_serializer="raw", key_serializer="raw")

    @ctx.app.agent(source, name="dedupe")
    async def dedupe_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            started = time.perf_counter()
            batch = RegionBatch(cells, regions, matcher)
            done = await each_record(ctx, out, events, STAGE, batch.match)
            batch.write_back()
            await out.delivered()

            for outcome, count in batch.changes.items():
                metrics.INCIDENT_CHANGES.labels(outcome).inc(count)
            metrics.batch_done(STAGE, done, started)
