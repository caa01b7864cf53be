"""surge: reports.by_area -> windowed counts -> anomalies.detected.

A message ``{"control": "flush"}`` closes every open window (end of a replay).
TODO(issue 8): keep the detectors' state across worker restarts and close
windows by wall clock when a stream goes quiet in live mode.
"""

from __future__ import annotations

import logging

import orjson
from faust.types import StreamT

from agents import metrics
from agents.app import Context, describe, key_of, value_of
from pipeline.surge import SURGE, ClosedWindow, SurgeMonitor

logger = logging.getLogger(__name__)
STAGE = "surge"


def install(ctx: Context) -> None:
    monitor = SurgeMonitor(ctx.models.surge)

    async def publish(closed: list[ClosedWindow]) -> None:
        for window in closed:
            metrics.WINDOWS_CLOSED.labels(window.status).inc()
            if window.status == SURGE:
                metrics.ANOMALIES.inc()
                await ctx.send("anomalies.detected", window.key, window.to_dict())

    @ctx.app.agent(ctx.topic("reports.by_area"), name="surge")
    async def surge_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            late_before = monitor.late_total
            for event in events:
                try:
                    value = orjson.loads(value_of(event))
                    if value.get("control") == "flush":
                        await publish(monitor.flush())
                        continue
                    key = key_of(event)
                    await publish(monitor.add(key, int(value["event_ms"])))
                except Exception:
                    logger.exception("surge could not count %s", describe(event))
                    metrics.STAGE_EVENTS.labels(STAGE, "invalid").inc()
            metrics.LATE_EVENTS.inc(monitor.late_total - late_before)
            metrics.STAGE_EVENTS.labels(STAGE, "ok").inc(len(events))
