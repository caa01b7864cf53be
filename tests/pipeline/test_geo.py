"""geo: distances, grid cells, point checks and service-area boxes."""

from __future__ import annotations

import math

import pytest
from geopy.distance import geodesic, great_circle

from pipeline.geo import Box, cell_key, distance_m, valid_point

# One degree of arc on the mean Earth radius.
DEGREE_M = 2 * math.pi * 6_371_008.8 / 360


def test_same_point_is_zero_metres() -> None:
    assert distance_m(40.1, -75.3, 40.1, -75.3) == 0.0


def test_one_degree_of_latitude() -> None:
    assert distance_m(40.0, -75.0, 41.0, -75.0) == pytest.approx(DEGREE_M)


def test_one_degree_of_longitude_on_the_equator() -> None:
    assert distance_m(0.0, 10.0, 0.0, 11.0) == pytest.approx(DEGREE_M)


def test_longitude_degrees_shrink_with_latitude() -> None:
    at_60 = distance_m(60.0, 10.0, 60.0, 11.0)

    assert at_60 == pytest.approx(DEGREE_M / 2, rel=1e-3)


def test_short_east_west_step_at_montgomery_latitude() -> None:
    metres = distance_m(40.0, -75.0, 40.0, -75.001)

    assert metres == pytest.approx(0.001 * DEGREE_M * math.cos(math.radians(40)))
    assert round(metres) == 85


def test_city_pair_agrees_with_geopy() -> None:
    # Philadelphia City Hall to the Empire State Building.
    ours = distance_m(39.9526, -75.1635, 40.7484, -73.9857)

    assert ours == pytest.approx(
        great_circle((39.9526, -75.1635), (40.7484, -73.9857)).m, rel=1e-6)
    # The ellipsoid differs from the sphere by well under one percent.
    assert ours == pytest.approx(
        geodesic((39.9526, -75.1635), (40.7484, -73.9857)).m, rel=5e-3)


def test_distance_is_symmetric() -> None:
    assert distance_m(40.1, -75.3, 40.2, -75.1) == distance_m(40.2, -75.1, 40.1, -75.3)


def test_across_the_180th_meridian_is_short() -> None:
    metres = distance_m(0.0, 179.9999, 0.0, -179.9999)

    assert metres == pytest.approx(0.0002 * DEGREE_M, rel=1e-6)
    assert metres < 25


def test_antipodes_are_half_the_circumference() -> None:
    assert distance_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(180 * DEGREE_M)
    assert distance_m(90.0, 0.0, -90.0, 0.0) == pytest.approx(180 * DEGREE_M)


@pytest.mark.parametrize(
    ("lat", "lon", "cell_deg", "key"),
    [
        (40.1234, -75.3456, 0.05, "c:802:-1507"),
        (40.1234, -75.3456, 0.1, "c:401:-754"),
        (0.01, 0.01, 0.05, "c:0:0"),
        (-0.01, -0.01, 0.05, "c:-1:-1"),
        (89.99, 179.99, 1.0, "c:89:179"),
    ],
)
def test_cell_key(lat: float, lon: float, cell_deg: float, key: str) -> None:
    assert cell_key(lat, lon, cell_deg) == key


def test_near_points_share_a_cell_and_far_ones_do_not() -> None:
    assert cell_key(40.101, -75.301, 0.05) == cell_key(40.1049, -75.3049, 0.05)
    assert cell_key(40.101, -75.301, 0.05) != cell_key(40.151, -75.301, 0.05)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(40.1, -75.3), (0, 1), (1, 0), (90, 180), (-90, -180), (-33.9, 151.2)],
)
def test_valid_points(lat: float, lon: float) -> None:
    assert valid_point(lat, lon)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (0, 0),
        (0.0, -0.0),
        (90.0001, 0.5),
        (-90.0001, 0.5),
        (10, 180.0001),
        (10, -180.0001),
        (math.nan, 1.0),
        (1.0, math.inf),
        (-math.inf, 1.0),
        (True, 1.0),
        (1.0, False),
        ("40.1", -75.3),
        (None, -75.3),
        (40.1, [1]),
    ],
)
def test_invalid_points(lat: object, lon: object) -> None:
    assert not valid_point(lat, lon)


def test_box_contains_is_inclusive_of_edges() -> None:
    box = Box(south=39.85, west=-75.9, north=40.65, east=-74.85)

    assert box.contains(40.1, -75.3)
    assert box.contains(39.85, -75.9)
    assert box.contains(40.65, -74.85)
    assert not box.contains(39.8499, -75.3)
    assert not box.contains(40.1, -74.8499)
    # A swapped pair is outside.
    assert not box.contains(-75.3, 40.1)
