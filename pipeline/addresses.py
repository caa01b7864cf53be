"""Where an address is: a source's address points, as a CAD's geocoder holds them.

A 911 call without a fix still gets a place: the call-taker types the address
the caller gives, and the CAD geocodes it against the agency's address points
before anyone is dispatched. An ``AddressBook`` is that lookup, offline: per
source, an address (a street, or two streets at a corner) -> the point its
geocoder gives, how far apart the points it gave that address lie
(``spread_m``) and how many it gave. ``locate`` gives a report with no fix
and a known address that point, as a fix (``location`` known, flag
``geocoded``, the address in ``details``) whose uncertainty is the spread, at
least ``min_accuracy_m``: the matcher then weighs it as it weighs any fix, and
the router can send a unit to it. A report with a fix of its own keeps it.
A text with no address field (an SMS to 911: "fire outside Easton Rd & Ruth
Ave") is placed by the one street or corner its words name, as the
call-taker reading it would, for the channels of ``text_channels``.

A book is read from a CSV file per source (``address, lat, lon, spread_m,
points``; gzip when the name ends in .gz), named in ``models/addresses.yaml``
and read when its source's first report without a fix asks. An address whose
points lie more than ``max_spread_m`` apart (one street crossing several
towns, one name used in two of them) is no place and is left out: the book
answers only what it can place. ``benchmarks/addresses.py`` builds a book
from a recorded CAD log; a deployment would export one from its GIS.

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
{'geocoded': 'haws ave & main st'}
>>> book.locate(replace(call, address="ELM ST")).has_point  # not in the book
False
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.geo import distance_m
from pipeline.places import SUFFIXES, street_names
from pipeline.schema import LOCATION_KNOWN, Report

#: The flag of a report placed by the address book, and its detail: the
#: address it was placed by.
GEOCODED = "geocoded"
#: A text names one place when it names one street or one corner.
CORNER_STREETS = 2
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


def read_book(lines: Iterable[str], max_spread_m: float = math.inf
              ) -> dict[str, Entry]:
    """A book's entries from its CSV lines; an address spread wider than
    ``max_spread_m`` is left out. A malformed row raises ``ValueError``."""
    reader = csv.DictReader(lines)
    missing = set(COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"an address book needs the columns {', '.join(COLUMNS)}; "
                         f"missing {', '.join(sorted(missing))}")
    entries: dict[str, Entry] = {}
    for number, row in enumerate(reader, start=2):
        try:
            lat, lon, spread = (float(row[k]) for k in ("lat", "lon", "spread_m"))
            points = int(row["points"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"line {number}: {exc}") from exc
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and spread >= 0
                and points > 0):
            raise ValueError(f"line {number}: not a place: {row}")
        key = address_key(row["address"] or "")
        if key and spread <= max_spread_m:
            entries[key] = (lat, lon, spread, points)
    return entries


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


@dataclass
class AddressBook:
    """Address points per source: entries given, or files read on first use."""

    entries: dict[str, dict[str, Entry]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    min_accuracy_m: float = 30.0
    max_spread_m: float = 300.0
    #: Channels whose text is read for a street or corner when no address
    #: field places the report.
    text_channels: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, config: Mapping[str, Any], models_dir: Path) -> AddressBook:
        """The books ``models/addresses.yaml`` names; a file named but missing
        raises ``ValueError`` (at start, not at the first call without a fix)."""
        files = {}
        for source, name in (config.get("sources") or {}).items():
            path = models_dir / str(name)
            if not path.is_file():
                raise ValueError(f"addresses.yaml: the book of {source}, {path}, "
                                 "is missing (python -m benchmarks.addresses "
                                 "builds it)")
            files[str(source)] = path
        book = cls(files=files,
                   min_accuracy_m=float(config.get("min_accuracy_m", 30.0)),
                   max_spread_m=float(config.get("max_spread_m", 300.0)),
                   text_channels=frozenset(config.get("text_channels") or ()))
        if not (book.min_accuracy_m > 0 and book.max_spread_m >= 0):
            raise ValueError("addresses.yaml: min_accuracy_m must be > 0 and "
                             "max_spread_m >= 0")
        return book

    def load(self) -> AddressBook:
        """Every book read now (a worker's start: a bad file stops it there,
        not at its first call without a fix)."""
        for source in self.files:
            self._of(source)
        return self

    def _of(self, source: str) -> dict[str, Entry]:
        found = self.entries.get(source)
        if found is None:
            path = self.files.get(source)
            found = {}
            if path is not None:
                with open_book(path) as lines:
                    try:
                        found = read_book(lines, self.max_spread_m)
                    except ValueError as exc:
                        raise ValueError(f"{path}: {exc}") from exc
            self.entries[source] = found
        return found

    def find(self, source: str, key: str) -> Entry | None:
        """The entry of an address (its ``address_key``) in the book of
        ``source``, if it places it."""
        if not key:
            return None
        entry = self._of(source).get(key)
        if entry is None or entry[2] > self.max_spread_m:
            return None
        return entry

    def locate(self, report: Report) -> Report:
        """``report`` at its address's point, when it has no fix and the
        book places its address, or (a channel of ``text_channels``) the
        one street or corner its text names; otherwise ``report`` as it is."""
        if report.has_point:
            return report
        key = address_key(report.address) if report.address else ""
        entry = self.find(report.source, key)
        if entry is None and report.channel in self.text_channels:
            streets = street_names(report.text)
            if 0 < len(streets) <= CORNER_STREETS:
                key = " & ".join(sorted(streets))
                entry = self.find(report.source, key)
        if entry is None:
            return report
        lat, lon, spread, _ = entry
        return replace(report, lat=lat, lon=lon, location=LOCATION_KNOWN,
                       accuracy_m=float(round(max(self.min_accuracy_m, spread))),
                       flags=(*report.flags, GEOCODED),
                       details={**report.details, GEOCODED: key})
