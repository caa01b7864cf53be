"""alert: incidents.routed -> alerts.outbound and alerts.by_recipient, and every
change onto incidents.alerted (citizen next); acknowledgements and wall-clock ticks on
alerts.acks.

What each incident's alerts are (rules fired, revision, ack deadline, pending
update) lives in the table ``alerts-sent`` keyed by incident, so a redelivered
change or ack changes nothing. alerts.acks is partitioned like the incident
topics, so an ack meets its incident's state in the same partition. A timer
sends a tick to each of this worker's alerts.acks partitions: deadlines and
pending updates are checked on the wall clock even when no change arrives.
An incident leaves the table ``seen_ttl_s`` of event time after its last
change (``SentLog``), when dedupe has forgotten its reports too.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.types import EventT, StreamT

from agents import delivery, metrics
from agents.app import (
    Change,
    Context,
    Outbox,
    Step,
    as_current,
    each_change,
    now_ms,
    read_batch,
    table_get,
)
from agents.exceptions import ConfigError
from pipeline.alert import Firing, SentLog, alert_id_for, local_minute
from pipeline.alert_state import (
    UPDATE,
    AlertState,
    acknowledge,
    escalate_due,
    flush_due,
    moved_away,
    observe,
    opened,
)
from pipeline.bundle import partition_for
from pipeline.delivery import ALERT, ESCALATION
from pipeline.fields import zone_at
from pipeline.regions import timely
from pipeline.schema import REPEAT, Alert

logger = logging.getLogger(__name__)
STAGE = "alert"
UNSCORED = 5
TICK = "tick"


def fired_rules(value: Any) -> list[str]:
    """The rules of a table value: ``{"rules": [...], "last_ms": ...}``, or the
    plain list that earlier versions wrote."""
    if isinstance(value, dict):
        return list(value.get("rules", ()))
    return list(value or ())


def waiting(value: dict[str, Any]) -> bool:
    """Whether a table value holds an alert a clock can still change."""
    return any(AlertState.from_dict(s).waiting
               for s in value.get("alerts", {}).values())


def source_zone(ctx: Context, change: dict[str, Any]) -> str:
    """The zone of the incident's place (the smallest service area holding
    it); without a point, that of the change's source (its region
    ``r:<source>``), else the rules' own zone. A web report from Norristown
    keeps Norristown's clock, whatever zone its channel's source has."""
    region = str(change.get("region", ""))
    sources = ctx.models.normalize.sources
    source = sources.get(region[2:]) if region.startswith("r:") else None
    fallback = source.zone if source is not None else ctx.models.alerts.zone_name
    return zone_at(sources, change.get("lat"), change.get("lon"), fallback)


def step(ctx: Context) -> Step:
    rules = ctx.models.alerts
    interval_ms = int(rules.update_interval_s * 1000)
    partitions = ctx.specs["incidents.routed"].partitions
    if ctx.specs["alerts.acks"].partitions != partitions:
        raise ConfigError("alerts.acks must have as many partitions as "
                          "incidents.routed: an ack meets its incident's state")
    keep_ms = int(ctx.models.match.seen_ttl_s * 1000)
    sent_table = ctx.app.Table("alerts-sent", default=None, partitions=partitions)
    logs: dict[int, SentLog] = {}
    # Per partition, the incidents with an alert a clock can still change: what
    # a tick looks at, instead of every incident of the day.
    watches: dict[int, set[str]] = {}

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

    def watched(partition: int) -> set[str]:
        watch = watches.get(partition)
        if watch is None:
            watch = watches[partition] = {
                k for k, v in sent_table.items()
                if partition_for(k.encode(), partitions) == partition
                and isinstance(v, dict) and waiting(v)}
        return watch

    async def announce(out: Outbox, alert: Alert) -> None:
        """The alert on alerts.outbound, and one delivery per recipient."""
        await out.send("alerts.outbound", alert.incident_id, alert.to_dict())
        await delivery.fan_out(out, alert)

    def alert_of(incident_id: str, incident: dict[str, Any], state: AlertState,
                 action: str, reasons: tuple[str, ...] = (),
                 raw_ref: str = "") -> Alert:
        rule = rules.by_id[state.rule_id]
        return Alert(
            alert_id=alert_id_for(incident_id, state.rule_id),
            incident_id=incident_id, rule_id=state.rule_id,
            priority=state.priority, kind=incident["kind"], area=incident["area"],
            recipients=rule.escalate_to if action == ESCALATION else rule.recipients,
            reasons=reasons, at_ms=now_ms(),
            raw_ref=raw_ref or incident.get("raw_ref", ""),
            action=action, revision=state.revision,
            changed=reasons if action == UPDATE else (),
            unit_ids=tuple(incident.get("unit_ids", ())),
        )

    async def alert(out: Outbox, event: EventT, change: dict[str, Any]) -> None:
        incident_id = change["incident_id"]
        priority = change.get("priority") or UNSCORED
        units = bool(change.get("units"))
        stored = table_get(sent_table, incident_id)
        already = set(fired_rules(stored))
        states = {r: AlertState.from_dict(s) for r, s in
                  (stored.get("alerts", {}) if isinstance(stored, dict) else {}).items()
                  if r in rules.by_id}
        if stored is not None or change["change"] != REPEAT:
            log_of(event.message.partition).touch(
                incident_id, change["last_ms"], timely(change.get("region", "")))
        fired: list[Firing] = []
        suppressed: tuple[str, ...] = ()
        updated: list[str] = []
        collapsed: list[str] = []
        at = now_ms()
        incident = {"kind": change["kind"], "area": change["area"],
                    "raw_ref": change.get("raw_ref", ""),
                    "unit_ids": [p["unit_id"] for p in change.get("units") or ()
                                 if isinstance(p, dict) and "unit_id" in p]}
        if change.get("report_count") == 0 and change.get("split"):
            # Every report moved to another incident (pipeline/dedupe.py):
            # its recipients hear where, once, and nothing escalates.
            into = change["split"].get("into", "")
            for rule_id, state in list(states.items()):
                states[rule_id] = closed = moved_away(state, at)
                updated.append(rule_id)
                await announce(out, alert_of(
                    incident_id, incident, closed, UPDATE,
                    (f"no report left: moved into incident {into}",),
                    change.get("raw_ref", "")))
                metrics.ALERT_UPDATES.labels(rule_id).inc()
        elif change["change"] != REPEAT:  # a repeat changes nothing
            fired, suppressed = rules.evaluate(
                incident_id, change["kind"], priority, change["area"], already,
                lat=change.get("lat"), lon=change.get("lon"),
                minute_of_day=local_minute(change["last_ms"], source_zone(ctx, change),
                                           change.get("received_ms")),
            )
            # 1. Alerts sent before: does this change matter to their recipients?
            for rule_id, state in list(states.items()):
                states[rule_id], outcome = observe(state, priority, units, at,
                                                   interval_ms)
                if outcome == UPDATE:
                    updated.append(rule_id)
                    await announce(out, alert_of(
                        incident_id, incident, states[rule_id], UPDATE,
                        states[rule_id].what_changed(state),
                        change.get("raw_ref", "")))
                    metrics.ALERT_UPDATES.labels(rule_id).inc()
                elif outcome != "none":
                    collapsed.append(rule_id)
                    metrics.ALERT_COLLAPSED.labels(rule_id).inc()

        # 2. Rules fired for the first time.
        for firing in fired:
            rule = rules.by_id[firing.rule_id]
            states[firing.rule_id] = state = opened(firing.rule_id, priority, units,
                                                    at, rule.ack_within_s)
            await announce(out, alert_of(
                incident_id, incident, state, ALERT,
                firing.reasons + tuple(change.get("priority_reasons", ()))))
            metrics.ALERTS.labels(firing.rule_id).inc()
        for rule_id in suppressed:
            metrics.ALERTS_SUPPRESSED.labels(rule_id).inc()
        if fired or updated or collapsed:
            if any(s.waiting for s in states.values()):
                watched(event.message.partition).add(incident_id)
            as_current(event)
            first = stored.get("incident") if isinstance(stored, dict) else None
            sent_table[incident_id] = {
                "rules": sorted(already | {f.rule_id for f in fired}),
                "last_ms": change["last_ms"],
                # The first alert's place and kind; the units recommended now.
                "incident": {**(first or incident), "unit_ids": incident["unit_ids"]},
                "alerts": {r: s.to_dict() for r, s in states.items()},
            }

        # The record goes on to the board with this stage's fields added.
        change["alerts"] = [f.rule_id for f in fired]
        change["alerts_suppressed"] = suppressed
        change["alerts_updated"] = updated
        change["alerts_collapsed"] = collapsed
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

    async def on_ack(out: Outbox, event: EventT, record: dict[str, Any]) -> None:
        """An acknowledgement ``{alert_id, by, at_ms}``, or a tick."""
        if record.get("control") == TICK:
            await on_tick(out, event)
            return
        alert_id, by = record.get("alert_id"), record.get("by")
        if not isinstance(alert_id, str) or "/" not in alert_id:
            raise ValueError(f"an ack names an alert_id <incident>/<rule>, "
                             f"not {alert_id!r}"[:200])
        if not isinstance(by, str) or not by.strip():
            # An ack nobody gave stops no escalation: refused, not counted.
            raise ValueError(f"an ack names who acknowledges, not {by!r}"[:200])
        incident_id, _, rule_id = alert_id.rpartition("/")
        if partition_for(incident_id.encode(), partitions) != event.message.partition:
            # Not keyed by its incident: on another worker it would meet no
            # state and be lost as "unknown".
            raise ValueError(f"an ack of {incident_id} must be keyed by that "
                             f"incident id (partition "
                             f"{partition_for(incident_id.encode(), partitions)})")
        stored = table_get(sent_table, incident_id)
        if not isinstance(stored, dict) or rule_id not in stored.get("alerts", {}):
            # Forgotten (quiet past seen_ttl_s) or never sent: nothing to record.
            # Only a rule of the rule file is a label: the text after the
            # last "/" is the sender's, and labels are kept for ever.
            metrics.ALERT_ACKS.labels(rule_id if rule_id in rules.by_id else "-",
                                      "unknown").inc()
            return
        alerts = stored["alerts"]
        state, outcome = acknowledge(AlertState.from_dict(alerts[rule_id]), by,
                                     int(record.get("at_ms") or now_ms()))
        metrics.ALERT_ACKS.labels(rule_id, outcome).inc()
        if outcome != "repeated":
            as_current(event)
            sent_table[incident_id] = {**stored,
                                       "alerts": {**alerts, rule_id: state.to_dict()}}

    async def on_tick(out: Outbox, event: EventT) -> None:
        """Escalate what is overdue and send the pending updates now due."""
        partition = event.message.partition
        at = now_ms()
        watch = watched(partition)
        for incident_id in list(watch):
            stored = table_get(sent_table, incident_id)
            if not isinstance(stored, dict) or not waiting(stored):
                watch.discard(incident_id)  # forgotten, acknowledged or done
                continue
            alerts = dict(stored["alerts"])
            for rule_id, value in stored["alerts"].items():
                if rule_id not in rules.by_id:
                    continue
                before = AlertState.from_dict(value)
                state, escalate = escalate_due(before, at)
                state, update = flush_due(state, at, interval_ms)
                if update:
                    metrics.ALERT_UPDATES.labels(rule_id).inc()
                    await announce(out, alert_of(incident_id, stored["incident"],
                                                 state, UPDATE,
                                                 state.what_changed(before)))
                if escalate:
                    metrics.ALERT_ESCALATIONS.labels(rule_id).inc()
                    reason = (f"not acknowledged within "
                              f"{rules.by_id[rule_id].ack_within_s:g} s",)
                    await announce(out, alert_of(incident_id, stored["incident"],
                                                 state, ESCALATION, reason))
                if state != before:
                    alerts[rule_id] = state.to_dict()
            if alerts != stored["alerts"]:
                as_current(event)
                sent_table[incident_id] = {**stored, "alerts": alerts}

    @ctx.app.agent(ctx.topic("alerts.acks"), name="alert-acks")
    async def ack_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            batch = await read_batch(ctx, out, events, "alert_ack")
            await each_change(out, batch, "alert_ack", on_ack)
            await out.delivered()

    @ctx.app.timer(interval=ctx.settings.alert_tick_s, name="alert-ticks")
    async def tick() -> None:
        await send_ticks(ctx, ("alerts.acks", "alerts.by_recipient"))

    return Step(STAGE, "incidents.routed", "incidents.alerted", run)


async def send_ticks(ctx: Context, topics: tuple[str, ...]) -> None:
    """A tick to each partition of ``topics`` this worker consumes."""
    try:
        assigned = ctx.app.consumer.assignment()
    except Exception:  # noqa: BLE001 - no consumer yet: no partitions to tick
        return
    out = ctx.outbox()
    for tp in assigned:
        if tp.topic in topics:
            await out.send_to(tp.topic, tp.partition,
                              {"control": TICK, "at_ms": now_ms()})
    await out.delivered()

