"""Build a source's address book (``pipeline/addresses.py``) from a recorded CAD log.

Every row of a CAD log is an address its geocoder placed: the points it gave
each address are that address's entry (their mean, how far apart they lie,
how many). Points outside the source's service area are kept here and left
out when the book is read (``read_book``), as an address too widely spread.
A deployment would export the same from its GIS; this derives it from the
log so the project ships a book for its recorded source.

``entries_of`` can leave out the rows of a span of time: the merge evaluation
geocodes a generated stream with a book built without the log rows the
stream's incidents come from (``benchmarks/merge_eval.py``), so it never
places a call by the very row it was drawn from.

    python -m benchmarks.addresses [--out models/addresses/montgomery_pa.csv.gz]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from agents.replay import open_text
from agents.settings import ROOT
from benchmarks.workload import montgomery_log, say
from pipeline.addresses import Entry, address_key, summarize, write_book
from pipeline.localtime import local_to_utc_ms

#: Source name -> (log path, address column, lat column, lon column, time
#: column, time zone).
LOGS = {"montgomery_pa": (montgomery_log, "addr", "lat", "lng", "timeStamp",
                          "America/New_York")}


def placed_rows(source: str, column: str, skip_ms: tuple[int, int] | None = None,
                path: Path | None = None) -> Iterator[tuple[str, float, float]]:
    """(``column``'s text, lat, lon) of each row of ``source``'s log (or
    ``path``) with a point, without the rows whose time falls in ``skip_ms``
    (first, last; UTC ms); a log without the columns raises ``ValueError``."""
    log, _, lat_col, lon_col, time_col, zone_name = LOGS[source]
    path = path or log()
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        wanted = {column, lat_col, lon_col} | ({time_col} if skip_ms else set())
        missing = wanted - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: a {source} log needs the columns "
                             f"{', '.join(sorted(wanted))}; missing "
                             f"{', '.join(sorted(missing))}")
        for row in reader:
            try:
                lat, lon = float(row[lat_col]), float(row[lon_col])
            except (TypeError, ValueError):
                continue
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                continue
            if skip_ms is not None:
                try:
                    at_ms = local_to_utc_ms(row[time_col], zone_name)[0]
                except ValueError:
                    continue
                if skip_ms[0] <= at_ms <= skip_ms[1]:
                    continue
            yield (row.get(column) or "").strip(), lat, lon


def entries_of(source: str, skip_ms: tuple[int, int] | None = None,
               path: Path | None = None) -> dict[str, Entry]:
    """The address book of ``source`` from its log (or ``path``), without the
    rows whose time falls in ``skip_ms`` (first, last; UTC ms)."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for address, lat, lon in placed_rows(source, LOGS[source][1], skip_ms, path):
        key = address_key(address)
        if key:
            points[key].append((lat, lon))
    return {key: summarize(found) for key, found in points.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default="montgomery_pa", choices=sorted(LOGS))
    parser.add_argument("--log", type=Path, default=None,
                        help="the CAD log to read (default: the recorded one)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or ROOT / "models" / "addresses" / f"{args.source}.csv.gz"
    try:
        entries = entries_of(args.source, path=args.log)
    except (OSError, ValueError, csv.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not entries:
        print(f"error: {args.log or 'the log'} places no address: no book written",
              file=sys.stderr)
        return 2
    say(f"addresses: {args.source}: {len(entries)} addresses")
    out.parent.mkdir(parents=True, exist_ok=True)
    # No name and mtime 0 in the gzip header: the same log gives the same bytes.
    with open(out, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb",
                                               mtime=0) as handle:
        handle.write("".join(write_book(entries)).encode("utf-8"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
