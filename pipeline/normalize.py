"""Raw channel payloads into one report schema; anything else is a rejection.

Two formats so far (``docs/formats.md`` has the specs and examples):

- ``cad``: one row of a recorded CAD / 911 log, as ``{"source": ..., "row": {...}}``
  with the row's own column names and values as the source published them;
- ``json``: the project's generic JSON report.

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

import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.geo import Box, cell_key, valid_point
from pipeline.kinds import KindTable
from pipeline.localtime import local_to_utc_ms, parse_iso_ms, plausibility_flags
from pipeline.schema import LOCATION_KNOWN, LOCATION_UNKNOWN, Report

MAX_BYTES = 64 * 1024
MAX_TEXT = 4000
MAX_ACCURACY_M = 5000.0
CHANNELS = frozenset({"911", "sms", "social", "app", "web", "sensor"})
_CALL_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}) @ (\d{2}:\d{2}:\d{2})")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a raw message could not become a report."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class SourceArea:
    zone: str
    box: Box


@dataclass(frozen=True)
class NormalizeConfig:
    kinds: KindTable
    sources: dict[str, SourceArea]
    reporter_key: bytes = b"intake-default-reporter-key"
    max_bytes: int = MAX_BYTES
    now_ms: int | None = field(default=None)

    @classmethod
    def example(cls) -> NormalizeConfig:
        """A small configuration for examples and tests of this module alone."""
        kinds = KindTable.from_config({"kinds": {
            "collision": {"match": ["VEHICLE ACCIDENT"], "priority": 2,
                          "needs": "ems"},
            "other": {"match": [], "priority": 4, "needs": "police"},
        }})
        whole = Box(-90, -180, 90, 180)
        return cls(kinds, {"json": SourceArea("UTC", whole),
                           "montgomery_pa": SourceArea("America/New_York", whole)})


def reporter_token(identity: str, key: bytes) -> str:
    """A keyed hash of a phone number, handle or account: matchable, not readable."""
    digits = identity.strip().lower()
    return "rp:" + hmac.new(key, digits.encode(), hashlib.sha256).hexdigest()[:20]


def normalize(raw: bytes, fmt: str, received_ms: int, config: NormalizeConfig,
              raw_ref: str = "") -> Report | Rejection:
    """Turn one raw message of format ``fmt`` into a ``Report`` or a ``Rejection``."""
    if len(raw) > config.max_bytes:
        return Rejection("oversized", f"{len(raw)} bytes > {config.max_bytes}")
    parsed = _decode(raw)
    if isinstance(parsed, Rejection):
        return parsed
    payload, flags = parsed
    if not isinstance(payload, dict):
        return Rejection("not_an_object", type(payload).__name__)
    try:
        if fmt == "cad":
            result = _from_cad(payload, received_ms, config, raw_ref)
        elif fmt == "json":
            result = _from_json(payload, received_ms, config, raw_ref)
        else:
            return Rejection("unknown_format", fmt)
    except _Invalid as exc:
        return Rejection(exc.reason, exc.detail)
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        # A shape no check above foresaw: still a rejection, never a crash.
        return Rejection("unparseable", repr(exc)[:200])
    if isinstance(result, Report) and flags:
        return _with_flags(result, flags)
    return result


class _Invalid(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _decode(raw: bytes) -> tuple[Any, tuple[str, ...]] | Rejection:
    flags: tuple[str, ...] = ()
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # Bytes that are not UTF-8 are repaired (U+FFFD) and flagged, never lost.
        raw = raw.decode("utf-8", errors="replace").encode("utf-8", errors="replace")
        flags = ("text_repaired",)
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return Rejection("malformed_json", str(exc)[:200])
    if isinstance(payload, dict) and isinstance(payload.get("report_id"), float):
        # orjson reads integers past 64 bits as floats; the standard parser
        # keeps every digit of a long numeric id.
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            return Rejection("malformed_json", "unreadable long number")
    return payload, flags


def _with_flags(report: Report, flags: tuple[str, ...]) -> Report:
    from dataclasses import replace

    return replace(report, flags=report.flags + flags)


def _text(payload: dict[str, Any], name: str, required: bool = False) -> str:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise _Invalid(f"missing_{name}", f"field {name!r} is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(f"wrong_type_{name}", f"{name!r} is {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid(f"wrong_type_{name}", f"{name!r} is {value!r}")
    return str(value)[:MAX_TEXT]


def _number(value: Any) -> float | str | None:
    """A coordinate: float, None when absent, or the string 'invalid'."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "invalid"
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return "invalid"
    if not isinstance(value, int | float):
        return "invalid"
    return float(value)


def _place(lat_in: Any, lon_in: Any, area: SourceArea
           ) -> tuple[float | None, float | None, str, tuple[str, ...]]:
    """Check a coordinate pair; unknown unless it is real and in the service area."""
    lat, lon = _number(lat_in), _number(lon_in)
    if lat is None or lon is None:
        return None, None, LOCATION_UNKNOWN, ("location_missing",)
    if isinstance(lat, str) or isinstance(lon, str) or not valid_point(lat, lon):
        return None, None, LOCATION_UNKNOWN, ("location_invalid",)
    if area.box.contains(lat, lon):
        return lat, lon, LOCATION_KNOWN, ()
    if valid_point(lon, lat) and area.box.contains(lon, lat):
        return lon, lat, LOCATION_KNOWN, ("location_swapped",)
    return None, None, LOCATION_UNKNOWN, ("location_outside_area",)


def _accuracy(value: Any) -> tuple[float | None, tuple[str, ...]]:
    """A fix's uncertainty radius in metres: finite, 0..MAX_ACCURACY_M, or None."""
    accuracy = _number(value)
    if accuracy is None:
        return None, ()
    if isinstance(accuracy, str) or not math.isfinite(accuracy) or accuracy < 0:
        return None, ("accuracy_invalid",)
    if accuracy > MAX_ACCURACY_M:
        return MAX_ACCURACY_M, ("accuracy_capped",)
    return accuracy, ()


def _source(config: NormalizeConfig, name: str) -> SourceArea:
    area = config.sources.get(name)
    if area is None:
        raise _Invalid("unknown_source", name[:80])
    return area


def _stable_id(source: str, payload: dict[str, Any]) -> str:
    try:
        canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError) as exc:
        # orjson reads 1024 levels of nesting but writes only 254.
        raise _Invalid("too_deep", str(exc)[:200]) from exc
    return f"{source}:{hashlib.sha1(canonical).hexdigest()[:20]}"


def _from_cad(payload: dict[str, Any], received_ms: int, config: NormalizeConfig,
              raw_ref: str) -> Report:
    source = _text(payload, "source", required=True)
    row = payload.get("row")
    if not isinstance(row, dict):
        raise _Invalid("missing_row", "a CAD record needs an object 'row'")
    if source == "montgomery_pa":
        return _from_montgomery(row, received_ms, config, raw_ref)
    raise _Invalid("unknown_source", source[:80])


def _from_montgomery(row: dict[str, Any], received_ms: int, config: NormalizeConfig,
                     raw_ref: str) -> Report:
    area = _source(config, "montgomery_pa")
    title = _text(row, "title", required=True)
    discipline, _, type_text = title.partition(":")
    if not type_text:
        discipline, type_text = "", title
    type_text = type_text.strip().rstrip("-").strip()
    desc = _text(row, "desc")

    # The call time inside `desc` is when the call came in; `timeStamp` is when
    # the county posted it, minutes later.
    call_time = _CALL_TIME.search(desc)
    stamp = f"{call_time.group(1)} {call_time.group(2)}" if call_time else ""
    stamp = stamp or _text(row, "timeStamp", required=True)
    try:
        event_ms, time_flags = local_to_utc_ms(stamp, area.zone)
    except ValueError as exc:
        raise _Invalid("bad_time", str(exc)[:200]) from exc

    lat, lon, location, place_flags = _place(row.get("lat"), row.get("lng"), area)
    township = _text(row, "twp")
    return Report(
        report_id=_stable_id("montgomery_pa", row),
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
        address=_text(row, "addr"),
        area=township or "UNKNOWN",
        raw_ref=raw_ref,
        flags=time_flags + place_flags + _time_flags(event_ms, received_ms, config),
    )


def _time_flags(event_ms: int, received_ms: int, config: NormalizeConfig
                ) -> tuple[str, ...]:
    return plausibility_flags(event_ms, config.now_ms or received_ms)


def _grid_area(lat: float | None, lon: float | None) -> str:
    """An area name for a report whose source names none: its 0.1 degree cell."""
    if lat is None or lon is None:
        return "UNKNOWN"
    return "grid" + cell_key(lat, lon, 0.1)[1:]


def _from_json(payload: dict[str, Any], received_ms: int, config: NormalizeConfig,
               raw_ref: str) -> Report:
    source = _text(payload, "source") or "json"
    area = _source(config, source)
    report_id = _text(payload, "report_id", required=True)
    channel = _text(payload, "channel") or "web"
    if channel not in CHANNELS:
        raise _Invalid("unknown_channel", channel[:40])
    type_text = _text(payload, "type")
    text = _text(payload, "text")
    if not type_text and not text:
        raise _Invalid("missing_type", "a report needs a 'type' or a 'text'")
    try:
        event_ms, time_flags = parse_iso_ms(_text(payload, "time", True), area.zone)
    except (ValueError, OverflowError) as exc:
        raise _Invalid("bad_time", str(exc)[:200]) from exc

    where = payload.get("location")
    if where is not None and not isinstance(where, dict):
        raise _Invalid("wrong_type_location", type(where).__name__)
    where = where or {}
    lat, lon, location, place_flags = _place(where.get("lat"), where.get("lon"), area)
    accuracy, accuracy_flags = _accuracy(where.get("accuracy_m"))
    reporter = _text(payload, "reporter")
    return Report(
        report_id=f"{source}:{report_id}",
        source=source,
        channel=channel,
        event_ms=event_ms,
        received_ms=received_ms,
        kind=config.kinds.classify(type_text or text),
        type_text=type_text,
        discipline=_text(payload, "discipline"),
        text=text,
        lat=lat,
        lon=lon,
        location=location,
        accuracy_m=accuracy if location == LOCATION_KNOWN else None,
        address=_text(payload, "address"),
        area=_text(payload, "area") or _grid_area(lat, lon),
        reporter=reporter_token(reporter, config.reporter_key) if reporter else "",
        raw_ref=raw_ref,
        flags=time_flags + place_flags + accuracy_flags
        + _time_flags(event_ms, received_ms, config),
    )
