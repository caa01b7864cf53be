"""Per-recipient rate limits with digests, and each channel's rendered form."""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.delivery import (
    SMS_MAX_CHARS,
    RateLimit,
    RecipientLog,
    delivery_id,
    offer,
    release,
    render,
)


def delivery(n: int, channel: str = "push", **extra: Any) -> dict[str, Any]:
    recipient = f"dispatcher/{channel}"
    return {"delivery_id": delivery_id(f"I-{n}/fire", 0, "alert", recipient),
            "recipient": recipient, "role": "dispatcher", "channel": channel,
            "alert_id": f"I-{n}/fire", "incident_id": f"I-{n}", "rule_id": "fire",
            "revision": 0, "action": "alert", "priority": 1, "kind": "fire",
            "area": "NORRISTOWN", "reasons": ["kind fire in rule fire"], "at_ms": 0,
            **extra}


def test_excess_is_held_in_order_and_folded_into_one_digest() -> None:
    limit = RateLimit(deliveries=2, per_s=60)
    log, sent_ids, held = RecipientLog(), [], 0
    for n in range(5):
        log, sent, was_held = offer(log, delivery(n), now_ms=n * 1_000, limit=limit)
        sent_ids += [d["delivery_id"] for d in sent]
        held += was_held

    assert len(sent_ids) == 2 and held == 3
    log, none_yet = release(log, now_ms=59_999, limit=limit)
    assert none_yet == []
    log, digests = release(log, now_ms=60_001, limit=limit)
    assert len(digests) == 1
    assert [d["incident_id"] for d in digests[0]["items"]] == ["I-2", "I-3", "I-4"]
    assert log.held == () and log.digests == 1


def test_nothing_is_lost_while_held_and_a_new_delivery_waits_behind() -> None:
    limit = RateLimit(deliveries=1, per_s=10)
    log = offer(RecipientLog(), delivery(1), 0, limit)[0]
    log, _, held = offer(log, delivery(2), 1_000, limit)
    # The window has room again, but delivery 2 still waits: 3 queues behind it.
    log, sent, held_again = offer(log, delivery(3), 11_000, limit)

    assert held and held_again and sent == []
    log, digests = release(log, 11_000, limit)
    assert [d["incident_id"] for d in digests[0]["items"]] == ["I-2", "I-3"]


def test_a_redelivered_delivery_is_ignored() -> None:
    limit = RateLimit(deliveries=5, per_s=60)
    log, sent, _ = offer(RecipientLog(), delivery(1), 0, limit)
    log, again, held = offer(log, delivery(1), 10, limit)

    assert len(sent) == 1 and again == [] and not held
    assert RecipientLog.from_dict(log.to_dict()) == log


def test_each_channel_renders_its_form() -> None:
    long_reasons = ["a reason that goes on and on " * 5]
    push = render(delivery(1, "push"))["rendered"]
    sms = render(delivery(1, "sms", reasons=long_reasons))["rendered"]
    email = render(delivery(1, "email"))["rendered"]
    hook = render(delivery(1, "webhook"))["rendered"]

    assert push["title"] == "ALERT: P1 fire, NORRISTOWN (I-1)"
    assert "rule fire" in push["body"]
    assert len(sms["text"]) == SMS_MAX_CHARS and sms["text"].startswith("ALERT")
    assert email["subject"] == "[intake] ALERT: P1 fire, NORRISTOWN (I-1)"
    assert "- kind fire in rule fire" in email["body"]
    assert orjson.loads(hook["json"])["alert_id"] == "I-1/fire"


def test_updates_escalations_and_digests_say_what_they_are() -> None:
    update = render(delivery(1, "sms", action="update", revision=2))["rendered"]
    escalation = render(delivery(1, "push", action="escalation"))["rendered"]
    digest = render({"delivery_id": "digest-1@dispatcher/push", "action": "digest",
                     "channel": "push", "items": [delivery(1), delivery(2)]})

    assert update["text"].startswith("UPDATE 2: P1 fire")
    assert escalation["title"].startswith("ESCALATED")
    assert digest["rendered"]["title"].startswith("DIGEST: 2 alerts")
    assert "I-2" in digest["rendered"]["body"]


def test_a_flood_keeps_a_recipients_state_bounded_and_its_digest_counts_all() -> None:
    # A replay at full speed holds thousands of deliveries for one desk: the
    # table value must stay small (a broker refuses messages over 1 MB), and
    # the digest must still account for every one of them.
    limit = RateLimit(deliveries=1, per_s=60)
    log = RecipientLog()
    for n in range(5_000):
        rule = "fire" if n % 2 else "violence"
        log, _, _ = offer(log, delivery(n, rule_id=rule), now_ms=n, limit=limit)
    assert len(orjson.dumps(log.to_dict())) < 64 * 1024
    assert log.held_count == 4_999
    assert RecipientLog.from_dict(log.to_dict()) == log
    log, digests = release(log, now_ms=120_000, limit=limit)
    digest = render(digests[0])
    assert digest["held"] == 4_999
    assert digest["held_by_rule"] == {"fire": 2_500, "violence": 2_499}
    assert len(digest["items"]) < digest["held"]
    assert digest["rendered"]["title"].startswith("DIGEST: 4999 alerts")
    assert "and 4949 more" in digest["rendered"]["body"]
    assert "per rule: fire 2500, violence 2499" in digest["rendered"]["body"]
    assert log.held == () and log.held_count == 0


def test_role_units_reaches_each_recommended_unit_or_else_the_units_desk() -> None:
    from pipeline.delivery import recipient_key, recipients_of
    from pipeline.schema import Alert

    rule_recipients = ({"role": "units", "channel": "sms"},
                       {"role": "supervisor", "channel": "email"})
    sent = Alert("I-9/fire", "I-9", "fire", 1, "fire", "A", rule_recipients, (), 0,
                 unit_ids=("ENG-01", "MED-03"))
    keys = [recipient_key(r) for r in recipients_of(sent)]
    assert keys == ["unit:ENG-01/sms", "unit:MED-03/sms", "supervisor/email"]
    # Each unit is its own recipient: its own rate limit and its own ids.
    ids = {delivery_id(sent.alert_id, 0, "alert", k) for k in keys}
    assert len(ids) == 3
    alone = Alert("I-9/fire", "I-9", "fire", 1, "fire", "A", rule_recipients, (), 0)
    assert [recipient_key(r) for r in recipients_of(alone)] == [
        "units/sms", "supervisor/email"]


def test_a_webhook_digest_says_how_many_it_holds_and_an_sms_stays_gsm() -> None:
    limit = RateLimit(deliveries=1, per_s=60)
    log = RecipientLog()
    for n in range(60):
        log, _, _ = offer(log, delivery(n, "webhook"), now_ms=n, limit=limit)
    log, digests = release(log, now_ms=120_000, limit=limit)
    payload = orjson.loads(render(digests[0])["rendered"]["json"])
    assert payload["held"] == 59 and payload["held_by_rule"] == {"fire": 59}
    assert len(payload["items"]) == 50

    long_reasons = {"reasons": ["a reason of some length"] * 20}
    text = render(delivery(1, "sms", **long_reasons))["rendered"]["text"]
    assert len(text) == SMS_MAX_CHARS and text.endswith("...")
    assert text.isascii()


def test_a_rate_limit_that_would_hold_everything_for_ever_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="deliveries >= 1"):
        RateLimit.from_config({"deliveries": 0, "per_s": 60})
    with pytest.raises(ValueError, match="per_s > 0"):
        RateLimit.from_config({"deliveries": 3, "per_s": 0})
    assert RateLimit.from_config(None) == RateLimit(10, 60.0)
