"""Table writes go to their changelog straight through the producer.

Faust sends each table write through its buffered publish path: a future per
write, a done-callback, a sensor call, and a buffer that pauses every agent
while more than 100 writes wait in it. With three to four writes per report
that path was a large share of a worker's CPU. Here a write is serialized as
Faust would serialize it (the changelog topic's own key and value codecs),
queued, and handed to the producer by one task; the partition is the one
Faust picks (the current event's). Nothing changes in how tables recover:
the records on the changelog are the same.

At least once, as before: Faust flushes the producer before each offset
commit, and the flush first hands over every queued write and then waits
until the broker has acknowledged each one, sending again any it refused
(``flush``). A write whose partition Faust leaves to the producer (a global
table's) goes Faust's own way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from agents import metrics

logger = logging.getLogger(__name__)

#: Past this many queued writes an agent waits at the end of its batch
#: (``ebb``) until the queue is handed over.
MAX_QUEUED = 20_000


class Write(NamedTuple):
    topic: str
    partition: int
    key: bytes | None
    value: bytes | None


class _Sent(NamedTuple):
    """What ``Table.on_key_set`` reads of a sent write: ``.message.partition``."""

    message: Any


class _Partition(NamedTuple):
    partition: int


class Changelog:
    """The queued changelog writes of one worker's tables, and their sending."""

    def __init__(self, app: Any, on_written: Callable[[str, int], None]):
        self.app = app  # its producer is made when first asked for
        self.on_written = on_written
        self.queued: list[Write] = []
        self.sent: list[tuple[Write, Any]] = []
        self.task: asyncio.Future[None] | None = None
        self._sent_marks: dict[int, _Sent] = {}

    def watch(self, table: Any) -> None:
        """Send ``table``'s writes this way (a global table's stay Faust's)."""
        topic = table.changelog_topic
        name = topic.get_topic_name()
        faust_send = table.send_changelog

        def send_changelog(partition: int | None, key: Any, value: Any,
                           key_serializer: Any = None,
                           value_serializer: Any = None) -> Any:
            if partition is None:
                return faust_send(partition, key, value, key_serializer,
                                  value_serializer)
            key_bytes, _ = topic.prepare_key(
                key, key_serializer or table.key_serializer, None, {})
            value_bytes = None
            if value is not None:
                value_bytes, _ = topic.prepare_value(
                    value, value_serializer or table.value_serializer, None, {})
            self.add(Write(name, partition, key_bytes, value_bytes))
            return self._mark(partition)

        table.send_changelog = send_changelog

    def _mark(self, partition: int) -> _Sent:
        mark = self._sent_marks.get(partition)
        if mark is None:
            mark = self._sent_marks[partition] = _Sent(_Partition(partition))
        return mark

    def add(self, write: Write) -> None:
        self.queued.append(write)
        self.on_written(write.topic, write.partition)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._hand_over())

    async def _hand_over(self) -> None:
        """Give every queued write to the producer (acknowledged later)."""
        while self.queued:
            writes, self.queued = self.queued, []
            for write in writes:
                await self._send(write)

    async def _send(self, write: Write) -> None:
        try:
            future = await self.app.producer.send(write.topic, write.key, write.value,
                                              write.partition, None, None)
        except Exception as exc:  # noqa: BLE001 - sent again at the flush
            future = asyncio.get_running_loop().create_future()
            future.set_exception(exc)
        self.sent.append((write, future))
        if len(self.sent) > 4 * MAX_QUEUED:
            self.sent = [(w, f) for w, f in self.sent
                         if not f.done() or f.exception() is not None]

    async def ebb(self) -> None:
        """Wait while too many writes are queued (the producer is behind)."""
        if len(self.queued) > MAX_QUEUED and self.task is not None:
            await asyncio.shield(self.task)

    async def flush(self, producer_flush: Callable[[], Any]) -> None:
        """Hand over every write, flush the producer, and make sure the broker
        has each one, sending again those it refused.

        A refused write is sent again only when no later write of its key was
        made (a later one carries the newer value); one task sends, in order.
        """
        backoff_s = 0.2
        while True:
            while self.queued or (self.task is not None and not self.task.done()):
                if self.task is None or self.task.done():
                    self.task = asyncio.ensure_future(self._hand_over())
                await asyncio.shield(self.task)
            await producer_flush()
            sent, self.sent = self.sent, []
            newest: dict[tuple[str, int, bytes | None], int] = {}
            for index, (write, _) in enumerate(sent):
                newest[write.topic, write.partition, write.key] = index
            failed = []
            for index, (write, future) in enumerate(sent):
                if not future.done():
                    self.sent.append((write, future))  # sent after the flush began
                elif ((future.cancelled() or future.exception() is not None)
                      and newest[write.topic, write.partition, write.key] == index):
                    failed.append(write)
            if not failed:
                return
            metrics.CHANGELOG_RETRIES.inc(len(failed))
            logger.warning("%d changelog writes not acknowledged; sending again "
                           "in %.1f s", len(failed), backoff_s)
            await asyncio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, 10.0)
            self.queued = failed + self.queued
