"""Where a town's calls were (``pipeline/places.py``: ``TownCells``), as the
town scorer of dedupe reads them, and as ``benchmarks/places.py`` builds them
from a recorded log."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest

from agents.resources import Models
from benchmarks.places import cells_of, write_cells
from pipeline.localtime import local_to_utc_ms
from pipeline.places import Gazetteer, TownCells

LOG_HEADER = "lat,lng,desc,zip,title,timeStamp,twp,addr,e\n"


def log_row(lat: float, lon: float, town: str, at: str) -> str:
    return f"{lat},{lon},x,19401,EMS: FALL VICTIM,{at},{town},MAIN ST,1\n"


def test_the_share_is_of_the_calls_around_a_point_its_own_cell_weighing_most() -> None:
    cells = TownCells.of_points(0.01, [("Ambler", 40.155, -75.225)] * 6
                                + [("Whitpain", 40.165, -75.225)] * 4
                                + [("Horsham", 40.195, -75.135)])
    # Ambler's cell: 3 x 6 of Ambler's calls, 1 x 4 of Whitpain's next door.
    assert cells.share("ambler", 40.155, -75.225) == pytest.approx(18.1 / 23)
    assert cells.share("whitpain", 40.155, -75.225) == pytest.approx(4.1 / 23)
    # Whitpain's cell: the other way round.
    assert cells.share("whitpain", 40.165, -75.225) == pytest.approx(12.1 / 19)
    # A town no call there named (its calls are elsewhere) is unlikely,
    # not impossible.
    assert 0 < (cells.share("horsham", 40.155, -75.225) or 0) < 0.01
    # Where the next cells hold no call, the nearest ring that does tells
    # (two cells out of Whitpain's: Whitpain's calls, then Ambler's)...
    assert cells.share("whitpain", 40.185, -75.225) == pytest.approx(4.1 / 5)
    # ...and past MAX_REACH rings nothing was recorded: the cells cannot say.
    assert cells.share("ambler", 40.215, -75.225) is None


def test_cells_written_by_the_builder_read_back_the_same(tmp_path: Path) -> None:
    cells = TownCells.of_points(0.0035, [("LOWER MERION", 40.01, -75.27),
                                         ("Lower Merion", 40.01, -75.27),
                                         ("NARBERTH", 40.008, -75.262)])
    path = tmp_path / "places" / "t.csv.gz"
    write_cells(cells, path)

    read = TownCells.read(path, 0.0035)

    assert read.counts == cells.counts
    assert {"lower merion": 2} in read.counts.values()
    first = path.read_bytes()
    write_cells(cells, path)
    assert path.read_bytes() == first  # the same log gives the same bytes


def test_a_place_the_cells_never_name_or_a_point_that_is_none_gets_no_share() -> None:
    cells = TownCells.of_points(0.01, [("Ambler", 40.155, -75.225)])

    # Not "unlikely everywhere": the cells do not know it, its circle decides.
    assert cells.share("norristown", 40.155, -75.225) is None
    assert cells.share("ambler", math.nan, -75.225) is None
    assert cells.share("ambler", 40.155, math.inf) is None


def test_two_spellings_of_a_place_in_a_cell_file_add_up(tmp_path: Path) -> None:
    path = tmp_path / "cells.csv"
    path.write_text("lat_cell,lon_cell,place,calls\n1,2,HATFIELD TWP,3\n"
                    "1,2,Hatfield Township,4\n")

    assert TownCells.read(path, 0.01).counts == {(1, 2): {"hatfield": 7}}


@pytest.mark.parametrize("body, says", [
    ("lat,lon,town\n", "header"),
    ("lat_cell,lon_cell,place,calls\n1,2,ambler,many\n", "line 2"),
    ("lat_cell,lon_cell,place,calls\n1,2,ambler\n", "line 2"),
    ("lat_cell,lon_cell,place,calls\n1,2,ambler,-1\n", "negative"),
    ("lat_cell,lon_cell,place,calls\n1,2,,4\n", "no place"),
])
def test_a_malformed_cell_file_is_refused_naming_the_file(
        tmp_path: Path, body: str, says: str) -> None:
    path = tmp_path / "cells.csv.gz"
    path.write_bytes(gzip.compress(body.encode()))

    with pytest.raises(ValueError, match=says) as refused:
        TownCells.read(path, 0.01)
    assert str(path) in str(refused.value)


def test_a_corrupt_gzip_cell_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cells.csv.gz"
    good = bytearray(gzip.compress(b"lat_cell,lon_cell,place,calls\n" * 50))
    good[20] ^= 0x55  # inside the deflate stream
    path.write_bytes(bytes(good))

    with pytest.raises(ValueError) as refused:
        TownCells.read(path, 0.01)
    assert str(path) in str(refused.value)


def test_places_yaml_names_its_cell_files_and_refuses_bad_settings(
        tmp_path: Path) -> None:
    write_cells(TownCells.of_points(0.01, [("Ambler", 40.155, -75.225)]),
                tmp_path / "places" / "t.csv.gz")
    config = {"sources": {"t": {"Ambler": {"lat": 40.155, "lon": -75.225,
                                           "radius_m": 900}}},
              "cells": {"deg": 0.01, "files": {"t": "places/t.csv.gz"}}}

    gazetteer = Gazetteer.from_config(config, tmp_path)

    assert gazetteer.share("t", "Ambler, PA", 40.155, -75.225) == pytest.approx(3.1 / 4)
    assert gazetteer.share("other", "Ambler, PA", 40.155, -75.225) is None
    with pytest.raises(ValueError, match="deg"):
        Gazetteer.from_config({**config, "cells": {"deg": 0, "files": {}}}, tmp_path)
    with pytest.raises(ValueError, match="cells takes"):
        Gazetteer.from_config({**config, "cells": {"size": 0.01}}, tmp_path)
    with pytest.raises(ValueError, match=r"missing\.csv\.gz"):
        Gazetteer.from_config(
            {**config, "cells": {"deg": 0.01, "files": {"t": "missing.csv.gz"}}},
            tmp_path)
    with pytest.raises(ValueError, match=r"cells\.deg must be a number"):
        Gazetteer.from_config({**config, "cells": {"deg": "abc", "files": {}}},
                              tmp_path)
    with pytest.raises(ValueError, match=r"cells\.files must map"):
        Gazetteer.from_config(
            {**config, "cells": {"deg": 0.01, "files": ["places/t.csv.gz"]}},
            tmp_path)
    # A source of no place (a typo) is refused, not silently unused...
    with pytest.raises(ValueError, match="no source of its places"):
        Gazetteer.from_config(
            {**config, "cells": {"deg": 0.01, "files": {"t-x": "places/t.csv.gz"}}},
            tmp_path)
    # ...and so is a cell size other than the file's: its cells lie nowhere
    # near the places' centres.
    with pytest.raises(ValueError, match="does not fit"):
        Gazetteer.from_config(
            {**config, "cells": {"deg": 0.005, "files": {"t": "places/t.csv.gz"}}},
            tmp_path)


def test_the_builder_leaves_out_the_rows_of_a_span(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(LOG_HEADER
                   + log_row(40.155, -75.225, "AMBLER", "2016-01-10 12:00:00")
                   + log_row(40.155, -75.225, "WHITPAIN", "2016-01-20 12:00:00")
                   + log_row(40.155, -75.225, "", "2016-01-20 12:00:00")
                   + log_row(91.0, -75.225, "AMBLER", "2016-01-20 12:00:00"))
    every = cells_of("montgomery_pa", path=log, deg=0.01)
    assert sum(sum(c.values()) for c in every.counts.values()) == 2

    day = local_to_utc_ms("2016-01-20 12:00:00", "America/New_York")[0]
    without = cells_of("montgomery_pa", (day - 3_600_000, day + 3_600_000),
                       path=log, deg=0.01)

    assert list(without.counts.values()) == [{"ambler": 1}]


def test_the_shipped_cells_draw_the_townships_of_the_recorded_log(
        models: Models) -> None:
    places = models.places

    def share(town: str, at: str) -> float:
        circle = places.find("montgomery_pa", at)
        assert circle is not None
        found = places.share("montgomery_pa", town, circle[0], circle[1])
        assert found is not None
        return found

    # Each township's own centre is mostly its own calls...
    for town in ("Lower Merion", "Norristown", "Abington", "Horsham"):
        assert share(town, at=town) > 0.5
    # ...and Norristown, a borough inside East Norriton's circle, is not
    # East Norriton's.
    assert share("East Norriton", at="Norristown") < 0.2
