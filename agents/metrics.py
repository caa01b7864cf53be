"""Prometheus metrics of the worker, served on /metrics by the Faust web server.

Counters are incremented once per batch with the batch's count, so the hot path
pays one call per batch, not per report.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary

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
    "intake_windows_closed_total",
    "Count windows closed, by status and by what closed them (watermark, "
    "wall_clock, flush)", ["status", "by"], registry=REGISTRY,
)
QUIET_WINDOWS = Counter(
    "intake_windows_quiet_total",
    "Windows with no reports, learned in bulk by the detectors", registry=REGISTRY,
)
LATE_EVENTS = Counter(
    "intake_late_events_total",
    "Events that found some or all of their windows closed (added to those "
    "still open, counted here once)", registry=REGISTRY,
)
SURGE_REPEATS = Counter(
    "intake_surge_repeats_total",
    "Counts redelivered after a restart, recognised by position and not counted",
    registry=REGISTRY,
)
SURGE_OUTLIERS = Counter(
    "intake_surge_outliers_total",
    "Counts far ahead of their partition's time, never confirmed: not counted",
    registry=REGISTRY,
)
SURGE_FOLDED = Counter(
    "intake_surge_folded_total",
    "Counts of an area past the surge keys' limit (max_keys), counted under "
    "'(other areas)'",
    registry=REGISTRY,
)
SURGE_ALERTS = Counter(
    "intake_surge_alerts_total", "Surge alerts sent, by rule", ["rule"],
    registry=REGISTRY,
)
SURGE_ALERTS_SUPPRESSED = Counter(
    "intake_surge_alerts_suppressed_total",
    "Surge windows not alerted: they overlap the last window alerted for their key",
    ["rule"], registry=REGISTRY,
)
SURGE_WARMING_UP = Gauge(
    "intake_surge_detectors_warming_up",
    "Surge detectors on this worker that have not seen warmup windows yet",
    registry=REGISTRY,
)
SURGE_KEYS = Gauge(
    "intake_surge_keys", "Surge keys (area and discipline) on this worker",
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


ALERT_DELIVERIES = Counter(
    "intake_alert_deliveries_total",
    "Deliveries rendered and sent, by rule (digest: several), role and channel",
    ["rule", "role", "channel"], registry=REGISTRY,
)
ALERT_UPDATES = Counter(
    "intake_alert_updates_total", "Updates of an alert already sent, by rule",
    ["rule"], registry=REGISTRY,
)
ALERT_COLLAPSED = Counter(
    "intake_alert_collapsed_total",
    "Changes that mattered within an alert's update interval, folded into the "
    "next update", ["rule"], registry=REGISTRY,
)
ALERT_RATE_LIMITED = Counter(
    "intake_alert_rate_limited_total",
    "Deliveries held back by a recipient's rate limit (sent later in a digest)",
    ["role", "channel"], registry=REGISTRY,
)
ALERT_DIGESTS = Counter(
    "intake_alert_digests_total", "Digests of held deliveries sent",
    ["role", "channel"], registry=REGISTRY,
)
ALERT_ESCALATIONS = Counter(
    "intake_alert_escalations_total",
    "Alerts nobody acknowledged in time, escalated once", ["rule"], registry=REGISTRY,
)
ALERT_ACKS = Counter(
    "intake_alert_acks_total",
    "Acknowledgements: in_time, after_escalation, repeated or unknown",
    ["rule", "outcome"], registry=REGISTRY,
)
OUTBOX_WRITE_ERRORS = Counter(
    "intake_outbox_write_errors_total",
    "Batches of deliveries the local outbox could not write (sent on the topic)",
    registry=REGISTRY,
)
CHANGELOG_FENCES = Counter(
    "intake_changelog_fences_total",
    "Fences written to changelog partitions before offset commits "
    "(agents/fences.py)",
    registry=REGISTRY,
)
UNITS_KNOWN = Gauge(
    "intake_units_known", "Units in this worker's unit table", registry=REGISTRY,
)

CITIZEN_UPDATES = Counter(
    "intake_citizen_updates_total",
    "Status updates and surveys sent to reporters, by status and report channel",
    ["status", "channel"], registry=REGISTRY,
)
CITIZEN_CLOSED = Counter(
    "intake_citizen_incidents_closed_total",
    "Incidents with reporters resolved, by how (outcome, inactivity, replay end)",
    ["by"], registry=REGISTRY,
)
CITIZEN_STATE_FORGOTTEN = Counter(
    "intake_citizen_state_forgotten",
    "Incidents dropped from the citizen table, past the survey answer window",
    registry=REGISTRY,
)
SATISFACTION_ANSWERS = Counter(
    "intake_satisfaction_answers_total",
    "Survey answers counted (one per reporter and incident), by channel and area",
    ["channel", "area"], registry=REGISTRY,
)
#: _sum / _count per channel and area is the mean score (1-5).
SATISFACTION_SCORE = Summary(
    "intake_satisfaction_score",
    "Survey scores (1-5) counted, by report channel and area",
    ["channel", "area"], registry=REGISTRY,
)
SATISFACTION_REPEATS = Counter(
    "intake_satisfaction_answers_repeated_total",
    "Survey answers not counted: the reporter had answered already",
    registry=REGISTRY,
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
SCORE_OUTCOMES = Counter(
    "intake_score_outcomes_total",
    "Dispatcher outcomes the score stage read, by what it did with them: learnt, "
    "repeat (taught already), no_priority, no_facts (the incident's facts expired "
    "or never seen here), misrouted, invalid",
    ["outcome"], registry=REGISTRY,
)
SCORE_MODEL_OUTCOMES = Gauge(
    "intake_score_model_outcomes",
    "Outcomes learnt by the priority model of each partition this worker holds",
    ["partition"], registry=REGISTRY,
)
SCORE_SNAPSHOTS = Counter(
    "intake_score_snapshots_total",
    "Priority model snapshots written to the table score-model, or refused "
    "(too_large: over max_snapshot_bytes)",
    ["outcome"], registry=REGISTRY,
)
SCORE_MOVED = Counter(
    "intake_score_model_moved_total",
    "Incident changes whose rules' priority the model moved, by direction",
    ["direction"], registry=REGISTRY,
)
SCORE_FACTS_FORGOTTEN = Counter(
    "intake_score_facts_forgotten_total",
    "Incidents whose facts left the table score-facts (expired or over max_facts)",
    registry=REGISTRY,
)
GEOCODED = Counter(
    "intake_reports_geocoded_total",
    "Reports without a fix placed by the address book, by what placed them "
    "(address, text)", ["by"], registry=REGISTRY,
)
POSTS_JUDGED = Counter(
    "intake_posts_judged_total",
    "Social posts judged at normalize: emergency, or not_an_emergency",
    ["verdict"], registry=REGISTRY,
)
REUSED_IDS = Counter(
    "intake_dedupe_reused_ids_total",
    "Reports that came with an id a source had given another report, decided "
    "under an id of their own (pipeline/dedupe.py reused_id)",
    registry=REGISTRY,
)
CELLS_TRIMMED = Counter(
    "intake_dedupe_cells_trimmed_total",
    "Dedupe cells cut to fit one changelog record: report ids or open "
    "incidents dropped, oldest first (pipeline/regions.py CellState.fit)",
    ["dropped"], registry=REGISTRY,
)
POSTS_HELD = Counter(
    "intake_posts_held_total",
    "Posts judged not an emergency that dedupe kept off the incidents "
    "(on reports.irrelevant)",
    registry=REGISTRY,
)
