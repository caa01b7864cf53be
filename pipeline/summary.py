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
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pipeline.schema import MERGED, REPEAT, SPLIT, UPDATED


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
        self.report_incident: dict[str, str] = {}
        self.conflicts = 0
        self.incidents: dict[str, dict[str, Any]] = {}
        self.latencies_ms: list[float] = []
        self.alert_ids: set[str] = set()
        self.alerts_by_rule: Counter[str] = Counter()
        self.alerts_by_recipient: Counter[str] = Counter()
        self.suppressed = 0
        self.anomalies: list[dict[str, Any]] = []

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
        if record.get("split"):
            # An operator's split, not a report: nothing to account for.
            self.changes[f"split_{record['change']}"] += 1
            return
        ref = record.get("raw_ref", "")
        if ref in self.accounted:
            return
        self.accounted.add(ref)
        self.changes[record["change"]] += 1
        self.suppressed += len(record.get("alerts_suppressed", ()))
        self.latencies_ms.append(float(record["board_ms"] - record["received_ms"]))

        report_id = record["report_id"]
        previous = self.report_incident.setdefault(report_id, incident_id)
        if previous != incident_id:
            self.conflicts += 1

    def add_alert(self, record: dict[str, Any]) -> None:
        if record["alert_id"] in self.alert_ids:
            return
        self.alert_ids.add(record["alert_id"])
        self.alerts_by_rule[record["rule_id"]] += 1
        for recipient in record.get("recipients", ()):
            self.alerts_by_recipient[f"{recipient['role']}/{recipient['channel']}"] += 1

    def add_anomaly(self, record: dict[str, Any]) -> None:
        self.anomalies.append(record)

    def figures(self, elapsed_s: float) -> dict[str, Any]:
        latencies = sorted(self.latencies_ms)
        assigned = sum(1 for r in self.incidents.values() if r.get("units"))
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
        return {
            "reports_read": self.reports_read,
            "reports_accounted": len(self.accounted),
            "dead_lettered": dict(sorted(self.dead_letters.items())),
            "dead_lettered_total": sum(self.dead_letters.values()),
            "incidents": len(self.incidents),
            "merges": self.changes.get(MERGED, 0),
            "repeats": self.changes.get(REPEAT, 0),
            "updates": self.changes.get(UPDATED, 0),
            "splits": self.changes.get(f"split_{SPLIT}", 0),
            "reports_in_two_incidents": self.conflicts,
            "alerts": len(self.alert_ids),
            "alerts_by_rule": dict(sorted(self.alerts_by_rule.items())),
            "alerts_by_recipient": dict(sorted(self.alerts_by_recipient.items())),
            "alerts_suppressed": self.suppressed,
            "units_assigned": assigned,
            "route_shortfalls": dict(sorted(shortfall.items())),
            "anomalies_flagged": len(self.anomalies),
            "anomalies": [
                {k: a.get(k) for k in ("key", "start_ms", "end_ms", "count",
                                       "expected_high", "z")}
                for a in sorted(self.anomalies, key=lambda a: a.get("start_ms", 0))
            ],
            "latency_ms": {
                "p50": percentile(latencies, 50),
                "p95": percentile(latencies, 95),
                "p99": percentile(latencies, 99),
            },
            "elapsed_s": round(elapsed_s, 2),
            "throughput_rps": round(len(self.accounted) / elapsed_s, 1)
            if elapsed_s > 0 else None,
        }
