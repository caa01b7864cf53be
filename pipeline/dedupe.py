"""Reports of one incident become one incident.

Reports are partitioned by the grid cell of their point (``partition_key``); a
``CellState`` holds the open incidents of one cell. A report joins the open
incident that is near in space (``radius_m`` plus both fixes' uncertainty), near
in event time (``window_s``) and of a compatible kind, choosing the one with the
highest confidence; otherwise it opens a new incident.

Idempotent: a report already seen in the cell changes nothing (``repeat``), also
after its incident left the state: report ids are remembered for ``seen_ttl_s``
of event time, longer than incidents stay open. Two versions of one report (a
source that updates its records: ``Report.version_ms``): the newer one updates
the incident (``updated``), an older one or an exact copy is a ``repeat``.
Bounded: an incident with no report for ``stale_after_s`` of event time leaves the
cell state, a report id leaves after ``seen_ttl_s``, and a cell keeps at most
``max_open_per_cell`` incidents and ``max_seen_per_cell`` report ids.

A report with no usable point cannot be matched by place, and one whose time
is implausible (far future or past) cannot be matched by time, nor may it move
the cell's clock: either opens its own incident, whose id derives from the
report id (so a redelivery names the same incident) but differs from the id
the same report opens when it can be matched (so a copy without a place never
resets that incident).

>>> from pipeline.kinds import KindTable
>>> from pipeline.schema import Report
>>> kinds = KindTable.from_config({"kinds": {
...     "collision": {"match": ["ACCIDENT"], "priority": 2, "needs": "ems"},
...     "other": {"match": [], "priority": 4, "needs": "police"}}})
>>> matcher = IncidentMatcher(kinds, MatchParams())
>>> def report(rid, lat, minute):
...     return Report(report_id=rid, source="t", channel="911",
...                   event_ms=minute * 60_000, received_ms=0, kind="collision",
...                   type_text="ACCIDENT", lat=lat, lon=-75.0, location="known")
>>> cell = CellState()
>>> matcher.apply(cell, report("a", 40.0, 0)).change
'new'
>>> joined = matcher.apply(cell, report("b", 40.0005, 3))
>>> joined.change, joined.report_count, joined.merge["reasons"][0]
('merged', 2, 'distance 56 m <= 150 m')
>>> matcher.apply(cell, report("b", 40.0005, 3)).change
'repeat'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pipeline.geo import cell_key, distance_m
from pipeline.kinds import KindTable
from pipeline.localtime import IMPLAUSIBLE_TIME
from pipeline.schema import (
    MERGED,
    NEW,
    REPEAT,
    UPDATED,
    IncidentChange,
    Merge,
    Report,
)

MAX_REPORT_IDS = 100
MAX_REPORTERS = 20


@dataclass(frozen=True, slots=True)
class MatchParams:
    cell_deg: float = 0.05
    radius_m: float = 150.0
    window_s: float = 900.0
    stale_after_s: float = 7200.0
    max_open_per_cell: int = 500
    max_texts: int = 5
    seen_ttl_s: float = 86_400.0
    max_seen_per_cell: int = 20_000
    #: A report from a reporter already in an open incident joins it within
    #: this long (event time) and the usual distance, whatever its kind says.
    follow_up_s: float = 1800.0

    def __post_init__(self) -> None:
        for name in ("cell_deg", "window_s", "stale_after_s", "seen_ttl_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.radius_m < 0 or self.max_open_per_cell < 1 or self.max_texts < 0:
            raise ValueError("radius_m, max_open_per_cell and max_texts are too small")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MatchParams:
        unknown = set(config) - set(cls.__slots__)
        if unknown:
            raise ValueError(f"unknown matching settings: {sorted(unknown)}")
        return cls(**config)


def incident_id_for(report_id: str) -> str:
    """The id of the incident a report opens: stable across redelivery."""
    return "I-" + hashlib.sha1(report_id.encode()).hexdigest()[:16]


def partition_key(report: Report, cell_deg: float) -> str:
    """Where a report is matched: its grid cell, or alone when it cannot be."""
    if _matchable(report) and report.lat is not None and report.lon is not None:
        return cell_key(report.lat, report.lon, cell_deg)
    return "u:" + report.report_id


class CellState:
    """The open incidents of one grid cell and the reports they hold.

    Plain dicts and lists inside, so a state round-trips through JSON as is.
    """

    def __init__(self, data: dict[str, Any] | None = None):
        data = data or {}
        self.open: dict[str, dict[str, Any]] = data.get("open", {})
        # report id -> [incident id, event ms], oldest first (insertion order).
        self.seen: dict[str, list[Any]] = data.get("seen", {})
        self.clock_ms: int = int(data.get("clock_ms", 0))

    def to_dict(self) -> dict[str, Any]:
        return {"open": self.open, "seen": self.seen, "clock_ms": self.clock_ms}

    def forget_seen(self, horizon_ms: float, keep: int) -> None:
        """Forget ids seen before ``horizon_ms``, and the oldest beyond ``keep``."""
        excess = len(self.seen) - keep
        for report_id, seen in list(self.seen.items()):
            if seen[1] >= horizon_ms and excess <= 0:
                break
            del self.seen[report_id]
            excess -= 1


class IncidentMatcher:
    """Decides, report by report, which incident each one belongs to."""

    def __init__(self, kinds: KindTable, params: MatchParams):
        self.kinds = kinds
        self.params = params

    def apply(self, cell: CellState, report: Report) -> IncidentChange:
        """Add ``report`` to ``cell`` (in place) and say what changed."""
        if not _matchable(report):
            return self._change(self._open(cell, report), report, NEW, None)

        known = cell.seen.get(report.report_id)
        if known is not None:
            incident = cell.open.get(known[0])
            if incident is not None and report.version_ms > _version(known):
                self._update(cell, incident, report)
                return self._change(incident, report, UPDATED, None)
            incident = incident or _closed(known[0], report)
            return self._change(incident, report, REPEAT, None)

        self._expire(cell, report.event_ms)
        best = self._best_match(cell, report)
        if best is None:
            incident = self._open(cell, report)
            return self._change(incident, report, NEW, None)

        incident, merge = best
        self._join(cell, incident, report)
        return self._change(incident, report, MERGED, merge)

    def _expire(self, cell: CellState, event_ms: int) -> None:
        cell.clock_ms = max(cell.clock_ms, event_ms)
        horizon = cell.clock_ms - self.params.stale_after_s * 1000
        stale = [i for i, inc in cell.open.items() if inc["last_ms"] < horizon]
        for incident_id in stale:
            del cell.open[incident_id]
        cell.forget_seen(cell.clock_ms - self.params.seen_ttl_s * 1000,
                         self.params.max_seen_per_cell - 1)

    def _best_match(self, cell: CellState, report: Report
                    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        params = self.params
        best: tuple[float, dict[str, Any], dict[str, Any]] | None = None
        for incident in cell.open.values():
            if incident["lat"] is None:
                continue
            # A follow-up from a reporter of this incident: their own words
            # ("still here, he is bleeding") rarely name the kind again.
            same_reporter = bool(report.reporter) and report.reporter in \
                incident.get("reporters", ())
            kinds = incident["kinds"]
            if not same_reporter and not any(
                    self.kinds.compatible(report.kind, k) for k in kinds):
                continue
            gap_s = _gap_s(incident, report.event_ms)
            if gap_s > (params.follow_up_s if same_reporter else params.window_s):
                continue
            limit_m = params.radius_m + (report.accuracy_m or 0.0) + incident["acc_m"]
            assert report.lat is not None and report.lon is not None
            dist_m = distance_m(report.lat, report.lon,
                                incident["lat"], incident["lon"])
            if dist_m > limit_m:
                continue

            same_kind = report.kind in incident["kinds"]
            window_s = params.follow_up_s if same_reporter else params.window_s
            confidence = round(
                0.5 * (1 - dist_m / limit_m)
                + 0.3 * (1 - gap_s / window_s)
                + 0.2 * (1.0 if same_kind or same_reporter else 0.5),
                3,
            )
            if best is None or confidence > best[0]:
                if same_reporter:
                    kind_reason = "same reporter (a follow-up)"
                elif same_kind:
                    kind_reason = f"same kind {report.kind}"
                else:
                    kind_reason = (f"kind {report.kind} compatible with "
                                   f"{incident['kind']}")
                merge = Merge(
                    reasons=(
                        f"distance {dist_m:.0f} m <= {limit_m:.0f} m",
                        f"{gap_s / 60:.1f} min apart <= {window_s / 60:.0f} min",
                        kind_reason,
                    ),
                    confidence=confidence,
                    distance_m=round(dist_m, 1),
                    gap_s=round(gap_s, 1),
                )
                best = (confidence, incident, merge.to_dict())
        return None if best is None else (best[1], best[2])

    def _open(self, cell: CellState, report: Report) -> dict[str, Any]:
        # A report that cannot be matched opens an incident of its own, named
        # apart from the one the same report id opens with a point and a
        # plausible time: a copy without a place must not reset that one.
        matchable = _matchable(report)
        name = report.report_id if matchable else f"alone:{report.report_id}"
        incident: dict[str, Any] = {
            "id": incident_id_for(name),
            "kind": report.kind,
            "kinds": [report.kind],
            "lat": report.lat if report.has_point else None,
            "lon": report.lon if report.has_point else None,
            "acc_m": report.accuracy_m or 0.0,
            "area": report.area,
            "first_ms": report.event_ms,
            "last_ms": report.event_ms,
            "count": 1,
            "report_ids": [report.report_id],
            "texts": [_text_of(report)],
            "reporters": [report.reporter] if report.reporter else [],
        }
        if matchable:
            # Room for the new incident: the longest-quiet ones leave first.
            overflow = len(cell.open) - self.params.max_open_per_cell + 1
            if overflow > 0:
                oldest = sorted(cell.open, key=lambda i: cell.open[i]["last_ms"])
                for incident_id in oldest[:overflow]:
                    del cell.open[incident_id]
            cell.open[incident["id"]] = incident
            cell.seen[report.report_id] = _seen(incident, report)
        return incident

    def _join(self, cell: CellState, incident: dict[str, Any], report: Report) -> None:
        if report.kind not in incident["kinds"]:
            incident["kinds"].append(report.kind)
        incident["first_ms"] = min(incident["first_ms"], report.event_ms)
        incident["last_ms"] = max(incident["last_ms"], report.event_ms)
        incident["count"] += 1
        incident["report_ids"] = (incident["report_ids"] + [report.report_id])[
            -MAX_REPORT_IDS:
        ]
        incident["texts"] = (incident["texts"] + [_text_of(report)])[
            -self.params.max_texts:
        ]
        reporters = incident.setdefault("reporters", [])
        if report.reporter and report.reporter not in reporters:
            reporters[:] = [*reporters, report.reporter][-MAX_REPORTERS:]
        cell.seen[report.report_id] = _seen(incident, report)

    def _update(self, cell: CellState, incident: dict[str, Any],
                report: Report) -> None:
        """A newer version of a report the incident holds: its kind and text
        join the incident's, its times widen the span; the count stays."""
        if report.kind not in incident["kinds"]:
            incident["kinds"].append(report.kind)
        incident["first_ms"] = min(incident["first_ms"], report.event_ms)
        incident["last_ms"] = max(incident["last_ms"], report.event_ms)
        text = _text_of(report)
        if text not in incident["texts"]:
            incident["texts"] = (incident["texts"] + [text])[-self.params.max_texts:]
        cell.seen[report.report_id] = _seen(incident, report)

    @staticmethod
    def _change(incident: dict[str, Any], report: Report, change: str,
                merge: dict[str, Any] | None) -> IncidentChange:
        return IncidentChange(
            incident_id=incident["id"],
            change=change,
            report_id=report.report_id,
            raw_ref=report.raw_ref,
            received_ms=report.received_ms,
            kind=incident["kind"],
            kinds=tuple(incident["kinds"]),
            lat=incident["lat"],
            lon=incident["lon"],
            area=incident["area"],
            first_ms=incident["first_ms"],
            last_ms=incident["last_ms"],
            report_count=incident["count"],
            report_ids=tuple(incident["report_ids"]),
            texts=tuple(incident["texts"]),
            merge=merge,
            channel=report.channel,
            reporter=report.reporter,
            address=report.address,
            report_event_ms=report.event_ms,
        )


def _seen(incident: dict[str, Any], report: Report) -> list[Any]:
    """What a cell remembers of a report: its incident, event time, version."""
    return [incident["id"], report.event_ms, report.version_ms]


def _version(seen: list[Any]) -> int:
    # States written before versions were kept hold two items.
    return int(seen[2]) if len(seen) > 2 else 0


def _matchable(report: Report) -> bool:
    """A known point and a plausible time: what matching needs."""
    return report.has_point and not IMPLAUSIBLE_TIME.intersection(report.flags)


def _closed(incident_id: str, report: Report) -> dict[str, Any]:
    """What a repeat names when its incident has left the state: only its id.

    The change it produces says ``repeat``; consumers keep the incident's state
    from earlier changes and take nothing else from it.
    """
    return {
        "id": incident_id, "kind": report.kind, "kinds": [report.kind],
        "lat": report.lat, "lon": report.lon, "area": report.area,
        "first_ms": report.event_ms, "last_ms": report.event_ms, "count": 1,
        "report_ids": [report.report_id], "texts": [],
    }


def _gap_s(incident: dict[str, Any], event_ms: int) -> float:
    """Seconds between an event and an incident's span of event times."""
    if incident["first_ms"] <= event_ms <= incident["last_ms"]:
        return 0.0
    first, last = incident["first_ms"], incident["last_ms"]
    edge = first if event_ms < first else last
    return abs(event_ms - edge) / 1000


def _text_of(report: Report) -> str:
    return f"{report.type_text} {report.text}".strip()[:500]
