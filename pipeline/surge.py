"""Windowed report counts per key (area and discipline) and a surge detector.

Windows are ``window_s`` long and start every ``hop_s`` (hopping; tumbling when
``hop_s == window_s``), on event time, so an event counts in ``window_s /
hop_s`` windows. Each key has one detector, fed the key's windows in order.

One ``SurgeMonitor`` holds the keys of one input partition: a key's events
all come through one partition, in order, so its windows need only that
partition's clock, and the partition's state moves with it when a worker
takes it over. The watermark is the partition's newest event time minus
``grace_s``; a window closes once the watermark passes its end.

Late events: an event whose windows are all still open is counted in each.
One that finds some of its windows already closed (their end is behind the
watermark) is added to those still open and counted once in ``late`` (the
key's and the monitor's); one whose every window closed is only counted in
``late``. Nothing is dropped silently.

Quiet windows (zero counts) teach a key's detector too, learned in bulk
before its next window with reports is scored. ``flush`` closes everything
still open (the end of a replay). ``advance_by_wall_clock`` is the live
mode's closing of a quiet stream: once the partition has heard no event for
``idle_s`` of wall-clock time, the watermark follows the wall clock minus
``grace_s``, but only while the partition's last event arrived within
``live_lag_s`` of its own event time, so a replay of old logs (events years
behind the wall clock) is never closed by it.

An event more than ``max_ahead_s`` past the partition's newest time is held
back: if the next such event comes within ``max_ahead_s`` of it, time really
moved on (a quiet spell) and both are counted; otherwise it was a wrong clock,
and it is counted in ``outliers`` and moves nothing, so one bad time cannot
close months of windows at once.

Redelivery: ``add`` takes the event's position in its partition (message
offset, index in the bundle); a key remembers the last position it counted and
counts nothing at or before it again (``repeats``). ``clock_state``,
``key_state`` and ``restored`` turn a monitor into JSON values and back (a
worker keeps them in a changelogged table).

Each key's detector is ``pipeline.anomaly.StreamDetector`` on the counts'
scale (the Anscombe transform, under which Poisson counts have a variance
close to 1 whatever their mean, and an sd of at least 1 when a history has no
variance), looking up only: it stays ``warming_up`` until it has learned
``detector.warmup`` windows, and a window it flags is a ``surge`` when it
holds at least ``min_count`` reports. The detector's sizes count windows, one
per hop. It is the same detector, with the same settings, that
``benchmarks/nab_eval.py`` scores on the Numenta Anomaly Benchmark.

>>> quick = DetectorParams(scale="counts", direction="up", warmup=3)
>>> monitor = SurgeMonitor(SurgeParams(window_s=60, grace_s=0, detector=quick,
...                                    min_count=3))
>>> for minute in range(6):
...     _ = monitor.add("A", minute * 60_000 + 1)
>>> for _ in range(20):
...     _ = monitor.add("A", 6 * 60_000 + 5)
>>> closed = monitor.advance(8 * 60_000)
>>> [(w.count, w.status) for w in closed]
[(20, 'surge')]
"""

from __future__ import annotations

import base64
import heapq
import math
import sys
import zlib
from array import array
from collections import deque
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any, cast

from pipeline.anomaly import (
    INVALID,
    DetectorParams,
    StreamDetector,
    Verdict,
)
from pipeline.localtime import IMPLAUSIBLE_TIME
from pipeline.schema import Report

SURGE = "surge"
NORMAL = "normal"
WARMING_UP = "warming_up"
#: The largest count a detector's state keeps (32 bits).
MAX_COUNT = 2**32 - 1
#: Counts per packed block of a key's state (``SurgeDetector.to_state``).
STATE_BLOCK = 512
#: Where the counts of areas past ``max_keys`` go: ``OTHER_AREAS|<category>``,
#: for at most ``MAX_CATEGORIES`` categories; past those, ``OTHER_AREAS|OTHER_AREAS``.
OTHER_AREAS = "(other areas)"
MAX_CATEGORIES = 64
#: Before any position: every real event comes after it.
START = (-1, -1)


#: The detector's defaults for counts of reports: surges only (more than usual).
COUNTS_UP = DetectorParams(scale="counts", direction="up", warmup=48)


@dataclass(frozen=True, slots=True)
class SurgeParams:
    window_s: int = 3600
    #: Windows start every hop_s; 0 means window_s (tumbling).
    hop_s: int = 0
    grace_s: int = 900
    #: The detector's settings (``pipeline.anomaly``), counted in windows.
    detector: DetectorParams = COUNTS_UP
    min_count: int = 5
    max_ahead_s: int = 86_400
    #: Live mode: wall-clock seconds without an event before the watermark
    #: follows the wall clock.
    idle_s: int = 60
    #: ... and only when the last event came at most this long after its
    #: event time (a replay's events come years later).
    live_lag_s: int = 3600
    #: Keys one partition keeps a detector for. Areas can be free text (the
    #: generic JSON channel's ``area``): past this many, a new area's counts
    #: go to ``OTHER_AREAS`` of its category (``SurgeMonitor.admit``).
    max_keys: int = 5000

    def __post_init__(self) -> None:
        for name in ("window_s", "hop_s", "grace_s", "min_count", "max_ahead_s",
                     "idle_s", "live_lag_s", "max_keys"):
            if not isinstance(getattr(self, name), int):
                raise ValueError(f"surge {name} must be a whole number")
        if self.window_s <= 0 or self.max_ahead_s <= 0:
            raise ValueError("window_s and max_ahead_s must be positive")
        if self.grace_s < 0:
            raise ValueError("grace_s must be >= 0")
        if self.hop_s < 0 or self.window_s % self.step_s:
            raise ValueError("hop_s must divide window_s (0: tumbling)")
        if self.idle_s < 0 or self.live_lag_s < 0:
            raise ValueError("idle_s and live_lag_s must be >= 0")
        if self.min_count < 1:
            raise ValueError("min_count must be at least 1")
        if self.max_keys < 1:
            raise ValueError("max_keys must be at least 1")

    @property
    def step_s(self) -> int:
        """Seconds between window starts."""
        return self.hop_s or self.window_s

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SurgeParams:
        unknown = set(config) - set(cls.__slots__)
        if unknown:
            raise ValueError(f"unknown surge settings: {sorted(unknown)}")
        config = dict(config)
        detector = config.pop("detector", None) or {}
        if not isinstance(detector, dict):
            raise ValueError("surge detector settings must be a mapping")
        detector = {"scale": "counts", "direction": "up", **detector}
        return cls(detector=DetectorParams.from_config(detector), **config)


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    key: str
    start_ms: int
    end_ms: int
    count: int
    status: str
    expected_low: float
    expected_high: float
    z: float
    #: Windows the key's detector had learned before this one.
    seen: int = 0
    #: Why the detector flagged it (empty unless a surge).
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "start_ms": self.start_ms, "end_ms": self.end_ms,
            "count": self.count, "status": self.status,
            "expected_low": self.expected_low, "expected_high": self.expected_high,
            "z": self.z, "seen": self.seen, "reason": self.reason,
        }


def surge_keys(report: Report) -> tuple[str, ...]:
    """The keys a report is counted under: its area's and the county's
    (``ALL``), by discipline (or kind); none when its time is implausible."""
    if set(report.flags) & IMPLAUSIBLE_TIME:
        return ()
    category = report.discipline or report.kind
    return f"{report.area}|{category}", f"ALL|{category}"


def pack_counts(counts: deque[int] | list[int]) -> str:
    """Counts as text: unsigned 32-bit little-endian, deflated, base64.

    A key's state is rewritten with every batch that closes one of its
    windows; as a JSON list, two weeks of 15-minute counts took 6 KB.

    >>> unpack_counts(pack_counts([0, 3, 70_000]))
    [0, 3, 70000]
    """
    packed = array("I", counts)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(zlib.compress(packed.tobytes(), 1)).decode()


def unpack_counts(text: str) -> list[int]:
    packed = array("I")
    packed.frombytes(zlib.decompress(base64.b64decode(text)))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tolist()


class SurgeDetector:
    """One key's detector: ``pipeline.anomaly.StreamDetector`` on its counts,
    flagging only counts of at least ``min_count``."""

    def __init__(self, params: SurgeParams,
                 detector: StreamDetector | None = None):
        self.params = params
        self.detector = detector or StreamDetector(params.detector)
        self._verdict: Verdict | None = None
        #: Packed complete blocks of kept counts, by block number (``to_state``).
        self._blocks: dict[int, str] = {}

    @property
    def seen(self) -> int:
        return self.detector.seen

    @property
    def warming_up(self) -> bool:
        return self.detector.warming_up

    def score_one(self, count: int) -> tuple[str, float, float, float]:
        """Status, z-score and expected count range for ``count``, before learning.

        A window with fewer than ``min_count`` reports can never page anyone:
        it gets the level test only, and the shape test's calibration holds
        the windows that could (the shape test costs most of the scoring).
        """
        verdict = self.detector.score(
            count, shape=math.isfinite(count) and count >= self.params.min_count)
        self._verdict = verdict
        low, high = verdict.expected_low, verdict.expected_high
        if verdict.status in (WARMING_UP, INVALID):
            return WARMING_UP, verdict.z, low, high
        if verdict.flagged and count >= self.params.min_count:
            return SURGE, verdict.z, low, high
        return NORMAL, verdict.z, low, high

    @property
    def reason(self) -> str:
        """Why the count just scored was flagged (the detector's words)."""
        return self._verdict.reason if self._verdict is not None else ""

    def learn_one(self, count: int) -> None:
        """Learn ``count`` (after ``score_one`` of the same count)."""
        verdict = self._verdict
        self._verdict = None
        if verdict is not None and verdict.flagged and count < self.params.min_count:
            # Too few reports to page anyone: no rest period either.
            verdict = replace(verdict, status=NORMAL)
        if math.isfinite(count) and count >= 0:
            # Kept as a whole number: the state packs them (``pack_counts``).
            count = min(int(count), MAX_COUNT)
        self.detector.learn(count, verdict)

    def learn_zeros(self, windows: int) -> None:
        """Learn ``windows`` quiet windows at once."""
        self.detector.learn_many(0, windows)

    def to_state(self) -> dict[str, Any]:
        """JSON-able state: the detector's, its kept counts packed in blocks
        (``pack_counts``); ``from_state`` learns them again in order.

        The state is written with every batch that closes one of the key's
        windows, and the counts kept run to thousands: a block of
        ``STATE_BLOCK`` counts is packed once, when it is complete, and only
        the newest, incomplete one is packed each time.
        """
        detector = self.detector
        state = detector.to_state(with_inputs=False)
        # Whole numbers: ``learn_one`` and ``learn_zeros`` keep them so.
        inputs = cast("deque[int]", detector.inputs)
        end, kept = detector.seen, len(inputs)
        start = end - kept
        blocks = self._blocks
        for gone in [b for b in blocks if (b + 1) * STATE_BLOCK <= start]:
            del blocks[gone]
        packed = []
        for block in range(start // STATE_BLOCK, end // STATE_BLOCK):
            text = blocks.get(block)
            if text is None:
                first = max(block * STATE_BLOCK, start) - start
                text = blocks[block] = pack_counts(list(islice(
                    inputs, first, (block + 1) * STATE_BLOCK - start)))
            packed.append(text)
        tail = min(end % STATE_BLOCK, kept)
        if tail:
            newest = list(islice(reversed(inputs), tail))
            newest.reverse()
            packed.append(pack_counts(newest))
        state["input_blocks"], state["kept"] = packed, kept
        return state

    @classmethod
    def from_state(cls, params: SurgeParams, state: dict[str, Any]) -> SurgeDetector:
        """A detector that learned the counts of ``to_state`` again.

        >>> detector = SurgeDetector(SurgeParams())
        >>> for count in (3, 4, 0):
        ...     _ = detector.score_one(count)
        ...     detector.learn_one(count)
        >>> again = SurgeDetector.from_state(detector.params, detector.to_state())
        >>> again.seen, again.score_one(9) == detector.score_one(9)
        (3, True)
        """
        state = dict(state)
        if "input_blocks" in state:
            counts = [c for text in state.pop("input_blocks")
                      for c in unpack_counts(text)]
            kept = int(state.pop("kept", len(counts)))
            state["inputs"] = counts[len(counts) - kept:] if kept else []
        else:  # written before the blocks: one packed list
            packed = state.get("inputs")
            state["inputs"] = unpack_counts(packed) if packed else []
        return cls(params, StreamDetector.from_state(
            params.detector, state,
            shape_if=lambda count: count >= params.min_count))


@dataclass
class _KeyWindows:
    next_start_ms: int
    open: dict[int, int] = field(default_factory=dict)
    late: int = 0
    #: The last (offset, index) counted: a redelivered event is at or before it.
    position: tuple[int, int] = START


#: A held event: key, event ms, position.
Held = tuple[str, int, tuple[int, int]]


class SurgeMonitor:
    """One partition's counts per key in event-time windows, scored as they close.

    Only windows with reports are closed one by one (a heap orders them by
    end); the quiet windows of a key in between are learned in bulk when its
    next window with reports closes. A zero count can never be a surge
    (``min_count`` is at least 1), so nothing is lost by not scoring them, and
    the cost follows the reports, not keys times hours.
    """

    def __init__(self, params: SurgeParams):
        if params.min_count < 1:
            raise ValueError("min_count must be at least 1")
        self.params = params
        self.window_ms = params.window_s * 1000
        self.hop_ms = params.step_s * 1000
        self.keys: dict[str, _KeyWindows] = {}
        self.detectors: dict[str, SurgeDetector] = {}
        self.watermark_ms = -(2**62)
        self.newest_ms: int | None = None
        #: Wall clock minus event time of the newest event, when it came.
        self.lag_ms: int | None = None
        self.late_total = 0
        self.folded = 0
        self.outliers = 0
        self.zero_windows = 0
        self.repeats = 0
        #: Keys whose state changed since ``take_changed``; the clock too.
        self.changed: set[str] = set()
        self.clock_changed = False
        self._held: Held | None = None
        self._quiet_since_ms: int | None = None
        self._due: list[tuple[int, str, int]] = []  # (end_ms, key, start_ms)

    def add(self, key: str, event_ms: int, position: tuple[int, int] | None = None,
            wall_ms: int | None = None) -> list[ClosedWindow]:
        """Count one event; return the windows that closed.

        ``position``: (offset, index) of the event in its partition, to know a
        redelivered one; ``wall_ms``: when it arrived (live mode).
        """
        key = self.admit(key)
        windows = self.keys.get(key)
        held = self._held
        if position is not None and (
                (windows is not None and position <= windows.position)
                or (held is not None and held[0] == key and held[2] == position)):
            self.repeats += 1
            return []
        if wall_ms is not None:
            self._quiet_since_ms = wall_ms
        pos = position if position is not None else START
        ahead_ms = self.params.max_ahead_s * 1000
        if self.newest_ms is not None and event_ms - self.newest_ms > ahead_ms:
            self._held, self.clock_changed = (key, event_ms, pos), True
            if held is None or abs(event_ms - held[1]) > ahead_ms:
                self.outliers += held is not None
                return []
            self._held = None
            return (self._count(*held, wall_ms)
                    + self._count(key, event_ms, pos, wall_ms))
        if held is not None:
            self._held, self.clock_changed = None, True
            self.outliers += 1
        return self._count(key, event_ms, pos, wall_ms)

    def admit(self, key: str) -> str:
        """``key``, or where its counts go once ``max_keys`` keys are kept.

        A key, once kept, is never dropped (a restart restores it), so each
        key always goes the same way.

        >>> monitor = SurgeMonitor(SurgeParams(max_keys=1))
        >>> _ = monitor.add("A|Fire", 0)
        >>> monitor.admit("A|Fire"), monitor.admit("B|Fire")
        ('A|Fire', '(other areas)|Fire')
        """
        keys = self.keys
        if key in keys or len(keys) < self.params.max_keys:
            return key
        self.folded += 1
        category = key.partition("|")[2]
        folded = f"{OTHER_AREAS}|{category}"
        if folded in keys or len(keys) < self.params.max_keys + MAX_CATEGORIES:
            return folded
        return f"{OTHER_AREAS}|{OTHER_AREAS}"

    def _count(self, key: str, event_ms: int, position: tuple[int, int],
               wall_ms: int | None) -> list[ClosedWindow]:
        if self.newest_ms is None or event_ms >= self.newest_ms:
            self.newest_ms = event_ms
            self.lag_ms = None if wall_ms is None else wall_ms - event_ms
            self.clock_changed = True
        last = event_ms - event_ms % self.hop_ms
        starts = range(last - self.window_ms + self.hop_ms, last + 1, self.hop_ms)
        windows = self.keys.get(key)
        if windows is None:
            first = next((s for s in starts if s + self.window_ms > self.watermark_ms),
                         last + self.hop_ms)
            windows = self.keys[key] = _KeyWindows(next_start_ms=first)
            self.detectors[key] = SurgeDetector(self.params)
        missed = 0
        for start in starts:
            if start + self.window_ms <= self.watermark_ms \
                    or start < windows.next_start_ms:
                missed += 1
            elif start in windows.open:
                windows.open[start] += 1
            else:
                windows.open[start] = 1
                heapq.heappush(self._due, (start + self.window_ms, key, start))
        if missed:
            windows.late += 1
            self.late_total += 1
        windows.position = max(windows.position, position)
        self.changed.add(key)
        return self.advance(self.newest_ms - self.params.grace_s * 1000)

    def advance(self, watermark_ms: int) -> list[ClosedWindow]:
        """Move the watermark (never back) and close the windows it passed."""
        if watermark_ms <= self.watermark_ms:
            return []
        self.watermark_ms, self.clock_changed = watermark_ms, True
        closed: list[ClosedWindow] = []
        while self._due and self._due[0][0] <= watermark_ms:
            _, key, start = heapq.heappop(self._due)
            closed.append(self._close(key, start))
        return closed

    def advance_by_wall_clock(self, now_ms: int) -> list[ClosedWindow]:
        """Live mode: close what a quiet partition holds, by the wall clock.

        The quiet time counts from the last event this monitor was given
        (``wall_ms``), or from its first call here (a worker that just took
        the partition over lets the backlog come first).
        """
        if self._quiet_since_ms is None:
            self._quiet_since_ms = now_ms
        live = self.lag_ms is not None and self.lag_ms <= self.params.live_lag_s * 1000
        if not live or now_ms - self._quiet_since_ms < self.params.idle_s * 1000:
            return []
        return self.advance(now_ms - self.params.grace_s * 1000)

    def flush(self) -> list[ClosedWindow]:
        """Close every window still open (end of a replay)."""
        if self._held is not None:
            self._held, self.clock_changed = None, True
            self.outliers += 1
        closed: list[ClosedWindow] = []
        while self._due:
            _, key, start = heapq.heappop(self._due)
            closed.append(self._close(key, start))
        return closed

    def _close(self, key: str, start: int) -> ClosedWindow:
        windows = self.keys[key]
        detector = self.detectors[key]
        quiet = (start - windows.next_start_ms) // self.hop_ms
        if quiet > 0:
            detector.learn_zeros(quiet)
            self.zero_windows += quiet
        count = windows.open.pop(start)
        windows.next_start_ms = start + self.hop_ms
        seen = detector.seen
        status, z, low, high = detector.score_one(count)
        reason = detector.reason if status == SURGE else ""
        detector.learn_one(count)
        self.changed.add(key)
        return ClosedWindow(key, start, start + self.window_ms, count, status,
                            round(low, 2), round(high, 2), round(z, 2), seen, reason)

    def warming_up(self) -> int:
        """Keys whose detector has not seen ``warmup`` windows yet."""
        return sum(d.warming_up for d in self.detectors.values())

    # State kept in a table, and a monitor rebuilt from it.

    def take_changed(self) -> tuple[set[str], bool]:
        """Keys changed since the last call, and whether the clock did."""
        changed, clock = self.changed, self.clock_changed
        self.changed, self.clock_changed = set(), False
        return changed, clock

    def clock_state(self) -> dict[str, Any]:
        return {"watermark_ms": self.watermark_ms, "newest_ms": self.newest_ms,
                "lag_ms": self.lag_ms,
                "held": None if self._held is None else list(self._held)}

    def key_state(self, key: str) -> dict[str, Any]:
        windows = self.keys[key]
        return {"next_start_ms": windows.next_start_ms,
                "open": sorted(windows.open.items()), "late": windows.late,
                "position": list(windows.position),
                "detector": self.detectors[key].to_state()}

    @classmethod
    def restored(cls, params: SurgeParams, clock: dict[str, Any] | None,
                 keys: dict[str, dict[str, Any]]) -> SurgeMonitor:
        """A monitor from ``clock_state`` and ``key_state`` values.

        >>> monitor = SurgeMonitor(SurgeParams(window_s=60, grace_s=0))
        >>> _ = monitor.add("A", 1_000, (7, 0))
        >>> again = SurgeMonitor.restored(monitor.params, monitor.clock_state(),
        ...                               {"A": monitor.key_state("A")})
        >>> again.add("A", 1_000, (7, 0)), again.repeats
        ([], 1)
        >>> [w.count for w in again.advance(60_000)]
        [1]
        """
        monitor = cls(params)
        if clock:
            monitor.watermark_ms = int(clock["watermark_ms"])
            monitor.newest_ms = clock.get("newest_ms")
            monitor.lag_ms = clock.get("lag_ms")
            held = clock.get("held")
            if held:
                monitor._held = (str(held[0]), int(held[1]),
                                 (int(held[2][0]), int(held[2][1])))
        for key, state in keys.items():
            position = state.get("position") or START
            windows = _KeyWindows(int(state["next_start_ms"]),
                                  {int(s): int(c) for s, c in state.get("open", ())},
                                  int(state.get("late", 0)),
                                  (int(position[0]), int(position[1])))
            monitor.keys[key] = windows
            monitor.detectors[key] = SurgeDetector.from_state(
                params, state.get("detector") or {})
            for start in windows.open:
                monitor._due.append((start + monitor.window_ms, key, start))
        heapq.heapify(monitor._due)
        return monitor
