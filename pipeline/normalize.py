"""Raw channel payloads into one report schema; anything else is a rejection.

Every raw format a topic can name (``docs/formats.md`` has the specs and
examples), each with its parser:

- ``cad``: one row of a recorded CAD / 911 log, as ``{"source": ..., "row": {...}}``
  with the row's own column names and values as the source published them
  (Montgomery County here; Milwaukee and San Francisco in ``cad_sources``);
- ``call``: a generic JSON 911 call record (``cad_sources.from_call``);
- ``json``: the project's generic JSON report;
- ``sms``, ``social``, ``app``: text-to-911, social posts, app tips and web
  forms (``messages``);
- ``alarm``, ``gunshot``: alarm-company events and gunshot sensors (``sensors``).

``normalize`` never raises on bad input: it returns a ``Rejection`` with a reason
code, which the agent turns into a dead letter.

>>> config = NormalizeConfig.example()
>>> raw = b'{"report_id": 12345678901234567890, "time": "2016-01-23T12:00:00Z",'
>>> raw += b' "type": "vehicle accident", "location": {"lat": 40.1, "lon": -75.3}}'
>>> report = normalize(raw, "json", received_ms=0, config=config)
>>> report.report_id, report.kind, report.location
('json:12345678901234567890', 'collision', 'known')
>>> normalize(b'{"time": 1', "json", received_ms=0, config=config).reason
'malformed_json'
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, replace
from typing import Any

import orjson

from pipeline import cad_sources, messages, sensors
from pipeline import fields as fl
from pipeline.fields import (
    CHANNELS,
    Invalid,
    NormalizeConfig,
    Parser,
    reporter_token,
)
from pipeline.localtime import local_to_utc_ms
from pipeline.schema import Report

#: Top-level fields that are identities, not quantities: never floats.
_IDENTITY = frozenset({"sender", "caller_number", "reporter", "account", "handle"})
_SURROGATE = re.compile("[\ud800-\udfff]")
_CALL_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}) @ (\d{2}:\d{2}:\d{2})")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a raw message could not become a report."""

    reason: str
    detail: str


def normalize(raw: bytes, fmt: str, received_ms: int, config: NormalizeConfig,
              raw_ref: str = "") -> Report | Rejection:
    """Turn one raw message of format ``fmt`` into a ``Report`` or a ``Rejection``."""
    if len(raw) > config.max_bytes:
        return Rejection("oversized", f"{len(raw)} bytes > {config.max_bytes}")
    parser = PARSERS.get(fmt)
    if parser is None:
        return Rejection("unknown_format", fmt[:80])
    parsed = _decode(raw)
    if isinstance(parsed, Rejection):
        return parsed
    payload, flags = parsed
    if not isinstance(payload, dict):
        return Rejection("not_an_object", type(payload).__name__)
    try:
        result = parser(payload, received_ms, config, raw_ref)
    except Invalid as exc:
        return Rejection(exc.reason, exc.detail)
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        # A shape no check foresaw: still a rejection, never a crash.
        return Rejection("unparseable", repr(exc)[:200])
    if flags:
        # The report says what was repaired and keeps the bytes it came from.
        original = base64.b64encode(raw[:config.max_bytes]).decode()
        return replace(result, flags=result.flags + flags,
                       details={**result.details, "original_b64": original})
    return result


def _decode(raw: bytes) -> tuple[Any, tuple[str, ...]] | Rejection:
    """The JSON value of ``raw``, and ``text_repaired`` when it had to be mended.

    Bytes that are not UTF-8 become U+FFFD; so does half an emoji escaped as a
    lone surrogate ("\\ud83d"). The standard parser, tried when orjson refuses,
    also reads NaN and Infinity: they reach the field checks, which refuse or
    flag them, never a silent null.
    """
    try:
        payload = orjson.loads(raw)
        repaired = False
    except orjson.JSONDecodeError as exc:
        # A byte-order mark, as some Windows tools write JSON, is no content.
        text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
        repaired = text.encode("utf-8", errors="replace") != raw
        try:
            payload = orjson.loads(text.encode("utf-8", errors="replace"))
        except orjson.JSONDecodeError:
            try:
                scrubbed = _scrub(json.loads(text))
            except (ValueError, RecursionError):
                return Rejection("malformed_json", str(exc)[:200])
            payload, repaired = scrubbed.value, repaired or scrubbed.changed
        raw = text.encode("utf-8", errors="replace")
    if isinstance(payload, dict) and _lost_digits(payload):
        # orjson reads integers past 64 bits as floats; the standard parser
        # keeps every digit of a long numeric id.
        try:
            payload = _scrub(json.loads(raw)).value
        except (ValueError, RecursionError):
            return Rejection("malformed_json", "unreadable long number")
    return payload, ("text_repaired",) if repaired else ()


@dataclass(slots=True)
class _Scrubbed:
    value: Any
    changed: bool = False


def _scrub(value: Any) -> _Scrubbed:
    """``value`` with every lone surrogate in its strings replaced by U+FFFD."""
    result = _Scrubbed(value)
    result.value = _scrub_into(value, result)
    return result


def _scrub_into(value: Any, result: _Scrubbed) -> Any:
    if isinstance(value, str):
        clean = _SURROGATE.sub("\ufffd", value)
        result.changed = result.changed or clean != value
        return clean
    if isinstance(value, list):
        return [_scrub_into(v, result) for v in value]
    if isinstance(value, dict):
        return {_scrub_into(k, result): _scrub_into(v, result)
                for k, v in value.items()}
    return value


def _lost_digits(payload: dict[str, Any]) -> bool:
    """Whether an id or a number-like identity came out of orjson as a float
    (at the top level, or in a CAD envelope's row, whose ids have any name)."""
    if any(isinstance(value, float) and (key.endswith("id") or key in _IDENTITY)
           for key, value in payload.items()):
        return True
    row = payload.get("row")
    return isinstance(row, dict) and any(
        isinstance(value, float) and abs(value) >= 2**53 for value in row.values())


def _from_cad(payload: dict[str, Any], received_ms: int, config: NormalizeConfig,
              raw_ref: str) -> Report:
    source = fl.text(payload, "source", required=True)
    row = payload.get("row")
    if not isinstance(row, dict):
        raise Invalid("missing_row", "a CAD record needs an object 'row'")
    if source == "montgomery_pa":
        return _with_caller(payload, _from_montgomery(row, received_ms, config,
                                                      raw_ref), config)
    parse = cad_sources.CAD_SOURCES.get(source)
    if parse is None:
        raise Invalid("unknown_source", source[:80])
    return _with_caller(payload, parse(row, received_ms, config, raw_ref), config)


def _with_caller(payload: dict[str, Any], report: Report, config: NormalizeConfig
                 ) -> Report:
    """A CAD adapter may add the caller's callback number (ANI) beside the row:
    the caller becomes the report's reporter, whom status updates reach."""
    caller = fl.text(payload, "caller_number")
    if not caller:
        return report
    return replace(report, reporter=reporter_token(caller, config.reporter_key))


def _from_montgomery(row: dict[str, Any], received_ms: int, config: NormalizeConfig,
                     raw_ref: str) -> Report:
    area = fl.source_area(config, "montgomery_pa")
    title = fl.text(row, "title", required=True)
    discipline, _, type_text = title.partition(":")
    if not type_text:
        discipline, type_text = "", title
    type_text = type_text.strip().rstrip("-").strip()
    desc = fl.text(row, "desc")

    # The call time inside `desc` is when the call came in; `timeStamp` is when
    # the county posted it, minutes later.
    call_time = _CALL_TIME.search(desc)
    stamp = f"{call_time.group(1)} {call_time.group(2)}" if call_time else ""
    stamp = stamp or fl.text(row, "timeStamp", required=True)
    try:
        event_ms, time_flags = local_to_utc_ms(stamp, area.zone)
    except ValueError as exc:
        raise Invalid("bad_time", str(exc)[:200]) from exc

    lat, lon, location, place_flags = fl.place(row.get("lat"), row.get("lng"), area)
    township = fl.text(row, "twp")
    return Report(
        report_id=fl.stable_id("montgomery_pa", row),
        source="montgomery_pa",
        channel="911",
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(type_text),
        type_text=type_text,
        discipline=discipline.strip(),
        text=desc,
        lat=lat,
        lon=lon,
        location=location,
        address=fl.text(row, "addr"),
        area=township or "UNKNOWN",
        raw_ref=raw_ref,
        flags=time_flags + place_flags + fl.time_flags(event_ms, received_ms, config),
    )


def _from_json(payload: dict[str, Any], received_ms: int, config: NormalizeConfig,
               raw_ref: str) -> Report:
    source = fl.text(payload, "source") or "json"
    area = fl.source_area(config, source)
    report_id = fl.identifier(payload, "report_id")
    channel = fl.text(payload, "channel") or "web"
    if channel not in CHANNELS:
        raise Invalid("unknown_channel", channel[:40])
    type_text = fl.text(payload, "type")
    text = fl.text(payload, "text")
    if fl.blank(type_text) and fl.blank(text):
        raise Invalid("missing_type", "a report needs a 'type' or a 'text'")
    event_ms, time_flags = fl.event_time(payload, area)
    lat, lon, location, accuracy, place_flags = fl.fix(payload, "location", area)
    reporter = fl.text(payload, "reporter")
    return Report(
        report_id=f"{source}:{report_id}",
        source=source,
        channel=channel,
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(type_text or text),
        type_text=type_text,
        discipline=fl.text(payload, "discipline"),
        text=text,
        lat=lat,
        lon=lon,
        location=location,
        accuracy_m=accuracy,
        address=fl.text(payload, "address"),
        area=fl.text(payload, "area") or fl.grid_area(lat, lon),
        reporter=reporter_token(reporter, config.reporter_key) if reporter else "",
        raw_ref=raw_ref,
        flags=time_flags + place_flags + fl.time_flags(event_ms, received_ms, config),
    )


#: Every raw format a topic can name (``topics.yaml``, key ``format``).
PARSERS: dict[str, Parser] = {
    "cad": _from_cad,
    "json": _from_json,
    "call": cad_sources.from_call,
    **messages.PARSERS,
    **sensors.PARSERS,
}
