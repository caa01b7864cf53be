"""The address book: a call without a fix is placed where its address is."""

from __future__ import annotations

import gzip
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agents.resources import load_models
from agents.settings import ROOT
from benchmarks.addresses import entries_of
from benchmarks.addresses import main as build_book
from pipeline.addresses import (
    GEOCODED,
    GEOCODED_BY,
    STREET_CELL_DEG,
    STREET_NEAR_M,
    AddressBook,
    address_key,
    read_book,
    write_book,
)
from pipeline.dedupe import IncidentMatcher
from pipeline.geo import Box, cells_within, distance_m
from pipeline.regions import Region
from pipeline.schema import Report
from pipeline.thread import ThreadParams, follow_up

METRE_DEG = 360 / (2 * math.pi * 6_371_008.8)
CORNER = (40.119061, -75.353854)


def call(rid: str, minute: float, lat: float | None = None, lon: float | None = None,
         address: str = "", source: str = "montgomery_pa") -> Report:
    return Report(report_id=rid, source=source, channel="911",
                  event_ms=1_450_000_000_000 + int(minute * 60_000),
                  received_ms=0, kind="collision", type_text="VEHICLE ACCIDENT",
                  lat=lat, lon=lon, location="known" if lat is not None else "unknown",
                  accuracy_m=10.0 if lat is not None else None, address=address)


def test_an_address_is_one_key_however_it_is_spelt() -> None:
    key = address_key("HAWS AVE & MAIN ST")
    assert key == "haws ave & main st"
    for spelt in ("Main Street and Haws Avenue", "main st @ haws ave",
                  "  MAIN   ST / HAWS AV "):
        assert address_key(spelt) == key
    assert address_key("REINDEER CT") == "reindeer ct"
    assert address_key(" & , ") == ""


def test_a_book_leaves_out_an_address_it_cannot_place(tmp_path: Path) -> None:
    lines = ["address,lat,lon,spread_m,points\n",
             "main st & haws ave,40.1,-75.3,0,4\n",
             "route 422,40.2,-75.4,2800,30\n"]
    entries = read_book(lines, max_spread_m=300)
    assert set(entries) == {"haws ave & main st"}
    assert read_book(list(write_book(entries))) == entries
    with pytest.raises(ValueError, match="line 2"):
        read_book(["address,lat,lon,spread_m,points\n", "x,91,0,0,1\n"])
    with pytest.raises(ValueError, match="missing spread_m"):
        read_book(["address,lat,lon,points\n"])


def test_a_call_without_a_fix_gets_its_address_s_point_and_nothing_else_does(
        ) -> None:
    book = AddressBook({"montgomery_pa": {"haws ave & main st": (*CORNER, 80.0, 21)}},
                       min_accuracy_m=30.0)
    placed = book.locate(call("a", 0, address="Main St & Haws Ave"))
    assert placed.has_point and (placed.lat, placed.lon) == CORNER
    assert placed.accuracy_m == 80.0 and placed.flags == (GEOCODED,)
    located = call("b", 0, 40.0, -75.0, address="Main St & Haws Ave")
    assert book.locate(located) is located  # its own fix stands
    for unplaced in (call("c", 0, address="Elm St & Oak Rd"), call("d", 0),
                     call("e", 0, address="Main St & Haws Ave", source="other"),
                     # A post's address is the place it was sent from.
                     replace(call("f", 0, address="Main St & Haws Ave"),
                             channel="social")):
        assert book.locate(unplaced) is unplaced


def test_the_shipped_book_places_a_county_corner(tmp_path: Path) -> None:
    models = load_models(ROOT / "models")
    placed = models.addresses.locate(call("a", 0, address="HAWS AVE & MAIN ST"))
    assert placed.lat is not None and placed.lon is not None and placed.has_point
    assert distance_m(placed.lat, placed.lon, *CORNER) < 50
    # A street that runs across the county is no place.
    assert not models.addresses.locate(call("b", 0, address="RT 422")).has_point


def test_a_book_named_but_missing_stops_the_worker_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing"):
        AddressBook.from_config({"sources": {"t": "nowhere.csv.gz"}}, tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("address,lat,lon,spread_m,points\nmain st,40,-75,0,none\n")
    book = AddressBook.from_config({"sources": {"t": "bad.csv"}}, tmp_path)
    with pytest.raises(ValueError, match=r"bad\.csv \(addresses\.yaml\): line 2"):
        book.load()
    (tmp_path / "fake.csv.gz").write_text("address,lat,lon,spread_m,points\n")
    book = AddressBook.from_config({"sources": {"t": "fake.csv.gz"}}, tmp_path)
    with pytest.raises(ValueError, match=r"fake\.csv\.gz \(addresses\.yaml\)"):
        book.load()


@pytest.mark.parametrize(("config", "says"), [
    ({"sources": {"t": "b.csv"}, "text_channel": ["sms"]}, "unknown settings"),
    ({"sources": {"t": "b.csv"}, "text_channels": "sms"}, "list of channel"),
    ({"sources": {"nowhere": "b.csv"}}, "no source of service_areas"),
    ({"sources": ["b.csv"]}, "map a source"),
    ({"sources": {"t": "b.csv"}, "min_accuracy_m": math.inf}, "finite"),
    ({"sources": {"t": "b.csv"}, "max_spread_m": "wide"}, "could not convert"),
])
def test_a_config_of_the_books_that_says_something_else_is_refused(
        tmp_path: Path, config: dict[str, Any], says: str) -> None:
    (tmp_path / "b.csv").write_text("address,lat,lon,spread_m,points\n")
    with pytest.raises(ValueError, match=says):
        AddressBook.from_config(config, tmp_path, {"t": Box(39, -76, 41, -74)})


def test_a_book_keeps_only_what_it_can_place_in_the_service_area() -> None:
    lines = ["\ufeffaddress,lat,lon,spread_m,points\n",
             "600,32.387,-86.276,0,1\n",            # Alabama
             "main st & haws ave,40.1,-75.3,0,2.0\n",
             "\n",
             "county line rd,40.1,-75.3,0,3\n",      # two towns' roads...
             "County Line Road,40.3,-75.1,0,5\n",    # ...27 km apart
             "elm st,40.1,-75.3,0,3\n",
             "ELM STREET,40.1001,-75.3,0,5\n",       # one place, two spellings
             "north wales,40.39,-75.49,0,1\n",       # a town's name, 27 km off
             "eas,40.1,-75.3,0,1\n",                 # a word cut short
             "rt422 byp & ramp,40.1,-75.3,0,2\n"]    # a numbered road
    entries = read_book(lines, max_spread_m=300, box=Box(39, -76, 41, -74))
    assert entries == {"haws ave & main st": (40.1, -75.3, 0.0, 2),
                       "elm st": (40.1001, -75.3, 0.0, 5),
                       "ramp & rt422 byp": (40.1, -75.3, 0.0, 2)}
    with pytest.raises(ValueError, match="line 5"):
        read_book([*lines[:4], "x,40,-75,0,1.5\n"])


def test_a_geocoded_call_joins_the_located_call_at_its_corner() -> None:
    models = load_models(ROOT / "models")
    book = AddressBook({"montgomery_pa": {"haws ave & main st": (*CORNER, 0.0, 21)}})
    first = call("fix", 0, CORNER[0] + 25 * METRE_DEG, CORNER[1])
    # Another crash 5 km off at the same time.
    other = call("other", 1, CORNER[0] + 5000 * METRE_DEG, CORNER[1])
    spoken = call("spoken", 3, address="MAIN ST & HAWS AVE")
    matcher = IncidentMatcher(models.kinds, models.match, models.places)
    region = Region("r")
    opened = matcher.apply(region, first)
    matcher.apply(region, other)
    joined = matcher.apply(region, book.locate(spoken))
    assert (joined.change, joined.incident_id) == ("merged", opened.incident_id)
    assert joined.merge is not None
    assert joined.merge["reasons"][0].startswith("distance 25 m")
    assert joined.merge["reasons"][-1] == (
        "its point is the address book's for 'haws ave & main st'")
    # Without the book the call names a corner no report taught, and either
    # crash may be its: alone.
    alone = IncidentMatcher(models.kinds, models.match, models.places)
    region = Region("r")
    alone.apply(region, first)
    alone.apply(region, other)
    assert alone.apply(region, spoken).change == "new"


def test_a_book_from_a_log_leaves_out_the_rows_of_a_span(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(
        "lat,lng,desc,zip,title,timeStamp,twp,addr,e\n"
        "40.1,-75.3,d,,EMS: FALL,2016-01-01 10:00:00,NORRISTOWN,HAWS AVE & MAIN ST,1\n"
        "40.1002,-75.3,d,,EMS: FALL,2016-01-05 10:00:00,NORRISTOWN,"
        "MAIN ST & HAWS AVE,1\n"
        "40.5,-75.6,d,,EMS: FALL,2016-01-05 11:00:00,X,ELM ST,1\n"
        "x,-75.6,d,,EMS: FALL,2016-01-06 11:00:00,X,OAK ST,1\n"
        "40.5,-75.6,d,,EMS: FALL,2016-01-06 11:00:00,X,,1\n")
    every = entries_of("montgomery_pa", path=log)
    assert set(every) == {"haws ave & main st", "elm st"}
    lat, _, spread, points = every["haws ave & main st"]
    assert points == 2 and lat == pytest.approx(40.1001)
    assert 10 < spread < 12
    # 2016-01-05 in New York is 05:00Z to 05:00Z the next day.
    skip = (1_451_970_000_000, 1_452_056_400_000)
    assert entries_of("montgomery_pa", skip, path=log) == {
        "haws ave & main st": (40.1, -75.3, 0.0, 1)}
    out = tmp_path / "book.csv.gz"
    assert build_book(["--log", str(log), "--out", str(out)]) == 0
    with gzip.open(out, "rt") as handle:
        assert read_book(handle) == {key: (round(a, 6), round(b, 6), round(c, 1), d)
                                     for key, (a, b, c, d) in every.items()}
    book = AddressBook(files={"montgomery_pa": out})
    assert book.locate(replace(call("a", 0), address="Elm St")).has_point


def test_a_text_is_placed_by_the_one_corner_it_names() -> None:
    book = AddressBook({"montgomery_pa": {"haws ave & main st": (*CORNER, 0.0, 21),
                                          "elm st": (40.2, -75.2, 100.0, 3)}},
                       text_channels=frozenset({"sms"}))
    text = replace(call("t", 0), channel="sms", area="UNKNOWN",
                   text="need help, car fire outside Main Street & Haws Ave")
    placed = book.locate(text)
    assert (placed.lat, placed.lon, placed.flags) == (*CORNER, (GEOCODED,))
    assert placed.details == {GEOCODED: "haws ave & main st", GEOCODED_BY: "text"}
    # Its area stays unknown: the texter's own fix may yet stand before it.
    assert placed.area == "UNKNOWN"
    by_address = book.locate(replace(text, address="Haws Ave & Main St"))
    assert by_address.area == "grid:401:-754"  # its 0.1 degree cell, as a fix's
    # One street is no place; three streets name no one place; a post is not
    # read; an address field the book does not hold leaves the text to speak.
    for unplaced in (replace(text, text="smoke on elm st"),
                     replace(text, text="elm st, main st and haws ave"),
                     replace(text, channel="social")):
        assert not book.locate(unplaced).has_point
    assert book.locate(replace(text, address="Oak Rd")).has_point


def test_a_text_s_corner_that_two_addresses_read_as_places_nothing() -> None:
    # A text's street is its last name word and suffix: "N Main St" reads as
    # "main st", and the book holds both, 40 km apart.
    book = AddressBook({"t": {"main st & race st": (40.37, -75.63, 0.0, 4),
                              "n main st & race st": (40.02, -75.24, 0.0, 9),
                              "elm st & rock hill rd": (40.02, -75.24, 0.0, 2)}},
                       text_channels=frozenset({"sms"}))
    text = replace(call("t", 0, source="t"), channel="sms")
    assert not book.locate(replace(text, text="smoke near N Main St & Race St")
                           ).has_point
    placed = book.locate(replace(text, text="crash at Rock Hill Rd and Elm St"))
    assert (placed.lat, placed.details[GEOCODED]) == (40.02, "elm st & hill rd")


def test_the_reporter_s_own_fix_stands_before_a_point_read_from_a_text() -> None:
    book = AddressBook({"montgomery_pa": {"haws ave & main st": (*CORNER, 0.0, 21)}},
                       text_channels=frozenset({"sms"}))
    params = ThreadParams(follow_up_s=1800)
    thread: dict[str, Any] = {}
    first = replace(call("c", 0, 40.3, -75.5), reporter="rp:1")
    assert follow_up(thread, first, params) == first
    text = replace(call("t", 3), channel="sms", reporter="rp:1",
                   text="fire spreading to haws ave & main st")
    lent = follow_up(thread, book.locate(text), params)
    assert (lent.lat, lent.lon) == (40.3, -75.5)
    assert GEOCODED not in lent.flags and GEOCODED not in lent.details
    # Without a fix of the reporter's, the text's point stands, and is not
    # lent to their next text.
    alone: dict[str, Any] = {}
    placed = follow_up(alone, book.locate(text), params)
    assert (placed.lat, placed.lon) == CORNER
    later = replace(text, report_id="t2", event_ms=text.event_ms + 60_000,
                    text="please hurry")
    assert not follow_up(alone, book.locate(later), params).has_point


def test_the_shipped_book_reads_texts_of_calls_and_sms_not_posts() -> None:
    book = load_models(ROOT / "models").addresses
    assert {"911", "sms"} <= book.text_channels
    assert "social" not in book.text_channels


def test_the_builder_says_what_a_log_lacks(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "book.csv.gz"
    no_lat = tmp_path / "no_lat.csv"
    no_lat.write_text("lng,addr,timeStamp\n-75.3,HAWS AVE,2016-01-01 10:00:00\n")
    assert build_book(["--log", str(no_lat), "--out", str(out)]) == 2
    assert "missing lat" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_text("lat,lng,addr,timeStamp\n")
    assert build_book(["--log", str(empty), "--out", str(out)]) == 2
    assert "places no address" in capsys.readouterr().err
    assert not out.exists()


def test_a_point_is_as_far_from_a_street_as_from_the_nearest_address_on_it() -> None:
    north = 1 / 111_195  # degrees of latitude per metre
    book = AddressBook({"t": {
        "main st & vaughn rd": (40.0, -75.0, 10.0, 3),
        "elm st & vaughn rd": (40.0 + 400 * north, -75.0, 10.0, 2),
        "elm st": (40.0 + 5000 * north, -75.0, 50.0, 4),
    }})

    # "vaughn rd" is read as the street of two corners; the nearer one counts.
    near = book.street_distance_m("t", {"vaughn rd"}, 40.0 + 350 * north, -75.0)
    assert near == pytest.approx(50, abs=1)
    # Of a corner the book never placed, a street it holds no point of
    # ("5th ave") leaves the other to tell.
    near = book.street_distance_m("t", {"5th ave", "elm st"}, 40.0, -75.0)
    assert near == pytest.approx(400, abs=1)
    assert book.street_distance_m("t", {"5th ave"}, 40.0, -75.0) is None
    assert book.street_distance_m("other", {"vaughn rd"}, 40.0, -75.0) is None
    # A kilometre and more from every address on its streets: far.
    assert book.street_distance_m("t", {"vaughn rd"}, 40.0 + 3000 * north,
                                  -75.0) == math.inf
    # By Elm St's far end, 4.6 km from Vaughn Rd: not at their corner, nor
    # surely away from it.
    assert book.street_distance_m("t", {"vaughn rd", "elm st"},
                                  40.0 + 5000 * north, -75.0) is None
    # A text listing roads names no place; one street's name is no list.
    roads = {"vaughn rd", "elm st", "main st"}
    assert book.street_distance_m("t", roads, 40.0, -75.0) is None
    with pytest.raises(TypeError):
        book.street_distance_m("t", "vaughn rd", 40.0, -75.0)


def test_the_street_distance_of_a_busy_street_reads_only_the_points_near(
        ) -> None:
    # Thousands of addresses along one name across a county: the cells
    # near the point are read, not every one of them.
    north = 1 / 111_195
    entries = {f"main st & cross {i} rd": (40.0 + i * 200 * north, -75.0, 5.0, 1)
               for i in range(5000)}
    book = AddressBook({"t": entries})

    assert book.street_distance_m("t", {"main st"}, 40.0 + 100 * north,
                                  -75.0) == pytest.approx(100, abs=1)
    cells = book._street_cells("t")["main st"]
    read = sum(len(cells.get(key, ())) for key in cells_within(
        40.0 + 100 * north, -75.0, STREET_NEAR_M, STREET_CELL_DEG))
    assert read < 60 < 5000
