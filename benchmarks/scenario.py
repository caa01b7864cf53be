"""A seeded scenario of multi-channel raw reports with ground truth, and its scoring.

Measuring incident merging and reporter threading needs reports whose true
incident and true reporter are known. Real logs have neither, so this module
starts from real incidents and draws the messages a city would receive.

The model, step by step (every draw comes from one ``random.Random(seed)``):

1. Seed incidents. A contiguous window of ``incidents`` rows of the Montgomery
   County 911 log (``../shared/data/montgomery_911``), starting at a uniformly
   drawn row. Each row is one true incident: its point (``lat``, ``lng``), its
   time (the call time inside ``desc``, else ``timeStamp``; America/New_York)
   and its kind (the title's type text through ``models/incident_types.yaml``).
   The county posts one row per responding discipline, so a row at the same
   coordinates as a kept row less than ``echo_window_s`` (30 min) earlier is the
   same incident again and is skipped; so are rows without a point in the
   service area. Each discipline's record is geocoded from its own form of
   the address (a road, then the corner of that road), so one event is also
   posted at two points: a row of a kept row's call type posted by another
   discipline within ``echo_type_window_s`` (10 min) and ``echo_other_m``
   (1 km) of it, or by the same discipline within ``echo_same_m`` (200 m),
   is that incident again and is skipped. In the log, rows of one call type
   within 10 min, at two points up to 1 km apart and posted by two
   disciplines, are 1,459 pairs; at the same hours a day or two apart, 48
   (by the same discipline within 200 m: 385 and 15; ``echo_pairs``, printed
   by ``python -m benchmarks.scenario``). Before this rule such
   a pair was two true incidents, each with its own callers, and a matcher
   that joined the two was counted wrong (seeds 1-5 at 6969c14: incident F1
   0.9534/0.9491/0.9508/0.9530/0.9524 before the rule, 0.9578/0.9578/
   0.9613/0.9564/0.9636 after).
2. Distractors, each its own true incident: with probability ``p_near_other``
   (0.3) an incident of another kind (the title of a random log row) 100-1,500 m
   away and up to 20 min apart; with ``p_far_same`` (0.15) the same kind
   2-10 km away within 15 min; with ``p_later_same`` (0.1) the same kind within
   60 m, 2-8 h later. The first two have no street address of their own;
   their town (what their posts name) is the township of the log's nearest
   point to where they are, as a witness there would name it.
3. Callers. Serious incidents (kind priority <= ``serious_priority``, 2: e.g.
   collisions, fires, shootings, cardiac arrest, but also ``medical_urgent``) get
   2-6 callers (weights 35/30/20/10/5); others 1-2 (80/20). A caller's delay
   after the incident time is exponential (mean 120 s) capped at 10 min. One
   caller in ``p_sms_first`` (0.05) texts instead of calling.
4. Call location (per call): ``handset`` 55 %, ``network`` 20 %, ``civic``
   (landline or VoIP address, geocoded within 15 m) 10 %, no fix 15 % (the
   ``location`` object is omitted). Without a fix the call-taker types the
   address the caller gives, as a CAD record holds it: the incident's street
   address, for ``p_spoken_address`` (0.8) of such calls when the log row has
   one; the others say they cannot tell. The error distance is a three-part mixture
   pinned to the FCC E911 Phase II figures (47 CFR 20.18(h), the county-level
   benchmark of 67 % and 80 %): handset within 50 m for 67 % and 150 m for 80 %
   of calls, network within 100 m and 300 m. With probability 0.67 the distance
   is Rayleigh (sigma = r67 / 2) truncated to r67; with 0.13 it is uniform over
   the annulus r67..r80; with 0.20 it is r80 plus an exponential of mean r80,
   capped at 3 km. The bearing is uniform. ``accuracy_m``, the uncertainty
   radius the network reports, is the true error times a log-normal factor
   (median 1.3, sigma 0.4 in log space), at least 5 m (handset) or 30 m
   (network), rounded to a metre.
5. SMS follow-ups. A caller sends texts from the same number with probability
   ``p_sms_follow_up`` (0.25): 1-2 messages, 2-15 min after the call, half of
   them with a fresh handset fix. The sender is spelt with spaces
   (``+1 555 123 4567``), the call's ``caller_number`` without; both normalize
   to one reporter token. Numbers use area code 555, which no region has.
6. Social posts. With probability 0.3 (serious) or 0.05 (other) an incident
   gets 1-2 authors, each posting 1-2 times 2-30 min after the incident, with a
   place name (township) and never a geotag. The text is a labelled real post
   (``disaster_tweets/train.csv``, ``target = 1``) whose keyword fits the kind
   when there is one, else one of our templates naming the type and street.
7. App tips. With probability 0.15 (serious) or 0.05 (other) one account sends
   a tip 1-15 min after the incident with a GPS fix: Rayleigh error of sigma
   8 m, ``accuracy_m`` the error times the log-normal factor, at least 5 m.
8. People across channels. A social author calls too, from a phone number,
   1-10 min after their first post, with probability ``p_author_calls``
   (0.35): one thread, two identities. Every witness (caller, texter, author,
   tipster) mentions something they noticed with probability ``p_detail``
   (0.7), drawn from 40 ``SEEN_DETAILS`` ("a blue pickup", "by the gas
   station") and appended to each of their texts on every channel: what a
   person repeats when they report twice, and what lets a post and a call be
   linked to one person (two witnesses of one incident share a detail by
   chance 1 time in 40).
9. Posts about no emergency. A social feed that listens to a service area
   hears mostly posts that report nothing: "my car is on fire lol", "just had
   lunch". ``distractor_posts`` (1.35) of them per post about an incident,
   each from a handle of its own at a uniformly drawn time over the
   scenario's span, naming the town of a random seed incident (its point is
   the incident's truth, never sent). The text is a real post labelled not
   relevant that the shipped relevance classifiers never learnt
   (``benchmarks/train_relevance.py``: ``unlearnt_posts``), so the gate meets
   it as it would a live post: a keyword-collected disaster tweet with
   ``target = 0`` with probability ``p_distractor_keyword`` (0.5), else a
   CrisisLexT6 post labelled off-topic. 1.35 is the share in the keyword-
   collected disaster_tweets (3,468 not relevant against 2,576 relevant):
   what a feed filtered by disaster words gets; a feed filtered by place
   alone would get more. Each is its own true incident (role
   ``no_emergency``) and its own thread; the draws come after every other,
   so steps 1-8 give the same messages with or without them.

Every message's source is ``montgomery_pa`` (zone and service area of the log);
its truth is the true incident, the reporter thread (one phone number, handle or
account) and the report id the parser will give it (``montgomery_pa:<call_id>``,
``sms:montgomery_pa:<message_id>``, ``social:...``, ``app:...``). Every id starts
with ``s<seed>-``, so scenarios of two seeds never share one.

``pairwise_scores`` scores a clustering against that truth; ``baseline_clusters``
is the rule "same place within 80 m and 10 minutes".

    >>> truth = {"a": "1", "b": "1", "c": "2"}
    >>> pairwise_scores({"a": "x", "b": "x", "c": "x"}, truth).f1
    0.5
"""

from __future__ import annotations

import argparse
import bisect
import csv
import functools
import json
import math
import random
import re
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from agents.resources import Models, load_models, read_yaml
from agents.settings import ROOT, Settings
from benchmarks.train_relevance import unlearnt_posts
from pipeline.geo import distance_m
from pipeline.kinds import KindTable
from pipeline.localtime import local_to_utc_ms, zone
from pipeline.schema import Report

SHARED_DATA = ROOT.parent / "shared" / "data"
MONTGOMERY_LOG = Path("montgomery_911") / "calls_2015-12-10_to_2016-05-31.csv"
TWEETS = Path("disaster_tweets") / "train.csv"
SOURCE = "montgomery_pa"
ZONE = "America/New_York"
TOPICS = {"call": "reports.raw.call", "sms": "reports.raw.sms",
          "social": "reports.raw.social", "app": "reports.raw.app"}
#: Montgomery County's service area (models/service_areas.yaml), kept inside.
BOX = (39.85, -75.90, 40.65, -74.85)
M_PER_DEG = 111_320.0
#: The grid that finds the township of a point (about 1.1 km a cell), and
#: how many cells around it are searched for the log's nearest point.
TOWN_CELL_DEG = 0.01
TOWN_SEARCH_CELLS = 2
_CALL_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}) @ (\d{2}:\d{2}:\d{2})")

#: disaster_tweets keywords whose posts can describe an incident of each kind.
KIND_KEYWORDS: dict[str, tuple[str, ...]] = {
    "collision": ("accident", "collided", "collision", "crash", "crashed", "wreck"),
    "structure_fire": ("buildings on fire", "buildings burning", "burning buildings",
                       "ablaze", "engulfed", "explosion"),
    "fire": ("fire", "flames", "blaze", "smoke"),
    "vehicle_fire": ("fire", "flames", "ablaze"),
    "shooting": ("weapon", "weapons", "wounded"),
    "weapons": ("weapon", "weapons", "wounded"),
    "assault": ("attack", "attacked"),
    "hazmat": ("hazardous", "chemical emergency"),
    "rescue": ("rescue", "rescued", "rescuers", "trapped"),
    "mass_casualty": ("casualties", "collapse", "derailment"),
    "medical_trauma": ("injured", "injury", "injuries"),
    "burn": ("electrocuted", "burned"),
}
#: Texts naming the incident's type and street address; the second of each
#: pair is what the same person says when the log row has no address (they
#: name no place: a call-taker types no placeholder).
_POST_TEMPLATES = (("{type} on {addr} right now", "{type} right now"),
                   ("looks like a {type} near {addr}", "looks like a {type} nearby"),
                   ("{type} at {addr}, lots of lights", "{type}, lots of lights"),
                   ("anyone know what's going on at {addr}? {type}",
                    "anyone know what's going on? {type}"))
_CALL_TEXTS = (("caller reports {type} at {addr}", "caller reports {type}"),
               ("{type}, caller on scene", "{type}, caller on scene"),
               ("passer-by reports {type} near {addr}", "passer-by reports {type}"),
               ("{type}; caller unsure of exact location",
                "{type}; caller unsure of exact location"))
_SMS_FIRST = (("{type} at {addr} cant talk", "{type} cant talk"),
              ("need help {type} {addr}", "need help {type}"))
#: What one witness noticed and says again on every channel they use.
SEEN_DETAILS = (
    "a blue pickup", "a white van", "a red sedan", "a silver minivan",
    "a black motorcycle", "a yellow school bus", "a green dumpster",
    "by the gas station", "outside the pharmacy", "near the bus shelter",
    "next to the laundromat", "behind the church", "across from the diner",
    "by the pizza place", "at the car wash", "near the playground",
    "a man in a green jacket", "a woman with a stroller", "an older man limping",
    "two teenagers on bikes", "a dog running loose", "a guy in a hoodie",
    "smoke from the back windows", "glass all over the lane", "the signal is out",
    "a loud bang first", "sparks from the wires", "a strong gas smell",
    "the hood is crumpled", "an airbag went off", "someone yelling for help",
    "a ladder truck arriving", "the power went out", "a fence knocked down",
    "water pouring out", "a trailer jackknifed", "the mailbox flattened",
    "a tree down too", "people filming on phones", "a kid crying",
)
_SMS_FOLLOW_UPS = ("still here, nobody has arrived", "they are not moving",
                   "i moved across the street", "it is getting worse",
                   "police just got here", "is someone coming?")


#: A day, in milliseconds.
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class FixAccuracy:
    """Distances within which 67 % and 80 % of fixes fall, and the least radius."""

    r67_m: float
    r80_m: float
    floor_m: float


HANDSET = FixAccuracy(50.0, 150.0, 5.0)
NETWORK = FixAccuracy(100.0, 300.0, 30.0)


@dataclass(frozen=True)
class ScenarioParams:
    """Every probability and range of the model (module docstring, steps 1-9)."""

    echo_window_s: float = 1800.0
    #: A row of a kept row's call type this close in time is that incident
    #: again when it lies within ``echo_other_m`` and another discipline
    #: posted it, or within ``echo_same_m`` (step 1).
    echo_type_window_s: float = 600.0
    echo_other_m: float = 1000.0
    echo_same_m: float = 200.0
    p_near_other: float = 0.3
    p_far_same: float = 0.15
    p_later_same: float = 0.1
    serious_priority: int = 2
    serious_callers: tuple[int, ...] = (0, 0, 35, 30, 20, 10, 5)
    other_callers: tuple[int, ...] = (0, 80, 20)
    caller_delay_mean_s: float = 120.0
    caller_delay_max_s: float = 600.0
    p_sms_first: float = 0.05
    #: handset, network, civic; the rest has no fix.
    fix_methods: tuple[float, float, float] = (0.55, 0.20, 0.10)
    #: A call without a fix whose caller names the address.
    p_spoken_address: float = 0.8
    #: A witness who mentions something they noticed (``SEEN_DETAILS``), the
    #: same on every channel they use.
    p_detail: float = 0.7
    #: A social author who also calls 1-10 min after their first post.
    p_author_calls: float = 0.35
    p_sms_follow_up: float = 0.25
    p_social: tuple[float, float] = (0.3, 0.05)
    p_app: tuple[float, float] = (0.15, 0.05)
    #: Posts about no emergency per post about an incident (step 9)...
    distractor_posts: float = 1.35
    #: ...drawn from the keyword-collected disaster tweets with this
    #: probability, else from the CrisisLexT6 off-topic posts.
    p_distractor_keyword: float = 0.5
    handset: FixAccuracy = HANDSET
    network: FixAccuracy = NETWORK


@dataclass(frozen=True, slots=True)
class Truth:
    incident_id: str
    thread_id: str
    report_id: str


@dataclass(frozen=True, slots=True)
class ScenarioMessage:
    """One raw message as a producer sends it, with what it truly belongs to."""

    topic: str
    key: bytes
    value: bytes
    event_ms: int
    truth: Truth


@dataclass(frozen=True, slots=True)
class TrueIncident:
    incident_id: str
    kind: str
    type_text: str
    lat: float
    lon: float
    event_ms: int
    #: seed, near_other, far_same, later_same or no_emergency.
    role: str
    log_row: int


@dataclass
class Scenario:
    seed: int
    incidents: list[TrueIncident]
    messages: list[ScenarioMessage]

    def truth(self) -> dict[str, Truth]:
        return {m.truth.report_id: m.truth for m in self.messages}

    def counts(self) -> dict[str, Any]:
        """Messages per channel, reports per incident and the share with no fix."""
        by_topic = Counter(m.topic.rsplit(".", 1)[1] for m in self.messages)
        unlocated = sum(b'"location"' not in m.value and b'"geotag"' not in m.value
                        for m in self.messages)
        total = len(self.messages)
        return {"messages": total, "by_channel": dict(sorted(by_topic.items())),
                "incidents": len(self.incidents),
                "seed_incidents": sum(i.role == "seed" for i in self.incidents),
                "reports_per_incident": round(total / max(1, len(self.incidents)), 2),
                "share_without_fix": round(unlocated / max(1, total), 3)}


@dataclass(frozen=True, slots=True)
class _Row:
    index: int
    lat: float
    lon: float
    event_ms: int
    type_text: str
    kind: str
    priority: int
    addr: str
    twp: str
    #: The discipline that posted the row: "EMS", "Fire" or "Traffic".
    discipline: str = ""


def generate(seed: int, incidents: int, params: ScenarioParams | None = None,
             data: Path = SHARED_DATA, models_dir: Path = ROOT / "models"
             ) -> Scenario:
    """The scenario of ``incidents`` seed incidents drawn with ``seed``."""
    rows = _log_rows(data / MONTGOMERY_LOG, models_dir)
    if not 0 < incidents <= len(rows) // 2:
        raise ValueError(f"incidents must be 1..{len(rows) // 2}, not {incidents}")
    builder = _Builder(random.Random(seed), seed, params or ScenarioParams(),
                       rows, _tweets(data / TWEETS))
    builder.draw(incidents)
    builder.chatter(*_not_relevant(data))
    builder.messages.sort(key=lambda m: (m.event_ms, m.truth.report_id))
    return Scenario(seed, builder.incidents, builder.messages)


def write_jsonl(scenario: Scenario, directory: Path) -> tuple[Path, Path]:
    """``messages.jsonl`` (raw message and truth, time order), ``incidents.jsonl``."""
    directory.mkdir(parents=True, exist_ok=True)
    messages = directory / "messages.jsonl"
    with messages.open("wb") as out:
        for m in scenario.messages:
            out.write(orjson.dumps({
                "topic": m.topic, "key": m.key.decode(), "value": m.value.decode(),
                "event_ms": m.event_ms, "incident_id": m.truth.incident_id,
                "thread_id": m.truth.thread_id, "report_id": m.truth.report_id,
            }) + b"\n")
    truth = directory / "incidents.jsonl"
    with truth.open("wb") as out:
        for incident in scenario.incidents:
            out.write(orjson.dumps(incident) + b"\n")
    return messages, truth


def draw_error_m(rng: random.Random, fix: FixAccuracy) -> float:
    """A wireless fix's error distance: 67 % within r67, 80 % within r80."""
    u = rng.random()
    if u < 0.67:
        sigma = fix.r67_m / 2
        tail = 1 - math.exp(-fix.r67_m ** 2 / (2 * sigma ** 2))
        return sigma * math.sqrt(-2 * math.log(1 - rng.random() * tail))
    if u < 0.80:
        return math.sqrt(fix.r67_m ** 2
                         + rng.random() * (fix.r80_m ** 2 - fix.r67_m ** 2))
    return min(3000.0, fix.r80_m + rng.expovariate(1 / fix.r80_m))


def moved(lat: float, lon: float, distance: float, bearing: float
          ) -> tuple[float, float]:
    """The point ``distance`` metres from (lat, lon) on ``bearing`` (radians)."""
    north, east = distance * math.cos(bearing), distance * math.sin(bearing)
    return (lat + north / M_PER_DEG,
            lon + east / (M_PER_DEG * math.cos(math.radians(lat))))


class _Builder:
    """The draws of one scenario; ``messages`` and ``incidents`` grow as it runs."""

    def __init__(self, rng: random.Random, seed: int, params: ScenarioParams,
                 rows: list[_Row], tweets: dict[str, list[str]]):
        self.rng, self.params, self.rows = rng, params, rows
        self.posts = {kind: [text for keyword in keywords
                             for text in tweets.get(keyword, ())]
                      for kind, keywords in KIND_KEYWORDS.items()}
        self.prefix = f"s{seed}"
        self.incidents: list[TrueIncident] = []
        self.messages: list[ScenarioMessage] = []
        self._ids: Counter[str] = Counter()
        self.details: dict[str, str] = {}
        #: The log rows of the seed incidents: where posts about nothing come
        #: from.
        self.seed_rows: list[_Row] = []
        #: Grid cell -> {log point: its township}, built on first use.
        self._towns: dict[tuple[int, int], dict[tuple[float, float], str]] | None = None

    def _next(self, what: str) -> str:
        self._ids[what] += 1
        return f"{self.prefix}-{what}{self._ids[what]:06d}"

    def draw(self, count: int) -> None:
        rng, p = self.rng, self.params
        start = rng.randrange(len(self.rows) - 2 * count)
        kept: dict[tuple[float, float], int] = {}
        recent: list[_Row] = []
        seeds = 0
        for row in self.rows[start:]:
            if seeds >= count:
                break
            last = kept.get((row.lat, row.lon))
            if last is not None and row.event_ms - last < p.echo_window_s * 1000:
                continue
            recent = [r for r in recent if row.event_ms - r.event_ms
                      <= 2 * p.echo_type_window_s * 1000]
            if any(_echoes(row, r, p) for r in recent):
                continue
            recent.append(row)
            kept[(row.lat, row.lon)] = row.event_ms
            self._incident(row, row.lat, row.lon, row.event_ms, "seed")
            self.seed_rows.append(row)
            seeds += 1
            self._distractors(row)

    def chatter(self, keyword: list[str], off_topic: list[str]) -> None:
        """Posts about no emergency (module docstring, step 9)."""
        rng, p = self.rng, self.params
        posts = sum(m.topic == TOPICS["social"] for m in self.messages)
        if not posts or not self.seed_rows:
            return
        first_ms = min(i.event_ms for i in self.incidents)
        last_ms = max(i.event_ms for i in self.incidents)
        for _ in range(round(posts * p.distractor_posts)):
            row = rng.choice(self.seed_rows)
            at_ms = first_ms + int(rng.uniform(0, (last_ms - first_ms) / 1000)) * 1000
            incident = TrueIncident(self._next("i"), "other", "", row.lat, row.lon,
                                    at_ms, "no_emergency", row.index)
            self.incidents.append(incident)
            pool = keyword if rng.random() < p.p_distractor_keyword else off_topic
            handle, thread = f"@{self._next('user')}", self._next("r")
            self._post(incident, thread, handle, at_ms, row, rng.choice(pool))

    def _distractors(self, row: _Row) -> None:
        rng, p = self.rng, self.params
        if rng.random() < p.p_near_other:
            other = rng.choice(self.rows)
            if other.kind != row.kind:
                lat, lon = moved(row.lat, row.lon, rng.uniform(100, 1500),
                                 rng.uniform(0, 2 * math.pi))
                shift = int(rng.uniform(-1200, 1200)) * 1000
                near = replace(other, addr="", twp=self.town_at(lat, lon))
                self._incident(near, lat, lon, row.event_ms + shift, "near_other")
        if rng.random() < p.p_far_same:
            lat, lon = moved(row.lat, row.lon, rng.uniform(2000, 10_000),
                             rng.uniform(0, 2 * math.pi))
            shift = int(rng.uniform(-900, 900)) * 1000
            far = replace(row, addr="", twp=self.town_at(lat, lon))
            self._incident(far, lat, lon, row.event_ms + shift, "far_same")
        if rng.random() < p.p_later_same:
            lat, lon = moved(row.lat, row.lon, rng.uniform(0, 60),
                             rng.uniform(0, 2 * math.pi))
            shift = int(rng.uniform(2 * 3600, 8 * 3600)) * 1000
            self._incident(row, lat, lon, row.event_ms + shift, "later_same")

    def town_at(self, lat: float, lon: float) -> str:
        """The township of the log's nearest point to (lat, lon), within
        ``TOWN_SEARCH_CELLS`` grid cells; "" when none is that near."""
        if self._towns is None:
            self._towns = {}
            for row in self.rows:
                if row.twp:
                    cell = (math.floor(row.lat / TOWN_CELL_DEG),
                            math.floor(row.lon / TOWN_CELL_DEG))
                    # A point the log gives two towns keeps the first.
                    self._towns.setdefault(cell, {}).setdefault(
                        (row.lat, row.lon), row.twp)
        here = (math.floor(lat / TOWN_CELL_DEG), math.floor(lon / TOWN_CELL_DEG))
        reach = range(-TOWN_SEARCH_CELLS, TOWN_SEARCH_CELLS + 1)
        near = [(distance_m(lat, lon, *point), town)
                for i in reach for j in reach
                for point, town in self._towns.get(
                    (here[0] + i, here[1] + j), {}).items()]
        return min(near)[1] if near else ""

    def _incident(self, row: _Row, lat: float, lon: float, event_ms: int,
                  role: str) -> None:
        if not (BOX[0] < lat < BOX[2] and BOX[1] < lon < BOX[3]):
            return
        rng, p = self.rng, self.params
        incident = TrueIncident(self._next("i"), row.kind, row.type_text, lat, lon,
                                event_ms, role, row.index)
        self.incidents.append(incident)
        serious = row.priority <= p.serious_priority

        # Callers (some text first), each perhaps texting again later.
        weights = p.serious_callers if serious else p.other_callers
        callers = rng.choices(range(len(weights)), weights=weights)[0]
        for _ in range(callers):
            number = f"+1555{self._ids['phone']:07d}"
            self._ids["phone"] += 1
            thread = self._next("r")
            delay = min(p.caller_delay_max_s,
                        rng.expovariate(1 / p.caller_delay_mean_s))
            at_ms = event_ms + int(delay) * 1000
            if rng.random() < p.p_sms_first:
                self._sms(incident, thread, number, at_ms, row, first=True)
            else:
                self._call(incident, thread, number, at_ms, row)
            if rng.random() < p.p_sms_follow_up:
                for _ in range(rng.randint(1, 2)):
                    at_ms += int(rng.uniform(120, 900)) * 1000
                    self._sms(incident, thread, number, at_ms, row, first=False)

        # Posts and tips.
        if rng.random() < p.p_social[0 if serious else 1]:
            for _ in range(rng.randint(1, 2)):
                handle, thread = f"@{self._next('user')}", self._next("r")
                first_ms = None
                for _ in range(rng.randint(1, 2)):
                    at_ms = event_ms + int(rng.uniform(120, 1800)) * 1000
                    first_ms = at_ms if first_ms is None else min(first_ms, at_ms)
                    self._post(incident, thread, handle, at_ms, row)
                if first_ms is not None and rng.random() < p.p_author_calls:
                    # The same person, now on the phone: another identity.
                    number = f"+1555{self._ids['phone']:07d}"
                    self._ids["phone"] += 1
                    at_ms = first_ms + int(rng.uniform(60, 600)) * 1000
                    self._call(incident, thread, number, at_ms, row)
        if rng.random() < p.p_app[0 if serious else 1]:
            at_ms = event_ms + int(rng.uniform(60, 900)) * 1000
            self._tip(incident, self._next("r"), self._next("acct"), at_ms, row)

    def _fix(self, incident: TrueIncident, error: float, floor: float,
             method: str = "") -> dict[str, Any]:
        """A fix ``error`` metres off the incident, with its reported radius."""
        rng = self.rng
        lat, lon = moved(incident.lat, incident.lon, error, rng.uniform(0, 2 * math.pi))
        reported = max(floor, round(error * math.exp(rng.gauss(math.log(1.3), 0.4))))
        fix: dict[str, Any] = {"lat": round(lat, 7), "lon": round(lon, 7),
                               "accuracy_m": reported}
        if method:
            fix["method"] = method
        return fix

    def _call(self, incident: TrueIncident, thread: str, number: str, at_ms: int,
              row: _Row) -> None:
        rng, p = self.rng, self.params
        call_id = self._next("call")
        payload: dict[str, Any] = {
            "call_id": call_id, "source": SOURCE, "time": _iso(at_ms),
            "type": row.type_text, "caller_number": number,
            "text": self._say(thread, _said(rng.choice(_CALL_TEXTS), row)),
        }
        method = rng.choices(("handset", "network", "civic", ""),
                             weights=(*p.fix_methods, 1 - sum(p.fix_methods)))[0]
        if method in ("handset", "network"):
            accuracy = p.handset if method == "handset" else p.network
            payload["location"] = self._fix(
                incident, draw_error_m(rng, accuracy), accuracy.floor_m, method)
        elif method == "civic":
            payload["location"] = self._fix(incident, rng.uniform(0, 15), 10.0, method)
            if row.addr:
                payload["address"] = row.addr
        elif row.addr and rng.random() < p.p_spoken_address:
            payload["address"] = row.addr
        self._emit("call", call_id, payload, at_ms,
                   Truth(incident.incident_id, thread, f"{SOURCE}:{call_id}"))

    def _sms(self, incident: TrueIncident, thread: str, number: str, at_ms: int,
             row: _Row, first: bool) -> None:
        rng = self.rng
        message_id = self._next("sm")
        text = self._say(thread, _said(rng.choice(_SMS_FIRST), row)
            if first else rng.choice(_SMS_FOLLOW_UPS))
        spelt = f"+1 {number[2:5]} {number[5:8]} {number[8:]}"
        payload: dict[str, Any] = {"message_id": message_id, "sender": spelt,
                                   "text": text, "time": _iso(at_ms), "source": SOURCE}
        if rng.random() < 0.5:
            handset = self.params.handset
            payload["location"] = self._fix(
                incident, draw_error_m(rng, handset), handset.floor_m)
        self._emit("sms", message_id, payload, at_ms,
                   Truth(incident.incident_id, thread, f"sms:{SOURCE}:{message_id}"))

    def _post(self, incident: TrueIncident, thread: str, handle: str, at_ms: int,
              row: _Row, text: str = "") -> None:
        """A post from ``row``'s town: ``text``, or one about the incident."""
        rng = self.rng
        post_id = self._next("post")
        if not text:
            texts = self.posts.get(row.kind)
            text = self._say(thread, rng.choice(texts) if texts else _said(
                rng.choice(_POST_TEMPLATES), row, title=True))
        place = f"{row.twp.title()}, PA" if row.twp else "Montgomery County, PA"
        payload = {"post_id": post_id, "handle": handle, "text": text,
                   "language": "en", "time": _iso(at_ms), "place_name": place,
                   "network": "twitter", "source": SOURCE}
        self._emit("social", post_id, payload, at_ms,
                   Truth(incident.incident_id, thread, f"social:{SOURCE}:{post_id}"))

    def _tip(self, incident: TrueIncident, thread: str, account: str, at_ms: int,
             row: _Row) -> None:
        tip_id = self._next("tip")
        # A phone's own GPS: an isotropic normal error of 8 m per axis.
        error = 8.0 * math.sqrt(-2 * math.log(1 - self.rng.random()))
        payload = {"report_id": tip_id, "channel": "app", "time": _iso(at_ms),
                   "category": row.type_text.title(), "reporter": account,
                   "text": self._say(thread, row.type_text.lower()),
                   "location": self._fix(incident, error, 5.0), "source": SOURCE}
        self._emit("app", tip_id, payload, at_ms,
                   Truth(incident.incident_id, thread, f"app:{SOURCE}:{tip_id}"))

    def _say(self, thread: str, text: str) -> str:
        """A witness's text, with what they noticed when they mention it."""
        if thread not in self.details:
            self.details[thread] = (self.rng.choice(SEEN_DETAILS)
                                    if self.rng.random() < self.params.p_detail
                                    else "")
        detail = self.details[thread]
        return f"{text}; {detail}" if detail else text

    def _emit(self, channel: str, key: str, payload: dict[str, Any], at_ms: int,
              truth: Truth) -> None:
        self.messages.append(ScenarioMessage(
            TOPICS[channel], key.encode(), orjson.dumps(payload), at_ms, truth))


def _said(templates: tuple[str, str], row: _Row, title: bool = False) -> str:
    """A template's text for ``row``: its type and address, or without one."""
    addr = row.addr.title() if title else row.addr.lower()
    return templates[0 if addr else 1].format(type=row.type_text.lower(), addr=addr)


def _iso(at_ms: int) -> str:
    moment = datetime.fromtimestamp(at_ms / 1000, tz=zone(ZONE))
    return moment.isoformat(timespec="seconds")


def _echoes(row: _Row, kept: _Row, p: ScenarioParams) -> bool:
    """Whether ``row`` is the incident of ``kept`` posted again: its call
    type, close in time, at another form of its address (step 1)."""
    if (row.type_text != kept.type_text
            or abs(row.event_ms - kept.event_ms) > p.echo_type_window_s * 1000):
        return False
    reach = p.echo_other_m if row.discipline != kept.discipline else p.echo_same_m
    return distance_m(row.lat, row.lon, kept.lat, kept.lon) <= reach


def echo_pairs(rows: Iterable[_Row], p: ScenarioParams, shift_days: int = 0
               ) -> tuple[int, int]:
    """The pairs of log rows at two points that ``_echoes`` takes for one
    event posted twice: (by two disciplines, by one). With ``shift_days``,
    the pairs it would take if the second row were that many days earlier:
    what the same hours on another day give by chance."""
    ordered = sorted(rows, key=lambda r: (r.event_ms, r.index))
    times = [r.event_ms for r in ordered]
    window_ms, shift_ms = p.echo_type_window_s * 1000, shift_days * DAY_MS
    other = same = 0
    for at, row in enumerate(ordered):
        low = bisect.bisect_left(times, row.event_ms + shift_ms - window_ms)
        high = bisect.bisect_right(times, row.event_ms + shift_ms + window_ms)
        for later in ordered[max(low, at + 1) if not shift_days else low:high]:
            if (later.lat, later.lon) == (row.lat, row.lon):
                continue
            if _echoes(later, replace(row, event_ms=row.event_ms + shift_ms), p):
                if later.discipline != row.discipline:
                    other += 1
                else:
                    same += 1
    return other, same


@functools.cache
def _log_rows(path: Path, models_dir: Path) -> list[_Row]:
    """The log's rows with a point in the service area and a readable time."""
    kinds = KindTable.from_config(read_yaml(models_dir / "incident_types.yaml"))
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            try:
                lat, lon = float(row["lat"]), float(row["lng"])
            except ValueError:
                continue
            if not (BOX[0] < lat < BOX[2] and BOX[1] < lon < BOX[3]):
                continue
            found = _CALL_TIME.search(row["desc"])
            stamp = f"{found[1]} {found[2]}" if found else row["timeStamp"]
            event_ms = local_to_utc_ms(stamp, ZONE)[0]
            type_text = row["title"].partition(":")[2].strip().rstrip("-").strip()
            kind = kinds.classify(type_text)
            rows.append(_Row(index, lat, lon, event_ms, type_text, kind,
                             kinds.get(kind).priority, row["addr"], row["twp"],
                             row["title"].partition(":")[0].strip()))
    return rows


@functools.cache
def _not_relevant(data: Path) -> tuple[list[str], list[str]]:
    """Texts of the posts labelled not relevant that the relevance classifiers
    never learnt: keyword-collected disaster tweets, CrisisLexT6 off-topic."""
    tweets, crisis = unlearnt_posts(data)
    return ([text for text, relevant in tweets if not relevant and text.strip()],
            [text for text, relevant in crisis if not relevant and text.strip()])


@functools.cache
def _tweets(path: Path) -> dict[str, list[str]]:
    """Texts of the posts labelled as real disasters, by their keyword."""
    by_keyword: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["target"] == "1" and row["text"].strip():
                keyword = row["keyword"].replace("%20", " ")
                by_keyword.setdefault(keyword, []).append(row["text"])
    return by_keyword


@dataclass(frozen=True, slots=True)
class PairScores:
    """Pairwise scores: pairs of reports put together, against the true pairs."""

    precision: float
    recall: float
    f1: float
    correct_pairs: int
    predicted_pairs: int
    true_pairs: int


def pairwise_scores(predicted: Mapping[str, str], truth: Mapping[str, str]
                    ) -> PairScores:
    """Score ``predicted`` (report id -> cluster) against ``truth`` (-> incident).

    Only reports in ``truth`` count; one missing from ``predicted`` is alone.
    Pairs are counted per cluster, never listed: n reports together make
    n (n - 1) / 2 pairs.
    """
    cells: Counter[tuple[str, str]] = Counter()
    clusters: Counter[str] = Counter()
    for report_id, incident in truth.items():
        cluster = predicted.get(report_id, "\x00" + report_id)
        cells[(cluster, incident)] += 1
        clusters[cluster] += 1
    correct = sum(_pairs(n) for n in cells.values())
    made = sum(_pairs(n) for n in clusters.values())
    real = sum(_pairs(n) for n in Counter(truth.values()).values())
    precision = correct / made if made else 1.0
    recall = correct / real if real else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairScores(precision, recall, f1, correct, made, real)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def baseline_clusters(reports: Iterable[Report], radius_m: float = 80.0,
                      window_s: float = 600.0) -> dict[str, str]:
    """Single-link clusters of reports within ``radius_m`` and ``window_s``.

    A report without a point is a cluster of its own. A cluster is named by
    the id of its earliest report. Grid cells at least ``radius_m`` wide, and a
    time-ordered queue per cell, keep the search near linear.
    """
    ordered = sorted(reports, key=lambda r: (r.event_ms, r.report_id))
    placed = [r for r in ordered if r.has_point]
    parent = {r.report_id: r.report_id for r in ordered}
    order = {r.report_id: n for n, r in enumerate(ordered)}
    if placed:
        widest = max(abs(r.lat or 0.0) for r in placed)
        cell_lat = radius_m / M_PER_DEG
        cell_lon = cell_lat / max(0.01, math.cos(math.radians(min(89.0, widest))))
    grid: dict[tuple[int, int], deque[Report]] = {}
    for report in placed:
        lat, lon = report.lat or 0.0, report.lon or 0.0
        row, col = math.floor(lat / cell_lat), math.floor(lon / cell_lon)
        for cell in ((row + i, col + j) for i in (-1, 0, 1) for j in (-1, 0, 1)):
            queue = grid.get(cell)
            if not queue:
                continue
            while queue and report.event_ms - queue[0].event_ms > window_s * 1000:
                queue.popleft()
            for other in queue:
                if distance_m(lat, lon, other.lat or 0.0, other.lon or 0.0) <= radius_m:
                    union(parent, order, report.report_id, other.report_id)
        grid.setdefault((row, col), deque()).append(report)
    return {r.report_id: root(parent, r.report_id) for r in ordered}


def root(parent: dict[str, str], node: str) -> str:
    """The name of ``node``'s set (union-find, with path halving)."""
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node


def union(parent: dict[str, str], order: dict[str, int], a: str, b: str) -> None:
    """Join the sets of ``a`` and ``b``, named by the earliest of them."""
    ra, rb = root(parent, a), root(parent, b)
    if ra != rb:
        # The root is always the earliest report, which names the cluster.
        first, later = sorted((ra, rb), key=order.__getitem__)
        parent[later] = first


def stream_options(doc: str, argv: list[str] | None = None
                   ) -> tuple[argparse.Namespace, Models]:
    """The ``--seed`` and ``--incidents`` of a tool that scores a generated
    stream (its description: the first line of ``doc``), and the models."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--incidents", type=int, default=9_000,
                        help="log incidents to generate from (about 6.5 reports "
                        "each with the distractors: 9,000 give about 59,000)")
    args = parser.parse_args(argv)
    return args, load_models(Settings.from_env().models_dir)



def main(argv: list[str] | None = None) -> int:
    """Print what a seed's scenario holds, and the log's evidence for the
    rule that takes one event posted twice for one incident (step 1); the
    last line is one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--incidents", type=int, default=2_000)
    args = parser.parse_args(argv)
    started = time.monotonic()
    scenario = generate(args.seed, args.incidents)
    seconds = round(time.monotonic() - started, 1)
    roles = Counter(incident.role for incident in scenario.incidents)
    chatter = {i.incident_id for i in scenario.incidents if i.role == "no_emergency"}
    channels = Counter(m.topic.removeprefix("reports.raw.") for m in scenario.messages)
    told = sum(m.truth.incident_id not in chatter for m in scenario.messages)
    events = len(scenario.incidents) - len(chatter)
    p = ScenarioParams()
    rows = _log_rows(SHARED_DATA / MONTGOMERY_LOG, ROOT / "models")
    pairs = echo_pairs(rows, p)
    shifted = [echo_pairs(rows, p, days) for days in (1, 2)]
    chance = tuple(round(sum(s[i] for s in shifted) / len(shifted)) for i in (0, 1))
    figures = {
        "seed": args.seed, "seed_incidents": roles["seed"],
        "distractors": events - roles["seed"], "posts_about_no_emergency": len(chatter),
        "messages": len(scenario.messages), **{f"messages_{k}": v for k, v in
                                               sorted(channels.items())},
        "messages_per_incident": round(told / events, 2) if events else 0.0,
        "seconds": seconds,
        "log_echo_pairs_two_disciplines": pairs[0], "log_echo_pairs_one": pairs[1],
        "log_echo_pairs_by_chance_two_disciplines": chance[0],
        "log_echo_pairs_by_chance_one": chance[1],
    }
    print(f"seed {args.seed}: {figures['messages']} messages from {roles['seed']} "
          f"log incidents, {figures['distractors']} distractors and "
          f"{len(chatter)} posts about no emergency ({seconds} s)")
    print(f"log: {pairs[0]} pairs of rows of one call type posted by two "
          f"disciplines (and {pairs[1]} by one) that step 1 takes for one event; "
          f"{chance[0]} ({chance[1]}) at the same hours a day or two apart")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
