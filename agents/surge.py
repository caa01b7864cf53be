"""surge: reports.by_area -> windowed counts -> anomalies.detected.

A message ``{"control": "flush", "token": T}`` closes every open window (end of a
replay); the stage answers on anomalies.detected with ``{"control": "flushed",
"token": T, "partition": P}`` once the windows it closed are published.
TODO(issue 8): keep the detectors' state across worker restarts and close
windows by wall clock when a stream goes quiet in live mode.
"""

from __future__ import annotations

import logging

import orjson
from faust.types import StreamT

from agents import metrics
from agents.app import Context, Outbox, describe, key_of, now_ms, value_of
from pipeline.surge import SURGE, ClosedWindow, SurgeMonitor

logger = logging.getLogger(__name__)
STAGE = "surge"


def install(ctx: Context) -> None:
    monitor = SurgeMonitor(ctx.models.surge)

    async def publish(out: Outbox, closed: list[ClosedWindow]) -> None:
        for window in closed:
            metrics.WINDOWS_CLOSED.labels(window.status).inc()
            if window.status == SURGE:
                metrics.ANOMALIES.inc()
                record = window.to_dict()
                record["at_ms"] = now_ms()
                await out.send("anomalies.detected", window.key, record)

    @ctx.app.agent(ctx.topic("reports.by_area"), name="surge")
    async def surge_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            late_before = monitor.late_total
            for event in events:
                try:
                    value = orjson.loads(value_of(event))
                    if value.get("control") == "flush":
                        await publish(out, monitor.flush())
                        await out.send("anomalies.detected", "__control__", {
                            "control": "flushed", "token": value.get("token"),
                            "partition": event.message.partition,
                        })
                        continue
                    key = key_of(event)
                    await publish(out, monitor.add(key, int(value["event_ms"]),
                                                   event.message.partition))
                except Exception:
                    logger.exception("surge could not count %s", describe(event))
                    metrics.STAGE_EVENTS.labels(STAGE, "invalid").inc()
            await out.delivered()
            metrics.LATE_EVENTS.inc(monitor.late_total - late_before)
            metrics.STAGE_EVENTS.labels(STAGE, "ok").inc(len(events))
