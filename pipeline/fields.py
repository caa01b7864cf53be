"""What every channel parser shares: field checks, places, ids, rejections.

A parser takes a decoded JSON object and returns a ``Report``, or raises
``Invalid`` with a reason code (``docs/formats.md``, Dead-letter reasons).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from pipeline.geo import Box, cell_key, valid_point
from pipeline.kinds import KindTable
from pipeline.localtime import parse_iso_ms, plausibility_flags
from pipeline.schema import LOCATION_KNOWN, LOCATION_UNKNOWN, Report

MAX_BYTES = 64 * 1024
MAX_TEXT = 4000
MAX_ACCURACY_M = 5000.0
# Separators people and carriers put inside a phone number, and what is left.
_PHONE_SEPARATORS = re.compile(r"[\s().\-]")
_PHONE = re.compile(r"\+?\d{3,20}")
CHANNELS = frozenset({"911", "sms", "social", "app", "web", "sensor"})


class Invalid(Exception):
    """A raw message that cannot become a report: a reason code and a detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SourceArea:
    zone: str
    box: Box


def zone_at(sources: dict[str, SourceArea], lat: float | None, lon: float | None,
            fallback: str) -> str:
    """The time zone of a place: that of the smallest service area holding it
    (a city's before a catch-all), else ``fallback``.

    >>> from pipeline.geo import Box
    >>> areas = {"any": SourceArea("UTC", Box(-90, -180, 90, 180)),
    ...          "mke": SourceArea("America/Chicago", Box(42.8, -88.2, 43.3, -87.8))}
    >>> zone_at(areas, 43.0, -87.9, "UTC"), zone_at(areas, 10.0, 10.0, "X")
    ('America/Chicago', 'UTC')
    >>> zone_at(areas, None, None, "America/New_York")
    'America/New_York'
    """
    if lat is None or lon is None:
        return fallback
    holding = [((a.box.north - a.box.south) * (a.box.east - a.box.west), a.zone)
               for a in sources.values() if a.box.contains(lat, lon)]
    return min(holding)[1] if holding else fallback


@dataclass(frozen=True)
class NormalizeConfig:
    kinds: KindTable
    sources: dict[str, SourceArea]
    reporter_key: bytes = b"intake-default-reporter-key"
    max_bytes: int = MAX_BYTES
    now_ms: int | None = None

    @classmethod
    def example(cls) -> NormalizeConfig:
        """A small configuration for examples and tests of the parsers alone."""
        kinds = KindTable.from_config({"kinds": {
            "collision": {"match": ["VEHICLE ACCIDENT"], "priority": 2,
                          "needs": "ems"},
            "other": {"match": [], "priority": 4, "needs": "police"},
        }})
        whole = Box(-90, -180, 90, 180)
        return cls(kinds, {"json": SourceArea("UTC", whole),
                           "montgomery_pa": SourceArea("America/New_York", whole)})


class Parser(Protocol):
    def __call__(self, payload: dict[str, Any], received_ms: int,
                 config: NormalizeConfig, raw_ref: str) -> Report: ...


def reporter_token(identity: str, key: bytes, handle: bool = False) -> str:
    """A keyed hash of a phone number, handle or account: matchable, not readable.

    A phone number counts the same however it is written ("tel:", spaces,
    dashes, dots, brackets), so a caller and their texts share one token. A
    social ``handle`` is chosen by whoever posts, never proven: it is hashed
    apart, so a handle spelt as someone's number is not that caller (it would
    join their thread and take their fix).

    >>> token = reporter_token("+1 (610) 555-0199", b"k")
    >>> token == reporter_token("tel:+16105550199", b"k")
    True
    >>> token == reporter_token("+1 610 555 0199", b"k", handle=True)
    False
    """
    text = identity.strip().lower()
    if handle:
        text = "handle\x1f" + text
    else:
        number = _PHONE_SEPARATORS.sub("", text.removeprefix("tel:"))
        if _PHONE.fullmatch(number):
            text = number
    return "rp:" + hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:20]


#: Characters that show nothing (zero-width space, joiners, word joiner, byte
#: order mark, soft hyphen): a text of only these is blank.
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def blank(value: str) -> bool:
    """Whether a text shows nothing: empty, spaces, or invisible characters.

    >>> blank(" \u200b "), blank("fire")
    (True, False)
    """
    return not value.translate(INVISIBLE).strip()


def text(payload: dict[str, Any], name: str, required: bool = False) -> str:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise Invalid(f"missing_{name}", f"field {name!r} is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Invalid(f"wrong_type_{name}", f"{name!r} is {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(f"wrong_type_{name}", f"{name!r} is {value!r}")
    return str(value)[:MAX_TEXT]


def number(value: Any) -> float | str | None:
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


def place(lat_in: Any, lon_in: Any, area: SourceArea
           ) -> tuple[float | None, float | None, str, tuple[str, ...]]:
    """Check a coordinate pair; unknown unless it is real and in the service area."""
    lat, lon = number(lat_in), number(lon_in)
    if lat is None or lon is None:
        return None, None, LOCATION_UNKNOWN, ("location_missing",)
    if isinstance(lat, str) or isinstance(lon, str):
        return None, None, LOCATION_UNKNOWN, ("location_invalid",)
    if valid_point(lat, lon) and area.box.contains(lat, lon):
        return lat, lon, LOCATION_KNOWN, ()
    # A swapped pair is repaired only when the swap lands inside the service
    # area; (-122.4, 37.8) is out of range as given, and San Francisco swapped.
    if valid_point(lon, lat) and area.box.contains(lon, lat):
        return lon, lat, LOCATION_KNOWN, ("location_swapped",)
    if not valid_point(lat, lon):
        return None, None, LOCATION_UNKNOWN, ("location_invalid",)
    return None, None, LOCATION_UNKNOWN, ("location_outside_area",)


def accuracy(value: Any) -> tuple[float | None, tuple[str, ...]]:
    """A fix's uncertainty radius in metres: finite, 0..MAX_ACCURACY_M, or None."""
    accuracy = number(value)
    if accuracy is None:
        return None, ()
    if isinstance(accuracy, str) or not math.isfinite(accuracy) or accuracy < 0:
        return None, ("accuracy_invalid",)
    if accuracy > MAX_ACCURACY_M:
        return MAX_ACCURACY_M, ("accuracy_capped",)
    return accuracy, ()


def source_area(config: NormalizeConfig, name: str) -> SourceArea:
    area = config.sources.get(name)
    if area is None:
        raise Invalid("unknown_source", name[:80])
    return area


def stable_id(source: str, payload: dict[str, Any]) -> str:
    try:
        canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError) as exc:
        # orjson reads 1024 levels of nesting but writes only 254.
        raise Invalid("too_deep", str(exc)[:200]) from exc
    return f"{source}:{hashlib.sha1(canonical).hexdigest()[:20]}"


def time_flags(event_ms: int, received_ms: int, config: NormalizeConfig
                ) -> tuple[str, ...]:
    return plausibility_flags(event_ms, config.now_ms or received_ms)


def grid_area(lat: float | None, lon: float | None) -> str:
    """An area name for a report whose source names none: its 0.1 degree cell."""
    if lat is None or lon is None:
        return "UNKNOWN"
    return "grid" + cell_key(lat, lon, 0.1)[1:]




def event_time(payload: dict[str, Any], area: SourceArea, name: str = "time"
               ) -> tuple[int, tuple[str, ...]]:
    """A required ISO 8601 time field, local to the source's zone when it has no
    offset; the dead letter's detail names the field."""
    value = text(payload, name, required=True)
    if value.strip().lstrip("-").replace(".", "", 1).isdigit():
        # Epoch seconds or milliseconds, which ISO parsing reads as a date
        # ("month must be in 1..12"): say what is wanted instead.
        raise Invalid("bad_time", f"{name}: {value.strip()[:40]} is a number, not an "
                      "ISO 8601 time (2016-01-23T12:00:00Z)")
    try:
        return parse_iso_ms(value, area.zone)
    except (ValueError, OverflowError) as exc:
        raise Invalid("bad_time", f"{name}: {exc}"[:200]) from exc


def identifier(payload: dict[str, Any], name: str) -> str:
    """A required id: a string, or an integer kept digit for digit.

    A float is refused: an integer past 64 bits that a JSON reader turned into
    a float has already lost digits, and a fraction is no id.
    """
    if isinstance(payload.get(name), float):
        raise Invalid(f"wrong_type_{name}",
                      f"{name!r} is a float; send a long id as a string")
    value = text(payload, name, required=True).strip()
    if not value:
        raise Invalid(f"missing_{name}", f"field {name!r} is blank")
    return value


def mapping(payload: dict[str, Any], name: str) -> dict[str, Any]:
    """An optional object field; anything else than an object is refused."""
    value = payload.get(name)
    if value is not None and not isinstance(value, dict):
        raise Invalid(f"wrong_type_{name}", type(value).__name__)
    return value or {}


def fix(payload: dict[str, Any], name: str, area: SourceArea
        ) -> tuple[float | None, float | None, str, float | None, tuple[str, ...]]:
    """A position fix: point, location state, accuracy (only with a point), flags."""
    where = mapping(payload, name)
    lat, lon, location, place_flags = place(where.get("lat"), where.get("lon"), area)
    radius, accuracy_flags = accuracy(where.get("accuracy_m"))
    if location != LOCATION_KNOWN:
        radius = None
    return lat, lon, location, radius, place_flags + accuracy_flags
