"""thread: reports.by_reporter (keyed by reporter) -> reports.normalized (by region).

Each reporter's thread (their last fix) lives in a table keyed by the
reporter's keyed hash; a follow-up without a place takes it
(``pipeline/thread.py``). A thread quiet for ``follow_up_s`` of event time lends
nothing any more and leaves the table, so the table stays bounded.
"""

from __future__ import annotations

import time
from typing import Any

from faust.types import EventT, StreamT, TableT

from agents import metrics
from agents.app import Context, Outbox, as_current, each_record, table_get
from pipeline.alert import SentLog
from pipeline.bundle import partition_for
from pipeline.regions import matchable, region_key
from pipeline.schema import Report
from pipeline.thread import ThreadParams, follow_up

STAGE = "thread"


class ThreadBatch:
    """One batch's threads: each read from the table once, written back once."""

    def __init__(self, threads: TableT, quiet: dict[int, SentLog],
                 params: ThreadParams):
        self.threads, self.quiet = threads, quiet
        self.params = params
        self.states: dict[str, dict[str, Any]] = {}
        self.last_event: dict[str, EventT] = {}
        self.lent = 0

    async def thread(self, out: Outbox, event: EventT, record: dict[str, Any]
                     ) -> None:
        report = Report.from_dict(record)
        key = report.reporter
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = dict(table_get(self.threads, key) or {})
        followed = follow_up(state, report, self.params)
        self.lent += followed is not report
        self.last_event[key] = event
        self.log_of(event.message.partition).touch(key, report.event_ms,
                                                   matchable(report))
        await out.send("reports.normalized", region_key(followed),
                       followed.to_dict())

    def log_of(self, partition: int) -> SentLog:
        log = self.quiet.get(partition)
        if log is None:
            # After a restart the table comes back from its changelog; its
            # threads of this partition are put back in order of their fix.
            count = self.threads.partitions or 1
            log = self.quiet[partition] = SentLog.restored(
                int(self.params.follow_up_s * 1000),
                ((key, int((state or {}).get("fix", [0, 0, 0, 0])[3]))
                 for key, state in self.threads.items()
                 if partition_for(key.encode(), count) == partition))
        return log

    def write_back(self, events: list[EventT]) -> None:
        for key, state in self.states.items():
            as_current(self.last_event[key])
            self.threads[key] = state
        for event in {e.message.partition: e for e in events}.values():
            log = self.quiet.get(event.message.partition)
            gone = [k for k in log.expired() if k in self.threads] if log else []
            if gone:
                as_current(event)  # the deletes go to this partition's changelog
                for key in gone:
                    del self.threads[key]


def install(ctx: Context) -> None:
    params = ctx.models.thread
    threads = ctx.app.Table("reporter-threads", default=None,
                            partitions=ctx.specs["reports.by_reporter"].partitions)
    # Which threads went quiet, per partition (the same bookkeeping as the
    # alert stage's record of alerts sent).
    quiet: dict[int, SentLog] = {}

    @ctx.app.agent(ctx.topic("reports.by_reporter"), name=STAGE)
    async def thread_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            out = ctx.outbox()
            started = time.perf_counter()
            batch = ThreadBatch(threads, quiet, params)
            done = await each_record(ctx, out, events, STAGE, batch.thread)
            batch.write_back(list(events))
            await out.delivered()
            metrics.THREAD_LOCATIONS_LENT.inc(batch.lent)
            metrics.batch_done(STAGE, done, started)
