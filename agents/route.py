"""route: incidents.scored -> incidents.routed (recommended unit, or why none).

Nearest available units come from Redis GEO, one pipelined round trip per
batch, bounded by ``redis_timeout_ms``. When Redis is away or slow, the stage
answers from the global unit table instead and counts it in metrics.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from redis.exceptions import RedisError

from agents import metrics
from agents.app import Change, Context, Outbox, Step, now_ms, record_failed
from agents.units import geo_key, hash_key
from pipeline.route import recommend
from pipeline.schema import UnitPick, UnitStatus

logger = logging.getLogger(__name__)
STAGE = "route"
CANDIDATES = 8


def step(ctx: Context) -> Step:
    params = ctx.models.route
    kinds = ctx.models.kinds
    app_id = ctx.settings.app_id
    timeout_s = ctx.settings.redis_timeout_ms / 1000

    async def nearest_from_redis(wanted: list[tuple[str, float, float]]
                                 ) -> list[list[UnitStatus]]:
        client = ctx.redis
        async with client.pipeline(transaction=False) as pipe:
            for needs, lat, lon in wanted:
                pipe.geosearch(geo_key(app_id, needs), longitude=lon, latitude=lat,
                               radius=params.max_range_m, unit="m", sort="ASC",
                               count=CANDIDATES)
            found = await pipe.execute()
        ids = sorted({unit_id for hits in found for unit_id in hits})
        statuses: dict[bytes, UnitStatus] = {}
        if ids:
            # Each unit is decoded once per batch, however many incidents it is
            # a candidate for.
            values = await client.hmget(hash_key(app_id), ids)
            statuses = {i: UnitStatus.from_dict(orjson.loads(v))
                        for i, v in zip(ids, values, strict=True) if v}
        return [[statuses[i] for i in hits if i in statuses] for hits in found]

    def all_units() -> list[UnitStatus]:
        return [UnitStatus.from_dict(v) for v in ctx.units_table.values() if v]

    async def run(out: Outbox, batch: list[Change]) -> list[Change]:
        # The whole batch at once: one Redis round trip serves it all.
        wanted = [(kinds.get(c["kind"]).needs, c["lat"] or 0.0, c["lon"] or 0.0)
                  for _, c in batch]
        candidates: list[list[UnitStatus]] | None = None
        if batch:
            try:
                candidates = await asyncio.wait_for(nearest_from_redis(wanted),
                                                    timeout_s)
                ctx.redis_health.succeeded()
            except (TimeoutError, RedisError, OSError) as exc:
                ctx.redis_health.failed("unit search", exc)

        now = now_ms()
        table_units: list[UnitStatus] | None = None
        routed: list[Change] = []
        for index, (event, change) in enumerate(batch):
            needs = wanted[index][0]
            units = candidates[index] if candidates is not None else None
            pick: UnitPick | None = None
            shortfall: tuple[str, ...] = ("no candidates",)
            lat, lon = change["lat"], change["lon"]
            try:
                if units:
                    pick, shortfall = recommend(needs, lat, lon, units, now, params)
                if pick is None:
                    # Redis knows only available units: the full reasons
                    # come from the whole table.
                    if table_units is None:
                        table_units = all_units()
                    pick, shortfall = recommend(needs, lat, lon, table_units,
                                                now, params)
            except Exception as exc:  # noqa: BLE001 - logged and dead-lettered
                await record_failed(out, event, change, STAGE, exc)
                continue
            change["units"] = [pick.to_dict()] if pick else []
            change["route_shortfall"] = shortfall
            routed.append((event, change))
        assigned = sum(1 for _, change in routed if change["units"])
        metrics.ROUTES.labels("assigned").inc(assigned)
        metrics.ROUTES.labels("shortfall").inc(len(routed) - assigned)
        return routed

    return Step(STAGE, "incidents.scored", "incidents.routed", run)
