"""Unit statuses: which ones are usable, and which of two reports of a unit wins.

A unit's status (available, en route, ...) and its position fix change apart
and are timed apart: ``status_ms`` says when the status changed, ``fix_ms``
when the position was taken. Reports can arrive late or twice, so each part
keeps its newest version: a status from before the one held changes nothing,
and neither does an older fix.

>>> from pipeline.schema import UnitStatus
>>> held = UnitStatus("MED-1", "en_route", ("ems_basic",), 40.0, -75.0,
...                   fix_ms=1_000, status_ms=2_000)
>>> late = UnitStatus("MED-1", "available", ("ems_basic",), 40.1, -75.0,
...                   fix_ms=1_500, status_ms=1_200)
>>> merged = newer_of(held, late)
>>> merged.status, merged.lat, merged.fix_ms, merged.status_ms
('en_route', 40.1, 1500, 2000)
>>> newer_of(held, held) == held
True
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.geo import valid_point
from pipeline.schema import UnitStatus

AVAILABLE = "available"
STATUSES = frozenset({AVAILABLE, "en_route", "on_scene", "out_of_service"})

#: Redis GEO stores no point farther from the equator than this (its Web
#: Mercator limit); units beyond it are found from the unit table only.
GEO_MAX_LAT = 85.05112878


def status_time_ms(unit: UnitStatus) -> int:
    """When the unit's status was set; a feed without status times gives the fix's."""
    return unit.status_ms or unit.fix_ms


def read_unit(data: Any) -> UnitStatus:
    """A unit status from a ``units.status`` record; ``ValueError`` says why not.

    The record's own types are checked first: a string where a list belongs
    ("patrol") would otherwise read as the capabilities p, a, t, r, o, l.

    >>> read_unit({"unit_id": "P-1", "status": "available", "capabilities": "patrol",
    ...            "lat": 40.0, "lon": -75.0, "fix_ms": 0})
    Traceback (most recent call last):
    ...
    ValueError: capabilities must be a list of names, not 'patrol'
    """
    if not isinstance(data, dict):
        raise ValueError("a unit status is a JSON object")
    unit_id = data.get("unit_id")
    if not isinstance(unit_id, str) or not unit_id.strip():
        raise ValueError(f"unit_id must be a non-empty string, not {unit_id!r}")
    capabilities = data.get("capabilities")
    if not isinstance(capabilities, list) or not all(
            isinstance(c, str) and c.strip() for c in capabilities):
        raise ValueError(f"capabilities must be a list of names, not "
                         f"{capabilities!r}"[:200])
    unit = UnitStatus.from_dict(data)
    problem = unit_problem(unit)
    if problem is not None:
        raise ValueError(problem)
    return unit


def unit_problem(unit: UnitStatus) -> str | None:
    """Why a unit status cannot be used for routing, or None when it can."""
    if unit.status not in STATUSES:
        return f"unknown status {unit.status!r}"
    if not unit.capabilities or not all(isinstance(c, str) for c in unit.capabilities):
        return "no capabilities"
    if not valid_point(unit.lat, unit.lon):
        return "no valid position"
    for name in ("fix_ms", "status_ms"):
        value = getattr(unit, name)
        if isinstance(value, bool) or not isinstance(value, int):
            what = name.removesuffix("_ms")
            return f"{what} time {value!r} is not epoch milliseconds"
    return None


def newer_of(held: UnitStatus | None, incoming: UnitStatus) -> UnitStatus:
    """The unit as known after ``incoming``: the newer status, the newer fix.

    On equal times the incoming report wins, so a redelivered report leaves
    the unit as it was. Type, capabilities and staffing come with the newer
    status.
    """
    if held is None:
        return incoming
    status_from = incoming if status_time_ms(incoming) >= status_time_ms(held) \
        else held
    fix_from = incoming if incoming.fix_ms >= held.fix_ms else held
    if status_from is fix_from:
        return status_from
    return dataclasses.replace(status_from, lat=fix_from.lat, lon=fix_from.lon,
                               fix_ms=fix_from.fix_ms,
                               status_ms=status_time_ms(status_from))


def geo_indexable(unit: UnitStatus) -> bool:
    """Whether Redis GEO can hold the unit's point."""
    return abs(unit.lat) <= GEO_MAX_LAT
