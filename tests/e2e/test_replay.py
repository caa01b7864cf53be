"""Replay real Montgomery County rows through every stage and check the invariants."""

from __future__ import annotations

import base64
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from agents.cli import metric_figures
from agents.export import export_eido
from agents.replay import replay
from tests.e2e.conftest import (
    LivePipeline,
    montgomery_log,
    publish_test_fleet,
    read_topic,
)

ROWS = 2000


@pytest.fixture(scope="module")
def replayed(live_pipeline: LivePipeline) -> dict[str, Any]:
    publish_test_fleet(live_pipeline, ROWS)
    figures = replay(live_pipeline.bootstrap, montgomery_log(), "montgomery_pa",
                     limit=ROWS, stall_s=60)
    return {
        "figures": figures,
        "board": read_topic(live_pipeline.bootstrap, "incidents.board"),
        "dead": read_topic(live_pipeline.bootstrap, "reports.deadletter"),
        "alerts": first_alerts(live_pipeline),
        "metrics": metric_figures(live_pipeline.metrics()),
    }


def first_alerts(pipeline: LivePipeline) -> list[dict[str, Any]]:
    """The alerts as first sent (not their updates or escalations)."""
    return [a for a in read_topic(pipeline.bootstrap, "alerts.outbound")
            if a.get("action", "alert") == "alert"]


def test_every_report_ends_in_exactly_one_place(replayed: dict[str, Any]) -> None:
    board_refs = Counter(record["raw_ref"] for record in replayed["board"])
    dead_refs = Counter(record["raw_ref"] for record in replayed["dead"])

    assert replayed["figures"]["reports_accounted"] == ROWS
    assert len(set(board_refs) | set(dead_refs)) == ROWS
    assert not set(board_refs) & set(dead_refs)
    assert max(board_refs.values()) == 1

    incidents_of: dict[str, set[str]] = {}
    for record in replayed["board"]:
        incidents_of.setdefault(record["report_id"], set()).add(record["incident_id"])
    assert all(len(ids) == 1 for ids in incidents_of.values())


def test_incidents_merge_reports_of_one_event(replayed: dict[str, Any]) -> None:
    figures = replayed["figures"]
    merged = [r for r in replayed["board"] if r["change"] == "merged"]

    # Montgomery posts one record per responding discipline: some must merge.
    assert figures["merges"] > 0
    assert figures["incidents"] + figures["merges"] == ROWS
    for record in merged:
        assert record["report_count"] >= 2
        assert 0.0 < record["merge"]["confidence"] <= 1.0
        assert record["merge"]["distance_m"] <= 150.0 + 1e-6


def test_every_incident_is_scored_and_routed_with_reasons(
    replayed: dict[str, Any],
) -> None:
    for record in replayed["board"]:
        assert 1 <= record["priority"] <= 5
        assert record["priority_reasons"][0].startswith("kind ")
        # No dispatcher outcome in a replay: the model says it leaves it to the
        # rules, on every incident.
        assert record["priority_reasons"][-1].startswith("model: no dispatcher")
        assert record["units"] or record["route_shortfall"]
    figures = replayed["figures"]
    assert figures["units_assigned"] > 0.9 * figures["incidents"]
    assert figures["incidents_with_reasons"] == figures["incidents_scored"] \
        == figures["incidents"]
    assert figures["priority_model_moved"] == 0
    assert sum(figures["priorities"].values()) == figures["incidents"]


def test_alerts_name_existing_incidents_once_per_rule(replayed: dict[str, Any]) -> None:
    incidents = {record["incident_id"] for record in replayed["board"]}
    per_rule = Counter((a["incident_id"], a["rule_id"]) for a in replayed["alerts"])

    assert replayed["alerts"], "a 2,000-row replay fires some alerts"
    assert all(alert["incident_id"] in incidents for alert in replayed["alerts"])
    assert max(per_rule.values()) == 1


def test_metrics_agree_with_the_summary(replayed: dict[str, Any]) -> None:
    figures, metrics = replayed["figures"], replayed["metrics"]
    changes = 'intake_incident_changes_total{change=%s}'

    assert metrics['intake_stage_events_total{outcome=ok,stage=normalize}'] + \
        metrics.get("intake_deadletter_total", 0) == ROWS
    assert metrics[changes % "new"] == figures["incidents"]
    assert metrics[changes % "merged"] == figures["merges"]
    assert metrics["intake_alerts_total"] == figures["alerts"]
    assert metrics['intake_stage_events_total{outcome=ok,stage=alert}'] == \
        ROWS - figures["dead_lettered_total"]


def test_redelivered_reports_change_nothing(
    live_pipeline: LivePipeline, replayed: dict[str, Any]
) -> None:
    # The newest rows again, as a crash between a batch and its commit would.
    again = replay(live_pipeline.bootstrap, montgomery_log(), "montgomery_pa",
                   start=ROWS - 300, limit=ROWS, stall_s=60)

    assert again["repeats"] == 300
    assert again["incidents"] <= 300
    assert again["alerts"] == 0
    alerts = first_alerts(live_pipeline)
    assert len(alerts) == len(replayed["alerts"])


def test_bad_input_is_dead_lettered_and_the_worker_goes_on(
    live_pipeline: LivePipeline, replayed: dict[str, Any]
) -> None:
    bad = [
        ("reports.raw.json", b'{"report_id": "x1", "time": '),
        ("reports.raw.json", b"\xff\xfe\x00garbage"),
        ("reports.raw.json", b"[1, 2, 3]"),
        ("reports.raw.json", orjson.dumps({"report_id": "x2", "type": "fire"})),
        ("reports.raw.cad", orjson.dumps({"source": "atlantis", "row": {}})),
        ("reports.raw.json", b"{" + b" " * 70_000 + b"}"),
        # Its dead letter, base64 and all, would outgrow a broker message.
        ("reports.raw.json", b"{" + b" " * 900_000 + b"}"),
    ]
    good = orjson.dumps({"report_id": "ok-1", "time": "2016-01-23T12:00:00-05:00",
                         "type": "STRUCTURE FIRE", "channel": "app",
                         "location": {"lat": 40.12, "lon": -75.34}})
    producer = KafkaProducer(bootstrap_servers=live_pipeline.bootstrap)
    for topic, value in [*bad, ("reports.raw.json", good)]:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()

    deadline = time.monotonic() + 30
    reasons: Counter[str] = Counter()
    dead: list[dict[str, Any]] = []
    arrived = False
    while time.monotonic() < deadline and not (arrived and sum(reasons.values()) >= 7):
        dead = read_topic(live_pipeline.bootstrap, "reports.deadletter")
        reasons = Counter(d["reason"] for d in dead[len(replayed["dead"]):])
        board = read_topic(live_pipeline.bootstrap, "incidents.board")
        arrived = any(r["report_id"] == "json:ok-1" for r in board)

    assert arrived, "a good report after bad ones still reaches the board"
    assert reasons == Counter({
        "malformed_json": 2, "not_an_object": 1, "missing_time": 1,
        "unknown_source": 1, "oversized": 2,
    })
    huge = next(d for d in dead if d["original_bytes"] == 900_002)
    assert len(base64.b64decode(huge["original_b64"])) == 64 * 1024


def test_incidents_export_as_eido_style_json(live_pipeline: LivePipeline,
                                             replayed: dict[str, Any],
                                             tmp_path: Path) -> None:
    merged = [r["incident_id"] for r in replayed["board"] if r["change"] == "merged"]
    wanted = sorted(set(merged))[:3]
    written = export_eido(live_pipeline.bootstrap, tmp_path, wanted)

    assert [p.name for p in written] == [f"{i}.eido.json" for i in wanted]
    for path, incident_id in zip(written, wanted, strict=True):
        eido = orjson.loads(path.read_bytes())
        assert eido["incidentComponent"]["incidentTrackingIdentifier"] == incident_id
        assert len(eido["callComponent"]) >= 2
        assert eido["mergeComponent"]
    with pytest.raises(KeyError):
        export_eido(live_pipeline.bootstrap, tmp_path, ["I-not-there"])


def test_alert_state_of_quiet_incidents_is_forgotten(replayed: dict[str, Any]
                                                     ) -> None:
    # 2,000 rows span five days of event time: the first days' incidents are
    # past seen_ttl_s (a day), so they left the alerts-sent table.
    forgotten = replayed["metrics"].get("intake_alert_state_forgotten_total", 0)
    assert 0 < forgotten < replayed["figures"]["incidents"]
