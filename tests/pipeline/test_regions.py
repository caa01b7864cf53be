"""dedupe across cells: borders, the 180th meridian, reports without a point,
and the region index after a restart."""

from __future__ import annotations

import dataclasses
import math

import orjson
import pytest

from agents.resources import Models
from pipeline.dedupe import IncidentMatcher, SplitRefused, incident_id_for
from pipeline.geo import cell_key, distance_m
from pipeline.places import Gazetteer, TownCells
from pipeline.regions import CellState, Region
from pipeline.schema import (
    LOCATION_KNOWN,
    LOCATION_UNKNOWN,
    MERGED,
    NEW,
    REPEAT,
    SPLIT,
    IncidentChange,
    Report,
)

METRE_DEG = 360 / (2 * math.pi * 6_371_008.8)
MINUTE_MS = 60_000
T0_MS = 1_450_000_000_000
#: Two towns 6 km apart, and a third whose circle holds both.
TOWNS = Gazetteer({"test": {"ambler": (40.154, -75.224, 1500.0),
                            "norristown": (40.121, -75.344, 1500.0),
                            "montgomery": (40.14, -75.28, 9000.0)}})


def report(report_id: str, lat: float | None, lon: float | None, minute: float = 0,
           kind: str = "collision", channel: str = "911", text: str = "",
           address: str = "", reporter: str = "", accuracy_m: float = 10.0
           ) -> Report:
    located = lat is not None
    return Report(
        report_id=report_id, source="test", channel=channel,
        event_ms=T0_MS + int(minute * MINUTE_MS), received_ms=T0_MS,
        kind=kind, type_text="", text=text, address=address, reporter=reporter,
        lat=lat, lon=lon, location=LOCATION_KNOWN if located else LOCATION_UNKNOWN,
        accuracy_m=accuracy_m if located else None, raw_ref=f"t:0:{report_id}")


@pytest.fixture
def matcher(models: Models) -> IncidentMatcher:
    return IncidentMatcher(models.kinds, models.match, TOWNS)


@pytest.mark.parametrize("edge", ["latitude", "longitude"])
def test_two_reports_30_m_apart_across_a_cell_border_are_one_incident(
        matcher: IncidentMatcher, edge: str) -> None:
    border = 40.15  # a multiple of the 0.05 degree cell: a border of cells
    if edge == "latitude":
        a = report("a", border - 15 * METRE_DEG, -75.3)
        b = report("b", border + 15 * METRE_DEG, -75.3, minute=2)
    else:
        lon_deg = METRE_DEG / math.cos(math.radians(40.12))
        a = report("a", 40.12, -75.3 - 15 * lon_deg)
        b = report("b", 40.12, -75.3 + 15 * lon_deg, minute=2)
    assert a.lat is not None and a.lon is not None
    assert b.lat is not None and b.lon is not None
    assert cell_key(a.lat, a.lon, 0.05) != cell_key(b.lat, b.lon, 0.05)
    assert distance_m(a.lat, a.lon, b.lat, b.lon) == pytest.approx(30, abs=1)

    region = Region()
    first, second = matcher.apply(region, a), matcher.apply(region, b)
    assert (first.change, second.change) == (NEW, MERGED)
    assert second.incident_id == first.incident_id


def test_reports_either_side_of_the_180th_meridian_are_one_incident(
        matcher: IncidentMatcher) -> None:
    region = Region()
    # 106 m apart, with fixes good to 60 m.
    west = matcher.apply(region, report("w", -17.0, 179.9995, accuracy_m=60))
    east = matcher.apply(region, report("e", -17.0, -179.9995, minute=1,
                                        accuracy_m=60))
    assert (east.change, east.incident_id) == (MERGED, west.incident_id)


def test_a_fix_far_north_searches_the_cells_its_reach_covers(
        matcher: IncidentMatcher) -> None:
    # At 78 degrees north a 0.05 degree cell is about 1.2 km wide.
    lon_deg = METRE_DEG / math.cos(math.radians(78.2))
    region = Region()
    a = matcher.apply(region, report("a", 78.2, 15.6 - 40 * lon_deg, accuracy_m=60))
    b = matcher.apply(region, report("b", 78.2, 15.6 + 40 * lon_deg, minute=1,
                                     accuracy_m=60))
    assert b.incident_id == a.incident_id


def test_a_call_without_a_fix_joins_the_incident_on_the_street_it_names(
        matcher: IncidentMatcher) -> None:
    region = Region()
    opened = matcher.apply(region, report(
        "a", 40.12, -75.34, text="car on its roof at Haws Avenue and Main"))
    elsewhere = matcher.apply(region, report(
        "b", 40.20, -75.10, minute=1, text="two cars, Oak Lane"))
    call = matcher.apply(region, report(
        "c", None, None, minute=4, text="accident on haws ave, hurry"))

    assert elsewhere.incident_id != opened.incident_id
    assert (call.change, call.incident_id) == (MERGED, opened.incident_id)
    assert call.merge is not None
    assert call.merge["reasons"][0] == "both name haws ave"
    assert call.merge["distance_m"] is None
    # The incident keeps its point; the change gives it to the call too.
    assert (call.lat, call.lon) == (40.12, -75.34)


def test_a_post_joins_the_one_incident_its_town_holds(
        matcher: IncidentMatcher) -> None:
    region = Region()
    ambler = matcher.apply(region, report("a", 40.156, -75.221))
    matcher.apply(region, report("n", 40.121, -75.344, minute=1))
    post = matcher.apply(region, report("p", None, None, minute=12,
                                        channel="social", kind="collision",
                                        address="Ambler, PA", text="crash!!"))
    assert (post.change, post.incident_id) == (MERGED, ambler.incident_id)
    assert post.merge is not None
    assert post.merge["reasons"][0].startswith(
        "incident 0.3 km from the centre of Ambler, PA")


def test_a_town_that_holds_two_incidents_alike_joins_neither(
        matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, report("a", 40.156, -75.221))
    matcher.apply(region, report("n", 40.121, -75.344))
    post = matcher.apply(region, report("p", None, None, minute=5, channel="social",
                                        address="Montgomery", text="crash"))
    assert post.change == NEW


def test_a_post_from_an_unknown_place_or_too_late_stays_alone(
        matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, report("a", 40.156, -75.221))
    # Posts: a call without a type or a place it can be set against joins
    # the one incident of its kind (``untyped_kind``), a post does not.
    unknown = matcher.apply(region, report("p", None, None, minute=5,
                                           address="Atlantis", kind="collision",
                                           channel="social"))
    late = matcher.apply(region, report("r", None, None, minute=60,
                                        address="Ambler", kind="collision",
                                        channel="social"))
    assert (unknown.change, late.change) == (NEW, NEW)


def test_a_town_post_of_another_kind_goes_to_the_incident_of_its_own(
        matcher: IncidentMatcher) -> None:
    # A post's kind comes from its words and is often wrong (seed 1: 239 of
    # the 3,796 incidents of another kind that town posts weighed were
    # theirs), so another kind weighs against an incident, it does not veto
    # it; an incident of the post's own kind in the town wins.
    region = Region()
    crash = matcher.apply(region, report("a", 40.156, -75.221))
    fire = matcher.apply(region, report("b", 40.157, -75.222, minute=1,
                                        kind="structure_fire"))
    post = matcher.apply(region, report("q", None, None, minute=5,
                                        address="Ambler", kind="structure_fire"))

    assert post.change == "merged" and post.incident_id == fire.incident_id
    assert fire.incident_id != crash.incident_id


def test_an_incident_opened_without_a_point_takes_the_first_one_that_joins(
        matcher: IncidentMatcher) -> None:
    region = Region()
    named = matcher.apply(region, report("n", None, None,
                                         address="HAWS AVE & MAIN ST"))
    call = matcher.apply(region, report("c", 40.156, -75.221, minute=3,
                                        text="crash at haws ave and main st"))
    later = matcher.apply(region, report("d", 40.1562, -75.221, minute=5))

    assert named.incident_id == incident_id_for("nofix:n", T0_MS)
    assert (call.change, call.incident_id) == (MERGED, named.incident_id)
    assert (call.lat, call.lon) == (40.156, -75.221)
    assert (later.change, later.incident_id) == (MERGED, named.incident_id)
    assert later.report_count == 3


def test_a_fix_in_the_town_of_an_incident_known_by_its_town_alone_stays_apart(
        matcher: IncidentMatcher) -> None:
    # A town holds many incidents: a fix inside the circle of a post's town
    # is no evidence for the post's incident (seed 1: right 15 times in 50).
    region = Region()
    post = matcher.apply(region, report("p", None, None, address="Ambler, PA"))
    call = matcher.apply(region, report("c", 40.156, -75.221, minute=3))

    assert call.change == NEW and call.incident_id != post.incident_id


def test_a_redelivered_report_without_a_point_is_a_repeat(
        matcher: IncidentMatcher) -> None:
    region = Region()
    opened = matcher.apply(region, report("a", 40.12, -75.34, text="at haws ave"))
    call = report("c", None, None, minute=4, text="haws ave")
    first, again = matcher.apply(region, call), matcher.apply(region, call)
    assert (first.change, again.change) == (MERGED, REPEAT)
    assert again.incident_id == opened.incident_id
    assert again.report_count == 2


def test_after_a_restart_the_index_is_rebuilt_from_the_cells(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    opened = matcher.apply(region, report("a", 40.12, -75.34, text="at haws ave"))
    stored = region.snapshot()

    restarted = Region("r:test", stored.get)
    restarted.rebuild(stored.items())
    call = matcher.apply(restarted, report("c", None, None, minute=4,
                                           text="haws ave"))
    assert (call.change, call.incident_id) == (MERGED, opened.incident_id)


def test_the_index_forgets_incidents_past_its_windows(
        matcher: IncidentMatcher, models: Models) -> None:
    region = Region()
    for n in range(50):
        matcher.apply(region, report(f"a{n}", 40.12 + n * 0.01, -75.34, minute=n / 5))
    assert len(region.recent) == 50
    hours = models.match.stale_after_s / 60 + 10
    matcher.apply(region, report("late", None, None, minute=hours, text="x"))
    assert len(region.recent) == 1  # only the one the late report opened


def test_a_follow_up_without_a_place_joins_its_reporters_incident(
        matcher: IncidentMatcher) -> None:
    region = Region()
    call = matcher.apply(region, report("c", 40.12, -75.34, reporter="rp:1"))
    matcher.apply(region, report("x", 40.20, -75.10, minute=1, reporter="rp:2"))
    text = matcher.apply(region, report("t", None, None, minute=20, channel="sms",
                                        kind="other", reporter="rp:1",
                                        text="is someone coming?"))
    assert (text.change, text.incident_id) == (MERGED, call.incident_id)
    assert text.merge is not None
    assert text.merge["reasons"][2] == "same reporter (a follow-up)"
    # A reporter's identity never joins them to an incident gone quiet.
    later = matcher.apply(region, dataclasses.replace(
        report("u", None, None, minute=200, reporter="rp:1", kind="other")))
    assert later.change == NEW


def test_a_split_takes_a_report_into_an_incident_of_its_own(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    first = matcher.apply(region, report("a", 40.12, -75.34))
    matcher.apply(region, report("b", 40.1202, -75.34, minute=2))
    wrong = matcher.apply(region, report("c", 40.1201, -75.34, minute=3,
                                         kind="medical_trauma"))
    assert wrong.incident_id == first.incident_id and wrong.report_count == 3

    changes = matcher.split(region, first.incident_id, "c", "dispatcher 7",
                            "another car, other side", at_ms=T0_MS)
    left, alone = changes
    assert (left.change, left.incident_id, left.report_count) == (
        SPLIT, first.incident_id, 2)
    assert "c" not in left.report_ids
    assert (alone.change, alone.report_count, alone.report_ids) == (NEW, 1, ("c",))
    assert alone.incident_id == incident_id_for("split:c")
    assert (alone.kind, alone.lat, alone.lon) == ("medical_trauma", 40.1201, -75.34)
    assert left.split == alone.split == {
        "report_id": "c", "from": first.incident_id, "into": alone.incident_id,
        "by": "dispatcher 7", "reason": "another car, other side"}

    # The same command again changes nothing; the report again is a repeat
    # of its own incident; the incident goes on without it.
    assert matcher.split(region, first.incident_id, "c", "dispatcher 7", "",
                         at_ms=T0_MS) == []
    again = matcher.apply(region, report("c", 40.1201, -75.34, minute=3,
                                         kind="medical_trauma"))
    assert (again.change, again.incident_id) == (REPEAT, alone.incident_id)
    more = matcher.apply(region, report("d", 40.1202, -75.34, minute=4))
    assert (more.incident_id, more.report_count) == (first.incident_id, 3)


def test_a_split_finds_its_report_after_a_restart(matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    first = matcher.apply(region, report("a", 40.12, -75.34))
    matcher.apply(region, report("b", 40.1202, -75.34, minute=2))
    stored = region.snapshot()

    restarted = Region("r:test", stored.get, stored.items)
    left, alone = matcher.split(restarted, first.incident_id, "b", "sup", "",
                                at_ms=T0_MS)
    assert (left.report_count, alone.report_ids) == (1, ("b",))


@pytest.mark.parametrize("incident, report_id, why", [
    ("I-nope", "a", "is in"),
    (None, "zz", "not known"),
    (None, "solo", "only one"),
])
def test_a_split_that_names_nothing_to_split_is_refused(
        matcher: IncidentMatcher, incident: str | None, report_id: str,
        why: str) -> None:
    region = Region("r:test")
    first = matcher.apply(region, report("a", 40.12, -75.34))
    matcher.apply(region, report("b", 40.1202, -75.34, minute=2))
    solo = matcher.apply(region, report("solo", 40.3, -75.1, minute=2))
    target = incident or (solo.incident_id if report_id == "solo"
                          else first.incident_id)
    with pytest.raises(SplitRefused, match=why):
        matcher.split(region, target, report_id, "sup", "", at_ms=T0_MS)


def test_the_index_stays_bounded_over_a_long_run(matcher: IncidentMatcher) -> None:
    region = Region()
    for n in range(3000):  # one incident every 12 s for ten hours, all located
        matcher.apply(region, report(f"a{n}", 40.0 + (n % 50) * 0.01, -75.34,
                                     minute=n / 5))
    # Half an hour of incidents: 150, not 3,000.
    assert len(region.recent) <= 151


def test_a_post_and_a_call_saying_the_same_things_are_one_person(
        matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, report("c1", 40.12, -75.34, reporter="rp:phone1",
                                 text="car on its roof; outside the pharmacy"))
    matcher.apply(region, report(
        "p", None, None, minute=2, channel="social", reporter="rp:handle",
        address="Norristown", text="crash near me, a blue pickup flipped"))
    call = matcher.apply(region, report("c2", 40.1201, -75.34, minute=6,
                                        reporter="rp:phone2",
                                        text="car on its roof; a blue pickup"))
    assert call.change == MERGED
    assert call.link is not None
    assert call.link["reporter"] == "rp:phone2"
    assert call.link["same_as"] == "rp:handle"
    assert call.link["reasons"][0] == "both say blue pickup"
    # A second caller who says what everyone says is linked to nobody.
    other = matcher.apply(region, report("c3", 40.1202, -75.34, minute=7,
                                         reporter="rp:phone3",
                                         text="car on its roof"))
    assert other.link is None


def test_a_post_after_the_calls_is_linked_to_none_of_them(
        matcher: IncidentMatcher) -> None:
    # The caller who says "blue pickup" may be another witness of the same
    # pickup: the author's own call, if any, is still to come.
    region = Region()
    matcher.apply(region, report("c1", 40.12, -75.34, reporter="rp:phone1",
                                 text="car on its roof; a blue pickup"))
    post = matcher.apply(region, report(
        "p", None, None, minute=6, channel="social", reporter="rp:handle",
        address="Norristown", text="crash near me, a blue pickup flipped"))
    assert post.change == MERGED and post.link is None


def _post_in_another_incident(matcher: IncidentMatcher, region: Region,
                              text: str = "crash on the pike, a blue pickup "
                              "flipped", kind: str = "collision") -> str:
    """A crash at Norristown's centre; a post from the town joins it (its
    words name a crash, whatever kind they are read as)."""
    matcher.apply(region, report("f0", 40.121, -75.344, reporter="rp:phone0",
                                 text="car on its roof"))
    post = matcher.apply(region, report(
        "p", None, None, minute=1, channel="social", reporter="rp:handle",
        address="Norristown", text=text, kind=kind))
    assert post.change == MERGED
    return post.incident_id


def _author_calls(matcher: IncidentMatcher, region: Region, text: str
                  ) -> IncidentChange:
    """The post's author calls, 5 minutes on, from 1.2 km away in the town."""
    return matcher.apply(region, report("c1", 40.1318, -75.344, minute=5,
                                        reporter="rp:phone1", text=text))


def test_a_call_is_linked_to_its_callers_post_in_another_incident(
        matcher: IncidentMatcher) -> None:
    # The author calls about a crash 1.2 km away, inside the town: another
    # incident, but the post came first, from there, and says the same.
    region = Region("r:test")
    posted = _post_in_another_incident(matcher, region)
    call = _author_calls(matcher, region, "car on its roof; a blue pickup")
    assert call.change == NEW and call.incident_id != posted
    assert call.link is not None
    assert (call.link["reporter"], call.link["same_as"]) == ("rp:phone1",
                                                            "rp:handle")
    assert call.link["reasons"] == [
        "both say blue pickup", "4.0 min after the post",
        "the call 1.2 km from the centre of Norristown, where the post was sent "
        "from", "social then 911, the post in another incident"]
    # A handle is one person with one number: a second caller saying the same
    # is not linked to it.
    again = matcher.apply(region, report("c2", 40.1318, -75.344, minute=6,
                                         reporter="rp:phone2",
                                         text="car on its roof; a blue pickup"))
    assert again.link is None


def test_a_call_of_another_kind_is_not_linked_to_a_post_in_another_incident(
        matcher: IncidentMatcher) -> None:
    # A stranger of another incident who noticed the same thing: the post
    # tells of a crash, the call of a fire alarm going off.
    region = Region("r:test")
    posted = _post_in_another_incident(matcher, region)
    call = matcher.apply(region, report(
        "c1", 40.1318, -75.344, minute=5, kind="fire_alarm",
        reporter="rp:phone1", text="alarm sounding; a blue pickup"))
    assert call.incident_id != posted and call.link is None


def test_a_post_is_linked_by_any_kind_its_words_name(
        matcher: IncidentMatcher) -> None:
    # "helicopter" reads as a service call, but the post says "crashed" too:
    # the author's call about a crash fits it.
    region = Region("r:test")
    _post_in_another_incident(matcher, region, "helicopter crashed near the "
                              "pike, a blue pickup flipped", kind="service")
    call = _author_calls(matcher, region, "car on its roof; a blue pickup")
    assert call.link is not None and call.link["same_as"] == "rp:handle"


def test_a_caller_before_the_post_is_no_rival_for_its_author(
        matcher: IncidentMatcher) -> None:
    # A caller spoke of the blue pickup before the post was sent (reaching
    # us late): a second witness, not its author; the author's call still
    # links, though that caller's incident heard "blue pickup" already.
    region = Region("r:test")
    _post_in_another_incident(matcher, region)
    early = matcher.apply(region, report("c0", 40.1318, -75.344, minute=0.5,
                                         reporter="rp:phone0",
                                         text="car on its roof; a blue pickup"))
    assert early.link is None
    call = _author_calls(matcher, region, "car on its roof; a blue pickup")
    assert call.incident_id == early.incident_id
    assert call.link is not None and call.link["same_as"] == "rp:handle"


def test_a_post_after_a_restart_is_still_found(matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    _post_in_another_incident(matcher, region)
    stored = region.snapshot()
    restarted = Region("r:test", stored.get)
    restarted.rebuild(stored.items())
    call = _author_calls(matcher, restarted, "car on its roof; a blue pickup")
    assert call.link is not None and call.link["same_as"] == "rp:handle"


def test_one_word_links_across_incidents_when_the_call_says_nothing_else(
        matcher: IncidentMatcher) -> None:
    # The caller's one word of their own is the post's too: the author
    # repeats all they noticed. "a blue van" says "van", which the post
    # did not: one word is not enough then (below).
    region = Region("r:test")
    _post_in_another_incident(matcher, region)
    call = _author_calls(matcher, region, "crash; it was blue")
    assert call.link is not None and call.link["same_as"] == "rp:handle"
    assert call.link["reasons"][0] == "both say blue"


def test_the_call_takers_passer_by_is_no_word_of_the_callers(
        matcher: IncidentMatcher) -> None:
    # "passer-by reports" is how the call-taker writes who called, as
    # "caller on scene" is: the caller's own word is still only "blue".
    region = Region("r:test")
    _post_in_another_incident(matcher, region)
    call = _author_calls(matcher, region, "passer-by reports crash; it was blue")
    assert call.link is not None and call.link["reasons"][0] == "both say blue"


@pytest.mark.parametrize("posted", [True, False])
def test_a_call_that_cannot_say_where_joins_the_incident_of_its_callers_post(
        matcher: IncidentMatcher, posted: bool) -> None:
    # Two crashes 10 km apart; a post from Norristown about a blue pickup
    # joined the one there. A caller who cannot say where and tells of the
    # blue pickup is its author: the call joins that crash, as one person.
    # Without the post, nothing tells which crash the call is of.
    region = Region("r:test")
    if posted:
        crash = _post_in_another_incident(matcher, region)
    else:
        crash = matcher.apply(region, report("f0", 40.121, -75.344,
                                             reporter="rp:phone0",
                                             text="car on its roof")).incident_id
    other = matcher.apply(region, report("a0", 40.154, -75.224, minute=1,
                                         reporter="rp:phone9",
                                         text="car on its roof"))
    assert other.incident_id != crash
    call = matcher.apply(region, report(
        "c1", None, None, minute=5, reporter="rp:phone1",
        text="car on its roof; caller unsure of exact location; a blue pickup"))
    if not posted:
        assert call.incident_id not in (crash, other.incident_id)
        return
    assert call.change == MERGED and call.incident_id == crash
    assert call.merge is not None
    assert "a post it holds says blue pickup too" in call.merge["reasons"]
    assert call.link is not None and call.link["same_as"] == "rp:handle"


@pytest.mark.parametrize("case", ["the call gives an address",
                                  "two handles say a word each",
                                  "the handle posted in both incidents",
                                  "a post of the other incident says it too"])
def test_no_post_pulls_a_call_unless_one_post_of_one_incident_says_its_words(
        matcher: IncidentMatcher, case: str) -> None:
    # A trial's findings: each of these joined the call to an incident by
    # a post it holds that was not the call's author's, or not only there.
    region = Region("r:test")
    norristown = matcher.apply(region, report("f0", 40.121, -75.344,
                                              reporter="rp:phone0",
                                              text="car on its roof")).incident_id
    ambler = matcher.apply(region, report("a0", 40.154, -75.224, minute=1,
                                          reporter="rp:phone9",
                                          text="car on its roof")).incident_id

    def post(name: str, town: str, text: str, minute: float = 2) -> str:
        return matcher.apply(region, report(
            f"p-{name}-{minute}", None, None, minute=minute, channel="social",
            reporter=f"rp:{name}", address=town, text=text)).incident_id

    address, pickup = "", "crash, a blue pickup flipped"
    if case == "the call gives an address":
        assert post("handle", "Norristown", pickup) == norristown
        address = "55 Main St"
    elif case == "two handles say a word each":
        assert post("one", "Norristown", "crash, something blue flipped") == norristown
        assert post("two", "Norristown", "crash, a pickup flipped") == norristown
    elif case == "the handle posted in both incidents":
        assert post("handle", "Norristown", pickup) == norristown
        assert post("handle", "Ambler", "another crash here in town", 3) == ambler
    else:
        assert post("one", "Norristown", pickup) == norristown
        assert post("two", "Ambler", pickup) == ambler
    call = matcher.apply(region, report(
        "c1", None, None, minute=5, reporter="rp:phone1", address=address,
        text="car on its roof; caller unsure of exact location; a blue pickup"))
    assert not any("a post it holds" in reason
                   for reason in (call.merge or {}).get("reasons", ()))


def test_a_call_joins_its_posts_incident_later_than_a_call_type_would(
        matcher: IncidentMatcher) -> None:
    # The crash began 20 minutes before the call, beyond the call type's
    # window (typed_window_s, 15 min); the post came 6 minutes before it.
    region = Region("r:test")
    crash = matcher.apply(region, report("f0", 40.121, -75.344,
                                         reporter="rp:phone0",
                                         text="car on its roof")).incident_id
    post = matcher.apply(region, report(
        "p", None, None, minute=14, channel="social", reporter="rp:handle",
        address="Norristown", text="crash on the pike, a blue pickup flipped"))
    assert post.incident_id == crash
    call = matcher.apply(region, report(
        "c1", None, None, minute=20, reporter="rp:phone1",
        text="car on its roof; caller unsure of exact location; a blue pickup"))
    assert call.incident_id == crash
    assert call.link is not None and call.link["same_as"] == "rp:handle"


def _towns_recorded(*where: tuple[str, float, float]) -> Gazetteer:
    """``TOWNS`` with cells: 10 recorded calls at Norristown's centre and
    10 at each of ``where`` (a name and a point)."""
    points = [("norristown", 40.121, -75.344)] * 10
    points += [spot for spot in where for _ in range(10)]
    return dataclasses.replace(TOWNS, cells={
        "test": TownCells.of_points(0.0035, points)})


def _author_calls_from_3_km_north(matcher: IncidentMatcher) -> IncidentChange:
    """A post from Norristown in its crash; its author calls 3 km north of
    the town's centre, beyond the reach of its circle (1.25 radii of 1.5 km)."""
    region = Region("r:test")
    _post_in_another_incident(matcher, region)
    return matcher.apply(region, report("c1", 40.148, -75.344, minute=5,
                                        reporter="rp:phone1",
                                        text="car on its roof; a blue pickup"))


def test_a_call_among_the_towns_recorded_calls_is_in_it_beyond_its_circle(
        models: Models) -> None:
    # Norristown's calls were recorded there: the post was sent from the
    # caller's town.
    call = _author_calls_from_3_km_north(IncidentMatcher(
        models.kinds, models.match,
        _towns_recorded(("norristown", 40.148, -75.344))))
    assert call.link is not None and call.link["same_as"] == "rp:handle"
    assert call.link["reasons"][2] == (
        "the call 3.0 km from the centre of Norristown, where the post was sent "
        "from, among the calls recorded there")
    # By the circle alone, it is out of town.
    alone = IncidentMatcher(models.kinds, models.match, TOWNS)
    assert _author_calls_from_3_km_north(alone).link is None


def test_a_call_where_the_recorded_calls_name_a_neighbour_is_out_of_town(
        models: Models) -> None:
    # 1.2 km from Norristown's centre, inside its circle, every call ever
    # recorded named East Norriton: a stranger there who noticed a blue
    # pickup too is no author of a Norristown post.
    matcher = IncidentMatcher(models.kinds, models.match, _towns_recorded(
        ("east norriton", 40.1318, -75.344)))
    region = Region("r:test")
    _post_in_another_incident(matcher, region)
    call = _author_calls(matcher, region, "car on its roof; a blue pickup")
    assert call.link is None


@pytest.mark.parametrize("case", ["outside the town", "too late", "one word",
                                  "two posts", "a text"])
def test_no_link_across_incidents_without_place_time_and_words(
        matcher: IncidentMatcher, case: str) -> None:
    region = Region("r:test")
    _post_in_another_incident(matcher, region)
    lat, minute, text, channel = 40.1318, 5.0, "car on its roof; a blue pickup", "911"
    if case == "outside the town":
        lat = 40.145  # 2.7 km from the centre: 1.8 radii
    elif case == "too late":
        minute = 12.0  # 11 min after the post
    elif case == "one word":
        text = "car on its roof; a blue van"
    elif case == "two posts":
        matcher.apply(region, report(
            "p2", None, None, minute=2, channel="social", reporter="rp:handle2",
            address="Norristown", text="traffic stopped, blue pickup in a ditch"))
    else:
        channel = "sms"
    call = matcher.apply(region, report("c1", lat, -75.344, minute=minute,
                                        channel=channel, reporter="rp:phone1",
                                        text=text))
    assert call.link is None


def test_a_split_report_takes_its_reporter_and_their_follow_ups_with_it(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    first = matcher.apply(region, report("a", 40.12, -75.34, reporter="rp:1"))
    matcher.apply(region, report("b", 40.1203, -75.34, minute=2, reporter="rp:2"))
    _, alone = matcher.split(region, first.incident_id, "b", "sup", "", at_ms=T0_MS)
    assert (alone.reporter, alone.channel, alone.report_event_ms) == (
        "rp:2", "911", T0_MS + 2 * MINUTE_MS)

    follow = matcher.apply(region, report("t", None, None, minute=6, channel="sms",
                                          kind="other", reporter="rp:2"))
    assert (follow.change, follow.incident_id) == (MERGED, alone.incident_id)


def test_event_words_and_chains_link_nobody(matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, report("a", 40.12, -75.34, kind="structure_fire",
                                 reporter="rp:phone1", text="house on fire, smoke"))
    post = matcher.apply(region, report(
        "p", None, None, minute=3, channel="social", kind="structure_fire",
        reporter="rp:handle", address="Norristown",
        text="House fire in town, huge smoke, blue pickup parked outside"))
    assert post.change == MERGED and post.link is None  # fire and smoke: the event
    second = matcher.apply(region, report("c", 40.1201, -75.34, minute=4,
                                          kind="structure_fire", reporter="rp:phone2",
                                          text="blue pickup parked outside"))
    assert second.link is not None and second.link["same_as"] == "rp:handle"
    third = matcher.apply(region, report("d", 40.1201, -75.34, minute=5,
                                         kind="structure_fire", reporter="rp:phone3",
                                         text="blue pickup parked outside"))
    # The handle and the second phone are one person; a third phone saying the
    # same is not chained on.
    assert third.link is None


def test_reports_at_the_pole_are_one_incident(matcher: IncidentMatcher) -> None:
    region = Region()
    first = matcher.apply(region, report("a", 90.0, 0.0, accuracy_m=60))
    second = matcher.apply(region, report("b", 90.0, 120.0, minute=1, accuracy_m=60))
    near = matcher.apply(region, report("c", 89.999, 90.0, minute=2, accuracy_m=60))
    assert second.incident_id == near.incident_id == first.incident_id


def test_a_cell_too_big_for_one_changelog_record_is_cut_oldest_first() -> None:
    open_ = {f"I-{i}": {"id": f"I-{i}", "last_ms": i, "report_ids": [f"r{i}"] * 50,
                        "texts": ["smoke on the third floor"] * 5}
             for i in range(40)}
    seen = {f"r{i}": [f"I-{i % 40}", i, 0, "r:t|c:1:1"] for i in range(5_000)}
    cell = CellState({"open": open_, "seen": seen, "clock_ms": 9})
    size = len(orjson.dumps(cell.to_dict()))

    ids, incidents = cell.fit(size // 2)

    assert len(orjson.dumps(cell.to_dict())) <= size // 2
    assert (ids, incidents) == (5_000 - len(cell.seen), 0)
    assert "r4999" in cell.seen and "r0" not in cell.seen  # the newest stay
    # Report ids gone and still too big: the longest-quiet incidents go.
    ids, incidents = cell.fit(len(orjson.dumps({"open": open_})) // 2)
    assert incidents > 0 and not cell.seen
    assert "I-39" in cell.open and "I-0" not in cell.open
    # A small cell is not even serialized.
    assert CellState({"seen": {"a": ["I", 1]}}).fit(1_000) == (0, 0)


def _placeless_call_after_a_post(matcher: IncidentMatcher, post_text: str,
                                 call_text: str, post_kind: str = "service",
                                 more_posts: tuple[str, ...] = (),
                                 address: str = "") -> IncidentChange:
    """A post from Norristown opens an incident of its own (of a kind the
    call's does not fit); 5 minutes on, a call with no place at all."""
    region = Region("r:test")
    post = matcher.apply(region, report(
        "p", None, None, minute=0, channel="social", reporter="rp:handle",
        address="Norristown", text=post_text, kind=post_kind))
    assert post.change == NEW
    for n, text in enumerate(more_posts):
        matcher.apply(region, report(
            f"p{n}", None, None, minute=1, channel="social", reporter=f"rp:h{n}",
            address="Norristown", text=text, kind=post_kind))
    call = matcher.apply(region, report("c1", None, None, minute=5,
                                        reporter="rp:phone1", text=call_text,
                                        address=address))
    assert call.change == NEW and call.lat is None
    return call


def test_a_call_with_no_place_is_linked_to_a_post_that_says_what_it_says(
        matcher: IncidentMatcher) -> None:
    call = _placeless_call_after_a_post(
        matcher, "helicopter crashed near the pike, a blue pickup flipped",
        "car on its roof; a blue pickup")
    assert call.link is not None
    assert (call.link["reporter"], call.link["same_as"]) == ("rp:phone1",
                                                            "rp:handle")
    assert call.link["reasons"] == [
        "both say blue pickup", "5.0 min after the post",
        "the call gives no place; the post was sent from Norristown",
        "social then 911, the post in another incident"]


@pytest.mark.parametrize("case", ["one word", "a kind that does not fit",
                                  "a post of no kind", "two posts", "an address"])
def test_a_call_with_no_place_needs_two_words_only_its_post_said_and_a_kind(
        matcher: IncidentMatcher, case: str) -> None:
    post, call, kind = ("helicopter crashed near the pike, a blue pickup "
                        "flipped", "car on its roof; a blue pickup", "service")
    more: tuple[str, ...] = ()
    address = ""
    if case == "one word":
        call = "car on its roof; a blue van"
    elif case == "a kind that does not fit":
        post, kind = "fire alarm going off at the school, a blue pickup", "fire_alarm"
    elif case == "a post of no kind":
        post, kind = "look at that, a blue pickup", "other"
    elif case == "two posts":
        more = ("helicopter crashed, blue pickup on the shoulder",)
    else:
        # It gives a place, one no book holds: not a caller who cannot say
        # where.
        address = "999 NOWHERE LN"
    assert _placeless_call_after_a_post(matcher, post, call, kind, more,
                                        address).link is None
