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

Killed outright (no transactions: at-least-once), a worker processes its
last uncommitted input again. A batch's changes are acknowledged before its
cells are stored, and matching is a function of the stored cells and the
report, so a report decided again is decided as before; a report its stored
cell remembers is a repeat. A kill while the cells of a batch are being
stored leaves some stored and some not; dedupe repairs what it can see
(``IncidentMatcher._torn``, ``Region.holder``).
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from faust.types import TP, EventT, StreamT, TableT

from agents import metrics
from agents.app import Context, Outbox, as_current, each_record, table_get
from pipeline.bundle import partition_for
from pipeline.dedupe import IncidentMatcher, SplitRefused
from pipeline.regions import Region, region_key
from pipeline.schema import REPEAT, Report
from pipeline.social import NOT_AN_EMERGENCY

logger = logging.getLogger(__name__)
STAGE = "dedupe"
COMMANDS = "incidents.commands"


class RegionBatch:
    """One batch's regions: each cell read from the table once, written once."""

    def __init__(self, cells: TableT, regions: dict[str, Region],
                 matcher: IncidentMatcher, committed: dict[TP, int | None]):
        self.cells, self.regions, self.matcher = cells, regions, matcher
        #: The consumer's committed offsets (Faust's own record of them).
        self.committed = committed
        self.used: dict[str, Region] = {}
        self.last_event: dict[str, EventT] = {}
        self.changes: dict[str, int] = {}
        self.held = 0

    def region_of(self, key: str) -> Region:
        region = self.used.get(key)
        if region is not None:
            return region
        if key.startswith("u:"):
            region = Region(key)  # a report matched with nothing: no state
        else:
            region = self.regions.get(key)
            if region is None:
                region = self.regions[key] = Region(
                    key, functools.partial(table_get, self.cells), self.cells.items)
                region.rebuild(self.cells.items())
            region.begin()
        self.used[key] = region
        return region

    async def match(self, out: Outbox, event: EventT, record: dict[str, Any]) -> None:
        if event.message.topic == COMMANDS:
            await self.command(out, event, record)
            return
        report = Report.from_dict(record)
        key = region_key(report)
        # Before anything can fail: the region's cells are written back with
        # the changelog partition of its messages, whatever this record does.
        self.last_event[key] = event
        region = self.region_of(key)
        # The report's ids stay in its cell, whatever their age by event
        # time, until its message's offset is committed: a worker killed
        # before then processes it again. None committed yet: offset 0.
        message = event.message
        region.offset = message.offset
        region.committed = self.committed.get(TP(message.topic, message.partition)) or 0
        if NOT_AN_EMERGENCY in report.flags:
            # Judged at normalize: it opens no incident, and joins one only
            # when it fits it beyond doubt; else it is kept and counted.
            held = self.matcher.hold(region, report)
            if held is None:
                self.held += 1
                await out.send("reports.irrelevant", report.report_id, record)
                return
            change = held
        else:
            change = self.matcher.apply(region, report)
        if change.report_id != report.report_id and change.change != REPEAT:
            metrics.REUSED_IDS.inc()
            logger.warning("report id %s was given before to another report: "
                           "decided as %s", report.report_id, change.report_id)
        # Then the reports of its reporter that its fix moved, if any.
        for sent in (change, *self.matcher.moved()):
            self.changes[sent.change] = self.changes.get(sent.change, 0) + 1
            await out.send("incidents.changes", sent.incident_id, sent.to_dict())

    async def command(self, out: Outbox, event: EventT, record: dict[str, Any]
                      ) -> None:
        """An operator's command (``incidents.commands``): a split. One that
        cannot be carried out is dead-lettered with why, never dropped."""
        try:
            split = read_split(record)
        except ValueError as exc:
            logger.warning("bad command: %s", exc)
            await out.dead_letter(event, "bad_command", str(exc))
            return
        key = split["region"]
        self.last_event[key] = event
        try:
            changes = self.matcher.split(
                self.region_of(key), split["incident_id"], split["report_id"],
                split["by"], split["reason"], split["at_ms"])
        except SplitRefused as exc:
            logger.warning("split refused: %s", exc)
            await out.dead_letter(event, "split_refused", str(exc))
            return
        if changes:
            logger.info("split %s out of %s into %s by %r", split["report_id"],
                        split["incident_id"], changes[1].incident_id, split["by"])
        for change in changes:
            self.changes[change.change] = self.changes.get(change.change, 0) + 1
            await out.send("incidents.changes", change.incident_id, change.to_dict())

    def write_back(self) -> None:
        for key, region in self.used.items():
            event = self.last_event.get(key)
            if key.startswith("u:") or event is None:
                continue  # a report matched with nothing has no state to keep
            # The cells go to the changelog partition of the region's messages.
            as_current(event)
            for cell in region.changed:
                state = region.cells[cell]
                ids, incidents = state.fit(MAX_CELL_BYTES)
                if ids or incidents:
                    logger.warning("dedupe cell %s too big for one changelog "
                                   "record: %d report ids and %d open "
                                   "incidents dropped, oldest first", cell, ids,
                                   incidents)
                    metrics.CELLS_TRIMMED.labels("report_ids").inc(ids)
                    metrics.CELLS_TRIMMED.labels("incidents").inc(incidents)
                    for incident_id in [i for i in region.recent
                                        if region.recent[i][0] == cell
                                        and i not in state.open]:
                        region.forget(incident_id)
                self.cells[cell] = state.to_dict()
            # Last, after every cell of the batch (``Region.rebuild``).
            self.cells[region.clock_key] = region.clock_record()


#: A cell's changelog record at most: Faust's producer refuses a request
#: over 1,000,000 bytes (``producer_max_request_size``), and the refusal
#: stops the worker.
MAX_CELL_BYTES = 900_000


#: A split's reason travels with both incidents to the board and the EIDO
#: export: a sentence or two, not a file.
MAX_SPLIT_REASON = 500


def read_split(record: dict[str, Any]) -> dict[str, Any]:
    """A split command's fields, checked; raises ``ValueError`` saying what is
    wrong with it."""
    if record.get("command") != "split":
        raise ValueError(f"not a command dedupe knows: {record.get('command')!r}")
    region = record.get("region")
    if not isinstance(region, str) or not region.startswith("r:"):
        raise ValueError(f"a split needs the region it is about (r:<source>), "
                         f"not {region!r}")
    fields: dict[str, Any] = {"region": region}
    for name in ("incident_id", "report_id", "by"):
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"a split needs {name} as a non-empty string, "
                             f"not {value!r}")
        fields[name] = value
    reason = record.get("reason", "")
    at_ms = record.get("at_ms", 0)
    if not isinstance(reason, str):
        raise ValueError(f"reason must be a string, not {reason!r}")
    if len(reason) > MAX_SPLIT_REASON:
        raise ValueError(f"a split's reason is kept with both incidents: at most "
                         f"{MAX_SPLIT_REASON} characters, not {len(reason):,}")
    if isinstance(at_ms, bool) or not isinstance(at_ms, int) or at_ms < 0:
        raise ValueError(f"at_ms must be milliseconds since 1970, not {at_ms!r}")
    return {**fields, "reason": reason, "at_ms": at_ms}


def install(ctx: Context) -> None:
    # The book is read at start (how far a fix is from the streets a call
    # named), not by the first batch that asks.
    matcher = IncidentMatcher(ctx.models.kinds, ctx.models.match, ctx.models.places,
                              ctx.models.addresses.load())
    cells = ctx.app.Table(
        "dedupe-cells",
        default=None,
        partitions=ctx.specs["reports.normalized"].partitions,
    )
    regions: dict[str, Region] = {}

    # Commands come in on the partitions of the reports they are about.
    source = ctx.app.topic("reports.normalized", COMMANDS,
                           value_serializer="raw", key_serializer="raw")

    @ctx.app.agent(source, name="dedupe")
    async def dedupe_agent(stream: StreamT) -> None:
        # Faust's record of the offsets it committed (read at a start from
        # the broker, updated at each commit); it has no public accessor.
        consumer: Any = ctx.app.consumer
        committed: dict[TP, int | None] = consumer._committed_offset
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            started = time.perf_counter()
            batch = RegionBatch(cells, regions, matcher, committed)
            done = await each_record(ctx, out, events, STAGE, batch.match)
            # The changes first, acknowledged, then the state that made them:
            # a worker killed in between decides the batch again from the
            # state before it, as it did (the same changes, the same ids),
            # and a state that holds a report was announced downstream (its
            # redelivery is a repeat, which fires nothing).
            await out.delivered()
            try:
                batch.write_back()
            except Exception:  # the batch's changes went out
                logger.exception("dedupe could not store the matching state of a "
                                 "batch; its changes were sent")

            for outcome, count in batch.changes.items():
                metrics.INCIDENT_CHANGES.labels(outcome).inc(count)
            metrics.POSTS_HELD.inc(batch.held)
            metrics.batch_done(STAGE, done, started)

    partitions = ctx.specs["reports.normalized"].partitions

    async def forget(app: Any, revoked: Any, **kwargs: Any) -> None:
        """A region whose partition this worker lost is another's now; its
        index, clock and recent posts are rebuilt from the table if it comes
        back (they would be stale: the other worker moved them on)."""
        lost = {tp.partition for tp in revoked
                if tp.topic in ("reports.normalized", COMMANDS)}
        for key in [k for k in regions
                    if partition_for(k.encode(), partitions) in lost]:
            del regions[key]

    # Faust calls its signal receivers with keyword ``signal``; its stub types
    # name it, our receiver takes it in ``kwargs``.
    ctx.app.on_partitions_revoked.connect(forget)  # type: ignore[arg-type]
