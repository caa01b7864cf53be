"""Named districts as polygons, and which of them hold a point.

A district is one polygon (an outer ring, optional holes) or several, given as
[lon, lat] pairs the way GeoJSON orders them. A point on a district's edge is
inside it: an incident on a boundary street pages both sides. A ring may cross
the 180th meridian: each edge is read the short way round (less than 180
degrees of longitude), as GeoJSON's edges between nearby vertices are meant.

>>> squares = Districts.from_config({"districts": {"west": {"polygons": [
...     [[[0, 0], [1, 0], [1, 1], [0, 1]]]]}}})
>>> squares.containing(0.5, 0.5), squares.containing(0.5, 2.0)
(frozenset({'west'}), frozenset())
>>> squares.containing(None, None)
frozenset()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A ring of (lon, lat) vertices; the closing vertex may be repeated or not.
Ring = tuple[tuple[float, float], ...]


def _on_segment(x: float, y: float, a: tuple[float, float],
                b: tuple[float, float]) -> bool:
    cross = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])
    if abs(cross) > 1e-12:
        return False
    return (min(a[0], b[0]) - 1e-12 <= x <= max(a[0], b[0]) + 1e-12
            and min(a[1], b[1]) - 1e-12 <= y <= max(a[1], b[1]) + 1e-12)


def ring_contains(ring: Ring, x: float, y: float) -> bool:
    """Even-odd ray casting, with the ring's edge counted as inside.

    >>> ring_contains(((0, 0), (2, 0), (2, 2), (0, 2)), 2.0, 1.0)
    True
    >>> ring_contains(((0, 0), (2, 0), (2, 2), (0, 2)), 2.5, 1.0)
    False
    """
    inside = False
    count = len(ring)
    for i in range(count):
        a, b = ring[i], ring[(i + 1) % count]
        if _on_segment(x, y, a, b):
            return True
        if (a[1] > y) != (b[1] > y):
            x_cross = a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if x < x_cross:
                inside = not inside
    return inside


@dataclass(frozen=True, slots=True)
class Polygon:
    outer: Ring
    holes: tuple[Ring, ...] = ()
    #: (west, south, east, north): most points are ruled out by this alone.
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @classmethod
    def from_rings(cls, rings: list[list[list[float]]]) -> Polygon:
        if not rings or len(rings[0]) < 3:
            raise ValueError("a polygon needs an outer ring of three vertices or more")
        parsed = [tuple((float(p[0]), float(p[1])) for p in ring) for ring in rings]
        start = parsed[0][0][0]
        parsed = [_unwrapped(ring, start) for ring in parsed]
        xs = [p[0] for p in parsed[0]]
        ys = [p[1] for p in parsed[0]]
        return cls(parsed[0], tuple(parsed[1:]), (min(xs), min(ys), max(xs), max(ys)))

    def contains(self, lat: float, lon: float) -> bool:
        """Whether the point is inside (its edge included).

        >>> fiji = Polygon.from_rings([[[179, -17], [-179, -17], [-179, -19],
        ...                             [179, -19]]])
        >>> fiji.contains(-18, 179.5), fiji.contains(-18, -179.5), fiji.contains(0, 0)
        (True, True, False)
        """
        west, south, east, north = self.bounds
        # The ring's longitudes may run past 180 (unwrapped): try the point there.
        lon = next((x for x in (lon, lon + 360, lon - 360) if west <= x <= east), lon)
        if not (west <= lon <= east and south <= lat <= north):
            return False
        if not ring_contains(self.outer, lon, lat):
            return False
        # A point on a hole's edge stays inside the district (its edge too).
        return not any(ring_contains(h, lon, lat) and not _on_edge(h, lon, lat)
                       for h in self.holes)


def _unwrapped(ring: Ring, start: float) -> Ring:
    """The ring with each vertex's longitude within 180 degrees of the one
    before it (from ``start``): no edge goes the long way round the world."""
    out = []
    before = start
    for x, y in ring:
        while x - before > 180:
            x -= 360
        while x - before < -180:
            x += 360
        out.append((x, y))
        before = x
    return tuple(out)


def _on_edge(ring: Ring, x: float, y: float) -> bool:
    return any(_on_segment(x, y, ring[i], ring[(i + 1) % len(ring)])
               for i in range(len(ring)))


class Districts:
    """Every named district of ``models/districts.yaml``."""

    def __init__(self, districts: dict[str, tuple[Polygon, ...]]):
        self.districts = districts

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Districts:
        return cls({
            str(name): tuple(Polygon.from_rings(p) for p in spec["polygons"])
            for name, spec in (config.get("districts") or {}).items()
        })

    def __contains__(self, name: str) -> bool:
        return name in self.districts

    def containing(self, lat: float | None, lon: float | None) -> frozenset[str]:
        """The districts a point lies in; none for an incident without a point."""
        if lat is None or lon is None:
            return frozenset()
        return frozenset(name for name, polygons in self.districts.items()
                         if any(p.contains(lat, lon) for p in polygons))
