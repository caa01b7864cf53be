"""citizen: incidents.alerted -> citizen.updates, and every change onto incidents.board.

The step after alert tells each reporter of an incident what happened, once per
status, on the channel they used (``pipeline/citizen.py``). What each reporter
was told lives in the table ``citizen-followups``, keyed by incident like the
incident topics, so a redelivered change sends nothing twice. Two more agents
share the table: ``citizen-outcomes`` reads ``dispatch.outcomes`` (a resolved
incident: the resolved update and a survey) and ``citizen-answers`` reads
``feedback.answers`` (satisfaction figures on /metrics). Both topics have the
incident topics' partition count and are keyed by incident, so partition P of
each is served by the worker that holds partition P of the table.

An incident quiet for ``resolve_after_s`` of event time is resolved "closed for
inactivity"; a record ``{"control": "flush", "token": T}`` on dispatch.outcomes
closes every open incident of its partition (end of a replay) and is answered on
citizen.updates with ``{"control": "flushed", "token": T, "partition": P}``. An
incident leaves the table ``seen_ttl_s`` or ``answer_window_s`` of event time
after its last change, whichever is later.
TODO(issue 8): close quiet incidents by wall clock when a stream goes quiet in
live mode; now only a newer change of the same partition moves the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from faust.types import EventT, StreamT

from agents import metrics
from agents.app import (
    Change,
    Context,
    Outbox,
    RecordHandler,
    Step,
    as_current,
    describe,
    each_change,
    now_ms,
    records_of,
    table_get,
)
from agents.exceptions import ConfigError
from pipeline.alert import SentLog
from pipeline.bundle import partition_for
from pipeline.citizen import (
    INACTIVITY,
    Answer,
    CitizenTemplates,
    FollowUp,
    Outcome,
    Refused,
)
from pipeline.regions import timely

logger = logging.getLogger(__name__)
STAGE = "citizen"
SOURCE = "incidents.alerted"
#: Who closed an incident, in metrics and on the resolved update.
BY_INACTIVITY, BY_REPLAY_END = "inactivity", "replay_end"


@dataclass
class PartitionClocks:
    """One partition's incidents by last change: to close, and to forget."""

    quiet: SentLog
    kept: SentLog


@dataclass
class CitizenDesk:
    """The table of follow-ups and what reads and writes it, for one worker."""

    ctx: Context
    templates: CitizenTemplates
    table: Any
    partitions: int
    keep_ms: int
    clocks: dict[int, PartitionClocks] = field(default_factory=dict)

    def clocks_of(self, partition: int) -> PartitionClocks:
        clocks = self.clocks.get(partition)
        if clocks is None:
            # After a restart the table comes back from its changelog.
            mine = [FollowUp.from_dict(v) for k, v in self.table.items()
                    if self.partition_of(k) == partition]
            quiet_ms = int(self.templates.resolve_after_s * 1000)
            clocks = self.clocks[partition] = PartitionClocks(
                SentLog.restored(quiet_ms, ((f.incident_id, f.last_ms)
                                            for f in mine if not f.resolution)),
                SentLog.restored(self.keep_ms, ((f.incident_id, f.last_ms)
                                                for f in mine)))
        return clocks

    def partition_of(self, incident_id: str) -> int:
        return partition_for(incident_id.encode(), self.partitions)

    def get(self, incident_id: str) -> FollowUp | None:
        stored = table_get(self.table, incident_id)
        return FollowUp.from_dict(stored) if stored else None

    async def store_and_send(self, out: Outbox, event: EventT, before: FollowUp | None,
                             after: FollowUp) -> None:
        """Send the updates now due; store what was told (the table first)."""
        after, updates = after.updates(self.templates, now_ms())
        if after != before:
            as_current(event)  # the write goes to this partition's changelog
            self.table[after.incident_id] = after.to_dict()
        for update in updates:
            await out.send("citizen.updates", update.incident_id, update.to_dict())
            metrics.CITIZEN_UPDATES.labels(update.status, update.channel).inc()

    async def close(self, out: Outbox, event: EventT, incident_id: str,
                    by: str) -> None:
        """Resolve an open incident that no dispatcher resolved."""
        before = self.get(incident_id)
        if before is None or before.resolution:
            return
        metrics.CITIZEN_CLOSED.labels(by).inc()
        await self.store_and_send(out, event, before, before.resolved(INACTIVITY, by))

    async def close_partition(self, out: Outbox, event: EventT, partition: int) -> None:
        """Close every open incident of a partition (the end of a replay)."""
        open_ids = [k for k, v in list(self.table.items())
                    if self.partition_of(k) == partition and v
                    and not v.get("resolution")]
        for incident_id in sorted(open_ids):
            await self.close(out, event, incident_id, BY_REPLAY_END)


def step(ctx: Context) -> Step:
    """The citizen step; also adds the agents for outcomes and survey answers."""
    partitions = ctx.specs[SOURCE].partitions
    for name in ("dispatch.outcomes", "feedback.answers"):
        if ctx.specs[name].partitions != partitions:
            raise ConfigError(f"topics.yaml: {name} needs the {partitions} "
                              f"partitions of {SOURCE}, to meet its incident's state")
    keep_s = max(ctx.models.match.seen_ttl_s, ctx.models.citizen.answer_window_s)
    desk = CitizenDesk(
        ctx, ctx.models.citizen,
        ctx.app.Table("citizen-followups", default=None, partitions=partitions),
        partitions, int(keep_s * 1000))
    install_outcomes(ctx, desk)
    install_answers(ctx, desk)

    async def follow(out: Outbox, event: EventT, change: dict[str, Any]) -> None:
        incident_id = change["incident_id"]
        before = desk.get(incident_id)
        if before is None and not change.get("reporter"):
            return  # the common case of a CAD log: no state, nothing to build
        after = (before or FollowUp(incident_id)).with_change(change, desk.templates)
        if not after.reporters:
            return  # nobody to answer: CAD logs, sensors
        clocks = desk.clocks_of(event.message.partition)
        on_time = timely(change.get("region", ""))
        clocks.kept.touch(incident_id, after.last_ms, on_time)
        if not after.resolution:
            clocks.quiet.touch(incident_id, after.last_ms, on_time)
        await desk.store_and_send(out, event, before, after)

    async def close_and_forget(out: Outbox, batch: list[Change]) -> None:
        """Close incidents quiet for resolve_after_s; forget those past keeping."""
        last_event = {event.message.partition: event for event, _ in batch}
        for partition, event in last_event.items():
            clocks = desk.clocks_of(partition)
            for incident_id in clocks.quiet.expired():
                await desk.close(out, event, incident_id, BY_INACTIVITY)
            gone = [i for i in clocks.kept.expired() if i in desk.table]
            if gone:
                as_current(event)
                for incident_id in gone:
                    del desk.table[incident_id]
                metrics.CITIZEN_STATE_FORGOTTEN.inc(len(gone))

    async def run(out: Outbox, batch: list[Change]) -> list[Change]:
        passed = await each_change(out, batch, STAGE, follow)
        await close_and_forget(out, batch)
        return passed

    return Step(STAGE, SOURCE, "incidents.board", run)


async def read_plain(ctx: Context, out: Outbox, event: EventT, stage: str
                     ) -> list[dict[str, Any]]:
    """The record of a plain message; an unreadable one is dead-lettered."""
    try:
        return records_of(ctx, event)
    except ValueError as exc:
        logger.error("%s: unreadable message on %s: %r", stage, describe(event), exc)
        await out.dead_letter(event, f"{stage}_unreadable", repr(exc))
        return []


async def refuse(out: Outbox, event: EventT, stage: str, refused: Refused) -> None:
    logger.warning("%s refused a message on %s: %s", stage, describe(event), refused)
    await out.dead_letter(event, refused.reason, refused.detail)


def check_partition(desk: CitizenDesk, event: EventT, incident_id: str,
                    reason: str) -> None:
    """Raise ``Refused`` when a message is not on its incident's partition: its
    write would land in another partition's changelog."""
    if desk.partition_of(incident_id) != event.message.partition:
        raise Refused(reason, "key the message by its incident_id")


def install_outcomes(ctx: Context, desk: CitizenDesk) -> None:
    stage = "citizen-outcomes"

    async def on_outcome(out: Outbox, event: EventT, record: dict[str, Any]) -> None:
        if record.get("control") == "flush":
            partition = event.message.partition
            await desk.close_partition(out, event, partition)
            await out.send("citizen.updates", "__control__", {
                "control": "flushed", "token": record.get("token"),
                "partition": partition})
            return
        outcome = Outcome.from_dict(record)
        check_partition(desk, event, outcome.incident_id, "outcome_misrouted")
        before = desk.get(outcome.incident_id)
        if before is None or not outcome.resolved or before.resolution:
            return  # no reporter to tell, or nothing new to tell them
        metrics.CITIZEN_CLOSED.labels("outcome").inc()
        await desk.store_and_send(out, event, before,
                                  before.resolved(outcome.disposition, outcome.by))

    add_reader(ctx, "dispatch.outcomes", stage, on_outcome)


def install_answers(ctx: Context, desk: CitizenDesk) -> None:
    stage = "citizen-answers"

    async def on_answer(out: Outbox, event: EventT, record: dict[str, Any]) -> None:
        answer = Answer.from_dict(record)
        check_partition(desk, event, answer.incident_id, "answer_misrouted")
        before = desk.get(answer.incident_id)
        if before is None:
            raise Refused("answer_without_survey",
                          f"no survey of {answer.incident_id} is open")
        after, first = before.answered(answer.reporter)
        if not first:
            metrics.SATISFACTION_REPEATS.inc()
            return
        as_current(event)
        desk.table[after.incident_id] = after.to_dict()
        channel = before.reporters[answer.reporter].channel
        # A source without dispatch areas names grid cells ("grid:385:-770"):
        # one label for all of them keeps the series countable.
        area = "grid" if before.area.startswith("grid:") else before.area
        metrics.SATISFACTION_ANSWERS.labels(channel, area).inc()
        metrics.SATISFACTION_SCORE.labels(channel, area).observe(answer.score)

    add_reader(ctx, "feedback.answers", stage, on_answer)


def add_reader(ctx: Context, topic: str, stage: str, handle: RecordHandler) -> None:
    """An agent over a plain topic: refused records become dead letters."""

    @ctx.app.agent(ctx.topic(topic), name=stage)
    async def reader(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            await read_events(ctx, out, events, stage, handle)
            await out.delivered()


async def read_events(ctx: Context, out: Outbox, events: Sequence[EventT], stage: str,
                      handle: RecordHandler) -> None:
    for event in events:
        for record in await read_plain(ctx, out, event, stage):
            try:
                await handle(out, event, record)
            except Refused as refused:
                await refuse(out, event, stage, refused)
            except Exception as exc:  # logged and dead-lettered, never a crash
                logger.error("%s failed on %s", stage, describe(event), exc_info=exc)
                await out.dead_letter(event, f"{stage}_error", repr(exc))

