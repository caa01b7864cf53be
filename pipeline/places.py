"""Where a report without a fix may be: the streets it names and the place it gives.

A 911 call with no fix still says where ("car on its roof at Haws Ave and
Main"), a text asks for help "on reindeer ct", a post gives only the town it
was sent from. Matching such a report needs what these words give:

- ``street_names``: the street names in an address or a free text, as
  "<name> <suffix>" with the suffix in its short form ("haws ave", "reindeer
  ct"). Two reports naming one street near one time are a place match; words
  like "caller" or "accident" that every report shares are not.
- ``Gazetteer``: a service area's place names (towns, townships, boroughs) with
  a centre and a radius, from ``models/places.yaml``. A post from "Lower
  Merion, PA" is somewhere in that circle: enough to tell it apart from an
  incident in the next county, not to route a unit.
- ``TownCells``: where a place's calls were, as counts per grid cell
  (``models/places/<source>.csv.gz``, from the same log). A circle holds 90 %
  of a township's calls and much of its neighbours'; the cells answer, for a
  point, what share of the calls around it named the town (``share``): a
  post from "Lower Moreland, PA" is about an incident where Lower Moreland's
  calls are, and not one 300 m over its border, though both lie in its
  circle. A deployment would read the same from its municipal boundaries.

>>> sorted(street_names("car on its roof at Haws Avenue & Main St, hurry"))
['haws ave', 'main st']
>>> sorted(street_names("REINDEER CT & DEAD END"))
['reindeer ct']
>>> street_names("caller reports vehicle accident, caller on scene")
frozenset()
>>> sorted(street_names("HAZARDOUS ROAD CONDITIONS at Church Rd"))
['church rd']
>>> sorted(street_names("by the pizza place on Haws Place, caller reports road"))
['haws pl']
>>> g = Gazetteer({"t": {"lower merion": (40.01, -75.27, 4000.0)}})
>>> g.find("t", "Lower Merion, PA")
(40.01, -75.27, 4000.0)
>>> g.find("t", "LOWER MERION TOWNSHIP") is None, g.find("x", "Lower Merion")
(False, None)
>>> cells = TownCells(0.01, {(4001, -7527): {"lower merion": 9, "narberth": 1}})
>>> g = Gazetteer({"t": {"lower merion": (40.01, -75.27, 4000.0)}}, {"t": cells})
>>> round(g.share("t", "Lower Merion", 40.015, -75.265), 2)
0.87
>>> g.share("t", "Lower Merion", 41.5, -75.265) is None  # no call recorded near
True
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Street suffixes (USPS Publication 28 forms and common spellings) -> one form.
SUFFIXES = {
    "st": "st", "street": "st", "rd": "rd", "road": "rd", "ave": "ave",
    "av": "ave", "avenue": "ave", "ln": "ln", "lane": "ln", "ct": "ct",
    "court": "ct", "dr": "dr", "drive": "dr", "pike": "pike", "blvd": "blvd",
    "boulevard": "blvd", "way": "way", "pl": "pl", "place": "pl", "cir": "cir",
    "circle": "cir", "hwy": "hwy", "highway": "hwy", "ter": "ter",
    "terrace": "ter", "trl": "trl", "trail": "trl", "pkwy": "pkwy",
    "parkway": "pkwy", "sq": "sq", "square": "sq", "tpke": "tpke",
    "turnpike": "tpke", "expy": "expy", "expressway": "expy", "path": "path",
    "aly": "aly", "alley": "aly", "row": "row", "walk": "walk",
}
#: Words before a suffix that are not a street's name ("at the st", "on rd").
NOT_A_NAME = frozenset({
    "a", "an", "the", "at", "on", "in", "near", "of", "and", "to", "by", "my",
    "our", "this", "that",
})
#: Suffixes spelt out that are also common nouns: after "the <word>" they
#: are a description ("by the pizza place", "the food court"), not a street.
COMMON_NOUNS = frozenset({
    "place", "court", "circle", "square", "way", "lane", "drive", "path",
    "walk", "row", "trail", "alley", "terrace",
})
#: Words of a call-taker's or witness's sentence, never a street's name
#: ("caller reports road obstruction").
NOT_A_STREET = frozenset({"reports", "reported", "caller", "passer", "by"})
#: Words after a suffix that make it a common noun, not a street's
#: ("hazardous road conditions", "road rage", "a street fight").
NOT_AFTER_SUFFIX = frozenset({
    "conditions", "rage", "hazard", "hazards", "debris", "fight", "fights",
    "patrol", "safety", "kill", "trip",
})
_WORD = re.compile(r"[a-z0-9']+")
#: Words that end a place name given as "Town, PA" or "Town Township".
_PLACE_TAIL = re.compile(
    r"(,.*$)|\b(township|twp|borough|boro|city|town|village)\b", re.IGNORECASE)


@lru_cache(maxsize=65_536)
def street_names(text: str) -> frozenset[str]:
    """The "<name> <suffix>" street names a text mentions, lower case (cached:
    a CAD log names the same addresses again and again)."""
    words = _WORD.findall(text.lower())
    found = set()
    for index in range(1, len(words)):
        suffix = SUFFIXES.get(words[index])
        name = words[index - 1]
        if not suffix or name in NOT_A_NAME or name in SUFFIXES or \
                name in NOT_A_STREET:
            continue
        if words[index] in COMMON_NOUNS and index > 1 and \
                words[index - 2] in ("the", "a"):
            continue
        if index + 1 < len(words) and words[index + 1] in NOT_AFTER_SUFFIX:
            continue
        found.add(f"{name} {suffix}")
    return frozenset(found)


def place_name(text: str) -> str:
    """A place name reduced to its core: "Lower Merion Township, PA" -> "lower
    merion"."""
    return " ".join(_WORD.findall(_PLACE_TAIL.sub(" ", text).lower()))


#: The columns of a source's cell file: a cell (its row and column: the
#: degrees of its south-west corner over the cell size, floored), a place
#: name and how many recorded calls of that place fell in the cell.
CELL_COLUMNS = ("lat_cell", "lon_cell", "place", "calls")
#: Around a point, its own cell weighs this many times each of its eight
#: neighbours (a point near a cell's edge is as much of the next cell).
OWN_CELL_WEIGHT = 3
#: Around a point, its cell and this many rings of cells at most are read,
#: one ring at a time until some hold calls (3: about a kilometre out).
#: Seeds 1/2/3 incident F1, one ring only: 0.9521/0.9475/0.9491; up to 3:
#: 0.9522/0.9477/0.9496 (the generator names a far incident's town by the
#: log's nearest call).
MAX_REACH = 3
#: Added to a place's calls around a point, against one more call in all: a
#: place with no call there is unlikely, never impossible (a new street).
SHARE_PRIOR = 0.1


@dataclass(frozen=True)
class TownCells:
    """A source's recorded calls per grid cell of ``deg`` degrees, by the
    place name they gave: where each place is, as its calls drew it."""

    deg: float
    #: (lat_cell, lon_cell) -> place name (``place_name``) -> calls.
    counts: Mapping[tuple[int, int], Mapping[str, int]]
    _around: dict[tuple[int, int], tuple[dict[str, int], int]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    #: Every place some cell holds calls of.
    _names: set[str] = field(default_factory=set, init=False, repr=False,
                             compare=False)

    def __post_init__(self) -> None:
        for cell in self.counts.values():
            self._names.update(cell)

    def share(self, name: str, lat: float, lon: float) -> float | None:
        """The share of the calls around (``lat``, ``lon``) that named
        ``name`` (its cell and the ring of cells around it, or the nearest
        ring out to ``MAX_REACH`` that holds calls); None when no call was
        recorded there, or none anywhere
        named ``name`` (a place the cells do not know is not unlikely
        everywhere: its circle decides)."""
        if name not in self._names or not (math.isfinite(lat)
                                           and math.isfinite(lon)):
            return None
        key = (math.floor(lat / self.deg), math.floor(lon / self.deg))
        around = self._around.get(key)
        if around is None:
            found: dict[str, int] = {}
            # Where no call was recorded next door (farmland, a park), the
            # nearest calls still tell whose it is: one ring of cells more at
            # a time.
            for reach in range(1, MAX_REACH + 1):
                for d_lat in range(-reach, reach + 1):
                    for d_lon in range(-reach, reach + 1):
                        weight = OWN_CELL_WEIGHT if d_lat == d_lon == 0 else 1
                        cell = self.counts.get((key[0] + d_lat, key[1] + d_lon), {})
                        for place, calls in cell.items():
                            found[place] = found.get(place, 0) + weight * calls
                if found:
                    break
            around = (found, sum(found.values()))
            if len(self._around) < 100_000:
                self._around[key] = around
        found, total = around
        if not total:
            return None
        return (found.get(name, 0) + SHARE_PRIOR) / (total + 1)

    @classmethod
    def of_points(cls, deg: float, points: Iterable[tuple[str, float, float]]
                  ) -> TownCells:
        """Cells counted from (place name, lat, lon) of recorded calls."""
        counts: dict[tuple[int, int], dict[str, int]] = {}
        for name, lat, lon in points:
            cell = counts.setdefault(
                (math.floor(lat / deg), math.floor(lon / deg)), {})
            key = place_name(name)
            cell[key] = cell.get(key, 0) + 1
        return cls(deg, counts)

    def rows(self) -> Iterator[tuple[int, int, str, int]]:
        for (lat_cell, lon_cell), places in sorted(self.counts.items()):
            for name, calls in sorted(places.items()):
                yield lat_cell, lon_cell, name, calls

    @classmethod
    def read(cls, path: Path, deg: float) -> TownCells:
        """A cell file (``CELL_COLUMNS``; gzip when its name ends in .gz);
        ``ValueError`` naming the file and line when it is not one."""
        counts: dict[tuple[int, int], dict[str, int]] = {}
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rb") as raw:
                reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8"))
                header = next(reader, None)
                if tuple(header or ()) != CELL_COLUMNS:
                    raise ValueError(f"its header is {header}, not "
                                     f"{','.join(CELL_COLUMNS)}")
                for line, row in enumerate(reader, start=2):
                    try:
                        lat_cell, lon_cell, name, calls = row
                        count, key = int(calls), place_name(name)
                        if count < 0 or not key:
                            raise ValueError("no place or a negative count")
                        cell = counts.setdefault((int(lat_cell), int(lon_cell)), {})
                        # Two spellings of one place ("Hatfield Twp",
                        # "HATFIELD TOWNSHIP") add up.
                        cell[key] = cell.get(key, 0) + count
                    except ValueError as exc:
                        raise ValueError(f"line {line}: {row}: {exc}") from exc
        except (OSError, EOFError, csv.Error, UnicodeDecodeError, zlib.error,
                ValueError) as exc:
            raise ValueError(f"places.yaml: the cell file {path}: {exc}") from exc
        return cls(deg, counts)


def _check_cells(source: str, path: Path, cells: TownCells,
                 places: Mapping[str, tuple[float, float, float]]) -> None:
    """Refuse cells that cannot be of ``places``: most places' centres must
    lie where the cells recorded calls (a ``deg`` other than the file's, or
    another source's file, puts every centre where none were)."""
    if not places:
        return
    known = [name for name in places if name in cells._names]
    placed = sum(cells.share(name, *places[name][:2]) is not None for name in known)
    if len(known) < len(places) / 2 or placed < len(known) / 2:
        raise ValueError(
            f"places.yaml: the cell file {path} does not fit {source}'s places: "
            f"it names {len(known)} of its {len(places)} places and holds calls "
            f"at the centres of {placed} (is cells.deg the size it was built "
            "with?)")


@dataclass(frozen=True)
class Gazetteer:
    """Place names per source: name -> (lat, lon, radius in metres), and
    where their calls were (``TownCells``) for the sources that have them."""

    sources: dict[str, dict[str, tuple[float, float, float]]] = field(
        default_factory=dict)
    cells: dict[str, TownCells] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any], models_dir: Path | None = None
                    ) -> Gazetteer:
        sources: dict[str, dict[str, tuple[float, float, float]]] = {}
        for source, places in (config.get("sources") or {}).items():
            sources[source] = {}
            for name, spec in places.items():
                lat, lon, radius = (float(spec[k]) for k in ("lat", "lon", "radius_m"))
                if not (-90 <= lat <= 90 and -180 <= lon <= 180 and radius > 0):
                    raise ValueError(f"places.yaml: {source}/{name} is not a place")
                sources[source][place_name(str(name))] = (lat, lon, radius)
        cells: dict[str, TownCells] = {}
        spec = config.get("cells") or {}
        if spec:
            if not isinstance(spec, Mapping) or set(spec) - {"deg", "files"}:
                raise ValueError("places.yaml: cells takes deg (the cell size in "
                                 "degrees) and files (source -> cell file)")
            try:
                deg = float(spec.get("deg", 0))
            except (TypeError, ValueError):
                deg = math.nan
            if not 0 < deg <= 1:
                raise ValueError(f"places.yaml: cells.deg must be a number of "
                                 f"degrees in (0, 1], not {spec.get('deg')!r}")
            files = spec.get("files") or {}
            if not isinstance(files, Mapping):
                raise ValueError("places.yaml: cells.files must map a source to "
                                 f"its cell file, not {files!r}")
            for source, name in files.items():
                if source not in sources:
                    raise ValueError(f"places.yaml: cells.files names {source!r}, "
                                     f"no source of its places (known: "
                                     f"{sorted(sources)})")
                if models_dir is None:
                    raise ValueError("places.yaml: cell files need the models "
                                     "directory")
                path = models_dir / str(name)
                found = TownCells.read(path, deg)
                _check_cells(source, path, found, sources[source])
                cells[str(source)] = found
        return cls(sources, cells)

    def find(self, source: str, text: str) -> tuple[float, float, float] | None:
        """The circle of a place name given by a report of ``source``, if known."""
        places = self.sources.get(source)
        if not places or not text:
            return None
        return places.get(place_name(text))

    def share(self, source: str, text: str, lat: float, lon: float
              ) -> float | None:
        """The share of the recorded calls around a point that named the
        place ``text`` names (``TownCells.share``); None when ``source`` has
        no cells or recorded no call there."""
        cells = self.cells.get(source)
        if cells is None or not text:
            return None
        return cells.share(place_name(text), lat, lon)
