"""route: the nearest available units that fill an incident's response plan."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest

from agents.resources import Models
from pipeline.route import (
    ResponsePlans,
    RouteParams,
    Slot,
    UnitPool,
    recommend_units,
)
from pipeline.schema import Shortfall, UnitPick, UnitStatus

LAT, LON = 40.1210, -75.3420
NOW_MS = 1_450_000_000_000
KM_DEG = 360 / (2 * math.pi * 6_371.0088)  # degrees of latitude per km
PLANS = ResponsePlans(fills={"ems_advanced": ("ems_basic",)})
PARAMS = RouteParams(plans=PLANS)
ONE_BLS = (Slot("ems_basic"),)


def unit(unit_id: str, north_km: float = 0.0, *, status: str = "available",
         caps: tuple[str, ...] = ("ems_basic",), fix_age_s: float = 0.0,
         lat: float | None = None, lon: float | None = None) -> UnitStatus:
    return UnitStatus(unit_id, status, caps,
                      LAT + north_km * KM_DEG if lat is None else lat,
                      LON if lon is None else lon,
                      fix_ms=NOW_MS - int(fix_age_s * 1000))


def ids(items: Iterable[UnitPick | UnitStatus]) -> list[str]:
    return [item.unit_id for item in items]


def test_real_params_and_plans(models: Models) -> None:
    params = models.route

    assert (params.max_range_m, params.fix_stale_after_s) == (40_000.0, 600.0)
    assert params.plans.fills == {"ems_advanced": ("ems_basic",)}
    assert set(params.plans.plans) <= set(models.kinds.kinds)
    fleet_caps = {c for group in models.fleet["units"] for c in group["capabilities"]}
    planned = {s.capability for rules in params.plans.plans.values()
               for rule in rules for s in rule.slots}
    planned |= {s.capability for slots in params.plans.by_needs.values()
                for s in slots}
    assert planned <= fleet_caps


def test_real_plans_follow_kind_and_priority(models: Models) -> None:
    plans = models.route.plans

    serious = plans.slots_for("structure_fire", "fire", 1)
    assert [(s.capability, s.count) for s in serious] == [
        ("fire_engine", 2), ("ladder", 1), ("ems_advanced", 1), ("patrol", 1)]
    assert [s.capability for s in plans.slots_for("structure_fire", "fire", 2)] == [
        "fire_engine", "ladder"]
    assert plans.slots_for("medical", "ems", 3) == (Slot("ems_basic"),)
    assert plans.slots_for("medical_urgent", "ems", 3) == (Slot("ems_basic"),)
    assert plans.slots_for("disturbance", "police", 4) == (Slot("patrol"),)


def test_params_default_when_absent() -> None:
    assert RouteParams.from_config({}) == RouteParams()


@pytest.mark.parametrize("slots", [
    [{"capability": "patrol", "count": 0}],
    [{"capability": "patrol", "count": "two"}],
    [{"count": 1}],
    [],
])
def test_bad_plans_are_refused(slots: list[dict[str, object]]) -> None:
    with pytest.raises(ValueError, match=r"response_plans\.yaml"):
        ResponsePlans.from_config({"plans": {"fire": [{"slots": slots}]}})


def test_nearest_available_capable_unit_is_picked_with_reasons() -> None:
    units = [
        unit("BLS-03", 5.0),
        unit("PTL-01", 0.1, caps=("patrol",)),
        unit("BLS-01", 2.0, fix_age_s=42),
        unit("ENG-01", 3.0, caps=("fire_engine",)),
    ]
    picks, shortfall = recommend_units(ONE_BLS, LAT, LON, units, NOW_MS, PARAMS)

    assert shortfall == ()
    (pick,) = picks
    assert (pick.unit_id, pick.capability, pick.fix_age_s) == ("BLS-01", "ems_basic",
                                                               42.0)
    assert pick.distance_m == pytest.approx(2_000, abs=0.2)
    assert pick.reasons == ("available with ems_basic: 2000 m", "fix 42 s old",
                            "number 1 by distance of 2 candidates able to fill "
                            "ems_basic")
    assert pick.to_dict()["capability"] == "ems_basic"


def test_busy_units_are_passed_over() -> None:
    units = [unit("BLS-01", 0.5, status="on_scene"), unit("BLS-02", 4.0)]
    picks, _ = recommend_units(ONE_BLS, LAT, LON, units, NOW_MS, PARAMS)

    assert ids(picks) == ["BLS-02"]


def test_equidistant_units_go_to_the_smaller_id_in_any_order() -> None:
    # North, south, east and west of the incident, all 1 km away.
    east = 1 / (111.19492664 * math.cos(math.radians(LAT)))
    units = [unit("BLS-10", 1.0), unit("BLS-02", -1.0),
             unit("BLS-07", lon=LON + east), unit("BLS-05", lon=LON - east)]
    distances = {u.unit_id: recommend_units(ONE_BLS, LAT, LON, [u], NOW_MS,
                                            PARAMS)[0][0].distance_m for u in units}
    assert len(set(distances.values())) == 1, distances

    two = (Slot("ems_basic", 2),)
    chosen = {tuple(ids(recommend_units(two, LAT, LON, order, NOW_MS, PARAMS)[0]))
              for order in (units, units[::-1], units[1:] + units[:1])}
    assert chosen == {("BLS-02", "BLS-05")}


def test_no_capable_unit() -> None:
    units = [unit("PTL-01", caps=("patrol",))]

    assert recommend_units((Slot("ladder"),), LAT, LON, units, NOW_MS, PARAMS) == (
        (), (Shortfall("ladder", 1, ("none with capability ladder",)),))


def test_every_shortfall_reason_is_counted() -> None:
    units = [
        unit("BLS-01", status="en_route"),
        unit("BLS-02", status="out_of_service"),
        unit("BLS-03", fix_age_s=601),
        unit("BLS-04", 41.0),
        unit("PTL-01", caps=("patrol",)),
    ]
    picks, shortfall = recommend_units(ONE_BLS, LAT, LON, units, NOW_MS, PARAMS)

    assert picks == ()
    assert shortfall == (Shortfall("ems_basic", 1, (
        "2 busy", "1 with stale fixes", "1 beyond 40 km")),)


def test_partial_fill_gives_picks_and_the_missing_slots() -> None:
    slots = (Slot("fire_engine", 2), Slot("ladder"), Slot("patrol"))
    units = [unit("ENG-01", 1.0, caps=("fire_engine",)),
             unit("ENG-02", 2.0, caps=("fire_engine",), status="on_scene"),
             unit("LAD-01", 3.0, caps=("ladder",), fix_age_s=900),
             unit("PTL-01", 0.5, caps=("patrol",))]
    picks, shortfall = recommend_units(slots, LAT, LON, units, NOW_MS, PARAMS)

    assert [(p.unit_id, p.capability) for p in picks] == [
        ("ENG-01", "fire_engine"), ("PTL-01", "patrol")]
    assert shortfall == (Shortfall("fire_engine", 1, ("1 busy",)),
                         Shortfall("ladder", 1, ("1 with stale fixes",)))


def test_advanced_ems_fills_a_basic_slot_and_says_so() -> None:
    units = [unit("ALS-01", 1.0, caps=("ems_advanced",)), unit("BLS-01", 3.0)]
    picks, _ = recommend_units(ONE_BLS, LAT, LON, units, NOW_MS, PARAMS)

    assert ids(picks) == ["ALS-01"]
    assert "ems_advanced fills the ems_basic slot" in picks[0].reasons


def test_basic_ems_never_fills_an_advanced_slot() -> None:
    units = [unit("BLS-01", 1.0)]
    picks, shortfall = recommend_units((Slot("ems_advanced"),), LAT, LON, units,
                                       NOW_MS, PARAMS)

    assert picks == ()
    assert shortfall[0].reasons == ("none with capability ems_advanced",)


def test_a_unit_fills_one_slot_only_and_slots_are_all_filled_when_possible() -> None:
    # The basic slot comes first and the ALS unit is nearest: taking it there
    # would leave the advanced slot open. The BLS unit takes the basic slot.
    slots = (Slot("ems_basic"), Slot("ems_advanced"))
    units = [unit("ALS-01", 1.0, caps=("ems_advanced",)), unit("BLS-01", 9.0)]
    picks, shortfall = recommend_units(slots, LAT, LON, units, NOW_MS, PARAMS)

    assert [(p.unit_id, p.capability) for p in picks] == [
        ("BLS-01", "ems_basic"), ("ALS-01", "ems_advanced")]
    assert shortfall == ()


def test_units_taken_by_other_slots_are_a_shortfall_reason() -> None:
    slots = (Slot("ems_advanced"), Slot("ems_basic"))
    units = [unit("ALS-01", 1.0, caps=("ems_advanced",))]
    picks, shortfall = recommend_units(slots, LAT, LON, units, NOW_MS, PARAMS)

    assert ids(picks) == ["ALS-01"]
    assert shortfall == (Shortfall("ems_basic", 1, ("1 filling other slots",)),)


def test_nearest_across_the_180th_meridian() -> None:
    # 0.01 degrees of longitude on the equator is about 1.1 km.
    units = [unit("BLS-01", lat=0.5, lon=-179.995), unit("BLS-02", lat=0.5,
                                                          lon=179.9)]
    picks, _ = recommend_units(ONE_BLS, 0.5, 179.995, units, NOW_MS, PARAMS)

    assert ids(picks) == ["BLS-01"]
    assert picks[0].distance_m == pytest.approx(1_112, abs=1)


def test_high_latitudes_rank_by_metres_not_degrees() -> None:
    # Near the pole, 180 degrees of longitude can be a few kilometres: every
    # unit here is within 40 km, and the nearest in metres comes first.
    units = [unit("PTL-X", caps=("patrol",), lat=89.95, lon=180.0),
             unit("PTL-Y", caps=("patrol",), lat=89.8, lon=0.0),
             unit("PTL-Z", caps=("patrol",), lat=89.9, lon=90.0),
             unit("PTL-W", caps=("patrol",), lat=89.5, lon=0.0)]
    picks, shortfall = recommend_units((Slot("patrol", 4),), 89.9, 0.0, units,
                                       NOW_MS, PARAMS)

    assert ids(picks) == ["PTL-Y", "PTL-Z", "PTL-X"]
    assert [round(p.distance_m / 1000, 1) for p in picks] == [11.1, 15.7, 16.7]
    assert shortfall == (Shortfall("patrol", 1, ("1 beyond 40 km",)),)


def test_range_and_staleness_edges_still_qualify() -> None:
    picks, shortfall = recommend_units(ONE_BLS, LAT, LON,
                                       [unit("BLS-01", 39.9, fix_age_s=600)],
                                       NOW_MS, PARAMS)

    assert shortfall == ()
    assert picks[0].reasons[1] == "fix 600 s old"


def test_nearer_stale_unit_loses_to_farther_fresh_one() -> None:
    units = [unit("BLS-01", 0.2, fix_age_s=900), unit("BLS-02", 6.0, fix_age_s=30)]
    picks, _ = recommend_units(ONE_BLS, LAT, LON, units, NOW_MS, PARAMS)

    assert ids(picks) == ["BLS-02"]


def test_unknown_incident_location_leaves_every_slot_open() -> None:
    slots = (Slot("patrol", 2), Slot("ems_basic"))

    assert recommend_units(slots, None, None, [unit("BLS-01")], NOW_MS, PARAMS) == (
        (), (Shortfall("patrol", 2, ("incident location unknown",)),
             Shortfall("ems_basic", 1, ("incident location unknown",))))


def test_a_unit_listed_twice_counts_once() -> None:
    units = iter([unit("BLS-01", 1.0), unit("BLS-01", 1.0)])
    picks, shortfall = recommend_units((Slot("ems_basic", 2),), LAT, LON, units,
                                       NOW_MS, PARAMS)

    assert ids(picks) == ["BLS-01"]
    assert shortfall[0].missing == 1


def test_pool_offers_only_units_that_could_fill() -> None:
    pool = UnitPool([unit("ALS-01", caps=("ems_advanced",)), unit("BLS-01"),
                     unit("LAD-01", caps=("ladder",))], PLANS)

    assert sorted(ids(pool.able_to_fill(ONE_BLS))) == ["ALS-01", "BLS-01"]
    assert ids(pool.able_to_fill((Slot("ems_advanced"),))) == ["ALS-01"]
