"""Sensor channels: alarm-company events and acoustic gunshot detections.

Two formats (``docs/formats.md`` has the field tables and examples):

- ``alarm``: one event of an alarm monitoring company (in the spirit of the
  APCO/CSAA ASAP exchange); later messages about the same event (an update, a
  verification, a cancellation) are newer versions of the same report;
- ``gunshot``: one detection of an acoustic gunshot-sensor network.

Both are channel ``sensor``. A value outside a known list (an alarm type, a
status, a classification) is kept as given and flagged, never rejected: an alarm
nobody here understood is still an alarm. A missing or malformed required field
raises ``Invalid``.

>>> config = NormalizeConfig.example()
>>> alarm = {"event_id": 90017, "company": "Keystone Alarm",
...          "time": "2016-01-23T03:12:40Z", "alarm_type": "smoke",
...          "premises": {"street": "12 MAIN ST", "city": "NORRISTOWN"}}
>>> report = from_alarm(alarm, 0, config, "")
>>> report.report_id, report.type_text
('json:alarm:Keystone Alarm:90017', 'FIRE ALARM - SMOKE DETECTOR')
>>> report.address
'12 MAIN ST, NORRISTOWN'
>>> report.details["status"], report.version_ms == report.event_ms
('new', True)
>>> shot = {"detection_id": "D-7", "time": "2016-01-23T03:12:40Z", "rounds": 3,
...         "location": {"lat": 40.1, "lon": -75.3}}
>>> from_gunshot(shot, 0, config, "").details
{'rounds': 3}
"""

from __future__ import annotations

import math
import re
from typing import Any

from pipeline import fields as fl
from pipeline.fields import Invalid, NormalizeConfig, Parser, SourceArea
from pipeline.localtime import FAR_FUTURE_S
from pipeline.schema import Report

CHANNEL = "sensor"
#: More rounds than this in one detection is a sensor fault, not gunfire.
MAX_ROUNDS = 1000

#: Alarm types and the kind text each one is classified by. The texts are the
#: words dispatchers use, so ``models/incident_types.yaml`` can match them.
ALARM_TYPES: dict[str, str] = {
    "burglary": "BURGLAR ALARM",
    "holdup": "HOLD-UP ALARM",
    "panic": "PANIC ALARM",
    "fire": "FIRE ALARM",
    "smoke": "FIRE ALARM - SMOKE DETECTOR",
    "heat": "FIRE ALARM - HEAT DETECTOR",
    "waterflow": "FIRE ALARM - SPRINKLER WATERFLOW",
    "carbon_monoxide": "CARBON MONOXIDE ALARM",
    "gas": "GAS LEAK ALARM",
    "medical": "MEDICAL ALARM",
}
_ALARM_ALIASES = {
    "burglar": "burglary", "intrusion": "burglary", "hold_up": "holdup",
    "robbery": "holdup", "duress": "panic", "smoke_heat": "smoke",
    "co": "carbon_monoxide", "sprinkler": "waterflow", "medical_alert": "medical",
}
ALARM_STATUSES = frozenset({"new", "update", "verified", "cancel"})
_STATUS_ALIASES = {"updated": "update", "cancelled": "cancel", "canceled": "cancel"}

#: Gunshot classifications and their kind text; none given means "SHOTS FIRED".
GUNSHOT_CLASSES: dict[str, str] = {
    "single_gunshot": "SHOTS FIRED",
    "multiple_gunshots": "SHOTS FIRED - MULTIPLE",
    "automatic_gunfire": "SHOTS FIRED - AUTOMATIC GUNFIRE",
    "probable_gunshot": "SHOTS FIRED - PROBABLE",
    "possible_gunshot": "SHOTS FIRED - POSSIBLE",
    # "NOISE" outranks the shorter "FIRE" inside "FIREWORKS" in the kind table.
    "probable_firework": "FIREWORKS NOISE",
}
_GUNSHOT_ALIASES = {
    "gunshot": "single_gunshot", "multiple_gunshot": "multiple_gunshots",
    "gunshots": "multiple_gunshots", "automatic": "automatic_gunfire",
    "full_automatic": "automatic_gunfire", "firework": "probable_firework",
    "fireworks": "probable_firework", "probable_fireworks": "probable_firework",
}
_NOT_A_WORD = re.compile(r"[^a-z0-9]+")


def from_alarm(payload: dict[str, Any], received_ms: int, config: NormalizeConfig,
               raw_ref: str) -> Report:
    """One alarm-company event, or a newer version of one (update, cancel)."""
    source = fl.text(payload, "source") or "json"
    area = fl.source_area(config, source)
    event_id = fl.identifier(payload, "event_id")
    company = fl.text(payload, "company", required=True)

    alarm_type, type_text, type_flags = _choice(
        payload, "alarm_type", ALARM_TYPES, _ALARM_ALIASES, required=True)
    if type_flags and "ALARM" not in type_text.upper():
        type_text += " ALARM"
    status, status_flags = _status(payload)
    event_ms, time_flags = fl.event_time(payload, area)
    version_ms, version_flags = _version(payload, status, event_ms, area,
                                         received_ms)

    address = _address(payload)
    lat, lon, location, accuracy_m, place_flags = fl.fix(payload, "location", area)
    details: dict[str, Any] = {"alarm_type": alarm_type, "status": status,
                               "company": company}
    for name in ("zone", "zone_description", "permit"):
        value = fl.text(payload, name)
        if value:
            details[name] = value

    callback = fl.text(payload, "callback")
    return Report(
        report_id=f"{source}:alarm:{company}:{event_id}",
        source=source,
        channel=CHANNEL,
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(type_text),
        type_text=type_text,
        text=fl.text(payload, "notes"),
        lat=lat,
        lon=lon,
        location=location,
        accuracy_m=accuracy_m,
        address=address,
        area=fl.grid_area(lat, lon),
        reporter=fl.reporter_token(callback, config.reporter_key) if callback else "",
        raw_ref=raw_ref,
        flags=type_flags + status_flags + time_flags + version_flags + place_flags
        + fl.time_flags(event_ms, received_ms, config),
        version_ms=version_ms,
        details=details,
    )


def from_gunshot(payload: dict[str, Any], received_ms: int, config: NormalizeConfig,
                 raw_ref: str) -> Report:
    """One detection of an acoustic gunshot sensor network."""
    source = fl.text(payload, "source") or "json"
    area = fl.source_area(config, source)
    detection_id = fl.identifier(payload, "detection_id")
    event_ms, time_flags = fl.event_time(payload, area)

    # The point is the detection itself: without the field there is no report,
    # with an unusable one the location is unknown (flagged), never guessed.
    if payload.get("location") is None:
        raise Invalid("missing_location", "a detection needs a 'location'")
    lat, lon, location, accuracy_m, place_flags = fl.fix(payload, "location", area)

    details: dict[str, Any] = {}
    rounds = _rounds(payload.get("rounds"))
    if rounds is not None:
        details["rounds"] = rounds
    vendor = fl.text(payload, "vendor")
    if vendor:
        details["vendor"] = vendor
    classification, type_text, class_flags = _choice(
        payload, "classification", GUNSHOT_CLASSES, _GUNSHOT_ALIASES)
    if classification:
        details["classification"] = classification
    if not classification or class_flags:
        # A gunshot sensor heard something it took for gunfire: treat it so.
        type_text = "SHOTS FIRED"

    return Report(
        report_id=f"{source}:gunshot:{detection_id}",
        source=source,
        channel=CHANNEL,
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(type_text),
        type_text=type_text,
        lat=lat,
        lon=lon,
        location=location,
        accuracy_m=accuracy_m,
        area=fl.grid_area(lat, lon),
        raw_ref=raw_ref,
        flags=class_flags + time_flags + place_flags
        + fl.time_flags(event_ms, received_ms, config),
        details=details,
    )


def _choice(payload: dict[str, Any], name: str, known: dict[str, str],
            aliases: dict[str, str], required: bool = False
            ) -> tuple[str, str, tuple[str, ...]]:
    """A value from a known list: its canonical name, kind text and flags.

    An unknown value is kept as given (it is also the kind text) and flagged
    ``<name>_unknown``; an absent optional one gives empty strings.
    """
    given = fl.text(payload, name, required)
    key = _NOT_A_WORD.sub("_", given.lower()).strip("_")
    key = aliases.get(key, key)
    if key in known:
        return key, known[key], ()
    if not given:
        return "", "", ()
    return given, given, (f"{name}_unknown",)


def _status(payload: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    given = fl.text(payload, "status") or "new"
    key = _NOT_A_WORD.sub("_", given.lower()).strip("_")
    key = _STATUS_ALIASES.get(key, key)
    if key in ALARM_STATUSES:
        return key, ()
    return given, ("status_unknown",)


def _version(payload: dict[str, Any], status: str, event_ms: int,
             area: SourceArea, received_ms: int) -> tuple[int, tuple[str, ...]]:
    """The time of this version of the event: ``updated``, else the event time.

    A known status but ``new`` needs ``updated``: without it a cancellation
    could not be told from the alarm it cancels, and might lose to it. An
    ``updated`` more than ``FAR_FUTURE_S`` after the message was received is
    refused: the newest version wins, so it would win over every later one
    (the real cancellation included).
    """
    if not fl.text(payload, "updated"):
        if status in ALARM_STATUSES and status != "new":
            raise Invalid("missing_updated", f"a {status!r} needs 'updated'")
        return event_ms, ()
    version_ms, flags = fl.event_time(payload, area, "updated")
    if version_ms > received_ms + FAR_FUTURE_S * 1000:
        raise Invalid("updated_in_future",
                      f"'updated' is {(version_ms - received_ms) / 3_600_000:,.1f} h "
                      "after the message was received")
    if version_ms < event_ms:
        flags += ("updated_before_time",)
    return version_ms, flags


def _address(payload: dict[str, Any]) -> str:
    """The premises as one line: ``street, city, state postal_code``."""
    premises = payload.get("premises")
    if premises is None:
        raise Invalid("missing_premises", "an alarm needs a 'premises' address")
    if not isinstance(premises, dict):
        raise Invalid("wrong_type_premises", type(premises).__name__)
    street = fl.text(premises, "street", required=True)
    city = fl.text(premises, "city", required=True)
    state = fl.text(premises, "state")
    postal = fl.text(premises, "postal_code")
    tail = " ".join(part for part in (state, postal) if part)
    return ", ".join(part for part in (street, city, tail) if part)


def _rounds(value: Any) -> int | None:
    """Rounds heard: an integer 1..MAX_ROUNDS, None only when not given."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("wrong_type_rounds", f"'rounds' is {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Invalid("wrong_type_rounds", f"'rounds' is {value!r}")
        if not value.is_integer():
            raise Invalid("bad_rounds", f"'rounds' is {value!r}, not a whole number")
    if not 1 <= value <= MAX_ROUNDS:
        raise Invalid("bad_rounds", f"'rounds' is {value!r}, not 1..{MAX_ROUNDS}")
    return int(value)


#: The sensor formats, by the name a topic gives (``topics.yaml``, key ``format``).
PARSERS: dict[str, Parser] = {"alarm": from_alarm, "gunshot": from_gunshot}
