"""Fences: a lone tombstone closes each changelog partition a worker wrote.

The embedded broker answers "latest offset" with the base offset of the last
record batch plus one (README, Known limits), and Faust recovers a table up to
that offset. When the last batch of a changelog partition held several
records, a worker that took the partition over recovered the first of them
only: a restarted worker knew 91 of 134 units, losing a whole batch of unit
statuses. With a fence, the last batch of every partition written is a single
record, and "base plus one" is the true end.

The fence is written after the producer's flush that precedes every offset
commit, and acknowledged before the commit: everything the committed input
changed lies before a fence. Writes that race with the fence belong to input
not yet committed, which is processed again after a restart (the stages are
idempotent). The fence is a tombstone for a key no table uses
(``FENCE_KEY``, encoded as the table encodes its keys: recovery decodes
every key), so recovery deletes a key that is not there, which changes
nothing. Against a real Kafka the fences cost one small record per
changelog partition written per commit, and change nothing either.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from faust.types import FutureMessage

from agents import metrics

logger = logging.getLogger(__name__)

FENCE_KEY = "__intake_fence__"


class ChangelogFences:
    """The changelog partitions written since the last fence, and the fencing."""

    def __init__(self) -> None:
        self.written: set[tuple[str, int]] = set()
        #: The fence's key in each changelog topic's own key encoding.
        self.keys: dict[str, bytes] = {}

    def watch(self, table: Any) -> None:
        """Note every partition ``table``'s changelog is written to."""
        topic = table.changelog_topic.get_topic_name()
        self.keys[topic] = table.app.serializers.dumps_key(
            table.key_type, FENCE_KEY, serializer=table.key_serializer)
        original = table._on_changelog_sent

        def sent(fut: FutureMessage) -> None:
            partition = fut.message.partition
            if partition is not None:
                self.written.add((topic, partition))
            original(fut)

        table._on_changelog_sent = sent

    async def fence(self, producer: Any) -> None:
        """A tombstone for ``FENCE_KEY`` on each partition written, acknowledged."""
        if not self.written:
            return
        written, self.written = self.written, set()
        sends: list[Any] = []
        failed: list[BaseException] = []
        for topic, partition in sorted(written):
            try:
                sends.append(await producer.send(topic, self.keys[topic], None,
                                                 partition, None, None))
            except Exception as exc:  # noqa: BLE001 - counted and logged below
                failed.append(exc)
        results = await asyncio.gather(*sends, return_exceptions=True)
        failed += [r for r in results if isinstance(r, BaseException)]
        if failed:
            # The commit goes on: a missing fence costs what it cost before
            # (a recovery may stop short), never the input itself.
            logger.warning("%d changelog fences not written: %r", len(failed),
                           failed[0])
        metrics.CHANGELOG_FENCES.inc(len(written) - len(failed))


def install(app: faust.App) -> ChangelogFences:
    """Fence every table of ``app`` (create its tables first) at each commit."""
    fences = ChangelogFences()
    for table in app.tables.values():
        fences.watch(table)
    app._intake_fences = fences  # type: ignore[attr-defined]
    _fence_after_flush()
    return fences


def _fence_after_flush() -> None:
    """Make the producer fence what its app's tables wrote after each flush.

    Faust flushes the producer right before it commits offsets
    (``Consumer._commit_offsets``); it has no hook between the two.
    """
    from faust.transport.drivers import aiokafka as driver

    producer_class: Any = driver.Producer
    if getattr(producer_class, "_intake_original_flush", None) is not None:
        return
    original = producer_class.flush
    producer_class._intake_original_flush = original

    async def flush(self: Any) -> None:
        await original(self)
        fences = getattr(self.app, "_intake_fences", None)
        if fences is not None:
            await fences.fence(self)

    producer_class.flush = flush
