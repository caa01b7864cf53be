"""surge: reports.by_area -> windowed counts -> anomalies.detected.

Each reports.by_area partition has its own ``SurgeMonitor`` (its keys, its
watermark; ``pipeline/surge.py``), rebuilt from the table ``surge-state`` when
this worker first needs it (after a start or a rebalance). The table holds one
entry per surge key (its open windows, detector state and the last position
counted) and one per partition (``__clock__/<p>``: watermark, newest event
time), each written once per batch that changed it, to the changelog
partition of the reports.by_area partition it belongs to: whoever takes the
partition over finds its state there, and a redelivered record (at least
once) is recognised by its (offset, index) and counted once.

Why a plain table and not Faust's windowed tables: those expire windows by
the time of the records that reach them, so a key that goes quiet keeps its
last window for ever, and after a recovery their expiry bookkeeping starts
from nothing (windows restored from the changelog are only expired once a
new record touches their key). Here the windows, the watermark and the
detector are one piece of domain state whose closing is tested, kept as
plain values.

Closing: by the partition's event-time watermark as records come; by a
record ``{"control": "flush", "token": T}`` (end of a replay), answered on
anomalies.detected with ``{"control": "flushed", "token": T, "partition": P}``
once the windows it closed are published; and, with ``surge_wall_clock`` on
(the default of ``python -m agents worker``; the demo turns it off), by the
wall clock: a timer sends ``{"control": "tick"}`` to each partition this
worker holds, and a partition quiet for ``idle_s`` whose last event was live
(``live_lag_s``) moves its watermark to the wall clock minus ``grace_s``.
A replay into a live worker is safe: its events are years behind the wall
clock, so the wall clock closes nothing of it.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.types import EventT, StreamT

from agents import metrics
from agents.alert import TICK, send_ticks
from agents.app import Context, Outbox, as_current, describe, now_ms, records_of
from pipeline.surge import SURGE, ClosedWindow, SurgeMonitor

logger = logging.getLogger(__name__)
STAGE = "surge"
SOURCE = "reports.by_area"
#: Table key of a partition's clock; surge keys hold a "|" and never start so.
CLOCK = "__clock__/"
#: What closed a window, in metrics.
BY_WATERMARK, BY_WALL_CLOCK, BY_FLUSH = "watermark", "wall_clock", "flush"


def counters(monitor: SurgeMonitor) -> tuple[int, int, int, int, int]:
    return (monitor.late_total, monitor.zero_windows, monitor.repeats,
            monitor.outliers, monitor.folded)


def install(ctx: Context) -> None:
    params = ctx.models.surge
    partitions = ctx.specs[SOURCE].partitions
    table = ctx.app.Table("surge-state", default=None, partitions=partitions)
    monitors: dict[int, SurgeMonitor] = {}

    def monitor_of(partition: int) -> SurgeMonitor:
        monitor = monitors.get(partition)
        if monitor is None:
            keys = {k: v for k, v in table.items()
                    if not k.startswith(CLOCK) and v.get("partition") == partition}
            monitor = monitors[partition] = SurgeMonitor.restored(
                params, table.get(f"{CLOCK}{partition}"), keys)
        return monitor

    def store(partition: int, event: EventT) -> None:
        """Write what the batch changed in a partition's state, to its changelog."""
        monitor = monitors[partition]
        changed, clock = monitor.take_changed()
        as_current(event)
        for key in changed:
            table[key] = {**monitor.key_state(key), "partition": partition}
        if clock:
            table[f"{CLOCK}{partition}"] = monitor.clock_state()

    async def publish(out: Outbox, closed: list[ClosedWindow], by: str) -> None:
        for window in closed:
            metrics.WINDOWS_CLOSED.labels(window.status, by).inc()
            if window.status == SURGE:
                metrics.ANOMALIES.inc()
                record = window.to_dict()
                record.update(at_ms=now_ms(), window_s=params.window_s,
                              hop_s=params.step_s)
                await out.send("anomalies.detected", window.key, record)

    async def on_record(out: Outbox, event: EventT, monitor: SurgeMonitor,
                        index: int, record: dict[str, Any], wall_ms: int) -> bool:
        """Handle one record; True when it was a count, counted now."""
        control = record.get("control")
        if control == "flush":
            await publish(out, monitor.flush(), BY_FLUSH)
            await out.send("anomalies.detected", "__control__", {
                "control": "flushed", "token": record.get("token"),
                "partition": event.message.partition,
            })
            return False
        if control == TICK:
            if ctx.settings.surge_wall_clock:
                await publish(out, monitor.advance_by_wall_clock(now_ms()),
                              BY_WALL_CLOCK)
            return False
        try:
            key, event_ms = str(record["key"]), int(record["event_ms"])
        except (KeyError, TypeError, ValueError):
            # A count is not a report: nothing to dead-letter.
            logger.warning("surge skipped a malformed count on %s", describe(event))
            metrics.STAGE_EVENTS.labels(STAGE, "invalid").inc()
            return False
        repeats = monitor.repeats
        closed = monitor.add(key, event_ms, (event.message.offset, index), wall_ms)
        await publish(out, closed, BY_WATERMARK)
        return monitor.repeats == repeats  # a redelivered count is not counted

    @ctx.app.agent(ctx.topic(SOURCE), name="surge")
    async def surge_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            last_event: dict[int, EventT] = {}
            before: dict[int, tuple[int, int, int, int, int]] = {}
            counted = 0
            wall_ms = now_ms()
            for event in events:
                partition = event.message.partition
                monitor = monitor_of(partition)
                before.setdefault(partition, counters(monitor))
                last_event[partition] = event
                try:
                    records = records_of(ctx, event)
                except ValueError:
                    logger.exception("surge could not read %s", describe(event))
                    metrics.STAGE_EVENTS.labels(STAGE, "invalid").inc()
                    continue
                for index, record in enumerate(records):
                    counted += await on_record(out, event, monitor, index, record,
                                               wall_ms)
            # Anomalies out first: a state write lost after them closes a
            # window twice (the alert stage sends one alert), never loses one.
            await out.delivered()
            for partition, event in last_event.items():
                store(partition, event)
                late, quiet, repeats, outliers, folded = (
                    after - was for after, was in
                    zip(counters(monitors[partition]), before[partition],
                        strict=True))
                metrics.LATE_EVENTS.inc(late)
                metrics.QUIET_WINDOWS.inc(quiet)
                metrics.SURGE_REPEATS.inc(repeats)
                metrics.SURGE_OUTLIERS.inc(outliers)
                metrics.SURGE_FOLDED.inc(folded)
            metrics.STAGE_EVENTS.labels(STAGE, "ok").inc(counted)
            metrics.SURGE_WARMING_UP.set(sum(m.warming_up() for m in monitors.values()))
            metrics.SURGE_KEYS.set(sum(len(m.keys) for m in monitors.values()))

    async def forget(app: Any, revoked: Any, **kwargs: Any) -> None:
        """A partition this worker lost is another's now; taken again, it is
        rebuilt from the table."""
        for tp in revoked:
            if tp.topic == SOURCE:
                monitors.pop(tp.partition, None)

    # Faust calls its signal receivers with keyword ``signal``; its stub types
    # name it, our receiver takes it in ``kwargs``.
    ctx.app.on_partitions_revoked.connect(forget)  # type: ignore[arg-type]

    if ctx.settings.surge_wall_clock:
        @ctx.app.timer(interval=ctx.settings.surge_tick_s, name="surge-ticks")
        async def tick() -> None:
            await send_ticks(ctx, (SOURCE,))
