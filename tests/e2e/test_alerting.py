"""Alerting on a real broker and worker: an alert per rule and recipient in the
outbox and on alerts.delivered; a redelivered change sends nothing; updates
collapse; a rate-limited recipient gets a digest; an unacknowledged alert
escalates and an acknowledged one does not."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from agents.cli import read_metrics
from agents.settings import ROOT
from benchmarks.intake import produce
from pipeline.bundle import partition_for
from tests.e2e.conftest import LivePipeline, read_topic, running_pipeline

RULES = """
districts_file: districts.yaml
zone: UTC
update_interval_s: 2
rate_limit: {deliveries: 2, per_s: 4}
rules:
  - id: injury
    kinds: [medical_trauma]
    max_priority: 3
    recipients:
      - {role: dispatcher, channel: push}
      - {role: partner_agency, channel: webhook}
    ack_within_s: 3
    escalate_to:
      - {role: supervisor, channel: sms}
  - id: downtown
    kinds: ["*"]
    max_priority: 3
    districts: [norristown]
    recipients:
      - {role: supervisor, channel: email}
"""
PLACES = {"A": (40.120, -75.340), "B": (40.210, -75.270), "C": (40.300, -75.500)}


def call(call_id: str, place: str, number: str, text: str = "") -> dict[str, Any]:
    lat, lon = PLACES[place]
    return {"call_id": call_id, "source": "montgomery_pa",
            "time": "2016-02-10T08:00:00-05:00", "type": "FALL VICTIM",
            "text": text, "caller_number": number,
            "location": {"lat": lat, "lon": lon, "accuracy_m": 20}}


def send_calls(pipeline: LivePipeline, *calls: dict[str, Any]) -> None:
    produce(pipeline.bootstrap, [
        ("reports.raw.call", c["call_id"].encode(), orjson.dumps(c), "")
        for c in calls])


def wait_for(what: Callable[[], Any], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("timed out waiting")


@pytest.fixture(scope="module")
def alerting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("alerting")
    models = work / "models"
    shutil.copytree(ROOT / "models", models)
    (models / "alert_rules.yaml").write_text(RULES, encoding="utf-8")
    with running_pipeline(work, models_dir=models, outbox_dir=work / "outbox",
                          alert_tick_s=0.5) as pipeline:
        yield run_scenario(pipeline, work / "outbox" / pipeline.settings.app_id)


def outbound(pipeline: LivePipeline) -> list[dict[str, Any]]:
    return read_topic(pipeline.bootstrap, "alerts.outbound", quiet_s=0.3)


def run_scenario(pipeline: LivePipeline, outbox: Path) -> dict[str, Any]:
    # 1. Three falls far apart: three incidents, A inside the Norristown district.
    send_calls(pipeline, call("AL-A", "A", "+1 610 555 0101"),
               call("AL-B", "B", "+1 610 555 0102"),
               call("AL-C", "C", "+1 610 555 0103"))
    first = wait_for(lambda: (lambda a: a if len(a) >= 4 else None)(
        [r for r in outbound(pipeline) if r["action"] == "alert"]))
    incident_of = {r["raw_ref"]: r["incident_id"] for r in first}
    board = read_topic(pipeline.bootstrap, "incidents.board", quiet_s=0.3)
    by_call = {r["report_id"].rsplit(":", 1)[1]: r for r in board
               if r["raw_ref"] in incident_of}
    a, b = by_call["AL-A"], by_call["AL-B"]

    # 2. A is acknowledged at once; B and C are not.
    producer = KafkaProducer(bootstrap_servers=pipeline.bootstrap)
    ack = {"alert_id": f"{a['incident_id']}/injury", "by": "desk-1",
           "at_ms": int(time.time() * 1000)}
    producer.send("alerts.acks", key=a["incident_id"].encode(),
                  value=orjson.dumps(ack))
    producer.send("alerts.acks", key=a["incident_id"].encode(),
                  value=orjson.dumps(ack))  # a redelivered ack
    # An ack of a rule that is no rule: counted, but never a label of its own.
    producer.send("alerts.acks", key=a["incident_id"].encode(),
                  value=orjson.dumps({**ack, "alert_id": a["incident_id"] + "/"
                                      + "bogus" * 200}))
    # An ack that names nobody is refused: B still escalates.
    producer.send("alerts.acks", key=b["incident_id"].encode(),
                  value=orjson.dumps({**ack, "alert_id": f"{b['incident_id']}/injury",
                                      "by": " "}))
    # An ack on another partition than its incident's is refused too.
    c_id = by_call["AL-C"]["incident_id"]
    producer.send("alerts.acks", value=orjson.dumps(
        {**ack, "alert_id": f"{c_id}/injury"}),
        partition=(partition_for(c_id.encode(), 4) + 1) % 4)

    # 3. A's change again, as a crash before a commit would redeliver it.
    change = {k: v for k, v in a.items() if not k.startswith("alerts")}
    producer.send("incidents.changes", value=orjson.dumps([change]),
                  partition=partition_for(a["incident_id"].encode(), 4))
    producer.flush()
    producer.close()

    # 4. B worsens twice: an update once the interval has passed, then one
    # within the interval, collapsed and sent later as the next revision.
    time.sleep(2.2)
    send_calls(pipeline, call("AL-B2", "B", "+1 610 555 0202", "she is bleeding"))
    wait_for(lambda: any(r["action"] == "update" for r in outbound(pipeline)))
    send_calls(pipeline, call("AL-B3", "B", "+1 610 555 0203", "a child fell too"))

    # 5. Long enough for deadlines (3 s), pending updates (2 s) and the rate
    # window (4 s) to pass, on the wall clock with no new changes.
    time.sleep(6)
    return {
        "pipeline": pipeline, "a": a, "b": b,
        "outbound": outbound(pipeline),
        "delivered": read_topic(pipeline.bootstrap, "alerts.delivered", quiet_s=0.5),
        "board": read_topic(pipeline.bootstrap, "incidents.board", quiet_s=0.3),
        "outbox": {path.stem: [orjson.loads(line) for line in
                               path.read_bytes().splitlines()]
                   for path in outbox.glob("*.jsonl")},
        "metrics": read_metrics(pipeline.settings.web_port),
        "dead": read_topic(pipeline.bootstrap, "reports.deadletter", quiet_s=0.3),
    }


def delivered_ids(deliveries: list[dict[str, Any]]) -> set[str]:
    """Every delivery id, those folded into digests included."""
    ids = set()
    for d in deliveries:
        ids.add(d["delivery_id"])
        ids.update(item["delivery_id"] for item in d.get("items", ()))
    return ids


def test_an_alert_per_rule_and_recipient_in_the_outbox_and_on_the_topic(
        alerting: dict[str, Any]) -> None:
    alerts = [r for r in alerting["outbound"] if r["action"] == "alert"]
    outbox = [d for lines in alerting["outbox"].values() for d in lines]

    assert sorted(r["rule_id"] for r in alerts) == ["downtown", "injury", "injury",
                                                    "injury"]
    wanted = {f"{r['alert_id']}#0:alert@{p['role']}/{p['channel']}"
              for r in alerts for p in r["recipients"]}
    assert wanted <= delivered_ids(outbox)
    assert wanted <= delivered_ids(alerting["delivered"])
    assert len(outbox) == len(alerting["delivered"])
    downtown = next(r for r in alerts if r["rule_id"] == "downtown")
    assert downtown["incident_id"] == alerting["a"]["incident_id"]


def test_each_channel_gets_its_rendered_form(alerting: dict[str, Any]) -> None:
    outbox = alerting["outbox"]

    assert set(outbox) == {"push", "webhook", "email", "sms"}
    assert all(d["rendered"]["title"] and "body" in d["rendered"]
               for d in outbox["push"])
    assert all(orjson.loads(d["rendered"]["json"])["delivery_id"] == d["delivery_id"]
               for d in outbox["webhook"])
    assert all(d["rendered"]["subject"].startswith("[intake]")
               for d in outbox["email"])
    assert all(len(d["rendered"]["text"]) <= 160 for d in outbox["sms"])


def test_a_redelivered_change_or_ack_sends_nothing_twice(
        alerting: dict[str, Any]) -> None:
    per_action = [(r["alert_id"], r["action"], r["revision"])
                  for r in alerting["outbound"]]
    a_changes = [r for r in alerting["board"]
                 if r["incident_id"] == alerting["a"]["incident_id"]]

    assert len(per_action) == len(set(per_action))
    assert len(a_changes) == 2  # the change and its redelivery
    assert a_changes[1]["alerts"] == [] and a_changes[1]["alerts_updated"] == []
    assert sorted(a_changes[1]["alerts_suppressed"]) == ["downtown", "injury"]
    assert 'intake_alert_acks_total{outcome="repeated",rule="injury"} 1.0' in \
        alerting["metrics"]


def test_updates_of_an_alert_collapse_within_the_interval(
        alerting: dict[str, Any]) -> None:
    b_alert = f"{alerting['b']['incident_id']}/injury"
    updates = [r for r in alerting["outbound"]
               if r["alert_id"] == b_alert and r["action"] == "update"]
    collapsed = [r for r in alerting["board"] if r.get("alerts_collapsed")]

    assert [u["revision"] for u in updates] == [1, 2]
    assert [u["priority"] for u in updates] == [2, 1]
    assert updates[0]["changed"] == ["priority raised 3 -> 2"]
    assert [r["alerts_collapsed"] for r in collapsed] == [["injury"]]
    assert 'intake_alert_collapsed_total{rule="injury"} 1.0' in alerting["metrics"]


def test_a_rate_limited_recipient_gets_a_digest(alerting: dict[str, Any]) -> None:
    push = alerting["outbox"]["push"]
    digests = [d for d in push if d["action"] == "digest"]

    # Three alerts and two updates for a desk that takes two per 4 s.
    assert digests
    assert all(d["recipient"] == "dispatcher/push" for d in push)
    assert len(delivered_ids(push) - {d["delivery_id"] for d in digests}) == 5
    assert all(d["rendered"]["title"].startswith("DIGEST") for d in digests)
    assert 'intake_alert_rate_limited_total{channel="push",role="dispatcher"}' in \
        alerting["metrics"]


def test_an_unacknowledged_alert_escalates_once_and_an_acknowledged_one_not(
        alerting: dict[str, Any]) -> None:
    escalated = {r["incident_id"] for r in alerting["outbound"]
                 if r["action"] == "escalation"}
    incidents = {r["incident_id"] for r in alerting["outbound"]
                 if r["rule_id"] == "injury"}
    sms = alerting["outbox"]["sms"]

    assert escalated == incidents - {alerting["a"]["incident_id"]}
    assert len(escalated) == 2
    assert sorted(d["incident_id"] for d in sms) == sorted(escalated)
    assert all(d["recipient"] == "supervisor/sms" for d in sms)
    assert 'intake_alert_acks_total{outcome="in_time",rule="injury"} 1.0' in \
        alerting["metrics"]
    assert 'intake_alert_acks_total{outcome="unknown",rule="-"} 1.0' in \
        alerting["metrics"]
    assert "bogus" not in alerting["metrics"]
    refused = [d for d in alerting["dead"] if "who acknowledges" in d["detail"]]
    assert len(refused) == 1 and refused[0]["topic"] == "alerts.acks"
    misrouted = [d for d in alerting["dead"] if "must be keyed" in d["detail"]]
    assert len(misrouted) == 1
