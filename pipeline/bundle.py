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
>>> [(topic, partition, unbundle(value)) for topic, partition, value in packer.drain()]
[('t', 0, [{'n': 0}, {'n': 1}]), ('t', 0, [{'n': 2}])]
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
MAX_BYTES = 512 * 1024  # well under a broker's usual 1 MiB message limit


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
    """Collects encoded records per (topic, partition); hands them out as bundles.

    A bundle closes at ``max_records`` records or ``max_bytes`` bytes, so no
    bundle outgrows what a broker accepts in one message.
    """

    def __init__(self, max_records: int = MAX_RECORDS, max_bytes: int = MAX_BYTES):
        self.max_records, self.max_bytes = max_records, max_bytes
        self.open: dict[tuple[str, int], tuple[list[bytes], int]] = {}
        self.full: list[tuple[str, int, bytes]] = []

    def add(self, topic: str, partition: int, record: dict[str, Any]) -> None:
        encoded = orjson.dumps(record)
        parts, size = self.open.get((topic, partition), ([], 0))
        if parts and size + len(encoded) > self.max_bytes:
            self.full.append((topic, partition, _join(parts)))
            parts, size = [], 0
        parts.append(encoded)
        size += len(encoded) + 1
        if len(parts) >= self.max_records:
            self.full.append((topic, partition, _join(parts)))
            self.open.pop((topic, partition), None)
        else:
            self.open[(topic, partition)] = (parts, size)

    def drain(self) -> Iterator[tuple[str, int, bytes]]:
        """Every bundle collected so far (encoded), each partition's in order."""
        full, self.full = self.full, []
        open_, self.open = self.open, {}
        yield from full
        for (topic, partition), (parts, _) in open_.items():
            yield topic, partition, _join(parts)


def _join(parts: list[bytes]) -> bytes:
    return b"[" + b",".join(parts) + b"]"
