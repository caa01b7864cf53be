"""Alert rules by district polygon and local hours; the real districts file."""

from __future__ import annotations

import pytest

from agents.resources import Models
from pipeline.alert import AlertRules, Hours, local_minute
from pipeline.districts import Districts

SQUARE_WITH_HOLE = {"districts": {
    "ring": {"polygons": [[[[0, 0], [4, 0], [4, 4], [0, 4]],
                           [[1, 1], [3, 1], [3, 3], [1, 3]]]]},
    "east": {"polygons": [[[[4, 0], [6, 0], [6, 4], [4, 4]]]]},
}}


def rules_with(**rule: object) -> AlertRules:
    spec = {"id": "r", "max_priority": 3,
            "recipients": [{"role": "dispatcher", "channel": "push"}], **rule}
    return AlertRules.from_config({"rules": [spec]},
                                  Districts.from_config(SQUARE_WITH_HOLE))


def fires(rules: AlertRules, lat: float | None, lon: float | None,
          minute: int | None = None) -> bool:
    fired, _ = rules.evaluate("I-1", "fire", 2, "X", set(), lat=lat, lon=lon,
                              minute_of_day=minute)
    return bool(fired)


def test_point_in_polygon_with_holes_and_shared_edges() -> None:
    districts = Districts.from_config(SQUARE_WITH_HOLE)

    assert districts.containing(0.5, 0.5) == {"ring"}
    assert districts.containing(2, 2) == set()  # inside the hole
    assert districts.containing(2, 4) == {"ring", "east"}  # on the shared edge
    assert districts.containing(2, 5) == {"east"}
    assert districts.containing(10, 10) == set()


def test_a_district_rule_needs_a_point_inside_and_an_any_area_rule_does_not() -> None:
    downtown = rules_with(districts=["east"])
    anywhere = rules_with()

    assert fires(downtown, 2, 5)
    assert not fires(downtown, 0.5, 0.5)
    assert not fires(downtown, None, None)  # no point: only rules for any area
    assert fires(anywhere, None, None)


def test_unknown_district_names_fail_at_load() -> None:
    with pytest.raises(ValueError, match="unknown districts"):
        rules_with(districts=["atlantis"])


def test_hours_cross_midnight_in_the_source_zone() -> None:
    night = rules_with(hours={"from": "22:00", "to": "06:00"})
    # 2016-01-23 03:30 UTC is 22:30 the evening before in New York.
    ms = 1453519800000

    assert local_minute(ms, "America/New_York") == 22 * 60 + 30
    assert fires(night, None, None, local_minute(ms, "America/New_York"))
    assert not fires(night, None, None, local_minute(ms, "Asia/Tokyo"))  # 12:30
    assert Hours.parse("06:00", "22:00").holds(21 * 60 + 59)
    assert not Hours.parse("06:00", "22:00").holds(22 * 60)


def test_channels_are_checked_at_load() -> None:
    with pytest.raises(ValueError, match="channel"):
        rules_with(recipients=[{"role": "dispatcher", "channel": "pager"}])


def test_the_real_downtown_rule_fires_inside_norristown_at_night(
        models: Models) -> None:
    rules = models.alerts
    night = 23 * 60

    inside = rules.evaluate("I-1", "burglary", 2, "NORRISTOWN", set(),
                            lat=40.12, lon=-75.34, minute_of_day=night)[0]
    noon = rules.evaluate("I-1", "burglary", 2, "NORRISTOWN", set(),
                          lat=40.12, lon=-75.34, minute_of_day=12 * 60)[0]
    outside = rules.evaluate("I-1", "burglary", 2, "AMBLER", set(),
                             lat=40.155, lon=-75.22, minute_of_day=night)[0]

    assert [f.rule_id for f in inside] == ["downtown-night"]
    assert "inside district norristown" in inside[0].reasons
    assert noon == [] and outside == []


def test_a_places_clock_is_its_service_areas_whatever_source_sent_it(
        models: Models) -> None:
    # A web report (source json, zone UTC, a box around the world) from
    # Norristown keeps Norristown's clock for a rule's hours.
    from pipeline.fields import zone_at

    sources = models.normalize.sources
    assert sources["json"].zone == "UTC"
    assert zone_at(sources, 40.1215, -75.3399, "UTC") == "America/New_York"
    assert zone_at(sources, 43.04, -87.91, "UTC") == "America/Chicago"
    assert zone_at(sources, -33.9, 151.2, "America/New_York") == "UTC"
