"""Distances, grid cells and service-area boxes.

>>> round(distance_m(40.0, -75.0, 40.0, -75.001))
85
>>> cell_key(40.1234, -75.3456, 0.05)
'c:802:-1507'
>>> Box(39.85, -75.9, 40.65, -74.85).contains(40.1, -75.3)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres; correct across the 180th."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def cell_key(lat: float, lon: float, cell_deg: float) -> str:
    """The grid cell holding a point: the partition key of place-keyed stages."""
    per_turn = round(360 / cell_deg)
    col = (math.floor(lon / cell_deg) + per_turn // 2) % per_turn - per_turn // 2
    return f"c:{math.floor(lat / cell_deg)}:{col}"


def cells_within(lat: float, lon: float, reach_m: float, cell_deg: float
                 ) -> list[str]:
    """Every grid cell with a point within ``reach_m`` of (lat, lon).

    A box of the reach in degrees, wider in longitude by 1 / cos(latitude) so
    it holds at high latitudes, and wrapped across the 180th meridian; near a
    pole it takes every longitude.

    >>> cells_within(40.0249, -75.0005, 100, 0.05)
    ['c:800:-1501', 'c:800:-1500']
    >>> cells_within(0.01, 179.999, 200, 0.05)[-1]
    'c:0:-3600'
    >>> len(cells_within(89.999, 0.0, 200, 1.0))  # two rows, every column
    720
    """
    dlat = reach_m / 111_320.0
    widest = abs(lat) + dlat
    if widest >= 89.9:
        dlon = 180.0  # the reach touches the pole's neighbourhood: every longitude
    else:
        dlon = min(180.0, reach_m / (111_320.0 * math.cos(math.radians(widest))))
    rows = range(math.floor(max(-90.0, lat - dlat) / cell_deg),
                 math.floor(min(90.0, lat + dlat) / cell_deg) + 1)
    per_turn = round(360 / cell_deg)
    first = math.floor((lon - dlon) / cell_deg)
    last = math.floor((lon + dlon) / cell_deg)
    cols: list[int] = []
    for col in range(first, min(last, first + per_turn - 1) + 1):
        # Wrap into [-180, 180): a cell past the meridian is the one beyond it.
        wrapped = (col + per_turn // 2) % per_turn - per_turn // 2
        if wrapped not in cols:
            cols.append(wrapped)
    return [f"c:{row}:{col}" for row in rows for col in cols]


def valid_point(lat: object, lon: object) -> bool:
    """A finite, in-range, non-(0, 0) coordinate pair."""
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return False
    if isinstance(lat, bool) or isinstance(lon, bool):
        return False
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    if lat == 0 and lon == 0:
        return False
    return -90 <= lat <= 90 and -180 <= lon <= 180


@dataclass(frozen=True, slots=True)
class Box:
    """A latitude/longitude box (not across the 180th meridian)."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east
