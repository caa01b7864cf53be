"""What a replay did: figures built from the pipeline's terminal topics.

Every raw message ends in exactly one place: an incident on the board, or the
dead-letter topic. ``RunSummary`` counts them by the raw message's reference
(topic:partition:offset), so a record delivered twice is counted once.

>>> run = RunSummary(reports_read=2)
>>> run.add_dead_letter({"raw_ref": "t:0:0", "reason": "malformed_json"})
>>> run.add_board({"raw_ref": "t:0:1", "report_id": "r", "incident_id": "I-1",
...                "change": "new", "received_ms": 0, "board_ms": 40,
...                "units": [{"unit_id": "MED-01"}], "alerts": ["fire"]})
>>> run.drained
True
>>> f = run.figures(elapsed_s=1.0)
>>> f["incidents"], f["dead_lettered"], f["latency_ms"]["p50"]
(1, {'malformed_json': 1}, 40.0)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pipeline.schema import MERGED, MOVED_BY, REPEAT, SPLIT, UPDATED

#: The model's reason when it moved a priority ends with the shift: ": -1".
MOVED = re.compile(r": [+-]\d+$")


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (``q`` in 0..100)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


class RunSummary:
    def __init__(self, reports_read: int):
        self.reports_read = reports_read
        self.accounted: set[str] = set()
        self.dead_letters: Counter[str] = Counter()
        self.changes: Counter[str] = Counter()
        #: The incidents the board's records of each report name.
        self.report_incidents: dict[str, set[str]] = {}
        #: The incidents a split or a move took each report from and to: a
        #: report named by two of them is in no conflict.
        self.moved: dict[str, set[str]] = {}
        #: Board records of a raw message seen before: redeliveries.
        self.board_repeats = 0
        self.incidents: dict[str, dict[str, Any]] = {}
        self.latencies_ms: list[float] = []
        self.alert_ids: set[str] = set()
        self.alerts_by_rule: Counter[str] = Counter()
        self.alerts_by_recipient: Counter[str] = Counter()
        self.suppressed = 0
        self.collapsed = 0
        #: (alert_id, action, revision) of updates and escalations seen.
        self.alert_actions: set[tuple[str, str, int]] = set()
        self.updates_by_rule: Counter[str] = Counter()
        self.escalations_by_rule: Counter[str] = Counter()
        self.anomalies: list[dict[str, Any]] = []
        #: Surge alerts sent, by alert id (one per key, window and rule).
        self.surge_alerts: dict[str, str] = {}
        #: Citizen updates by update_id (a redelivered one counts once), and
        #: survey answers by (incident, reporter) until the surveys are known.
        self.citizen_updates: dict[str, tuple[str, str]] = {}
        self.answers: set[tuple[str, str]] = set()

    @property
    def drained(self) -> bool:
        return len(self.accounted) >= self.reports_read

    def add_dead_letter(self, record: dict[str, Any]) -> None:
        ref = record.get("raw_ref", "")
        if ref in self.accounted:
            return
        self.accounted.add(ref)
        self.dead_letters[record.get("reason", "unknown")] += 1

    def add_board(self, record: dict[str, Any]) -> None:
        incident_id = record["incident_id"]
        self.incidents[incident_id] = record
        split = record.get("split")
        if split:
            # An operator's split, or a report its reporter's fix moved: not
            # a report, nothing to account for. Its redelivery names the
            # incident it went to: either is its incident, whichever
            # partition the board was read from first.
            self.moved.setdefault(split.get("report_id", ""), set()).update(
                i for i in (split.get("from"), split.get("into")) if i)
            if split.get("by") == MOVED_BY:
                if record["change"] == MERGED:
                    self.changes[MOVED_BY] += 1
                return
            self.changes[f"split_{record['change']}"] += 1
            return
        # Before a redelivery is set aside: a report delivered again (a worker
        # killed before its commit) must name the incident it named first.
        report_id = record["report_id"]
        self.report_incidents.setdefault(report_id, set()).add(incident_id)
        ref = record.get("raw_ref", "")
        if ref in self.accounted:
            self.board_repeats += 1
            return
        self.accounted.add(ref)
        self.changes[record["change"]] += 1
        self.suppressed += len(record.get("alerts_suppressed", ()))
        self.collapsed += len(record.get("alerts_collapsed", ()))
        self.latencies_ms.append(float(record["board_ms"] - record["received_ms"]))

    def add_alert(self, record: dict[str, Any]) -> None:
        """An alert, or an update or escalation of one (each counted once)."""
        action = record.get("action", "alert")
        if action != "alert":
            ident = (record["alert_id"], action, int(record.get("revision", 0)))
            if ident not in self.alert_actions:
                self.alert_actions.add(ident)
                by_rule = (self.updates_by_rule if action == "update"
                           else self.escalations_by_rule)
                by_rule[record["rule_id"]] += 1
            return
        if record["alert_id"] in self.alert_ids:
            return
        self.alert_ids.add(record["alert_id"])
        self.alerts_by_rule[record["rule_id"]] += 1
        for recipient in record.get("recipients", ()):
            self.alerts_by_recipient[f"{recipient['role']}/{recipient['channel']}"] += 1

    def add_anomaly(self, record: dict[str, Any]) -> None:
        self.anomalies.append(record)

    def add_surge_alert(self, record: dict[str, Any]) -> None:
        self.surge_alerts.setdefault(record["alert_id"], record["rule_id"])

    def add_citizen_update(self, record: dict[str, Any]) -> None:
        """A status update or survey sent to a reporter (``citizen.updates``)."""
        self.citizen_updates.setdefault(record["update_id"],
                                        (record["status"], record["channel"]))

    def add_answer(self, record: dict[str, Any]) -> None:
        """A survey answer (``feedback.answers``): counted in the figures when
        its survey went out in this run, once per incident and reporter."""
        update_id = record.get("update_id")
        incident_id = (update_id.split("/")[0] if isinstance(update_id, str)
                       else record.get("incident_id"))
        self.answers.add((str(incident_id), str(record.get("reporter"))))

    def citizen_figures(self) -> dict[str, Any]:
        """Updates sent per status and channel, surveys sent, answers received.

        >>> run = RunSummary(reports_read=0)
        >>> for status in ("received", "survey", "survey"):
        ...     run.add_citizen_update({"update_id": f"I-1/rp:a/{status}",
        ...                             "status": status, "channel": "sms"})
        >>> run.add_answer({"update_id": "I-1/rp:a/survey", "reporter": "rp:a"})
        >>> run.add_answer({"incident_id": "I-1", "reporter": "rp:a"})
        >>> run.add_answer({"incident_id": "I-9", "reporter": "rp:b"})
        >>> f = run.citizen_figures()
        >>> f["citizen_updates"], f["surveys_sent"], f["survey_answers"]
        ({'received': {'sms': 1}, 'survey': {'sms': 1}}, 1, 1)
        """
        by_status: dict[str, Counter[str]] = {}
        surveyed: set[tuple[str, str]] = set()
        for update_id, (status, channel) in self.citizen_updates.items():
            by_status.setdefault(status, Counter())[channel] += 1
            if status == "survey":
                incident_id, reporter, _ = update_id.split("/")
                surveyed.add((incident_id, reporter))
        return {
            "citizen_updates": {status: dict(sorted(channels.items()))
                                for status, channels in sorted(by_status.items())},
            "surveys_sent": len(surveyed),
            "survey_answers": len(surveyed & self.answers),
        }

    def figures(self, elapsed_s: float) -> dict[str, Any]:
        latencies = sorted(self.latencies_ms)
        assigned = sum(1 for r in self.incidents.values() if r.get("units"))
        # The units each incident was last recommended, per slot capability,
        # and the first few picks whole, reasons and all.
        picks_by_capability: Counter[str] = Counter()
        examples: list[dict[str, Any]] = []
        for record in self.incidents.values():
            for pick in record.get("units", ()):
                if isinstance(pick, dict):
                    picks_by_capability[str(pick.get("capability", "?"))] += 1
                    if len(examples) < 3:
                        examples.append({"incident_id": record.get("incident_id"),
                                         "kind": record.get("kind"), **pick})
        shortfall: Counter[str] = Counter()
        for record in self.incidents.values():
            for gap in record.get("route_shortfall", ()):
                # A slot's shortfall ({capability, missing, reasons}) or, from
                # older records, a bare reason.
                reasons = gap.get("reasons", ()) if isinstance(gap, dict) else (gap,)
                for reason in reasons:
                    # "12 busy" and "3 busy" are one kind of shortfall.
                    head, _, rest = reason.partition(" ")
                    shortfall[rest if head.isdigit() else reason] += 1
        # Each incident as the board last showed it: scored, with the reasons,
        # and whether the online model moved the rules' priority.
        scored = [r for r in self.incidents.values() if r.get("priority") is not None]
        model_said = [r["priority_reasons"][-1] for r in scored
                      if r.get("priority_reasons")
                      and str(r["priority_reasons"][-1]).startswith("model:")]
        return {
            "reports_read": self.reports_read,
            "reports_accounted": len(self.accounted),
            "dead_lettered": dict(sorted(self.dead_letters.items())),
            "dead_lettered_total": sum(self.dead_letters.values()),
            # Not those whose every report moved to another (their last
            # change: no report left).
            "incidents": sum(1 for r in self.incidents.values()
                             if r.get("report_count") != 0),
            "incidents_emptied": sum(1 for r in self.incidents.values()
                                     if r.get("report_count") == 0),
            "incidents_scored": len(scored),
            "incidents_with_reasons": sum(1 for r in scored
                                          if r.get("priority_reasons")),
            "priorities": dict(sorted(Counter(
                str(r["priority"]) for r in scored).items())),
            "priority_model_moved": sum(1 for reason in model_said
                                        if MOVED.search(reason)),
            "merges": self.changes.get(MERGED, 0),
            "repeats": self.changes.get(REPEAT, 0),
            "updates": self.changes.get(UPDATED, 0),
            "splits": self.changes.get(f"split_{SPLIT}", 0),
            "moved_by_reporter_fix": self.changes.get(MOVED_BY, 0),
            "reports_in_two_incidents": sum(
                1 for report_id, named in self.report_incidents.items()
                if len(named) > 1 and not named <= self.moved.get(report_id, set())),
            "board_redeliveries": self.board_repeats,
            "alerts": len(self.alert_ids),
            "alerts_by_rule": dict(sorted(self.alerts_by_rule.items())),
            "alerts_by_recipient": dict(sorted(self.alerts_by_recipient.items())),
            "alerts_suppressed": self.suppressed,
            "alert_updates": dict(sorted(self.updates_by_rule.items())),
            "alerts_collapsed": self.collapsed,
            "alert_escalations": dict(sorted(self.escalations_by_rule.items())),
            "units_assigned": assigned,
            "units_recommended": dict(sorted(picks_by_capability.items())),
            "unit_pick_examples": examples,
            "route_shortfalls": dict(sorted(shortfall.items())),
            "anomalies_flagged": len(self.anomalies),
            "anomalies": [
                {k: a.get(k) for k in ("key", "start_ms", "end_ms", "count",
                                       "expected_high", "z", "reason")}
                for a in sorted(self.anomalies, key=lambda a: a.get("start_ms", 0))
            ],
            "surge_alerts": len(self.surge_alerts),
            "surge_alerts_by_rule": dict(sorted(
                Counter(self.surge_alerts.values()).items())),
            "latency_ms": {
                "p50": percentile(latencies, 50),
                "p95": percentile(latencies, 95),
                "p99": percentile(latencies, 99),
            },
            **self.citizen_figures(),
            "elapsed_s": round(elapsed_s, 2),
            "throughput_rps": round(len(self.accounted) / elapsed_s, 1)
            if elapsed_s > 0 else None,
        }
