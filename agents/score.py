"""score: incidents.changes -> incidents.scored (priority and the reasons for it).

Records are IncidentChange dicts (``pipeline/schema.py``); this stage and the
ones after it add their own fields and pass the rest on untouched.

The rules' priority is moved, as ``models/score_model.yaml`` allows, by an
online model that learns from dispatchers (``pipeline/learned_score.py``). Its
state lives in two tables, partitioned like the incident topics and
``dispatch.outcomes`` (so partition P of each meets on one worker):

- ``score-facts``: per incident, what the model reads of it (a short list),
  written once per batch that changed it; an incident leaves ``facts_ttl_s``
  of event time after its last change, or when a partition holds more than
  ``max_facts``. The agent ``score-outcomes`` reads ``dispatch.outcomes`` (next
  to ``citizen-outcomes``, which answers the reporters) and turns an outcome
  with a priority into a learning example from these facts.
- ``score-model``: one packed model per partition (key ``model/<P>``), written
  when it learnt something, at most once per ``snapshot_every_s`` and at a
  replay's end (``{"control": "flush"}`` on dispatch.outcomes). A worker that
  takes a partition over, or restarts, rebuilds the model from there; what was
  learnt since the last snapshot is lost with the worker that learnt it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from faust.types import EventT, StreamT

from agents import metrics
from agents.app import (
    Change,
    Context,
    Outbox,
    Step,
    as_current,
    each_change,
    records_of,
    table_get,
)
from agents.exceptions import ConfigError
from pipeline.alert import SentLog
from pipeline.bundle import partition_for
from pipeline.citizen import Outcome, Refused
from pipeline.learned_score import LAST_MS, LEARNT, RULES, LearnedScorer, pack, unpack
from pipeline.priority_model import PriorityModel

logger = logging.getLogger(__name__)
STAGE = "score"
SOURCE = "incidents.changes"
OUTCOMES = "dispatch.outcomes"
MODEL_KEY = "model/"


@dataclass
class ScoreDesk:
    """The model and facts of each partition this worker holds, and their tables."""

    learned: LearnedScorer
    facts: Any
    snapshots: Any
    partitions: int
    models: dict[int, PriorityModel] = field(default_factory=dict)
    logs: dict[int, SentLog] = field(default_factory=dict)
    #: Partition -> monotonic time of its last snapshot; dirty: learnt since.
    written_at: dict[int, float] = field(default_factory=dict)
    dirty: set[int] = field(default_factory=set)

    def partition_of(self, incident_id: str) -> int:
        return partition_for(incident_id.encode(), self.partitions)

    def model_of(self, partition: int) -> PriorityModel:
        model = self.models.get(partition)
        if model is None:
            stored = table_get(self.snapshots, f"{MODEL_KEY}{partition}")
            model = unpack(stored) if stored else self.learned.new_model()
            self.models[partition] = model
            self.written_at[partition] = time.monotonic()
            metrics.SCORE_MODEL_OUTCOMES.labels(str(partition)).set(model.seen)
        return model

    def log_of(self, partition: int) -> SentLog:
        log = self.logs.get(partition)
        if log is None:
            # After a restart the facts come back from their changelog.
            log = self.logs[partition] = SentLog.restored(
                int(self.learned.rule.facts_ttl_s * 1000),
                ((key, int(value[LAST_MS])) for key, value in self.facts.items()
                 if value and self.partition_of(key) == partition))
        return log

    def keep(self, changed: dict[str, tuple[EventT, list[Any]]]) -> None:
        """Write each incident's newest facts (one write per incident per batch),
        then forget the incidents past keeping."""
        last_event: dict[int, EventT] = {}
        for incident_id, (event, facts) in changed.items():
            stored = table_get(self.facts, incident_id)
            if stored:
                facts[LEARNT] = stored[LEARNT]  # an outcome is not learnt twice
                if stored == facts:
                    continue
            partition = event.message.partition
            last_event[partition] = event
            self.log_of(partition).touch(incident_id, facts[LAST_MS])
            as_current(event)
            self.facts[incident_id] = facts
        for partition, event in last_event.items():
            log = self.log_of(partition)
            gone = [i for i in log.expired() + log.trim(self.learned.rule.max_facts)
                    if i in self.facts]
            if gone:
                as_current(event)
                for incident_id in gone:
                    del self.facts[incident_id]
                metrics.SCORE_FACTS_FORGOTTEN.inc(len(gone))

    def store_due(self, last_event: dict[int, EventT], force: bool = False) -> None:
        """Write the model of each partition that learnt something, when due."""
        now = time.monotonic()
        every_s = self.learned.rule.snapshot_every_s
        for partition, event in last_event.items():
            if partition not in self.dirty:
                continue
            if not force and now - self.written_at.get(partition, 0.0) < every_s:
                continue
            model = self.models[partition]
            packed = pack(model)
            size = len(orjson.dumps(packed))
            self.dirty.discard(partition)
            self.written_at[partition] = now
            if size > self.learned.rule.max_snapshot_bytes:
                logger.error("score model of partition %d is %d bytes, over "
                             "max_snapshot_bytes: not stored", partition, size)
                metrics.SCORE_SNAPSHOTS.labels("too_large").inc()
                continue
            as_current(event)  # to this partition's changelog
            self.snapshots[f"{MODEL_KEY}{partition}"] = packed
            metrics.SCORE_SNAPSHOTS.labels("written").inc()

    def learn(self, event: EventT, outcome: Outcome) -> str:
        """Learn one outcome; say what became of it (a metric label)."""
        if outcome.priority is None:
            return "no_priority"
        partition = event.message.partition
        if self.partition_of(outcome.incident_id) != partition:
            return "misrouted"  # citizen-outcomes dead-letters it
        facts = table_get(self.facts, outcome.incident_id)
        if not facts:
            return "no_facts"
        model = self.model_of(partition)
        if not self.learned.learn(model, facts, outcome.priority):
            return "repeat"
        as_current(event)
        self.facts[outcome.incident_id] = facts  # now says what it taught
        self.dirty.add(partition)
        metrics.SCORE_MODEL_OUTCOMES.labels(str(partition)).set(model.seen)
        return "learnt"

    def forget(self, partition: int) -> None:
        """A partition this worker lost: its model and facts are another's now."""
        self.models.pop(partition, None)
        self.logs.pop(partition, None)
        self.dirty.discard(partition)


def step(ctx: Context) -> Step:
    learned = ctx.models.learned
    partitions = ctx.specs[SOURCE].partitions
    if ctx.specs[OUTCOMES].partitions != partitions:
        raise ConfigError(f"topics.yaml: {OUTCOMES} needs the {partitions} "
                          f"partitions of {SOURCE}, to meet its incident's facts")
    desk = ScoreDesk(
        learned,
        ctx.app.Table("score-facts", default=None, partitions=partitions),
        ctx.app.Table("score-model", default=None, partitions=partitions),
        partitions)
    install_outcomes(ctx, desk)

    async def run(out: Outbox, batch: list[Change]) -> list[Change]:
        changed: dict[str, tuple[EventT, list[Any]]] = {}
        moved = {"up": 0, "down": 0}

        async def score(out: Outbox, event: EventT, record: dict[str, Any]) -> None:
            # The record goes on as it came, with this stage's fields added: no
            # round trip through the IncidentChange dataclass on the hot path.
            model = desk.model_of(event.message.partition)
            priority, reasons, facts = learned.score(record, model)
            record["priority"], record["priority_reasons"] = priority, reasons
            if priority != facts[RULES]:
                moved["up" if priority < facts[RULES] else "down"] += 1
            changed[record["incident_id"]] = (event, facts)

        passed = await each_change(out, batch, STAGE, score)
        desk.keep(changed)
        desk.store_due({event.message.partition: event for event, _ in batch})
        for direction, count in moved.items():
            if count:
                metrics.SCORE_MOVED.labels(direction).inc(count)
        return passed

    async def forget(app: Any, revoked: Any, **kwargs: Any) -> None:
        for tp in revoked:
            if tp.topic in (SOURCE, OUTCOMES):
                desk.forget(tp.partition)

    # Faust calls its signal receivers with keyword ``signal``; its stub types
    # name it, our receiver takes it in ``kwargs``.
    ctx.app.on_partitions_revoked.connect(forget)  # type: ignore[arg-type]
    return Step(STAGE, SOURCE, "incidents.scored", run)


def install_outcomes(ctx: Context, desk: ScoreDesk) -> None:
    """The agent that learns from dispatch.outcomes. A malformed outcome is only
    counted here: ``citizen-outcomes`` reads the same records and dead-letters it."""
    stage = "score-outcomes"

    @ctx.app.agent(ctx.topic(OUTCOMES), name=stage)
    async def outcomes_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            counts: dict[str, int] = {}
            last_event: dict[int, EventT] = {}
            flushed: dict[int, EventT] = {}
            for event in events:
                last_event[event.message.partition] = event
                try:
                    records = records_of(ctx, event)
                except ValueError:
                    counts["invalid"] = counts.get("invalid", 0) + 1
                    continue
                for record in records:
                    if record.get("control") == "flush":
                        flushed[event.message.partition] = event
                        continue
                    try:
                        what = desk.learn(event, Outcome.from_dict(record))
                    except Refused:
                        what = "invalid"
                    except Exception:  # a bad record never stops the agent
                        logger.exception("score could not learn an outcome")
                        what = "invalid"
                    counts[what] = counts.get(what, 0) + 1
            desk.store_due(flushed, force=True)
            desk.store_due(last_event)
            for what, count in counts.items():
                metrics.SCORE_OUTCOMES.labels(what).inc(count)
