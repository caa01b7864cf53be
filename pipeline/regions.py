"""Where the matcher keeps its state: a region's cells and their index.

Reports are partitioned by region (``region_key``); the open incidents of a
region are stored per grid cell (``CellState``, one dedupe table entry
``<region>|<cell>``), so a batch reads and writes only the cells it touches
(``Region``), and every cell round-trips through JSON as is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from pipeline.localtime import IMPLAUSIBLE_TIME, EventClock
from pipeline.schema import Report
from pipeline.thread import RecentPosts


def matchable(report: Report) -> bool:
    """A plausible time: what matching needs (a point, a street or a town
    name, or the reporter tell where)."""
    return not IMPLAUSIBLE_TIME.intersection(report.flags)


def timely(region: str) -> bool:
    """Whether a change's incident (by its ``region``) has a time that may
    move a clock downstream: not one a report opened alone for its time.

    >>> timely("r:montgomery_pa"), timely("u:sms:montgomery_pa:7")
    (True, False)
    """
    return not region.startswith("u:")


def region_key(report: Report) -> str:
    """Where a report is matched: with every report of its source, or alone.

    A source is one agency's service area (``models/service_areas.yaml``); all
    its reports meet in one partition, so two reports either side of a cell
    border, or one without a point, can find the incident they belong to
    whatever partition their raw message came in on. A report whose time is
    implausible cannot be matched and goes alone.
    """
    if matchable(report):
        return "r:" + report.source
    return "u:" + report.report_id


#: The cell name of a region's clock record (``Region.clock_key``).
CLOCK_CELL = "@clock"
#: Where a seen record keeps the input offset of the report's message.
OFFSET = 9
#: A cell with at most this many report ids and open incidents is far under
#: a changelog record's limit (``CellState.fit``): an id's record takes a
#: few hundred bytes at most, an incident a few KB (texts are cut at 500
#: characters, 5 kept; 100 report ids, 20 reporters).
SMALL_SEEN, SMALL_OPEN = 1_000, 50
#: The most report ids ``Region.seen_at`` keeps (about 100 bytes each).
MAX_SEEN_INDEX = 500_000


class CellState:
    """The open incidents of one grid cell and the reports they hold.

    Plain dicts and lists inside, so a state round-trips through JSON as is.
    """

    def __init__(self, data: dict[str, Any] | None = None):
        data = data or {}
        self.open: dict[str, dict[str, Any]] = data.get("open", {})
        # report id -> [incident id, event ms, version, home cell, lat, lon,
        # kind, reporter, channel, input offset (-1: none)], oldest first.
        self.seen: dict[str, list[Any]] = data.get("seen", {})
        self.clock_ms: int = int(data.get("clock_ms", 0))
        #: Street corners learnt (``pipeline/corners.py``): only in the cells
        #: that shard a region's corners.
        self.corners: dict[str, list[Any]] = data.get("corners", {})

    def to_dict(self) -> dict[str, Any]:
        state = {"open": self.open, "seen": self.seen, "clock_ms": self.clock_ms}
        if self.corners:
            state["corners"] = self.corners
        return state

    def fit(self, max_bytes: int) -> tuple[int, int]:
        """Cut the cell until it serializes to at most ``max_bytes``: the
        oldest report ids first, then the longest-quiet open incidents.
        Returns how many ids and incidents went. A changelog record has a
        size limit (Faust's producer: 1 MB); a cell past it stopped the
        worker. A cell that big is far past its bounds' intent (a day of
        reports of one 5 km cell), so cutting it costs little matching.

        >>> cell = CellState({"seen": {f"r{i}": ["I", i] for i in range(2000)}})
        >>> cell.fit(4_000)
        (1799, 0)
        >>> len(orjson.dumps(cell.to_dict())) <= 4_000
        True
        """
        if len(self.seen) <= SMALL_SEEN and len(self.open) <= SMALL_OPEN:
            return 0, 0  # far from the limit: not worth serializing
        ids = incidents = 0
        while len(orjson.dumps(self.to_dict())) > max_bytes:
            if self.seen:
                cut = max(1, len(self.seen) // 4)
                for report_id in list(self.seen)[:cut]:
                    del self.seen[report_id]
                ids += cut
            elif self.open:
                oldest = min(self.open, key=lambda i: self.open[i]["last_ms"])
                del self.open[oldest]
                incidents += 1
            else:
                break
        return ids, incidents

    def forget_seen(self, horizon_ms: float, keep: int,
                    committed: int | None = None) -> None:
        """Forget ids seen before ``horizon_ms`` (event time), and the oldest
        beyond ``keep``; never one whose input is not committed yet (its
        message's offset ``committed`` or later)."""
        excess = len(self.seen) - keep
        while self.seen:  # oldest first: stops at the first id that stays
            report_id, seen = next(iter(self.seen.items()))
            if excess <= 0 and (seen[1] >= horizon_ms or (
                    committed is not None and len(seen) > OFFSET
                    and seen[OFFSET] >= committed)):
                break
            del self.seen[report_id]
            excess -= 1


class Region:
    """The matching state of one region: its cells and an index of its incidents.

    Cells are read through ``load`` (the dedupe table, keyed
    ``<region>|<cell>``) once each and kept until ``begin``; ``changed`` names
    the ones to write back. ``recent`` (incident id -> [home cell, last event
    ms]) finds the incidents a report without a point can join, and
    ``unplaced`` those opened without a point that a report with one can; both
    are derived from the cells, kept in memory, and rebuilt from them after a
    restart (``rebuild``). An entry leaves once its incident is quiet past
    the longest window the index serves (``prune``), or leaves its cell, so
    the index holds only the last half hour or so of a region's incidents.
    ``posts`` (``pipeline/thread.py``) holds the last minutes' posts by their
    words, rebuilt likewise from the incidents' voices.
    """

    def __init__(self, name: str = "r:",
                 load: Callable[[str], dict[str, Any] | None] | None = None,
                 scan: Callable[[], Iterable[tuple[str, Any]]] | None = None):
        self.name = name
        self.load = load or (lambda key: None)
        #: Every stored (key, cell): how a split finds a report's cell.
        self.scan = scan or (lambda: ())
        self.cells: dict[str, CellState] = {}
        self.changed: set[str] = set()
        self.recent: dict[str, list[Any]] = {}
        #: The recent incidents whose home is a cell of reports without a point.
        self.unplaced: dict[str, list[Any]] = {}
        #: report id -> [incident id, last ms]: who holds each report of the
        #: indexed incidents. A report its cell does not remember (its seen
        #: record lost with a worker killed halfway through storing a batch,
        #: or a copy that lost its point) is still known by the incident
        #: that holds it.
        self.members: dict[str, list[Any]] = {}
        #: report id -> the cell that remembers it, whatever the point of a
        #: later report with that id: a copy that lost its point, or another
        #: report a source gave the id again, finds the first one's record
        #: (in memory; ``rebuild`` takes it from the cells). An entry can
        #: outlive its record (``CellState.forget_seen``): then it finds
        #: nothing. At most ``MAX_SEEN_INDEX``, the oldest leave first.
        self.seen_at: dict[str, str] = {}
        #: The posts of the last minutes, by their words (``pipeline/thread.py``).
        self.posts = RecentPosts()
        #: The newest event time seen: incidents leave by it. One report
        #: dated hours ahead does not move it (``EventClock``).
        self.clock = EventClock()
        #: Whether the clock came from a stored clock record (``rebuild``).
        self.clock_stored = False
        #: The input offset of the report being matched (-1: none), and
        #: the region's partition's committed offset (None: unknown): seen
        #: records of input not committed stay (``CellState.forget_seen``).
        self.offset = -1
        self.committed: int | None = None

    @property
    def clock_ms(self) -> int:
        return self.clock.ms

    @clock_ms.setter
    def clock_ms(self, value: int) -> None:
        self.clock.ms = value

    def index(self, incident: dict[str, Any], home: str) -> None:
        # Kept in order of last change: the oldest leave first (``prune``).
        entry = [home, incident["last_ms"]]
        self.recent.pop(incident["id"], None)
        self.recent[incident["id"]] = entry
        if home.startswith(self.name + "|p"):
            self.unplaced.pop(incident["id"], None)
            self.unplaced[incident["id"]] = entry
        if incident["report_ids"]:
            # The newest: each report is indexed as it joins (all of them
            # at a rebuild, oldest first).
            self.member(incident["report_ids"][-1], incident)

    def member(self, report_id: str, incident: dict[str, Any]) -> None:
        self.members.pop(report_id, None)
        self.members[report_id] = [incident["id"], incident["last_ms"]]

    def remember(self, own: str, report_id: str, record: list[Any]) -> None:
        """Keep ``record`` of ``report_id`` in the cell ``own``."""
        self.cell(own).seen[report_id] = record
        self.changed.add(own)
        self.seen_at.pop(report_id, None)
        self.seen_at[report_id] = own
        if len(self.seen_at) > MAX_SEEN_INDEX:
            for old in list(self.seen_at)[:len(self.seen_at) // 4]:
                del self.seen_at[old]

    def holder(self, report_id: str) -> tuple[str, dict[str, Any]] | None:
        """The indexed incident that holds ``report_id``, and its home cell."""
        member = self.members.get(report_id)
        if member is None or (entry := self.recent.get(member[0])) is None:
            return None
        incident = self.cell(entry[0]).open.get(member[0])
        if incident is None or report_id not in incident["report_ids"]:
            return None
        return entry[0], incident

    def prune(self, horizon_ms: float) -> None:
        """Drop the index entries last changed before ``horizon_ms``."""
        for index in (self.recent, self.unplaced, self.members):
            while index:
                incident_id, (_, last_ms) = next(iter(index.items()))
                if last_ms >= horizon_ms:
                    break
                del index[incident_id]

    def forget(self, incident_id: str) -> None:
        self.recent.pop(incident_id, None)
        self.unplaced.pop(incident_id, None)

    def begin(self) -> None:
        """A new batch: cells are read again from ``load``."""
        self.cells.clear()
        self.changed.clear()

    def cell(self, key: str) -> CellState:
        state = self.cells.get(key)
        if state is None:
            state = self.cells[key] = CellState(self.load(key))
            if not self.clock_stored:
                self.clock_ms = max(self.clock_ms, state.clock_ms)
        return state

    @property
    def clock_key(self) -> str:
        """The key of the region's clock record, stored after a batch's cells."""
        return f"{self.name}|{CLOCK_CELL}"

    def clock_record(self) -> dict[str, Any]:
        return {"clock_ms": self.clock_ms}

    def rebuild(self, items: Iterable[tuple[str, Any]]) -> None:
        """Index the open incidents of stored cells (``key``, cell dict)."""
        prefix = self.name + "|"
        found: list[tuple[int, str, dict[str, Any]]] = []
        newest: dict[str, tuple[int, int]] = {}
        stored_clock: int | None = None
        for key, value in items:
            if not key.startswith(prefix) or not isinstance(value, dict):
                continue
            if key == self.clock_key:
                stored_clock = int(value.get("clock_ms", 0))
                continue
            state = CellState(value)
            self.clock_ms = max(self.clock_ms, state.clock_ms)
            for report_id, record in state.seen.items():
                # The newest record of an id that several cells remember (a
                # newer version is remembered where it fell).
                rank = (record[2] if len(record) > 2 else 0, record[1])
                if report_id not in newest or rank >= newest[report_id]:
                    newest[report_id] = rank
                    self.seen_at[report_id] = key
            for incident in state.open.values():
                found.append((incident["last_ms"], key, incident))
        # In order of last change, as they were indexed (``prune``).
        found.sort(key=lambda f: f[0])
        if stored_clock is not None:
            # The clock of the last batch stored whole: a worker killed while
            # storing a batch leaves cells of it whose clocks run ahead, by
            # the hours a replayed batch may span. By theirs, the incidents
            # the batch's first reports joined would already have closed.
            self.clock_ms, self.clock_stored = stored_clock, True
        for _, key, incident in found:
            self.index(incident, key)
            for report_id in incident["report_ids"][:-1]:
                self.member(report_id, incident)
            self.posts.restore(incident)

    def locate(self, report_id: str) -> tuple[str, list[Any]] | None:
        """The cell that remembers a report, and what it remembers of it."""
        known = self.seen_at.get(report_id)
        if known is not None and report_id in self.cell(known).seen:
            return known, self.cell(known).seen[report_id]
        for key, cell in self.cells.items():
            if report_id in cell.seen:
                return key, cell.seen[report_id]
        prefix = self.name + "|"
        for key, value in list(self.scan()):
            if (key.startswith(prefix) and key not in self.cells
                    and isinstance(value, dict) and report_id in value.get("seen", ())):
                return key, self.cell(key).seen[report_id]
        return None

    @property
    def open(self) -> dict[str, dict[str, Any]]:
        """Every open incident of the cells read so far."""
        return {i: inc for cell in self.cells.values() for i, inc in cell.open.items()}

    @property
    def seen(self) -> dict[str, list[Any]]:
        """Every report id remembered by the cells read so far."""
        return {r: s for cell in self.cells.values() for r, s in cell.seen.items()}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The cells read so far as the table holds them."""
        return {key: cell.to_dict() for key, cell in self.cells.items()}
