"""Deliveries to recipients: one per alert action and recipient, rendered for
its channel, at most ``RateLimit.deliveries`` per recipient per ``per_s``.

A recipient is a role on a channel (``dispatcher/push``). What a recipient
cannot take now is held, never dropped, and sent later as one digest. A
digest lists the first ``MAX_DIGEST_ITEMS`` held deliveries and counts every
one (per rule too): a flood cannot grow a recipient's state without bound,
and each alert it counts is whole on ``alerts.outbound``.

>>> limit = RateLimit(deliveries=1, per_s=60)
>>> log = RecipientLog()
>>> desk = {"recipient": "dispatcher/push", "role": "dispatcher", "channel": "push"}
>>> first = {"delivery_id": "I-1/fire#0:alert@dispatcher/push", **desk}
>>> second = {"delivery_id": "I-2/fire#0:alert@dispatcher/push", **desk}
>>> log, now, held = offer(log, first, now_ms=0, limit=limit)
>>> len(now), held
(1, False)
>>> log, now, held = offer(log, second, now_ms=1_000, limit=limit)
>>> len(now), held, len(log.held)
(0, True, 1)
>>> offer(log, first, now_ms=2_000, limit=limit)[1:]  # a redelivery
([], False)
>>> log, digest = release(log, now_ms=60_000, limit=limit)
>>> [d["delivery_id"] for d in digest[0]["items"]], log.held
(['I-2/fire#0:alert@dispatcher/push'], ())
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

ALERT, UPDATE, ESCALATION, DIGEST = "alert", "update", "escalation", "digest"
SMS_MAX_CHARS = 160
#: The recipient role that means the units recommended for the incident.
UNITS = "units"
#: Delivery ids a recipient remembers, to recognise a redelivered one.
REMEMBERED_IDS = 512
#: Held deliveries a digest lists; the rest it counts.
MAX_DIGEST_ITEMS = 50
#: What a digest keeps of each delivery it lists.
ITEM_FIELDS = ("delivery_id", "action", "alert_id", "incident_id", "rule_id",
               "revision", "priority", "kind", "area", "at_ms", "surge")


def recipient_key(recipient: dict[str, str]) -> str:
    """The key of a recipient: its role on its channel."""
    return f"{recipient['role']}/{recipient['channel']}"


def delivery_id(alert_id: str, revision: int, action: str, recipient: str) -> str:
    """One id per alert, revision, action and recipient: a redelivery has it too."""
    return f"{alert_id}#{revision}:{action}@{recipient}"


def recipients_of(alert: Any) -> list[dict[str, str]]:
    """The recipients of an ``Alert``: its rule's, with role ``units`` standing
    for each unit recommended for the incident (``unit:<id>``), or for the
    units desk while none is.

    >>> from pipeline.schema import Alert
    >>> alert = Alert("I-1/fire", "I-1", "fire", 1, "fire", "A",
    ...               ({"role": "units", "channel": "push"},
    ...                {"role": "dispatcher", "channel": "push"}), (), 0,
    ...               unit_ids=("ENG-01", "LAD-02"))
    >>> [recipient_key(r) for r in recipients_of(alert)]
    ['unit:ENG-01/push', 'unit:LAD-02/push', 'dispatcher/push']
    """
    found: list[dict[str, str]] = []
    for recipient in alert.recipients:
        if recipient["role"] == UNITS and alert.unit_ids:
            found.extend({**recipient, "role": f"unit:{unit_id}"}
                         for unit_id in alert.unit_ids)
        else:
            found.append(recipient)
    return found


def role_label(role: str) -> str:
    """The role a metric names: every unit (``unit:<id>``) is one label, units.

    >>> role_label("unit:ENG-01"), role_label("dispatcher")
    ('units', 'dispatcher')
    """
    return UNITS if role.startswith("unit:") else role


def recipient_of(ident: str) -> dict[str, str]:
    """The recipient a delivery id names: its key, role and channel.

    >>> recipient_of("I-1/fire#0:alert@dispatcher/push")["channel"]
    'push'
    """
    key = ident.rpartition("@")[2]
    role, _, channel = key.partition("/")
    return {"recipient": key, "role": role, "channel": channel}


@dataclass(frozen=True, slots=True)
class RateLimit:
    deliveries: int
    per_s: float

    @classmethod
    def from_config(cls, spec: dict[str, Any] | None) -> RateLimit:
        spec = spec or {}
        limit = cls(int(spec.get("deliveries", 10)), float(spec.get("per_s", 60)))
        if limit.deliveries < 1 or not limit.per_s > 0:
            # 0 deliveries would hold everything, digests included, for ever.
            raise ValueError(f"rate_limit needs deliveries >= 1 and per_s > 0, "
                             f"not {spec}")
        return limit


@dataclass(frozen=True, slots=True)
class RecipientLog:
    """What one recipient was sent lately and what waits for it."""

    #: Wall-clock ms of the deliveries inside the current window.
    sent_ms: tuple[int, ...] = ()
    #: The first ``MAX_DIGEST_ITEMS`` deliveries held back by the limit, oldest
    #: first (``ITEM_FIELDS`` of each).
    held: tuple[dict[str, Any], ...] = ()
    seen: tuple[str, ...] = ()
    digests: int = 0
    #: Every delivery held back since the last digest, listed or not, per rule.
    held_by_rule: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def held_count(self) -> int:
        return sum(self.held_by_rule.values())

    def to_dict(self) -> dict[str, Any]:
        return {"sent_ms": list(self.sent_ms), "held": list(self.held),
                "seen": list(self.seen), "digests": self.digests,
                "held_by_rule": self.held_by_rule}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecipientLog:
        held = tuple(data.get("held", ()))
        by_rule = dict(data.get("held_by_rule") or {})
        if held and not by_rule:  # written before the counts existed
            for item in held:
                rule = str(item.get("rule_id", ""))
                by_rule[rule] = by_rule.get(rule, 0) + 1
        return cls(tuple(data.get("sent_ms", ())), held,
                   tuple(data.get("seen", ())), int(data.get("digests", 0)),
                   by_rule)

    def _room(self, now_ms: int, limit: RateLimit) -> tuple[int, ...]:
        """The sends still inside the window, if another one fits; else ()."""
        since = now_ms - int(limit.per_s * 1000)
        return tuple(t for t in self.sent_ms if t > since)


def offer(log: RecipientLog, delivery: dict[str, Any], now_ms: int,
          limit: RateLimit) -> tuple[RecipientLog, list[dict[str, Any]], bool]:
    """A delivery for this recipient: sent now, or held (True) for a digest.

    A delivery id seen before changes nothing. Once something is held, later
    deliveries queue behind it, so the digest keeps their order.
    """
    ident = delivery["delivery_id"]
    if ident in log.seen:
        return log, [], False
    seen = (*log.seen, ident)[-REMEMBERED_IDS:]
    recent = log._room(now_ms, limit)
    if not log.held and len(recent) < limit.deliveries:
        return (RecipientLog((*recent, now_ms), (), seen, log.digests), [delivery],
                False)
    held = log.held
    if len(held) < MAX_DIGEST_ITEMS:
        held = (*held, {k: delivery[k] for k in ITEM_FIELDS if k in delivery})
    rule = str(delivery.get("rule_id", ""))
    by_rule = {**log.held_by_rule, rule: log.held_by_rule.get(rule, 0) + 1}
    return RecipientLog(recent, held, seen, log.digests, by_rule), [], True


def release(log: RecipientLog, now_ms: int, limit: RateLimit
            ) -> tuple[RecipientLog, list[dict[str, Any]]]:
    """Fold everything held into one digest once the window has room."""
    recent = log._room(now_ms, limit)
    if not log.held or len(recent) >= limit.deliveries:
        return dataclasses.replace(log, sent_ms=recent), []
    first = {**log.held[0], **recipient_of(log.held[0]["delivery_id"])}
    digest = {
        "delivery_id": f"digest-{log.digests + 1}@{first['recipient']}",
        "action": DIGEST,
        "recipient": first["recipient"], "role": first["role"],
        "channel": first["channel"], "at_ms": now_ms,
        "items": list(log.held), "held": log.held_count,
        "held_by_rule": dict(sorted(log.held_by_rule.items())),
    }
    return RecipientLog((*recent, now_ms), (), log.seen, log.digests + 1), [digest]


class ChannelAdapter(Protocol):
    """Renders a delivery into the form its channel carries."""

    def render(self, delivery: dict[str, Any]) -> dict[str, Any]: ...


def headline(d: dict[str, Any]) -> str:
    """One line naming what happened: the part every channel shows.

    >>> headline({"action": "update", "kind": "fire", "priority": 1,
    ...           "area": "AMBLER", "incident_id": "I-7", "revision": 2})
    'UPDATE 2: P1 fire, AMBLER (I-7)'
    >>> headline({"action": "alert", "area": "AMBLER", "surge": {
    ...     "count": 19, "discipline": "Traffic", "window": "10:00-11:00 EST",
    ...     "expected_low": 0.4, "expected_high": 7.2}})
    'SURGE: 19 Traffic reports, AMBLER, 10:00-11:00 EST (expected 0.4-7.2)'
    """
    if d["action"] == DIGEST:
        return (f"DIGEST: {d.get('held', len(d['items']))} alerts held back by the "
                "rate limit")
    surge = d.get("surge")
    if surge:
        return (f"SURGE: {surge['count']} {surge['discipline']} reports, {d['area']}, "
                f"{surge['window']} (expected {surge['expected_low']:.1f}-"
                f"{surge['expected_high']:.1f})")
    label = {ALERT: "ALERT", UPDATE: f"UPDATE {d.get('revision', 0)}",
             ESCALATION: "ESCALATED: NOT ACKNOWLEDGED"}[d["action"]]
    return f"{label}: P{d['priority']} {d['kind']}, {d['area']} ({d['incident_id']})"


def details(d: dict[str, Any]) -> list[str]:
    if d["action"] == DIGEST:
        listed = [digest_line(item) for item in d["items"]]
        more = d.get("held", len(listed)) - len(listed)
        if more <= 0:
            return listed
        # First, so that a channel that cuts the text keeps it.
        per_rule = ", ".join(f"{r} {n}" for r, n in d.get("held_by_rule", {}).items())
        return [f"per rule: {per_rule}; the first {len(listed)} listed, and {more} "
                "more (alerts.outbound has each)", *listed]
    return [f"rule {d['rule_id']}", *d.get("reasons", ())]


def digest_line(item: dict[str, Any]) -> str:
    """A held delivery as a digest lists it: its headline, and for a surge
    the detector's reason, which a surge alert alone would have carried.

    >>> line = digest_line({"action": "alert", "area": "AMBLER", "surge": {
    ...     "count": 19, "discipline": "Traffic", "window": "10:00-11:00 EST",
    ...     "expected_low": 0.4, "expected_high": 7.2,
    ...     "reason": "4.1 sd from the mean (above)"}})
    >>> line.endswith("(expected 0.4-7.2); why: 4.1 sd from the mean (above)")
    True
    """
    line = headline(item)
    reason = (item.get("surge") or {}).get("reason")
    return f"{line}; why: {reason}" if reason else line


class PushAdapter:
    def render(self, delivery: dict[str, Any]) -> dict[str, Any]:
        return {"title": headline(delivery)[:100],
                "body": "; ".join(details(delivery))[:1000]}


class SmsAdapter:
    def render(self, delivery: dict[str, Any]) -> dict[str, Any]:
        text = headline(delivery)
        extra = "; ".join(details(delivery))
        if extra:
            text = f"{text}. {extra}"
        if len(text) > SMS_MAX_CHARS:
            # "..." not "…": one character outside the GSM alphabet would send
            # the whole text as UCS-2, 70 characters per part instead of 160.
            text = text[:SMS_MAX_CHARS - 3] + "..."
        return {"text": text}


class EmailAdapter:
    def render(self, delivery: dict[str, Any]) -> dict[str, Any]:
        lines = details(delivery)
        body = "\n".join([headline(delivery), "", *(f"- {line}" for line in lines)])
        return {"subject": f"[intake] {headline(delivery)}", "body": body}


class WebhookAdapter:
    #: Fields a partner's system gets; the digest's items come as they are.
    FIELDS = ("delivery_id", "action", "alert_id", "incident_id", "rule_id",
              "revision", "priority", "kind", "area", "reasons", "at_ms", "items",
              "held", "held_by_rule", "surge")

    def render(self, delivery: dict[str, Any]) -> dict[str, Any]:
        payload = {k: delivery[k] for k in self.FIELDS if k in delivery}
        return {"content_type": "application/json",
                "json": orjson.dumps(payload).decode()}


ADAPTERS: dict[str, ChannelAdapter] = {
    "push": PushAdapter(), "sms": SmsAdapter(), "email": EmailAdapter(),
    "webhook": WebhookAdapter(),
}


def render(delivery: dict[str, Any]) -> dict[str, Any]:
    """The delivered form: the delivery with what its channel's adapter made."""
    return {**delivery, "rendered": ADAPTERS[delivery["channel"]].render(delivery)}
