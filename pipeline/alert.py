"""Alert rules: which incidents page whom, once per incident and rule.

>>> rules = AlertRules.from_config({"rules": [{"id": "fire", "kinds": ["fire"],
...     "max_priority": 2, "areas": ["*"],
...     "recipients": [{"role": "dispatcher", "channel": "push"}]}]})
>>> sent = set()
>>> fired, suppressed = rules.evaluate("I-1", "fire", 2, "NORRISTOWN", sent)
>>> [a.rule_id for a in fired], suppressed
(['fire'], ())
>>> sent.add("fire")
>>> rules.evaluate("I-1", "fire", 1, "NORRISTOWN", sent)[1]
('fire',)
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Any

ANY = "*"


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    kinds: frozenset[str]
    max_priority: int
    areas: frozenset[str]
    recipients: tuple[dict[str, str], ...]

    def matches(self, kind: str, priority: int, area: str) -> bool:
        return (
            priority <= self.max_priority
            and (ANY in self.kinds or kind in self.kinds)
            and (ANY in self.areas or area in self.areas)
        )


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule an incident fired, and why."""

    rule_id: str
    recipients: tuple[dict[str, str], ...]
    reasons: tuple[str, ...]


class AlertRules:
    def __init__(self, rules: list[Rule]):
        ids = [r.rule_id for r in rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"alert rule ids must be unique: {ids}")
        self.rules = rules

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AlertRules:
        return cls([
            Rule(
                rule_id=str(spec["id"]),
                kinds=frozenset(spec.get("kinds", [ANY])),
                max_priority=int(spec["max_priority"]),
                areas=frozenset(spec.get("areas", [ANY])),
                recipients=tuple(dict(r) for r in spec["recipients"]),
            )
            for spec in config["rules"]
        ])

    def evaluate(self, incident_id: str, kind: str, priority: int, area: str,
                 already_sent: Set[str]) -> tuple[list[Firing], tuple[str, ...]]:
        """Rules newly fired by an incident, and those suppressed as repeats."""
        fired, suppressed = [], []
        for rule in self.rules:
            if not rule.matches(kind, priority, area):
                continue
            if rule.rule_id in already_sent:
                suppressed.append(rule.rule_id)
                continue
            fired.append(Firing(rule.rule_id, rule.recipients, (
                f"kind {kind} in rule {rule.rule_id}",
                f"priority {priority} <= {rule.max_priority}",
                f"area {area}",
            )))
        return fired, tuple(suppressed)


def alert_id_for(incident_id: str, rule_id: str) -> str:
    """One id per incident and rule, so a repeat is recognisable downstream."""
    return f"{incident_id}/{rule_id}"
