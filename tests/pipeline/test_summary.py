"""summary: the figures of a replay, each raw message counted once."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.summary import RunSummary, percentile


def board(ref: str, report_id: str, incident_id: str, change: str = "new",
          latency_ms: int = 40, **extra: Any) -> dict[str, Any]:
    return {"raw_ref": ref, "report_id": report_id, "incident_id": incident_id,
            "change": change, "received_ms": 1_000, "board_ms": 1_000 + latency_ms,
            **extra}


def test_drained_once_every_read_report_is_accounted() -> None:
    run = RunSummary(reports_read=3)
    run.add_board(board("t:0:0", "r0", "I-1"))
    run.add_dead_letter({"raw_ref": "t:0:1", "reason": "malformed_json"})
    assert not run.drained

    run.add_board(board("t:0:1", "r1", "I-1", "merged"))  # already accounted
    assert not run.drained

    run.add_dead_letter({"raw_ref": "t:1:0", "reason": "bad_time"})
    assert run.drained


def test_dead_letters_by_reason_and_duplicates_counted_once() -> None:
    run = RunSummary(reports_read=4)
    for ref, reason in [("t:0:0", "malformed_json"), ("t:0:1", "malformed_json"),
                        ("t:0:0", "malformed_json"), ("t:0:2", "bad_time"),
                        ("t:0:3", "")]:
        run.add_dead_letter({"raw_ref": ref, "reason": reason})
    run.add_dead_letter({"raw_ref": "t:0:4"})

    figures = run.figures(elapsed_s=2.0)

    assert figures["dead_lettered"] == {"": 1, "bad_time": 1, "malformed_json": 2,
                                        "unknown": 1}
    assert figures["dead_lettered_total"] == 5
    assert figures["reports_accounted"] == 5
    assert figures["throughput_rps"] == 2.5


def test_board_duplicates_counted_once_by_raw_ref() -> None:
    run = RunSummary(reports_read=2)
    run.add_board(board("t:0:0", "r0", "I-1", latency_ms=10))
    run.add_board(board("t:0:0", "r0", "I-1", latency_ms=999))
    run.add_board(board("t:0:1", "r1", "I-1", "merged", latency_ms=20,
                        alerts_suppressed=["fire"]))

    figures = run.figures(elapsed_s=1.0)

    assert figures["incidents"] == 1
    assert figures["merges"] == 1
    assert figures["repeats"] == 0
    assert figures["alerts_suppressed"] == 1
    assert sorted(run.latencies_ms) == [10.0, 20.0]
    assert figures["reports_in_two_incidents"] == 0
    assert figures["board_redeliveries"] == 1


def test_a_redelivery_that_names_another_incident_is_seen() -> None:
    run = RunSummary(reports_read=1)
    run.add_board(board("t:0:0", "r0", "I-1"))
    run.add_board(board("t:0:0", "r0", "I-9"))  # the same raw message, again

    figures = run.figures(elapsed_s=1.0)

    assert figures["reports_in_two_incidents"] == 1
    assert figures["board_redeliveries"] == 1 and figures["reports_accounted"] == 1


def test_report_in_two_incidents_is_a_conflict() -> None:
    run = RunSummary(reports_read=3)
    run.add_board(board("t:0:0", "r0", "I-1"))
    run.add_board(board("t:0:1", "r0", "I-2"))  # redelivered, matched elsewhere
    run.add_board(board("t:0:2", "r0", "I-1", "repeat"))

    figures = run.figures(elapsed_s=1.0)

    assert figures["reports_in_two_incidents"] == 1
    assert figures["incidents"] == 2
    assert figures["repeats"] == 1


def test_latest_board_record_per_incident_decides_units_and_shortfalls() -> None:
    run = RunSummary(reports_read=4)
    run.add_board(board("t:0:0", "r0", "I-1", route_shortfall=["3 busy"]))
    run.add_board(board("t:0:1", "r1", "I-1", "merged",
                        units=[{"unit_id": "MED-01"}]))
    run.add_board(board("t:0:2", "r2", "I-2", route_shortfall=["12 busy"]))
    run.add_board(board("t:0:3", "r3", "I-3",
                        route_shortfall=["incident location unknown"]))

    figures = run.figures(elapsed_s=1.0)

    assert figures["units_assigned"] == 1
    assert figures["route_shortfalls"] == {"busy": 1, "incident location unknown": 1}


def test_alerts_counted_once_by_id() -> None:
    run = RunSummary(reports_read=0)
    alert = {"alert_id": "I-1/fire", "rule_id": "fire",
             "recipients": [{"role": "dispatcher", "channel": "push"},
                            {"role": "fire_battalion", "channel": "sms"}]}
    run.add_alert(alert)
    run.add_alert(alert)
    run.add_alert({"alert_id": "I-2/fire", "rule_id": "fire", "recipients": [
        {"role": "dispatcher", "channel": "push"}]})
    run.add_anomaly({"key": "NORRISTOWN|EMS"})

    figures = run.figures(elapsed_s=0.0)

    assert figures["alerts"] == 2
    assert figures["alerts_by_rule"] == {"fire": 2}
    assert figures["alerts_by_recipient"] == {"dispatcher/push": 2,
                                              "fire_battalion/sms": 1}
    assert figures["anomalies_flagged"] == 1
    assert figures["throughput_rps"] is None
    assert run.drained


def test_latency_percentiles_from_the_board() -> None:
    run = RunSummary(reports_read=100)
    for n in range(100, 0, -1):
        run.add_board(board(f"t:0:{n}", f"r{n}", f"I-{n}", latency_ms=n))

    assert run.figures(elapsed_s=1.0)["latency_ms"] == {
        "p50": 50.0, "p95": 95.0, "p99": 99.0}


def test_empty_run_has_no_percentiles() -> None:
    assert RunSummary(reports_read=0).figures(1.0)["latency_ms"] == {
        "p50": None, "p95": None, "p99": None}


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([7], 0, 7.0),
        ([7], 99, 7.0),
        ([1, 2, 3, 4], 50, 2.0),
        ([1, 2, 3, 4], 51, 3.0),
        ([1, 2, 3, 4], 100, 4.0),
        ([1, 2, 3, 4], 0, 1.0),
        (list(range(1, 21)), 95, 19.0),
    ],
)
def test_nearest_rank_percentile(values: list[float], q: float,
                                 expected: float | None) -> None:
    assert percentile(values, q) == expected


def test_updates_escalations_and_collapsed_are_counted_once() -> None:
    run = RunSummary(reports_read=1)
    alert = {"alert_id": "I-1/fire", "rule_id": "fire", "action": "alert",
             "revision": 0, "recipients": [{"role": "dispatcher", "channel": "push"}]}
    update = dict(alert, action="update", revision=1)
    escalation = dict(alert, action="escalation",
                      recipients=[{"role": "supervisor", "channel": "sms"}])
    for record in (alert, update, update, escalation, escalation):
        run.add_alert(record)
    run.add_board(board("t:0:1", "r1", "I-1", alerts_collapsed=["fire"]))

    figures = run.figures(elapsed_s=1.0)

    assert figures["alerts"] == 1
    assert figures["alerts_by_recipient"] == {"dispatcher/push": 1}
    assert figures["alert_updates"] == {"fire": 1}
    assert figures["alert_escalations"] == {"fire": 1}
    assert figures["alerts_collapsed"] == 1
