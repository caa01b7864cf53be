"""priority_model: learns priorities from dispatcher outcomes and says why."""

from __future__ import annotations

import json

import pytest

from pipeline.priority_model import CallFacts, PriorityModel, features

LEVELS = ("A", "B", "C")
#: Call types with the final priority SFPD dispatchers give them most often.
TYPE_LEVELS = {"SHOTS FIRED": "A", "PERSON BREAKING IN": "B", "NOISE NUISANCE": "C"}
PLACES = (("district", "MISSION"), ("neighbourhood", "Mission"))


def _calls(rounds: int) -> list[tuple[CallFacts, str]]:
    """Interleaved calls of each type, at varied hours, with their outcomes."""
    calls = []
    for i in range(rounds):
        for call_type, level in TYPE_LEVELS.items():
            facts = CallFacts(call_type, "caller on scene" if i % 2 else "",
                              PLACES, hour=i % 24, weekday=i % 7,
                              taker_priority=level)
            calls.append((facts, level))
    return calls


def _trained(rounds: int = 40, with_taker: bool = False) -> PriorityModel:
    model = PriorityModel(LEVELS, with_taker=with_taker)
    for facts, final in _calls(rounds):
        model.learn_one(facts, final)
    return model


def test_learns_each_call_types_priority_from_outcomes() -> None:
    model = _trained()

    for call_type, level in TYPE_LEVELS.items():
        guess = model.predict_one(CallFacts(call_type, "", PLACES, hour=3))
        assert guess.priority == level
        assert guess.confidence > 0.5


def test_every_guess_carries_its_reasons() -> None:
    fresh = PriorityModel(LEVELS).predict_one(CallFacts("SHOTS FIRED"))
    guess = _trained().predict_one(CallFacts("SHOTS FIRED", "", PLACES, hour=22))

    assert fresh.reasons == ("call type 'SHOTS FIRED': not seen before",
                             "no outcome learnt yet: C")
    assert guess.reasons[0] == (
        "call type 'SHOTS FIRED': dispatchers chose A in 40 of 40")
    assert guess.reasons[1].startswith("model says A with p=")
    assert "the report's own features carry" in guess.reasons[1]
    assert any("pushes towards A" in reason for reason in guess.reasons[2:])


def test_snapshot_round_trip_predicts_and_learns_identically() -> None:
    original = _trained(25, with_taker=True)
    restored = PriorityModel.restore(json.loads(json.dumps(original.snapshot())))
    probes = [CallFacts(t, "caller on scene", PLACES, 5, 2, taker)
              for t in (*TYPE_LEVELS, "NEVER SEEN") for taker in ("A", "C", "E")]

    assert [restored.predict_one(p) for p in probes] == \
        [original.predict_one(p) for p in probes]
    for model in (original, restored):
        model.learn_one(probes[0], "B")
    assert [restored.predict_one(p) for p in probes] == \
        [original.predict_one(p) for p in probes]
    assert restored.snapshot() == original.snapshot()


@pytest.mark.parametrize("taker", LEVELS)
def test_a_fresh_taker_model_keeps_the_takers_priority(taker: str) -> None:
    model = PriorityModel(LEVELS, with_taker=True)

    guess = model.predict_one(CallFacts("SHOTS FIRED", taker_priority=taker))

    assert guess.priority == taker


def test_taker_kept_while_no_change_has_paid_off() -> None:
    # The call-taker was always right, so overriding has never won a call.
    model = _trained(with_taker=True)

    guess = model.predict_one(CallFacts("SHOTS FIRED", "", PLACES, 1, 1, "C"))

    assert guess.priority == "C"
    assert guess.reasons[0] == "taker's priority C kept: no change has paid off yet"


def test_taker_overridden_once_upgrades_have_proven_right() -> None:
    # Burglaries in progress that takers call B and dispatchers raise to A.
    model = PriorityModel(LEVELS, with_taker=True)
    upgraded = CallFacts("BURGLARY IN PROGRESS", "", PLACES, 2, 5, "B")
    for _ in range(60):
        model.learn_one(upgraded, "A")

    guess = model.predict_one(upgraded)

    assert guess.priority == "A"
    assert guess.reasons[0].startswith("taker's B changed to A")


def test_a_final_priority_off_the_levels_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown priority level"):
        PriorityModel(LEVELS).learn_one(CallFacts("SHOTS FIRED"), "E")


def test_entry_delay_is_a_feature_only_when_known() -> None:
    quick = features(CallFacts("SHOTS FIRED", entry_delay_s=12.0), False)
    slow = features(CallFacts("SHOTS FIRED", entry_delay_s=400.0), False)
    unknown = features(CallFacts("SHOTS FIRED"), False)

    assert "entry=<30s" in quick
    assert "entry=>=300s" in slow
    assert not any(name.startswith("entry=") for name in unknown)


def test_a_legacy_taker_code_reads_as_its_usual_final_level() -> None:
    model = PriorityModel(LEVELS, with_taker=True)
    legacy = CallFacts("SUSPICIOUS PERSON", "", PLACES, 4, 0, "E")
    for _ in range(10):
        model.learn_one(legacy, "A")

    guess = model.predict_one(CallFacts("NOISE NUISANCE", taker_priority="E"))

    assert guess.priority == "A"
    assert guess.reasons[0].startswith("taker's priority A kept")


def test_backoff_learns_a_places_recent_outcomes_for_a_type() -> None:
    # Same type, two districts: MISSION's well-being checks end A, RICHMOND's C.
    model = PriorityModel(LEVELS, backoff_alpha=2.0)
    mission = CallFacts("WELL BEING CHECK", "", (("district", "MISSION"),), 14)
    richmond = CallFacts("WELL BEING CHECK", "", (("district", "RICHMOND"),), 14)
    for _ in range(40):
        model.learn_one(mission, "A")
        model.learn_one(richmond, "C")

    towards_a = model.predict_one(mission)
    towards_c = model.predict_one(richmond)

    assert (towards_a.priority, towards_c.priority) == ("A", "C")
    assert towards_a.reasons[1].startswith(
        "recent 'WELL BEING CHECK' calls at district=MISSION: A in ")
    assert "smoothed against 50% for the type" in towards_a.reasons[1]


def test_backoff_is_smoothed_towards_the_types_own_shares() -> None:
    model = PriorityModel(LEVELS, backoff_alpha=5.0)
    for _ in range(20):
        model.learn_one(CallFacts("ASSAULT", "", (("district", "BAYVIEW"),)), "A")
    model.learn_one(CallFacts("ASSAULT", "", (("district", "PARK"),)), "C")

    x = model._x(CallFacts("ASSAULT", "", (("district", "PARK"),)))

    # One C at PARK against 20 A elsewhere: (1 + 5 * 1.33/22) / 6 for C.
    assert x["backoff:district=PARK=C"] == pytest.approx((1 + 5 * (1 + 1 / 3) / 22) / 6)
    assert x["backoff:district=PARK=A"] > x["backoff:district=PARK=C"]


def test_without_backoff_no_backoff_features_or_reasons() -> None:
    model = _trained()

    guess = model.predict_one(CallFacts("SHOTS FIRED", "", PLACES, hour=22))

    assert not any(name.startswith("backoff:") for name in model._x(
        CallFacts("SHOTS FIRED", "", PLACES, hour=22)))
    assert not any(reason.startswith("recent ") for reason in guess.reasons)
    assert model.backoff == {}


def test_backoff_snapshot_round_trips_and_old_snapshots_restore() -> None:
    model = PriorityModel(LEVELS, backoff_alpha=5.0, backoff_keep=0.9)
    for facts, final in _calls(20):
        model.learn_one(facts, final)
    restored = PriorityModel.restore(json.loads(json.dumps(model.snapshot())))
    probe = CallFacts("SHOTS FIRED", "", PLACES, 3)

    assert restored.predict_one(probe) == model.predict_one(probe)
    assert restored.snapshot() == model.snapshot()

    old = _trained(10).snapshot()
    for key in ("backoff_alpha", "backoff_keep", "backoff"):
        del old[key]
    assert PriorityModel.restore(old).backoff_alpha is None


@pytest.mark.parametrize(("alpha", "keep"), [(0.0, 0.99), (5.0, 0.0), (5.0, 1.5)])
def test_backoff_settings_out_of_range_are_refused(alpha: float, keep: float) -> None:
    with pytest.raises(ValueError, match="back-off"):
        PriorityModel(LEVELS, backoff_alpha=alpha, backoff_keep=keep)
