"""surge: tumbling event-time windows per key, and the surge detector."""

from __future__ import annotations

import math

import pytest

from agents.resources import Models
from pipeline.surge import (
    NORMAL,
    SURGE,
    WARMING_UP,
    ClosedWindow,
    SurgeDetector,
    SurgeMonitor,
    SurgeParams,
    anscombe,
    inverse_anscombe,
)

S = 1000  # ms per second
SMALL = SurgeParams(window_s=60, grace_s=30, history=100, warmup=3, z_threshold=4.0,
                    min_count=5)


def counts(closed: list[ClosedWindow]) -> list[tuple[str, int, int]]:
    return [(w.key, w.start_ms // S, w.count) for w in closed]


def test_real_params(models: Models) -> None:
    assert models.surge == SurgeParams(window_s=3600, grace_s=900, history=336,
                                       warmup=48, z_threshold=4.0, min_count=5)


def test_anscombe_round_trips() -> None:
    for count in (0, 1, 5, 120):
        assert inverse_anscombe(anscombe(count)) == pytest.approx(count)
    assert inverse_anscombe(0.0) == 0.0


def test_window_closes_once_the_watermark_passes_its_end() -> None:
    monitor = SurgeMonitor(SMALL)

    assert monitor.add("A", 10 * S) == []
    assert monitor.add("A", 20 * S) == []
    # Watermark 80 s - 30 s grace = 50 s: the [0, 60) window is still open.
    assert monitor.add("A", 80 * S) == []
    closed = monitor.add("A", 90 * S)

    assert counts(closed) == [("A", 0, 2)]
    assert (closed[0].end_ms, monitor.watermark_ms) == (60 * S, 60 * S)


def test_advance_closes_windows_and_never_goes_back() -> None:
    monitor = SurgeMonitor(SMALL)
    monitor.add("A", 10 * S)
    monitor.add("A", 70 * S)

    assert counts(monitor.advance(200 * S)) == [("A", 0, 1), ("A", 60, 1)]
    assert monitor.advance(100 * S) == []
    assert monitor.watermark_ms == 200 * S


def test_quiet_windows_are_learned_before_the_next_window_with_reports() -> None:
    monitor = SurgeMonitor(SMALL)
    monitor.add("quiet", 5 * S)
    monitor.add("busy", 6 * S)
    closed = monitor.add("busy", 250 * S)

    assert counts(closed) == [("busy", 0, 1), ("quiet", 0, 1)]
    assert monitor.zero_windows == 0

    closed = monitor.add("busy", 400 * S)  # closes [240, 300) after 3 quiet ones

    assert counts(closed) == [("busy", 240, 1)]
    assert monitor.zero_windows == 3
    assert monitor.detectors["busy"].seen == 5
    assert monitor.detectors["quiet"].seen == 1


def test_late_events_are_counted_never_added() -> None:
    monitor = SurgeMonitor(SMALL)
    monitor.add("A", 10 * S)
    monitor.add("A", 100 * S)  # closes [0, 60)

    assert monitor.add("A", 50 * S) == []
    assert monitor.add("A", 59 * S) == []

    assert monitor.late_total == 2
    assert monitor.keys["A"].late == 2
    assert counts(monitor.flush()) == [("A", 60, 1)]


def test_flush_closes_every_open_window() -> None:
    monitor = SurgeMonitor(SMALL)
    closed = []
    for second in (1, 2, 65, 100):
        closed += monitor.add("A", second * S)
    closed += monitor.add("B", 70 * S)
    assert counts(closed) == [("A", 0, 2)]

    flushed = monitor.flush()

    assert counts(flushed) == [("A", 60, 2), ("B", 60, 1)]
    assert all(not w.open for w in monitor.keys.values())
    assert monitor.flush() == []


def test_flush_fills_the_quiet_windows_between_open_ones() -> None:
    monitor = SurgeMonitor(SurgeParams(window_s=60, grace_s=600))
    for second in (1, 2, 65, 190):
        assert monitor.add("A", second * S) == []

    assert counts(monitor.flush()) == [("A", 0, 2), ("A", 60, 1), ("A", 180, 1)]
    assert monitor.zero_windows == 1


def test_stays_warming_up_until_warmup_windows() -> None:
    monitor = SurgeMonitor(SMALL)
    closed = []
    for minute in range(5):
        closed += monitor.add("A", minute * 60 * S + 1)
    closed += monitor.flush()

    assert [w.count for w in closed] == [1, 1, 1, 1, 1]
    assert [w.status for w in closed] == [WARMING_UP, WARMING_UP, WARMING_UP,
                                          NORMAL, NORMAL]


def test_a_clear_spike_is_a_surge() -> None:
    monitor = SurgeMonitor(SurgeParams(window_s=60, grace_s=0, warmup=3,
                                       min_count=3))
    for minute in range(6):
        monitor.add("A", minute * 60 * S + 1)
    for _ in range(20):
        monitor.add("A", 6 * 60 * S + 5)

    closed = monitor.advance(8 * 60 * S)

    assert [(w.count, w.status) for w in closed][-1:] == [(20, SURGE)]
    spike = closed[-1]
    assert spike.z >= 4.0
    assert spike.expected_low <= 1 <= spike.expected_high < 20
    assert spike.to_dict()["status"] == SURGE


def test_surge_needs_min_count() -> None:
    detector = SurgeDetector(SurgeParams(warmup=5, min_count=10))
    for _ in range(20):
        detector.learn_one(0)

    status, z, _, _ = detector.score_one(8)

    assert z >= 4.0
    assert status == NORMAL


def test_constant_history_does_not_flag_ordinary_counts() -> None:
    detector = SurgeDetector(SurgeParams(warmup=48))
    for _ in range(60):
        detector.learn_one(5)

    for count in (3, 4, 5, 6, 7, 8):
        status, z, low, high = detector.score_one(count)
        assert status == NORMAL, (count, z)
        assert math.isfinite(z)
        assert low <= 5 <= high
    assert detector.score_one(40)[0] == SURGE


def test_ordinary_poisson_like_history_does_not_flag() -> None:
    detector = SurgeDetector(SurgeParams(warmup=10))
    history = [3, 5, 4, 6, 2, 4, 5, 3, 7, 4, 5, 3, 4, 6, 5, 2, 4, 5]
    statuses = []
    for count in history * 3:
        statuses.append(detector.score_one(count)[0])
        detector.learn_one(count)

    assert SURGE not in statuses
    assert detector.score_one(30)[0] == SURGE


@pytest.mark.parametrize("count", [math.nan, math.inf, -math.inf, -1])
def test_non_finite_or_negative_counts_never_flag(count: float) -> None:
    detector = SurgeDetector(SurgeParams(warmup=2))
    for _ in range(10):
        detector.learn_one(0)

    status, z, low, high = detector.score_one(count)  # type: ignore[arg-type]
    detector.learn_one(count)  # type: ignore[arg-type]

    assert status != SURGE
    assert (z, low, high) == (0.0, 0.0, 0.0)
    assert detector.seen == 10
    assert detector.score_one(0)[0] == NORMAL


def test_one_far_future_event_is_an_outlier_and_closes_nothing() -> None:
    monitor = SurgeMonitor(SurgeParams(window_s=3600, grace_s=0, max_ahead_s=86_400))
    hour_ms = 3_600_000
    for key in "abcdefghij":
        monitor.add(key, 10 * hour_ms)

    assert monitor.add("a", 10 * hour_ms + 365 * 24 * hour_ms) == []
    closed = monitor.add("a", 11 * hour_ms + 1)

    assert monitor.outliers == 1
    assert len(closed) == 10  # only hour 10 of each key, not a year of windows
    assert monitor.late_total == 0


def test_a_real_jump_after_a_quiet_spell_is_confirmed_and_counted() -> None:
    monitor = SurgeMonitor(SurgeParams(window_s=3600, grace_s=0, max_ahead_s=86_400))
    hour_ms = 3_600_000
    monitor.add("a", 0)
    later = 72 * hour_ms

    assert monitor.add("a", later + 5) == []
    closed = monitor.add("a", later + 10)

    assert monitor.outliers == 0
    assert [w.count for w in closed] == [1]
    assert sum(w.count for w in monitor.flush()) == 2
    assert monitor.zero_windows == 71


def test_a_partition_racing_ahead_does_not_close_windows_of_a_slower_one() -> None:
    monitor = SurgeMonitor(SurgeParams(window_s=3600, grace_s=0))
    hour_ms = 3_600_000
    monitor.add("slow", 1 * hour_ms, partition=0)

    assert monitor.add("fast", 20 * hour_ms, partition=1) == []
    closed = monitor.add("slow", 2 * hour_ms + 5, partition=0)

    assert monitor.late_total == 0
    assert [(w.key, w.start_ms // hour_ms, w.count) for w in closed] == [
        ("slow", 1, 1)]


def test_params_refuse_unknown_keys_and_impossible_values() -> None:
    with pytest.raises(ValueError, match="window_secs"):
        SurgeParams.from_config({"window_secs": 60})
    with pytest.raises(ValueError, match="window_s"):
        SurgeParams.from_config({"window_s": 0})
    with pytest.raises(ValueError, match="min_count"):
        SurgeMonitor(SurgeParams(min_count=0))
