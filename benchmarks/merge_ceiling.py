"""A ceiling on incident F1 for any matcher, on one generated stream.

A generated report shows less than its truth. A call with neither fix nor
address gives its call type and a time; a wireless fix may fall nearer another
incident of the same type; a post gives only its town. Here every report goes
to the incident the generator's own laws make likeliest, given what the report
shows, and that clustering is scored against the truth (pairwise, as
``merge_eval``). No matcher can do much better, and ours cannot: this one is
generous, as it

- knows every true incident, reported or not yet, with its exact point, time,
  kind and call type, and the laws of ``benchmarks/scenario.py`` (delays,
  the FCC error mixture, who posts);
- knows every post's kind and whether it tells of an incident at all (no
  relevance gate: a real post labelled as a disaster but reading "My iPod
  crashed" joins its incident, and a post about no emergency stays alone);
- places exactly every report whose words name a street, every app tip,
  civic fix and address, and every follow-up text (its number names its
  incident).

What stays open is only what the stream cannot tell apart:
- ``placeless``: a call or first text with no fix and no street, among the
  incidents of its call type that began up to ``caller_delay_max_s`` before it;
  likelihood: the exponential delay times the incident's expected callers;
- ``fix``: a call or first text with a wireless fix and no street, among the
  same; likelihood: the error mixture's density at each incident's distance
  (per square metre), times the same;
- ``post``: a post naming no street, among the incidents of its kind inside its
  town's circle (``models/places.yaml``; a county-wide post: any) that began
  120 s to 30 min before it; likelihood: the incident's chance of posts.
Ties go to a seeded draw.

    python -m benchmarks.merge_ceiling [--seed S] [--incidents N]
"""

from __future__ import annotations

import bisect
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass

import orjson

from agents.resources import Models
from benchmarks.scenario import (
    HANDSET,
    NETWORK,
    SOURCE,
    FixAccuracy,
    Scenario,
    ScenarioParams,
    TrueIncident,
    generate,
    pairwise_scores,
    stream_options,
)
from pipeline.geo import distance_m
from pipeline.places import street_names

#: The role of a post about no emergency (scenario step 9): known as such.
NO_EMERGENCY = "no_emergency"
#: Posts come 2 to 30 minutes after their incident (scenario step 6).
POST_DELAY_S = (120.0, 1800.0)
#: The farthest a generated wireless fix falls (scenario step 4).
MAX_ERROR_M = 3000.0
#: A report whose likeliest incident holds less than this share of the
#: likelihood may be left alone (it costs recall, not precision): the best of
#: these is the ceiling.
ABSTAIN = (0.0, 0.3, 0.4, 0.5, 0.6)


@dataclass(frozen=True)
class Ceiling:
    """The likeliest clustering's scores, and how many reports it put wrong."""

    f1: float
    precision: float
    recall: float
    wrong: dict[str, int]
    #: F1 when the posts ``held`` name (the relevance gate's) stay alone.
    f1_held_alone: float | None = None


def area_density(distance: float, fix: FixAccuracy) -> float:
    """Per square metre, the chance of a fix ``distance`` metres off: the
    mixture ``scenario.draw_error_m`` draws from (67 % truncated Rayleigh, 13 %
    uniform over the r67-r80 annulus, 20 % beyond r80)."""
    r67, r80 = fix.r67_m, fix.r80_m
    sigma = r67 / 2
    density = 0.0
    if distance <= r67:
        tail = 1 - math.exp(-r67 ** 2 / (2 * sigma ** 2))
        density += 0.67 * math.exp(-distance ** 2 / (2 * sigma ** 2)) / (
            2 * math.pi * sigma ** 2 * tail)
    elif distance <= r80:
        density += 0.13 / (math.pi * (r80 ** 2 - r67 ** 2))
    if r80 <= distance <= MAX_ERROR_M:
        density += 0.20 * math.exp(-(distance - r80) / r80) / (
            r80 * 2 * math.pi * max(distance, 1.0))
    return density


class _Likeliest:
    """The true incidents a report could be of, and the likeliest of them."""

    def __init__(self, scenario: Scenario, models: Models, params: ScenarioParams,
                 rng: random.Random):
        self.models, self.params, self.rng = models, params, rng
        # Posts about no emergency (their own "incidents") are no candidates.
        real = [i for i in scenario.incidents if i.role != NO_EMERGENCY]
        self.by_type = self._by_start(real, lambda i: i.type_text)
        self.by_kind = self._by_start(real, lambda i: i.kind)
        self.serious = {i.incident_id: models.kinds.get(i.kind).priority
                        <= params.serious_priority for i in scenario.incidents}
        self.callers = {True: _mean(params.serious_callers),
                        False: _mean(params.other_callers)}

    @staticmethod
    def _by_start(incidents: list[TrueIncident], key: Callable[[TrueIncident], str]
                  ) -> dict[str, tuple[list[int], list[TrueIncident]]]:
        grouped: dict[str, list[TrueIncident]] = defaultdict(list)
        for incident in sorted(incidents, key=lambda i: i.event_ms):
            grouped[key(incident)].append(incident)
        return {name: ([i.event_ms for i in group], group)
                for name, group in grouped.items()}

    def _began(self, table: tuple[list[int], list[TrueIncident]], at_ms: int,
               earliest_s: float, latest_s: float) -> list[TrueIncident]:
        starts, incidents = table
        low = bisect.bisect_left(starts, at_ms - int(latest_s * 1000))
        high = bisect.bisect_right(starts, at_ms - int(earliest_s * 1000))
        return incidents[low:high]

    def _pick(self, candidates: list[TrueIncident],
              likelihood: Callable[[TrueIncident], float]
              ) -> tuple[TrueIncident, float]:
        """The likeliest candidate and its share of the likelihood."""
        scores = [likelihood(c) for c in candidates]
        best = max(scores)
        pick = self.rng.choice([c for c, s in zip(candidates, scores, strict=True)
                                if s >= best * (1 - 1e-9)])
        return pick, best / sum(scores) if best > 0 else 1.0 / len(scores)

    def for_call(self, true: TrueIncident, at_ms: int,
                 fix: tuple[float, float, FixAccuracy] | None
                 ) -> tuple[TrueIncident, float]:
        p = self.params
        candidates = self._began(self.by_type[true.type_text], at_ms, 0.0,
                                 p.caller_delay_max_s) or [true]

        def likelihood(c: TrueIncident) -> float:
            delay = math.exp(-(at_ms - c.event_ms) / 1000 / p.caller_delay_mean_s)
            found = self.callers[self.serious[c.incident_id]] * delay
            if fix is not None:
                found *= area_density(distance_m(fix[0], fix[1], c.lat, c.lon),
                                      fix[2])
            return found

        return self._pick(candidates, likelihood)

    def for_post(self, true: TrueIncident, at_ms: int, town: str
                 ) -> tuple[TrueIncident, float]:
        circle = self.models.places.find(SOURCE, town)
        candidates = [c for c in self._began(self.by_kind[true.kind], at_ms,
                                             *POST_DELAY_S)
                      if circle is None
                      or distance_m(circle[0], circle[1], c.lat, c.lon) <= circle[2]]
        if true not in candidates:
            candidates.append(true)
        p_social = self.params.p_social
        return self._pick(candidates, lambda c: p_social[
            0 if self.serious[c.incident_id] else 1])


def ceiling(scenario: Scenario, models: Models,
            params: ScenarioParams | None = None,
            held: Collection[str] = (), seed: int = 0) -> Ceiling:
    """The best of the likeliest clusterings of ``scenario`` (each leaving
    alone the reports whose likeliest incident holds less than a share of the
    likelihood, for each share in ``ABSTAIN``) and its scores; ``held``:
    report ids of posts the relevance gate holds, scored once more alone."""
    truth, guesses = _guesses(scenario, models, params or ScenarioParams(),
                              random.Random(seed))
    best: tuple[float, dict[str, str], Counter[str]] | None = None
    for share in ABSTAIN:
        predicted, wrong = dict(truth), Counter[str]()
        for report_id, (cause, pick, likelihood_share) in guesses.items():
            if likelihood_share < share:
                predicted[report_id] = f"alone:{report_id}"
                wrong["alone"] += 1
            elif pick != truth[report_id]:
                predicted[report_id] = pick
                wrong[cause] += 1
        f1 = pairwise_scores(predicted, truth).f1
        if best is None or f1 > best[0]:
            best = (f1, predicted, wrong)
    assert best is not None
    _, predicted, wrong = best
    scores = pairwise_scores(predicted, truth)
    held_alone = None
    if held:
        alone = {rid: f"held:{rid}" if rid in held else incident
                 for rid, incident in predicted.items()}
        held_alone = round(pairwise_scores(alone, truth).f1, 4)
    return Ceiling(round(scores.f1, 4), round(scores.precision, 4),
                   round(scores.recall, 4), dict(wrong), held_alone)


def _guesses(scenario: Scenario, models: Models, params: ScenarioParams,
             rng: random.Random
             ) -> tuple[dict[str, str], dict[str, tuple[str, str, float]]]:
    """The truth, and for each report the stream leaves open: its cause, the
    likeliest incident and that incident's share of the likelihood."""
    likeliest = _Likeliest(scenario, models, params, rng)
    incidents = {i.incident_id: i for i in scenario.incidents}
    truth: dict[str, str] = {}
    guesses: dict[str, tuple[str, str, float]] = {}
    threads: set[str] = set()
    for message in scenario.messages:
        report_id, true = message.truth.report_id, incidents[
            message.truth.incident_id]
        truth[report_id] = true.incident_id
        value = orjson.loads(message.value)
        channel = message.topic.rsplit(".", 1)[1]
        # A reporter heard before names the incident (generous: a matcher
        # follows the thread, right or wrong).
        known = message.truth.thread_id in threads
        threads.add(message.truth.thread_id)
        if known or channel == "app" or true.role == NO_EMERGENCY or \
                value.get("address") or street_names(
                str(value.get("text", ""))):
            continue
        if channel == "social":
            cause = "post"
            pick, share = likeliest.for_post(true, message.event_ms,
                                             str(value["place_name"]))
        else:
            cause, fix = _fix_of(value, channel)
            if cause == "exact":
                continue
            pick, share = likeliest.for_call(true, message.event_ms, fix)
        guesses[report_id] = (cause, pick.incident_id, share)
    return truth, guesses


def _fix_of(value: dict[str, object], channel: str
            ) -> tuple[str, tuple[float, float, FixAccuracy] | None]:
    """``placeless``, ``exact`` (a civic fix: placed) or ``fix`` (wireless,
    with its point and law); a text's fix is a handset's."""
    location = value.get("location")
    if not isinstance(location, dict):
        return "placeless", None
    method = location.get("method", "handset" if channel == "sms" else "")
    if method not in ("handset", "network"):
        return "exact", None
    law = HANDSET if method == "handset" else NETWORK
    return "fix", (float(location["lat"]), float(location["lon"]), law)


def _mean(weights: tuple[int, ...]) -> float:
    return sum(n * w for n, w in enumerate(weights)) / sum(weights)


def main(argv: list[str] | None = None) -> int:
    args, models = stream_options(__doc__, argv)
    found = ceiling(generate(args.seed, args.incidents), models)
    print(json.dumps({"seed": args.seed, "ceiling_incident_f1": found.f1,
                      "precision": found.precision, "recall": found.recall,
                      "wrong": found.wrong}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
