"""The route stage's search plan: which incidents Redis GEO can serve, which sets."""

from __future__ import annotations

from agents.route import SPARE_CANDIDATES, search_for, within_geo
from pipeline.route import ResponsePlans, RouteParams, Slot

PARAMS = RouteParams(plans=ResponsePlans(fills={"ems_advanced": ("ems_basic",)}))


def test_incidents_near_the_poles_are_left_to_the_table() -> None:
    # 40 km is about 0.36 degrees of latitude: from 84.7 on, the search
    # reaches where Redis GEO holds no unit.
    assert within_geo(84.6, PARAMS)
    assert not within_geo(84.8, PARAMS)
    assert not within_geo(-89.0, PARAMS)
    assert within_geo(0.0, PARAMS)


def test_a_basic_slot_searches_the_advanced_units_too() -> None:
    slots = (Slot("ems_basic", 2), Slot("patrol"))
    index, lat, lon, keys = search_for(3, 40.0, 179.99, slots, "app", PARAMS)

    assert (index, lat, lon) == (3, 40.0, 179.99)
    # Each set is asked for the seats its units may fill, and a few spare.
    assert keys == [("app:units:available:ems_basic", 2 + SPARE_CANDIDATES),
                    ("app:units:available:ems_advanced", 2 + SPARE_CANDIDATES),
                    ("app:units:available:patrol", 1 + SPARE_CANDIDATES)]
