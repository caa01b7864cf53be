"""surge: event-time windows per key (tumbling and hopping), their state across
a restart, closing by the wall clock, and the surge detector."""

from __future__ import annotations

import math
import random
from typing import Any

import orjson
import pytest

from agents.resources import Models
from pipeline.anomaly import DetectorParams, anscombe, inverse_anscombe
from pipeline.surge import (
    NORMAL,
    SURGE,
    WARMING_UP,
    ClosedWindow,
    SurgeDetector,
    SurgeMonitor,
    SurgeParams,
    pack_counts,
)

S = 1000  # ms per second


def surge_params(warmup: int = 48, history: int = 6400, **settings: Any) -> SurgeParams:
    detector = DetectorParams(scale="counts", direction="up", warmup=warmup,
                              history=history)
    return SurgeParams(detector=detector, **settings)


SMALL = surge_params(window_s=60, grace_s=30, history=100, warmup=3, min_count=5)


def counts(closed: list[ClosedWindow]) -> list[tuple[str, int, int]]:
    return [(w.key, w.start_ms // S, w.count) for w in closed]


def test_real_params(models: Models) -> None:
    assert models.surge == SurgeParams(
        window_s=3600, hop_s=900, grace_s=900, min_count=5, idle_s=60,
        live_lag_s=3600, detector=DetectorParams(scale="counts", direction="up",
                                                 warmup=192))


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
    monitor = SurgeMonitor(surge_params(window_s=60, grace_s=0, warmup=3,
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
    assert "sd from the mean" in spike.reason  # the level test flagged it
    assert all(w.reason == "" for w in closed if w.status != SURGE)


def test_surge_needs_min_count() -> None:
    detector = SurgeDetector(surge_params(warmup=5, min_count=10))
    for _ in range(20):
        detector.learn_one(0)

    status, z, _, _ = detector.score_one(8)

    assert z >= 4.0
    assert status == NORMAL


def test_constant_history_does_not_flag_ordinary_counts() -> None:
    detector = SurgeDetector(surge_params(warmup=48))
    for _ in range(60):
        detector.learn_one(5)

    for count in (3, 4, 5, 6, 7, 8):
        status, z, low, high = detector.score_one(count)
        assert status == NORMAL, (count, z)
        assert math.isfinite(z)
        assert low <= 5 <= high
    assert detector.score_one(40)[0] == SURGE


def test_ordinary_poisson_like_history_does_not_flag() -> None:
    detector = SurgeDetector(surge_params(warmup=10))
    history = [3, 5, 4, 6, 2, 4, 5, 3, 7, 4, 5, 3, 4, 6, 5, 2, 4, 5]
    statuses = []
    for count in history * 3:
        statuses.append(detector.score_one(count)[0])
        detector.learn_one(count)

    assert SURGE not in statuses
    assert detector.score_one(30)[0] == SURGE


@pytest.mark.parametrize("count", [math.nan, math.inf, -math.inf, -1])
def test_non_finite_or_negative_counts_never_flag(count: float) -> None:
    detector = SurgeDetector(surge_params(warmup=2))
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


def test_params_refuse_unknown_keys_and_impossible_values() -> None:
    with pytest.raises(ValueError, match="window_secs"):
        SurgeParams.from_config({"window_secs": 60})
    with pytest.raises(ValueError, match="window_s"):
        SurgeParams.from_config({"window_s": 0})
    with pytest.raises(ValueError, match="min_count"):
        SurgeMonitor(SurgeParams(min_count=0))


def test_params_refuse_a_hop_that_does_not_divide_the_window() -> None:
    with pytest.raises(ValueError, match="hop_s"):
        SurgeParams(window_s=3600, hop_s=700)
    assert SurgeParams(window_s=3600).step_s == 3600  # tumbling
    assert SurgeParams(window_s=3600, hop_s=900).step_s == 900


HOP = surge_params(window_s=60, hop_s=15, grace_s=0, warmup=2, min_count=3)


def windows_of(closed: list[ClosedWindow]) -> list[tuple[int, int, int]]:
    return [(w.start_ms // S, w.end_ms // S, w.count) for w in closed]


def test_an_event_counts_in_every_hopping_window_that_holds_it() -> None:
    monitor = SurgeMonitor(HOP)
    closed = monitor.add("A", 70 * S)
    closed += monitor.add("A", 80 * S)  # watermark 80 s: [15, 75) closes
    closed += monitor.advance(200 * S)

    assert windows_of(closed) == [
        (15, 75, 1), (30, 90, 2), (45, 105, 2), (60, 120, 2), (75, 135, 1)]
    assert monitor.detectors["A"].seen == 5


def test_hopping_quiet_windows_are_learned_one_per_hop() -> None:
    monitor = SurgeMonitor(HOP)
    monitor.add("A", 70 * S)
    monitor.advance(200 * S)  # closes the windows starting 15, 30, 45 and 60
    monitor.add("A", 301 * S)  # in the windows starting 255 to 300

    closed = monitor.flush()

    assert windows_of(closed)[0] == (255, 315, 1)
    assert monitor.zero_windows == (255 - 75) // 15
    assert monitor.detectors["A"].seen == 4 + 12 + 4


def test_a_late_event_is_added_to_its_windows_still_open_and_counted_late() -> None:
    monitor = SurgeMonitor(SurgeParams(window_s=60, hop_s=30, grace_s=0))
    monitor.add("A", 100 * S)
    monitor.add("A", 200 * S)  # watermark 200 s: [60, 120) and [90, 150) close

    assert monitor.add("A", 175 * S) == []  # [120, 180) closed, [150, 210) open
    assert monitor.add("A", 130 * S) == []  # [90, 150) and [120, 180): both closed

    assert monitor.late_total == 2 and monitor.keys["A"].late == 2
    assert windows_of(monitor.flush()) == [(150, 210, 2), (180, 240, 1)]


LIVE = SurgeParams(window_s=60, grace_s=10, idle_s=5, live_lag_s=600)
NOW = 1_700_000_000_000  # a wall clock, in ms


def test_a_single_event_then_silence_closes_by_the_wall_clock() -> None:
    monitor = SurgeMonitor(LIVE)
    event_ms = NOW - 2 * S
    start = event_ms - event_ms % (60 * S)

    assert monitor.add("A", event_ms, (0, 0), wall_ms=NOW) == []
    assert monitor.advance_by_wall_clock(NOW + 4 * S) == []  # not quiet long enough
    end_passed = start + 70 * S  # window end plus grace
    assert monitor.advance_by_wall_clock(end_passed - 1) == []

    closed = monitor.advance_by_wall_clock(end_passed)

    assert windows_of(closed) == [(start // S, start // S + 60, 1)]
    assert monitor.watermark_ms == start + 60 * S


def test_a_partition_that_keeps_hearing_events_is_not_closed_by_the_wall_clock(
        ) -> None:
    monitor = SurgeMonitor(LIVE)
    for second in range(0, 300, 2):  # a backlog hours behind, still coming
        monitor.add("A", NOW - 3_000 * S + second * S, (second, 0),
                    wall_ms=NOW + second * S)
        assert monitor.advance_by_wall_clock(NOW + second * S + S) == []
    assert monitor.watermark_ms < NOW - 2_600 * S


def test_a_replay_of_old_events_is_never_closed_by_the_wall_clock() -> None:
    monitor = SurgeMonitor(LIVE)
    old_ms = NOW - 365 * 86_400 * S
    monitor.add("A", old_ms, (0, 0), wall_ms=NOW)

    assert monitor.advance_by_wall_clock(NOW + 3_600 * S) == []
    assert [w.count for w in monitor.flush()] == [1]


def test_after_a_restart_the_quiet_time_counts_from_the_first_look() -> None:
    monitor = SurgeMonitor(LIVE)
    monitor.add("A", NOW, (0, 0), wall_ms=NOW)
    again = SurgeMonitor.restored(LIVE, monitor.clock_state(),
                                  {"A": monitor.key_state("A")})
    later = NOW + 3_600 * S  # the worker was down for an hour

    assert again.advance_by_wall_clock(later) == []  # the backlog comes first
    assert [w.count for w in again.advance_by_wall_clock(later + 5 * S)] == [1]


def test_a_redelivered_event_is_not_counted_twice() -> None:
    monitor = SurgeMonitor(SMALL)
    for offset, index in ((3, 0), (3, 1), (4, 0)):
        monitor.add("A", 10 * S, (offset, index))
    for offset, index in ((3, 0), (3, 1), (4, 0)):  # the same messages again
        monitor.add("A", 10 * S, (offset, index))
    monitor.add("B", 10 * S, (3, 2))  # another key of a redelivered message

    assert monitor.repeats == 3
    assert counts(monitor.flush()) == [("A", 0, 3), ("B", 0, 1)]


def test_a_held_outlier_is_not_counted_twice_when_redelivered() -> None:
    monitor = SurgeMonitor(SurgeParams(window_s=3600, grace_s=0, max_ahead_s=3600))
    monitor.add("A", 0, (0, 0))
    far = 10 * 3_600_000
    monitor.add("A", far, (1, 0))  # held: is it a wrong clock?
    again = SurgeMonitor.restored(monitor.params, monitor.clock_state(),
                                  {"A": monitor.key_state("A")})

    assert again.add("A", far, (1, 0)) == []  # redelivered: still held once
    closed = again.add("A", far + 5, (2, 0))  # confirmed: time moved on

    assert (again.repeats, again.outliers) == (1, 0)
    assert [w.count for w in closed + again.flush()] == [1, 2]


def state_round_trip(monitor: SurgeMonitor) -> SurgeMonitor:
    """The monitor as a worker's table keeps it: JSON values, rebuilt."""
    clock = orjson.loads(orjson.dumps(monitor.clock_state()))
    keys = {k: orjson.loads(orjson.dumps(monitor.key_state(k))) for k in monitor.keys}
    return SurgeMonitor.restored(monitor.params, clock, keys)


def test_a_restored_monitor_closes_exactly_as_the_one_that_ran_on() -> None:
    params = surge_params(window_s=60, hop_s=20, grace_s=30, history=50, warmup=5,
                         min_count=3)
    events = [(key, (minute * 60 + second) * S)
              for minute in range(40) for key, second in (("A", 5), ("B", 25))
              for _ in range(1 + (minute == 33) * 15)]
    straight, restarted = SurgeMonitor(params), SurgeMonitor(params)
    closed_straight: list[ClosedWindow] = []
    closed_restarted: list[ClosedWindow] = []
    for position, (key, event_ms) in enumerate(events):
        closed_straight += straight.add(key, event_ms, (position, 0))
    for position, (key, event_ms) in enumerate(events):
        if position == len(events) // 2:
            restarted = state_round_trip(restarted)
        closed_restarted += restarted.add(key, event_ms, (position, 0))
    closed_straight += straight.flush()
    closed_restarted += restarted.flush()

    assert closed_restarted == closed_straight
    assert SURGE in {w.status for w in closed_straight}


def test_windows_open_at_a_restart_close_after_it() -> None:
    monitor = SurgeMonitor(SMALL)
    monitor.add("A", 10 * S, (0, 0))
    monitor.add("A", 20 * S, (1, 0))

    again = state_round_trip(monitor)

    assert counts(again.add("A", 95 * S, (2, 0))) == [("A", 0, 2)]


def test_take_changed_names_what_a_worker_must_store() -> None:
    monitor = SurgeMonitor(SMALL)
    monitor.add("A", 10 * S)
    monitor.add("B", 10 * S)

    assert monitor.take_changed() == ({"A", "B"}, True)
    assert monitor.take_changed() == (set(), False)
    monitor.add("A", 5 * S)  # older than the newest: the clock stays
    assert monitor.take_changed() == ({"A"}, False)


def test_detector_state_round_trips_and_keeps_its_last_history() -> None:
    detector = SurgeDetector(surge_params(history=4, warmup=3))
    for count in (9, 1, 2, 3):
        detector.learn_one(count)
    detector.learn_zeros(2)

    state = orjson.loads(orjson.dumps(detector.to_state()))
    again = SurgeDetector.from_state(detector.params, state)

    assert again.seen == 6
    assert again.to_state() == detector.to_state()
    for count in (0, 2, 7, 30):
        assert again.score_one(count) == pytest.approx(detector.score_one(count))
    small = DetectorParams(scale="counts", history=2, memory=1, embed=1)
    kept = SurgeDetector.from_state(SurgeParams(detector=small), state)
    assert kept.detector.to_state()["inputs"] == [3.0, 0.0, 0.0]  # the last 3
    assert not again.warming_up and SurgeDetector(SurgeParams()).warming_up


def test_a_restored_detector_goes_on_as_the_original_would() -> None:
    rng = random.Random(5)
    params = SurgeParams(min_count=5)
    counts = [sum(rng.random() < 0.2 for _ in range(10)) for _ in range(3000)]
    counts += [12, 3, 9, 2, 15] * 20
    original = SurgeDetector(params)
    for count in counts[:2500]:
        original.score_one(count)
        original.learn_one(count)

    state = orjson.loads(orjson.dumps(original.to_state()))
    restored = SurgeDetector.from_state(params, state)
    for count in counts[2500:]:
        assert restored.score_one(count) == original.score_one(count)
        original.learn_one(count)
        restored.learn_one(count)


def test_surge_settings_are_checked_when_they_load() -> None:
    with pytest.raises(ValueError, match="min_count"):
        SurgeParams.from_config({"min_count": 0})
    with pytest.raises(ValueError, match="whole number"):
        SurgeParams.from_config({"hop_s": "900"})
    assert SurgeParams.from_config({"detector": None}).detector.scale == "counts"


def test_state_blocks_always_hold_exactly_the_counts_kept() -> None:
    """Blocks are packed once and reused; across block ends, a history longer
    than what is kept, and quiet runs longer than it, the state still decodes
    to the kept counts, and a detector restored from it goes on the same."""
    rng = random.Random(11)
    params = surge_params(warmup=10, history=700)  # keeps 2,016 counts
    detector = SurgeDetector(params)
    for step in range(4000):
        if rng.random() < 0.05:
            detector.learn_zeros(rng.choice((1, 7, 600, 2500)))
        else:
            count = rng.randrange(12)
            detector.score_one(count)
            detector.learn_one(count)
        if step % 97 == 0 or step > 3990:
            state = orjson.loads(orjson.dumps(detector.to_state()))
            again = SurgeDetector.from_state(params, state)
            assert list(again.detector.inputs) == list(detector.detector.inputs)
            assert again.seen == detector.seen
    for count in (0, 3, 8, 40):
        assert again.score_one(count) == pytest.approx(detector.score_one(count))


def test_state_written_before_blocks_is_still_read() -> None:
    params = surge_params(warmup=3)
    detector = SurgeDetector(params)
    for count in (4, 0, 2, 9):
        detector.learn_one(count)
    old = detector.detector.to_state()
    old["inputs"] = pack_counts(old["inputs"])
    again = SurgeDetector.from_state(params, old)
    assert list(again.detector.inputs) == [4, 0, 2, 9] and again.seen == 4


def test_free_text_areas_are_capped_and_every_count_is_kept() -> None:
    """A sender inventing areas (and categories) cannot grow the keys past
    ``max_keys`` plus the folded ones; nothing it sends goes uncounted."""
    params = surge_params(window_s=60, grace_s=0, max_keys=10, warmup=3)
    monitor = SurgeMonitor(params)
    closed: list[ClosedWindow] = []
    for n in range(3000):
        closed += monitor.add(f"area {n}|kind {n % 200}", 1_000 * (n // 10), (n, 0))
    closed += monitor.flush()

    assert len(monitor.keys) <= 10 + 64 + 1
    assert sum(w.count for w in closed) == 3000  # tumbling: one window each
    assert monitor.folded == 3000 - 10
    assert "(other areas)|(other areas)" in monitor.keys
    assert "(other areas)|kind 10" in monitor.keys
    # A kept key keeps counting as itself; a folded one keeps folding.
    assert monitor.admit("area 3|kind 3") == "area 3|kind 3"
    assert monitor.admit("area 2999|kind 199") == "(other areas)|(other areas)"
