"""Recommendation latency with 10,000 units: from Redis GEO, and from the table.

Units are stationed (seeded) at located incidents of the Montgomery County log
with the fleet's types in its proportions; a share is busy and a share has a
stale fix. Incidents are later rows of the same log, with their kinds' plans.
Per incident, alone (a batch of one):

- redis: the route stage's one pipelined round trip to the real Redis (its
  own key prefix, deleted after), then each candidate's status from the table
  and the decision; the table decides again when a slot stays open, as the
  stage does;
- table: the decision over every unit able to fill the plan (the stage's
  fallback when Redis is away), the pool of units grouped once beforehand.

It prints figures and ends with one JSON line; it never fails on speed.

    python -m benchmarks.route_bench --units 10000 --incidents 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from typing import Any

import orjson
import redis.asyncio as aioredis

from agents.fleet import log_points
from agents.replay import read_rows
from agents.resources import load_models
from agents.route import search_for, search_redis
from agents.settings import Settings
from agents.units import write_units
from benchmarks.workload import montgomery_log, say
from pipeline.geo import valid_point
from pipeline.route import Slot, UnitPool, recommend_units
from pipeline.schema import UnitStatus
from pipeline.summary import percentile

BUSY_SHARE = 0.3
STALE_SHARE = 0.05


def make_units(points: list[tuple[float, float]], fleet: dict[str, Any],
               count: int, now_ms: int, stale_after_s: float) -> list[UnitStatus]:
    rng = random.Random(11)
    groups = fleet["units"]
    total = sum(int(g["count"]) for g in groups)
    units = []
    for group in groups:
        for n in range(round(count * int(group["count"]) / total)):
            lat, lon = points[rng.randrange(len(points))]
            status = "en_route" if rng.random() < BUSY_SHARE else "available"
            age_s = stale_after_s * (2 if rng.random() < STALE_SHARE else rng.random())
            units.append(UnitStatus(
                f"{group['prefix']}-{n:05d}", status, tuple(group["capabilities"]),
                lat + rng.uniform(-0.01, 0.01), lon + rng.uniform(-0.01, 0.01),
                fix_ms=now_ms - int(age_s * 1000), status_ms=now_ms,
                unit_type=str(group.get("type", ""))))
    return units


def incidents(models: Any, count: int, skip: int
              ) -> list[tuple[float, float, tuple[Slot, ...]]]:
    plans, kinds = models.route.plans, models.kinds
    chosen = []
    for row in read_rows(montgomery_log(), skip + count * 2)[skip:]:
        try:
            lat, lon = float(row["lat"]), float(row["lng"])
        except (KeyError, ValueError):
            continue
        if not valid_point(lat, lon):
            continue
        kind = kinds.get(kinds.classify(row["title"].partition(": ")[2]))
        chosen.append((lat, lon, plans.slots_for(kind.name, kind.needs,
                                                 kind.priority)))
        if len(chosen) == count:
            break
    return chosen


async def measure(unit_count: int, incident_count: int, redis_url: str
                  ) -> dict[str, Any]:
    models = load_models(Settings.from_env().models_dir)
    params = models.route
    area = models.normalize.sources["montgomery_pa"]
    points = log_points(montgomery_log(), area, limit=20_000)
    now_ms = int(time.time() * 1000)
    units = make_units(points, models.fleet, unit_count, now_ms,
                       params.fix_stale_after_s)
    # The worker's table holds JSON-shaped dicts; so does this one.
    table = {u.unit_id: orjson.loads(orjson.dumps(u.to_dict())) for u in units}
    work = incidents(models, incident_count, skip=20_000)
    app_id = f"bench-route-{uuid.uuid4().hex[:8]}"
    client = aioredis.from_url(redis_url)
    try:
        for start in range(0, len(units), 1_000):
            await write_units(client, app_id, units[start:start + 1_000])
        say(f"{len(units)} units in Redis under {app_id}:*, "
            f"{len(work)} incidents")

        started = time.perf_counter()
        pool = UnitPool((UnitStatus.from_dict(v) for v in table.values()),
                        params.plans)
        pool_ms = (time.perf_counter() - started) * 1000

        table_ms, redis_ms, fallbacks, open_slots = [], [], 0, 0
        for lat, lon, slots in work:
            started = time.perf_counter()
            recommend_units(slots, lat, lon, pool.able_to_fill(slots), now_ms,
                            params)
            table_ms.append((time.perf_counter() - started) * 1000)

            started = time.perf_counter()
            search = search_for(0, lat, lon, slots, app_id, params)
            _, (ids,) = await search_redis(client, app_id, params, [search])
            found = [UnitStatus.from_dict(table[i.decode()]) for i in ids]
            _, shortfall = recommend_units(slots, lat, lon, found, now_ms, params)
            if shortfall:
                fallbacks += 1
                _, shortfall = recommend_units(slots, lat, lon,
                                               pool.able_to_fill(slots), now_ms,
                                               params)
                open_slots += bool(shortfall)
            redis_ms.append((time.perf_counter() - started) * 1000)
    finally:
        keys = [k async for k in client.scan_iter(match=f"{app_id}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()  # type: ignore[attr-defined]  # not in the stubs yet

    table_ms.sort()
    redis_ms.sort()
    say(f"table pool of {len(units)} units built in {pool_ms:.1f} ms (once per "
        "batch that needs it)")
    say(f"{fallbacks} of {len(work)} incidents went on to the table (a slot open "
        f"among Redis's candidates); {open_slots} left a slot open there too")
    return {
        "units": len(units),
        "incidents": len(work),
        "redis_p50_ms": pct(redis_ms, 50),
        "redis_p99_ms": pct(redis_ms, 99),
        "table_p50_ms": pct(table_ms, 50),
        "table_p99_ms": pct(table_ms, 99),
        "table_pool_ms": round(pool_ms, 1),
        "redis_then_table": fallbacks,
    }


def pct(sorted_ms: list[float], q: float) -> float:
    return round(percentile(sorted_ms, q) or 0.0, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=1_000)
    parser.add_argument("--redis-url", default=Settings.from_env().redis_url)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.units, args.incidents, args.redis_url))
    for name, value in figures.items():
        say(f"{name:>18}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
