"""route: the nearest available unit able to handle an incident, or why none is."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from agents.resources import Models
from pipeline.route import RouteParams, recommend, unit_problem
from pipeline.schema import UnitStatus

LAT, LON = 40.1210, -75.3420
NOW_MS = 1_450_000_000_000
KM_DEG = 360 / (2 * math.pi * 6_371.0088)  # degrees of latitude per km


def unit(unit_id: str, north_km: float = 0.0, *, status: str = "available",
         caps: tuple[str, ...] = ("ems",), fix_age_s: float = 0.0) -> UnitStatus:
    return UnitStatus(unit_id, status, caps, LAT + north_km * KM_DEG, LON,
                      fix_ms=NOW_MS - int(fix_age_s * 1000))


@pytest.fixture
def params(models: Models) -> RouteParams:
    return models.route


def test_real_params(params: RouteParams) -> None:
    assert params == RouteParams(max_range_m=40_000.0, fix_stale_after_s=600.0)


def test_params_default_when_absent() -> None:
    assert RouteParams.from_config({}) == RouteParams()


def test_nearest_available_capable_unit_is_picked(params: RouteParams) -> None:
    units = [
        unit("MED-03", 5.0),
        unit("PTL-01", 0.1, caps=("police",)),
        unit("MED-01", 2.0),
        unit("ENG-01", 3.0, caps=("fire", "ems")),
    ]
    pick, shortfall = recommend("ems", LAT, LON, units, NOW_MS, params)

    assert shortfall == ()
    assert pick is not None
    assert pick.unit_id == "MED-01"
    assert pick.distance_m == pytest.approx(2_000, abs=1)
    assert pick.reasons == (
        "nearest available with ems: 2000 m",
        "fix 0 s old",
        "3 capable units considered",
    )


def test_fire_capability_goes_to_the_engine(params: RouteParams) -> None:
    units = [unit("MED-01", 0.5), unit("ENG-01", 3.0, caps=("fire", "ems"))]
    pick, _ = recommend("fire", LAT, LON, units, NOW_MS, params)

    assert pick is not None and pick.unit_id == "ENG-01"


def test_busy_units_are_passed_over(params: RouteParams) -> None:
    units = [unit("MED-01", 0.5, status="on_scene"), unit("MED-02", 4.0)]
    pick, _ = recommend("ems", LAT, LON, units, NOW_MS, params)

    assert pick is not None and pick.unit_id == "MED-02"


def test_exact_distance_tie_goes_to_the_smaller_id(params: RouteParams) -> None:
    units = [unit("MED-10", 1.0), unit("MED-02", 1.0), unit("MED-07", 1.0)]

    picks = {
        recommend("ems", LAT, LON, order, NOW_MS, params)[0]
        for order in (units, units[::-1], units[1:] + units[:1])
    }

    assert {p.unit_id for p in picks if p is not None} == {"MED-02"}


def test_no_capable_unit(params: RouteParams) -> None:
    units = [unit("PTL-01", caps=("police",))]

    assert recommend("fire", LAT, LON, units, NOW_MS, params) == (
        None, ("none with capability fire",))
    assert recommend("ems", LAT, LON, [], NOW_MS, params) == (
        None, ("none with capability ems",))


def test_every_shortfall_is_counted(params: RouteParams) -> None:
    units = [
        unit("MED-01", status="en_route"),
        unit("MED-02", status="out_of_service"),
        unit("MED-03", fix_age_s=601),
        unit("MED-04", 41.0),
        unit("PTL-01", caps=("police",)),
    ]
    pick, shortfall = recommend("ems", LAT, LON, units, NOW_MS, params)

    assert pick is None
    assert shortfall == ("2 busy", "1 with stale fixes", "1 beyond 40 km")


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (unit("MED-01", status="on_scene"), "1 busy"),
        (unit("MED-01", fix_age_s=3600), "1 with stale fixes"),
        (unit("MED-01", 40.5), "1 beyond 40 km"),
    ],
)
def test_single_shortfall_reasons(params: RouteParams, candidate: UnitStatus,
                                  reason: str) -> None:
    assert recommend("ems", LAT, LON, [candidate], NOW_MS, params) == (None, (reason,))


def test_range_and_staleness_edges_still_qualify(params: RouteParams) -> None:
    edge = [unit("MED-01", 39.9, fix_age_s=600)]
    pick, shortfall = recommend("ems", LAT, LON, edge, NOW_MS, params)

    assert shortfall == ()
    assert pick is not None and pick.reasons[1] == "fix 600 s old"


def test_nearer_stale_unit_loses_to_farther_fresh_one(params: RouteParams) -> None:
    units = [unit("MED-01", 0.2, fix_age_s=900), unit("MED-02", 6.0, fix_age_s=30)]
    pick, _ = recommend("ems", LAT, LON, units, NOW_MS, params)

    assert pick is not None and pick.unit_id == "MED-02"


def test_unknown_incident_location(params: RouteParams) -> None:
    units = [unit("MED-01")]

    assert recommend("ems", None, None, units, NOW_MS, params) == (
        None, ("incident location unknown",))
    assert recommend("ems", LAT, None, units, NOW_MS, params)[0] is None


def test_units_iterable_is_consumed_once(params: RouteParams) -> None:
    pick, _ = recommend("ems", LAT, LON, iter([unit("MED-01", 1.0)]), NOW_MS, params)

    assert pick is not None and pick.unit_id == "MED-01"


@pytest.mark.parametrize(("changes", "problem"), [
    ({"status": "napping"}, "unknown status"),
    ({"capabilities": ()}, "no capabilities"),
    ({"lat": 91.0}, "no valid position"),
    ({"lat": 0.0, "lon": 0.0}, "no valid position"),
    ({"fix_ms": "soon"}, "not epoch milliseconds"),
])
def test_unusable_unit_statuses_are_named(changes: dict[str, Any], problem: str
                                          ) -> None:
    good = UnitStatus("PTL-1", "available", ("police",), 40.0, -75.0, fix_ms=1_000)

    assert unit_problem(good) is None
    assert problem in (unit_problem(dataclasses.replace(good, **changes)) or "")
