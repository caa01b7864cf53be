"""Windowed report counts per key (area and discipline) and a surge detector.

Windows are tumbling, on event time. Each input partition's events come in
order, partitions at their own pace; the watermark is the *oldest* of the
partitions' newest event times, minus ``grace_s`` (one partition racing ahead
must not close windows another has not reached), and a window closes once the
watermark passes its end. An event
for a window already closed is *late*: it is counted in ``late`` and never
added silently. Every key's quiet windows (zero counts) teach its detector
too, learned in bulk before its next window with reports is scored.
``flush`` closes everything still open (the end of a replay).

An event more than ``max_ahead_s`` past its partition's newest time is held
back: if the next such event comes within ``max_ahead_s`` of it, time really
moved on (a quiet spell) and both are counted; otherwise it was a wrong clock,
and it is counted in ``outliers`` and moves nothing, so one bad time cannot
close months of windows at once.

The detector scores each closed count on a fixed scale: the Anscombe transform
``2 * sqrt(count + 3/8)``, under which Poisson counts have a variance close to
1 whatever their mean. It keeps a rolling mean and variance of that value
(``river``), uses a standard deviation of at least 1 (so a history with no
variance still has a sensible range), stays ``warming_up`` until it has seen
``warmup`` windows, and flags a ``surge`` when the value is ``z_threshold``
standard deviations above the mean and the count is at least ``min_count``.

>>> monitor = SurgeMonitor(SurgeParams(window_s=60, grace_s=0, warmup=3,
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

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

from river import stats, utils

SURGE = "surge"
NORMAL = "normal"
WARMING_UP = "warming_up"


@dataclass(frozen=True, slots=True)
class SurgeParams:
    window_s: int = 3600
    grace_s: int = 900
    history: int = 336
    warmup: int = 48
    z_threshold: float = 4.0
    min_count: int = 5
    max_ahead_s: int = 86_400

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.history < 1 or self.max_ahead_s <= 0:
            raise ValueError("window_s, history and max_ahead_s must be positive")
        if self.grace_s < 0 or self.warmup < 0 or self.z_threshold <= 0:
            raise ValueError("grace_s and warmup must be >= 0, z_threshold > 0")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SurgeParams:
        unknown = set(config) - set(cls.__slots__)
        if unknown:
            raise ValueError(f"unknown surge settings: {sorted(unknown)}")
        return cls(**config)


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "start_ms": self.start_ms, "end_ms": self.end_ms,
            "count": self.count, "status": self.status,
            "expected_low": self.expected_low, "expected_high": self.expected_high,
            "z": self.z,
        }


def anscombe(count: float) -> float:
    return 2.0 * math.sqrt(count + 0.375)


def inverse_anscombe(value: float) -> float:
    return max(0.0, (value / 2.0) ** 2 - 0.375)


class SurgeDetector:
    """One key's detector: learns closed counts, scores the next one."""

    def __init__(self, params: SurgeParams):
        self.params = params
        # river's Rolling wrapper is untyped; it forwards to a stats.Var.
        self.history: Any = utils.Rolling(stats.Var, window_size=params.history)
        self.seen = 0

    def score_one(self, count: int) -> tuple[str, float, float, float]:
        """Status, z-score and expected count range for ``count``, before learning."""
        if not math.isfinite(count) or count < 0:
            return WARMING_UP, 0.0, 0.0, 0.0
        value = anscombe(count)
        mean = self.history.obj.mean.get()
        sd = max(1.0, math.sqrt(max(0.0, self.history.get())))
        z = (value - mean) / sd
        limit = self.params.z_threshold
        low = inverse_anscombe(mean - limit * sd)
        high = inverse_anscombe(mean + limit * sd)
        if self.seen < self.params.warmup:
            return WARMING_UP, z, low, high
        if z >= limit and count >= self.params.min_count:
            return SURGE, z, low, high
        return NORMAL, z, low, high

    def learn_one(self, count: int) -> None:
        if math.isfinite(count) and count >= 0:
            self.history.update(anscombe(count))
            self.seen += 1

    def learn_zeros(self, windows: int) -> None:
        """Learn ``windows`` quiet windows at once (only the last ``history`` count)."""
        zero = anscombe(0)
        for _ in range(min(windows, self.params.history)):
            self.history.update(zero)
        self.seen += windows


@dataclass
class _KeyWindows:
    next_start_ms: int
    open: dict[int, int] = field(default_factory=dict)
    late: int = 0


class SurgeMonitor:
    """Counts per key in tumbling event-time windows, scored as they close.

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
        self.keys: dict[str, _KeyWindows] = {}
        self.detectors: dict[str, SurgeDetector] = {}
        self.watermark_ms = -(2**62)
        self.late_total = 0
        self.outliers = 0
        self.zero_windows = 0
        self._held: tuple[str, int, int] | None = None
        self._partition_max: dict[int, int] = {}
        self._due: list[tuple[int, str, int]] = []  # (end_ms, key, start_ms)

    def _start_of(self, event_ms: int) -> int:
        return event_ms - event_ms % self.window_ms

    def add(self, key: str, event_ms: int, partition: int = 0) -> list[ClosedWindow]:
        """Count one event of ``partition``; return the windows that closed."""
        ahead_ms = self.params.max_ahead_s * 1000
        newest = self._partition_max.get(partition)
        if newest is not None and event_ms - newest > ahead_ms:
            held, self._held = self._held, (key, event_ms, partition)
            if held is None or abs(event_ms - held[1]) > ahead_ms:
                self.outliers += held is not None
                return []
            self._held = None
            return self._count(*held) + self._count(key, event_ms, partition)
        if self._held is not None:
            self._held = None
            self.outliers += 1
        return self._count(key, event_ms, partition)

    def _count(self, key: str, event_ms: int, partition: int) -> list[ClosedWindow]:
        newest = self._partition_max.get(partition, event_ms)
        self._partition_max[partition] = max(newest, event_ms)
        start = self._start_of(event_ms)
        windows = self.keys.get(key)
        if windows is None:
            windows = self.keys[key] = _KeyWindows(next_start_ms=start)
            self.detectors[key] = SurgeDetector(self.params)
        if start + self.window_ms <= self.watermark_ms or start < windows.next_start_ms:
            windows.late += 1
            self.late_total += 1
        elif start in windows.open:
            windows.open[start] += 1
        else:
            windows.open[start] = 1
            heapq.heappush(self._due, (start + self.window_ms, key, start))
        oldest = min(self._partition_max.values())
        return self.advance(oldest - self.params.grace_s * 1000)

    def advance(self, watermark_ms: int) -> list[ClosedWindow]:
        """Move the watermark (never back) and close the windows it passed."""
        if watermark_ms <= self.watermark_ms:
            return []
        self.watermark_ms = watermark_ms
        closed: list[ClosedWindow] = []
        while self._due and self._due[0][0] <= watermark_ms:
            _, key, start = heapq.heappop(self._due)
            closed.append(self._close(key, start))
        return closed

    def flush(self) -> list[ClosedWindow]:
        """Close every window still open (end of a replay)."""
        if self._held is not None:
            self._held = None
            self.outliers += 1
        closed: list[ClosedWindow] = []
        while self._due:
            _, key, start = heapq.heappop(self._due)
            closed.append(self._close(key, start))
        return closed

    def _close(self, key: str, start: int) -> ClosedWindow:
        windows = self.keys[key]
        detector = self.detectors[key]
        quiet = (start - windows.next_start_ms) // self.window_ms
        if quiet > 0:
            detector.learn_zeros(quiet)
            self.zero_windows += quiet
        count = windows.open.pop(start)
        windows.next_start_ms = start + self.window_ms
        status, z, low, high = detector.score_one(count)
        detector.learn_one(count)
        return ClosedWindow(key, start, start + self.window_ms, count, status,
                            round(low, 2), round(high, 2), round(z, 2))
