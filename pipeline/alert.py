"""Alert rules: which incidents page whom, once per incident and rule.

A rule names incident kinds, the least urgent priority it pages for (1 is the
most urgent), areas by name, districts by polygon (``pipeline/districts.py``),
hours of the day in the source's local time (a window may cross midnight), its
recipients by role and channel, and whom to page when nobody acknowledges it.

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
from datetime import datetime
from typing import Any

from pipeline.delivery import RateLimit
from pipeline.districts import Districts
from pipeline.localtime import EventClock, zone

ANY = "*"
CHANNELS = frozenset({"push", "sms", "email", "webhook"})
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Hours:
    """Minutes of the local day a rule is on: [start, end), across midnight when
    end comes before start.

    >>> night = Hours.parse("22:00", "06:00")
    >>> night.holds(23 * 60), night.holds(5 * 60 + 59), night.holds(6 * 60)
    (True, True, False)
    >>> Hours.parse("08:00", "18:00").holds(12 * 60)
    True
    """

    start_min: int
    end_min: int

    @classmethod
    def parse(cls, start: str, end: str) -> Hours:
        return cls(_minute_of(start), _minute_of(end))

    def holds(self, minute_of_day: int) -> bool:
        if self.start_min == self.end_min:
            return True  # a whole day
        if self.start_min < self.end_min:
            return self.start_min <= minute_of_day < self.end_min
        return minute_of_day >= self.start_min or minute_of_day < self.end_min

    def __str__(self) -> str:
        return (f"{self.start_min // 60:02d}:{self.start_min % 60:02d}-"
                f"{self.end_min // 60:02d}:{self.end_min % 60:02d}")


def _minute_of(text: str) -> int:
    """Minutes past midnight of "HH:MM" (24:00 is the end of the day).

    >>> _minute_of("22:30"), _minute_of("24:00")
    (1350, 0)
    >>> _minute_of("12:75")
    Traceback (most recent call last):
    ...
    ValueError: not a time of day: '12:75'
    """
    hours, _, minutes = str(text).partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"not a time of day: {text!r}")
    minute = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or not 0 <= minute <= MINUTES_PER_DAY:
        raise ValueError(f"not a time of day: {text!r}")
    return minute % MINUTES_PER_DAY


def local_minute(event_ms: int, zone_name: str, received_ms: int | None = None
                 ) -> int:
    """Minute of the local day at ``event_ms`` in ``zone_name``; at
    ``received_ms`` when no calendar holds the event time (a source's "no
    date", year 1, or year 9999 pushed past 10000 by its zone), so such a
    report still alerts, by the time it came.

    >>> local_minute(1453568400000, "America/New_York")  # 12:00 EST
    720
    >>> local_minute(-62135596800000, "America/New_York",  # 0001-01-01
    ...              received_ms=1453568400000)
    720
    """
    for at_ms in (event_ms, received_ms):
        if at_ms is None:
            continue
        try:
            local = datetime.fromtimestamp(at_ms / 1000, tz=zone(zone_name))
        except (OverflowError, OSError, ValueError):
            continue
        return local.hour * 60 + local.minute
    raise ValueError(f"no calendar holds {event_ms} ms nor {received_ms} ms")


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    kinds: frozenset[str]
    max_priority: int
    areas: frozenset[str]
    recipients: tuple[dict[str, str], ...]
    #: Polygon districts; empty: any place, with a point or without.
    districts: frozenset[str] = frozenset()
    hours: Hours | None = None
    #: Seconds a recipient has to acknowledge before ``escalate_to`` is paged
    #: (0: the rule never escalates).
    ack_within_s: float = 0.0
    escalate_to: tuple[dict[str, str], ...] = ()

    def matches(self, kind: str, priority: int, area: str,
                in_districts: Set[str] = frozenset(),
                minute_of_day: int | None = None) -> bool:
        if self.districts and not self.districts & in_districts:
            return False  # without a point, no district holds the incident
        if self.hours is not None and minute_of_day is not None \
                and not self.hours.holds(minute_of_day):
            return False
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


def _recipients(specs: Iterable[dict[str, Any]], rule_id: str
                ) -> tuple[dict[str, str], ...]:
    recipients = tuple({k: str(v) for k, v in r.items()} for r in specs)
    for r in recipients:
        if r.get("channel") not in CHANNELS:
            raise ValueError(f"rule {rule_id}: channel {r.get('channel')!r} is not "
                             f"one of {sorted(CHANNELS)}")
        if not r.get("role"):
            raise ValueError(f"rule {rule_id}: a recipient needs a role")
    return recipients


class AlertRules:
    def __init__(self, rules: list[Rule], districts: Districts | None = None,
                 update_interval_s: float = 60.0, zone_name: str = "UTC",
                 rate_limit: RateLimit | None = None):
        ids = [r.rule_id for r in rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"alert rule ids must be unique: {ids}")
        self.rules = rules
        self.districts = districts or Districts({})
        for rule in rules:
            unknown = sorted(d for d in rule.districts if d not in self.districts)
            if unknown:
                raise ValueError(f"rule {rule.rule_id} names unknown districts "
                                 f"{unknown}")
        #: At most one update of an alert per this many seconds.
        self.update_interval_s = update_interval_s
        #: The zone of hours when the incident's source has none.
        self.zone_name = zone_name
        #: Deliveries per recipient and window (``pipeline/delivery.py``).
        self.rate_limit = rate_limit or RateLimit.from_config(None)
        self.by_id = {r.rule_id: r for r in rules}

    @classmethod
    def from_config(cls, config: dict[str, Any],
                    districts: Districts | None = None) -> AlertRules:
        rules = []
        for spec in config["rules"]:
            rule_id = str(spec["id"])
            hours = spec.get("hours")
            rules.append(Rule(
                rule_id=rule_id,
                kinds=frozenset(spec.get("kinds", [ANY])),
                max_priority=int(spec["max_priority"]),
                areas=frozenset(spec.get("areas", [ANY])),
                recipients=_recipients(spec["recipients"], rule_id),
                districts=frozenset(spec.get("districts", ())),
                hours=Hours.parse(hours["from"], hours["to"]) if hours else None,
                ack_within_s=float(spec.get("ack_within_s", 0)),
                escalate_to=_recipients(spec.get("escalate_to", ()), rule_id),
            ))
        zone_name = str(config.get("zone", "UTC"))
        zone(zone_name)  # an unknown zone fails at load, not on the first alert
        return cls(rules, districts,
                   update_interval_s=float(config.get("update_interval_s", 60)),
                   zone_name=zone_name,
                   rate_limit=RateLimit.from_config(config.get("rate_limit")))

    def evaluate(self, incident_id: str, kind: str, priority: int, area: str,
                 already_sent: Set[str], *, lat: float | None = None,
                 lon: float | None = None, minute_of_day: int | None = None,
                 ) -> tuple[list[Firing], tuple[str, ...]]:
        """Rules newly fired by an incident, and those suppressed as repeats.

        ``minute_of_day`` is the local time of the change (None: rules with
        hours are not held back by them).
        """
        in_districts = self.districts.containing(lat, lon)
        fired, suppressed = [], []
        for rule in self.rules:
            if not rule.matches(kind, priority, area, in_districts, minute_of_day):
                continue
            if rule.rule_id in already_sent:
                suppressed.append(rule.rule_id)
                continue
            reasons = [
                f"kind {kind} in rule {rule.rule_id}",
                f"priority {priority} <= {rule.max_priority}",
                f"area {area}",
            ]
            if rule.districts:
                inside = sorted(rule.districts & in_districts)
                reasons.append(f"inside district {', '.join(inside)}")
            if rule.hours is not None and minute_of_day is not None:
                reasons.append(f"local time within {rule.hours}")
            fired.append(Firing(rule.rule_id, rule.recipients, tuple(reasons)))
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
        #: One incident dated hours ahead moves it no further than
        #: ``EventClock`` lets it (it would close every other at once).
        self.clock = EventClock()
        # incident id -> event ms of its last change; insertion order is touch
        # order, so the front holds the longest-quiet incident.
        self._last: dict[str, int] = {}

    @classmethod
    def restored(cls, keep_ms: int, entries: Iterable[tuple[str, int]]) -> SentLog:
        """A log rebuilt from (incident id, last event ms) pairs in any order:
        what a worker does with a table its changelog brought back."""
        log = cls(keep_ms)
        for incident_id, last_ms in sorted(entries, key=lambda e: (e[1], e[0])):
            # Times the log filed before: no leap to doubt (``EventClock``).
            log._last[incident_id] = last_ms
            log.clock.ms = max(log.clock.ms, last_ms)
        return log

    def __len__(self) -> int:
        return len(self._last)

    @property
    def clock_ms(self) -> int:
        return self.clock.ms

    def touch(self, incident_id: str, event_ms: int, timely: bool = True) -> None:
        """``incident_id`` changed at ``event_ms``; ``timely`` False: its time
        is not to be trusted (``pipeline.regions.timely``), filed at most at
        the clock's, which it never moves."""
        filed = self.clock.see(event_ms) if timely else min(event_ms,
                                                             self.clock.ms)
        self._last[incident_id] = max(filed, self._last.pop(incident_id, filed))

    def expired(self) -> list[str]:
        """Incidents quiet for ``keep_ms`` or more, removed from the log."""
        horizon = self.clock.ms - self.keep_ms
        gone = []
        for incident_id, last in self._last.items():
            if last >= horizon:
                break
            gone.append(incident_id)
        for incident_id in gone:
            del self._last[incident_id]
        return gone

    def trim(self, limit: int) -> list[str]:
        """The longest-quiet incidents beyond ``limit``, removed from the log:
        a bound on memory when event time stands still.

        >>> log = SentLog(keep_ms=100)
        >>> log.touch("I-1", 0); log.touch("I-2", 5); log.touch("I-3", 7)
        >>> log.trim(2), len(log)
        (['I-1'], 2)
        """
        excess = len(self._last) - limit
        if excess <= 0:
            return []
        gone = [incident_id for incident_id, _ in zip(self._last, range(excess),
                                                      strict=False)]
        for incident_id in gone:
            del self._last[incident_id]
        return gone
