"""units: units.status -> Redis GEO (for fast nearest search) and a global table.

Redis holds, per capability, a GEO set of the units that are available now, and
a hash of every unit's last status. The global table holds the same statuses on
every worker, so routing goes on from it when Redis is away.
"""

from __future__ import annotations

import logging

import orjson
import redis.asyncio as aioredis
from faust.types import StreamT
from redis.exceptions import RedisError

from agents import metrics
from agents.app import Context, as_current, describe, value_of
from pipeline.route import AVAILABLE, unit_problem
from pipeline.schema import UnitStatus

logger = logging.getLogger(__name__)
STAGE = "units"


def geo_key(app_id: str, capability: str) -> str:
    return f"{app_id}:units:available:{capability}"


def hash_key(app_id: str) -> str:
    return f"{app_id}:units:status"


def capabilities_key(app_id: str) -> str:
    return f"{app_id}:units:capabilities"


def install(ctx: Context) -> None:
    app_id = ctx.settings.app_id
    table = ctx.app.GlobalTable("units", default=None,
                                partitions=ctx.specs["units.status"].partitions)
    ctx.units_table = table
    client = aioredis.from_url(
        ctx.settings.redis_url,
        socket_timeout=ctx.settings.redis_timeout_ms / 1000,
        socket_connect_timeout=ctx.settings.redis_timeout_ms / 1000,
    )
    ctx.redis = client

    @ctx.app.agent(ctx.topic("units.status"), name="units")
    async def units_agent(stream: StreamT) -> None:
        async for events in ctx.batches(stream):
            updates = []
            for event in events:
                try:
                    unit = UnitStatus.from_dict(orjson.loads(value_of(event)))
                    problem = unit_problem(unit)
                    if problem is not None:
                        raise ValueError(problem)
                except Exception as exc:  # noqa: BLE001 - never stop routing
                    logger.warning("unit status skipped (%r) on %s", exc,
                                   describe(event))
                    metrics.STAGE_EVENTS.labels(STAGE, "invalid").inc()
                    continue
                as_current(event)
                table[unit.unit_id] = unit.to_dict()
                updates.append(unit)
            try:
                await _write_redis(client, app_id, updates)
                if updates:
                    ctx.redis_health.succeeded()
            except (RedisError, OSError) as exc:
                ctx.redis_health.failed(f"write of {len(updates)} unit statuses", exc)
            metrics.STAGE_EVENTS.labels(STAGE, "ok").inc(len(updates))
            metrics.UNITS_KNOWN.set(len(table))


async def _write_redis(client: aioredis.Redis, app_id: str,
                       updates: list[UnitStatus]) -> None:
    if not updates:
        return
    known = await client.smembers(capabilities_key(app_id))
    capabilities = {c.decode() for c in known}
    capabilities.update(c for u in updates for c in u.capabilities)
    async with client.pipeline(transaction=False) as pipe:
        for capability in capabilities:
            pipe.sadd(capabilities_key(app_id), capability)
        for unit in updates:
            pipe.hset(hash_key(app_id), unit.unit_id, orjson.dumps(unit.to_dict()))
            for capability in capabilities:
                pipe.zrem(geo_key(app_id, capability), unit.unit_id)
            if unit.status == AVAILABLE:
                for capability in unit.capabilities:
                    pipe.geoadd(geo_key(app_id, capability),
                                (unit.lon, unit.lat, unit.unit_id))
        await pipe.execute()
