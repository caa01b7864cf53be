"""Street corners learnt from the stream: where "A & B" is, from located reports.

A call without a fix often names an intersection ("Haws Ave & Main St"), and
no geocoder is at hand; but earlier reports with a fix named the same corner.
A ``CornerBook`` learns, report by report, the point of each corner that a
located report names (exactly two streets): the mean of their fixes weighted
by precision (the inverse square of each uncertainty, counted up to a bound),
so a 30 m handset fix outweighs a 300 m network one. A report that names a
known corner and has no fix is given its point (``point_of``), with an
uncertainty: the mean's own (it shrinks with each fix) and how far an event
"at" a corner lies from it (``spread_m``).

Only reports the matcher has seen teach it: nothing is read from a file.

A fix at the very point already learnt (within ``SAME_POINT_M``) teaches
nothing new: a dispatch log puts every call at one corner on the one point its
geocoder gives, and counting that point again would make the corner look
surer than it is. Such a fix only keeps the corner from being forgotten, at
most once per ``refresh_ms`` of event time (the matcher gives a quarter of the
time a corner is kept untaught); so a log that names the same corners again
and again does not rewrite their books (``learn_one`` says whether it changed).

Bounded: a corner untaught for ``ttl_ms`` of event time leaves (when its book
learns again), and a book keeps at most ``max_corners``, the longest untaught
leaving first. A book is a plain dict (corner -> [lat, lon, weight, last
taught ms, fixes]), kept in the order of last teaching, so it is stored as is.

>>> book = CornerBook({}, max_accuracy_m=1000.0, refresh_ms=3_600_000)
>>> key = corner_key(frozenset({"main st", "haws ave"}))
>>> key
'haws ave & main st'
>>> book.learn_one(key, 40.0, -75.0, 30.0, 0)
True
>>> book.learn_one(key, 40.001, -75.0, 300.0, 60_000)
True
>>> point = book.point_of(key, spread_m=40.0)
>>> round(point.lat, 5), point.fixes, round(point.acc_m)
(40.00001, 2, 50)
>>> book.learn_one(key, point.lat, point.lon, 30.0, 120_000)  # nothing new
False
>>> book.point_of("elm st & oak rd", spread_m=40.0) is None
True
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from pipeline.geo import distance_m

#: A corner is two streets; a report naming more says no one corner.
CORNER_STREETS = 2
#: A fix this close to the learnt point is that point again (metres).
SAME_POINT_M = 1.0


class CornerPoint(NamedTuple):
    """Where a corner is, as learnt: a point, its uncertainty and support."""

    lat: float
    lon: float
    acc_m: float
    fixes: int


def corner_key(streets: frozenset[str]) -> str | None:
    """The corner a report's streets name, or None (not exactly two)."""
    if len(streets) != CORNER_STREETS:
        return None
    return " & ".join(sorted(streets))


class CornerBook:
    """The corners learnt in one shard of a region, over a stored dict."""

    def __init__(self, corners: dict[str, list[Any]], max_accuracy_m: float,
                 unknown_m: float = 75.0, refresh_ms: float = 0.0):
        self.corners = corners
        #: How often a corner taught only its own point again is marked taught.
        self.refresh_ms = refresh_ms
        self.max_accuracy_m = max_accuracy_m
        #: The uncertainty taken for a point that states none (an address's).
        self.unknown_m = unknown_m

    def learn_one(self, key: str, lat: float, lon: float, acc_m: float | None,
                  event_ms: int) -> bool:
        """Move the corner's point towards a fix by the fix's share of the
        precision (a new corner takes the fix as it is); False when the fix
        is the learnt point again and the corner was taught lately, so
        nothing changed."""
        acc = min(acc_m or self.unknown_m, self.max_accuracy_m)
        weight = acc ** -2
        entry = self.corners.get(key)
        if (entry is not None
                and distance_m(lat, lon, entry[0], entry[1]) < SAME_POINT_M):
            if event_ms - entry[3] < self.refresh_ms:
                return False
            del self.corners[key]
            entry[3] = event_ms  # still there: not forgotten yet
            self.corners[key] = entry
            return True
        entry = self.corners.pop(key, None)
        if entry is None:
            entry = [lat, lon, weight, event_ms, 1]
        else:
            share = weight / (entry[2] + weight)
            entry[0] += share * (lat - entry[0])
            east = (lon - entry[1] + 180) % 360 - 180
            entry[1] = (entry[1] + share * east + 180) % 360 - 180
            entry[2] += weight
            entry[3] = max(entry[3], event_ms)
            entry[4] += 1
        # Kept in order of last teaching: the longest untaught leave first.
        self.corners[key] = entry
        return True

    def forget(self, horizon_ms: float, keep: int) -> bool:
        """Forget the corners untaught since ``horizon_ms``, and the longest
        untaught beyond ``keep``; True when any left. The oldest come first,
        so this stops at the first corner that stays."""
        left = False
        while self.corners:
            key, entry = next(iter(self.corners.items()))
            if entry[3] >= horizon_ms and len(self.corners) <= keep:
                break
            del self.corners[key]
            left = True
        return left

    def point_of(self, key: str, spread_m: float) -> CornerPoint | None:
        """The corner's point: the uncertainty of the mean and ``spread_m``
        (how far from it an event at the corner lies) together."""
        entry = self.corners.get(key)
        if entry is None:
            return None
        acc = math.hypot(entry[2] ** -0.5, spread_m)
        return CornerPoint(entry[0], entry[1], acc, int(entry[4]))
