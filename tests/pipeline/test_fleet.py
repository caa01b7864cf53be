"""fleet: a seeded simulated fleet stationed where the calls come from."""

from __future__ import annotations

import pytest

from agents.resources import Models
from pipeline.fleet import simulate_fleet
from pipeline.units import AVAILABLE

POINTS = [(40.12, -75.34), (40.30, -75.58), (40.03, -75.15), (40.21, -75.28)]


def test_same_seed_same_fleet(models: Models) -> None:
    first = simulate_fleet(POINTS, models.fleet, now_ms=5)

    assert first == simulate_fleet(POINTS, models.fleet, now_ms=5)


def test_another_seed_stations_units_elsewhere(models: Models) -> None:
    reseeded = {**models.fleet, "seed": models.fleet["seed"] + 1}

    a = [(u.lat, u.lon) for u in simulate_fleet(POINTS, models.fleet, 0)]
    b = [(u.lat, u.lon) for u in simulate_fleet(POINTS, reseeded, 0)]

    assert a != b


def test_unit_ids_and_capabilities_follow_the_real_spec(models: Models) -> None:
    units = simulate_fleet(POINTS, models.fleet, now_ms=1_000)
    by_prefix: dict[str, list[str]] = {}
    for unit in units:
        by_prefix.setdefault(unit.unit_id.split("-")[0], []).append(unit.unit_id)

    assert {p: len(ids) for p, ids in by_prefix.items()} == {
        "PTL": 50, "K9": 6, "BLS": 25, "ALS": 15, "ENG": 30, "LAD": 8}
    assert by_prefix["BLS"][:3] == ["BLS-01", "BLS-02", "BLS-03"]
    assert by_prefix["PTL"][-1] == "PTL-50"
    assert len({u.unit_id for u in units}) == len(units)
    caps = {u.unit_id.split("-")[0]: u.capabilities for u in units}
    assert caps == {"PTL": ("patrol",), "K9": ("k9", "patrol"),
                    "BLS": ("ems_basic",), "ALS": ("ems_advanced",),
                    "ENG": ("fire_engine",), "LAD": ("ladder",)}
    types = {u.unit_id.split("-")[0]: u.unit_type for u in units}
    assert types["LAD"] == "ladder truck" and types["K9"] == "K9 unit"
    assert {u.staffing for u in units if u.unit_type == "fire engine"} == {4}


def test_units_are_available_at_given_points_with_a_fresh_fix(
    models: Models,
) -> None:
    units = simulate_fleet(POINTS, models.fleet, now_ms=1_234)

    assert all(u.status == AVAILABLE for u in units)
    assert all(u.fix_ms == u.status_ms == 1_234 for u in units)
    assert all((u.lat, u.lon) in POINTS for u in units)
    assert all(u.home == f"{u.lat:.5f},{u.lon:.5f}" for u in units)
    assert len({(u.lat, u.lon) for u in units}) == len(POINTS)


def test_ids_widen_for_large_groups_and_staffing_is_kept() -> None:
    spec = {"units": [{"prefix": "AMB", "count": 120, "capabilities": ["ems"],
                       "staffing": 3}]}
    units = simulate_fleet(POINTS, spec, now_ms=0)

    assert [u.unit_id for u in units[:2]] == ["AMB-001", "AMB-002"]
    assert units[-1].unit_id == "AMB-120"
    assert {u.staffing for u in units} == {3}


def test_no_points_raise_value_error(models: Models) -> None:
    with pytest.raises(ValueError, match="at least one"):
        simulate_fleet([], models.fleet, now_ms=0)
