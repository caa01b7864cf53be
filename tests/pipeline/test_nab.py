"""nab: NAB v1.1 scoring, against NAB's own published output and on small cases."""

from __future__ import annotations

import csv
import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.settings import ROOT
from pipeline.nab import (
    CostWeights,
    Series,
    Window,
    load_profiles,
    load_windows,
    read_data,
    read_results_dir,
    row_scores,
    scaled_sigmoid,
    score_corpus,
    write_series_csv,
)

NAB = ROOT.parent / "shared" / "data" / "nab"
RESULTS = NAB / "results"
DETECTOR = "windowedGaussian"
STANDARD = CostWeights(tp=1.0, fp=0.11, fn=1.0)
PROFILES = {"standard": STANDARD}


def published_file(key: str) -> Path:
    category, name = key.split("/")
    return RESULTS / DETECTOR / category / f"{DETECTOR}_{name}"


def published_rows(key: str) -> list[dict[str, str]]:
    with published_file(key).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def published_scores(profile: str) -> list[dict[str, str]]:
    """NAB's per-profile scores file for the detector: a row per series, Totals."""
    path = RESULTS / DETECTOR / f"{DETECTOR}_{profile}_scores.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def windows() -> dict[str, list[Window]]:
    return load_windows(NAB)


@pytest.fixture(scope="session")
def published_results() -> dict[str, Series]:
    return read_results_dir(RESULTS, DETECTOR)


# --- NAB's own published output ---------------------------------------------------


def test_published_normalised_scores_are_reproduced(
        windows: dict[str, list[Window]],
        published_results: dict[str, Series]) -> None:
    profiles = load_profiles(NAB)
    expected = json.loads((RESULTS / "final_results.json").read_text())[DETECTOR]

    scores = score_corpus(published_results, windows, profiles)

    assert len(published_results) == len(windows) == 58
    assert set(scores) == set(expected) == set(profiles)
    for name, result in scores.items():
        per_series = published_scores(name)
        totals = per_series.pop()
        print(f"{name}: {result.score:.6f} vs {expected[name]:.6f}, "
              f"threshold {result.threshold}")
        assert result.score == pytest.approx(expected[name], abs=1e-6)
        assert result.raw == pytest.approx(float(totals["Score"]), abs=1e-9)
        assert result.fp == int(totals["FP"])
        assert totals["Detector"] == "Totals"
        assert {float(row["Threshold"]) for row in per_series} == {result.threshold}
        assert result.tp + result.fn == sum(len(spans) for spans in windows.values())


@pytest.mark.parametrize("key", sorted(json.loads(
    (NAB / "labels" / "combined_windows.json").read_text())))
def test_row_scores_equal_nab_s_t_columns(key: str,
                                          windows: dict[str, list[Window]],
                                          published_results: dict[str, Series]
                                          ) -> None:
    rows = published_rows(key)
    for name, weights in load_profiles(NAB).items():
        ours = row_scores(published_results[key], windows[key], weights, 1.0)
        theirs = [float(row[f"S(t)_{name}"]) for row in rows]
        worst = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
        assert worst < 1e-9, (name, worst)


def test_written_series_reads_back_with_nab_labels(
        tmp_path: Path, windows: dict[str, list[Window]],
        published_results: dict[str, Series]) -> None:
    # Repeated timestamps (outside the windows) and two windows.
    key = "realAWSCloudwatch/ec2_network_in_5abac7.csv"
    rows = published_rows(key)
    series = published_results[key]

    path = write_series_csv(tmp_path, "echo", key, series.timestamps,
                            [float(row["value"]) for row in rows], series.scores,
                            windows[key])

    assert path == (tmp_path / "echo" / "realAWSCloudwatch"
                    / "echo_ec2_network_in_5abac7.csv")
    again = read_results_dir(tmp_path, "echo")
    assert list(again) == [key]
    assert again[key] == series
    with path.open(encoding="utf-8", newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [row["label"] for row in written] == [row["label"] for row in rows]
    assert [row["timestamp"] for row in written] == [row["timestamp"] for row in rows]
    assert [float(row["value"]) for row in written] == [float(row["value"])
                                                       for row in rows]


def test_data_series_line_up_with_the_labels(
        windows: dict[str, list[Window]],
        published_results: dict[str, Series]) -> None:
    data = read_data(NAB)
    assert set(data) == set(windows)
    assert sum(len(timestamps) for timestamps, _ in data.values()) == 365_558
    for key, (timestamps, values) in data.items():
        assert timestamps == list(published_results[key].timestamps)
        assert len(values) == len(timestamps)


# --- small cases ------------------------------------------------------------------

START = datetime(2020, 1, 1, tzinfo=UTC)
ROWS = 100  # probation: the first 15 rows
WINDOW = (40, 49)  # rows; its span (last - first) is 9


def times(count: int = ROWS) -> list[datetime]:
    return [START + timedelta(minutes=5 * row) for row in range(count)]


def window_at(first: int, last: int) -> Window:
    return (START + timedelta(minutes=5 * first), START + timedelta(minutes=5 * last))


def firing_at(*rows: int, count: int = ROWS) -> Series:
    return Series(times(count), [1.0 if row in rows else 0.0 for row in range(count)])


def standard(*rows: int, spans: tuple[tuple[int, int], ...] = (WINDOW,)) -> float:
    """The raw standard-profile score of a detector firing on ``rows``."""
    corpus = {"toy/one.csv": firing_at(*rows)}
    labels = {"toy/one.csv": [window_at(*span) for span in spans]}
    return score_corpus(corpus, labels, PROFILES)["standard"].raw


def test_an_early_detection_earns_more_than_a_late_one() -> None:
    first, last = WINDOW
    assert standard(first) == 1.0
    late = standard(last - 1)
    assert 0.0 < late < standard(first + 3) < 1.0
    assert late == pytest.approx(scaled_sigmoid(-2 / 10) / scaled_sigmoid(-1.0))


def test_a_false_alarm_right_after_a_window_costs_less_than_one_far_away() -> None:
    first, last = WINDOW
    right_after = standard(first, last + 1) - 1.0
    far_away = standard(first, last + 40) - 1.0
    before = standard(first, 20) - 1.0
    assert -0.11 < right_after < 0.0
    assert right_after == pytest.approx(0.11 * scaled_sigmoid(1 / 9))
    assert far_away == pytest.approx(-0.11)
    assert before == pytest.approx(-0.11)


def test_only_the_first_detection_in_a_window_counts() -> None:
    first, _ = WINDOW
    assert standard(first + 2, first + 3, first + 5) == standard(first + 2)
    corpus = {"toy/one.csv": firing_at(first + 2, first + 3, first + 5)}
    result = score_corpus(corpus, {"toy/one.csv": [window_at(*WINDOW)]},
                          PROFILES)["standard"]
    assert (result.tp, result.fp, result.fn) == (1, 0, 0)


def test_probation_rows_are_not_scored() -> None:
    first, _ = WINDOW
    assert standard(first, 3, 14) == standard(first) == 1.0
    assert standard(first, 15) == pytest.approx(1.0 - 0.11)
    # A window inside the probation cannot be hit: it is a miss for every detector.
    assert standard(first, 5, spans=((5, 8), WINDOW)) == 0.0


def test_the_null_detector_scores_zero_and_the_perfect_one_hundred() -> None:
    labels = {"toy/one.csv": [window_at(*WINDOW), window_at(70, 79)],
              "toy/two.csv": [], "toy/three.csv": [window_at(30, 39)]}
    never = {key: Series(times(), [0.0] * ROWS) for key in labels}
    perfect = {"toy/one.csv": firing_at(WINDOW[0], 70),
               "toy/two.csv": firing_at(), "toy/three.csv": firing_at(30)}
    profiles = load_profiles(NAB)

    for name, result in score_corpus(never, labels, profiles).items():
        assert (result.score, result.threshold, result.tp) == (0.0, math.inf, 0), name
        assert result.raw == result.null == -profiles[name].fn * 3
    for name, result in score_corpus(perfect, labels, profiles).items():
        assert (result.score, result.threshold, result.fp) == (100.0, 1.0, 0), name
        assert result.raw == result.perfect == profiles[name].tp * 3


@pytest.mark.parametrize("seed", range(8))
def test_the_sweep_finds_the_best_threshold(seed: int) -> None:
    rng = random.Random(seed)
    levels = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    corpus: dict[str, Series] = {}
    labels: dict[str, list[Window]] = {}
    for number in range(3):
        first = rng.randrange(20, 60)
        labels[f"toy/{number}.csv"] = [window_at(first, first + 9),
                                       window_at(first + 20, first + 29)]
        corpus[f"toy/{number}.csv"] = Series(
            times(), [rng.choice(levels) ** 2 for _ in range(ROWS)])
    profiles = load_profiles(NAB)

    scores = score_corpus(corpus, labels, profiles)

    for name, weights in profiles.items():
        candidates = {score for series in corpus.values() for score in series.scores}
        raw_at = {threshold: math.fsum(
            math.fsum(row_scores(corpus[key], labels[key], weights, threshold))
            for key in corpus) for threshold in [*candidates, math.inf]}
        best = max(raw_at.values())
        assert scores[name].raw == pytest.approx(best, abs=1e-12)
        assert raw_at[scores[name].threshold] == pytest.approx(best, abs=1e-12)
        assert scores[name].threshold == max(t for t, raw in raw_at.items()
                                             if raw >= best - 1e-12)


def test_windows_match_rows_by_time_even_out_of_order() -> None:
    stamps = times()
    stamps[80], stamps[81] = stamps[81], stamps[80]  # a step back, outside
    stamps[44] = stamps[43]  # a repeated time, inside
    series = Series(stamps, [1.0 if row == 40 else 0.0 for row in range(ROWS)])
    labels = {"toy/one.csv": [window_at(*WINDOW)]}
    assert score_corpus({"toy/one.csv": series}, labels,
                        PROFILES)["standard"].score == 100.0

    stamps[45] = START  # a window row whose time lies outside the window
    with pytest.raises(ValueError, match="not consecutive"):
        score_corpus({"toy/one.csv": Series(stamps, series.scores)}, labels,
                     PROFILES)


def test_bad_input_is_refused() -> None:
    labels = {"toy/one.csv": [window_at(*WINDOW)]}
    with pytest.raises(ValueError, match="no labels entry"):
        score_corpus({"toy/other.csv": firing_at()}, labels, PROFILES)
    with pytest.raises(ValueError, match="NaN"):
        score_corpus({"toy/one.csv": Series(times(), [math.nan] * ROWS)}, labels,
                     PROFILES)
    with pytest.raises(ValueError, match="no row falls"):
        score_corpus({"toy/one.csv": firing_at(count=30)}, labels, PROFILES)
    with pytest.raises(ValueError, match="undefined"):
        score_corpus({"toy/one.csv": firing_at()}, {"toy/one.csv": []}, PROFILES)


def test_profiles_are_read_as_published() -> None:
    assert load_profiles(NAB) == {
        "standard": CostWeights(tp=1.0, fp=0.11, fn=1.0),
        "reward_low_FP_rate": CostWeights(tp=1.0, fp=0.22, fn=1.0),
        "reward_low_FN_rate": CostWeights(tp=1.0, fp=0.11, fn=2.0),
    }
