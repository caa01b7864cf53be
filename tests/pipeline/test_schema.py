"""schema: every message round-trips through a plain dict and orjson."""

from __future__ import annotations

import dataclasses

import orjson

from pipeline.schema import (
    LOCATION_KNOWN,
    Alert,
    DeadLetter,
    IncidentChange,
    Merge,
    Report,
    UnitStatus,
)


def over_the_wire(data: object) -> dict[str, object]:
    loaded: dict[str, object] = orjson.loads(orjson.dumps(data))
    return loaded


REPORT = Report(
    report_id="json:12345678901234567890123", source="json", channel="sms",
    event_ms=1_453_550_400_000, received_ms=1_453_550_405_000, kind="collision",
    type_text="vehicle accident", text="dos coches", lat=40.1, lon=-75.3,
    location=LOCATION_KNOWN, accuracy_m=12.5, area="NORRISTOWN", reporter="rp:ab",
    raw_ref="reports.raw.json:2:17", flags=("text_repaired", "location_swapped"),
)


def test_report_round_trips_through_orjson() -> None:
    restored = Report.from_dict(over_the_wire(REPORT.to_dict()))

    assert restored == REPORT
    assert restored.flags == ("text_repaired", "location_swapped")
    assert restored.report_id == "json:12345678901234567890123"


def test_report_from_dict_ignores_newer_fields() -> None:
    data = {**REPORT.to_dict(), "added_in_v2": True}

    assert Report.from_dict(data) == REPORT


def test_report_time_and_point() -> None:
    assert REPORT.event_time.isoformat() == "2016-01-23T12:00:00+00:00"
    assert REPORT.has_point
    unknown = Report(report_id="r", source="s", channel="web", event_ms=0,
                     received_ms=0, kind="other", type_text="")
    assert not unknown.has_point


def test_incident_change_round_trips_with_tuples() -> None:
    change = IncidentChange(
        incident_id="I-1", change="merged", report_id="r2", raw_ref="t:0:2",
        received_ms=5, kind="collision", kinds=("collision", "vehicle_fire"),
        lat=40.1, lon=-75.3, area="NORRISTOWN", first_ms=1, last_ms=4,
        report_count=2, report_ids=("r1", "r2"), texts=("a", "b"),
        merge=Merge(("distance 10 m <= 150 m",), 0.9, 10.0, 60.0).to_dict(),
        priority=2, priority_reasons=("kind collision: base priority 2",),
        units=({"unit_id": "MED-01", "distance_m": 800.0},),
        route_shortfall=(), alerts=("serious-collision",),
        alerts_suppressed=("life-threat",), board_ms=9,
    )

    restored = IncidentChange.from_dict(over_the_wire(change.to_dict()))

    assert restored == change
    assert isinstance(restored.kinds, tuple)
    assert restored.merge == {"reasons": ["distance 10 m <= 150 m"],
                              "confidence": 0.9, "distance_m": 10.0, "gap_s": 60.0}


def test_unit_status_round_trips() -> None:
    unit = UnitStatus("ENG-01", "available", ("fire", "ems"), 40.1, -75.3, fix_ms=7,
                      extra={"radio": "F1"})

    assert UnitStatus.from_dict(over_the_wire(unit.to_dict())) == unit


def test_dead_letter_round_trips() -> None:
    letter = DeadLetter("malformed_json", "unexpected end", "reports.raw.json", 1, 42,
                        "eyJ0aW1l", at_ms=3, raw_ref="reports.raw.json:1:42")

    assert DeadLetter.from_dict(over_the_wire(letter.to_dict())) == letter


def test_alert_serializes_every_field() -> None:
    alert = Alert("I-1/fire", "I-1", "fire", 2, "structure_fire", "AMBLER",
                  ({"role": "dispatcher", "channel": "push"},), ("kind fire",), 11)

    data = over_the_wire(alert.to_dict())

    assert data["recipients"] == [{"role": "dispatcher", "channel": "push"}]
    assert data["alert_id"] == "I-1/fire"
    assert set(data) == {f.name for f in dataclasses.fields(Alert)}
    assert data["reasons"] == ["kind fire"]
