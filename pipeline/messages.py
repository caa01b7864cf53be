"""Message channels into reports: text-to-911, social posts, app tips and web forms.

Three raw formats (``docs/formats.md`` has the field tables):

- ``sms``: one text-to-911 message, or one part of a multi-part message;
- ``social``: one public post (a tweet or the like);
- ``app``: one tip from the mobile app or one web form (channel ``app`` or ``web``).

A person's number, handle or account is never kept: only its keyed hash
(``reporter_token``), so follow-ups from one sender match without being readable.

>>> config = NormalizeConfig.example()
>>> sms = {"message_id": 12345678901234567890123, "sender": "+1 215 555 0123",
...        "text": "vehicle accident on rt 73", "time": "2016-01-23T12:00:00Z"}
>>> report = from_sms(sms, 0, config, "t:0:1")
>>> report.report_id, report.kind, report.location
('sms:json:12345678901234567890123', 'collision', 'unknown')
>>> report.reporter == from_sms({"message_id": "m2", "sender": "+12155550123",
...     "text": "still here", "time": "2016-01-23T12:01:00Z"}, 0, config, "").reporter
True
"""

from __future__ import annotations

import re
from typing import Any

from pipeline import fields as fl
from pipeline.fields import MAX_TEXT, Invalid, NormalizeConfig, Parser, SourceArea
from pipeline.schema import Report

MAX_PARTS = 255
MAX_MEDIA = 20
MAX_MEDIA_CHARS = 500
APP_CHANNELS = frozenset({"app", "web"})

# A language tag as the networks send it: "en", "pt-br", "und", "zh-Hant".
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8}){0,3}")
# Separators people and carriers put inside a phone number.
_PHONE_SEPARATORS = re.compile(r"[\s().\-]")
_PHONE = re.compile(r"\+?\d{3,20}")


def from_sms(payload: dict[str, Any], received_ms: int, config: NormalizeConfig,
             raw_ref: str) -> Report:
    """One text-to-911 message (or one part of a long one) as a report."""
    source, area = _source(config, payload)
    message_id = fl.identifier(payload, "message_id")
    sender, sender_flags = _phone(payload)
    body, body_flags = _text(payload, "text", required=True)
    event_ms, time_flags = fl.event_time(payload, area)
    lat, lon, location, accuracy, place_flags = fl.fix(payload, "location", area)

    # Each part is its own report; the thread stage joins the parts of one
    # message by their conversation token, which hides the number like the
    # reporter token does.
    details: dict[str, Any] = {}
    report_id = f"sms:{source}:{message_id}"
    concat = _concat(payload)
    if concat is not None:
        ref, part, parts = concat
        conversation = fl.reporter_token(f"{sender}\x1f{ref}", config.reporter_key)
        details = {"part": part, "parts": parts, "concat_ref": ref,
                   "conversation": "cv:" + conversation.removeprefix("rp:")}
        report_id += f"/p{part}"

    return Report(
        report_id=report_id,
        source=source,
        channel="sms",
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(body),
        type_text="",
        text=body,
        lat=lat,
        lon=lon,
        location=location,
        accuracy_m=accuracy,
        area=fl.grid_area(lat, lon),
        reporter=fl.reporter_token(sender, config.reporter_key),
        raw_ref=raw_ref,
        flags=time_flags + place_flags + sender_flags + body_flags
        + fl.time_flags(event_ms, received_ms, config),
        details=details,
    )


def from_social(payload: dict[str, Any], received_ms: int, config: NormalizeConfig,
                raw_ref: str) -> Report:
    """One public post as a report; a place name is kept, never made a point."""
    source, area = _source(config, payload)
    post_id = fl.identifier(payload, "post_id")
    handle = fl.text(payload, "handle", required=True).strip()
    if not handle:
        raise Invalid("missing_handle", "field 'handle' is blank")
    body, body_flags = _text(payload, "text", required=True)
    language, language_flags = _language(payload)
    event_ms, time_flags = fl.event_time(payload, area)

    where = fl.mapping(payload, "geotag")
    lat, lon, location, place_flags = fl.place(where.get("lat"), where.get("lon"), area)
    place_name = fl.text(payload, "place_name").strip()
    network = fl.text(payload, "network").strip().lower()[:40]
    details: dict[str, Any] = {}
    if place_name:
        details["place_name"] = place_name
    if network:
        details["network"] = network

    return Report(
        report_id=f"social:{source}:{post_id}",
        source=source,
        channel="social",
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.read(body),
        type_text="",
        text=body,
        lat=lat,
        lon=lon,
        location=location,
        address=place_name,
        area=fl.grid_area(lat, lon),
        reporter=fl.reporter_token(handle, config.reporter_key, handle=True),
        raw_ref=raw_ref,
        flags=time_flags + place_flags + language_flags + body_flags
        + fl.time_flags(event_ms, received_ms, config),
        language=language,
        details=details,
    )


def from_app(payload: dict[str, Any], received_ms: int, config: NormalizeConfig,
             raw_ref: str) -> Report:
    """One mobile-app tip or web form as a report, with its media references."""
    source, area = _source(config, payload)
    report_id = fl.identifier(payload, "report_id")
    channel = fl.text(payload, "channel") or "app"
    if channel not in APP_CHANNELS:
        raise Invalid("unknown_channel", channel[:40])
    category = fl.text(payload, "category").strip()
    body, body_flags = _text(payload, "text")
    if fl.blank(category) and fl.blank(body):
        raise Invalid("missing_category", "a tip needs a 'category' or a 'text'")
    event_ms, time_flags = fl.event_time(payload, area)
    lat, lon, location, accuracy, place_flags = fl.fix(payload, "location", area)
    reporter = fl.text(payload, "reporter").strip()

    return Report(
        report_id=f"app:{source}:{report_id}",
        source=source,
        channel=channel,
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(category or body),
        type_text=category,
        text=body,
        lat=lat,
        lon=lon,
        location=location,
        accuracy_m=accuracy,
        address=fl.text(payload, "address"),
        area=fl.grid_area(lat, lon),
        reporter=fl.reporter_token(reporter, config.reporter_key) if reporter else "",
        raw_ref=raw_ref,
        flags=time_flags + place_flags + body_flags
        + fl.time_flags(event_ms, received_ms, config),
        media=_media(payload),
    )


def _source(config: NormalizeConfig, payload: dict[str, Any]
            ) -> tuple[str, SourceArea]:
    source = fl.text(payload, "source") or "json"
    return source, fl.source_area(config, source)


def _text(payload: dict[str, Any], name: str, required: bool = False
          ) -> tuple[str, tuple[str, ...]]:
    """A free text, unchanged; one longer than ``MAX_TEXT`` is cut and flagged."""
    value = fl.text(payload, name, required)
    if required and fl.blank(value):
        raise Invalid(f"missing_{name}", f"field {name!r} is blank")
    raw = payload.get(name)
    if isinstance(raw, str) and len(raw) > MAX_TEXT:
        return value, ("text_truncated",)
    return value, ()


def _phone(payload: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The sender's number without separators, so every spelling gets one token.

    A sender that is not a number (a carrier gateway name) is kept as sent and
    flagged: a 911 text is never dropped for its sender's format.
    """
    sender = fl.identifier(payload, "sender")
    digits = _PHONE_SEPARATORS.sub("", sender.removeprefix("tel:"))
    if _PHONE.fullmatch(digits):
        return digits, ()
    return sender, ("sender_not_a_number",)


def _concat(payload: dict[str, Any]) -> tuple[str, int, int] | None:
    """The carrier's reference and numbering of one part of a long message."""
    concat = payload.get("concat")
    if concat is None:
        return None
    if not isinstance(concat, dict):
        raise Invalid("wrong_type_concat", type(concat).__name__)
    ref = fl.identifier(concat, "ref")
    part, parts = _count(concat, "part"), _count(concat, "parts")
    if not 1 <= part <= parts <= MAX_PARTS:
        raise Invalid("bad_parts", f"part {part} of {parts} (at most {MAX_PARTS})")
    return ref, part, parts


def _count(concat: dict[str, Any], name: str) -> int:
    value = concat.get(name)
    if value is None:
        raise Invalid(f"missing_{name}", f"'concat' needs {name!r}")
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"wrong_type_{name}", f"{name!r} is {value!r}"[:80])
    return value


def _language(payload: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """A short language tag, lower-cased; anything else is dropped and flagged."""
    tag = fl.text(payload, "language").strip().lower()
    if not tag or _LANGUAGE.fullmatch(tag):
        return tag, ()
    return "", ("language_invalid",)


def _media(payload: dict[str, Any]) -> tuple[str, ...]:
    media = payload.get("media")
    if media is None:
        return ()
    if not isinstance(media, list):
        raise Invalid("wrong_type_media", type(media).__name__)
    if len(media) > MAX_MEDIA:
        raise Invalid("bad_media", f"{len(media)} items > {MAX_MEDIA}")
    for item in media:
        if not isinstance(item, str):
            raise Invalid("wrong_type_media", f"an item is {type(item).__name__}")
        if not item.strip() or len(item) > MAX_MEDIA_CHARS:
            raise Invalid("bad_media", f"an item has {len(item)} characters")
    return tuple(media)


#: The message formats a topic can name (``topics.yaml``, key ``format``).
PARSERS: dict[str, Parser] = {"sms": from_sms, "social": from_social, "app": from_app}
