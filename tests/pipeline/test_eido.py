"""An incident exported as EIDO-style JSON, built from real matcher output."""

from __future__ import annotations

from typing import Any

import orjson

from agents.resources import Models
from pipeline.dedupe import IncidentMatcher
from pipeline.eido import to_eido
from pipeline.normalize import normalize
from pipeline.regions import Region
from pipeline.schema import Report

CALLER = "+12155550123"


def report(models: Models, report_id: str, minute: int, channel: str,
           reporter: str, text: str) -> Report:
    raw = orjson.dumps({
        "report_id": report_id, "time": f"2016-01-23T12:{minute:02d}:00-05:00",
        "type": "vehicle accident", "text": text, "channel": channel,
        "reporter": reporter, "address": "DEKALB PIKE & W MAIN ST",
        "location": {"lat": 40.1213, "lon": -75.3431, "accuracy_m": 20},
    })
    received_ms = 1_453_568_400_000 + (minute + 1) * 60_000  # a minute later
    result = normalize(raw, "json", received_ms, models.normalize,
                       raw_ref=f"r:0:{minute}")
    assert isinstance(result, Report)
    return result


def test_an_incident_of_two_reports_exports_calls_persons_and_the_merge(
        models: Models) -> None:
    matcher, cell = IncidentMatcher(models.kinds, models.match), Region()
    first = matcher.apply(cell, report(models, "a1", 0, "911", CALLER,
                                       "two cars, one on its roof"))
    second = matcher.apply(cell, report(models, "a2", 3, "sms", CALLER,
                                        "driver not moving"))
    repeat = matcher.apply(cell, report(models, "a2", 3, "sms", CALLER,
                                        "driver not moving"))
    eido = to_eido([c.to_dict() for c in (first, second, repeat)])

    incident = eido["incidentComponent"]
    assert incident["incidentTrackingIdentifier"] == first.incident_id
    assert incident["reportCount"] == 2
    calls = eido["callComponent"]
    assert [c["callIdentifier"] for c in calls] == ["json:a1", "json:a2"]
    assert [c["callType"] for c in calls] == ["911", "sms"]
    # One caller on two channels: one person, referenced by both calls.
    (person,) = eido["personComponent"]
    assert person["callReferences"] == ["json:a1", "json:a2"]
    assert {c["personReference"] for c in calls} == {person["personId"]}
    (merge,) = eido["mergeComponent"]
    assert merge["mergedCallIdentifier"] == "json:a2"
    assert merge["reasons"] and 0 < merge["confidence"] <= 1
    point = eido["locationComponent"][0]["locationByValue"]
    assert point == {"type": "Point", "coordinates": [-75.3431, 40.1213]}
    assert incident["firstReportTimeStamp"] == "2016-01-23T17:00:00+00:00"
    # The caller's number appears nowhere, in any form.
    text = orjson.dumps(eido).decode()
    assert CALLER not in text and "2155550123" not in text


def test_a_split_takes_the_call_out_and_links_both_incidents(
        models: Models) -> None:
    matcher, region = IncidentMatcher(models.kinds, models.match), Region("r:json")
    first = matcher.apply(region, report(models, "a1", 0, "911", CALLER, "crash"))
    second = matcher.apply(region, report(models, "a2", 3, "sms", "+12155550999",
                                          "another crash"))
    left, alone = matcher.split(region, first.incident_id, "json:a2", "sup 2",
                                "a second crash", at_ms=1_453_568_900_000)

    kept = to_eido([c.to_dict() for c in (first, second, left)])
    assert [c["callIdentifier"] for c in kept["callComponent"]] == ["json:a1"]
    assert kept["mergeComponent"] == []
    assert kept["linkComponent"] == [{
        "linkedIncidentIdentifier": alone.incident_id, "linkRelationship": "splitInto",
        "callIdentifier": "json:a2", "linkedBy": "sup 2",
        "reasons": ["a second crash"]}]
    assert kept["incidentComponent"]["reportCount"] == 1

    new = to_eido([alone.to_dict()])
    (link,) = new["linkComponent"]
    assert (link["linkedIncidentIdentifier"], link["linkRelationship"]) == (
        first.incident_id, "splitFrom")
    assert [c["callIdentifier"] for c in new["callComponent"]] == ["json:a2"]


def test_two_identities_linked_as_one_person_are_one_person() -> None:
    changes: list[dict[str, Any]] = [
        {"incident_id": "I-1", "change": "new", "report_id": "c1", "kind": "collision",
         "reporter": "rp:phone", "channel": "911"},
        {"incident_id": "I-1", "change": "merged", "report_id": "p1",
         "kind": "collision", "reporter": "rp:handle", "channel": "social",
         "merge": {"reasons": ["r"], "confidence": 0.5},
         "link": {"reporter": "rp:handle", "same_as": "rp:phone",
                  "reasons": ["both say blue pickup"]}},
    ]
    (person,) = to_eido(changes)["personComponent"]
    assert person["personId"] == "rp:phone"
    assert person["callReferences"] == ["c1", "p1"]
    assert person["otherIdentities"] == [
        {"personId": "rp:handle", "reasons": ["both say blue pickup"]}]


def test_a_caller_linked_to_a_post_in_another_incident_names_that_identity(
        ) -> None:
    changes: list[dict[str, Any]] = [
        {"incident_id": "I-2", "change": "new", "report_id": "c1",
         "kind": "collision", "reporter": "rp:phone", "channel": "911",
         "link": {"reporter": "rp:phone", "same_as": "rp:handle",
                  "reasons": ["both say blue pickup",
                              "social then 911, the post in another incident"]}},
    ]
    (person,) = to_eido(changes)["personComponent"]
    assert (person["personId"], person["callReferences"]) == ("rp:phone", ["c1"])
    assert person["otherIdentities"] == [
        {"personId": "rp:handle", "reasons": [
            "both say blue pickup", "social then 911, the post in another incident"]}]


def test_a_report_dated_year_9999_west_of_utc_exports_without_its_time(
        models: Models) -> None:
    raw = orjson.dumps({
        "report_id": "y9999", "time": "9999-12-31T23:59:59-05:00",
        "type": "vehicle accident", "text": "crash", "channel": "911",
        "location": {"lat": 40.1213, "lon": -75.3431, "accuracy_m": 20},
    })
    result = normalize(raw, "json", 1_453_568_400_000, models.normalize,
                       raw_ref="r:0:1")
    assert isinstance(result, Report) and "time_in_future" in result.flags
    change = IncidentMatcher(models.kinds, models.match).apply(Region(), result)

    eido = to_eido([change.to_dict()])

    assert eido["incidentComponent"]["incidentTrackingIdentifier"] == \
        change.incident_id
    assert eido["incidentComponent"]["firstReportTimeStamp"] is None


def test_a_moved_report_is_a_call_of_the_incident_it_moved_to_only() -> None:
    moved = {"report_id": "c1", "from": "I-1", "into": "I-2", "by": "dedupe",
             "reason": "its reporter's fix in t1 (sms) puts it here"}
    held = {"report_id": "p1", "from": "", "into": "I-2", "by": "dedupe",
            "reason": "its author is the caller of t1"}
    left = to_eido([
        {"incident_id": "I-1", "change": "new", "report_id": "c1", "kind": "fall",
         "reporter": "rp:1", "channel": "911"},
        {"incident_id": "I-1", "change": "split", "report_id": "c1", "kind": "fall",
         "report_count": 0, "split": moved}])
    assert left["callComponent"] == []
    assert [place["locationId"] for place in left["locationComponent"]] == [
        "I-1#location"]
    assert [(k["linkedIncidentIdentifier"], k["linkRelationship"], k["linkedBy"])
            for k in left["linkComponent"]] == [("I-2", "splitInto", "dedupe")]
    assert left["incidentComponent"]["reportCount"] == 0
    joined = to_eido([
        {"incident_id": "I-2", "change": "new", "report_id": "t1", "kind": "collision",
         "reporter": "rp:1", "channel": "sms",
         "link": {"reporter": "rp:1", "same_as": "rp:h", "reasons": ["both say x"]}},
        {"incident_id": "I-2", "change": "merged", "report_id": "c1",
         "kind": "collision", "reporter": "rp:1", "channel": "911", "split": moved},
        {"incident_id": "I-2", "change": "merged", "report_id": "p1",
         "kind": "collision", "reporter": "rp:h", "channel": "social", "split": held}])
    assert [c["callIdentifier"] for c in joined["callComponent"]] == ["t1", "c1", "p1"]
    # The held post came from no incident: no link to one.
    assert [(k["linkedIncidentIdentifier"], k["linkRelationship"])
            for k in joined["linkComponent"]] == [("I-1", "splitFrom")]
    # The post's author is the texter: one person, who came with the post.
    (person,) = joined["personComponent"]
    assert person["personId"] == "rp:1"
    assert person["callReferences"] == ["t1", "c1", "p1"]
    assert [other["personId"] for other in person["otherIdentities"]] == ["rp:h"]
