"""Numenta Anomaly Benchmark (NAB v1.1) scoring, written from its published rules.

A detector's output on a series is one anomaly score per row; the rows scoring at
least a threshold are its detections. Each series has labelled anomaly windows
(``labels/combined_windows.json``). Per row, by its index in the series:

- the first ``min(floor(0.15 * rows), 750)`` rows are a probation the detector
  learns in; nothing there is scored;
- in a window, only the earliest detection counts: it earns ``tp *
  sigmoid(p) / sigmoid(-1)`` where ``p = -(last - row + 1) / rows_in_window``
  runs from -1 on the window's first row towards 0 on its last, so the first
  row earns exactly ``tp`` and a late one almost nothing; a window with no
  detection costs ``fn``;
- a detection outside every window costs ``fp * sigmoid(y)``: ``y`` is how far
  past the preceding window's last row it is, in units of that window's span
  (last row minus first row), so one just after a window costs little; with no
  window before it, it costs the full ``fp``.

``sigmoid(y) = 2 / (1 + exp(5 y)) - 1``, and -1 past ``y = 3``. The division by
``sigmoid(-1)`` and the two lengths are what NAB's published per-row ``S(t)``
columns show (``tests/pipeline/test_nab.py`` checks every row of them).

One threshold per profile serves the whole corpus: the one, among all distinct
scores, that gives the highest raw total (the highest such score on a tie;
``inf`` when firing nowhere is best). The normalised score is ``100 * (raw -
null) / (perfect - null)``: ``null`` never fires (every window missed),
``perfect`` fires on each window's first scored row and nowhere else. Choices of
ours where NAB's data does not say: a window wholly inside the probation is a
miss for every detector, null and perfect included, so it moves no normalised
score; the span of a one-row window is taken as one row.

Timestamps carry no zone in NAB's files; they are read as UTC so that they
compare, and written back without a zone.

>>> from datetime import timedelta
>>> start = nab_time("2020-01-01 00:00:00")
>>> times = [start + timedelta(minutes=5 * row) for row in range(100)]
>>> labels = {"toy/a.csv": [(times[40], times[49])]}
>>> fires = [1.0 if row in (42, 45) else 0.0 for row in range(100)]
>>> standard = {"standard": CostWeights(tp=1.0, fp=0.11, fn=1.0)}
>>> result = score_corpus({"toy/a.csv": Series(times, fires)}, labels, standard)
>>> best = result["standard"]
>>> round(best.score, 2), best.threshold, (best.tp, best.fp, best.fn)
(98.86, 1.0, (1, 0, 0))
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

#: Share of a series, and most rows, that a detector learns from unscored.
PROBATION_SHARE = 0.15
PROBATION_MAX_ROWS = 750
#: Past this relative distance the sigmoid is taken as its floor, -1.
SIGMOID_FLOOR_AFTER = 3.0
#: Not a window: the window index of a row outside every window.
OUTSIDE = -1

Window = tuple[datetime, datetime]


class Series(NamedTuple):
    """One series as a detector scored it: a time and an anomaly score per row."""

    timestamps: Sequence[datetime]
    scores: Sequence[float]


@dataclass(frozen=True, slots=True)
class CostWeights:
    """A profile's weights: credit for a hit, costs of a false alarm and a miss."""

    tp: float
    fp: float
    fn: float


@dataclass(frozen=True, slots=True)
class ProfileScore:
    """A profile's result: ``tp`` and ``fn`` count windows, ``fp`` rows."""

    score: float
    threshold: float
    raw: float
    tp: int
    fp: int
    fn: int
    null: float
    perfect: float


def scaled_sigmoid(y: float) -> float:
    """From 1 (far before) through 0 (at ``y = 0``) to -1 (``y > 3``).

    >>> scaled_sigmoid(0.0), scaled_sigmoid(3.5)
    (0.0, -1.0)
    >>> round(scaled_sigmoid(-1.0), 4)
    0.9866
    """
    if y > SIGMOID_FLOOR_AFTER:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def probation_rows(row_count: int) -> int:
    """How many leading rows of a series are not scored.

    >>> probation_rows(4032), probation_rows(22695)
    (604, 750)
    """
    return min(math.floor(PROBATION_SHARE * row_count), PROBATION_MAX_ROWS)


def nab_time(text: str) -> datetime:
    """A NAB timestamp ("2014-04-08 19:55:00", maybe with ".000000"), as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def load_windows(nab_root: Path | str,
                 labels: str = "combined_windows.json") -> dict[str, list[Window]]:
    """The anomaly windows of every series, keyed "<category>/<file>.csv"."""
    path = Path(nab_root) / "labels" / labels
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {key: [(nab_time(start), nab_time(end)) for start, end in spans]
            for key, spans in raw.items()}


def load_profiles(nab_root: Path | str) -> dict[str, CostWeights]:
    """The scoring profiles of ``config/profiles.json`` (tn weight is unused)."""
    path = Path(nab_root) / "config" / "profiles.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {name: CostWeights(tp=float(cost["CostMatrix"]["tpWeight"]),
                              fp=float(cost["CostMatrix"]["fpWeight"]),
                              fn=float(cost["CostMatrix"]["fnWeight"]))
            for name, cost in raw.items()}


def window_rows(timestamps: Sequence[datetime],
                windows: Sequence[Window]) -> list[tuple[int, int]]:
    """First and last row of each window; rows are matched by time, not order.

    NAB's series are not all strictly in time order (repeated times, one step
    back), so a row is in a window when its own time is, and each window's rows
    must be consecutive.
    """
    starts = [start for start, _ in windows]
    if any(b[0] <= a[1] for a, b in itertools.pairwise(windows)):
        raise ValueError("anomaly windows must be in time order and apart")

    spans: list[list[int]] = [[] for _ in windows]
    for row, moment in enumerate(timestamps):
        index = bisect_right(starts, moment) - 1
        if index >= 0 and moment <= windows[index][1]:
            spans[index].append(row)

    for window, rows in zip(windows, spans, strict=True):
        if not rows:
            raise ValueError(f"no row falls in the window {window}")
        if rows[-1] - rows[0] + 1 != len(rows):
            raise ValueError(f"the rows of the window {window} are not consecutive")
    return [(rows[0], rows[-1]) for rows in spans]


class RowCredits(NamedTuple):
    """Where a series' windows lie, and what a detection on each row is worth.

    A window row's credit is what detecting it earns per unit of ``tp``; an
    outside row's is what a detection there earns per unit of ``fp`` (at most
    0). Probation rows are included; callers skip them.
    """

    spans: list[tuple[int, int]]
    window_of: list[int]
    credit: list[float]


def row_credits(timestamps: Sequence[datetime],
                windows: Sequence[Window]) -> RowCredits:
    """Per row: its window's index (or ``OUTSIDE``) and its unit credit."""
    row_count = len(timestamps)
    window_of = [OUTSIDE] * row_count
    credit = [-1.0] * row_count
    full_hit = scaled_sigmoid(-1.0)
    spans = window_rows(timestamps, windows)

    previous: tuple[int, int] | None = None
    for index, (first, last) in enumerate(spans):
        if previous is not None:
            _fill_after(credit, previous, first)
        length = last - first + 1
        for row in range(first, last + 1):
            window_of[row] = index
            credit[row] = scaled_sigmoid(-(last - row + 1) / length) / full_hit
        previous = (first, last)
    if previous is not None:
        _fill_after(credit, previous, row_count)
    return RowCredits(spans, window_of, credit)


def _fill_after(credit: list[float], window: tuple[int, int], stop: int) -> None:
    """Costs of the outside rows after ``window`` up to ``stop``; -1 beyond 3 spans."""
    first, last = window
    span = max(last - first, 1)
    stop = min(stop, last + 1 + math.floor(SIGMOID_FLOOR_AFTER * span))
    for row in range(last + 1, stop):
        credit[row] = scaled_sigmoid((row - last) / span)


def row_scores(series: Series, windows: Sequence[Window], weights: CostWeights,
               threshold: float) -> list[float]:
    """Each row's share of the raw score at ``threshold``, laid out as NAB's S(t).

    A window's credit (or its miss) sits on the window's first row; a false
    alarm's cost on its own row; everything else is 0.
    """
    spans, window_of, credit = row_credits(series.timestamps, windows)
    out = [0.0] * len(window_of)
    hit = [False] * len(spans)
    for first, _ in spans:
        out[first] = -weights.fn

    for row in range(probation_rows(len(window_of)), len(window_of)):
        if not series.scores[row] >= threshold:  # NaN never fires
            continue
        index = window_of[row]
        if index == OUTSIDE:
            out[row] = weights.fp * credit[row]
        elif not hit[index]:
            hit[index] = True
            out[spans[index][0]] = weights.tp * credit[row]
    return out


class _Corpus:
    """Every scored row of a corpus, flat, with its global window and credit."""

    def __init__(self, results: Mapping[str, Series],
                 windows: Mapping[str, Sequence[Window]]):
        unknown = sorted(set(results) - set(windows))
        if unknown:
            raise ValueError(f"series with no labels entry: {unknown[:5]}")
        self.scores: list[float] = []
        self.window_of: list[int] = []
        self.credit: list[float] = []
        self.windows = 0
        # Best credit each window can get: its first scored row (0: none scored).
        self.best_credit: list[float] = []

        for key in sorted(results):
            series = results[key]
            if len(series.scores) != len(series.timestamps):
                raise ValueError(f"{key}: {len(series.scores)} scores for "
                                 f"{len(series.timestamps)} rows")
            _, local_window, credit = row_credits(series.timestamps, windows[key])
            offset = self.windows
            self.windows += len(windows[key])
            self.best_credit.extend([0.0] * len(windows[key]))
            for row in range(probation_rows(len(credit)), len(credit)):
                score = float(series.scores[row])
                if math.isnan(score):
                    raise ValueError(f"{key}: anomaly score of row {row} is NaN")
                index = local_window[row]
                if index != OUTSIDE:
                    index += offset
                    self.best_credit[index] = max(self.best_credit[index],
                                                  credit[row])
                self.scores.append(score)
                self.window_of.append(index)
                self.credit.append(credit[row])

    def best_thresholds(self, profiles: Mapping[str, CostWeights]) -> dict[str, float]:
        """Per profile, the highest threshold that maximises the raw total.

        Rows join in descending score; a window's credit is the best (earliest)
        of its detected rows. The total is linear in three running sums, so all
        profiles are swept at once.
        """
        order = sorted(range(len(self.scores)), key=self.scores.__getitem__,
                       reverse=True)
        held = [0.0] * self.windows
        hits = 0
        tp_sum = 0.0
        fp_sum = 0.0
        names = list(profiles)
        weights = [profiles[name] for name in names]
        best = [-w.fn * self.windows for w in weights]
        chosen = [math.inf] * len(names)

        position = 0
        while position < len(order):
            threshold = self.scores[order[position]]
            while (position < len(order)
                   and self.scores[order[position]] == threshold):
                row = order[position]
                position += 1
                index = self.window_of[row]
                if index == OUTSIDE:
                    fp_sum += self.credit[row]
                elif self.credit[row] > held[index]:
                    if held[index] == 0.0:
                        hits += 1
                    tp_sum += self.credit[row] - held[index]
                    held[index] = self.credit[row]
            for slot, w in enumerate(weights):
                total = w.tp * tp_sum - w.fn * (self.windows - hits) + w.fp * fp_sum
                if total > best[slot]:
                    best[slot] = total
                    chosen[slot] = threshold
        return dict(zip(names, chosen, strict=True))

    def tally(self, weights: CostWeights, threshold: float) -> ProfileScore:
        """The score at one threshold, summed exactly."""
        held = [0.0] * self.windows
        false_alarms: list[float] = []
        for score, index, credit in zip(self.scores, self.window_of, self.credit,
                                        strict=True):
            if score < threshold:
                continue
            if index == OUTSIDE:
                false_alarms.append(credit)
            else:
                held[index] = max(held[index], credit)

        hits = sum(credit > 0.0 for credit in held)
        misses = self.windows - hits
        raw = (weights.tp * math.fsum(held) - weights.fn * misses
               + weights.fp * math.fsum(false_alarms))
        reachable = sum(credit > 0.0 for credit in self.best_credit)
        null = -weights.fn * self.windows
        perfect = (weights.tp * math.fsum(self.best_credit)
                   - weights.fn * (self.windows - reachable))
        if perfect <= null:
            raise ValueError("no scored anomaly window: the score is undefined")
        return ProfileScore(score=100.0 * (raw - null) / (perfect - null),
                            threshold=threshold, raw=raw, tp=hits,
                            fp=len(false_alarms), fn=misses, null=null,
                            perfect=perfect)


def score_corpus(results: Mapping[str, Series],
                 windows: Mapping[str, Sequence[Window]],
                 profiles: Mapping[str, CostWeights]) -> dict[str, ProfileScore]:
    """Each profile's normalised score of a detector, at its best threshold.

    ``results`` maps "<category>/<file>.csv" to the detector's output on it;
    every key needs an entry in ``windows`` (an empty list: no anomaly).
    """
    corpus = _Corpus(results, windows)
    thresholds = corpus.best_thresholds(profiles)
    return {name: corpus.tally(weights, thresholds[name])
            for name, weights in profiles.items()}


def read_data(nab_root: Path | str) -> dict[str, tuple[list[datetime], list[float]]]:
    """Every series of ``data/``: its timestamps and values, keyed as the labels."""
    series: dict[str, tuple[list[datetime], list[float]]] = {}
    for path in sorted((Path(nab_root) / "data").glob("*/*.csv")):
        columns = _read_columns(path, ("timestamp", "value"))
        try:
            series[f"{path.parent.name}/{path.name}"] = (
                [nab_time(text) for text in columns[0]],
                [float(text) for text in columns[1]])
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc
    return series


def read_results_dir(results_dir: Path | str, detector: str) -> dict[str, Series]:
    """A detector's output in NAB's layout: ``<detector>/<category>/<detector>_<file>``.

    Only the ``timestamp`` and ``anomaly_score`` columns are read.
    """
    prefix = f"{detector}_"
    results: dict[str, Series] = {}
    for path in sorted((Path(results_dir) / detector).glob(f"*/{prefix}*.csv")):
        timestamps, scores = _read_columns(path, ("timestamp", "anomaly_score"))
        key = f"{path.parent.name}/{path.name[len(prefix):]}"
        results[key] = Series([nab_time(text) for text in timestamps],
                              [float(text) for text in scores])
    return results


def write_series_csv(results_dir: Path | str, detector: str, key: str,
                     timestamps: Sequence[datetime], values: Sequence[float],
                     scores: Sequence[float], windows: Sequence[Window]) -> Path:
    """Write one series' output where NAB's tools look for it; returns the path.

    Columns timestamp, value, anomaly_score, label (1 inside a window).
    """
    category, name = key.split("/")
    path = Path(results_dir) / detector / category / f"{detector}_{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    inside = [0] * len(timestamps)
    for first, last in window_rows(timestamps, windows):
        inside[first:last + 1] = [1] * (last - first + 1)

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["timestamp", "value", "anomaly_score", "label"])
        for moment, value, score, label in zip(timestamps, values, scores, inside,
                                               strict=True):
            writer.writerow([moment.strftime("%Y-%m-%d %H:%M:%S"), _number(value),
                             _number(score), label])
    return path


def _number(value: float) -> str:
    """Shortest text that reads back as the same float; whole numbers bare.

    >>> _number(10844.0), _number(0.132)
    ('10844', '0.132')
    """
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return repr(value)


def _read_columns(path: Path, names: tuple[str, ...]) -> list[list[str]]:
    """The named columns of a CSV file with a header row, as text."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        missing = [name for name in names if name not in header]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(missing)} in its header")
        where = [header.index(name) for name in names]
        rows = list(reader)
    for line, row in enumerate(rows, 2):
        if len(row) < len(header):
            raise ValueError(f"{path}, line {line}: {len(row)} fields, "
                             f"the header has {len(header)}")
    return [[row[column] for row in rows] for column in where]
