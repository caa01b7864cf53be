"""Bundles: many records of one partition in one Kafka message.

A stage's per-message cost in Faust (fetch bookkeeping, a stream event, an
acknowledgement) is paid once per message, not once per record, so between
internal stages records travel in bundles: a JSON array of records that all
belong to the same partition. Each record keeps its own key, and the bundle
goes to the partition Kafka's default partitioner gives that key, so keyed
state and ordering stay exactly as they would be one record per message.

>>> partition_for(b"c:802:-1507", 4)
2
>>> packer = BundlePacker(max_records=2)
>>> for n in range(3):
...     packer.add("t", partition_for(b"k", 4), {"n": n})
>>> [(topic, partition, len(records)) for topic, partition, records in packer.drain()]
[('t', 0, 2), ('t', 0, 1)]
>>> unbundle(b'[{"n": 1}, {"n": 2}]')
[{'n': 1}, {'n': 2}]
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

MAX_RECORDS = 200


@lru_cache(maxsize=65_536)
def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def unbundle(value: bytes) -> list[dict[str, Any]]:
    """The records of a bundle; raises ``ValueError`` when it is not one."""
    records = orjson.loads(value)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError("a bundle is a JSON array of objects")
    return records


class BundlePacker:
    """Collects records per (topic, partition) and hands them out as bundles."""

    def __init__(self, max_records: int = MAX_RECORDS):
        self.max_records = max_records
        self.open: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.full: list[tuple[str, int, list[dict[str, Any]]]] = []

    def add(self, topic: str, partition: int, record: dict[str, Any]) -> None:
        records = self.open.setdefault((topic, partition), [])
        records.append(record)
        if len(records) >= self.max_records:
            self.full.append((topic, partition, records))
            del self.open[(topic, partition)]

    def drain(self) -> Iterator[tuple[str, int, list[dict[str, Any]]]]:
        """Every bundle collected so far, in the order each one was started."""
        full, self.full = self.full, []
        open_, self.open = self.open, {}
        yield from full
        for (topic, partition), records in open_.items():
            yield topic, partition, records
