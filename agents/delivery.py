"""delivery: alerts.by_recipient -> alerts.delivered and the local outbox.

The alert stage sends one delivery per alert action and recipient, keyed by
the recipient (the explicit repartition from incident to recipient), so one
recipient's rate limit lives in one partition: the table ``alert-recipients``.
What a recipient cannot take now is held in that table and sent, once the
window has room, as one digest; ticks from the alert stage's timer release
digests when no new delivery comes. Every delivery is rendered by its
channel's adapter (``pipeline/delivery.py``), sent on alerts.delivered, and
appended, per batch and without fsync, to ``<outbox_dir>/<app_id>/<channel>.jsonl``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
from faust.types import EventT, StreamT

from agents import metrics
from agents.app import (
    Change,
    Context,
    Outbox,
    as_current,
    each_change,
    now_ms,
    read_batch,
    table_get,
)
from pipeline.bundle import partition_for
from pipeline.delivery import (
    DIGEST,
    RecipientLog,
    delivery_id,
    offer,
    recipient_key,
    recipients_of,
    release,
    render,
    role_label,
)
from pipeline.schema import Alert

logger = logging.getLogger(__name__)
STAGE = "delivery"
TICK = "tick"


async def fan_out(out: Outbox, alert: Alert) -> None:
    """One delivery of ``alert`` per recipient, keyed by the recipient."""
    for recipient in recipients_of(alert):
        key = recipient_key(recipient)
        await out.send("alerts.by_recipient", key, {
            "delivery_id": delivery_id(alert.alert_id, alert.revision, alert.action,
                                       key),
            "recipient": key, "role": recipient["role"],
            "channel": recipient["channel"], "alert_id": alert.alert_id,
            "incident_id": alert.incident_id, "rule_id": alert.rule_id,
            "revision": alert.revision, "action": alert.action,
            "priority": alert.priority, "kind": alert.kind, "area": alert.area,
            "reasons": list(alert.changed or alert.reasons), "at_ms": alert.at_ms,
            "raw_ref": alert.raw_ref,
            **({"surge": alert.surge} if alert.surge else {}),
        })


def write_outbox(folder: Path, delivered: list[dict[str, Any]]) -> None:
    """Append a batch's deliveries to one JSON-lines file per channel."""
    by_channel: dict[str, list[bytes]] = {}
    for record in delivered:
        by_channel.setdefault(record["channel"], []).append(
            orjson.dumps(record) + b"\n")
    folder.mkdir(parents=True, exist_ok=True)
    for channel, lines in by_channel.items():
        with open(folder / f"{channel}.jsonl", "ab") as file:
            file.write(b"".join(lines))


def install(ctx: Context) -> None:
    limit = ctx.models.alerts.rate_limit
    partitions = ctx.specs["alerts.by_recipient"].partitions
    table = ctx.app.Table("alert-recipients", default=None, partitions=partitions)
    folder = ctx.settings.outbox_dir / ctx.settings.app_id

    async def deliver(out: Outbox, sent: list[dict[str, Any]],
                      delivered: list[dict[str, Any]]) -> None:
        for record in sent:
            form = render(record)
            delivered.append(form)
            await out.send("alerts.delivered", record["recipient"], form)
            role = role_label(record["role"])
            labels = (record.get("rule_id", DIGEST), role, record["channel"])
            metrics.ALERT_DELIVERIES.labels(*labels).inc()
            if record["action"] == DIGEST:
                metrics.ALERT_DIGESTS.labels(role, record["channel"]).inc()

    async def run(out: Outbox, batch: list[Change]) -> list[dict[str, Any]]:
        """Offer a batch's deliveries, release due digests; return what went out."""
        delivered: list[dict[str, Any]] = []
        # Recipients touched by this batch: their log, and the event to write
        # it under. Each is written to the table once per batch, not once per
        # delivery: a flood costs one changelog record per recipient and batch.
        logs: dict[str, RecipientLog] = {}
        touched: dict[str, EventT] = {}

        def log_of(key: str) -> RecipientLog:
            if key not in logs:
                logs[key] = RecipientLog.from_dict(table_get(table, key) or {})
            return logs[key]

        async def handle(out: Outbox, event: EventT, record: dict[str, Any]) -> None:
            if record.get("control") == TICK:
                partition = event.message.partition
                for key, value in table.items():
                    if value and value.get("held") and \
                            partition_for(key.encode(), partitions) == partition:
                        touched.setdefault(key, event)
                return
            key = record["recipient"]
            log, sent, held = offer(log_of(key), record, now_ms(), limit)
            if held:
                metrics.ALERT_RATE_LIMITED.labels(role_label(record["role"]),
                                                  record["channel"]).inc()
            await deliver(out, sent, delivered)
            logs[key] = log
            touched[key] = event

        await each_change(out, batch, STAGE, handle)

        # Held deliveries go out as one digest once their window has room.
        for key, event in touched.items():
            log, digests = release(log_of(key), now_ms(), limit)
            if digests:
                await deliver(out, digests, delivered)
            as_current(event)
            table[key] = log.to_dict()
        return delivered

    @ctx.app.agent(ctx.topic("alerts.by_recipient"), name="delivery")
    async def delivery_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            delivered = await run(out, await read_batch(ctx, out, events, STAGE))
            await out.delivered()
            if delivered:
                try:
                    write_outbox(folder, delivered)
                except OSError as exc:
                    # The topic has them; the local copy is a convenience.
                    metrics.OUTBOX_WRITE_ERRORS.inc()
                    logger.error("outbox %s not written: %r", folder, exc)
