"""alert-surges: anomalies.detected -> alerts.outbound and alerts.by_recipient.

The alert stage's rules for surges (``pipeline/surge_alert.py``): a window the
surge stage flagged pages the recipients of every rule naming ``surge``, once
per key and window. The end of the last window alerted for each key lives in
the table ``alerts-surges`` (anomalies.detected is keyed by the surge key, so
a key's anomalies come in order to one partition): a redelivered anomaly, or
a hopping window overlapping one already alerted, sends nothing. Deliveries
go through the delivery stage like any alert (rate limit, digest, outbox).
Surge alerts are not acknowledged or escalated.
"""

from __future__ import annotations

from typing import Any

from faust.types import EventT, StreamT

from agents import delivery, metrics
from agents.app import Context, Outbox, as_current, each_change, now_ms, read_batch
from pipeline.surge_alert import surge_alerts

STAGE = "alert_surges"
SOURCE = "anomalies.detected"


def install(ctx: Context) -> None:
    rules = ctx.models.alerts
    table = ctx.app.Table("alerts-surges", default=None,
                          partitions=ctx.specs[SOURCE].partitions)

    async def handle(out: Outbox, event: EventT, record: dict[str, Any]) -> None:
        if record.get("control"):
            return  # a flush answer, for the replay
        key = str(record["key"])
        stored = table.get(key) or {}
        until_ms = stored.get("until_ms")
        alerts, suppressed, until_after = surge_alerts(record, rules, until_ms,
                                                       now_ms())
        for alert in alerts:
            await out.send("alerts.outbound", alert.incident_id, alert.to_dict())
            await delivery.fan_out(out, alert)
            metrics.SURGE_ALERTS.labels(alert.rule_id).inc()
        for rule_id in suppressed:
            metrics.SURGE_ALERTS_SUPPRESSED.labels(rule_id).inc()
        if until_after != until_ms:
            as_current(event)
            table[key] = {"until_ms": until_after}

    @ctx.app.agent(ctx.topic(SOURCE), name="alert-surges")
    async def alert_surges_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            batch = await read_batch(ctx, out, events, STAGE)
            await each_change(out, batch, STAGE, handle)
            await out.delivered()
