"""surge: reports.by_area -> windowed counts -> anomalies.detected.

A record ``{"control": "flush", "token": T}`` closes every open window (end of a
replay); the stage answers on anomalies.detected with ``{"control": "flushed",
"token": T, "partition": P}`` once the windows it closed are published.
TODO(issue 8): keep the detectors' state across worker restarts and close
windows by wall clock when a stream goes quiet in live mode.
"""

from __future__ import annotations

import logging

from faust.types import StreamT

from agents import metrics
from agents.app import Context, Outbox, describe, now_ms, records_of
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
            late_before, quiet_before = monitor.late_total, monitor.zero_windows
            counted = 0
            for event in events:
                partition = event.message.partition
                try:
                    records = records_of(ctx, event)
                except ValueError:
                    logger.exception("surge could not read %s", describe(event))
                    metrics.STAGE_EVENTS.labels(STAGE, "invalid").inc()
                    continue
                for record in records:
                    if record.get("control") == "flush":
                        await publish(out, monitor.flush())
                        await out.send("anomalies.detected", "__control__", {
                            "control": "flushed", "token": record.get("token"),
                            "partition": partition,
                        })
                        continue
                    try:
                        closed = monitor.add(str(record["key"]),
                                             int(record["event_ms"]), partition)
                    except (KeyError, TypeError, ValueError):
                        # A count is not a report: nothing to dead-letter.
                        logger.warning("surge skipped a malformed count on %s",
                                       describe(event))
                        metrics.STAGE_EVENTS.labels(STAGE, "invalid").inc()
                        continue
                    counted += 1
                    await publish(out, closed)
            await out.delivered()
            metrics.LATE_EVENTS.inc(monitor.late_total - late_before)
            metrics.QUIET_WINDOWS.inc(monitor.zero_windows - quiet_before)
            metrics.STAGE_EVENTS.labels(STAGE, "ok").inc(counted)
