"""Every recorded data file as the raw messages its channel would deliver.

The 911 / CAD logs become ``cad`` envelopes of their rows (columns as
published); the labelled posts become ``social`` posts. The posts carry no
author (the sets masked them), so each post gets a handle of its own: a
stand-in that threads nothing together that the data did not.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from agents.replay import open_text
from agents.settings import ROOT

SHARED_DATA = ROOT.parent / "shared" / "data"
#: Posts without a time of their own (disaster_tweets) are placed here, a
#: minute apart: the set was collected in 2015.
UNDATED_POSTS_FROM_S = 1_438_387_200  # 2015-08-01T00:00:00Z


@dataclass(frozen=True)
class Feed:
    """One recorded file and how its rows become raw messages."""

    name: str
    topic: str
    path: Path
    message: Callable[[int, dict[str, str]], dict[str, Any]]

    def messages(self, limit: int | None = None) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of each row's raw message, in the file's order."""
        with open_text(self.path) as handle:
            for index, row in enumerate(csv.DictReader(handle)):
                if limit is not None and index >= limit:
                    return
                yield (f"{self.name}|{index}".encode(),
                       orjson.dumps(self.message(index, row)))


def cad(source: str) -> Callable[[int, dict[str, str]], dict[str, Any]]:
    def message(_: int, row: dict[str, str]) -> dict[str, Any]:
        return {"source": source, "row": row}

    return message


def post(prefix: str, time_column: str | None
         ) -> Callable[[int, dict[str, str]], dict[str, Any]]:
    def message(index: int, row: dict[str, str]) -> dict[str, Any]:
        if time_column:
            time = row[time_column]
        else:
            moment = UNDATED_POSTS_FROM_S + 60 * index
            time = datetime.fromtimestamp(moment, tz=UTC).isoformat()
        return {
            "post_id": f"{prefix}-{row.get('id') or index}",
            "handle": f"{prefix}-author-{index}",
            "text": row["text"],
            "time": time,
            "network": "twitter",
        }

    return message


def shared_feeds(data: Path = SHARED_DATA) -> list[Feed]:
    """Every incident log and labelled post set in ``../shared/data``."""
    feeds = [
        Feed("montgomery_pa", "reports.raw.cad",
             data / "montgomery_911" / "calls_2015-12-10_to_2016-05-31.csv",
             cad("montgomery_pa")),
        Feed("milwaukee_wi", "reports.raw.cad",
             data / "milwaukee_police_calls" / "mpd_calls_2018-05-01_to_2018-05-14.csv",
             cad("milwaukee_wi")),
        Feed("sf_fire", "reports.raw.cad",
             data / "sf_fire_calls"
             / "sffd_unit_dispatches_2016-12-31_to_2017-01-04.csv",
             cad("sf_fire")),
        Feed("sf_police", "reports.raw.cad",
             data / "sf_police_dispatched_calls_sample"
             / "sfpd_dispatched_calls_random_sample.csv",
             cad("sf_police")),
        Feed("seattle_wa", "reports.raw.cad",
             data / "seattle_pd_911_incident_response"
             / "spd_911_incident_response_2016-03-25.csv",
             cad("seattle_wa")),
        Feed("disaster_tweets", "reports.raw.social",
             data / "disaster_tweets" / "train.csv", post("dt", None)),
        Feed("crisislex_t6", "reports.raw.social",
             data / "crisislex" / "crisislex_t6_ontopic.csv",
             post("t6", "created_at_utc")),
        Feed("crisislex_t26", "reports.raw.social",
             data / "crisislex" / "crisislex_t26_labeled.csv",
             post("t26", "created_at_utc")),
    ]
    missing = [str(f.path) for f in feeds if not f.path.exists()]
    if missing:
        raise FileNotFoundError(f"shared data files missing: {', '.join(missing)}")
    return feeds
