"""Where an address is: a source's address points, as a CAD's geocoder holds them.

A 911 call without a fix still gets a place: the call-taker types the address
the caller gives, and the CAD geocodes it against the agency's address points
before anyone is dispatched. An ``AddressBook`` is that lookup, offline: per
source, an address (a street, or two streets at a corner) -> the point its
geocoder gives, how far apart the points it gave that address lie
(``spread_m``) and how many it gave. ``locate`` gives a report with no fix
(never a post: its address is the place it was sent from) and a known
address that point, as a fix (``location`` known, flag ``geocoded``, the
address in ``details``, the area of the point's cell) whose uncertainty is
the spread, at least ``min_accuracy_m``: the matcher then weighs it as it
weighs any fix, and the router can send a unit to it. A report with a fix of
its own keeps it.
A text with no address field the book places (an SMS to 911: "fire outside
Easton Rd & Ruth Ave") is placed by the one corner its words name, as the
call-taker reading it would, for the channels of ``text_channels``. Words
are read as ``street_names`` reads them (a street's last name word and
suffix: "Rock Hill Rd" is "hill rd"), so a corner that two addresses of the
book read as ("n main st & race st", "main st & race st", 40 km apart) places
nothing. A point read from a text is where the texter says the event is, not
where they are: the reporter's own fix, if their thread has one, stands
before it (``pipeline/thread.py``, ``follow_up``), and its area stays
unknown (normalize counts surges by area before the thread decides).

A book is read from a CSV file per source (``address, lat, lon, spread_m,
points``; gzip when the name ends in .gz), named in ``models/addresses.yaml``
and read when its source's first report without a fix asks. An address whose
points lie more than ``max_spread_m`` apart (one street crossing several
towns, one name used in two of them), that names no street nor numbered road
(a town's name), or that falls outside the source's service area is no place
and is left out: the book answers only what it can place.
``benchmarks/addresses.py`` builds a book from a recorded CAD log; a
deployment would export one from its GIS.

Addresses are compared by ``address_key``: lower case, street suffixes in
one form (``pipeline/places.py``), the streets of a corner in one order.

>>> address_key("Haws Avenue &  MAIN ST")
'haws ave & main st'
>>> address_key("main st and haws ave") == address_key("HAWS AVE @ MAIN STREET")
True
>>> book = AddressBook({"t": {"haws ave & main st": (40.1, -75.3, 12.0, 9)}})
>>> from pipeline.schema import Report
>>> call = Report(report_id="c", source="t", channel="911", event_ms=0,
...               received_ms=0, kind="collision", type_text="",
...               address="MAIN ST & HAWS AVE")
>>> placed = book.locate(call)
>>> placed.has_point, placed.lat, placed.accuracy_m, placed.flags
(True, 40.1, 30.0, ('geocoded',))
>>> placed.details
{'geocoded': 'haws ave & main st', 'geocoded_by': 'address'}
>>> book.locate(replace(call, address="ELM ST")).has_point  # not in the book
False
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.fields import grid_area
from pipeline.geo import Box, cell_key, cells_within, distance_m
from pipeline.places import SUFFIXES, street_names
from pipeline.schema import LOCATION_KNOWN, Report

#: The channel never geocoded: a post's address is the place it was sent from.
SOCIAL = "social"
#: The flag of a report placed by the address book, and its detail: the
#: address it was placed by.
GEOCODED = "geocoded"
#: The detail that says what placed it: its ``address`` field or its ``text``.
GEOCODED_BY = "geocoded_by"
#: A text names one place when it names one corner.
CORNER_STREETS = 2
#: ``street_distance_m`` tells distances up to this far (metres; beyond:
#: far), from the book's points in grid cells of ``STREET_CELL_DEG``
#: degrees (``pipeline/geo.py``).
STREET_NEAR_M = 1000.0
STREET_CELL_DEG = 0.01
#: The area of a report that has no place.
UNKNOWN_AREA = grid_area(None, None)
#: What a config of the books may say.
CONFIG_KEYS = frozenset({"sources", "min_accuracy_m", "max_spread_m", "text_channels"})
#: The columns of a book's file.
COLUMNS = ("address", "lat", "lon", "spread_m", "points")
#: What parts a corner's streets in a spoken or typed address.
_CORNER = re.compile(r"\s*(?:&|@|/|\band\b|\bat\b)\s*")
_WORD = re.compile(r"[a-z0-9']+")


def address_key(text: str) -> str:
    """An address in one spelling: lower case, suffixes in their short form,
    the streets of a corner sorted; '' when it holds no word."""
    parts = set()
    for part in _CORNER.split(text.lower()):
        words = [SUFFIXES.get(word, word) for word in _WORD.findall(part)]
        if words:
            parts.add(" ".join(words))
    return " & ".join(sorted(parts))


def is_address(key: str) -> bool:
    """Whether an address key names a street ("haws ave") or a numbered road
    ("rt422"): a town's name alone ("north wales", which one log row holds
    at a point 27 km from the borough) or a word cut short ("eas") is no
    address."""
    return bool(key) and (bool(street_names(key)) or any(c.isdigit() for c in key))


#: An address's entry: lat, lon, spread in metres, points behind it.
Entry = tuple[float, float, float, int]


def summarize(points: Iterable[tuple[float, float]]) -> Entry:
    """The entry of the points a geocoder gave one address: their mean, the
    farthest of them from it, and how many there were."""
    points = list(points)
    if not points:
        raise ValueError("an address needs at least one point")
    lat = sum(p[0] for p in points) / len(points)
    lon = sum(p[1] for p in points) / len(points)
    spread = max(distance_m(lat, lon, *p) for p in points)
    return lat, lon, spread, len(points)


def read_book(lines: Iterable[str], max_spread_m: float = math.inf,
              box: Box | None = None) -> dict[str, Entry]:
    """A book's entries from its CSV lines; an address spread wider than
    ``max_spread_m``, or placed outside ``box`` (the source's service
    area), is left out, and so is one that two rows (two spellings) place
    farther apart than that. A malformed row raises ``ValueError``."""
    reader = csv.DictReader(_without_bom(lines))
    missing = set(COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"an address book needs the columns {', '.join(COLUMNS)}; "
                         f"missing {', '.join(sorted(missing))}")
    entries: dict[str, Entry] = {}
    doubtful: set[str] = set()
    for row in reader:
        number = reader.line_num
        try:
            lat, lon, spread = (float(row[k]) for k in ("lat", "lon", "spread_m"))
            points = float(row["points"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"line {number}: {exc}") from exc
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 <= spread < math.inf
                and points >= 1 and points == int(points)):
            raise ValueError(f"line {number}: not a place: {row}")
        key = address_key(row["address"] or "")
        if not is_address(key) or spread > max_spread_m or (
                box and not box.contains(lat, lon)):
            continue
        entry = (lat, lon, spread, int(points))
        other = entries.get(key)
        if other is not None and \
                distance_m(lat, lon, other[0], other[1]) > max_spread_m:
            doubtful.add(key)
        elif other is None or other[3] < entry[3]:
            entries[key] = entry
    for key in doubtful:
        del entries[key]
    return entries


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    """The lines, the first without a byte-order mark (a spreadsheet's)."""
    first = True
    for line in lines:
        yield line.removeprefix("\ufeff") if first else line
        first = False


def write_book(entries: Mapping[str, Entry]) -> Iterator[str]:
    """A book's CSV lines, addresses sorted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for key in sorted(entries):
        lat, lon, spread, points = entries[key]
        writer.writerow((key, round(lat, 6), round(lon, 6), round(spread, 1), points))
    yield from out.getvalue().splitlines(keepends=True)


def open_book(path: Path) -> io.TextIOBase:
    """A book file opened as text (gzip when its name ends in .gz)."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def street_key(text: str) -> str:
    """The corner a text names, in the form ``street_names`` reads ("haws
    ave & main st": a street's last name word and its suffix); '' when the
    text names no corner."""
    streets = street_names(text)
    return " & ".join(sorted(streets)) if len(streets) == CORNER_STREETS else ""


@dataclass
class AddressBook:
    """Address points per source: entries given, or files read on first use."""

    entries: dict[str, dict[str, Entry]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    min_accuracy_m: float = 30.0
    max_spread_m: float = 300.0
    #: Channels whose text is read for a corner when no address field
    #: places the report.
    text_channels: frozenset[str] = frozenset()
    #: Each source's service area: a book's point outside it is left out.
    boxes: dict[str, Box] = field(default_factory=dict)
    #: Per source, a corner as a text names it (``street_key``) -> its entry,
    #: or None when two addresses of the book read as that corner.
    _by_streets: dict[str, dict[str, Entry | None]] = field(
        default_factory=dict, init=False, repr=False)
    #: Per source, a street (``street_names``) -> the points of the book's
    #: addresses that name it, by grid cell (``STREET_CELL_DEG``).
    _street_points: dict[str, dict[str, dict[str, list[tuple[float, float]]]]] = (
        field(default_factory=dict, init=False, repr=False))

    @classmethod
    def from_config(cls, config: Mapping[str, Any], models_dir: Path,
                    boxes: Mapping[str, Box] | None = None) -> AddressBook:
        """The books ``models/addresses.yaml`` names, for the sources of
        ``boxes`` (their service areas); a file named but missing, a source
        without a service area or a malformed setting raises ``ValueError``
        (at start, not at the first call without a fix)."""
        unknown = set(config) - CONFIG_KEYS
        if unknown:
            raise ValueError(f"addresses.yaml: unknown settings {sorted(unknown)}; "
                             f"known: {sorted(CONFIG_KEYS)}")
        sources = config.get("sources") or {}
        channels = config.get("text_channels") or []
        if not isinstance(sources, Mapping):
            raise ValueError("addresses.yaml: sources must map a source to its "
                             "book's file")
        if not (isinstance(channels, list)
                and all(isinstance(c, str) for c in channels)):
            raise ValueError("addresses.yaml: text_channels must be a list of "
                             f"channel names, not {channels!r}")
        files = {}
        for source, name in sources.items():
            if boxes is not None and source not in boxes:
                raise ValueError(f"addresses.yaml: {source} is no source of "
                                 f"service_areas.yaml (known: {sorted(boxes)})")
            path = models_dir / str(name)
            if not path.is_file():
                raise ValueError(f"addresses.yaml: the book of {source}, {path}, "
                                 "is missing (python -m benchmarks.addresses "
                                 "builds it)")
            files[str(source)] = path
        try:
            least = float(config.get("min_accuracy_m", 30.0))
            spread = float(config.get("max_spread_m", 300.0))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"addresses.yaml: {exc}") from exc
        if not (0 < least < math.inf and 0 <= spread < math.inf):
            raise ValueError("addresses.yaml: min_accuracy_m must be > 0 and "
                             "max_spread_m >= 0, both finite")
        return cls(files=files, min_accuracy_m=least, max_spread_m=spread,
                   text_channels=frozenset(channels), boxes=dict(boxes or {}))

    def load(self) -> AddressBook:
        """Every book read now, and its corners as texts name them (a
        worker's start: a bad file stops it there, and no batch pays for
        reading it)."""
        for source in self.files:
            if self.text_channels:
                self._streets_of(source)
            else:
                self._of(source)
            self._street_cells(source)
        return self

    def _of(self, source: str) -> dict[str, Entry]:
        found = self.entries.get(source)
        if found is None:
            path = self.files.get(source)
            found = {}
            if path is not None:
                try:
                    with open_book(path) as lines:
                        found = read_book(lines, self.max_spread_m,
                                          self.boxes.get(source))
                except (OSError, EOFError, csv.Error, UnicodeDecodeError,
                        ValueError) as exc:
                    raise ValueError(f"address book {path} (addresses.yaml): "
                                     f"{exc}") from exc
            self.entries[source] = found
        return found

    def _streets_of(self, source: str) -> dict[str, Entry | None]:
        index = self._by_streets.get(source)
        if index is None:
            index = {}
            for address, entry in self._of(source).items():
                key = street_key(address)
                if not key:
                    continue
                if key not in index:
                    index[key] = entry
                    continue
                other = index[key]
                if other is None:
                    continue
                if distance_m(entry[0], entry[1], other[0], other[1]) > \
                        self.max_spread_m:
                    index[key] = None  # "n main st & race st", "main st & race st"
                elif entry[3] > other[3]:
                    index[key] = entry
            self._by_streets[source] = index
        return index

    def find(self, source: str, key: str) -> Entry | None:
        """The entry of an address (its ``address_key``) in the book of
        ``source``, if it places it."""
        if not key:
            return None
        return self._of(source).get(key)

    def street_distance_m(self, source: str, streets: Collection[str], lat: float,
                          lon: float) -> float | None:
        """How far a point is from the streets a report named, by the book's
        address points on them (``street_names`` form): a call that names a
        corner the book never placed, or a long road, is of an event near an
        address on its streets, and a fix kilometres from them is not. The
        nearer street of a corner counts; ``math.inf`` when all are farther
        than ``STREET_NEAR_M``. None when the book holds no point of them,
        when the point is near one street of a corner and far from the other
        (one pike runs 28 km: a point by it is not at every corner of it), or
        when more than two streets are named (a text listing roads names no
        place)."""
        if isinstance(streets, str):
            raise TypeError("streets is a collection of street names, not one")
        if not streets or len(streets) > CORNER_STREETS:
            return None
        index = self._street_cells(source)
        around = cells_within(lat, lon, STREET_NEAR_M, STREET_CELL_DEG)
        found: list[float] = []
        for street in streets:
            cells = index.get(street)
            if cells is None:
                continue  # the book knows no point of it: the other tells
            near = min((distance_m(lat, lon, point[0], point[1])
                        for key in around for point in cells.get(key, ())),
                       default=math.inf)
            found.append(near if near <= STREET_NEAR_M else math.inf)
        if not found:
            return None
        if min(found) < math.inf and max(found) == math.inf:
            # By one street and nowhere near the other: not at their corner,
            # nor surely away from it (the book may hold only a namesake of
            # the other, in another town).
            return None
        return min(found)

    def _street_cells(self, source: str
                      ) -> dict[str, dict[str, list[tuple[float, float]]]]:
        """Per street, the book's points on it by grid cell (built once)."""
        index = self._street_points.get(source)
        if index is None:
            index = {}
            for address, entry in self._of(source).items():
                key = cell_key(entry[0], entry[1], STREET_CELL_DEG)
                for street in street_names(address):
                    index.setdefault(street, {}).setdefault(key, []).append(
                        (entry[0], entry[1]))
            self._street_points[source] = index
        return index

    def locate(self, report: Report) -> Report:
        """``report`` at its address's point, when it has no fix and the
        book places its address, or (a channel of ``text_channels``) the one
        corner its text names, when no two addresses of the book read as
        that corner; otherwise ``report`` as it is."""
        if report.has_point or report.channel == SOCIAL:
            return report  # a post's "address" is the place it was sent from
        by = "address"
        key = address_key(report.address) if report.address else ""
        entry = self.find(report.source, key)
        if entry is None and report.channel in self.text_channels:
            by, key = "text", street_key(report.text)
            entry = self._streets_of(report.source).get(key) if key else None
        if entry is None:
            return report
        lat, lon, spread, _ = entry
        # A point read from a text may yet give way to the texter's own fix
        # (pipeline/thread.py): its area stays unknown, as it was.
        area = (grid_area(lat, lon) if by == "address" and report.area == UNKNOWN_AREA
                else report.area)
        return replace(report, lat=lat, lon=lon, location=LOCATION_KNOWN,
                       accuracy_m=float(round(max(self.min_accuracy_m, spread))),
                       area=area, flags=(*report.flags, GEOCODED),
                       details={**report.details, GEOCODED: key, GEOCODED_BY: by})
