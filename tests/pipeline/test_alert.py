"""alert: which incidents page whom, once per incident and rule."""

from __future__ import annotations

import pytest

from agents.resources import Models
from pipeline.alert import AlertRules, alert_id_for


def fired_ids(rules: AlertRules, kind: str, priority: int, area: str = "NORRISTOWN",
              sent: frozenset[str] = frozenset()) -> list[str]:
    return [f.rule_id for f in rules.evaluate("I-1", kind, priority, area, sent)[0]]


def test_real_rules_by_kind_and_priority(models: Models) -> None:
    rules = models.alerts

    assert fired_ids(rules, "structure_fire", 2) == ["fire-response"]
    assert fired_ids(rules, "structure_fire", 3) == []
    assert fired_ids(rules, "collision", 2) == ["serious-collision"]
    assert fired_ids(rules, "shooting", 1) == ["life-threat", "violence"]
    assert fired_ids(rules, "burglary", 1) == ["life-threat"]
    assert fired_ids(rules, "burglary", 2) == []
    assert fired_ids(rules, "cardiac_arrest", 2) == ["medical-urgent"]


def test_firing_carries_recipients_and_reasons(models: Models) -> None:
    fired, suppressed = models.alerts.evaluate("I-9", "assault", 2, "AMBLER", set())

    assert suppressed == ()
    assert [f.rule_id for f in fired] == ["violence"]
    assert fired[0].recipients == (
        {"role": "dispatcher", "channel": "push"},
        {"role": "patrol_sergeant", "channel": "push"},
        {"role": "partner_agency", "channel": "webhook"},
    )
    assert fired[0].reasons == (
        "kind assault in rule violence", "priority 2 <= 2", "area AMBLER")


def test_one_alert_per_incident_and_rule(models: Models) -> None:
    sent: set[str] = set()
    first, _ = models.alerts.evaluate("I-1", "shooting", 1, "NORRISTOWN", sent)
    sent.update(f.rule_id for f in first)

    again, suppressed = models.alerts.evaluate("I-1", "shooting", 1, "NORRISTOWN",
                                               sent)

    assert again == []
    assert suppressed == ("life-threat", "violence")


def test_suppression_is_per_rule(models: Models) -> None:
    fired, suppressed = models.alerts.evaluate(
        "I-1", "shooting", 1, "NORRISTOWN", {"violence"})

    assert [f.rule_id for f in fired] == ["life-threat"]
    assert suppressed == ("violence",)


def test_rules_filter_by_area() -> None:
    rules = AlertRules.from_config({"rules": [
        {"id": "downtown", "kinds": ["*"], "max_priority": 3,
         "areas": ["NORRISTOWN"], "recipients": [{"role": "chief", "channel": "sms"}]},
        {"id": "everywhere", "max_priority": 1,
         "recipients": [{"role": "dispatcher", "channel": "push"}]},
    ]})

    assert fired_ids(rules, "fire", 3, "NORRISTOWN") == ["downtown"]
    assert fired_ids(rules, "fire", 3, "AMBLER") == []
    assert fired_ids(rules, "fire", 1, "AMBLER") == ["everywhere"]


def test_rule_ids_must_be_unique() -> None:
    rule = {"id": "dup", "max_priority": 2, "recipients": []}

    with pytest.raises(ValueError, match="unique"):
        AlertRules.from_config({"rules": [rule, dict(rule)]})


def test_real_rule_ids_are_unique(models: Models) -> None:
    ids = [r.rule_id for r in models.alerts.rules]

    assert len(ids) == len(set(ids)) == 7


def test_alert_id_names_incident_and_rule() -> None:
    assert alert_id_for("I-1", "violence") == "I-1/violence"
    assert alert_id_for("I-1", "violence") != alert_id_for("I-2", "violence")
