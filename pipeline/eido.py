"""An incident as EIDO-style JSON, from its changes on the board.

NENA's Emergency Incident Data Object (EIDO, NENA-STA-021) describes an
incident with components: the incident itself, the calls (here: reports, from
any channel), locations, persons, notes, and the relations between incidents
and calls (merge, link). This export follows those concepts and their names
for what the pipeline knows; it is not a validated EIDO document. Reporters
appear only as keyed hashes, never as numbers or handles.

>>> change = {"incident_id": "I-1", "change": "new", "report_id": "sms:77",
...           "raw_ref": "reports.raw.sms:0:5", "kind": "collision",
...           "kinds": ["collision"], "lat": 40.1, "lon": -75.3, "area": "X",
...           "first_ms": 0, "last_ms": 0, "report_count": 1, "texts": ["crash"],
...           "channel": "sms", "reporter": "rp:ab", "report_event_ms": 0,
...           "priority": 2, "priority_reasons": ["kind collision"]}
>>> eido = to_eido([change])
>>> eido["incidentComponent"]["incidentTrackingIdentifier"]
'I-1'
>>> eido["callComponent"][0]["callType"], eido["personComponent"][0]["personId"]
('sms', 'rp:ab')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pipeline.schema import MERGED, REPEAT

EIDO_STYLE = "intake EIDO-style export 1 (NENA-STA-021 concepts)"


def iso(ms: int | float | None) -> str | None:
    """UTC epoch milliseconds as ISO 8601 with offset, or None."""
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(
            timespec="seconds")
    except (OverflowError, OSError, ValueError):
        # Year 10000 and beyond (a report's "9999-12-31" west of UTC): no ISO
        # time; the export goes on without it.
        return None


def to_eido(changes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One incident's board changes (oldest first) as one EIDO-style object.

    The newest change gives the incident's state; every change that brought a
    report (not a repeat) gives a call, its location, reporter and notes; a
    merge gives the merge relation with its reasons and confidence; an
    operator's split takes the call out again and links the two incidents; two
    identities linked as one person are one person with both.
    """
    history = [c for c in changes if c.get("change") != REPEAT] or list(changes)
    if not history:
        raise ValueError("an incident needs at least one change")
    last = history[-1]
    incident_id = last["incident_id"]
    calls: dict[str, dict[str, Any]] = {}
    persons: dict[str, dict[str, Any]] = {}
    locations: list[dict[str, Any]] = []
    merges: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for change in history:
        report_id = change["report_id"]
        split = change.get("split")
        if split:
            # An operator's split, or dedupe's move: the report left
            # (``from``) or came into this incident (``into``); either way the
            # two incidents are linked (a held post came from none).
            out = split["from"] == incident_id
            if split["from"]:
                links.append({
                    "linkedIncidentIdentifier": split["into"] if out else split["from"],
                    "linkRelationship": "splitInto" if out else "splitFrom",
                    "callIdentifier": split["report_id"],
                    "linkedBy": split.get("by", ""),
                    "reasons": [split.get("reason", "")],
                })
            if out:
                calls.pop(report_id, None)
                locations = [place for place in locations
                             if place["locationId"] != f"{report_id}#location"]
                merges = [m for m in merges if m["mergedCallIdentifier"] != report_id]
                for person in persons.values():
                    person["callReferences"] = [
                        c for c in person["callReferences"] if c != report_id]
                continue
        location_id = f"{report_id}#location"
        calls[report_id] = {
            "callIdentifier": report_id,
            "callType": change.get("channel", ""),
            "callStartTimeStamp": iso(change.get("report_event_ms")
                                      or change.get("first_ms")),
            "locationReference": location_id,
            "personReference": change.get("reporter") or None,
            "sourceReference": change.get("raw_ref", ""),
        }
        locations.append({
            "locationId": location_id,
            "civicAddressText": change.get("address", ""),
            "area": change.get("area", ""),
        })
        reporter = change.get("reporter")
        link = change.get("link")
        if reporter and link and link.get("same_as") in persons:
            # One person with two identities (a handle, then a number).
            person = persons[link["same_as"]]
            person.setdefault("otherIdentities", []).append(
                {"personId": reporter, "reasons": list(link.get("reasons", ()))})
            persons[reporter] = person
        if reporter:
            person = persons.setdefault(reporter, {
                "personId": reporter, "personRole": "reporter",
                "callReferences": []})
            person["callReferences"].append(report_id)
            if link and link.get("same_as") not in persons:
                # The caller's post is in another incident: the identity is
                # named, with the reasons, though none of its posts is here
                # (yet: one that moves here later is this person's).
                person.setdefault("otherIdentities", []).append(
                    {"personId": link["same_as"],
                     "reasons": list(link.get("reasons", ()))})
                persons[link["same_as"]] = person
        if change.get("change") == MERGED and change.get("merge"):
            merge = change["merge"]
            merges.append({
                "mergedCallIdentifier": report_id,
                "intoIncidentIdentifier": incident_id,
                "reasons": list(merge.get("reasons", ())),
                "confidence": merge.get("confidence"),
            })
    point = None
    if last.get("lat") is not None and last.get("lon") is not None:
        point = {"type": "Point", "coordinates": [last["lon"], last["lat"]]}
    return {
        "eidoMessageIdentifier": f"{incident_id}@{last.get('board_ms', 0)}",
        "eidoStyle": EIDO_STYLE,
        "lastUpdateTimeStamp": iso(last.get("board_ms") or last.get("last_ms")),
        "incidentComponent": {
            "incidentTrackingIdentifier": incident_id,
            "incidentTypeCommonRegistryText": last["kind"],
            "incidentTypes": list(last.get("kinds", ())),
            "incidentCommonPriorityNumber": last.get("priority"),
            "priorityReasons": list(last.get("priority_reasons", ())),
            "firstReportTimeStamp": iso(last.get("first_ms")),
            "lastReportTimeStamp": iso(last.get("last_ms")),
            "reportCount": last.get("report_count", len(calls)),
            "locationReference": f"{incident_id}#location",
        },
        "callComponent": list(calls.values()),
        "locationComponent": [
            {"locationId": f"{incident_id}#location", "locationByValue": point,
             "area": last.get("area", "")},
            *locations,
        ],
        "personComponent": [p for p in {id(p): p for p in persons.values()}.values()
                            if p["callReferences"]],
        "notesComponent": [{"noteText": text} for text in last.get("texts", ())],
        "mergeComponent": merges,
        "linkComponent": links,
        "emergencyResourceComponent": [
            {"unitIdentifier": unit.get("unit_id"),
             "recommendationReasons": list(unit.get("reasons", ()))}
            for unit in last.get("units", ())
        ],
    }
