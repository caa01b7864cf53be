"""Table writes sent straight to the producer (agents/changelog.py): the same
records Faust would write, in order, and none lost when the broker refuses one."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import orjson

from agents import metrics
from agents.changelog import Changelog


class Broker:
    """Stands in for the producer: acknowledges each send, or refuses the
    ones ``refuse`` picks (the first time it sees them)."""

    def __init__(self, refuse: set[bytes] | None = None):
        self.refuse = refuse or set()
        self.log: list[tuple[str, int, bytes | None, bytes | None]] = []

    async def send(self, topic: str, key: bytes | None, value: bytes | None,
                   partition: int, timestamp: Any, headers: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        if value in self.refuse:
            self.refuse.discard(value)
            future.set_exception(ConnectionError("broker refused"))
        else:
            self.log.append((topic, partition, key, value))
            future.set_result(None)
        return future


class Host:
    def __init__(self, producer: Broker):
        self.producer = producer


def table_and_changelog(broker: Broker, written: set[tuple[str, int]]
                        ) -> tuple[Any, Changelog]:
    app = faust.App("changelog-test", broker="kafka://127.0.0.1:9",
                    store="memory://", value_serializer="raw", key_serializer="raw")
    table = app.Table("cells", default=None, partitions=4)
    changelog = Changelog(Host(broker), lambda t, p: written.add((t, p)))
    changelog.watch(table)
    return table, changelog


async def _flush_nothing() -> None:
    return None


def test_writes_go_out_in_order_as_faust_encodes_them() -> None:
    broker = Broker()
    written: set[tuple[str, int]] = set()
    table, changelog = table_and_changelog(broker, written)
    topic = table.changelog_topic.get_topic_name()

    async def run() -> None:
        table.send_changelog(2, "a", {"n": 1})
        table.send_changelog(2, "a", {"n": 2})
        mark = table.send_changelog(3, "b", None, value_serializer="raw")
        assert mark.message.partition == 3  # what Table.on_key_set reads
        await changelog.flush(_flush_nothing)

    asyncio.run(run())
    # Keys and values as the table's codecs encode them (JSON here).
    assert [(p, k and orjson.loads(k), v and orjson.loads(v))
            for _, p, k, v in broker.log] == [
        (2, "a", {"n": 1}), (2, "a", {"n": 2}), (3, "b", None)]
    assert {t for t, *_ in broker.log} == {topic}
    assert written == {(topic, 2), (topic, 3)}


def test_a_refused_write_is_sent_again_unless_a_later_one_replaced_it() -> None:
    first, other = orjson.dumps({"n": 1}), orjson.dumps({"n": 9})
    broker = Broker(refuse={first, other})
    table, changelog = table_and_changelog(broker, set())
    before = metrics.CHANGELOG_RETRIES._value.get()

    async def run() -> None:
        table.send_changelog(0, "a", {"n": 1})   # refused, then replaced
        table.send_changelog(0, "a", {"n": 2})
        table.send_changelog(1, "b", {"n": 9})   # refused, the newest of "b"
        await changelog.flush(_flush_nothing)

    asyncio.run(run())
    assert [(k and orjson.loads(k), orjson.loads(v))
            for _, _, k, v in broker.log if v] == [("a", {"n": 2}), ("b", {"n": 9})]
    assert metrics.CHANGELOG_RETRIES._value.get() - before == 1
    assert not changelog.queued and not changelog.sent
