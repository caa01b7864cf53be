"""A seeded corpus of malformed raw messages, for every channel's raw topic.

Each message starts from a valid example of its channel (``EXAMPLES``) and gets
one fault of one kind (``FAULTS``): the bytes cut, spoiled or replaced, a field
dropped or given a wrong type, a place, number, time or text made bad, the
payload nested too deep or made too large. Some faults are repairable (text
that is not UTF-8, a swapped coordinate pair): those messages become reports
with flags. Every message must end as a report or a dead letter, never lost.

    >>> corpus = build_corpus(50, seed=7)
    >>> len(corpus), len({fault for _, _, fault in corpus}) > 5
    (50, True)
    >>> build_corpus(50, seed=7) == corpus
    True
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

#: Valid messages of every raw topic and CAD source (docs/formats.md examples).
EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("reports.raw.cad", {
        "source": "montgomery_pa",
        "row": {"lat": "40.2978759", "lng": "-75.5812935",
                "desc": "REINDEER CT & DEAD END;  NEW HANOVER; Station 332; "
                        "2015-12-10 @ 17:10:52;",
                "zip": "19525", "title": "EMS: BACK PAINS/INJURY",
                "timeStamp": "2015-12-10 17:40:00", "twp": "NEW HANOVER",
                "addr": "REINDEER CT & DEAD END", "e": "1"},
    }),
    ("reports.raw.cad", {
        "source": "milwaukee_wi",
        "row": {"id": "1211382", "time": "2018-05-01 00:15:13",
                "location": "N 51ST BL / W ROOSEVELT DR,MKE",
                "latitude": "43.0813539", "longitude": "-87.9772074",
                "district": "7", "nature": "SHOTS FIRED",
                "status": "Unable to Locate Complainant"},
    }),
    ("reports.raw.cad", {
        "source": "sf_fire",
        "row": {"Call Number": "163660124", "Unit ID": "E02",
                "Call Type": "Medical Incident",
                "Received DtTm": "12/31/2016 12:44:45 AM",
                "Dispatch DtTm": "12/31/2016 12:47:05 AM",
                "Available DtTm": "12/31/2016 01:02:04 AM",
                "Address": "JEFFERSON ST/HYDE ST", "Original Priority": "3",
                "Final Priority": "3", "Neighborhood  District": "Russian Hill",
                "Location": "(37.8075901055183, -122.420743268989)"},
    }),
    ("reports.raw.cad", {
        "source": "sf_police",
        "row": {"cad_number": "240082446",
                "received_datetime": "01/08/2024 05:19:14 PM",
                "call_type_original": "418DV",
                "call_type_original_desc": "FIGHT NO WEAPON DV",
                "call_type_final_desc": "ASSAULT / BATTERY",
                "priority_original": "B", "priority_final": "A",
                "disposition": "REP", "sensitive_call": "false",
                "intersection_name": "TURK ST \\ DODGE ST",
                "intersection_point": "POINT (-122.416985 37.78242)",
                "analysis_neighborhood": "Tenderloin",
                "data_updated_at": "01/09/2024 02:30:40 AM"},
    }),
    ("reports.raw.call", {
        "call_id": "20180501-000123", "source": "milwaukee_wi",
        "time": "2018-05-01T00:15:13", "type": "SHOTS FIRED",
        "text": "caller heard four shots, one car leaving north",
        "caller_number": "+14145550123",
        "location": {"lat": 43.0813539, "lon": -87.9772074, "accuracy_m": 40,
                     "method": "handset"},
        "address": "N 51ST BL / W ROOSEVELT DR", "area": "MKE District 7",
    }),
    ("reports.raw.json", {
        "report_id": "A-2291-77", "source": "json", "channel": "app",
        "time": "2016-01-23T12:04:10-05:00", "type": "vehicle accident",
        "text": "two cars, one on its roof, driver not moving",
        "location": {"lat": 40.1213, "lon": -75.3431, "accuracy_m": 35},
        "address": "DEKALB PIKE & W MAIN ST", "area": "NORRISTOWN",
        "reporter": "+12155550123", "discipline": "EMS",
    }),
    ("reports.raw.sms", {
        "message_id": "SM-88213370", "sender": "+1 215 555 0123",
        "text": "car crash at dekalb pike and main, two hurt",
        "time": "2016-01-23T12:04:10-05:00",
        "location": {"lat": 40.1213, "lon": -75.3431, "accuracy_m": 60},
        "source": "montgomery_pa", "concat": {"ref": 17, "part": 1, "parts": 2},
    }),
    ("reports.raw.social", {
        "post_id": "1287654321098765432", "handle": "@someone",
        "text": "Huge fire on Main St right now, smoke everywhere",
        "language": "en", "time": "2013-06-21T14:02:11Z",
        "geotag": {"lat": 51.0447, "lon": -114.0719},
        "place_name": "Calgary, Alberta", "network": "twitter",
    }),
    ("reports.raw.app", {
        "report_id": "A-2291-78", "channel": "app",
        "time": "2016-01-23T12:04:10-05:00", "category": "Suspicious person",
        "text": "man trying car doors on elm st",
        "location": {"lat": 40.1213, "lon": -75.3431, "accuracy_m": 12},
        "media": ["https://media.example/p/8f3a.jpg", "upload:8f3b"],
        "reporter": "account-991", "source": "montgomery_pa",
    }),
    ("reports.raw.alarm", {
        "event_id": "4471-2231", "company": "Keystone Alarm",
        "time": "2016-01-23T03:12:40-05:00", "status": "new",
        "alarm_type": "smoke", "zone": 12,
        "zone_description": "2nd floor corridor smoke head",
        "premises": {"street": "1200 DEKALB PIKE", "city": "NORRISTOWN",
                     "state": "PA", "postal_code": "19401"},
        "location": {"lat": 40.131, "lon": -75.336},
        "permit": "AP-2016-0192", "callback": "+16105550100",
        "notes": "keyholder en route",
    }),
    ("reports.raw.gunshot", {
        "detection_id": "GS-88121", "time": "2016-01-23T03:40:02Z",
        "location": {"lat": 40.1152, "lon": -75.3446, "accuracy_m": 25},
        "rounds": 4, "vendor": "acme-acoustic",
        "classification": "multiple gunshots",
    }),
]

#: Names of coordinate fields, wherever they sit in a payload.
LATITUDES = frozenset({"lat", "latitude"})
LONGITUDES = frozenset({"lon", "lng", "longitude"})
#: Names of time fields.
TIMES = frozenset({"time", "timeStamp", "received", "updated", "update_time"})

Path = tuple[str | int, ...]
Fault = Callable[[random.Random, dict[str, Any]], bytes]


def leaves(value: Any, path: Path = ()) -> list[Path]:
    """Paths of every scalar inside a payload."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in leaves(v, (*path, i))]
    return [path]


def fields(value: Any, path: Path = ()) -> list[Path]:
    """Paths of every field of every object inside a payload."""
    found: list[Path] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found.append((*path, key))
            found.extend(fields(inner, (*path, key)))
    return found


def put(payload: Any, path: Path, value: Any) -> None:
    for step in path[:-1]:
        payload = payload[step]
    payload[path[-1]] = value


def drop(payload: Any, path: Path) -> None:
    for step in path[:-1]:
        payload = payload[step]
    del payload[path[-1]]


def encode(payload: Any) -> bytes:
    # The standard library writes NaN, Infinity and any integer: bad input too.
    return json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass")


def named(payload: dict[str, Any], names: frozenset[str]) -> list[Path]:
    return [p for p in leaves(payload) if p and p[-1] in names]


# --- the faults -------------------------------------------------------------------


def random_bytes(rng: random.Random, _: dict[str, Any]) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))


def truncated(rng: random.Random, payload: dict[str, Any]) -> bytes:
    raw = encode(payload)
    return raw[: rng.randrange(1, len(raw) - 1)]


def spoiled_bytes(rng: random.Random, payload: dict[str, Any]) -> bytes:
    """A few bytes somewhere replaced: broken JSON, or text that is not UTF-8."""
    raw = bytearray(encode(payload))
    for _ in range(rng.randrange(1, 4)):
        raw[rng.randrange(len(raw))] = rng.choice([0xFF, 0xFE, 0xC3, 0x80, 0x00])
    return bytes(raw)


def not_utf8_text(rng: random.Random, payload: dict[str, Any]) -> bytes:
    """Latin-1 bytes inside a string value: repairable, flagged."""
    texts = [p for p in leaves(payload) if isinstance(_get(payload, p), str)]
    marker = f"@@{rng.randrange(10**6)}@@"
    put(payload, rng.choice(texts), marker)
    return encode(payload).replace(marker.encode(), "Müller straße".encode("latin-1"))


def half_emoji(rng: random.Random, payload: dict[str, Any]) -> bytes:
    """A string holding half a surrogate pair, as an escape and as raw bytes."""
    texts = [p for p in leaves(payload) if isinstance(_get(payload, p), str)]
    path = rng.choice(texts)
    if rng.random() < 0.5:
        marker = f"@@{rng.randrange(10**6)}@@"
        put(payload, path, marker)
        return encode(payload).replace(marker.encode(), b"help \\ud83d now")
    put(payload, path, "help \ud83d now")
    return encode(payload)


def missing_field(rng: random.Random, payload: dict[str, Any]) -> bytes:
    drop(payload, rng.choice(fields(payload)))
    return encode(payload)


def wrong_type(rng: random.Random, payload: dict[str, Any]) -> bytes:
    wrong = [[], {}, True, None, 12.5, -1, "", "x" * 20, [1, 2], {"a": 1}]
    put(payload, rng.choice(fields(payload)), rng.choice(wrong))
    return encode(payload)


def bad_place(rng: random.Random, payload: dict[str, Any]) -> bytes:
    lats, lons = named(payload, LATITUDES), named(payload, LONGITUDES)
    if not lats or not lons:
        return wrong_type(rng, payload)
    lat, lon = lats[0], lons[0]
    original = (_get(payload, lat), _get(payload, lon))
    choice = rng.randrange(6)
    if choice == 0:
        values: tuple[Any, Any] = (0, 0)
    elif choice == 1:
        values = (rng.uniform(91, 1000), rng.uniform(181, 1000))
    elif choice == 2:
        values = (original[1], original[0])  # swapped
    elif choice == 3:
        values = (float("nan"), float("inf"))
    elif choice == 4:
        values = ("north", "-")
    else:
        values = (-original_float(original[0]), original[1])  # other hemisphere
    put(payload, lat, values[0])
    put(payload, lon, values[1])
    return encode(payload)


def bad_number(rng: random.Random, payload: dict[str, Any]) -> bytes:
    numbers = [p for p in leaves(payload) if isinstance(_get(payload, p), int | float)
               and not isinstance(_get(payload, p), bool)] or leaves(payload)
    put(payload, rng.choice(numbers), rng.choice(
        [float("nan"), float("inf"), float("-inf"), 10**30, -(10**30), 1e308]))
    return encode(payload)


def long_id(rng: random.Random, payload: dict[str, Any]) -> bytes:
    """An id as a number past 64 bits: must keep every digit (not a fault)."""
    ids = [p for p in leaves(payload) if p and str(p[-1]).endswith("id")]
    if not ids:
        return bad_number(rng, payload)
    put(payload, rng.choice(ids), rng.randrange(10**20, 10**25))
    return encode(payload)


def bad_time(rng: random.Random, payload: dict[str, Any]) -> bytes:
    times = named(payload, TIMES) or fields(payload)
    put(payload, rng.choice(times), rng.choice([
        "2999-01-01T00:00:00Z", "1850-06-01T12:00:00Z", "yesterday", "",
        "2016-13-45T25:61:00", "2016-03-13T02:30:00", "2016-11-06T01:30:00",
        "2016-03-13 02:30:00", 1453568400, "2016-01-23T12:00:00+25:00",
    ]))
    return encode(payload)


def too_deep(rng: random.Random, payload: dict[str, Any]) -> bytes:
    depth = rng.randrange(200, 2000)
    path = rng.choice(fields(payload))
    marker = f"@@{rng.randrange(10**6)}@@"
    put(payload, path, marker)
    return encode(payload).replace(f'"{marker}"'.encode(), b"[" * depth + b"]" * depth)


def oversized(rng: random.Random, payload: dict[str, Any]) -> bytes:
    texts = [p for p in leaves(payload) if isinstance(_get(payload, p), str)]
    put(payload, rng.choice(texts), "A" * rng.randrange(70_000, 300_000))
    return encode(payload)


def not_an_object(rng: random.Random, payload: dict[str, Any]) -> bytes:
    return encode(rng.choice([[payload], "report", 42, None, [], True]))


FAULTS: dict[str, Fault] = {
    "random_bytes": random_bytes,
    "truncated": truncated,
    "spoiled_bytes": spoiled_bytes,
    "not_utf8_text": not_utf8_text,
    "half_emoji": half_emoji,
    "missing_field": missing_field,
    "wrong_type": wrong_type,
    "bad_place": bad_place,
    "bad_number": bad_number,
    "long_id": long_id,
    "bad_time": bad_time,
    "too_deep": too_deep,
    "oversized": oversized,
    "not_an_object": not_an_object,
}


def build_corpus(count: int, seed: int = 1) -> list[tuple[str, bytes, str]]:
    """``count`` messages: (raw topic, bytes, fault name), the same for a seed.

    Every example meets every fault in turn.
    """
    rng = random.Random(seed)
    names = sorted(FAULTS)
    corpus = []
    for index in range(count):
        topic, example = EXAMPLES[index % len(EXAMPLES)]
        fault = names[(index // len(EXAMPLES)) % len(names)]
        payload = copy.deepcopy(example)
        corpus.append((topic, FAULTS[fault](rng, payload), fault))
    return corpus


def _get(payload: Any, path: Path) -> Any:
    for step in path:
        payload = payload[step]
    return payload


def original_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
