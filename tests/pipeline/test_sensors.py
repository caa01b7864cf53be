"""sensors: alarm-company events and gunshot detections into Reports, or Invalid."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.resources import Models
from pipeline.fields import Invalid, reporter_token
from pipeline.schema import LOCATION_KNOWN, LOCATION_UNKNOWN, Report
from pipeline.sensors import PARSERS, from_alarm, from_gunshot

EVENT_MS = int(datetime(2016, 1, 23, 12, tzinfo=UTC).timestamp() * 1000)
RECEIVED_MS = EVENT_MS + 5_000
CALLBACK = "+1 610 555 0100"


def alarm(**fields: Any) -> dict[str, Any]:
    """A valid alarm event; a field given as ``...`` is left out."""
    payload: dict[str, Any] = {
        "event_id": "4471-2231",
        "company": "Keystone Alarm",
        "time": "2016-01-23T12:00:00Z",
        "alarm_type": "fire",
        "zone": 12,
        "zone_description": "2nd floor corridor smoke head",
        "premises": {"street": "1200 DEKALB PIKE", "city": "NORRISTOWN",
                     "state": "PA", "postal_code": "19401"},
        "location": {"lat": 40.131, "lon": -75.336},
        "permit": "AP-2016-0192",
        "callback": CALLBACK,
        "notes": "keyholder en route",
    }
    payload.update(fields)
    return {k: v for k, v in payload.items() if v is not ...}


def gunshot(**fields: Any) -> dict[str, Any]:
    """A valid gunshot detection; a field given as ``...`` is left out."""
    payload: dict[str, Any] = {
        "detection_id": "GS-88121",
        "time": "2016-01-23T12:00:00Z",
        "location": {"lat": 40.1152, "lon": -75.3446, "accuracy_m": 25},
        "rounds": 4,
        "vendor": "acme-acoustic",
        "classification": "multiple gunshots",
    }
    payload.update(fields)
    return {k: v for k, v in payload.items() if v is not ...}


def run_alarm(models: Models, payload: dict[str, Any]) -> Report:
    return from_alarm(payload, RECEIVED_MS, models.normalize, "sensor.alarm:0:3")


def run_gunshot(models: Models, payload: dict[str, Any]) -> Report:
    return from_gunshot(payload, RECEIVED_MS, models.normalize, "sensor.gun:0:9")


def test_parsers_are_registered_by_format_name() -> None:
    assert sorted(PARSERS) == ["alarm", "gunshot"]
    assert (PARSERS["alarm"], PARSERS["gunshot"]) == (from_alarm, from_gunshot)


# --- alarm events ---------------------------------------------------------------


def test_alarm_event_fields(models: Models) -> None:
    report = run_alarm(models, alarm())

    assert report.report_id == "json:alarm:Keystone Alarm:4471-2231"
    assert (report.source, report.channel) == ("json", "sensor")
    assert (report.type_text, report.kind) == ("FIRE ALARM", "fire_alarm")
    assert report.event_ms == EVENT_MS
    assert report.version_ms == EVENT_MS
    assert report.address == "1200 DEKALB PIKE, NORRISTOWN, PA 19401"
    assert (report.lat, report.lon, report.location) == (40.131, -75.336,
                                                         LOCATION_KNOWN)
    assert report.text == "keyholder en route"
    assert report.raw_ref == "sensor.alarm:0:3"
    assert report.details == {
        "alarm_type": "fire", "status": "new", "company": "Keystone Alarm",
        "zone": "12", "zone_description": "2nd floor corridor smoke head",
        "permit": "AP-2016-0192",
    }
    assert report.flags == ()


def test_alarm_callback_number_is_only_a_reporter_token(models: Models) -> None:
    report = run_alarm(models, alarm())

    assert report.reporter == reporter_token(CALLBACK, models.normalize.reporter_key)
    assert CALLBACK not in orjson.dumps(report.to_dict()).decode()


def test_alarm_optional_fields_may_be_left_out(models: Models) -> None:
    payload = alarm(zone=..., zone_description=..., permit=..., callback=...,
                    notes=..., location=...,
                    premises={"street": "12 MAIN ST", "city": "NORRISTOWN"})
    report = run_alarm(models, payload)

    assert report.address == "12 MAIN ST, NORRISTOWN"
    assert report.location == LOCATION_UNKNOWN
    assert (report.lat, report.lon, report.area) == (None, None, "UNKNOWN")
    assert report.flags == ("location_missing",)
    assert (report.reporter, report.text) == ("", "")
    assert set(report.details) == {"alarm_type", "status", "company"}


@pytest.mark.parametrize(
    "event_id",
    [12345678901234567890123, "12345678901234567890123", "000123", 7],
)
def test_alarm_event_id_keeps_every_digit(models: Models, event_id: Any) -> None:
    report = run_alarm(models, alarm(event_id=event_id))

    assert report.report_id == f"json:alarm:Keystone Alarm:{event_id}"


def test_alarm_id_that_a_json_reader_made_a_float_is_rejected(models: Models) -> None:
    # orjson reads an integer past 64 bits as a float, digits already lost.
    raw = orjson.dumps(alarm(event_id="ID")).replace(b'"ID"',
                                                     b"12345678901234567890123")
    with pytest.raises(Invalid) as caught:
        run_alarm(models, orjson.loads(raw))

    assert caught.value.reason == "wrong_type_event_id"


@pytest.mark.parametrize(
    ("alarm_type", "type_text", "kind"),
    [
        ("fire", "FIRE ALARM", "fire_alarm"),
        ("smoke", "FIRE ALARM - SMOKE DETECTOR", "fire_alarm"),
        ("Smoke/Heat", "FIRE ALARM - SMOKE DETECTOR", "fire_alarm"),
        ("heat", "FIRE ALARM - HEAT DETECTOR", "fire_alarm"),
        ("waterflow", "FIRE ALARM - SPRINKLER WATERFLOW", "fire_alarm"),
        ("carbon monoxide", "CARBON MONOXIDE ALARM", "hazmat"),
        ("CO", "CARBON MONOXIDE ALARM", "hazmat"),
        ("gas", "GAS LEAK ALARM", "hazmat"),
        ("medical", "MEDICAL ALARM", "medical"),
    ],
)
def test_alarm_types_map_to_kinds(models: Models, alarm_type: str, type_text: str,
                                  kind: str) -> None:
    report = run_alarm(models, alarm(alarm_type=alarm_type))

    assert (report.type_text, report.kind) == (type_text, kind)
    assert "alarm_type_unknown" not in report.flags




@pytest.mark.parametrize(
    ("alarm_type", "canonical", "type_text"),
    [
        pytest.param("burglary", "burglary", "BURGLAR ALARM"),
        pytest.param("intrusion", "burglary", "BURGLAR ALARM"),
        pytest.param("Hold-Up", "holdup", "HOLD-UP ALARM"),
        pytest.param("panic", "panic", "PANIC ALARM"),
        pytest.param("duress", "panic", "PANIC ALARM"),
    ],
)
def test_police_alarm_types_get_a_kind_of_their_own(
    models: Models, alarm_type: str, canonical: str, type_text: str
) -> None:
    report = run_alarm(models, alarm(alarm_type=alarm_type))

    assert (report.details["alarm_type"], report.type_text) == (canonical, type_text)
    assert report.kind not in {"service", "other"}


def test_unknown_alarm_type_is_kept_and_flagged(models: Models) -> None:
    report = run_alarm(models, alarm(alarm_type="flood"))

    assert report.type_text == "flood ALARM"
    assert report.details["alarm_type"] == "flood"
    assert report.flags == ("alarm_type_unknown",)


def test_update_and_cancel_are_versions_of_one_report(models: Models) -> None:
    new = run_alarm(models, alarm())
    update = run_alarm(models, alarm(status="update",
                                     updated="2016-01-23T12:03:00Z",
                                     notes="second zone in alarm"))
    cancel = run_alarm(models, alarm(status="Cancelled",
                                     updated="2016-01-23T12:05:30Z",
                                     notes="keyholder: burnt toast"))

    assert new.report_id == update.report_id == cancel.report_id
    assert new.event_ms == update.event_ms == cancel.event_ms == EVENT_MS
    assert new.version_ms < update.version_ms < cancel.version_ms
    assert cancel.version_ms == EVENT_MS + 330_000
    assert [r.details["status"] for r in (new, update, cancel)] == [
        "new", "update", "cancel"]
    assert (cancel.kind, cancel.text) == ("fire_alarm", "keyholder: burnt toast")


def test_verified_alarm_is_a_version_too(models: Models) -> None:
    report = run_alarm(models, alarm(status="verified",
                                     updated="2016-01-23T07:01:00-05:00"))

    assert report.details["status"] == "verified"
    assert report.version_ms == EVENT_MS + 60_000


def test_unknown_status_is_kept_and_flagged(models: Models) -> None:
    report = run_alarm(models, alarm(status="escalated",
                                     updated="2016-01-23T12:01:00Z"))

    assert report.details["status"] == "escalated"
    assert "status_unknown" in report.flags


def test_unknown_status_without_update_time_is_still_an_alarm(
    models: Models,
) -> None:
    report = run_alarm(models, alarm(status="dispatch requested"))

    assert report.version_ms == EVENT_MS
    assert report.flags == ("status_unknown",)


def test_update_stamped_before_the_event_is_flagged(models: Models) -> None:
    report = run_alarm(models, alarm(status="update",
                                     updated="2016-01-23T11:59:00Z"))

    assert report.version_ms == EVENT_MS - 60_000
    assert "updated_before_time" in report.flags


def test_alarm_naive_time_is_local_to_the_source(models: Models) -> None:
    payload = alarm(source="montgomery_pa", time="2016-01-23T07:00:00")
    report = run_alarm(models, payload)

    assert report.event_ms == EVENT_MS
    assert report.report_id.startswith("montgomery_pa:alarm:")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"event_id": ...}, "missing_event_id"),
        ({"event_id": ""}, "missing_event_id"),
        ({"event_id": ["4471"]}, "wrong_type_event_id"),
        ({"event_id": True}, "wrong_type_event_id"),
        ({"event_id": 4471.5}, "wrong_type_event_id"),
        ({"company": ...}, "missing_company"),
        ({"company": {"name": "x"}}, "wrong_type_company"),
        ({"alarm_type": ...}, "missing_alarm_type"),
        ({"alarm_type": ["fire"]}, "wrong_type_alarm_type"),
        ({"time": ...}, "missing_time"),
        ({"time": "tuesday noon"}, "bad_time"),
        ({"time": 1453550400}, "bad_time"),
        ({"time": "2016-02-30T12:00:00Z"}, "bad_time"),
        ({"status": "update"}, "missing_updated"),
        ({"status": "CANCEL", "updated": ""}, "missing_updated"),
        ({"status": "cancel", "updated": ["x"]}, "wrong_type_updated"),
        ({"status": "cancel", "updated": "soon"}, "bad_time"),
        # It would win over every later version, the real cancel included.
        ({"status": "update", "updated": "9999-01-01T00:00:00Z"},
         "updated_in_future"),
        ({"status": ["cancel"]}, "wrong_type_status"),
        ({"premises": ...}, "missing_premises"),
        ({"premises": "1200 DEKALB PIKE"}, "wrong_type_premises"),
        ({"premises": {"city": "NORRISTOWN"}}, "missing_street"),
        ({"premises": {"street": "12 MAIN ST"}}, "missing_city"),
        ({"premises": {"street": "1 A ST", "city": "B", "state": ["PA"]}},
         "wrong_type_state"),
        ({"location": [40.1, -75.3]}, "wrong_type_location"),
        ({"zone": {"number": 3}}, "wrong_type_zone"),
        ({"callback": {"phone": "555"}}, "wrong_type_callback"),
        ({"notes": float("nan")}, "wrong_type_notes"),
        ({"source": "atlantis_pd"}, "unknown_source"),
    ],
)
def test_alarm_rejections(models: Models, changes: dict[str, Any], reason: str
                          ) -> None:
    with pytest.raises(Invalid) as caught:
        run_alarm(models, alarm(**changes))

    assert caught.value.reason == reason
    assert caught.value.detail


# --- gunshot detections ---------------------------------------------------------


def test_gunshot_detection_fields(models: Models) -> None:
    report = run_gunshot(models, gunshot())

    assert report.report_id == "json:gunshot:GS-88121"
    assert (report.source, report.channel) == ("json", "sensor")
    assert (report.type_text, report.kind) == ("SHOTS FIRED - MULTIPLE", "shooting")
    assert report.event_ms == EVENT_MS
    assert (report.lat, report.lon, report.accuracy_m) == (40.1152, -75.3446, 25.0)
    assert report.area == "grid:401:-754"
    assert report.details == {"rounds": 4, "vendor": "acme-acoustic",
                              "classification": "multiple_gunshots"}
    assert report.flags == ()
    assert report.version_ms == 0


def test_gunshot_optional_fields_may_be_left_out(models: Models) -> None:
    report = run_gunshot(models, gunshot(rounds=..., vendor=..., classification=...))

    assert (report.type_text, report.kind) == ("SHOTS FIRED", "shooting")
    assert report.details == {}


@pytest.mark.parametrize(
    ("classification", "canonical", "kind"),
    [
        ("single gunshot", "single_gunshot", "shooting"),
        ("Multiple-Gunshots", "multiple_gunshots", "shooting"),
        ("automatic gunfire", "automatic_gunfire", "shooting"),
        ("possible gunshot", "possible_gunshot", "shooting"),
        ("probable firework", "probable_firework", "disturbance"),
        ("fireworks", "probable_firework", "disturbance"),
    ],
)
def test_gunshot_classification_decides_the_kind(
    models: Models, classification: str, canonical: str, kind: str
) -> None:
    report = run_gunshot(models, gunshot(classification=classification))

    assert (report.details["classification"], report.kind) == (canonical, kind)


def test_unknown_classification_is_kept_flagged_and_taken_for_gunfire(
    models: Models,
) -> None:
    report = run_gunshot(models, gunshot(classification="helicopter"))

    assert (report.type_text, report.kind) == ("SHOTS FIRED", "shooting")
    assert report.details["classification"] == "helicopter"
    assert report.flags == ("classification_unknown",)


@pytest.mark.parametrize(("rounds", "kept"), [(1, 1), (4.0, 4), (1000, 1000)])
def test_whole_rounds_are_kept(models: Models, rounds: Any, kept: int) -> None:
    details = run_gunshot(models, gunshot(rounds=rounds)).details

    assert details["rounds"] == kept
    assert type(details["rounds"]) is int


@pytest.mark.parametrize(
    ("rounds", "reason"),
    [
        (float("nan"), "wrong_type_rounds"),
        (float("inf"), "wrong_type_rounds"),
        (float("-inf"), "wrong_type_rounds"),
        ("3", "wrong_type_rounds"),
        (True, "wrong_type_rounds"),
        ([3], "wrong_type_rounds"),
        (0, "bad_rounds"),
        (-2, "bad_rounds"),
        (2.5, "bad_rounds"),
        (10**6, "bad_rounds"),
        (2**70, "bad_rounds"),
    ],
)
def test_impossible_rounds_are_rejected_never_dropped(
    models: Models, rounds: Any, reason: str
) -> None:
    with pytest.raises(Invalid) as caught:
        run_gunshot(models, gunshot(rounds=rounds))

    assert caught.value.reason == reason
    assert caught.value.detail


@pytest.mark.parametrize(
    ("location", "flag"),
    [
        ({}, "location_missing"),
        ({"lat": 40.1}, "location_missing"),
        ({"lat": 0, "lon": 0}, "location_invalid"),
        ({"lat": 91.0, "lon": -75.3}, "location_invalid"),
        ({"lat": 40.1, "lon": -180.5}, "location_invalid"),
        ({"lat": "NaN", "lon": -75.3}, "location_invalid"),
        ({"lat": "forty", "lon": -75.3}, "location_invalid"),
        ({"lat": 41.5, "lon": -73.9}, "location_outside_area"),
    ],
)
def test_unusable_detection_point_becomes_unknown(
    models: Models, location: dict[str, Any], flag: str
) -> None:
    # Montgomery's box makes "outside the service area" reachable.
    payload = gunshot(source="montgomery_pa",
                      location={**location, "accuracy_m": 25})
    report = run_gunshot(models, payload)

    assert report.location == LOCATION_UNKNOWN
    assert (report.lat, report.lon, report.accuracy_m) == (None, None, None)
    assert flag in report.flags
    assert report.area == "UNKNOWN"


def test_swapped_detection_point_inside_the_box_is_swapped_back(
    models: Models,
) -> None:
    payload = gunshot(source="montgomery_pa",
                      location={"lat": -75.3446, "lon": 40.1152})
    report = run_gunshot(models, payload)

    assert (report.lat, report.lon) == (40.1152, -75.3446)
    assert "location_swapped" in report.flags


def test_impossible_accuracy_is_dropped_and_flagged(models: Models) -> None:
    payload = gunshot(location={"lat": 40.1, "lon": -75.3, "accuracy_m": -5})
    report = run_gunshot(models, payload)

    assert (report.location, report.accuracy_m) == (LOCATION_KNOWN, None)
    assert report.flags == ("accuracy_invalid",)


def test_gunshot_long_numeric_id_keeps_every_digit(models: Models) -> None:
    report = run_gunshot(models, gunshot(detection_id=98765432109876543210987))

    assert report.report_id == "json:gunshot:98765432109876543210987"


def test_gunshot_far_future_time_is_flagged(models: Models) -> None:
    report = run_gunshot(models, gunshot(time="2016-01-25T12:00:00Z"))

    assert "time_in_future" in report.flags


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"detection_id": ...}, "missing_detection_id"),
        ({"detection_id": 1.5}, "wrong_type_detection_id"),
        ({"detection_id": {"id": 1}}, "wrong_type_detection_id"),
        ({"time": ...}, "missing_time"),
        ({"time": "2016-01-23 25:00"}, "bad_time"),
        ({"location": ...}, "missing_location"),
        ({"location": None}, "missing_location"),
        ({"location": "5TH & MAIN"}, "wrong_type_location"),
        ({"vendor": ["a"]}, "wrong_type_vendor"),
        ({"classification": {"label": "gunshot"}}, "wrong_type_classification"),
        ({"source": 7}, "unknown_source"),
    ],
)
def test_gunshot_rejections(models: Models, changes: dict[str, Any], reason: str
                            ) -> None:
    with pytest.raises(Invalid) as caught:
        run_gunshot(models, gunshot(**changes))

    assert caught.value.reason == reason
    assert caught.value.detail


# --- no input makes a sensor parser raise anything but Invalid --------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.parametrize("fmt", ["alarm", "gunshot"])
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parsers_raise_only_invalid(models: Models, fmt: str,
                                    data: st.DataObject) -> None:
    payload = alarm() if fmt == "alarm" else gunshot()
    names = [*payload, "status", "updated", "source"]
    for name in data.draw(st.lists(st.sampled_from(names), unique=True, max_size=3)):
        if data.draw(st.booleans()):
            payload.pop(name, None)
        else:
            payload[name] = data.draw(VALUES)

    try:
        report = PARSERS[fmt](payload, RECEIVED_MS, models.normalize, "")
    except Invalid as exc:
        assert exc.reason
    else:
        assert report.report_id
        assert report.has_point == (report.lat is not None)
        orjson.dumps(report.to_dict())
