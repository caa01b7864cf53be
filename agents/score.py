"""score: incidents.changes -> incidents.scored (priority and the reasons for it).

Records are IncidentChange dicts (``pipeline/schema.py``); this stage and the
ones after it add their own fields and pass the rest on untouched.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.types import EventT, StreamT

from agents.app import Context, Outbox, run_record_stage

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
        await run_record_stage(ctx, stream, STAGE, score)
