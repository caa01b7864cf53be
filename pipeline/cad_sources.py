"""Row parsers of recorded CAD / 911 logs, and the generic JSON call record.

Each CAD parser takes one row, keyed by the columns its source published, and
returns a ``Report`` or raises ``Invalid`` (``docs/formats.md``, ``cad``).
``CAD_SOURCES`` maps a ``source`` name of the CAD envelope to its parser;
``from_call`` reads the ``call`` format.

>>> from pipeline.fields import SourceArea
>>> from pipeline.geo import Box
>>> from pipeline.kinds import KindTable
>>> kinds = KindTable.from_config({"kinds": {
...     "shooting": {"match": ["SHOTS FIRED"], "priority": 1, "needs": "police"},
...     "other": {"match": [], "priority": 4, "needs": "police"}}})
>>> mke = SourceArea("America/Chicago", Box(42.84, -88.15, 43.24, -87.80))
>>> config = NormalizeConfig(kinds, {"milwaukee_wi": mke})
>>> row = {"id": "1211500", "time": "2018-05-01 01:12:40",
...        "location": "3500 N 12TH ST,MKE", "latitude": "43.0818",
...        "longitude": "-87.9262", "district": "5", "nature": "SHOTS FIRED",
...        "status": "Advised"}
>>> report = from_milwaukee(row, 1525155160000, config, "")
>>> report.report_id, report.kind, report.area, report.event_ms
('milwaukee_wi:1211500', 'shooting', 'MKE District 5', 1525155160000)
>>> report.details
{'status': 'Advised'}
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from pipeline import fields as fl
from pipeline.fields import Invalid, NormalizeConfig, reporter_token
from pipeline.localtime import local_to_utc_ms
from pipeline.schema import Report

#: How both San Francisco data sets write a local time.
SF_TIME = "%m/%d/%Y %I:%M:%S %p"
_SF_FIRE_POINT = re.compile(r"^\(\s*(\S+?)\s*,\s*(\S+?)\s*\)$")
_SF_POLICE_POINT = re.compile(r"^POINT\s*\(\s*(\S+)\s+(\S+)\s*\)$")

_MKE_KEEP = ("status",)
_SF_FIRE_TIMES = (
    "Received DtTm", "Entry DtTm", "Dispatch DtTm", "Response DtTm",
    "On Scene DtTm", "Transport DtTm", "Hospital DtTm", "Available DtTm",
)
_SF_FIRE_KEEP = (
    "Incident Number", "Call Type Group", "Original Priority", "Priority",
    "Final Priority", "Call Final Disposition", "Number of Alarms", "Battalion",
    "Station Area", "Box", "Unit ID", "Unit Type", "Unit sequence in call dispatch",
    "ALS Unit",
)
_SF_POLICE_KEEP = (
    "call_type_original", "call_type_final", "call_type_final_desc",
    "priority_original", "priority_final", "disposition", "dup_cad_number",
    "pd_incident_report", "agency", "onview_flag", "sensitive_call",
    "police_district",
)


class RowParser(Protocol):
    def __call__(self, row: dict[str, Any], received_ms: int,
                 config: NormalizeConfig, raw_ref: str) -> Report: ...


def _column(row: dict[str, Any], column: str, code: str,
            required: bool = False) -> str:
    """A column's text, stripped; reason codes name it by ``code``."""
    try:
        value = fl.text(row, column).strip()
    except Invalid as exc:
        raise Invalid(f"wrong_type_{code}", exc.detail) from exc
    if required and not value:
        raise Invalid(f"missing_{code}", f"column {column!r} is required")
    return value


def _local_ms(stamp: str, zone: str, fmt: str = "%Y-%m-%d %H:%M:%S"
              ) -> tuple[int, tuple[str, ...]]:
    try:
        return local_to_utc_ms(stamp, zone, fmt)
    except (ValueError, OverflowError) as exc:
        raise Invalid("bad_time", str(exc)[:200]) from exc


def _details(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """The source's own status, priority and disposition columns, as published."""
    kept = {}
    for column in columns:
        value = row.get(column)
        if isinstance(value, str) and value.strip():
            kept[column] = value.strip()
    return kept


def _point(text: str, pattern: re.Pattern[str]) -> tuple[str, str]:
    """The two numbers of a point written as text; unreadable text is 'bad'."""
    if not text:
        return "", ""
    found = pattern.match(text)
    return (found.group(1), found.group(2)) if found else ("bad", "bad")


def from_milwaukee(row: dict[str, Any], received_ms: int, config: NormalizeConfig,
                   raw_ref: str) -> Report:
    """A Milwaukee Police call for service (America/Chicago wall-clock times)."""
    area = fl.source_area(config, "milwaukee_wi")
    call_id = _column(row, "id", "id", required=True)
    event_ms, time_flags = _local_ms(_column(row, "time", "time", True), area.zone)
    nature = _column(row, "nature", "nature", required=True)

    lat, lon, location, place_flags = fl.place(
        row.get("latitude"), row.get("longitude"), area)
    # District numbers repeat across cities; the prefix keeps the area unique.
    district = _column(row, "district", "district")
    if district.isdigit():
        district = f"District {district}"
    return Report(
        report_id=f"milwaukee_wi:{call_id}",
        source="milwaukee_wi",
        channel="911",
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(nature),
        type_text=nature,
        discipline="Police",
        lat=lat,
        lon=lon,
        location=location,
        address=_column(row, "location", "location"),
        area=f"MKE {district}" if district else "UNKNOWN",
        raw_ref=raw_ref,
        flags=time_flags + place_flags + fl.time_flags(event_ms, received_ms, config),
        details=_details(row, _MKE_KEEP),
    )


def from_sf_fire(row: dict[str, Any], received_ms: int, config: NormalizeConfig,
                 raw_ref: str) -> Report:
    """One unit row of a San Francisco Fire Department call.

    Every unit row of a call is a version of one report (the call number); the
    row's latest time stamp is its version, so the newest row wins.
    """
    area = fl.source_area(config, "sf_fire")
    call_number = _column(row, "Call Number", "call_number", required=True)
    received = _column(row, "Received DtTm", "received_dttm", required=True)
    event_ms, time_flags = _local_ms(received, area.zone, SF_TIME)
    call_type = _column(row, "Call Type", "call_type", required=True)

    # A later stamp that does not parse only loses its say in the version.
    version_ms = event_ms
    for column in _SF_FIRE_TIMES[1:]:
        stamp = row.get(column)
        if isinstance(stamp, str) and stamp.strip():
            try:
                version_ms = max(version_ms, local_to_utc_ms(stamp, area.zone,
                                                             SF_TIME)[0])
            except ValueError:
                continue

    lat_text, lon_text = _point(_column(row, "Location", "location"),
                                _SF_FIRE_POINT)
    lat, lon, location, place_flags = fl.place(lat_text, lon_text, area)
    neighbourhood = (_column(row, "Neighborhood  District", "neighborhood")
                     or _column(row, "Neighborhood District", "neighborhood"))
    return Report(
        report_id=f"sf_fire:{call_number}",
        source="sf_fire",
        channel="911",
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(call_type),
        type_text=call_type,
        discipline="EMS" if call_type == "Medical Incident" else "Fire",
        lat=lat,
        lon=lon,
        location=location,
        address=_column(row, "Address", "address"),
        area=neighbourhood or "UNKNOWN",
        raw_ref=raw_ref,
        flags=time_flags + place_flags + fl.time_flags(event_ms, received_ms, config),
        version_ms=version_ms,
        details=_details(row, _SF_FIRE_KEEP),
    )


def from_sf_police(row: dict[str, Any], received_ms: int, config: NormalizeConfig,
                   raw_ref: str) -> Report:
    """One SFPD dispatched call; the call-taker's original type decides the kind."""
    area = fl.source_area(config, "sf_police")
    cad_number = _column(row, "cad_number", "cad_number", required=True)
    received = _column(row, "received_datetime", "received_datetime", True)
    event_ms, time_flags = _local_ms(received, area.zone, SF_TIME)
    call_type = (_column(row, "call_type_original_desc", "call_type")
                 or _column(row, "call_type_final_desc", "call_type")
                 or _column(row, "call_type_original", "call_type")
                 or _column(row, "call_type_final", "call_type", required=True))

    version_ms = 0
    updated = row.get("data_updated_at")
    if isinstance(updated, str) and updated.strip():
        try:
            version_ms = local_to_utc_ms(updated, area.zone, SF_TIME)[0]
        except ValueError:
            version_ms = 0

    # Sensitive calls come with every location column blank: location unknown.
    lon_text, lat_text = _point(
        _column(row, "intersection_point", "intersection_point"), _SF_POLICE_POINT)
    lat, lon, location, place_flags = fl.place(lat_text, lon_text, area)
    return Report(
        report_id=f"sf_police:{cad_number}",
        source="sf_police",
        channel="911",
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(call_type),
        type_text=call_type,
        discipline="Police",
        lat=lat,
        lon=lon,
        location=location,
        address=_column(row, "intersection_name", "intersection_name"),
        area=(_column(row, "analysis_neighborhood", "analysis_neighborhood")
              or "UNKNOWN"),
        raw_ref=raw_ref,
        flags=time_flags + place_flags + fl.time_flags(event_ms, received_ms, config),
        version_ms=version_ms,
        details=_details(row, _SF_POLICE_KEEP),
    )


_SEATTLE_KEEP = (
    "CAD CDW ID", "General Offense Number", "Event Clearance Code",
    "Event Clearance Description", "Event Clearance Group", "Event Clearance Date",
    "Initial Type Group", "Zone/Beat",
)


def from_seattle(row: dict[str, Any], received_ms: int, config: NormalizeConfig,
                 raw_ref: str) -> Report:
    """One Seattle PD 911 incident response; the initial call type decides the kind.

    The export has no call time: the event time is the first unit's arrival
    (``At Scene Time``, flagged ``time_at_scene``) or, without one, the
    clearance (``time_at_clearance``); both come after the call.
    """
    area = fl.source_area(config, "seattle_wa")
    number = _column(row, "CAD Event Number", "cad_event_number", required=True)
    at_scene = _column(row, "At Scene Time", "at_scene_time")
    cleared = _column(row, "Event Clearance Date", "event_clearance_date")
    if not at_scene and not cleared:
        raise Invalid("missing_time", "neither At Scene Time nor Event Clearance Date")
    event_ms, time_flags = _local_ms(at_scene or cleared, area.zone, SF_TIME)
    time_flags += ("time_at_scene",) if at_scene else ("time_at_clearance",)
    call_type = (_column(row, "Initial Type Description", "initial_type")
                 or _column(row, "Event Clearance Description", "initial_type",
                            required=True))
    lat, lon, location, place_flags = fl.place(row.get("Latitude"),
                                               row.get("Longitude"), area)
    sector = _column(row, "District/Sector", "district_sector")
    return Report(
        report_id=f"seattle_wa:{number}",
        source="seattle_wa",
        channel="911",
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(call_type),
        type_text=call_type,
        discipline="Police",
        lat=lat,
        lon=lon,
        location=location,
        address=_column(row, "Hundred Block Location", "hundred_block_location"),
        area=f"SEA Sector {sector}" if sector else "UNKNOWN",
        raw_ref=raw_ref,
        flags=time_flags + place_flags + fl.time_flags(event_ms, received_ms, config),
        details=_details(row, _SEATTLE_KEEP),
    )


#: CAD envelope ``source`` -> row parser (besides ``montgomery_pa``).
CAD_SOURCES: dict[str, RowParser] = {
    "milwaukee_wi": from_milwaukee,
    "sf_fire": from_sf_fire,
    "sf_police": from_sf_police,
    "seattle_wa": from_seattle,
}


def from_call(payload: dict[str, Any], received_ms: int, config: NormalizeConfig,
              raw_ref: str) -> Report:
    """A generic JSON 911 call record (format ``call``)."""
    source = fl.text(payload, "source") or "json"
    area = fl.source_area(config, source)
    call_id = fl.identifier(payload, "call_id")
    type_text = fl.text(payload, "type")
    text = fl.text(payload, "text")
    if fl.blank(type_text) and fl.blank(text):
        raise Invalid("missing_type", "a call needs a 'type' or a 'text'")
    event_ms, time_flags = fl.event_time(payload, area)
    lat, lon, location, accuracy, place_flags = fl.fix(payload, "location", area)
    method = fl.text(fl.mapping(payload, "location"), "method")
    caller = fl.text(payload, "caller_number")
    return Report(
        report_id=f"{source}:{call_id}",
        source=source,
        channel="911",
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(type_text or text),
        type_text=type_text,
        text=text,
        lat=lat,
        lon=lon,
        location=location,
        accuracy_m=accuracy,
        address=fl.text(payload, "address"),
        area=fl.text(payload, "area") or fl.grid_area(lat, lon),
        reporter=reporter_token(caller, config.reporter_key) if caller else "",
        raw_ref=raw_ref,
        flags=time_flags + place_flags + fl.time_flags(event_ms, received_ms, config),
        details={"location_method": method[:40]} if method else {},
    )
