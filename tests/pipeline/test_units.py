"""units: which statuses are usable, and the newer status or fix wins."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pipeline.schema import UnitStatus
from pipeline.units import geo_indexable, newer_of, status_time_ms, unit_problem

HELD = UnitStatus("MED-1", "available", ("ems_basic",), 40.0, -75.0,
                  fix_ms=10_000, status_ms=10_000)


def test_a_newer_status_wins_at_once() -> None:
    busy = dataclasses.replace(HELD, status="en_route", status_ms=10_001,
                               fix_ms=10_001)

    assert newer_of(HELD, busy) == busy


def test_an_older_status_arriving_late_changes_nothing() -> None:
    late = dataclasses.replace(HELD, status="on_scene", status_ms=9_000,
                               fix_ms=9_000, lat=40.5)

    assert newer_of(HELD, late) == HELD


def test_a_newer_fix_moves_the_unit_but_keeps_the_newer_status() -> None:
    # The status report is older, its position newer (a GPS ping carried it).
    ping = dataclasses.replace(HELD, status="on_scene", status_ms=9_000,
                               fix_ms=12_000, lat=40.2, lon=-75.1)
    merged = newer_of(HELD, ping)

    assert (merged.status, merged.status_ms) == ("available", 10_000)
    assert (merged.lat, merged.lon, merged.fix_ms) == (40.2, -75.1, 12_000)


def test_a_newer_status_with_an_older_fix_keeps_the_held_position() -> None:
    cleared = dataclasses.replace(HELD, status="out_of_service", status_ms=11_000,
                                  fix_ms=5_000, lat=41.0)
    merged = newer_of(HELD, cleared)

    assert merged.status == "out_of_service"
    assert (merged.lat, merged.fix_ms) == (40.0, 10_000)


def test_a_repeat_and_the_first_status_are_kept_as_they_are() -> None:
    assert newer_of(HELD, HELD) == HELD
    assert newer_of(None, HELD) is HELD


def test_without_a_status_time_the_fix_time_stands_for_it() -> None:
    legacy = dataclasses.replace(HELD, status_ms=0, fix_ms=11_000, status="en_route")

    assert status_time_ms(legacy) == 11_000
    assert newer_of(HELD, legacy).status == "en_route"


def test_polar_units_stay_out_of_redis_geo() -> None:
    assert geo_indexable(dataclasses.replace(HELD, lat=85.05))
    assert not geo_indexable(dataclasses.replace(HELD, lat=85.06))
    assert not geo_indexable(dataclasses.replace(HELD, lat=-89.0))


@pytest.mark.parametrize(("changes", "problem"), [
    ({"status": "napping"}, "unknown status"),
    ({"capabilities": ()}, "no capabilities"),
    ({"lat": 91.0}, "no valid position"),
    ({"lat": 0.0, "lon": 0.0}, "no valid position"),
    ({"fix_ms": "soon"}, "fix time 'soon' is not epoch milliseconds"),
    ({"status_ms": 1.5}, "status time 1.5 is not epoch milliseconds"),
])
def test_unusable_unit_statuses_are_named(changes: dict[str, Any], problem: str
                                          ) -> None:
    assert unit_problem(HELD) is None
    assert problem in (unit_problem(dataclasses.replace(HELD, **changes)) or "")
