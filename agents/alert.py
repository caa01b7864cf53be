"""alert: incidents.routed -> alerts.outbound, and every change onto incidents.board.

The rules each incident has fired live in a table keyed by incident, so no
incident gets a second alert for one rule, even when a change is redelivered.
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
from pipeline.alert import Firing, alert_id_for
from pipeline.schema import REPEAT, Alert

logger = logging.getLogger(__name__)
STAGE = "alert"
UNSCORED = 5


def step(ctx: Context) -> Step:
    rules = ctx.models.alerts
    sent_table = ctx.app.Table(
        "alerts-sent", default=None, partitions=ctx.specs["incidents.routed"].partitions
    )

    async def alert(out: Outbox, event: EventT, change: dict[str, Any]) -> None:
        incident_id = change["incident_id"]
        priority = change.get("priority") or UNSCORED
        already = set(sent_table.get(incident_id) or ())
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
            sent_table[incident_id] = sorted(already | {f.rule_id for f in fired})

        # The record goes on to the board with this stage's fields added.
        change["alerts"] = [f.rule_id for f in fired]
        change["alerts_suppressed"] = suppressed
        change["board_ms"] = board_ms = now_ms()
        metrics.END_TO_END_SECONDS.observe(
            max(0.0, (board_ms - change["received_ms"]) / 1000)
        )

    async def run(out: Outbox, batch: list[Change]) -> list[Change]:
        return await each_change(out, batch, STAGE, alert)

    return Step(STAGE, "incidents.routed", "incidents.board", run)
