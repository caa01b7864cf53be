"""A simulated fleet for a replayed area, where no real unit feed exists.

Units are stationed at points drawn, with a fixed seed, from the replayed log's
own incident locations, so the fleet covers the places calls come from. The
unit types and counts come from ``models/fleet.yaml``.

>>> points = [(40.0, -75.0), (40.1, -75.1), (40.2, -75.2)]
>>> spec = {"seed": 1, "units": [{"prefix": "MED", "count": 2,
...                                "capabilities": ["ems"]}]}
>>> [u.unit_id for u in simulate_fleet(points, spec, now_ms=0)]
['MED-01', 'MED-02']
>>> simulate_fleet(points, spec, 0) == simulate_fleet(points, spec, 0)
True
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from pipeline.schema import UnitStatus
from pipeline.units import AVAILABLE


def simulate_fleet(points: Sequence[tuple[float, float]], spec: dict[str, Any],
                   now_ms: int) -> list[UnitStatus]:
    """Units of ``spec``, each at a seeded draw from ``points``, available."""
    if not points:
        raise ValueError("a simulated fleet needs at least one incident location")
    rng = random.Random(spec.get("seed", 0))
    units = []
    for group in spec["units"]:
        width = max(2, len(str(group["count"])))
        for n in range(1, int(group["count"]) + 1):
            lat, lon = points[rng.randrange(len(points))]
            units.append(UnitStatus(
                unit_id=f"{group['prefix']}-{n:0{width}d}",
                status=AVAILABLE,
                capabilities=tuple(group["capabilities"]),
                lat=lat,
                lon=lon,
                fix_ms=now_ms,
                staffing=int(group.get("staffing", 2)),
                home=f"{lat:.5f},{lon:.5f}",
                status_ms=now_ms,
                unit_type=str(group.get("type", "")),
            ))
    return units
