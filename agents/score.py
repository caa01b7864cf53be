"""score: incidents.changes -> incidents.scored (priority and the reasons for it).

Records are IncidentChange dicts (``pipeline/schema.py``); this stage and the
ones after it add their own fields and pass the rest on untouched.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from faust.types import EventT, StreamT

from agents import metrics
from agents.app import Context, Outbox, each_record

logger = logging.getLogger(__name__)
STAGE = "score"


def install(ctx: Context) -> None:
    scorer = ctx.models.scorer

    async def score(out: Outbox, event: EventT, record: dict[str, Any]) -> None:
        # The record goes on as it came, with this stage's fields added: no
        # round trip through the IncidentChange dataclass on the hot path.
        priority, reasons = scorer.score(record["kind"], record["texts"],
                                         record["report_count"])
        record["priority"] = priority
        record["priority_reasons"] = reasons
        await out.send("incidents.scored", record["incident_id"], record)

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
