"""learned_score: the rules' priority, moved by a model of dispatchers' outcomes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.resources import load_models
from agents.settings import ROOT
from pipeline.learned_score import (
    LEARNT,
    LearnedScorer,
    ModelRule,
    pack,
    unpack,
)

MODELS = ROOT / "models"


def scorer(**rule: Any) -> LearnedScorer:
    models = load_models(MODELS)
    return LearnedScorer(models.scorer, ModelRule(**rule),
                         {n: s.zone for n, s in models.normalize.sources.items()})


def change(kind: str, text: str, incident: int, reports: int = 1) -> dict[str, Any]:
    return {"incident_id": f"I-{incident}", "kind": kind, "texts": [text],
            "report_count": reports, "area": "NORRISTOWN",
            "region": "r:montgomery_pa", "first_ms": 1_453_568_400_000 + incident,
            "last_ms": 1_453_568_400_000 + incident}


def teach(learned: LearnedScorer, outcomes: int, final: int = 3) -> Any:
    """A model taught that dispatchers give vehicle fires ``final``."""
    model = learned.new_model()
    for n in range(outcomes):
        _, _, facts = learned.score(change("vehicle_fire", "car on fire", n), model)
        learned.learn(model, facts, final)
    return model


def test_the_rules_decide_until_the_model_has_learnt_enough() -> None:
    learned = scorer(min_outcomes=50, use_gate=False)
    rules_priority, rules_reasons = learned.rules.score(
        "vehicle_fire", ["car on fire"], 1)
    record = change("vehicle_fire", "car on fire", 999)

    priority, reasons, _ = learned.score(record, learned.new_model())
    assert priority == rules_priority
    assert reasons[:-1] == rules_reasons
    assert reasons[-1] == ("model: no dispatcher outcome learnt yet; the rules "
                           "decide")

    few = teach(learned, 20, final=rules_priority + 2)
    priority, reasons, _ = learned.score(record, few)
    assert priority == rules_priority
    assert reasons[-1].startswith(f"model: p({rules_priority + 2})=")
    assert reasons[-1].endswith("from 20 outcomes: no change before 50 outcomes")

    enough = teach(learned, 60, final=rules_priority + 2)
    priority, reasons, _ = learned.score(record, enough)
    # One level at most (max_shift 1), towards what dispatchers chose.
    assert priority == rules_priority + 1
    assert reasons[-1].endswith("from 60 outcomes: +1")


def test_the_gate_holds_changes_back_until_they_have_paid_off() -> None:
    learned = scorer(min_outcomes=5, use_gate=True, min_confidence=0.5)
    model = learned.new_model()
    record = change("vehicle_fire", "car on fire", 999)
    rules_priority = learned.score(record, model)[0]
    # Dispatchers agree with the rules: nothing for a change to win.
    for n in range(30):
        learned.learn(model, learned.score(change("vehicle_fire", "car on fire", n),
                                           model)[2], rules_priority)
    priority, reasons, _ = learned.score(record, model)
    assert priority == rules_priority
    assert reasons[-1].endswith(": agrees")
    assert model.earned_gate() is None


def test_a_repeated_outcome_teaches_nothing_twice() -> None:
    learned = scorer()
    model = learned.new_model()
    _, _, facts = learned.score(change("vehicle_fire", "car on fire", 1), model)
    assert learned.learn(model, facts, 4)
    assert facts[LEARNT] == 4
    assert not learned.learn(model, facts, 4)
    assert model.seen == 1
    assert learned.learn(model, facts, 3)  # the dispatcher changed their mind
    assert model.seen == 2


def test_facts_keep_words_not_dates_and_the_local_hour() -> None:
    learned = scorer()
    record = change("medical", "DIZZINESS CHERRYWOOD CT; Station 329; "
                    "2015-12-10 @ 16:56:52; dizziness", 1, reports=4)
    facts = learned.facts_of(record, 3)
    assert facts[1] == "dizziness cherrywood ct station"
    # 2016-01-23 17:00 UTC is noon in Norristown, a Saturday.
    assert (facts[4], facts[5], facts[6]) == (12, 5, "3+")


def test_a_packed_model_predicts_and_learns_as_the_original() -> None:
    learned = scorer(min_outcomes=10, use_gate=False)
    model = teach(learned, 40)
    copy = unpack(pack(model))
    record = change("vehicle_fire", "car on fire", 999)
    assert learned.score(record, copy)[:2] == learned.score(record, model)[:2]
    for taught in (model, copy):
        learned.learn(taught, learned.score(change("fire", "house fire", 5),
                                            taught)[2], 1)
    assert copy.snapshot() == model.snapshot()


def test_the_rule_file_is_checked_and_unknown_keys_refused(tmp_path: Path) -> None:
    shipped = yaml.safe_load((MODELS / "score_model.yaml").read_text())
    assert ModelRule.from_config(shipped) == ModelRule(**shipped)
    with pytest.raises(ValueError, match="unknown score model settings"):
        ModelRule.from_config({**shipped, "min_outcome": 5})
    with pytest.raises(ValueError, match="min_confidence"):
        ModelRule.from_config({**shipped, "min_confidence": 1.5})
    with pytest.raises(ValueError, match="use_gate must be true or false"):
        ModelRule.from_config({**shipped, "use_gate": "yes"})
    with pytest.raises(ValueError, match="whole number"):
        ModelRule.from_config({**shipped, "max_shift": 1.5})


def test_three_reports_of_one_person_do_not_make_an_incident_more_urgent() -> None:
    learned = scorer()
    model = learned.new_model()
    one_person = {**change("medical_trauma", "fell down", 1, reports=3),
                  "witnesses": 1}
    three_people = {**change("medical_trauma", "fell down", 2, reports=3),
                    "witnesses": 3}

    alone, why_alone, _ = learned.score(one_person, model)
    crowd, why_crowd, _ = learned.score(three_people, model)

    assert "3 reports: -1" in why_crowd and not any("reports:" in w
                                                     for w in why_alone)
    assert crowd == alone - 1

