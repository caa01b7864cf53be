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

from collections.abc import Iterable, Set
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


class SentLog:
    """When each incident last changed, by event time, oldest first: what lets
    the record of alerts sent be forgotten once no change can come any more.

    An incident is forgotten ``keep_ms`` of event time after its last change,
    as seen by this log's clock (the newest event time it was told of). Keep it
    at least as long as dedupe remembers report ids (``seen_ttl_s``): later, no
    report can reach the incident again, not even a redelivered one.

    >>> log = SentLog(keep_ms=100)
    >>> log.touch("I-1", 0); log.touch("I-2", 50); log.touch("I-1", 120)
    >>> log.expired()
    []
    >>> log.touch("I-3", 160)
    >>> log.expired(), len(log)
    (['I-2'], 2)
    """

    def __init__(self, keep_ms: int):
        self.keep_ms = keep_ms
        self.clock_ms = 0
        # incident id -> event ms of its last change; insertion order is touch
        # order, so the front holds the longest-quiet incident.
        self._last: dict[str, int] = {}

    @classmethod
    def restored(cls, keep_ms: int, entries: Iterable[tuple[str, int]]) -> SentLog:
        """A log rebuilt from (incident id, last event ms) pairs in any order:
        what a worker does with a table its changelog brought back."""
        log = cls(keep_ms)
        for incident_id, last_ms in sorted(entries, key=lambda e: (e[1], e[0])):
            log.touch(incident_id, last_ms)
        return log

    def __len__(self) -> int:
        return len(self._last)

    def touch(self, incident_id: str, event_ms: int) -> None:
        last = max(event_ms, self._last.pop(incident_id, event_ms))
        self._last[incident_id] = last
        self.clock_ms = max(self.clock_ms, last)

    def expired(self) -> list[str]:
        """Incidents quiet for ``keep_ms`` or more, removed from the log."""
        horizon = self.clock_ms - self.keep_ms
        gone = []
        for incident_id, last in self._last.items():
            if last >= horizon:
                break
            gone.append(incident_id)
        for incident_id in gone:
            del self._last[incident_id]
        return gone
