"""score: incidents.changes -> incidents.scored (priority and the reasons for it).

Records are IncidentChange dicts (``pipeline/schema.py``); this stage and the
ones after it add their own fields and pass the rest on untouched.
"""

from __future__ import annotations

from typing import Any

from faust.types import EventT

from agents.app import Change, Context, Outbox, Step, each_change

STAGE = "score"


def step(ctx: Context) -> Step:
    scorer = ctx.models.scorer

    async def score(out: Outbox, event: EventT, record: dict[str, Any]) -> None:
        # The record goes on as it came, with this stage's fields added: no
        # round trip through the IncidentChange dataclass on the hot path.
        record["priority"], record["priority_reasons"] = scorer.score(
            record["kind"], record["texts"], record["report_count"])

    async def run(out: Outbox, batch: list[Change]) -> list[Change]:
        return await each_change(out, batch, STAGE, score)

    return Step(STAGE, "incidents.changes", "incidents.scored", run)
