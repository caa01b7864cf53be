"""anomaly: the stream detector's warm-up, invalid inputs, scales, level and
shape tests, rest period, direction, state round trip and bulk learning."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import orjson
import pytest

from pipeline.anomaly import (
    ANOMALY,
    INVALID,
    NORMAL,
    WARMING_UP,
    DetectorParams,
    StreamDetector,
    Verdict,
)

PERIOD = 48  # inputs in one "day" of the rhythm tests
NO_SHAPE = 10**9  # a calibration_warmup never reached: the level test alone


def feed(detector: StreamDetector, values: Any) -> list[Verdict]:
    return [detector.update(float(value)) for value in values]


def flagged_at(verdicts: list[Verdict]) -> list[int]:
    return [i for i, verdict in enumerate(verdicts) if verdict.flagged]


def rhythm(rng: np.random.Generator, start: int, length: int,
           noise: float = 0.5) -> np.ndarray:
    """A daily sine around 50 (amplitude 10) with small Gaussian noise."""
    t = np.arange(start, start + length)
    return 50.0 + 10.0 * np.sin(2 * math.pi * t / PERIOD) + rng.normal(0, noise, length)


# Warm-up.


def test_nothing_flagged_while_warming_up() -> None:
    detector = StreamDetector(DetectorParams(warmup=20, scale="values"))
    series = [5.0] * 10 + [1e6] + [5.0] * 8 + [-1e6]
    verdicts = feed(detector, series)
    assert [v.status for v in verdicts] == [WARMING_UP] * 20
    assert detector.seen == 20 and not detector.warming_up

    assert detector.update(1e9).status == ANOMALY


# Invalid inputs.


@pytest.mark.parametrize("scale", ["counts", "values", "auto"])
def test_missing_and_non_finite_are_neither_scored_nor_learned(scale: str) -> None:
    detector = StreamDetector(DetectorParams(warmup=5, scale=scale))
    feed(detector, [3, 4, 3, 5, 4, 3])
    before = detector.to_state()

    for bad in (None, math.nan, math.inf, -math.inf):
        verdict = detector.update(bad)  # type: ignore[arg-type]
        assert verdict.status == INVALID and not verdict.flagged
        detector.learn_many(bad, 10)  # type: ignore[arg-type]
    assert detector.to_state() == before
    assert detector.update(4.0).status == NORMAL


def test_negative_input_is_invalid_only_on_the_counts_scale() -> None:
    counts = StreamDetector(DetectorParams(warmup=3, scale="counts"))
    feed(counts, [2, 3, 2, 4])
    assert counts.update(-1.0).status == INVALID
    assert counts.seen == 4

    values = StreamDetector(DetectorParams(warmup=3, scale="values"))
    feed(values, [2, -3, 1, 0, -2, 3])
    assert values.update(-1.0).status == NORMAL
    assert values.seen == 7 and values.to_state()["inputs"][-1] == -1.0


# No variance.


def test_counts_with_a_quiet_history_use_the_sd_floor() -> None:
    detector = StreamDetector(DetectorParams(warmup=10, scale="counts", rest=0))
    feed(detector, [0] * 100)

    # On the Anscombe scale 1 and 2 reports are within 3.5 sd of 1 from none.
    one, two = detector.update(1.0), detector.update(2.0)
    assert (one.status, two.status) == (NORMAL, NORMAL)
    assert 0 < one.z < two.z < 3.5
    thirty = detector.update(30.0)
    assert thirty.status == ANOMALY and thirty.z > 3.5


def test_counts_with_a_constant_history_flag_a_big_jump() -> None:
    detector = StreamDetector(DetectorParams(warmup=10, scale="counts"))
    verdicts = feed(detector, [12] * 200)
    assert flagged_at(verdicts) == []
    assert detector.update(13.0).status == NORMAL
    assert detector.update(60.0).status == ANOMALY


@pytest.mark.parametrize("level", [0.0, 7.0, -250.0])
def test_values_flat_series_flags_a_change_without_dividing_by_zero(
        level: float) -> None:
    params = DetectorParams(warmup=10, scale="values")
    detector = StreamDetector(params)
    verdicts = feed(detector, [level] * 200)
    assert flagged_at(verdicts) == []
    # (The very first input meets an empty history, so only the warm-up
    # sees a z other than 0 here.)
    scored = verdicts[params.warmup:]
    assert all(v.z == 0.0 and math.isfinite(v.novelty) for v in scored)

    changed = detector.update(level + 0.001)
    assert changed.status == ANOMALY
    assert math.isfinite(changed.z) and changed.z > 0


# Level test: a new extreme.


def test_a_plateau_is_flagged_once_only_at_its_first_value() -> None:
    rng = np.random.default_rng(8)
    params = DetectorParams(warmup=30, scale="values", rest=0,
                            calibration_warmup=NO_SHAPE)
    detector = StreamDetector(params)
    assert flagged_at(feed(detector, rng.normal(0, 1, 300))) == []

    plateau = feed(detector, [10.0] * 40)
    assert flagged_at(plateau) == [0]
    # Without any rest, the next plateau value is still far out but not a
    # new extreme, so it is not flagged.
    assert plateau[1].z >= params.z_threshold
    assert plateau[1].z < plateau[0].z

    higher = detector.update(100.0)
    assert higher.status == ANOMALY and "sd from the mean" in higher.reason


def test_a_plateau_after_the_rest_needs_a_larger_value_to_flag() -> None:
    rng = np.random.default_rng(9)
    params = DetectorParams(warmup=30, scale="values", rest=5,
                            calibration_warmup=NO_SHAPE)
    detector = StreamDetector(params)
    feed(detector, rng.normal(0, 1, 300))

    plateau = feed(detector, [10.0] * (params.rest + 10))
    assert flagged_at(plateau) == [0]
    assert all(v.reason == "resting after a flag" for v in plateau[1:params.rest + 1])
    assert detector.hold == 0

    assert detector.update(100.0).status == ANOMALY


# Rest period.


def test_nothing_flags_during_the_rest_even_when_extreme() -> None:
    rng = np.random.default_rng(10)
    params = DetectorParams(warmup=30, scale="values", rest=20)
    detector = StreamDetector(params)
    feed(detector, rng.normal(0, 1, 300))

    assert detector.update(50.0).status == ANOMALY
    assert detector.hold == params.rest
    # Each one larger than anything before: a new extreme every time.
    resting = feed(detector, [100.0 * 2**k for k in range(params.rest)])
    assert flagged_at(resting) == []
    assert all(v.z >= params.z_threshold for v in resting)
    assert {v.reason for v in resting} == {"resting after a flag"}
    assert detector.hold == 0

    assert detector.update(1e12).status == ANOMALY


# Shape test.


def test_a_rhythm_that_goes_flat_is_flagged_by_the_shape_test() -> None:
    rng = np.random.default_rng(11)
    params = DetectorParams(scale="values")
    for phase in (0, PERIOD // 4, PERIOD // 2):
        detector = StreamDetector(params)
        feed(detector, rhythm(rng, 0, 40 * PERIOD + phase))

        flat = feed(detector, [50.0] * PERIOD)
        # Every flat value is well inside the range the level test allows.
        assert all(abs(v.z) < 1 for v in flat)
        first = flagged_at(flat)
        assert first, f"flat rhythm at phase {phase} not flagged"
        assert "shape" in flat[first[0]].reason


def test_a_continuing_rhythm_rarely_flags() -> None:
    # Measured over seeds 0-9 (noise sd 0.5, 50 periods each, 500 periods in
    # all): one flag after the warm-ups (seed 0), none at all for this seed.
    rng = np.random.default_rng(12)
    params = DetectorParams(scale="values")
    detector = StreamDetector(params)
    periods = 50
    verdicts = feed(detector, rhythm(rng, 0, periods * PERIOD))

    settled = params.warmup + params.calibration_warmup + 2 * params.embed
    false_flags = [i for i in flagged_at(verdicts) if i >= settled]
    assert len(false_flags) <= periods // 10


# Direction.


def test_direction_up_never_flags_a_drop_in_counts() -> None:
    rng = np.random.default_rng(13)
    detector = StreamDetector(DetectorParams(warmup=30, scale="counts",
                                             direction="up"))
    feed(detector, rng.poisson(8, 400))

    drops = feed(detector, [0] * 60)
    assert flagged_at(drops) == []
    assert drops[0].z < -3.5
    assert detector.update(60.0).status == ANOMALY


def test_direction_up_a_lull_does_not_hide_a_later_surge() -> None:
    # A drop is never an anomaly when only surges count, so its size must not
    # raise the bar a later surge has to clear to be a "new extreme".
    params = DetectorParams(warmup=10, scale="counts", direction="up", rest=0)
    detector = StreamDetector(params)
    feed(detector, [8] * 100)
    lull = detector.update(0.0)
    assert lull.status == NORMAL and lull.z < -params.z_threshold

    surge = detector.update(23.0)
    assert surge.z >= params.z_threshold and surge.expected_high < 23.0
    assert surge.status == ANOMALY


def test_direction_both_flags_a_large_drop_in_values() -> None:
    rng = np.random.default_rng(14)
    detector = StreamDetector(DetectorParams(warmup=30, scale="values",
                                             direction="both"))
    feed(detector, rng.normal(100, 1, 400))

    drop = detector.update(80.0)
    assert drop.status == ANOMALY and drop.z < -3.5
    assert drop.expected_low > 80.0


# Auto scale.


def test_auto_switches_to_values_at_the_first_fraction_and_keeps_inputs() -> None:
    rng = np.random.default_rng(15)
    detector = StreamDetector(DetectorParams(warmup=30, scale="auto"))
    counts = [float(n) for n in rng.poisson(4, 100)]
    assert flagged_at(feed(detector, counts)) == []
    assert detector.to_state()["counts_scale"] is True

    switched = detector.update(4.5)
    assert switched.status in (NORMAL, ANOMALY)
    state = detector.to_state()
    assert state["counts_scale"] is False
    assert state["seen"] == detector.seen == 101
    assert state["inputs"] == [*counts, 4.5]
    # Back to whole numbers: the scale stays values, the detector still works.
    later = feed(detector, [float(n) for n in rng.poisson(4, 50)])
    assert detector.to_state()["counts_scale"] is False
    assert detector.seen == 151 and all(math.isfinite(v.z) for v in later)
    jump = detector.update(40.0)
    assert jump.status == ANOMALY and jump.expected_high < 40.0


# State.


@pytest.mark.parametrize("scale", ["counts", "values"])
def test_state_round_trip_gives_the_same_verdicts(scale: str) -> None:
    rng = np.random.default_rng(16)
    params = DetectorParams(warmup=30, rest=10, scale=scale)
    original = StreamDetector(params)
    feed(original, rng.poisson(6, 600))
    assert original.update(60.0).flagged
    feed(original, rng.poisson(6, 4))
    assert original.hold == params.rest - 4

    state = orjson.loads(orjson.dumps(original.to_state()))
    restored = StreamDetector.from_state(params, state)
    assert (restored.seen, restored.hold) == (original.seen, original.hold) == (605, 6)

    upcoming = [float(n) for n in rng.poisson(6, 50)]
    upcoming[30] = 200.0  # a new extreme on either scale
    first = feed(original, upcoming)
    second = feed(restored, upcoming)
    assert [v.status for v in second] == [v.status for v in first]
    assert ANOMALY in {v.status for v in first}
    assert [v.z for v in second] == pytest.approx([v.z for v in first])
    assert [v.novelty for v in second] == pytest.approx([v.novelty for v in first])


# Bulk learning of quiet runs.


def test_learn_many_counts_every_copy_then_a_burst_flags() -> None:
    detector = StreamDetector(DetectorParams(warmup=48, scale="counts",
                                             direction="up"))
    detector.learn_many(0, 100)
    assert detector.seen == 100
    assert detector.update(1.0).status == NORMAL
    assert detector.update(30.0).status == ANOMALY


def test_learn_many_beyond_keep_stays_bounded() -> None:
    params = DetectorParams(history=50, memory=20, embed=4, warmup=10,
                            scale="counts", direction="up")
    detector = StreamDetector(params)
    feed(detector, [1, 0, 2, 0, 1] * 10)

    detector.learn_many(0, 100_000)
    assert detector.seen == 100_050
    assert len(detector.to_state()["inputs"]) == params.keep
    detector.learn_many(0, 3 * params.keep)
    assert len(detector.to_state()["inputs"]) == params.keep
    assert detector.update(30.0).status == ANOMALY


# Settings.


@pytest.mark.parametrize("settings", [
    {"scale": "log"},
    {"direction": "down"},
    {"history": 0},
    {"embed": 0},
    {"memory": -1},
    {"calibration": 0},
    {"rest": -1},
    {"warmup": -1},
    {"record_span": -1},
    {"calibration_warmup": -5},
    {"z_threshold": 0.0},
    {"z_threshold": -2.0},
])
def test_bad_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        DetectorParams(**settings)


def test_from_config_refuses_unknown_keys() -> None:
    with pytest.raises(ValueError, match="threshold"):
        DetectorParams.from_config({"threshold": 3.0})
    params = DetectorParams.from_config({"z_threshold": 4.0, "scale": "counts"})
    assert (params.z_threshold, params.scale) == (4.0, "counts")


def test_a_huge_value_leaves_no_trace_once_it_has_left_the_history() -> None:
    rng = random.Random(3)
    detector = StreamDetector(DetectorParams(scale="values", history=100, warmup=10))
    for _ in range(300):
        detector.update(rng.gauss(50, 5))
    detector.update(1e15)
    for _ in range(300):
        verdict = detector.update(rng.gauss(50, 5))

    # 3.5 sd of about 5 either side of 50: the spike no longer inflates it.
    assert 25 < verdict.expected_low < 40 and 60 < verdict.expected_high < 75
    assert detector.update(1e300).status == INVALID


def test_the_shape_memory_grows_only_as_stretches_arrive() -> None:
    detector = StreamDetector(DetectorParams(scale="counts", memory=2000, embed=8))
    for count in range(100):
        detector.update(count % 7)

    assert len(detector._memory) < 2000  # 84 stretches so far, not 2,000 rows
    for count in range(3000):
        detector.update(count % 7)
    assert len(detector._memory) == 2000


@pytest.mark.parametrize("settings", [
    {"history": 1.5}, {"memory": True}, {"z_threshold": math.inf},
    {"memory": 10**8}, {"embed": 1000},
])
def test_settings_of_the_wrong_type_or_size_are_refused(settings: dict) -> None:
    with pytest.raises(ValueError):
        DetectorParams(**settings)
