"""Surge alerts: a window flagged as a surge, through the alert rules.

A rule whose ``kinds`` names ``surge`` pages its recipients for an anomaly
(``anomalies.detected``) of an area it lists (the county-wide key's area is
``ALL``), within its ``hours`` (local time of the window's end); rules for
``"*"`` kinds are for incidents and never page for a surge, and a rule with
districts never matches one (a count has no point). The alert says which
window (local start and end), the count observed and the range expected.

One alert per key and window: a flagged window that overlaps the last one
alerted for its key (the hopping windows of one burst, or the same window
again after a redelivery) is suppressed; the next window after it pages
again if the surge goes on. The recipients' rate limits and digests apply
as to any alert (``pipeline/delivery.py``).

>>> from pipeline.alert import AlertRules
>>> rules = AlertRules.from_config({"zone": "America/New_York", "rules": [
...     {"id": "surge-desk", "kinds": ["surge"], "max_priority": 2,
...      "recipients": [{"role": "supervisor", "channel": "push"}]}]})
>>> anomaly = {"key": "ABINGTON|Traffic", "start_ms": 1453561200000,
...            "end_ms": 1453564800000, "count": 19, "expected_low": 0.4,
...            "expected_high": 7.2, "z": 5.1, "seen": 400}
>>> alerts, suppressed, until_ms = surge_alerts(anomaly, rules, None, at_ms=0)
>>> alerts[0].alert_id
'surge:ABINGTON|Traffic@1453561200000/surge-desk'
>>> alerts[0].reasons[0]
'19 Traffic reports in ABINGTON, 2016-01-23 10:00-11:00 EST'
>>> later = {**anomaly, "start_ms": 1453562100000, "end_ms": 1453565700000}
>>> surge_alerts(later, rules, until_ms, at_ms=0)[:2]
([], ('surge-desk',))
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.alert import AlertRules, Rule, alert_id_for, local_minute
from pipeline.localtime import zone
from pipeline.schema import Alert

SURGE_KIND = "surge"


def surge_rules(rules: AlertRules, area: str, end_ms: int) -> list[Rule]:
    """The rules that page for a surge in ``area`` ending at ``end_ms``."""
    minute = local_minute(end_ms, rules.zone_name)
    return [r for r in rules.rules if SURGE_KIND in r.kinds
            and r.matches(SURGE_KIND, r.max_priority, area, minute_of_day=minute)]


def window_text(start_ms: int, end_ms: int, zone_name: str) -> str:
    """A window in local time: ``2016-01-23 10:00-11:00 EST``."""
    start = datetime.fromtimestamp(start_ms / 1000, tz=zone(zone_name))
    end = datetime.fromtimestamp(end_ms / 1000, tz=zone(zone_name))
    ends = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M}-{ends} {end:%Z}"


def surge_alerts(anomaly: dict[str, Any], rules: AlertRules, until_ms: int | None,
                 at_ms: int) -> tuple[list[Alert], tuple[str, ...], int | None]:
    """The alerts an anomaly sends, the rules it is a repeat for, and the new
    end of the key's last alerted window (``until_ms``: the one before)."""
    key = str(anomaly["key"])
    area, _, discipline = key.rpartition("|")
    start_ms, end_ms = int(anomaly["start_ms"]), int(anomaly["end_ms"])
    matched = surge_rules(rules, area, end_ms)
    if not matched:
        return [], (), until_ms
    if until_ms is not None and start_ms < until_ms:
        return [], tuple(r.rule_id for r in matched), until_ms

    window = window_text(start_ms, end_ms, rules.zone_name)
    low, high = float(anomaly["expected_low"]), float(anomaly["expected_high"])
    surge = {"key": key, "discipline": discipline, "window": window,
             "start_ms": start_ms, "end_ms": end_ms, "count": int(anomaly["count"]),
             "expected_low": low, "expected_high": high,
             "z": anomaly.get("z"), "seen": anomaly.get("seen"),
             "reason": str(anomaly.get("reason") or "")}
    reasons = (
        f"{surge['count']} {discipline} reports in {area}, {window}",
        f"expected {low:.1f}-{high:.1f} (z {anomaly.get('z')}, after "
        f"{anomaly.get('seen')} windows of history)",
    ) + ((f"why: {anomaly['reason']}",) if anomaly.get("reason") else ())
    incident_id = f"surge:{key}@{start_ms}"
    alerts = [
        Alert(alert_id=alert_id_for(incident_id, rule.rule_id),
              incident_id=incident_id, rule_id=rule.rule_id,
              priority=rule.max_priority, kind=SURGE_KIND, area=area,
              recipients=rule.recipients, reasons=reasons, at_ms=at_ms,
              surge=surge)
        for rule in matched
    ]
    return alerts, (), end_ms
