"""The scenario generator (benchmarks/scenario.py): its messages, truth and scores."""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from agents.resources import Models
from agents.settings import ROOT
from benchmarks.scenario import (
    HANDSET,
    MONTGOMERY_LOG,
    NETWORK,
    SHARED_DATA,
    TOPICS,
    FixAccuracy,
    Scenario,
    ScenarioParams,
    _log_rows,
    _Row,
    baseline_clusters,
    draw_error_m,
    echo_pairs,
    generate,
    moved,
    pairwise_scores,
    write_jsonl,
)
from benchmarks.train_relevance import T6_PER_EVENT, relevance_posts
from pipeline.geo import distance_m
from pipeline.normalize import normalize
from pipeline.places import street_names
from pipeline.schema import Report

FORMATS = {"reports.raw.call": "call", "reports.raw.sms": "sms",
           "reports.raw.social": "social", "reports.raw.app": "app"}


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return generate(1, 600)


@pytest.fixture(scope="module")
def reports(scenario: Scenario, models: Models) -> dict[str, Report]:
    """Every message of the scenario, normalized with the real rule tables."""
    normalized = {}
    for message in scenario.messages:
        report = normalize(message.value, FORMATS[message.topic],
                           received_ms=message.event_ms + 4000,
                           config=models.normalize)
        assert isinstance(report, Report), (message.value, report)
        normalized[message.truth.report_id] = report
    return normalized


def test_one_seed_gives_one_scenario() -> None:
    first, again, other = generate(7, 150), generate(7, 150), generate(8, 150)
    assert first.messages == again.messages
    assert first.incidents == again.incidents
    assert first.messages != other.messages


def test_messages_are_in_time_order_with_unique_report_ids(scenario: Scenario
                                                           ) -> None:
    times = [m.event_ms for m in scenario.messages]
    assert times == sorted(times)
    assert len(scenario.truth()) == len(scenario.messages)
    assert {m.topic for m in scenario.messages} == set(FORMATS)


def test_every_message_normalizes_to_the_report_the_truth_names(
        scenario: Scenario, reports: dict[str, Report]) -> None:
    for message in scenario.messages:
        report = reports[message.truth.report_id]
        assert report.report_id == message.truth.report_id
        assert report.source == "montgomery_pa"
        assert report.event_ms == message.event_ms
        located = b'"location"' in message.value
        assert report.has_point == located
        # A message with no fix says so; nothing else is ever flagged.
        # A network fix reported wider than the parser trusts is capped.
        allowed = {"accuracy_capped"} if located else {"location_missing"}
        assert set(report.flags) <= allowed
        assert located or report.flags == ("location_missing",)
        if report.channel == "social":
            assert not report.has_point and report.address


@pytest.mark.parametrize(("fix", "name"), [(HANDSET, "handset"), (NETWORK, "network")])
def test_wireless_error_matches_the_fcc_quantiles(fix: FixAccuracy, name: str) -> None:
    rng = random.Random(name)
    draws = [draw_error_m(rng, fix) for _ in range(4000)]
    within_r67 = sum(d <= fix.r67_m for d in draws) / len(draws)
    within_r80 = sum(d <= fix.r80_m for d in draws) / len(draws)
    assert within_r67 == pytest.approx(0.67, abs=0.025)
    assert within_r80 == pytest.approx(0.80, abs=0.025)


def test_call_fixes_in_the_scenario_keep_the_fcc_quantiles(
        scenario: Scenario, reports: dict[str, Report]) -> None:
    where = {i.incident_id: (i.lat, i.lon) for i in scenario.incidents}
    errors: dict[str, list[float]] = defaultdict(list)
    for message in scenario.messages:
        report = reports[message.truth.report_id]
        method = report.details.get("location_method")
        if report.channel == "911" and method in ("handset", "network"):
            assert report.lat is not None and report.lon is not None
            lat, lon = where[message.truth.incident_id]
            errors[method].append(distance_m(lat, lon, report.lat, report.lon))
    for method, fix in (("handset", HANDSET), ("network", NETWORK)):
        share = sum(e <= fix.r67_m for e in errors[method]) / len(errors[method])
        assert share == pytest.approx(0.67, abs=0.06), method
        share = sum(e <= fix.r80_m for e in errors[method]) / len(errors[method])
        assert share == pytest.approx(0.80, abs=0.06), method


def test_a_thread_is_one_reporter_within_one_incident(
        scenario: Scenario, reports: dict[str, Report]) -> None:
    tokens: dict[str, set[str]] = defaultdict(set)
    incidents: dict[str, set[str]] = defaultdict(set)
    for message in scenario.messages:
        tokens[message.truth.thread_id].add(reports[message.truth.report_id].reporter)
        incidents[message.truth.thread_id].add(message.truth.incident_id)
    topics: dict[str, set[str]] = defaultdict(set)
    for message in scenario.messages:
        topics[message.truth.thread_id].add(message.topic)
    assert all("" not in t for t in tokens.values())
    assert all(len(i) == 1 for i in incidents.values())
    # One identity, or a social author who also called: a handle and a number.
    two = [thread for thread, t in tokens.items() if len(t) == 2]
    assert all(len(t) <= 2 for t in tokens.values())
    assert two and all(topics[thread] == {"reports.raw.social", "reports.raw.call"}
                       for thread in two)
    every = [token for t in tokens.values() for token in t]
    assert len(set(every)) == len(every)  # no identity in two threads
    # Texts from a caller's number share the call's reporter token.
    threads = defaultdict(set)
    for message in scenario.messages:
        threads[message.truth.thread_id].add(message.topic)
    assert any({"reports.raw.call", "reports.raw.sms"} <= t for t in threads.values())


def test_serious_incidents_have_several_callers(scenario: Scenario,
                                                models: Models) -> None:
    callers: dict[str, set[str]] = defaultdict(set)
    authors = {m.truth.thread_id for m in scenario.messages
               if m.topic == "reports.raw.social"}
    for message in scenario.messages:
        if (message.topic in ("reports.raw.call", "reports.raw.sms")
                and message.truth.thread_id not in authors):
            callers[message.truth.incident_id].add(message.truth.thread_id)
    for incident in scenario.incidents:
        count = len(callers[incident.incident_id])
        if incident.role == "no_emergency":
            assert count == 0, incident
        elif models.kinds.get(incident.kind).priority <= 2:
            assert 2 <= count <= 6, incident
        else:
            assert 1 <= count <= 2, incident


def test_posts_about_no_emergency_are_alone_and_never_learnt(
        scenario: Scenario, reports: dict[str, Report]) -> None:
    roles = {i.incident_id: i.role for i in scenario.incidents}
    about = [m for m in scenario.messages if m.topic == "reports.raw.social"
             and roles[m.truth.incident_id] != "no_emergency"]
    chatter = [m for m in scenario.messages
               if roles[m.truth.incident_id] == "no_emergency"]
    assert {m.topic for m in chatter} == {"reports.raw.social"}
    assert len(chatter) == round(1.35 * len(about))
    # Each its own incident and thread, from a town of the service area.
    assert len({m.truth.incident_id for m in chatter}) == len(chatter)
    assert len({m.truth.thread_id for m in chatter}) == len(chatter)
    assert all(reports[m.truth.report_id].address.endswith(", PA") for m in chatter)
    # Real texts labelled not relevant, none of them learnt by the classifier.
    learnt = {text for text, _ in relevance_posts(SHARED_DATA, T6_PER_EVENT)[0]}
    texts = {orjson.loads(m.value)["text"] for m in chatter}
    assert len(texts) > len(chatter) / 2
    assert not texts & learnt
    # The rest of the scenario is drawn as it would be without them.
    without = generate(1, 600, ScenarioParams(distractor_posts=0.0))
    assert [m for m in scenario.messages if m not in chatter] == without.messages


def test_an_incident_without_an_address_is_reported_without_one(
        scenario: Scenario, reports: dict[str, Report]) -> None:
    """Distractors have no address: their callers and texters name no street,
    and no stand-in words ("an address ...") appear where one would be.
    (Posts are real texts, and some name streets of other cities.)"""
    roles = {i.incident_id: i.role for i in scenario.incidents}
    seed_streets = other_streets = 0
    for message in scenario.messages:
        report = reports[message.truth.report_id]
        if report.channel == "social":
            continue
        named = bool(street_names(report.text))
        if roles[message.truth.incident_id] == "seed":
            seed_streets += named
        elif roles[message.truth.incident_id] in ("near_other", "far_same"):
            other_streets += named + ("address" in report.text)
            assert not report.address, message
    assert other_streets == 0
    assert seed_streets > 100


def test_written_files_hold_every_message_and_incident(scenario: Scenario,
                                                       tmp_path: Path) -> None:
    messages, incidents = write_jsonl(scenario, tmp_path / "run")
    lines = [orjson.loads(line) for line in messages.read_bytes().splitlines()]
    assert len(lines) == len(scenario.messages)
    first = scenario.messages[0]
    assert lines[0]["value"].encode() == first.value
    assert lines[0]["report_id"] == first.truth.report_id
    assert len(incidents.read_bytes().splitlines()) == len(scenario.incidents)


def test_pairwise_scores_known_answers() -> None:
    truth = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"}
    perfect = pairwise_scores(truth, truth)
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)

    split = pairwise_scores({"a": "x", "b": "x", "c": "y", "d": "y", "e": "y"}, truth)
    assert (split.correct_pairs, split.predicted_pairs, split.true_pairs) == (2, 4, 4)
    assert (split.precision, split.recall, split.f1) == (0.5, 0.5, 0.5)

    lumped = pairwise_scores(dict.fromkeys(truth, "z"), truth)
    assert lumped.precision == 0.4 and lumped.recall == 1.0
    assert lumped.f1 == pytest.approx(2 * 0.4 / 1.4)

    alone = pairwise_scores({}, truth)
    assert (alone.precision, alone.recall, alone.f1) == (1.0, 0.0, 0.0)


def test_pairwise_scores_agree_with_listing_every_pair() -> None:
    rng = random.Random(3)
    ids = [f"r{n}" for n in range(60)]
    truth = {r: str(rng.randrange(12)) for r in ids}
    predicted = {r: str(rng.randrange(9)) for r in ids}
    pairs = list(itertools.combinations(ids, 2))
    made = {p for p in pairs if predicted[p[0]] == predicted[p[1]]}
    real = {p for p in pairs if truth[p[0]] == truth[p[1]]}
    scores = pairwise_scores(predicted, truth)
    assert scores.precision == pytest.approx(len(made & real) / len(made))
    assert scores.recall == pytest.approx(len(made & real) / len(real))


def _report(report_id: str, minute: float, lat: float | None, lon: float = -75.0
            ) -> Report:
    return Report(report_id=report_id, source="t", channel="911",
                  event_ms=int(minute * 60_000), received_ms=0, kind="collision",
                  type_text="", lat=lat, lon=lon if lat is not None else None,
                  location="known" if lat is not None else "unknown")


def test_baseline_links_near_reports_and_leaves_the_rest_alone() -> None:
    north = moved(40.0, -75.0, 50, 0.0)[0]
    further = moved(40.0, -75.0, 100, 0.0)[0]
    east = moved(40.0, -75.0, 200, math.pi / 2)
    toy = [
        _report("a", 0, 40.0),
        _report("b", 5, north),            # 50 m, 5 min after a
        _report("c", 8, further),          # 100 m from a, 50 m from b: linked via b
        _report("d", 30, 40.0),            # a's place, 30 min later
        _report("e", 1, None),             # no point
        _report("f", 1, east[0], east[1]),  # 200 m away
    ]
    clusters = baseline_clusters(toy)
    assert clusters == {"a": "a", "b": "a", "c": "a", "d": "d", "e": "e", "f": "f"}
    truth = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "1", "f": "3"}
    scores = pairwise_scores(clusters, truth)
    assert (scores.precision, scores.correct_pairs, scores.true_pairs) == (1.0, 3, 6)


def test_baseline_on_the_scenario_finds_some_merges(
        scenario: Scenario, reports: dict[str, Report]) -> None:
    truth = {rid: t.incident_id for rid, t in scenario.truth().items()}
    scores = pairwise_scores(baseline_clusters(reports.values()), truth)
    assert 0.0 < scores.recall < 1.0
    assert scores.precision > 0.5


def test_a_moved_distractors_posts_name_the_town_it_is_in(
        scenario: Scenario) -> None:
    """An incident drawn away from its log row (another kind nearby, the same
    kind kilometres off) is posted about from where it is: the township of the
    log's nearest point, not the seed's town nor only the county."""
    rows = _log_rows(SHARED_DATA / MONTGOMERY_LOG, ROOT / "models")
    incidents = {i.incident_id: i for i in scenario.incidents}
    checked = 0
    for message in scenario.messages:
        incident = incidents[message.truth.incident_id]
        if message.topic != TOPICS["social"] or incident.role not in (
                "near_other", "far_same"):
            continue
        # The log names two towns at some points (a border): either is it.
        dist = {r: distance_m(incident.lat, incident.lon, r.lat, r.lon)
                for r in rows if r.twp}
        least = min(dist.values())
        towns = {f"{r.twp.title()}, PA" for r, d in dist.items() if d == least}
        place = orjson.loads(message.value)["place_name"]
        assert place in towns, (incident, place)
        checked += 1
    assert checked > 20


def test_one_event_posted_twice_by_the_log_is_one_true_incident(
        scenario: Scenario) -> None:
    """The county posts a record per responding discipline, each geocoded
    from its own form of the address: a row of a seed's call type posted by
    another discipline within 10 min and 1 km (or by the same within 200 m)
    is that seed again, never a second incident (step 1)."""
    rows = {row.index: row for row in _log_rows(SHARED_DATA / MONTGOMERY_LOG,
                                                ROOT / "models")}
    seeds = sorted((i for i in scenario.incidents if i.role == "seed"),
                   key=lambda i: i.event_ms)
    p = ScenarioParams()

    def echoes(a: int, b: int) -> bool:
        x, y = rows[a], rows[b]
        reach = p.echo_other_m if x.discipline != y.discipline else p.echo_same_m
        return (x.type_text == y.type_text
                and abs(x.event_ms - y.event_ms) <= p.echo_type_window_s * 1000
                and distance_m(x.lat, x.lon, y.lat, y.lon) <= reach)

    for a, b in itertools.combinations(seeds, 2):
        if b.event_ms - a.event_ms <= p.echo_type_window_s * 1000:
            assert not echoes(a.log_row, b.log_row), (a, b)
    # The span holds such rows, left out as their seeds' records.
    kept = {i.log_row for i in seeds}
    first, last = min(kept), max(kept)
    left = [index for index in range(first, last) if index in rows
            and index not in kept and any(
                echoes(index, seed) for seed in kept
                if abs(seed - index) < 50)]
    assert {rows[index].discipline for index in left} >= {"EMS", "Traffic"}


def test_echo_pairs_counts_the_rows_step_1_takes_for_one_event() -> None:
    def row(index: int, minute: float, north_m: float, discipline: str,
            type_text: str = "VEHICLE ACCIDENT") -> _Row:
        lat, lon = moved(40.1, -75.3, north_m, 0.0)
        return _Row(index, lat, lon, int(minute * 60_000), type_text, "collision",
                    2, "", "", discipline)

    p = ScenarioParams()
    rows = [row(0, 0, 0, "EMS"), row(1, 3, 500, "Traffic"),
            row(2, 4, 150, "EMS"), row(3, 5, 600, "EMS"),
            row(4, 6, 0, "Fire", "FIRE ALARM")]  # another type: never
    # Two disciplines within 1 km: 0-1, 1-2, 1-3. One within 200 m: 0-2;
    # 0-3 (600 m) and 2-3 (450 m) are two events of one discipline.
    assert echo_pairs(rows, p) == (3, 1)
    # A day later, the same rows pair with none.
    assert echo_pairs(rows, p, shift_days=1) == (0, 0)
    later = [replace(r, index=r.index + 10, event_ms=r.event_ms + 86_400_000)
             for r in rows[1:2]]
    assert echo_pairs(rows[:1] + later, p, shift_days=1) == (1, 0)
