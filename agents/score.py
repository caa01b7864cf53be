"""score: incidents.changes -> incidents.scored (priority and the reasons for it)."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from faust.types import EventT, StreamT

from agents import metrics
from agents.app import Context, Outbox, each_record
from pipeline.schema import IncidentChange

logger = logging.getLogger(__name__)
STAGE = "score"


def install(ctx: Context) -> None:
    scorer = ctx.models.scorer

    async def score(out: Outbox, event: EventT, record: dict[str, Any]) -> None:
        change = IncidentChange.from_dict(record)
        priority, reasons = scorer.score(change.kind, change.texts, change.report_count)
        scored = dataclasses.replace(change, priority=priority,
                                     priority_reasons=reasons)
        await out.send("incidents.scored", change.incident_id, scored.to_dict())

    @ctx.app.agent(ctx.topic("incidents.changes"), name="score")
    async def score_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            started = time.perf_counter()
            done = await each_record(ctx, out, events, STAGE, score)
            await out.delivered()
            metrics.STAGE_EVENTS.labels(STAGE, "ok").inc(done)
            metrics.STAGE_BATCH_SECONDS.labels(STAGE).observe(
                time.perf_counter() - started
            )
