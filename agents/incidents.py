"""The incident stages (score, route, alert, citizen): one agent each, or one for all.

All four are keyed by incident id, so running them back to back in one agent
changes no key, no partition and no table: the records skip three topics
(``incidents.scored``, ``incidents.routed`` and ``incidents.alerted``) and the
hops that go with them. ``Settings.fuse_incident_stages`` picks the shape; each
stage keeps its own module, metrics and dead-letter reasons either way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from faust.types import StreamT

from agents import alert, citizen, metrics, route, score
from agents.app import Change, Context, Outbox, Step, read_batch

FUSED_NAME = "incident-stages"


async def run_steps(out: Outbox, steps: Sequence[Step], batch: list[Change]) -> None:
    """Run ``steps`` one after the other; the last one's records go to its sink."""
    for step in steps:
        started = time.perf_counter()
        batch = await step.run(out, batch)
        metrics.batch_done(step.name, len(batch), started)
    sink = steps[-1].sink
    for _, record in batch:
        await out.send(sink, record["incident_id"], record)


def install(ctx: Context) -> None:
    steps = [score.step(ctx), route.step(ctx), alert.step(ctx), citizen.step(ctx)]
    if ctx.settings.fuse_incident_stages:
        add_agent(ctx, FUSED_NAME, steps)
    else:
        for step in steps:
            add_agent(ctx, step.name, [step])


def add_agent(ctx: Context, name: str, steps: Sequence[Step]) -> None:
    @ctx.app.agent(ctx.topic(steps[0].source), name=name)
    async def incident_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            batch = await read_batch(ctx, out, events, steps[0].name)
            await run_steps(out, steps, batch)
            await out.delivered()
