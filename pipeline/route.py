"""Which unit to send: the nearest available one able to handle the incident.

Candidates come nearest first (the agent asks Redis GEO, or scans its table when
Redis is away); this module decides among them and says why, or says why none
qualifies (the shortfall).

>>> from pipeline.schema import UnitStatus
>>> units = [
...     UnitStatus("PTL-1", "available", ("police",), 40.0, -75.0, fix_ms=1_000),
...     UnitStatus("MED-1", "en_route", ("ems",), 40.0, -75.0, fix_ms=1_000),
...     UnitStatus("MED-2", "available", ("ems",), 40.01, -75.0, fix_ms=1_000)]
>>> pick, shortfall = recommend("ems", 40.0, -75.0, units, now_ms=2_000,
...                             params=RouteParams())
>>> pick.unit_id, round(pick.distance_m), shortfall
('MED-2', 1112, ())
>>> recommend("fire", 40.0, -75.0, units, 2_000, RouteParams())[1]
('none with capability fire',)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.geo import distance_m, valid_point
from pipeline.schema import UnitPick, UnitStatus

AVAILABLE = "available"
STATUSES = frozenset({AVAILABLE, "en_route", "on_scene", "out_of_service"})


MAX_RANGE_M = 40_000.0
FIX_STALE_AFTER_S = 600.0


@dataclass(frozen=True, slots=True)
class RouteParams:
    max_range_m: float = MAX_RANGE_M
    fix_stale_after_s: float = FIX_STALE_AFTER_S

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RouteParams:
        return cls(
            max_range_m=float(config.get("max_range_m", MAX_RANGE_M)),
            fix_stale_after_s=float(
                config.get("fix_stale_after_s", FIX_STALE_AFTER_S)
            ),
        )


def unit_problem(unit: UnitStatus) -> str | None:
    """Why a unit status cannot be used for routing, or None when it can."""
    if unit.status not in STATUSES:
        return f"unknown status {unit.status!r}"
    if not unit.capabilities or not all(isinstance(c, str) for c in unit.capabilities):
        return "no capabilities"
    if not valid_point(unit.lat, unit.lon):
        return "no valid position"
    if isinstance(unit.fix_ms, bool) or not isinstance(unit.fix_ms, int):
        return f"fix time {unit.fix_ms!r} is not epoch milliseconds"
    return None


def recommend(needs: str, lat: float | None, lon: float | None,
              units: Iterable[UnitStatus], now_ms: int, params: RouteParams
              ) -> tuple[UnitPick | None, tuple[str, ...]]:
    """The best unit for an incident at (lat, lon) needing capability ``needs``.

    Ties in distance go to the smaller unit id, so the choice is stable.
    """
    if lat is None or lon is None:
        return None, ("incident location unknown",)

    capable = busy = stale = far = 0
    best: tuple[float, str, UnitStatus] | None = None
    for unit in units:
        if needs not in unit.capabilities:
            continue
        capable += 1
        if unit.status != AVAILABLE:
            busy += 1
            continue
        age_s = (now_ms - unit.fix_ms) / 1000
        if age_s > params.fix_stale_after_s:
            stale += 1
            continue
        dist = distance_m(lat, lon, unit.lat, unit.lon)
        if dist > params.max_range_m:
            far += 1
            continue
        if best is None or (dist, unit.unit_id) < (best[0], best[1]):
            best = (dist, unit.unit_id, unit)

    if best is not None:
        dist, _, unit = best
        age_s = max(0.0, (now_ms - unit.fix_ms) / 1000)
        reasons = (
            f"nearest available with {needs}: {dist:.0f} m",
            f"fix {age_s:.0f} s old",
            f"{capable} capable units considered",
        )
        return UnitPick(unit.unit_id, round(dist, 1), reasons), ()

    if capable == 0:
        return None, (f"none with capability {needs}",)
    shortfall = []
    if busy:
        shortfall.append(f"{busy} busy")
    if stale:
        shortfall.append(f"{stale} with stale fixes")
    if far:
        shortfall.append(f"{far} beyond {params.max_range_m / 1000:.0f} km")
    return None, tuple(shortfall)
