"""Prometheus metrics of the worker, served on /metrics by the Faust web server.

Counters are incremented once per batch with the batch's count, so the hot path
pays one call per batch, not per report.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0, 60.0, 120.0, 300.0,
)

STAGE_EVENTS = Counter(
    "intake_stage_events_total", "Events a stage finished, by stage and outcome",
    ["stage", "outcome"], registry=REGISTRY,
)
STAGE_BATCH_SECONDS = Histogram(
    "intake_stage_batch_seconds", "Time a stage spent on one batch",
    ["stage"], buckets=LATENCY_BUCKETS_S, registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "intake_deadletter_total", "Raw messages dead-lettered, by reason",
    ["reason"], registry=REGISTRY,
)
UNDELIVERABLE = Counter(
    "intake_undeliverable_total",
    "Messages the broker refused for good (too large), by topic", ["topic"],
    registry=REGISTRY,
)
INCIDENT_CHANGES = Counter(
    "intake_incident_changes_total", "Dedupe decisions: new, merged, repeat",
    ["change"], registry=REGISTRY,
)
ALERTS = Counter(
    "intake_alerts_total", "Alerts sent, by rule", ["rule"], registry=REGISTRY,
)
ALERTS_SUPPRESSED = Counter(
    "intake_alerts_suppressed_total", "Alerts not sent again for an incident and rule",
    ["rule"], registry=REGISTRY,
)
ROUTES = Counter(
    "intake_route_total", "Route decisions: assigned or shortfall",
    ["outcome"], registry=REGISTRY,
)
REDIS_FALLBACKS = Counter(
    "intake_redis_fallback_total",
    "Redis calls that failed: routes answered from the table, unit writes skipped",
    registry=REGISTRY,
)
ANOMALIES = Counter(
    "intake_anomalies_total", "Windows flagged as surges", registry=REGISTRY,
)
WINDOWS_CLOSED = Counter(
    "intake_windows_closed_total", "Count windows closed, by status",
    ["status"], registry=REGISTRY,
)
QUIET_WINDOWS = Counter(
    "intake_windows_quiet_total",
    "Windows with no reports, learned in bulk by the detectors", registry=REGISTRY,
)
LATE_EVENTS = Counter(
    "intake_late_events_total", "Events after their window closed (counted, not added)",
    registry=REGISTRY,
)
ALERT_STATE_FORGOTTEN = Counter(
    "intake_alert_state_forgotten",
    "Incidents dropped from the alerts-sent table, quiet for seen_ttl_s",
    registry=REGISTRY,
)
THREAD_LOCATIONS_LENT = Counter(
    "intake_thread_locations_lent",
    "Reports without a place that took their reporter's last fix",
    registry=REGISTRY,
)
AGENT_CRASHES = Counter(
    "intake_agent_crashes", "Agent actors that crashed (Faust restarts them)",
    ["agent"], registry=REGISTRY,
)
END_TO_END_SECONDS = Histogram(
    "intake_end_to_end_seconds",
    "From a report's receipt by normalize to its incident on the board",
    buckets=LATENCY_BUCKETS_S, registry=REGISTRY,
)
def batch_done(stage: str, ok: int, started: float) -> None:
    """Count a stage's finished batch: its records, and how long it took."""
    STAGE_EVENTS.labels(stage, "ok").inc(ok)
    STAGE_BATCH_SECONDS.labels(stage).observe(time.perf_counter() - started)


UNITS_KNOWN = Gauge(
    "intake_units_known", "Units in this worker's unit table", registry=REGISTRY,
)
ROUTE_SOURCES = Counter(
    "intake_route_source_total",
    "Incidents routed, by where the candidate units came from: redis, or the "
    "table (redis_failed, redis_skipped after a failure, redis_behind the table, "
    "beyond_geo near the poles, shortfall: the full reasons)",
    ["source"], registry=REGISTRY,
)
REDIS_CATCH_UPS = Counter(
    "intake_redis_catch_up_total",
    "Times Redis was rewritten from the unit table (it lost units or missed writes)",
    registry=REGISTRY,
)
