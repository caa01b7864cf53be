"""units: units.status -> a global table (the truth) and Redis (the search index).

The global table holds every unit's newest status on every worker: a status or
fix older than the one held changes nothing (``pipeline/units.py``), and the
table comes back from its changelog when a worker restarts. Redis holds, per
capability, a GEO set of the units available now, and a hash of every unit's
last status. When Redis lost units (flushed, restarted empty) or missed writes
while it failed, a timer rewrites it from the table in bounded chunks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import orjson
import redis.asyncio as aioredis
from faust.types import StreamT
from redis.exceptions import RedisError

from agents import metrics
from agents.app import Context, as_current, describe, value_of
from agents.health import RedisHealth
from pipeline.schema import UnitStatus
from pipeline.units import AVAILABLE, geo_indexable, newer_of, read_unit

logger = logging.getLogger(__name__)
STAGE = "units"
#: How often a worker checks that Redis holds every unit of its table.
CATCH_UP_EVERY_S = 2.0
#: Units per pipelined write when Redis is rewritten from the table.
CATCH_UP_CHUNK = 1_000
#: One worker rewrites at a time; the claim lapses if that worker dies.
CATCH_UP_CLAIM_MS = 30_000


def geo_key(app_id: str, capability: str) -> str:
    return f"{app_id}:units:available:{capability}"


def hash_key(app_id: str) -> str:
    return f"{app_id}:units:status"


def capabilities_key(app_id: str) -> str:
    return f"{app_id}:units:capabilities"


def catch_up_key(app_id: str) -> str:
    return f"{app_id}:units:catch-up"


class RedisUnits:
    """Redis's copy of the unit table, every call bounded by ``timeout_s``."""

    def __init__(self, client: aioredis.Redis, app_id: str, timeout_s: float,
                 health: RedisHealth):
        self.client = client
        self.app_id = app_id
        self.timeout_s = timeout_s
        self.health = health
        #: A write was skipped or failed: Redis may hold old statuses. True at
        #: start: writes missed before a restart are not known any more, so a
        #: new worker rewrites Redis from its recovered table once.
        self.behind = True

    async def write(self, updates: list[UnitStatus]) -> None:
        if not updates:
            return
        if not self.health.should_try():
            self.behind = True
            return
        try:
            await asyncio.wait_for(write_units(self.client, self.app_id, updates),
                                   self.timeout_s)
            self.health.succeeded()
        except (TimeoutError, RedisError, OSError) as exc:
            self.behind = True
            self.health.failed(f"write of {len(updates)} unit statuses", exc)

    async def catch_up(self, table: Any) -> int:
        """Rewrite Redis from ``table`` when it is behind; return units written."""
        if not self.health.should_try():
            return 0
        try:
            held = await asyncio.wait_for(self.client.hlen(hash_key(self.app_id)),
                                          self.timeout_s)
            if held >= len(table) and not self.behind:
                return 0
            claimed = await asyncio.wait_for(
                self.client.set(catch_up_key(self.app_id), b"1", nx=True,
                                px=CATCH_UP_CLAIM_MS), self.timeout_s)
            if not claimed:
                return 0
            ids = list(table.keys())
            for start in range(0, len(ids), CATCH_UP_CHUNK):
                # Each chunk reads the table as it is now, not as it was when
                # the rewrite began: a newer status never loses to an older.
                chunk = [UnitStatus.from_dict(v) for v in
                         (table.get(i) for i in ids[start:start + CATCH_UP_CHUNK])
                         if v]
                await asyncio.wait_for(write_units(self.client, self.app_id, chunk),
                                       self.timeout_s)
            await asyncio.wait_for(self.client.delete(catch_up_key(self.app_id)),
                                   self.timeout_s)
        except (TimeoutError, RedisError, OSError) as exc:
            self.behind = True
            self.health.failed("rewrite of the units from the table", exc)
            return 0
        self.behind = False
        self.health.succeeded()
        metrics.REDIS_CATCH_UPS.inc()
        logger.warning("Redis held %d of the %d units of the table: rewrote them",
                       held, len(ids))
        return len(ids)


def install(ctx: Context) -> None:
    app_id = ctx.settings.app_id
    table = ctx.app.GlobalTable("units", default=None,
                                partitions=ctx.specs["units.status"].partitions)
    ctx.units_table = table
    timeout_s = ctx.settings.redis_timeout_ms / 1000
    client = aioredis.from_url(ctx.settings.redis_url, socket_timeout=timeout_s,
                               socket_connect_timeout=timeout_s)
    ctx.redis = client
    index = RedisUnits(client, app_id, timeout_s, ctx.redis_health)

    @ctx.app.agent(ctx.topic("units.status"), name="units")
    async def units_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            updates = []
            superseded = 0
            for event in events:
                try:
                    unit = read_unit(orjson.loads(value_of(event)))
                except Exception as exc:  # noqa: BLE001 - never stop routing
                    logger.warning("unit status skipped (%r) on %s", exc,
                                   describe(event))
                    metrics.STAGE_EVENTS.labels(STAGE, "invalid").inc()
                    continue
                held_value = table.get(unit.unit_id)
                held = UnitStatus.from_dict(held_value) if held_value else None
                current = newer_of(held, unit)
                if current == held:
                    superseded += 1  # late or repeated: the table has newer
                    continue
                as_current(event)
                table[unit.unit_id] = current.to_dict()
                updates.append(current)
            await index.write(updates)
            metrics.STAGE_EVENTS.labels(STAGE, "ok").inc(len(updates))
            metrics.STAGE_EVENTS.labels(STAGE, "superseded").inc(superseded)
            metrics.UNITS_KNOWN.set(len(table))

    @ctx.app.timer(CATCH_UP_EVERY_S, name="units-redis-catch-up")
    async def redis_catch_up() -> None:
        # A table still recovering from its changelog may hold old statuses.
        tables: Any = ctx.app.tables  # the manager's recovery is not on its type
        if ctx.app.in_recovery or not tables.recovery.completed.is_set():
            return
        metrics.UNITS_KNOWN.set(len(table))  # also after a restart's recovery
        await index.catch_up(table)


async def write_units(client: aioredis.Redis, app_id: str,
                      updates: Iterable[UnitStatus]) -> None:
    """Store statuses: the hash always; the GEO sets for available units.

    A unit beyond Redis GEO's latitude limit stays out of the GEO sets (Redis
    answers "invalid longitude,latitude pair"); routing finds it in the table.
    """
    units = list(updates)
    if not units:
        return
    known = await client.smembers(capabilities_key(app_id))
    capabilities = {c.decode() for c in known}
    capabilities.update(c for u in units for c in u.capabilities)
    async with client.pipeline(transaction=False) as pipe:
        for capability in capabilities:
            pipe.sadd(capabilities_key(app_id), capability)
        for unit in units:
            pipe.hset(hash_key(app_id), unit.unit_id, orjson.dumps(unit.to_dict()))
            for capability in capabilities:
                pipe.zrem(geo_key(app_id, capability), unit.unit_id)
            if unit.status == AVAILABLE and geo_indexable(unit):
                for capability in unit.capabilities:
                    pipe.geoadd(geo_key(app_id, capability),
                                (unit.lon, unit.lat, unit.unit_id))
        await pipe.execute()
