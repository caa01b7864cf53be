"""messages: text-to-911, social posts and app tips into one Report, or Invalid."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.resources import Models
from agents.settings import ROOT
from pipeline.fields import MAX_TEXT, Invalid, reporter_token
from pipeline.messages import PARSERS, from_app, from_sms, from_social
from pipeline.schema import LOCATION_KNOWN, LOCATION_UNKNOWN, Report

SHARED_DATA = ROOT.parent / "shared" / "data"
TIME = "2016-01-23T12:00:00Z"
TIME_MS = int(datetime(2016, 1, 23, 12, tzinfo=UTC).timestamp() * 1000)
RECEIVED_MS = TIME_MS + 5_000
# Inside Montgomery County, PA (models/service_areas.yaml).
LAT, LON = 40.1, -75.3

ParserFn = Callable[..., Report]


def payload(base: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """``base`` with ``fields`` changed; a field given as ``...`` is left out."""
    merged = {**base, **fields}
    return {k: v for k, v in merged.items() if v is not ...}


SMS: dict[str, Any] = {
    "message_id": "SM-1001",
    "sender": "+12155550123",
    "text": "car crash at main and dekalb, two hurt",
    "time": TIME,
    "location": {"lat": LAT, "lon": LON, "accuracy_m": 40},
    "source": "montgomery_pa",
}
POST: dict[str, Any] = {
    "post_id": "1287654321098765432",
    "handle": "@someone",
    "text": "Huge fire on Main St right now, smoke everywhere",
    "language": "en",
    "time": TIME,
}
TIP: dict[str, Any] = {
    "report_id": "A-77",
    "time": TIME,
    "category": "Suspicious person",
    "text": "man trying car doors on elm st",
    "location": {"lat": LAT, "lon": LON, "accuracy_m": 12},
    "media": ["https://media.example/p/1.jpg", "upload:8f3a"],
    "reporter": "account-991",
}


def run(parser: ParserFn, models: Models, message: dict[str, Any]) -> Report:
    return parser(message, RECEIVED_MS, models.normalize, "t:0:9")


def reason(parser: ParserFn, models: Models, message: dict[str, Any]) -> str:
    with pytest.raises(Invalid) as caught:
        run(parser, models, message)
    return caught.value.reason


def test_parsers_are_named_by_format() -> None:
    assert set(PARSERS) == {"sms", "social", "app"}
    assert (PARSERS["sms"], PARSERS["social"], PARSERS["app"]) == (
        from_sms, from_social, from_app)


# --- sms -------------------------------------------------------------------------


def test_sms_becomes_a_report(models: Models) -> None:
    report = run(from_sms, models, SMS)

    assert report.report_id == "sms:montgomery_pa:SM-1001"
    assert (report.channel, report.source) == ("sms", "montgomery_pa")
    assert report.kind == "collision"
    assert report.text == SMS["text"]
    assert (report.lat, report.lon, report.location) == (LAT, LON, LOCATION_KNOWN)
    assert report.accuracy_m == 40
    assert report.event_ms == TIME_MS
    assert report.received_ms == RECEIVED_MS
    assert report.raw_ref == "t:0:9"
    assert report.flags == ()
    assert report.details == {}


def test_sms_sender_is_kept_only_as_a_token(models: Models) -> None:
    report = run(from_sms, models, SMS)

    assert report.reporter == reporter_token("+12155550123",
                                             models.normalize.reporter_key)
    assert "2155550123" not in json.dumps(report.to_dict())


def test_follow_up_texts_from_one_number_share_the_token(models: Models) -> None:
    first = run(from_sms, models, SMS)
    again = run(from_sms, models, payload(SMS, message_id="SM-1002",
                                          sender="+1 (215) 555-0123"))
    other = run(from_sms, models, payload(SMS, sender="+12155550999"))

    assert first.reporter == again.reporter
    assert first.report_id != again.report_id
    assert first.reporter != other.reporter


def test_sender_that_is_not_a_number_is_kept_and_flagged(models: Models) -> None:
    report = run(from_sms, models, payload(SMS, sender="CARRIER-GW"))

    assert "sender_not_a_number" in report.flags
    assert report.reporter.startswith("rp:")


def test_long_numeric_message_id_is_kept_digit_for_digit(models: Models) -> None:
    # json.loads keeps every digit; orjson would give a float (rejected below).
    raw = '{"message_id": 123456789012345678901234567890, "sender": 2155550123,'
    message = json.loads(raw + f' "text": "help", "time": "{TIME}"}}')
    report = run(from_sms, models, message)

    assert report.report_id == "sms:json:123456789012345678901234567890"


def test_sms_without_location_is_unknown_not_invented(models: Models) -> None:
    report = run(from_sms, models, payload(SMS, location=...))

    assert (report.lat, report.lon, report.accuracy_m) == (None, None, None)
    assert report.location == LOCATION_UNKNOWN
    assert report.area == "UNKNOWN"
    assert "location_missing" in report.flags


def test_multi_part_sms_parts_are_reports_joined_by_conversation(
    models: Models,
) -> None:
    parts = [
        run(from_sms, models, payload(
            SMS, message_id=f"SM-20{i}", text=chunk,
            concat={"ref": 17, "part": i, "parts": 2}))
        for i, chunk in ((1, "my neighbour's house is on fi"), (2, "re, 12 elm st"))
    ]
    stranger = run(from_sms, models, payload(
        SMS, sender="+12155550999", concat={"ref": 17, "part": 1, "parts": 2}))

    assert [p.details["part"] for p in parts] == [1, 2]
    assert {p.details["parts"] for p in parts} == {2}
    assert {p.details["concat_ref"] for p in parts} == {"17"}
    conversation = parts[0].details["conversation"]
    assert conversation.startswith("cv:")
    assert parts[1].details["conversation"] == conversation
    assert stranger.details["conversation"] != conversation
    assert parts[0].report_id == "sms:montgomery_pa:SM-201/p1"
    assert "2155550123" not in conversation


def test_parts_with_one_message_id_stay_distinct_reports(models: Models) -> None:
    first = run(from_sms, models, payload(SMS, concat={"ref": "a", "part": 1,
                                                        "parts": 2}))
    second = run(from_sms, models, payload(SMS, concat={"ref": "a", "part": "2",
                                                         "parts": 2}))

    assert first.report_id != second.report_id
    assert second.details["part"] == 2


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"message_id": ...}, "missing_message_id"),
        ({"message_id": "  "}, "missing_message_id"),
        ({"message_id": 1.5e30}, "wrong_type_message_id"),
        ({"message_id": ["m"]}, "wrong_type_message_id"),
        ({"sender": ...}, "missing_sender"),
        ({"sender": 2.15e9}, "wrong_type_sender"),
        ({"text": ...}, "missing_text"),
        ({"text": "   "}, "missing_text"),
        ({"text": "\u200b\u200b \ufeff"}, "missing_text"),
        ({"text": {"body": "x"}}, "wrong_type_text"),
        ({"time": ...}, "missing_time"),
        ({"time": "yesterday"}, "bad_time"),
        ({"time": 1453550400}, "bad_time"),
        ({"location": [LAT, LON]}, "wrong_type_location"),
        ({"source": "atlantis"}, "unknown_source"),
        ({"concat": "1/2"}, "wrong_type_concat"),
        ({"concat": {"part": 1, "parts": 2}}, "missing_ref"),
        ({"concat": {"ref": 1, "parts": 2}}, "missing_part"),
        ({"concat": {"ref": 1, "part": 1}}, "missing_parts"),
        ({"concat": {"ref": 1, "part": 1.0, "parts": 2}}, "wrong_type_part"),
        ({"concat": {"ref": 1, "part": True, "parts": 2}}, "wrong_type_part"),
        ({"concat": {"ref": 1, "part": 1, "parts": math.nan}}, "wrong_type_parts"),
        ({"concat": {"ref": 1, "part": 0, "parts": 2}}, "bad_parts"),
        ({"concat": {"ref": 1, "part": 3, "parts": 2}}, "bad_parts"),
        ({"concat": {"ref": 1, "part": -1, "parts": 2}}, "bad_parts"),
        ({"concat": {"ref": 1, "part": 1, "parts": 256}}, "bad_parts"),
    ],
)
def test_bad_sms_is_invalid(models: Models, fields: dict[str, Any],
                            expected: str) -> None:
    assert reason(from_sms, models, payload(SMS, **fields)) == expected


def test_largest_part_numbers_are_accepted(models: Models) -> None:
    report = run(from_sms, models, payload(
        SMS, concat={"ref": 1, "part": 255, "parts": 255}))

    assert (report.details["part"], report.details["parts"]) == (255, 255)


# --- places, shared by every channel with a fix ------------------------------------


@pytest.mark.parametrize(
    ("where", "flag"),
    [
        ({"lat": 0, "lon": 0}, "location_invalid"),
        ({"lat": 91, "lon": LON}, "location_invalid"),
        ({"lat": "nan", "lon": LON}, "location_invalid"),
        ({"lat": math.inf, "lon": LON}, "location_invalid"),
        ({"lat": "north", "lon": LON}, "location_invalid"),
        ({"lat": 51.5, "lon": -0.1}, "location_outside_area"),
        ({"lat": LAT}, "location_missing"),
    ],
)
@pytest.mark.parametrize(("parser", "base", "name"),
                         [(from_sms, SMS, "location"), (from_app, TIP, "location"),
                          (from_social, POST, "geotag")])
def test_unusable_points_become_unknown_and_flagged(
    models: Models, parser: ParserFn, base: dict[str, Any], name: str,
    where: dict[str, Any], flag: str,
) -> None:
    report = run(parser, models, payload(base, source="montgomery_pa",
                                         **{name: where}))

    assert (report.lat, report.lon, report.location) == (None, None, LOCATION_UNKNOWN)
    assert report.accuracy_m is None
    assert flag in report.flags


def test_swapped_pair_inside_the_area_is_swapped_back(models: Models) -> None:
    report = run(from_sms, models, payload(SMS, location={"lat": LON, "lon": LAT}))

    assert (report.lat, report.lon) == (LAT, LON)
    assert "location_swapped" in report.flags


@pytest.mark.parametrize(
    ("value", "kept", "flag"),
    [(math.nan, None, "accuracy_invalid"), (math.inf, None, "accuracy_invalid"),
     (-3, None, "accuracy_invalid"), (99_999, 5000.0, "accuracy_capped")],
)
def test_accuracy_out_of_range_is_flagged_never_silently_null(
    models: Models, value: float, kept: float | None, flag: str,
) -> None:
    fix = {"lat": LAT, "lon": LON, "accuracy_m": value}
    report = run(from_app, models, payload(TIP, location=fix))

    assert report.location == LOCATION_KNOWN
    assert report.accuracy_m == kept
    assert flag in report.flags


# --- social ----------------------------------------------------------------------


def test_post_becomes_a_report(models: Models) -> None:
    report = run(from_social, models, payload(POST, network="Twitter"))

    assert report.report_id == "social:json:1287654321098765432"
    assert (report.channel, report.source) == ("social", "json")
    assert report.kind == "fire"
    assert report.text == POST["text"]
    assert report.language == "en"
    assert report.location == LOCATION_UNKNOWN
    assert report.reporter == reporter_token("@someone",
                                             models.normalize.reporter_key,
                                             handle=True)
    assert report.details == {"network": "twitter"}
    assert report.event_ms == TIME_MS


def test_a_handle_spelt_as_a_callers_number_is_not_that_caller(
        models: Models) -> None:
    text = run(from_sms, models, SMS)
    post = run(from_social, models, payload(POST, handle="+1 215 555 0123"))
    again = run(from_social, models, payload(POST, post_id="2",
                                             handle="+1 215 555 0123"))

    assert post.reporter != text.reporter
    assert post.reporter == again.reporter  # one handle's posts: one thread


def test_post_kind_is_read_from_everyday_words(models: Models) -> None:
    wreck = run(from_social, models, payload(POST, text="Greer man dies in wreck"))
    systems = run(from_social, models, payload(POST, text="our systems are down"))

    assert wreck.kind == "collision"
    assert systems.kind == "other"  # "ems" in "systems" names no kind


def test_geotag_is_the_point_and_place_name_only_an_address(
    models: Models,
) -> None:
    tagged = run(from_social, models, payload(POST, geotag={"lat": LAT, "lon": LON}))
    named = run(from_social, models, payload(POST, place_name="Norristown, PA"))

    assert (tagged.lat, tagged.lon, tagged.location) == (LAT, LON, LOCATION_KNOWN)
    assert tagged.area.startswith("grid")
    assert (named.lat, named.lon, named.location) == (None, None, LOCATION_UNKNOWN)
    assert named.address == "Norristown, PA"
    assert named.details["place_name"] == "Norristown, PA"


@pytest.mark.parametrize(
    ("tag", "kept", "flags"),
    [("EN", "en", ()), ("pt-BR", "pt-br", ()), ("und", "und", ()), ("", "", ()),
     ("english please", "", ("language_invalid",)),
     ("x" * 40, "", ("language_invalid",))],
)
def test_language_is_a_short_tag_or_empty(
    models: Models, tag: str, kept: str, flags: tuple[str, ...],
) -> None:
    report = run(from_social, models, payload(POST, language=tag))

    assert report.language == kept
    assert tuple(f for f in report.flags if f.startswith("language")) == flags


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"post_id": ...}, "missing_post_id"),
        ({"post_id": 1.2876543210987654e18}, "wrong_type_post_id"),
        ({"handle": ...}, "missing_handle"),
        ({"handle": " "}, "missing_handle"),
        ({"handle": None}, "missing_handle"),
        ({"text": ""}, "missing_text"),
        ({"text": ["a"]}, "wrong_type_text"),
        ({"language": ["en"]}, "wrong_type_language"),
        ({"time": "2016-02-30T00:00:00Z"}, "bad_time"),
        ({"geotag": "Norristown"}, "wrong_type_geotag"),
        ({"place_name": {"name": "x"}}, "wrong_type_place_name"),
    ],
)
def test_bad_post_is_invalid(models: Models, fields: dict[str, Any],
                             expected: str) -> None:
    assert reason(from_social, models, payload(POST, **fields)) == expected


def test_long_text_is_cut_and_flagged(models: Models) -> None:
    report = run(from_social, models, payload(POST, text="a" * (MAX_TEXT + 1)))

    assert len(report.text) == MAX_TEXT
    assert "text_truncated" in report.flags


# --- app and web -----------------------------------------------------------------


def test_tip_becomes_a_report_with_media(models: Models) -> None:
    report = run(from_app, models, TIP)

    assert report.report_id == "app:json:A-77"
    assert report.channel == "app"
    assert report.kind == "disturbance"
    assert report.type_text == "Suspicious person"
    assert report.text == TIP["text"]
    assert report.media == tuple(TIP["media"])
    assert report.accuracy_m == 12
    assert report.reporter == reporter_token("account-991",
                                             models.normalize.reporter_key)


def test_web_form_with_text_only_is_classified_from_the_text(models: Models) -> None:
    form = payload(TIP, channel="web", category=..., media=..., reporter=...,
                   text="smell of gas leak in the basement", address="1 Elm St")
    report = run(from_app, models, form)

    assert report.channel == "web"
    assert report.kind == "hazmat"
    assert report.type_text == ""
    assert (report.media, report.reporter) == ((), "")
    assert report.address == "1 Elm St"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"report_id": ...}, "missing_report_id"),
        ({"report_id": 7.0}, "wrong_type_report_id"),
        ({"channel": "sms"}, "unknown_channel"),
        ({"category": ..., "text": ...}, "missing_category"),
        ({"category": "", "text": ""}, "missing_category"),
        # Only spaces or invisible characters: no words to act on.
        ({"category": " ", "text": "\u200b\u200b"}, "missing_category"),
        ({"category": 3.5j}, "wrong_type_category"),
        ({"time": ...}, "missing_time"),
        ({"location": "here"}, "wrong_type_location"),
        ({"media": "https://media.example/p/1.jpg"}, "wrong_type_media"),
        ({"media": [1]}, "wrong_type_media"),
        ({"media": [None]}, "wrong_type_media"),
        ({"media": [""]}, "bad_media"),
        ({"media": ["x" * 501]}, "bad_media"),
        ({"media": [f"m{i}" for i in range(21)]}, "bad_media"),
        ({"reporter": ["a"]}, "wrong_type_reporter"),
    ],
)
def test_bad_tip_is_invalid(models: Models, fields: dict[str, Any],
                            expected: str) -> None:
    assert reason(from_app, models, payload(TIP, **fields)) == expected


def test_media_limits_are_inclusive(models: Models) -> None:
    media = ["x" * 500] + [f"m{i}" for i in range(19)]
    report = run(from_app, models, payload(TIP, media=media))

    assert len(report.media) == 20


def test_naive_time_is_local_to_the_source_zone(models: Models) -> None:
    report = run(from_app, models, payload(TIP, time="2016-01-23T07:00:00",
                                           source="montgomery_pa"))

    assert report.event_ms == TIME_MS  # 07:00 EST is 12:00 UTC


def test_future_time_is_flagged(models: Models) -> None:
    report = run(from_app, models, payload(TIP, time="2030-01-01T00:00:00Z"))

    assert "time_in_future" in report.flags


# --- every shared post text ------------------------------------------------------


def shared_posts() -> Iterator[dict[str, Any]]:
    """Every disaster-tweet and CrisisLexT6 text as a social post payload."""
    with (SHARED_DATA / "disaster_tweets" / "train.csv").open(
        newline="", encoding="utf-8"
    ) as rows:
        for row in csv.DictReader(rows):
            yield {"post_id": f"dt-{row['id']}", "handle": f"dt{row['id']}",
                   "text": row["text"], "time": TIME}
    with (SHARED_DATA / "crisislex" / "crisislex_t6_ontopic.csv").open(
        newline="", encoding="utf-8"
    ) as rows:
        for number, row in enumerate(csv.DictReader(rows)):
            yield {"post_id": f"t6-{number}", "handle": f"t6-{number}",
                   "text": row["text"], "time": row["created_at_utc"]}


def test_every_shared_post_text_becomes_a_report(models: Models) -> None:
    parsed, failed = 0, []
    for post in shared_posts():
        try:
            report = from_social(post, RECEIVED_MS, models.normalize, "")
        except Invalid as exc:
            failed.append((post["post_id"], exc.reason, exc.detail))
            continue
        assert report.text == post["text"], post["post_id"]
        assert report.channel == "social"
        parsed += 1

    assert failed == []
    assert parsed == 6_044 + 50_076
