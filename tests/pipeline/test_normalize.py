"""normalize: raw CAD rows and generic JSON reports into one Report, or a Rejection."""

from __future__ import annotations

import copy
import csv
import gzip
import itertools
import json
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.resources import Models
from benchmarks import malformed
from pipeline.fields import MAX_BYTES
from pipeline.normalize import (
    PARSERS,
    NormalizeConfig,
    Rejection,
    normalize,
    reporter_token,
)
from pipeline.schema import LOCATION_KNOWN, LOCATION_UNKNOWN, Report

# The first row of the shipped Montgomery County log, columns as published.
MONTGOMERY_ROW: dict[str, str] = {
    "lat": "40.2978759",
    "lng": "-75.5812935",
    "desc": "REINDEER CT & DEAD END;  NEW HANOVER; Station 332; "
    "2015-12-10 @ 17:10:52;",
    "zip": "19525",
    "title": "EMS: BACK PAINS/INJURY",
    "timeStamp": "2015-12-10 17:40:00",
    "twp": "NEW HANOVER",
    "addr": "REINDEER CT & DEAD END",
    "e": "1",
}


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
           second: int = 0) -> int:
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return int(moment.timestamp() * 1000)


RECEIVED_MS = utc_ms(2015, 12, 10, 22, 45)
JSON_TIME = "2016-01-23T12:00:00Z"
JSON_TIME_MS = utc_ms(2016, 1, 23, 12)


def cad(row: dict[str, Any], source: str = "montgomery_pa") -> bytes:
    return orjson.dumps({"source": source, "row": row})


def run_cad(models: Models, row: dict[str, Any]) -> Report | Rejection:
    return normalize(cad(row), "cad", RECEIVED_MS, models.normalize, raw_ref="t:0:7")


def json_report(**fields: Any) -> dict[str, Any]:
    """A valid generic JSON report; a field given as ``...`` is left out."""
    payload: dict[str, Any] = {
        "report_id": "r-1",
        "channel": "app",
        "time": JSON_TIME,
        "type": "vehicle accident",
        "location": {"lat": 40.1, "lon": -75.3, "accuracy_m": 25},
    }
    payload.update(fields)
    return {k: v for k, v in payload.items() if v is not ...}


def run_json(models: Models, payload: dict[str, Any]) -> Report | Rejection:
    return normalize(orjson.dumps(payload), "json", JSON_TIME_MS + 5_000,
                     models.normalize)


def accepted(result: Report | Rejection) -> Report:
    assert isinstance(result, Report), result
    return result


def rejected(result: Report | Rejection) -> Rejection:
    assert isinstance(result, Rejection), result
    return result


# --- Montgomery CAD rows -------------------------------------------------------


def test_cad_row_becomes_a_report(models: Models) -> None:
    report = accepted(run_cad(models, MONTGOMERY_ROW))

    assert report.source == "montgomery_pa"
    assert report.channel == "911"
    assert report.kind == "medical_trauma"
    assert report.discipline == "EMS"
    assert report.type_text == "BACK PAINS/INJURY"
    assert report.area == "NEW HANOVER"
    assert report.address == "REINDEER CT & DEAD END"
    assert report.text == MONTGOMERY_ROW["desc"]
    assert report.location == LOCATION_KNOWN
    assert (report.lat, report.lon) == (40.2978759, -75.5812935)
    assert report.received_ms == RECEIVED_MS
    assert report.raw_ref == "t:0:7"
    assert report.flags == ()


def test_cad_event_time_is_the_call_time_in_desc_in_new_york(models: Models) -> None:
    report = accepted(run_cad(models, MONTGOMERY_ROW))

    # 17:10:52 EST is 22:10:52 UTC; the 17:40:00 posting time is not used.
    assert report.event_ms == utc_ms(2015, 12, 10, 22, 10, 52)


def test_cad_summer_call_time_uses_daylight_saving_offset(models: Models) -> None:
    row = {**MONTGOMERY_ROW, "desc": "MAIN ST; NORRISTOWN; 2016-05-01 @ 09:00:00;",
           "timeStamp": "2016-05-01 09:30:00"}
    report = accepted(run_cad(models, row))

    assert report.event_ms == utc_ms(2016, 5, 1, 13, 0, 0)


def test_cad_falls_back_to_timestamp_when_desc_has_no_call_time(
    models: Models,
) -> None:
    row = {**MONTGOMERY_ROW, "desc": "REINDEER CT & DEAD END; NEW HANOVER;"}
    report = accepted(run_cad(models, row))

    assert report.event_ms == utc_ms(2015, 12, 10, 22, 40, 0)


def test_cad_call_time_with_station_suffix_is_found(models: Models) -> None:
    row = {**MONTGOMERY_ROW,
           "desc": "HAWS AVE; NORRISTOWN; 2015-12-10 @ 14:39:21-Station:STA27;",
           "title": "Fire: GAS-ODOR/LEAK"}
    report = accepted(run_cad(models, row))

    assert report.event_ms == utc_ms(2015, 12, 10, 19, 39, 21)
    assert (report.discipline, report.kind) == ("Fire", "hazmat")


def test_cad_title_without_discipline_keeps_whole_title(models: Models) -> None:
    row = {**MONTGOMERY_ROW, "title": "VEHICLE ACCIDENT -"}
    report = accepted(run_cad(models, row))

    assert report.discipline == ""
    assert report.type_text == "VEHICLE ACCIDENT"
    assert report.kind == "collision"


def test_cad_id_is_stable_for_the_same_row_and_differs_for_another(
    models: Models,
) -> None:
    first = accepted(run_cad(models, MONTGOMERY_ROW))
    again = accepted(run_cad(models, dict(reversed(MONTGOMERY_ROW.items()))))
    other = accepted(run_cad(models, {**MONTGOMERY_ROW, "e": "2"}))

    assert first.report_id.startswith("montgomery_pa:")
    assert first.report_id == again.report_id
    assert first.report_id != other.report_id


def test_cad_missing_township_becomes_unknown_area(models: Models) -> None:
    row = {**MONTGOMERY_ROW, "twp": ""}

    assert accepted(run_cad(models, row)).area == "UNKNOWN"


def test_cad_point_outside_montgomery_is_unknown(models: Models) -> None:
    row = {**MONTGOMERY_ROW, "lat": "41.5", "lng": "-73.9"}
    report = accepted(run_cad(models, row))

    assert report.location == LOCATION_UNKNOWN
    assert (report.lat, report.lon) == (None, None)
    assert "location_outside_area" in report.flags
    assert report.address == "REINDEER CT & DEAD END"


def test_cad_swapped_pair_inside_the_box_is_swapped_back(models: Models) -> None:
    row = {**MONTGOMERY_ROW, "lat": "-75.5812935", "lng": "40.2978759"}
    report = accepted(run_cad(models, row))

    assert (report.lat, report.lon) == (40.2978759, -75.5812935)
    assert report.location == LOCATION_KNOWN
    assert "location_swapped" in report.flags


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({**MONTGOMERY_ROW, "title": ""}, "missing_title"),
        ({k: v for k, v in MONTGOMERY_ROW.items() if k != "title"}, "missing_title"),
        ({**MONTGOMERY_ROW, "title": ["EMS"]}, "wrong_type_title"),
        ({**MONTGOMERY_ROW, "desc": "X; 2015-13-45 @ 25:61:00;"}, "bad_time"),
        ({**MONTGOMERY_ROW, "desc": "", "timeStamp": "yesterday"}, "bad_time"),
        ({**MONTGOMERY_ROW, "desc": "", "timeStamp": ""}, "missing_timeStamp"),
    ],
)
def test_cad_row_rejections(models: Models, row: dict[str, Any], reason: str) -> None:
    result = rejected(run_cad(models, row))

    assert result.reason == reason
    assert result.detail


def test_cad_unknown_source_is_rejected(models: Models) -> None:
    raw = cad(MONTGOMERY_ROW, source="atlantis_pd")
    result = rejected(normalize(raw, "cad", RECEIVED_MS, models.normalize))

    assert (result.reason, result.detail) == ("unknown_source", "atlantis_pd")


def test_cad_without_row_object_is_rejected(models: Models) -> None:
    raw = orjson.dumps({"source": "montgomery_pa", "row": "40.1,-75.3"})

    assert rejected(normalize(raw, "cad", 0, models.normalize)).reason == "missing_row"


def test_unknown_format_is_rejected(models: Models) -> None:
    result = rejected(normalize(cad(MONTGOMERY_ROW), "xml", 0, models.normalize))

    assert result.reason == "unknown_format"


def test_shipped_log_rows_all_become_reports(models: Models, shipped_log: Path
                                             ) -> None:
    with gzip.open(shipped_log, "rt", encoding="utf-8", newline="") as handle:
        rows = list(itertools.islice(csv.DictReader(handle), 300))

    reports = [accepted(run_cad(models, row)) for row in rows]

    assert len({r.report_id for r in reports}) == len(rows)
    assert all(r.area == row["twp"] for r, row in zip(reports, rows, strict=True))
    assert sum(r.location == LOCATION_KNOWN for r in reports) >= 290
    assert sum(r.kind != "other" for r in reports) >= 290


# --- generic JSON reports ------------------------------------------------------


def test_json_report_fields(models: Models) -> None:
    payload = json_report(text="two cars, one on its roof", reporter="+1 610 555 0100",
                          address="MAIN ST & DEKALB ST", area="NORRISTOWN")
    report = accepted(run_json(models, payload))

    assert report.report_id == "json:r-1"
    assert report.source == "json"
    assert report.channel == "app"
    assert report.kind == "collision"
    assert report.type_text == "vehicle accident"
    assert report.text == "two cars, one on its roof"
    assert report.event_ms == JSON_TIME_MS
    assert (report.lat, report.lon, report.accuracy_m) == (40.1, -75.3, 25.0)
    assert report.location == LOCATION_KNOWN
    assert report.area == "NORRISTOWN"
    assert report.address == "MAIN ST & DEKALB ST"
    assert report.flags == ()


def test_json_defaults_channel_web_and_grid_area(models: Models) -> None:
    report = accepted(run_json(models, json_report(channel=...)))

    assert report.channel == "web"
    assert report.area == "grid:401:-753"


def test_json_text_alone_decides_the_kind(models: Models) -> None:
    report = accepted(run_json(models, json_report(type=..., text="house fire!")))

    assert report.kind == "structure_fire"
    assert report.type_text == ""


def test_json_time_with_offset(models: Models) -> None:
    report = accepted(run_json(models, json_report(time="2016-01-23T07:00:00-05:00")))

    assert report.event_ms == JSON_TIME_MS


def test_json_naive_time_is_local_to_the_source(models: Models) -> None:
    as_json = accepted(run_json(models, json_report(time="2016-01-23T12:00:00")))
    as_montgomery = accepted(run_json(
        models, json_report(time="2016-01-23T07:00:00", source="montgomery_pa")))

    assert as_json.event_ms == JSON_TIME_MS
    assert as_montgomery.event_ms == JSON_TIME_MS
    assert as_montgomery.report_id == "montgomery_pa:r-1"


def test_long_numeric_string_id_keeps_every_digit(models: Models) -> None:
    payload = json_report(report_id="12345678901234567890123")

    assert accepted(run_json(models, payload)).report_id == (
        "json:12345678901234567890123"
    )


def test_numeric_id_within_64_bits_keeps_every_digit(models: Models) -> None:
    payload = json_report(report_id=12345678901234567890)

    assert accepted(run_json(models, payload)).report_id == (
        "json:12345678901234567890"
    )


def test_reporter_identity_is_hashed_never_kept(models: Models) -> None:
    number = "+1 610 555 0100"
    report = accepted(run_json(models, json_report(reporter=number)))
    again = accepted(run_json(models, json_report(report_id="r-2", reporter=number)))
    other = accepted(run_json(models, json_report(reporter="+1 610 555 0199")))

    assert report.reporter.startswith("rp:")
    assert report.reporter == reporter_token(number, models.normalize.reporter_key)
    assert number not in orjson.dumps(report.to_dict()).decode()
    assert report.reporter == again.reporter
    assert report.reporter != other.reporter


def test_reporter_token_depends_on_the_key() -> None:
    assert reporter_token("Alice", b"k1") == reporter_token(" alice ", b"k1")
    assert reporter_token("alice", b"k1") != reporter_token("alice", b"k2")


def test_invalid_utf8_inside_strings_is_repaired_and_flagged(models: Models) -> None:
    raw = orjson.dumps(json_report(text="help MARKER")).replace(b"MARKER", b"\xff\xfe")
    report = accepted(normalize(raw, "json", JSON_TIME_MS, models.normalize))

    assert report.text == "help \ufffd\ufffd"
    assert "text_repaired" in report.flags


def test_json_behind_a_byte_order_mark_is_read(models: Models) -> None:
    raw = b"\xef\xbb\xbf" + orjson.dumps(json_report(text="help"))
    report = accepted(normalize(raw, "json", JSON_TIME_MS, models.normalize))

    assert report.text == "help"


def test_invalid_utf8_in_a_cad_row_is_repaired_and_flagged(models: Models) -> None:
    raw = cad({**MONTGOMERY_ROW, "addr": "CAF MARKER"}).replace(b"MARKER", b"\xe9")
    report = accepted(normalize(raw, "cad", RECEIVED_MS, models.normalize))

    assert report.address == "CAF \ufffd"
    assert report.flags == ("text_repaired",)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"report_id": "r-1", "time": "2016-01-2', "malformed_json"),
        (b"", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (b'"a report"', "not_an_object"),
        (b"null", "not_an_object"),
    ],
)
def test_undecodable_or_non_object_payloads(
    models: Models, raw: bytes, reason: str
) -> None:
    for fmt in ("json", "cad"):
        assert rejected(normalize(raw, fmt, 0, models.normalize)).reason == reason


def test_oversized_payload_is_rejected_before_parsing(models: Models) -> None:
    raw = orjson.dumps(json_report(text="x" * MAX_BYTES))
    result = rejected(normalize(raw, "json", 0, models.normalize))

    assert result.reason == "oversized"
    assert str(len(raw)) in result.detail


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"report_id": ...}, "missing_report_id"),
        ({"report_id": ""}, "missing_report_id"),
        ({"report_id": ["r-1"]}, "wrong_type_report_id"),
        ({"report_id": True}, "wrong_type_report_id"),
        ({"type": ..., "text": ...}, "missing_type"),
        ({"type": "", "text": ""}, "missing_type"),
        # Only spaces or invisible characters: no words to act on.
        ({"type": "  ", "text": "   "}, "missing_type"),
        ({"type": ..., "text": "\u200b\u200b"}, "missing_type"),
        ({"type": {"en": "fire"}}, "wrong_type_type"),
        ({"text": 3.5, "type": False}, "wrong_type_type"),
        ({"time": ...}, "missing_time"),
        ({"time": "tuesday noon"}, "bad_time"),
        ({"time": 1453550400}, "bad_time"),
        ({"time": "2016-02-30T12:00:00Z"}, "bad_time"),
        ({"channel": "carrier_pigeon"}, "unknown_channel"),
        ({"channel": 42}, "unknown_channel"),
        ({"source": "atlantis_pd"}, "unknown_source"),
        ({"location": "MAIN ST"}, "wrong_type_location"),
        ({"location": [40.1, -75.3]}, "wrong_type_location"),
        ({"reporter": {"phone": "555"}}, "wrong_type_reporter"),
    ],
)
def test_json_rejections(models: Models, changes: dict[str, Any], reason: str) -> None:
    result = rejected(run_json(models, json_report(**changes)))

    assert result.reason == reason
    assert result.detail


@pytest.mark.parametrize("stamp", [1453568400000, "1453568400", 1453568400.5])
def test_an_epoch_time_is_refused_as_a_number_not_a_bad_month(
        models: Models, stamp: int | float | str) -> None:
    result = rejected(run_json(models, json_report(time=stamp)))

    assert result.reason == "bad_time"
    assert "is a number, not an ISO 8601 time" in result.detail


@pytest.mark.parametrize(
    ("location", "flag"),
    [
        (..., "location_missing"),
        ({}, "location_missing"),
        ({"lat": 40.1}, "location_missing"),
        ({"lat": 0, "lon": 0}, "location_invalid"),
        ({"lat": 0.0, "lon": 0.0}, "location_invalid"),
        ({"lat": "NaN", "lon": -75.3}, "location_invalid"),
        ({"lat": 40.1, "lon": "-inf"}, "location_invalid"),
        ({"lat": 91.0, "lon": -75.3}, "location_invalid"),
        ({"lat": 40.1, "lon": -180.5}, "location_invalid"),
        ({"lat": "forty", "lon": -75.3}, "location_invalid"),
        ({"lat": True, "lon": -75.3}, "location_invalid"),
        ({"lat": [40.1], "lon": -75.3}, "location_invalid"),
        ({"lat": 41.5, "lon": -73.9}, "location_outside_area"),
    ],
)
def test_unusable_locations_become_unknown(
    models: Models, location: Any, flag: str
) -> None:
    # Montgomery's box makes "outside the service area" reachable.
    payload = json_report(source="montgomery_pa", location=location)
    report = accepted(run_json(models, payload))

    assert report.location == LOCATION_UNKNOWN
    assert (report.lat, report.lon) == (None, None)
    assert not report.has_point
    assert flag in report.flags
    assert report.area == "UNKNOWN"


def test_json_swapped_pair_inside_the_box_is_swapped_back(models: Models) -> None:
    payload = json_report(source="montgomery_pa",
                          location={"lat": -75.3, "lon": 40.1})
    report = accepted(run_json(models, payload))

    assert (report.lat, report.lon) == (40.1, -75.3)
    assert "location_swapped" in report.flags


def test_coordinates_given_as_strings_are_read(models: Models) -> None:
    payload = json_report(location={"lat": "40.1", "lon": "-75.3"})
    report = accepted(run_json(models, payload))

    assert (report.lat, report.lon, report.accuracy_m) == (40.1, -75.3, None)


def test_far_future_and_far_past_times_are_flagged_not_rejected(
    models: Models,
) -> None:
    future = accepted(run_json(models, json_report(time="2016-01-25T12:00:00Z")))
    past = accepted(run_json(models, json_report(time="1990-01-01T00:00:00Z")))

    assert "time_in_future" in future.flags
    assert "time_far_past" in past.flags


def test_configured_clock_overrides_received_time(models: Models) -> None:
    config = NormalizeConfig(models.kinds, models.normalize.sources,
                             now_ms=JSON_TIME_MS - 3 * 86_400_000)
    raw = orjson.dumps(json_report())
    report = accepted(normalize(raw, "json", JSON_TIME_MS, config))

    assert report.flags == ("time_in_future",)


def test_long_text_is_cut(models: Models) -> None:
    report = accepted(run_json(models, json_report(text="y" * 10_000)))

    assert len(report.text) == 4000


# --- no input makes normalize raise --------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELD_VALUES = (
    JSON_VALUES
    | st.sampled_from(["2016-01-23T12:00:00Z", "2015-11-01T01:30:00",
                       "2016-03-13 02:30:00", "montgomery_pa", "json", "app"])
    | st.fixed_dictionaries({"lat": JSON_SCALARS, "lon": JSON_SCALARS,
                             "accuracy_m": JSON_SCALARS})
)
def _encode(value: Any) -> bytes:
    # The standard library writes what orjson will not (NaN, 2**70): good input too.
    return json.dumps(value).encode()


def examples_of(fmt: str) -> list[dict[str, Any]]:
    """The valid examples of a format (every CAD source for ``cad``)."""
    return [payload for topic, payload in malformed.EXAMPLES
            if topic == f"reports.raw.{fmt}"]


@st.composite
def raw_messages(draw: st.DrawFn, fmt: str) -> bytes:
    """Anything at all, and mostly-valid payloads of ``fmt`` with a few faults:
    fields anywhere in the payload dropped or given any value."""
    choice = draw(st.integers(min_value=0, max_value=5))
    if choice == 0:
        return draw(st.binary(max_size=200))
    if choice == 1:
        return _encode(draw(JSON_VALUES))
    if choice == 2:
        # Another format's payload on this format's topic.
        payload = copy.deepcopy(draw(st.sampled_from(malformed.EXAMPLES))[1])
    else:
        payload = copy.deepcopy(draw(st.sampled_from(examples_of(fmt))))
    paths = malformed.fields(payload)
    for path in draw(st.lists(st.sampled_from(paths), unique=True, max_size=3)):
        try:
            if draw(st.booleans()):
                malformed.drop(payload, path)
            else:
                malformed.put(payload, path, draw(FIELD_VALUES))
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change removed or replaced its parent
    raw = _encode(payload)
    if choice == 5:
        # Spoil a few bytes: truncated, or not UTF-8 any more.
        cut = draw(st.integers(min_value=0, max_value=len(raw)))
        return raw[:cut] + draw(st.binary(max_size=3)) + raw[cut:]
    return raw


@pytest.mark.parametrize("fmt", sorted(PARSERS))
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), received_ms=st.integers(min_value=0, max_value=2**42))
def test_normalize_never_raises(
    models: Models, fmt: str, data: st.DataObject, received_ms: int
) -> None:
    raw = data.draw(raw_messages(fmt), label="raw")
    result = normalize(raw, fmt, received_ms, models.normalize)

    assert isinstance(result, Report | Rejection)
    if isinstance(result, Rejection):
        assert result.reason
    else:
        assert result.report_id
        assert isinstance(result.event_ms, int)
        assert result.has_point == (result.lat is not None)
        if result.lat is not None:
            assert result.lon is not None
            assert math.isfinite(result.lat) and math.isfinite(result.lon)


def test_every_format_has_valid_examples(models: Models) -> None:
    for fmt in PARSERS:
        examples = examples_of(fmt)
        assert examples, fmt
        for payload in examples:
            result = normalize(orjson.dumps(payload), fmt, 1_500_000_000_000,
                               models.normalize)
            assert isinstance(result, Report), (fmt, result)


def test_the_malformed_corpus_ends_in_reports_or_reasons(models: Models) -> None:
    outcomes: Counter[str] = Counter()
    for topic, raw, _ in malformed.build_corpus(5_000, seed=3):
        result = normalize(raw, topic.removeprefix("reports.raw."),
                           1_500_000_000_000, models.normalize)
        assert isinstance(result, Report | Rejection)
        outcomes["report" if isinstance(result, Report) else result.reason] += 1
    assert sum(outcomes.values()) == 5_000
    # Every kind of fault is met: bytes, JSON, types, sizes.
    assert {"malformed_json", "not_an_object", "oversized"} <= set(outcomes)
    assert outcomes["report"] > 1_000  # repairable faults are repaired


# --- regressions found by the property tests ------------------------------------


def test_numeric_id_past_64_bits_keeps_every_digit(models: Models) -> None:
    raw = (b'{"report_id": 12345678901234567890123, "time": "' + JSON_TIME.encode()
           + b'", "type": "fire"}')

    result = accepted(normalize(raw, "json", JSON_TIME_MS, models.normalize))

    assert result.report_id == "json:12345678901234567890123"


def test_nesting_too_deep_to_hash_is_rejected_not_raised(models: Models) -> None:
    # orjson reads 1024 levels but writes 254: built as bytes for that reason.
    row = orjson.dumps(MONTGOMERY_ROW)[:-1] + b', "extra": ' + b"[" * 300 + b"]" * 300
    raw = b'{"source": "montgomery_pa", "row": ' + row + b"}}"

    result = normalize(raw, "cad", RECEIVED_MS, models.normalize)

    assert rejected(result).reason == "too_deep"


@pytest.mark.parametrize("accuracy", ["nan", "inf", -150, "-1e9"])
def test_impossible_accuracy_is_dropped_and_flagged(models: Models,
                                                    accuracy: Any) -> None:
    payload = json_report(location={"lat": 40.1, "lon": -75.3,
                                    "accuracy_m": accuracy})

    result = accepted(run_json(models, payload))

    assert result.accuracy_m is None
    assert "accuracy_invalid" in result.flags


def test_huge_accuracy_is_capped_and_flagged(models: Models) -> None:
    payload = json_report(location={"lat": 40.1, "lon": -75.3, "accuracy_m": 1e7})

    result = accepted(run_json(models, payload))

    assert result.accuracy_m == 5000.0
    assert "accuracy_capped" in result.flags


@pytest.mark.parametrize(("fmt", "payload", "expected_id"), [
    ("sms", {"message_id": 123456789012345678901234, "sender": "+12155550123",
             "text": "help", "time": "2016-01-23T12:00:00Z"},
     "sms:json:123456789012345678901234"),
    ("social", {"post_id": 98765432109876543210987, "handle": "@someone",
                "text": "smoke over the bridge", "time": "2016-01-23T12:00:00Z"},
     "social:json:98765432109876543210987"),
])
def test_long_numeric_ids_keep_every_digit_on_every_channel(
        fmt: str, payload: dict[str, Any], expected_id: str) -> None:
    raw = json.dumps(payload).encode()
    result = normalize(raw, fmt, 1_453_568_460_000, NormalizeConfig.example())
    assert isinstance(result, Report), result
    assert result.report_id == expected_id


def test_a_float_report_id_is_refused_like_on_every_channel(models: Models) -> None:
    raw = b'{"report_id": 1e30, "time": "2016-01-23T12:00:00Z", "type": "fire"}'
    result = normalize(raw, "json", 1_453_568_460_000, models.normalize)
    assert isinstance(result, Rejection)
    assert result.reason == "wrong_type_report_id"


def test_a_cad_records_callback_number_becomes_its_reporter(models: Models) -> None:
    # A CAD adapter may pass the caller's number (ANI) beside the row: the
    # call and that caller's later texts then share one reporter.
    from agents.replay import FORMATS, envelopes

    config = models.normalize
    with_caller = orjson.dumps({"source": "montgomery_pa", "row": MONTGOMERY_ROW,
                                "caller_number": "+1 (610) 555-0199"})
    call = accepted(normalize(with_caller, "cad", RECEIVED_MS, config))
    assert call.reporter == reporter_token("tel:+16105550199", config.reporter_key)
    assert accepted(normalize(cad(MONTGOMERY_ROW), "cad", RECEIVED_MS,
                              config)).reporter == ""
    # The replay's simulated callers: one distinct number per record.
    rows = [MONTGOMERY_ROW, MONTGOMERY_ROW]
    tokens = {accepted(normalize(value, "cad", RECEIVED_MS, config)).reporter
              for value in envelopes(rows, FORMATS["montgomery_pa"], callers=True)}
    assert len(tokens) == 2 and "" not in tokens
