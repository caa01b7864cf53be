"""Nothing lost at intake, on a real broker and worker: every shared data file's
first rows and 5,000 malformed messages; raw in = normalized + dead-lettered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from benchmarks.intake import (
    agent_restarts,
    check,
    collect,
    corpus_messages,
    feed_messages,
    produce,
)
from tests.e2e.conftest import LivePipeline, read_topic, running_pipeline

ROWS_PER_FILE = 150
MALFORMED = 5_000


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[LivePipeline, dict[str, Any]]]:
    with running_pipeline(tmp_path_factory.mktemp("intake")) as pipeline:
        messages = feed_messages(ROWS_PER_FILE) + corpus_messages(MALFORMED, seed=11)
        refs = produce(pipeline.bootstrap, messages)
        outcome = collect(pipeline.bootstrap, refs, stall_s=60)
        yield pipeline, check(refs, outcome)


def test_raw_in_equals_normalized_plus_dead_lettered(
        intake: tuple[LivePipeline, dict[str, Any]]) -> None:
    _, figures = intake
    assert figures["raw_in"] == 8 * ROWS_PER_FILE + MALFORMED
    assert figures["lost"] == 0
    assert figures["both"] == 0 and figures["normalized_twice"] == 0
    assert figures["normalized"] + figures["dead_lettered"] == figures["raw_in"]


def test_every_recorded_file_normalizes_and_bad_input_has_reasons(
        intake: tuple[LivePipeline, dict[str, Any]]) -> None:
    _, figures = intake
    feeds = {k: v for k, v in figures["by_feed"].items() if k != "malformed"}
    assert len(feeds) == 8
    for name, counts in feeds.items():
        assert counts == {"normalized": ROWS_PER_FILE}, name
    reasons = figures["dead_letter_reasons"]
    assert {"malformed_json", "not_an_object", "oversized", "bad_time"} <= set(reasons)
    malformed = figures["by_feed"]["malformed"]
    assert malformed["normalized"] > 1_000  # repaired, flagged
    assert malformed["dead_lettered"] > 2_000


def test_no_agent_crashed_on_any_of_it(
        intake: tuple[LivePipeline, dict[str, Any]]) -> None:
    pipeline, _ = intake
    assert agent_restarts(pipeline.settings.web_port) == 0
    health = pipeline.health()
    assert health["crashed_agents"] == {} and health["status"] == "ok"


def test_versions_of_one_alarm_update_one_incident_and_a_copy_changes_nothing(
        intake: tuple[LivePipeline, dict[str, Any]]) -> None:
    pipeline, _ = intake
    alarm: dict[str, Any] = {
        "event_id": "E2E-77", "company": "Keystone Alarm",
        "time": "2016-01-23T12:00:00Z", "alarm_type": "burglary", "zone": 3,
        "premises": {"street": "1200 DEKALB PIKE", "city": "NORRISTOWN"},
        "location": {"lat": 40.131, "lon": -75.336}, "status": "new",
    }
    versions = [
        alarm,
        dict(alarm, status="verified", updated="2016-01-23T12:04:00Z"),
        dict(alarm, status="update", updated="2016-01-23T12:02:00Z"),  # older
        dict(alarm, status="cancel", updated="2016-01-23T12:09:00Z"),
        dict(alarm, status="cancel", updated="2016-01-23T12:09:00Z"),  # a copy
    ]
    refs = produce(pipeline.bootstrap, [
        ("reports.raw.alarm", b"E2E-77", orjson.dumps(v), "alarm") for v in versions])
    order = {ref: n for n, ref in enumerate(sorted(refs, key=offset_of))}

    changes: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 30
    while len(changes) < len(refs) and time.monotonic() < deadline:
        for record in read_topic(pipeline.bootstrap, "incidents.board", quiet_s=0.5):
            if record["raw_ref"] in refs:
                changes[record["raw_ref"]] = record
    seen = [changes[ref] for ref in sorted(changes, key=order.__getitem__)]

    assert [c["change"] for c in seen] == ["new", "updated", "repeat", "updated",
                                           "repeat"]
    assert len({c["incident_id"] for c in seen}) == 1
    assert all(c["report_count"] == 1 for c in seen)


def offset_of(ref: str) -> int:
    return int(ref.rsplit(":", 1)[1])


def test_a_text_after_a_call_from_one_number_joins_the_call_s_incident(
        intake: tuple[LivePipeline, dict[str, Any]]) -> None:
    pipeline, _ = intake
    call = {"call_id": "E2E-C1", "source": "montgomery_pa",
            "time": "2016-02-10T08:00:00-05:00", "type": "VEHICLE ACCIDENT",
            "caller_number": "+1 610 555 0199",
            "location": {"lat": 40.2101, "lon": -75.2702, "accuracy_m": 30}}
    text = {"message_id": "E2E-S1", "sender": "+16105550199",
            "source": "montgomery_pa", "time": "2016-02-10T08:06:00-05:00",
            "text": "still here, the driver is not moving"}  # no place, no kind
    changes: dict[str, dict[str, Any]] = {}
    # The text comes after the call (as it does: minutes later).
    for topic, key, message in [("reports.raw.call", b"E2E-C1", call),
                                ("reports.raw.sms", b"E2E-S1", text)]:
        refs = produce(pipeline.bootstrap, [(topic, key, orjson.dumps(message), "")])
        deadline = time.monotonic() + 30
        while not refs.keys() & {c["raw_ref"] for c in changes.values()} and \
                time.monotonic() < deadline:
            for record in read_topic(pipeline.bootstrap, "incidents.board",
                                     quiet_s=0.5):
                if record["raw_ref"] in refs:
                    changes[record["report_id"]] = record
    first = changes["montgomery_pa:E2E-C1"]
    follow = changes["sms:montgomery_pa:E2E-S1"]

    assert follow["change"] == "merged"
    assert follow["incident_id"] == first["incident_id"]
    assert "same reporter (a follow-up)" in follow["merge"]["reasons"]
    assert follow["reporter"] == first["reporter"] != ""


def test_a_post_that_is_no_emergency_is_kept_but_opens_no_incident(
        intake: tuple[LivePipeline, dict[str, Any]]) -> None:
    pipeline, _ = intake
    posts = {
        "E2E-P1": "house fire on elm street, smoke everywhere, kids inside",
        "E2E-P2": "this new song is fire lol",
    }
    refs = produce(pipeline.bootstrap, [
        ("reports.raw.social", key.encode(), orjson.dumps({
            "post_id": key, "handle": f"@{key}", "text": text,
            "time": "2016-02-10T08:00:00-05:00", "source": "montgomery_pa",
            "geotag": {"lat": 40.1213, "lon": -75.3431}}), key)
        for key, text in posts.items()])
    by_ref = refs  # raw ref -> post id
    board: dict[str, dict[str, Any]] = {}
    held: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 30
    while (not board or not held) and time.monotonic() < deadline:
        board = {r["raw_ref"]: r for r in read_topic(
            pipeline.bootstrap, "incidents.board", quiet_s=0.5)
            if r.get("raw_ref") in refs}
        held = {r["raw_ref"]: r for r in read_topic(
            pipeline.bootstrap, "reports.irrelevant", quiet_s=0.5)
            if r.get("raw_ref") in refs}
    assert {by_ref.get(ref) for ref in board} == {"E2E-P1"}
    assert {by_ref.get(ref) for ref in held} == {"E2E-P2"}
    (kept,) = held.values()
    assert "not_an_emergency" in kept["flags"]
    assert kept["details"]["relevance"]["emergency"] is False
    assert kept["text"] == posts["E2E-P2"]
    # The shared feeds' posts were judged too, and some held back.
    metrics = pipeline.metrics()
    assert 'intake_posts_judged_total{verdict="not_an_emergency"}' in metrics
    assert "intake_posts_held_total" in metrics


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00"])
def test_a_call_dated_outside_any_calendar_still_reaches_the_board(
        intake: tuple[LivePipeline, dict[str, Any]], when: str) -> None:
    # Year 1 is many systems' "no date"; 9999 in a zone west of UTC is past
    # year 10000 in UTC. Flagged, matched alone, and on the board: no stage
    # may drop it (alerting once failed on its minute of the day).
    pipeline, _ = intake
    call_id = f"E2E-T{when[:4]}"
    call = {"call_id": call_id, "source": "montgomery_pa", "time": when,
            "type": "STRUCTURE FIRE", "caller_number": "+1 610 555 0142",
            "location": {"lat": 40.1201, "lon": -75.3402, "accuracy_m": 20}}
    refs = produce(pipeline.bootstrap, [("reports.raw.call", call_id.encode(),
                                         orjson.dumps(call), "")])
    board: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while not board and time.monotonic() < deadline:
        board = [r for r in read_topic(pipeline.bootstrap, "incidents.board",
                                       quiet_s=0.5) if r["raw_ref"] in refs]
    dead = [r["reason"] for r in read_topic(pipeline.bootstrap,
                                            "reports.deadletter", quiet_s=0.5)]

    assert len(board) == 1 and board[0]["change"] == "new"
    assert board[0]["alerts"], "a structure fire alerts whatever its date"
    assert "alert_error" not in dead
