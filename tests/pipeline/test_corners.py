"""Street corners learnt from located reports give calls without a fix a point."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from agents.resources import Models
from pipeline.corners import CornerBook, corner_key
from pipeline.dedupe import IncidentMatcher
from pipeline.geo import distance_m
from pipeline.regions import Region
from pipeline.schema import MERGED, NEW, REPEAT
from tests.pipeline.test_regions import TOWNS, report

CORNER = "crash at Haws Ave & Main St"
#: Three hours: the incident that taught the corner has left the state.
LATER_MIN = 180


@pytest.fixture
def matcher(models: Models) -> IncidentMatcher:
    return IncidentMatcher(models.kinds, models.match, TOWNS)


def _corners(region: Region) -> dict[str, list[float]]:
    return {name: entry for cell in region.cells.values()
            for name, entry in cell.corners.items()}


def test_a_call_naming_a_learnt_corner_joins_the_fix_at_it(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    taught = matcher.apply(region, report("a", 40.12, -75.34, text=CORNER))
    located = matcher.apply(region, report("b", 40.1203, -75.34, minute=LATER_MIN,
                                           text="car on its roof"))
    elsewhere = matcher.apply(region, report("e", 40.20, -75.10,
                                             minute=LATER_MIN + 1,
                                             text="two cars crashed"))
    call = matcher.apply(region, report("c", None, None, minute=LATER_MIN + 2,
                                        text="accident main st and haws ave"))

    assert located.incident_id not in (taught.incident_id, elsewhere.incident_id)
    assert (call.change, call.incident_id) == (MERGED, located.incident_id)
    assert call.merge is not None
    assert call.merge["reasons"][0].startswith(
        "no fix; haws ave & main st is where 1 located reports put it")
    assert call.merge["distance_m"] == pytest.approx(33, abs=1)


def test_without_the_book_the_same_call_stays_apart(
        matcher: IncidentMatcher, models: Models) -> None:
    params = dataclasses.replace(models.match, corner_min_fixes=None)
    plain = IncidentMatcher(models.kinds, params, TOWNS)
    region = Region("r:test")
    plain.apply(region, report("a", 40.12, -75.34, text=CORNER))
    located = plain.apply(region, report("b", 40.1203, -75.34, minute=LATER_MIN,
                                         text="car on its roof"))
    call = plain.apply(region, report("c", None, None, minute=LATER_MIN + 2,
                                      text="accident main st and haws ave"))
    assert call.incident_id != located.incident_id
    assert not _corners(region)


def test_a_call_at_a_known_corner_opens_an_incident_there_after_a_restart(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    matcher.apply(region, report("a", 40.12, -75.34, text=CORNER, accuracy_m=30))
    matcher.apply(region, report("a2", 40.1204, -75.34, minute=30, text=CORNER,
                                 accuracy_m=300))
    stored = region.snapshot()

    restarted = Region("r:test", stored.get)
    restarted.rebuild(stored.items())
    call = matcher.apply(restarted, report("c", None, None, minute=LATER_MIN,
                                           text="crash, Main St & Haws Ave"))
    unknown = matcher.apply(restarted, report("u", None, None, minute=LATER_MIN,
                                              text="crash at Oak Ln & Elm St"))
    fix = matcher.apply(restarted, report("f", 40.1206, -75.34,
                                          minute=LATER_MIN + 3, accuracy_m=20,
                                          text="car on its roof"))

    assert call.change == NEW and call.lat is not None and call.lon is not None
    # The precision-weighted mean: the 30 m fix outweighs the 300 m one.
    assert distance_m(call.lat, call.lon, 40.12, -75.34) < 1
    assert unknown.change == NEW and unknown.lat is None
    assert (fix.change, fix.incident_id) == (MERGED, call.incident_id)


def test_a_redelivered_fix_teaches_once_and_a_redelivered_call_is_a_repeat(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    teacher = report("a", 40.12, -75.34, text=CORNER)
    matcher.apply(region, teacher)
    matcher.apply(region, teacher)
    call = report("c", None, None, minute=LATER_MIN, text="main st & haws ave")
    first, again = matcher.apply(region, call), matcher.apply(region, call)

    assert _corners(region)["haws ave & main st"][4] == 1
    assert (first.change, again.change) == (NEW, REPEAT)
    assert again.incident_id == first.incident_id


def test_a_book_forgets_untaught_corners_and_keeps_its_bound() -> None:
    book = CornerBook({}, max_accuracy_m=1000.0)
    for n, name in enumerate(["a st & b st", "b st & c st", "c st & d st"]):
        book.learn_one(name, 40.0, -75.0, 50.0, n * 1000)
    book.learn_one("a st & b st", 40.0, -75.0, 50.0, 3000)  # taught again

    assert book.forget(horizon_ms=1500, keep=10)
    assert list(book.corners) == ["c st & d st", "a st & b st"]
    assert book.forget(horizon_ms=0, keep=1)
    assert list(book.corners) == ["a st & b st"]


def test_a_log_naming_one_corner_at_one_point_again_rewrites_nothing(
        matcher: IncidentMatcher) -> None:
    table: dict[str, Any] = {}
    region = Region("r:test", table.get, table.items)
    region.begin()
    matcher.apply(region, report("a", 40.12, -75.34, text=CORNER))
    table.update(region.snapshot())  # written back, as the worker does
    learnt = list(_corners(region)["haws ave & main st"])
    region.begin()  # the next batch: the same geocoded point, a day later
    matcher.apply(region, report("b", 40.12, -75.34, minute=24 * 60, text=CORNER))

    assert _corners(region)["haws ave & main st"] == learnt
    assert not any("|g" in key for key in region.changed)


def test_a_corner_taught_only_its_own_point_is_still_kept() -> None:
    day = 24 * 3600 * 1000
    book = CornerBook({}, max_accuracy_m=1000.0, refresh_ms=7 * day)
    book.learn_one("a st & b st", 40.0, -75.0, None, 0)
    book.learn_one("b st & c st", 40.1, -75.0, None, 0)
    assert not book.learn_one("a st & b st", 40.0, -75.0, None, 6 * day)
    assert book.learn_one("a st & b st", 40.0, -75.0, None, 8 * day)

    assert book.forget(horizon_ms=day, keep=10)
    assert list(book.corners) == ["a st & b st"]
    assert book.corners["a st & b st"][4] == 1  # one point, counted once


@pytest.mark.parametrize("streets", [set(), {"main st"},
                                     {"main st", "haws ave", "oak ln"}])
def test_only_two_streets_name_a_corner(streets: set[str]) -> None:
    assert corner_key(frozenset(streets)) is None


@pytest.mark.parametrize("corners", [True, False])
def test_a_call_at_a_learnt_corner_joins_no_far_incident_by_its_call_type(
        models: Models, corners: bool) -> None:
    params = dataclasses.replace(
        models.match, corner_min_fixes=models.match.corner_min_fixes if corners
        else None)
    matcher = IncidentMatcher(models.kinds, params, TOWNS)
    region = Region("r:test")
    matcher.apply(region, report("a", 40.12, -75.34, text=CORNER))
    far = matcher.apply(region, dataclasses.replace(
        report("b", 40.20, -75.10, minute=LATER_MIN), type_text="VEHICLE ACCIDENT"))
    call = matcher.apply(region, dataclasses.replace(
        report("c", None, None, minute=LATER_MIN + 1, text="main st & haws ave"),
        type_text="VEHICLE ACCIDENT"))

    # Without a point the call's place cannot be set against the far
    # incident's, and the call type both give joins them; the corner's point
    # can be, and is 22 km off.
    assert (call.incident_id == far.incident_id) is not corners
    assert call.change == (NEW if corners else MERGED)
    assert call.lat == pytest.approx(40.12 if corners else 40.20)


def test_a_point_from_the_address_book_teaches_no_corner(
        matcher: IncidentMatcher) -> None:
    # The book placed it (pipeline/addresses.py): no fix of its own, and what
    # the book knows it places itself.
    region = Region("r:test")
    geocoded = dataclasses.replace(report("a", 40.12, -75.34, text=CORNER),
                                   flags=("geocoded",))
    matcher.apply(region, geocoded)
    assert not _corners(region)
    matcher.apply(region, report("b", 40.12, -75.34, minute=1, text=CORNER))
    assert list(_corners(region)) == ["haws ave & main st"]
