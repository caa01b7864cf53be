"""One stream's online anomaly detector: the surge stage's, and the one NAB scores.

Each value is scored before it is learned. Two tests look at it; either one
flags it:

- **Level.** ``z = (y - mean) / sd`` over the last ``history`` inputs (river's
  variance, its window kept as runs: ``RollingVar``). It flags when ``|z|`` is
  at least ``z_threshold`` *and* at least every ``|z|`` of the last
  ``record_span`` inputs: a new extreme, not
  the tenth point of a plateau that is already known to be high. With
  ``direction`` ``up`` only rises count there: a lull never hides a surge.
- **Shape.** The last ``embed`` inputs are compared with the ``memory`` earlier
  stretches of the series (overlapping stretches excluded). The distance to the
  nearest one, divided by the current sd (the mean cancels in a difference), is
  the novelty. It flags
  when the novelty is larger than every one of the last ``calibration``
  novelties, once ``calibration_warmup`` of them have been seen. This catches
  a rhythm that breaks (a daily pattern that goes flat or a change of shape)
  while every single value is still in range.

After a flag the detector stays quiet for ``rest`` inputs: only the first
flag of an episode pages someone.

**Scale.** Inputs are put on a fixed scale before either test:

- ``counts``: the Anscombe transform ``2 * sqrt(x + 3/8)``, under which Poisson
  counts have a variance close to 1, whatever their mean. The sd never drops
  below 1 there, so a key whose history has no variance (all quiet) still has a
  sensible range: six reports where there are always none is news, two are not.
- ``values``: the raw value; the sd never drops below ``1e-9 * max(1, |mean|)``,
  so a flat series flags a change but never divides by zero.
- ``auto``: ``counts`` until the first input that is not a whole number >= 0,
  then ``values`` from then on. Nothing is learned twice: the inputs kept so far
  are learned again on the new scale.

Neither a learned minimum nor maximum is used anywhere, so one outlier moves the
range only through its share of the mean and sd of ``history`` inputs.

A missing or non-finite input, one beyond +-1e100 (its square would
overflow), or a negative one on the ``counts`` scale is never scored nor
learned (status ``invalid``). One huge input that has left the history leaves
no trace in the variance: the window is added up again when it goes.
Until ``warmup`` inputs have been learned the status is ``warming_up`` and
nothing is flagged.

``direction`` ``up`` (surges) flags only inputs above the mean; ``both`` (NAB,
where a drop is as abnormal as a jump) flags either way.

The settings for NAB and for the surge stage are in ``models/surge.yaml``; the
state is the last inputs kept (``to_state``), and a detector is restored by
learning them again (``from_state``).

>>> detector = StreamDetector(DetectorParams(warmup=30, rest=10))
>>> [detector.update(float(4 + i % 3)).status for i in range(30)][-1]
'warming_up'
>>> [detector.update(float(4 + i % 3)).status for i in range(30)][-1]
'normal'
>>> verdict = detector.update(60.0)
>>> verdict.status, verdict.expected_high < 60.0
('anomaly', True)
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from itertools import islice
from typing import Any

import numpy as np
from river import stats

ANOMALY = "anomaly"
NORMAL = "normal"
WARMING_UP = "warming_up"
INVALID = "invalid"

SCALES = ("counts", "values", "auto")
#: Largest window or count of inputs a setting may name, and largest stretch.
MAX_SIZE = 1_000_000
#: The settings that size what a detector holds in memory.
SIZES = ("history", "memory", "calibration", "record_span")
MAX_EMBED = 256
#: Inputs beyond this size are refused: their squares would overflow.
MAX_INPUT = 1e100
#: Rows the shape test's memory starts with; it doubles up to ``memory``.
FIRST_ROWS = 64
DIRECTIONS = ("up", "both")


@dataclass(frozen=True, slots=True)
class DetectorParams:
    """How one detector looks at its stream (counted in inputs, not seconds)."""

    history: int = 6400
    z_threshold: float = 3.5
    record_span: int = 500
    embed: int = 8
    memory: int = 2000
    calibration: int = 1500
    calibration_warmup: int = 300
    rest: int = 100
    warmup: int = 10
    scale: str = "auto"
    direction: str = "both"

    def __post_init__(self) -> None:
        for name in ("history", "embed", "memory", "calibration", "record_span",
                     "rest", "warmup", "calibration_warmup"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"detector {name} must be a whole number")
            if value > MAX_SIZE and name in SIZES:
                raise ValueError(f"detector {name} must be at most {MAX_SIZE:,}")
        if self.embed > MAX_EMBED:
            raise ValueError(f"detector embed must be at most {MAX_EMBED}")
        for name in ("history", "embed", "memory", "calibration"):
            if getattr(self, name) < 1:
                raise ValueError(f"detector {name} must be at least 1")
        for name in ("record_span", "rest", "warmup", "calibration_warmup"):
            if getattr(self, name) < 0:
                raise ValueError(f"detector {name} must be >= 0")
        if not (isinstance(self.z_threshold, int | float)
                and 0 < self.z_threshold < math.inf):
            raise ValueError("detector z_threshold must be a number > 0")
        if self.scale not in SCALES:
            raise ValueError(f"detector scale must be one of {SCALES}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"detector direction must be one of {DIRECTIONS}")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DetectorParams:
        names = {f.name for f in fields(cls)}
        unknown = set(config) - names
        if unknown:
            raise ValueError(f"unknown detector settings: {sorted(unknown)}")
        return cls(**config)

    @property
    def keep(self) -> int:
        """Inputs a restored detector learns again: enough for every test."""
        return max(self.history, self.memory + 2 * self.embed)


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    z: float
    novelty: float
    expected_low: float
    expected_high: float
    reason: str = ""

    @property
    def flagged(self) -> bool:
        return self.status == ANOMALY


def anscombe(count: float) -> float:
    return 2.0 * math.sqrt(count + 0.375)


def inverse_anscombe(value: float) -> float:
    return max(0.0, (value / 2.0) ** 2 - 0.375)


def is_count(value: float) -> bool:
    return value >= 0 and value == int(value)


class SlidingMax:
    """The largest of the last ``size`` values pushed, in constant time.

    >>> window = SlidingMax(3)
    >>> [(window.push(v), window.max())[1] for v in (5, 1, 2, 0, 4)]
    [5, 5, 5, 2, 4]
    >>> len(window)
    3
    """

    def __init__(self, size: int):
        self.size = max(1, size)
        self.pushed = 0
        #: (sequence number, value), values strictly decreasing from the left.
        self._candidates: deque[tuple[int, float]] = deque()

    def push(self, value: float) -> None:
        candidates = self._candidates
        while candidates and candidates[-1][1] <= value:
            candidates.pop()
        candidates.append((self.pushed, value))
        self.pushed += 1
        while candidates[0][0] < self.pushed - self.size:
            candidates.popleft()

    def max(self, default: float = 0.0) -> float:
        return self._candidates[0][1] if self._candidates else default

    def __len__(self) -> int:
        return min(self.pushed, self.size)


#: A run leaving the variance with more than this many times what remains
#: of it makes ``RollingVar`` add the rest up again (float cancellation).
PRECISION = 1e8


class RollingVar:
    """Mean and variance of the last ``size`` inputs (river's ``stats.Var``),
    the window kept as runs of equal values.

    A run joins or leaves the variance in one weighted step (``update`` and
    ``revert`` with a weight), so a quiet spell of a thousand windows costs
    what one window does.

    >>> rolling = RollingVar(4)
    >>> rolling.update(1.0); rolling.update(5.0, times=2); rolling.update(2.0, times=3)
    >>> rolling.count, round(rolling.mean(), 3), round(rolling.variance(), 3)
    (4, 2.75, 2.25)
    """

    def __init__(self, size: int):
        self.size = size
        self.count = 0
        self._var = stats.Var()
        #: [value, copies] from the oldest to the newest.
        self._runs: deque[list[float]] = deque()

    def update(self, value: float, times: int = 1) -> None:
        times = min(times, self.size)
        runs = self._runs
        if runs and runs[-1][0] == value:
            runs[-1][1] += times
        else:
            runs.append([value, times])
        self._var.update(value, w=times)
        self.count += times
        excess = self.count - self.size
        removed = 0.0
        while excess > 0:
            oldest = runs[0]
            gone = min(int(oldest[1]), excess)
            removed = max(removed, (oldest[0] - self.mean()) ** 2 * gone)
            self._var.revert(oldest[0], w=gone)
            oldest[1] -= gone
            self.count -= gone
            excess -= gone
            if not oldest[1]:
                runs.popleft()
        if removed > PRECISION * self.variance() * self.count:
            # An outlier left: what remains is a small difference of large
            # sums. Added up again from the runs, it is exact.
            self._rebuild()

    def _rebuild(self) -> None:
        self._var = stats.Var()
        for value, copies in self._runs:
            self._var.update(value, w=copies)

    def mean(self) -> float:
        return float(self._var.mean.get()) if self.count else 0.0

    def variance(self) -> float:
        return max(0.0, float(self._var.get())) if self.count > 1 else 0.0


class StreamDetector:
    """Scores each input, then learns it; see the module docstring."""

    def __init__(self, params: DetectorParams):
        self.params = params
        self.counts_scale = params.scale != "values"
        self.seen = 0
        self.hold = 0
        self._inputs: deque[float] = deque(maxlen=params.keep)
        self._reset()

    def _reset(self) -> None:
        params = self.params
        self._var = RollingVar(params.history)
        self._scaled: deque[float] = deque(maxlen=2 * params.embed)
        self._recent_z = SlidingMax(params.record_span)
        # The memory grows (doubling) as stretches join, up to ``memory`` rows:
        # a key that is seldom busy never holds the full size.
        rows = min(FIRST_ROWS, params.memory)
        self._memory = np.zeros((rows, params.embed))
        self._memory_norms = np.zeros(rows)
        self._memory_used = 0
        self._memory_next = 0
        self._novelties = SlidingMax(params.calibration)
        #: z and novelty (None: not computed) of the input just scored.
        self._pending: tuple[float, float | None] | None = None
        self._distances = np.zeros(rows)

    @property
    def warming_up(self) -> bool:
        return self.seen < self.params.warmup

    # The scale.

    def _scaled_value(self, value: float) -> float:
        return anscombe(value) if self.counts_scale else value

    def _spread(self) -> tuple[float, float]:
        mean = self._var.mean()
        sd = math.sqrt(self._var.variance())
        floor = 1.0 if self.counts_scale else 1e-9 * max(1.0, abs(mean))
        return mean, max(sd, floor)

    def _unscaled(self, value: float) -> float:
        return inverse_anscombe(value) if self.counts_scale else value

    # Scoring and learning.

    def update(self, value: float) -> Verdict:
        """Score ``value`` against what was learned, then learn it."""
        verdict = self.score(value)
        self.learn(value, verdict)
        return verdict

    def _invalid(self, value: float | None) -> bool:
        """Missing, not finite, or a negative count (on the counts' scale)."""
        return (value is None or not math.isfinite(value)
                or abs(value) > MAX_INPUT
                or (value < 0 and self.params.scale == "counts"))

    def score(self, value: float, shape: bool = True) -> Verdict:
        """The verdict on ``value``; ``shape=False`` runs the level test only,
        and the input then joins none of the shape test's calibration."""
        if self._invalid(value):
            return Verdict(INVALID, 0.0, 0.0, 0.0, 0.0,
                           "missing, not finite, beyond 1e100 or a negative "
                           "count")
        self._follow_scale(value)
        params = self.params
        y = self._scaled_value(value)
        mean, sd = self._spread()
        low = self._unscaled(mean - params.z_threshold * sd)
        high = self._unscaled(mean + params.z_threshold * sd)
        z = (y - mean) / sd
        novelty, novel = self._novelty(y, mean, sd) if shape else (0.0, False)
        self._pending = (z, novelty if shape else None)
        if self.warming_up:
            return Verdict(WARMING_UP, z, novelty, low, high)
        if params.direction == "up" and y <= mean:
            return Verdict(NORMAL, z, novelty, low, high)
        if self.hold > 0:
            return Verdict(NORMAL, z, novelty, low, high, "resting after a flag")
        size = abs(z)
        if size >= params.z_threshold and size >= self._recent_z.max():
            compared = (f", more than any of the last {len(self._recent_z)}"
                        if len(self._recent_z) else "")
            side = "above" if z > 0 else "below"
            return Verdict(ANOMALY, z, novelty, low, high,
                           f"{size:.1f} sd from the mean ({side}){compared}")
        if novel:
            return Verdict(ANOMALY, z, novelty, low, high,
                           f"the shape of the last {params.embed} inputs: further "
                           f"({novelty:.1f} sd) from its nearest match among "
                           f"{self._memory_used} earlier stretches than any of "
                           f"the last {len(self._novelties)}")
        return Verdict(NORMAL, z, novelty, low, high)

    def _novelty(self, y: float, mean: float, sd: float) -> tuple[float, bool]:
        """Distance of the newest stretch to its nearest earlier one, and
        whether it is the largest of the calibration set."""
        embed = self.params.embed
        if len(self._scaled) < embed - 1 or self._memory_used == 0:
            return 0.0, False
        recent = list(self._scaled)[len(self._scaled) - embed + 1:]
        recent.append(y)
        stretch = np.asarray(recent)
        used = self._memory_used
        # |m - s|^2 = |m|^2 - 2 m.s + |s|^2, with the |m|^2 kept as rows join.
        distances = self._distances[:used]
        np.dot(self._memory[:used], stretch, out=distances)
        distances *= -2.0
        distances += self._memory_norms[:used]
        nearest = distances.min()
        # Standardised by today's sd; the mean cancels in a difference.
        novelty = math.sqrt(max(0.0, float(nearest + stretch @ stretch))) / sd
        novel = (len(self._novelties) >= max(1, self.params.calibration_warmup)
                 and novelty > self._novelties.max())
        return novelty, novel

    def learn(self, value: float, verdict: Verdict | None = None) -> None:
        """Learn ``value`` (after ``score``; the verdict moves the rest period)."""
        if self._invalid(value):
            return
        self._follow_scale(value)
        self._inputs.append(value)
        self._learn_scaled(self._scaled_value(value), verdict)
        self.seen += 1

    def _learn_scaled(self, y: float, verdict: Verdict | None) -> None:
        params = self.params
        pending, self._pending = self._pending, None
        z, novelty = pending or (0.0, 0.0)
        if verdict is not None and verdict.status != WARMING_UP:
            self._recent_z.push(max(z, 0.0) if params.direction == "up" else abs(z))
            if novelty is not None and (verdict.novelty or self._memory_used):
                self._novelties.push(novelty)
        if self.hold > 0:
            self.hold -= 1
        if verdict is not None and verdict.flagged:
            self.hold = params.rest
        self._scaled.append(y)
        embed = params.embed
        if len(self._scaled) == 2 * embed:
            # The stretch that ended ``embed`` inputs ago joins the memory: the
            # ones overlapping the newest stretch would match it trivially.
            self._remember()
        self._var.update(y)

    def _remember(self) -> None:
        # Plain floats: for 8 of them numpy's per-call cost outweighs its speed.
        older = list(islice(self._scaled, self.params.embed))
        row = self._memory_next
        if row >= len(self._memory):
            self._grow()
        self._memory[row] = older
        self._memory_norms[row] = math.fsum(v * v for v in older)
        self._memory_next = (row + 1) % self.params.memory
        self._memory_used = min(self._memory_used + 1, self.params.memory)

    def _grow(self) -> None:
        rows = min(2 * len(self._memory), self.params.memory)
        memory = np.zeros((rows, self.params.embed))
        memory[:len(self._memory)] = self._memory
        norms = np.zeros(rows)
        norms[:len(self._memory_norms)] = self._memory_norms
        self._memory, self._memory_norms = memory, norms
        self._distances = np.zeros(rows)

    def learn_many(self, value: float, times: int) -> None:
        """Learn ``times`` copies of ``value`` without scoring them (the quiet
        windows of a surge key: no reports is never a surge).

        Only the first ``2 * embed`` copies add stretches to the memory; the
        ones after are the same stretch again (a run of one value).
        """
        if times <= 0 or self._invalid(value):
            return
        self._follow_scale(value)
        self._pending = None
        learn = min(times, self.params.keep)
        y = self._scaled_value(value)
        # What ``learn`` would do ``learn`` times, with the variance moved
        # in one weighted step: the stretches that join the memory are the
        # ones ending in each of the first ``2 * embed`` copies.
        full = 2 * self.params.embed
        scaled = self._scaled
        for _ in range(min(learn, full)):
            scaled.append(y)
            if len(scaled) == full:
                self._remember()
        self._var.update(y, times=learn)
        self._inputs.extend([value] * learn)
        self.hold = max(0, self.hold - times)
        self.seen += times

    def _follow_scale(self, value: float) -> None:
        """On the ``auto`` scale, the first input that is not a count moves
        the detector to values for good."""
        if self.counts_scale and self.params.scale == "auto" and not is_count(value):
            self._switch_to_values()

    def _switch_to_values(self) -> None:
        self.counts_scale = False
        kept = list(self._inputs)
        self._reset()
        for value in kept:
            self._learn_scaled(value, None)

    # State.

    @property
    def inputs(self) -> deque[float]:
        """The inputs kept, oldest first (the last ``params.keep``); read only."""
        return self._inputs

    def to_state(self, with_inputs: bool = True) -> dict[str, Any]:
        """JSON-able: the inputs kept, how many were seen, the rest left."""
        state: dict[str, Any] = {"seen": self.seen, "hold": self.hold,
                                 "counts_scale": self.counts_scale}
        if with_inputs:
            state["inputs"] = list(self._inputs)
        return state

    @classmethod
    def from_state(cls, params: DetectorParams, state: dict[str, Any],
                   shape_if: Callable[[float], bool] | None = None
                   ) -> StreamDetector:
        """A detector that scored and learned the kept inputs again, in order.

        Its scores then match the original's, except for what depended on
        inputs older than ``params.keep`` (and quiet runs, learned in bulk
        unscored by the original, are scored here). ``shape_if``: the inputs
        the original gave the shape test (all, by default).
        """
        detector = cls(params)
        detector.counts_scale = bool(state.get("counts_scale",
                                               params.scale != "values"))
        inputs = list(state.get("inputs", ()))
        seen = int(state.get("seen", len(inputs)))
        detector.seen = max(0, seen - len(inputs))
        for value in inputs:
            shape = shape_if is None or shape_if(value)
            detector.learn(value, detector.score(value, shape=shape))
        detector.seen = seen
        detector.hold = int(state.get("hold", 0))
        return detector
