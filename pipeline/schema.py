"""The messages that flow between stages: reports, incidents, dead letters, alerts.

Every message is a frozen dataclass that turns into a plain ``dict`` (for orjson)
and back. Times travel as UTC epoch milliseconds (names end in ``_ms``); ids are
strings end to end. See ``docs/schema.md`` for the field-by-field description.

>>> r = Report(report_id="r1", source="json", channel="app", event_ms=0,
...            received_ms=5, kind="fire", type_text="FIRE", discipline="Fire")
>>> Report.from_dict(r.to_dict()) == r
True
>>> r.event_time.isoformat()
'1970-01-01T00:00:00+00:00'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

# Where a report's place came from. Only KNOWN carries a usable point.
LOCATION_KNOWN = "known"
LOCATION_UNKNOWN = "unknown"

# What one report did to an incident (IncidentChange.change). UPDATED: a newer
# version of a report already in the incident (the source's update time).
# SPLIT: an operator took a report out of the incident (``pipeline/dedupe.py``).
NEW, MERGED, REPEAT, UPDATED = "new", "merged", "repeat", "updated"
SPLIT = "split"
#: Who moves a report that gave no place to the incident where its reporter's
#: later fix put them (``split["by"]`` of the two changes; pipeline/dedupe.py).
MOVED_BY = "dedupe"


@cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _from_dict(cls: type, data: dict[str, Any], tuples: tuple[str, ...] = ()) -> Any:
    """Build ``cls`` from a dict, ignoring keys a newer producer may have added.

    JSON gives lists where the dataclass holds tuples: ``tuples`` names them.
    """
    names = _names(cls)
    kwargs = {k: v for k, v in data.items() if k in names}
    for name in tuples:
        if name in kwargs:
            kwargs[name] = tuple(kwargs[name])
    return cls(**kwargs)


def _to_dict(record: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, one level deep (no recursive copy)."""
    record_type: type = type(record)
    return {name: getattr(record, name) for name in _names(record_type)}


@dataclass(frozen=True, slots=True)
class Report:
    """One report of something happening, from any channel, normalized."""

    report_id: str
    source: str
    channel: str
    event_ms: int
    received_ms: int
    kind: str
    type_text: str
    discipline: str = ""
    text: str = ""
    lat: float | None = None
    lon: float | None = None
    location: str = LOCATION_UNKNOWN
    accuracy_m: float | None = None
    address: str = ""
    area: str = ""
    reporter: str = ""
    raw_ref: str = ""
    flags: tuple[str, ...] = ()
    #: The source's own update time of this record (0: the source has none);
    #: of two versions of one report id, the newer one wins.
    version_ms: int = 0
    #: Language of the text (social posts, when the channel says).
    language: str = ""
    #: References to photos, video or audio sent with the report.
    media: tuple[str, ...] = ()
    #: Channel facts with no field of their own (alarm zone and status,
    #: gunshot rounds, SMS part numbers, post place name), JSON values only.
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def event_time(self) -> datetime:
        return datetime.fromtimestamp(self.event_ms / 1000, tz=UTC)

    @property
    def has_point(self) -> bool:
        return self.location == LOCATION_KNOWN and self.lat is not None

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        report: Report = _from_dict(cls, data, ("flags", "media"))
        return report


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A raw message the pipeline could not turn into a report, and why."""

    reason: str
    detail: str
    topic: str
    partition: int
    offset: int
    original_b64: str
    at_ms: int
    raw_ref: str = ""
    #: Length of the original; longer than the kept bytes when it was cut.
    original_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeadLetter:
        letter: DeadLetter = _from_dict(cls, data)
        return letter


@dataclass(frozen=True, slots=True)
class Merge:
    """Why a report joined an existing incident."""

    reasons: tuple[str, ...]
    confidence: float
    #: None when the report or the incident has no point (matched by a street
    #: or a town, or as the reporter's follow-up).
    distance_m: float | None
    gap_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "reasons": list(self.reasons),
            "confidence": self.confidence,
            "distance_m": self.distance_m,
            "gap_s": self.gap_s,
        }


@dataclass(frozen=True, slots=True)
class UnitPick:
    """A unit recommended for an incident, with the reasons it was chosen."""

    unit_id: str
    distance_m: float
    reasons: tuple[str, ...]
    #: The response-plan slot the unit fills (one slot per unit).
    capability: str = ""
    #: How old the unit's position fix was when it was picked.
    fix_age_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Units of one capability an incident's response plan lacks, and why."""

    capability: str
    missing: int
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"capability": self.capability, "missing": self.missing,
                "reasons": list(self.reasons)}


_CHANGE_TUPLES = ("kinds", "report_ids", "texts", "priority_reasons", "units",
                  "route_shortfall", "alerts", "alerts_suppressed",
                  "alerts_updated", "alerts_collapsed")


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """The state of one incident after one report changed it.

    ``change`` is ``new`` (the report opened the incident), ``merged`` (it joined
    an open one), ``updated`` (a newer version of a report it holds),
    ``repeat`` (the same report again: nothing changed) or ``split`` (an
    operator took the report out: ``split`` says into which incident, by whom
    and why; the report's own new incident comes as ``new`` with ``split``
    naming where it came from). Later
    stages fill ``priority``, ``units`` and ``alerts``. ``report_ids`` holds the
    most recent reports only; ``report_count`` counts them all.
    """

    incident_id: str
    change: str
    report_id: str
    raw_ref: str
    received_ms: int
    kind: str
    kinds: tuple[str, ...]
    lat: float | None
    lon: float | None
    area: str
    first_ms: int
    last_ms: int
    report_count: int
    report_ids: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    merge: dict[str, Any] | None = None
    #: The report that made this change: its channel, reporter (keyed hash),
    #: address and event time.
    channel: str = ""
    reporter: str = ""
    address: str = ""
    report_event_ms: int = 0
    #: For ``split`` and the ``new`` incident a split made: report_id, from,
    #: into, by, reason.
    split: dict[str, Any] | None = None
    #: Where dedupe matched it (``region_key``): where commands for it go.
    region: str = ""
    #: The reporter of this change taken for the same person as an earlier
    #: reporter of the incident on another channel: reporter, same_as, reasons.
    link: dict[str, Any] | None = None
    #: Reports from distinct reporters (a report without one counts alone):
    #: one person texting three times is one witness. 0: not known (older
    #: changes), read as ``report_count``.
    witnesses: int = 0
    priority: int | None = None
    priority_reasons: tuple[str, ...] = ()
    units: tuple[dict[str, Any], ...] = ()
    route_shortfall: tuple[str, ...] = ()
    alerts: tuple[str, ...] = ()
    alerts_suppressed: tuple[str, ...] = ()
    board_ms: int = 0
    #: Rules whose alert this change updated, or would have but for the
    #: update interval (collapsed: sent later as one update).
    alerts_updated: tuple[str, ...] = ()
    alerts_collapsed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IncidentChange:
        change: IncidentChange = _from_dict(cls, data, _CHANGE_TUPLES)
        return change


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: an incident fired a rule; it goes to each recipient listed."""

    alert_id: str
    incident_id: str
    rule_id: str
    priority: int
    kind: str
    area: str
    recipients: tuple[dict[str, str], ...]
    reasons: tuple[str, ...]
    at_ms: int
    #: The raw message whose report made the incident fire the rule.
    raw_ref: str = ""
    #: ``alert`` (first sent), ``update`` (of the same alert_id) or
    #: ``escalation`` (nobody acknowledged in time; ``recipients`` are the
    #: rule's escalate_to).
    action: str = "alert"
    revision: int = 0
    #: Why an update was sent ("priority raised 2 -> 1", "units assigned").
    changed: tuple[str, ...] = ()
    #: The units recommended for the incident when the alert went out: a
    #: recipient of role ``units`` is each of them (``pipeline/delivery.py``).
    unit_ids: tuple[str, ...] = ()
    #: A surge alert's window, count and expected range
    #: (``pipeline/surge_alert.py``); None for an incident's alert.
    surge: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, slots=True)
class UnitStatus:
    """A unit's position fix and availability, as the fleet reports it."""

    unit_id: str
    status: str
    capabilities: tuple[str, ...]
    lat: float
    lon: float
    fix_ms: int
    staffing: int = 2
    home: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    #: When the status last changed (0: the feed gives none; ``fix_ms`` then
    #: stands for it). A status older than the one held changes nothing.
    status_ms: int = 0
    #: What the unit is (``patrol car``, ``ALS ambulance``, ``ladder truck``).
    unit_type: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["capabilities"] = list(self.capabilities)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitStatus:
        unit: UnitStatus = _from_dict(cls, data, ("capabilities",))
        return unit
