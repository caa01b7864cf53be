"""surge_alert: a flagged window through the alert rules, once per key and window."""

from __future__ import annotations

from typing import Any

from agents.resources import Models
from pipeline.alert import AlertRules
from pipeline.delivery import render
from pipeline.surge_alert import SURGE_KIND, surge_alerts, window_text

HOUR_MS = 3_600_000
#: 2016-01-23 10:00 EST, the blizzard's day.
START_MS = 1_453_561_200_000


def anomaly(start_ms: int = START_MS, window_ms: int = HOUR_MS,
            key: str = "ABINGTON|Traffic", count: int = 19) -> dict[str, Any]:
    return {"key": key, "start_ms": start_ms, "end_ms": start_ms + window_ms,
            "count": count, "expected_low": 0.4, "expected_high": 7.2, "z": 5.1,
            "seen": 400, "status": "surge"}


def test_the_shipped_surge_rule_pages_the_supervisor_with_window_range_and_count(
        models: Models) -> None:
    alerts, suppressed, until_ms = surge_alerts(anomaly(), models.alerts, None,
                                                at_ms=7)

    assert suppressed == ()
    assert [a.rule_id for a in alerts] == ["surge"]
    alert = alerts[0]
    assert alert.recipients == ({"role": "watch_supervisor", "channel": "push"},)
    assert (alert.kind, alert.area, alert.at_ms) == (SURGE_KIND, "ABINGTON", 7)
    assert alert.reasons[0] == ("19 Traffic reports in ABINGTON, "
                                "2016-01-23 10:00-11:00 EST")
    assert alert.reasons[1].startswith("expected 0.4-7.2")
    assert alert.surge is not None
    assert (alert.surge["count"], alert.surge["start_ms"], alert.surge["end_ms"]) \
        == (19, START_MS, START_MS + HOUR_MS)
    assert until_ms == START_MS + HOUR_MS


def test_overlapping_windows_of_one_key_page_once(models: Models) -> None:
    _, _, until_ms = surge_alerts(anomaly(), models.alerts, None, at_ms=0)
    quarter = HOUR_MS // 4

    for later in (quarter, 2 * quarter, 3 * quarter, 0):  # hops, then a redelivery
        alerts, suppressed, after = surge_alerts(anomaly(START_MS + later),
                                                 models.alerts, until_ms, at_ms=0)
        assert (alerts, suppressed, after) == ([], ("surge",), until_ms)

    alerts, _, after = surge_alerts(anomaly(START_MS + HOUR_MS), models.alerts,
                                    until_ms, at_ms=0)  # the surge goes on
    assert len(alerts) == 1 and after == START_MS + 2 * HOUR_MS
    other_key = surge_alerts(anomaly(key="ALL|Traffic"), models.alerts, None, 0)
    assert len(other_key[0]) == 1


def test_incident_rules_never_page_for_a_surge_nor_surge_rules_for_incidents(
        models: Models) -> None:
    fired, _ = models.alerts.evaluate("I-1", "collision", 1, "ABINGTON", set())

    assert "surge" not in {f.rule_id for f in fired}
    assert "life-threat" in {f.rule_id for f in fired}  # a "*" rule
    rules = AlertRules.from_config({"rules": [
        {"id": "everything", "kinds": ["*"], "max_priority": 5,
         "recipients": [{"role": "dispatcher", "channel": "push"}]}]})
    assert surge_alerts(anomaly(), rules, None, at_ms=0) == ([], (), None)


def test_a_surge_rule_keeps_to_its_areas_and_hours() -> None:
    rules = AlertRules.from_config({"zone": "America/New_York", "rules": [
        {"id": "county-nights", "kinds": ["surge"], "max_priority": 2,
         "areas": ["ALL"], "hours": {"from": "22:00", "to": "06:00"},
         "recipients": [{"role": "supervisor", "channel": "sms"}]}]})
    night_ms = START_MS + 13 * HOUR_MS  # 23:00-24:00 EST

    assert surge_alerts(anomaly(night_ms), rules, None, 0)[0] == []  # not ALL
    assert surge_alerts(anomaly(key="ALL|EMS"), rules, None, 0)[0] == []  # daytime
    night = surge_alerts(anomaly(night_ms, key="ALL|EMS"), rules, None, 0)[0]
    assert [a.rule_id for a in night] == ["county-nights"]


def test_the_delivered_forms_name_the_surge() -> None:
    alert = surge_alerts(anomaly(), AlertRules.from_config({"rules": [
        {"id": "s", "kinds": ["surge"], "max_priority": 2,
         "recipients": [{"role": "supervisor", "channel": "push"}]}]}),
        None, 0)[0][0]
    delivery = {"delivery_id": "d", "recipient": "supervisor/push",
                "role": "supervisor", "channel": "push", "action": "alert",
                **{k: v for k, v in alert.to_dict().items() if k != "recipients"}}

    push = render(delivery)["rendered"]
    sms = render({**delivery, "channel": "sms"})["rendered"]

    assert push["title"].startswith("SURGE: 19 Traffic reports, ABINGTON, 2016-01-23")
    assert "expected 0.4-7.2" in push["title"]
    assert sms["text"].startswith("SURGE: 19 Traffic reports") and len(sms["text"]) \
        <= 160


def test_a_window_across_midnight_names_both_days() -> None:
    start = START_MS + 14 * HOUR_MS - HOUR_MS // 2  # 23:30 EST
    assert window_text(start, start + HOUR_MS, "America/New_York") == \
        "2016-01-23 23:30-2016-01-24 00:30 EST"


def test_the_detectors_reason_is_in_the_alert(models: Models) -> None:
    shape = {**anomaly(count=5), "reason": "a shape unlike any of the last 2000"}

    alerts, _, _ = surge_alerts(shape, models.alerts, None, at_ms=7)
    plain, _, _ = surge_alerts(anomaly(), models.alerts, None, at_ms=7)

    assert alerts[0].reasons[-1] == "why: a shape unlike any of the last 2000"
    assert not any(r.startswith("why:") for r in plain[0].reasons)


def test_a_surge_held_back_into_a_digest_still_says_why(models: Models) -> None:
    from pipeline.delivery import RateLimit, RecipientLog, delivery_id, offer, release

    flagged = {**anomaly(), "reason": "5.1 sd from the mean (above)"}
    alerts, _, _ = surge_alerts(flagged, models.alerts, None, at_ms=0)
    assert alerts[0].surge is not None
    assert alerts[0].surge["reason"] == "5.1 sd from the mean (above)"

    recipient = "watch_supervisor/push"
    limit = RateLimit(deliveries=1, per_s=60)
    log = RecipientLog()
    for n in range(2):  # the second is held by the rate limit
        held = {"delivery_id": delivery_id(f"a{n}", 0, "alert", recipient),
                "recipient": recipient,
                "role": "watch_supervisor", "channel": "push", "action": "alert",
                "alert_id": f"a{n}", "incident_id": alerts[0].incident_id,
                "rule_id": "surge", "area": "ABINGTON", "at_ms": 0,
                "surge": alerts[0].surge, "reasons": list(alerts[0].reasons)}
        log, _, _ = offer(log, held, now_ms=n, limit=limit)
    log, digests = release(log, now_ms=61_000, limit=limit)

    body = render(digests[0])["rendered"]["body"]
    assert "SURGE: 19 Traffic reports, ABINGTON" in body
    assert "why: 5.1 sd from the mean (above)" in body
