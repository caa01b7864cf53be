"""alert: incidents.routed -> alerts.outbound, and every change onto incidents.board.

The rules each incident has fired live in a table keyed by incident, so no
incident gets a second alert for one rule, even when a change is redelivered.
An incident leaves the table ``seen_ttl_s`` of event time after its last change
(``SentLog``), when dedupe has forgotten its reports too: the table stays
bounded however long the worker runs.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.types import EventT

from agents import metrics
from agents.app import (
    Change,
    Context,
    Outbox,
    Step,
    as_current,
    each_change,
    now_ms,
)
from pipeline.alert import Firing, SentLog, alert_id_for
from pipeline.bundle import partition_for
from pipeline.schema import REPEAT, Alert

logger = logging.getLogger(__name__)
STAGE = "alert"
UNSCORED = 5


def fired_rules(value: Any) -> list[str]:
    """The rules of a table value: ``{"rules": [...], "last_ms": ...}``, or the
    plain list that earlier versions wrote."""
    if isinstance(value, dict):
        return list(value.get("rules", ()))
    return list(value or ())


def step(ctx: Context) -> Step:
    rules = ctx.models.alerts
    partitions = ctx.specs["incidents.routed"].partitions
    keep_ms = int(ctx.models.match.seen_ttl_s * 1000)
    sent_table = ctx.app.Table("alerts-sent", default=None, partitions=partitions)
    logs: dict[int, SentLog] = {}

    def log_of(partition: int) -> SentLog:
        log = logs.get(partition)
        if log is None:
            # After a restart the table comes back from its changelog; its
            # entries of this partition are put back in order of last change.
            log = logs[partition] = SentLog.restored(keep_ms, (
                (k, v.get("last_ms", 0) if isinstance(v, dict) else 0)
                for k, v in sent_table.items()
                if partition_for(k.encode(), partitions) == partition))
        return log

    async def alert(out: Outbox, event: EventT, change: dict[str, Any]) -> None:
        incident_id = change["incident_id"]
        priority = change.get("priority") or UNSCORED
        stored = sent_table.get(incident_id)
        already = set(fired_rules(stored))
        if stored is not None or change["change"] != REPEAT:
            log_of(event.message.partition).touch(incident_id, change["last_ms"])
        fired: list[Firing] = []
        suppressed: tuple[str, ...] = ()
        if change["change"] != REPEAT:  # a repeat changes nothing
            fired, suppressed = rules.evaluate(
                incident_id, change["kind"], priority, change["area"], already
            )

        at = now_ms()
        for firing in fired:
            sent = Alert(
                alert_id=alert_id_for(incident_id, firing.rule_id),
                incident_id=incident_id,
                rule_id=firing.rule_id,
                priority=priority,
                kind=change["kind"],
                area=change["area"],
                recipients=firing.recipients,
                reasons=firing.reasons + tuple(change.get("priority_reasons", ())),
                at_ms=at,
                raw_ref=change.get("raw_ref", ""),
            )
            await out.send("alerts.outbound", incident_id, sent.to_dict())
            metrics.ALERTS.labels(firing.rule_id).inc()
        for rule_id in suppressed:
            metrics.ALERTS_SUPPRESSED.labels(rule_id).inc()
        if fired:
            as_current(event)
            sent_table[incident_id] = {
                "rules": sorted(already | {f.rule_id for f in fired}),
                "last_ms": change["last_ms"],
            }

        # The record goes on to the board with this stage's fields added.
        change["alerts"] = [f.rule_id for f in fired]
        change["alerts_suppressed"] = suppressed
        change["board_ms"] = board_ms = now_ms()
        metrics.END_TO_END_SECONDS.observe(
            max(0.0, (board_ms - change["received_ms"]) / 1000)
        )

    def forget_quiet(batch: list[Change]) -> None:
        """Drop the incidents no change can reach any more from the table."""
        last_event = {event.message.partition: event for event, _ in batch}
        for partition, event in last_event.items():
            gone = [i for i in log_of(partition).expired() if i in sent_table]
            if gone:
                as_current(event)  # the deletes go to this partition's changelog
                for incident_id in gone:
                    del sent_table[incident_id]
                metrics.ALERT_STATE_FORGOTTEN.inc(len(gone))

    async def run(out: Outbox, batch: list[Change]) -> list[Change]:
        passed = await each_change(out, batch, STAGE, alert)
        forget_quiet(batch)
        return passed

    return Step(STAGE, "incidents.routed", "incidents.alerted", run)
