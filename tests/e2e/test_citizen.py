"""Citizens hear each status once on their own channel, and their answers count once.

Reports by text, app and social post about one crash, on a real broker with one
worker: each reporter gets "received" and "help on the way" once, a redelivered
report sends nothing again, a dispatcher's outcome brings "resolved" and a
survey, and a survey answer shows on /metrics once however often it arrives.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from agents.replay import flush_windows
from pipeline.citizen import INACTIVITY
from tests.e2e.conftest import (
    LivePipeline,
    publish_test_fleet,
    read_topic,
    running_pipeline,
)

LAT, LON = 40.1213, -75.3431  # DeKalb Pike and Main St, Norristown
TEXT = "vehicle accident at dekalb pike and main st, two cars"


def stamp(minutes_ago: float) -> str:
    return datetime.fromtimestamp(time.time() - minutes_ago * 60, tz=UTC).isoformat()


def sms(message_id: str, minutes_ago: float) -> dict[str, Any]:
    return {"message_id": message_id, "sender": "+1 215 555 0101", "text": TEXT,
            "time": stamp(minutes_ago), "source": "montgomery_pa",
            "location": {"lat": LAT, "lon": LON, "accuracy_m": 30}}


def app_tip(minutes_ago: float) -> dict[str, Any]:
    return {"report_id": "tip-1", "channel": "app", "time": stamp(minutes_ago),
            "text": TEXT, "reporter": "account-4471", "source": "montgomery_pa",
            "location": {"lat": LAT + 0.0002, "lon": LON, "accuracy_m": 10}}


def post(minutes_ago: float) -> dict[str, Any]:
    return {"post_id": "1800000000000000001", "handle": "@witness_b", "text": TEXT,
            "time": stamp(minutes_ago), "source": "montgomery_pa",
            "geotag": {"lat": LAT, "lon": LON + 0.0002}}


def wait_for(read: Callable[[], list[dict[str, Any]]],
             done: Callable[[list[dict[str, Any]]], bool],
             timeout_s: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        values = read()
        if done(values) or time.monotonic() > deadline:
            return values
        time.sleep(0.5)


def updates(pipeline: LivePipeline) -> list[dict[str, Any]]:
    return [u for u in read_topic(pipeline.bootstrap, "citizen.updates", 0.5)
            if "control" not in u]


def sent_per_reporter_and_status(values: list[dict[str, Any]]) -> Counter[
        tuple[str, str]]:
    return Counter((u["channel"], u["status"]) for u in values)


def samples(pipeline: LivePipeline, name: str) -> dict[tuple[str, str], float]:
    found = {}
    for family in text_string_to_metric_families(pipeline.metrics()):
        for sample in family.samples:
            if sample.name == name:
                found[(sample.labels["channel"], sample.labels["area"])] = sample.value
    return found


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[LivePipeline, KafkaProducer, list[dict[str, Any]]]]:
    with running_pipeline(tmp_path_factory.mktemp("citizen")) as pipeline:
        publish_test_fleet(pipeline, 500)
        producer = KafkaProducer(bootstrap_servers=pipeline.bootstrap, acks="all")
        sends = [
            ("reports.raw.sms", sms("SM-1", 6)),
            ("reports.raw.app", app_tip(5)),
            ("reports.raw.social", post(4)),
            ("reports.raw.sms", sms("SM-2", 3)),  # the texter's follow-up
            ("reports.raw.sms", sms("SM-1", 6)),  # redelivered
        ]
        for topic, value in sends:
            producer.send(topic, value=orjson.dumps(value)).get(30)
            time.sleep(0.3)
        board = wait_for(lambda: read_topic(pipeline.bootstrap, "incidents.board"),
                         lambda b: len(b) >= len(sends))
        first = wait_for(lambda: updates(pipeline), lambda u: len(u) >= 6)
        yield pipeline, producer, board + first
        producer.close()


def test_each_reporter_hears_received_and_help_once_on_their_channel(
        crash: tuple[LivePipeline, KafkaProducer, list[dict[str, Any]]]) -> None:
    pipeline, _, seen = crash
    board = [r for r in seen if "change" in r]
    assert len({r["incident_id"] for r in board}) == 1
    assert sorted(r["change"] for r in board) == [
        "merged", "merged", "merged", "new", "repeat"]
    assert board[0]["units"], "the fleet gave the incident units"

    sent = updates(pipeline)
    assert sent_per_reporter_and_status(sent) == {
        ("sms", "received"): 1, ("sms", "on_the_way"): 1,
        ("app", "received"): 1, ("app", "on_the_way"): 1,
        ("social", "received"): 1, ("social", "on_the_way"): 1}
    via = {u["channel"]: u["via"] for u in sent}
    assert via == {"sms": "sms", "app": "push", "social": "reply"}
    assert all(len(u["text"]) <= 160 for u in sent if u["via"] == "sms")
    texter = [u for u in sent if u["channel"] == "sms"]
    # The reply goes to the first text, not the follow-up or the redelivery.
    assert {u["reply_to"] for u in texter} == {
        r["raw_ref"] for r in board if r["change"] == "new"}
    assert {u["update_id"] for u in texter} == {
        f"{u['incident_id']}/{u['reporter']}/{u['status']}" for u in texter}


def test_an_outcome_resolves_and_surveys_and_an_answer_counts_once(
        crash: tuple[LivePipeline, KafkaProducer, list[dict[str, Any]]]) -> None:
    pipeline, producer, _ = crash
    before = updates(pipeline)
    incident_id = before[0]["incident_id"]
    outcome = {"incident_id": incident_id, "disposition": "towed, no injuries",
               "resolved": True, "by": "dispatcher-7", "at_ms": int(time.time() * 1000),
               "kind": "collision"}
    for _ in range(2):  # a redelivered outcome tells nobody twice
        producer.send("dispatch.outcomes", key=incident_id.encode(),
                      value=orjson.dumps(outcome)).get(30)
    after = wait_for(lambda: updates(pipeline), lambda u: len(u) >= 12)
    time.sleep(1.0)
    after = updates(pipeline)
    counts = sent_per_reporter_and_status(after)
    for channel in ("sms", "app", "social"):
        assert counts[(channel, "resolved")] == counts[(channel, "survey")] == 1
    assert len(after) == 12
    resolved = [u for u in after if u["status"] == "resolved"]
    assert {u["disposition"] for u in resolved} == {"towed, no injuries"}
    assert all("towed" not in u["text"] for u in after)

    survey = next(u for u in after if u["status"] == "survey" and u["via"] == "sms")
    answer = {"update_id": survey["update_id"], "reporter": survey["reporter"],
              "score": 4, "comment": "fast", "at_ms": int(time.time() * 1000)}
    bad = {"incident_id": incident_id, "reporter": survey["reporter"], "score": 9,
           "at_ms": 1}
    for value in (answer, answer, bad):  # redelivered, then a bad one
        producer.send("feedback.answers", key=incident_id.encode(),
                      value=orjson.dumps(value)).get(30)
    letters = wait_for(
        lambda: read_topic(pipeline.bootstrap, "reports.deadletter", 0.5),
        lambda d: any(x["reason"] == "bad_answer" for x in d))
    assert [x["reason"] for x in letters] == ["bad_answer"]

    # A source without dispatch areas names grid cells: one label for all.
    area = "grid" if survey["area"].startswith("grid:") else survey["area"]
    assert samples(pipeline, "intake_satisfaction_answers_total") == {
        ("sms", area): 1.0}
    assert samples(pipeline, "intake_satisfaction_score_sum") == {("sms", area): 4.0}
    assert samples(pipeline, "intake_satisfaction_score_count") == {
        ("sms", area): 1.0}
    assert "intake_satisfaction_answers_repeated_total 1.0" in pipeline.metrics()


def test_the_end_of_a_replay_closes_open_incidents_with_a_survey(
        crash: tuple[LivePipeline, KafkaProducer, list[dict[str, Any]]]) -> None:
    pipeline, producer, seen = crash
    crash_id = seen[0]["incident_id"]
    far = sms("SM-9", 2) | {"sender": "+1 610 555 0199",
                             "location": {"lat": 40.2401, "lon": -75.2838}}
    producer.send("reports.raw.sms", value=orjson.dumps(far)).get(30)
    opened = wait_for(lambda: updates(pipeline), lambda u: any(
        x["incident_id"] != crash_id for x in u))
    open_id = next(u["incident_id"] for u in opened if u["incident_id"] != crash_id)

    token = "end-of-test-replay"
    due = flush_windows(pipeline.bootstrap, token)
    assert ("citizen.updates", 0) in due

    def flushed(values: list[dict[str, Any]]) -> set[tuple[str, int]]:
        return {("citizen.updates", v["partition"]) for v in values
                if v.get("control") == "flushed" and v.get("token") == token}

    wait_for(lambda: read_topic(pipeline.bootstrap, "citizen.updates", 0.5),
             lambda v: {d for d in due if d[0] == "citizen.updates"} <= flushed(v))
    closing = [u for u in updates(pipeline) if u["incident_id"] == open_id]
    assert [u["status"] for u in closing][-2:] == ["resolved", "survey"]
    assert closing[-2]["disposition"] == INACTIVITY
    # The incident a dispatcher resolved is not closed again.
    assert Counter(u["status"] for u in updates(pipeline))["resolved"] == 4
