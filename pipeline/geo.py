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
    return f"c:{math.floor(lat / cell_deg)}:{math.floor(lon / cell_deg)}"


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
