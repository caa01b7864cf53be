"""A reporter's thread: follow-ups without a place take the reporter's last fix.

A caller who texts again a few minutes later ("still here, he is bleeding")
rarely sends a location; a tipster's second tip may have none. Keyed by the
reporter's keyed hash (``Report.reporter``), the thread remembers the last
point that reporter sent. A later report of the same reporter without a point,
within ``follow_up_s`` of event time, takes that point (location ``known``,
flagged ``location_from_thread``), so dedupe can match it by place, time and
reporter like any other report. A report with a point of its own keeps it and
becomes the thread's last fix. The thread never joins two incidents: it only
lends a place; dedupe decides.

>>> from pipeline.schema import Report
>>> def report(rid, minute, lat=None):
...     return Report(report_id=rid, source="t", channel="sms",
...                   event_ms=minute * 60_000, received_ms=0, kind="other",
...                   type_text="", reporter="rp:1", lat=lat,
...                   lon=-75.0 if lat else None,
...                   location="known" if lat else "unknown")
>>> state = {}
>>> follow_up(state, report("a", 0, 40.0), ThreadParams()).flags
()
>>> lent = follow_up(state, report("b", 5), ThreadParams())
>>> lent.lat, lent.location, lent.flags
(40.0, 'known', ('location_from_thread',))
>>> follow_up(state, report("c", 90), ThreadParams()).location
'unknown'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pipeline.schema import LOCATION_KNOWN, Report


@dataclass(frozen=True, slots=True)
class ThreadParams:
    #: A report this long (event time) after the reporter's last fix borrows it.
    follow_up_s: float = 1800.0
    #: Uncertainty added to a borrowed fix: the reporter may have moved.
    drift_m: float = 50.0


def follow_up(state: dict[str, Any], report: Report, params: ThreadParams
              ) -> Report:
    """Update a reporter's thread ``state`` (in place) with ``report``; return
    the report, with the thread's last fix when it has no point of its own."""
    if not report.reporter:
        return report
    fix = state.get("fix")
    if report.has_point:
        if fix is None or report.event_ms >= fix[3]:
            state["fix"] = [report.lat, report.lon, report.accuracy_m or 0.0,
                            report.event_ms]
        return report
    if fix is None or abs(report.event_ms - fix[3]) > params.follow_up_s * 1000:
        return report
    lat, lon, accuracy, _ = fix
    return replace(report, lat=lat, lon=lon, location=LOCATION_KNOWN,
                   accuracy_m=accuracy + params.drift_m,
                   flags=(*report.flags, "location_from_thread"))
