"""route: incidents.scored -> incidents.routed (units for the plan, or why not).

Redis GEO finds the nearest available candidates, one pipelined round trip per
batch bounded by ``redis_timeout_ms``; the unit table then gives each
candidate's current status (Redis may lag a status that changed a moment ago).
The table alone answers an incident when Redis failed, is being left alone
after a failure, holds fewer units than the table (flushed), cannot hold the
incident's neighbourhood (beyond GEO's latitude limit), or when the candidates
leave a slot open (the table then says why, or finds a unit farther down).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from redis.exceptions import RedisError

from agents import metrics
from agents.app import (
    Change,
    Context,
    Outbox,
    Step,
    now_ms,
    record_failed,
    table_get,
)
from agents.units import geo_key, hash_key
from pipeline.geo import EARTH_RADIUS_M
from pipeline.route import RouteParams, Slot, UnitPool, recommend_units
from pipeline.schema import Shortfall, UnitPick, UnitStatus
from pipeline.units import GEO_MAX_LAT

logger = logging.getLogger(__name__)
STAGE = "route"
#: Candidates asked of Redis per GEO set beyond the seats its units may fill:
#: room for units that turn out busy or stale in the table.
SPARE_CANDIDATES = 4
DEGREES_PER_M = 180 / (3.141592653589793 * EARTH_RADIUS_M)

#: One incident's search: index in the batch, point, and (GEO key, candidates).
Search = tuple[int, float, float, list[tuple[str, int]]]


def within_geo(lat: float, params: RouteParams) -> bool:
    """Whether every point within range of ``lat`` is one Redis GEO can hold."""
    return abs(lat) + params.max_range_m * DEGREES_PER_M <= GEO_MAX_LAT


def search_for(index: int, lat: float, lon: float, slots: tuple[Slot, ...],
               app_id: str, params: RouteParams) -> Search:
    """The GEO sets to search for an incident, and how many candidates each:
    the seats its units may fill, and a few spare."""
    seats: dict[str, int] = {}
    for slot in slots:
        for capability in params.plans.searched_for(slot.capability):
            key = geo_key(app_id, capability)
            seats[key] = seats.get(key, 0) + slot.count
    return index, lat, lon, [(k, n + SPARE_CANDIDATES) for k, n in seats.items()]


async def search_redis(client: Any, app_id: str, params: RouteParams,
                       searches: list[Search]) -> tuple[int, list[list[bytes]]]:
    """Units Redis holds, and per search the candidate ids it found, nearest
    first per GEO set: one pipelined round trip."""
    async with client.pipeline(transaction=False) as pipe:
        pipe.hlen(hash_key(app_id))
        for _, lat, lon, keys in searches:
            for key, count in keys:
                # The command as Redis spells it: redis-py's geosearch()
                # checks its arguments again on every call, a cost per
                # incident on the hot path.
                pipe.execute_command("GEOSEARCH", key, "FROMLONLAT", lon, lat,
                                     "BYRADIUS", params.max_range_m, "m", "ASC",
                                     "COUNT", count)
        answers = await pipe.execute()
    held, hits = int(answers[0]), iter(answers[1:])
    found = []
    for search in searches:
        ids: list[bytes] = []
        for _ in search[3]:
            ids.extend(next(hits))
        found.append(ids)
    return held, found


def step(ctx: Context) -> Step:
    params = ctx.models.route
    plans = params.plans
    kinds = ctx.models.kinds
    app_id = ctx.settings.app_id
    timeout_s = ctx.settings.redis_timeout_ms / 1000
    health = ctx.redis_health

    def slots_of(change: dict[str, Any]) -> tuple[Slot, ...]:
        kind = kinds.get(change["kind"])
        priority = change.get("priority")
        if not isinstance(priority, int) or isinstance(priority, bool):
            priority = kind.priority
        return plans.slots_for(kind.name, kind.needs, priority)

    # Unit statuses decoded in earlier batches, with the table value each came
    # from: the units stage replaces a unit's value, never changes it in
    # place, so a value that is still the same object decodes the same. Saves
    # a UnitStatus.from_dict (4.5 us) per candidate and batch.
    statuses: dict[str, tuple[dict[str, Any], UnitStatus]] = {}

    def decode(unit_id: str, value: dict[str, Any]) -> UnitStatus:
        known = statuses.get(unit_id)
        if known is not None and known[0] is value:
            return known[1]
        status = UnitStatus.from_dict(value)
        statuses[unit_id] = (value, status)
        return status

    async def run(out: Outbox, batch: list[Change]) -> list[Change]:
        table = ctx.units_table
        if len(statuses) > 2 * len(table) + 1024:
            statuses.clear()  # units that left the table: keep the cache bounded
        now = now_ms()
        sources: Counter[str] = Counter()

        # 1. What each incident needs, and which incidents Redis can serve.
        slots = [slots_of(change) for _, change in batch]
        searches: list[Search] = []
        for index, (_, change) in enumerate(batch):
            lat, lon = change["lat"], change["lon"]
            if lat is None or lon is None or change.get("report_count") == 0:
                # No point, or no report left: each report it had was moved
                # to another incident (pipeline/dedupe.py), which is routed.
                continue
            if not within_geo(lat, params):
                sources["beyond_geo"] += 1
                continue
            searches.append(search_for(index, lat, lon, slots[index], app_id,
                                       params))

        # 2. One bounded round trip for the whole batch.
        candidate_ids: dict[int, list[bytes]] = {}
        if searches and not health.should_try():
            sources["redis_skipped"] += len(searches)
        elif searches:
            try:
                held, found = await asyncio.wait_for(
                    search_redis(ctx.redis, app_id, params, searches), timeout_s)
                health.succeeded()
                if held < len(table):
                    sources["redis_behind"] += len(searches)
                else:
                    candidate_ids = {s[0]: ids for s, ids in zip(searches, found,
                                                                 strict=True)}
            except (TimeoutError, RedisError, OSError) as exc:
                health.failed("unit search", exc)
                sources["redis_failed"] += len(searches)

        # 3. Decide per incident; the table where Redis could not answer.
        decoded: dict[str, UnitStatus | None] = {}
        pool: UnitPool | None = None

        def status_of(unit_id: str) -> UnitStatus | None:
            if unit_id not in decoded:
                value = table_get(table, unit_id)
                decoded[unit_id] = decode(unit_id, value) if value else None
            return decoded[unit_id]

        routed: list[Change] = []
        for index, (event, change) in enumerate(batch):
            lat, lon = change["lat"], change["lon"]
            try:
                picks: tuple[UnitPick, ...] = ()
                shortfall: tuple[Shortfall, ...] = ()
                ids = candidate_ids.get(index)
                # Every report it had moved to another incident: none to send.
                emptied = change.get("report_count") == 0
                if not emptied and ids is not None:
                    units = [u for u in (status_of(i.decode()) for i in ids) if u]
                    picks, shortfall = recommend_units(slots[index], lat, lon, units,
                                                       now, params)
                    sources["redis" if not shortfall else "shortfall"] += 1
                if not emptied and (ids is None or shortfall):
                    if pool is None:
                        pool = UnitPool((decode(k, v) for k, v in table.items()
                                         if v), plans)
                    picks, shortfall = recommend_units(
                        slots[index], lat, lon, pool.able_to_fill(slots[index]),
                        now, params)
            except Exception as exc:  # noqa: BLE001 - logged and dead-lettered
                await record_failed(out, event, change, STAGE, exc)
                continue
            change["units"] = [pick.to_dict() for pick in picks]
            change["route_shortfall"] = [gap.to_dict() for gap in shortfall]
            routed.append((event, change))

        for source, count in sources.items():
            metrics.ROUTE_SOURCES.labels(source).inc(count)
        complete = sum(1 for _, change in routed if not change["route_shortfall"])
        metrics.ROUTES.labels("assigned").inc(complete)
        metrics.ROUTES.labels("shortfall").inc(len(routed) - complete)
        return routed

    return Step(STAGE, "incidents.scored", "incidents.routed", run)
