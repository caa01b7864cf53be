"""A report that gave no place follows its reporter's later fix (or, for a
post, its author's call) into that incident: the move is two changes, the
incident it left (``split``) and the one it joined (``merged``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from agents.resources import Models
from pipeline.dedupe import IncidentMatcher
from pipeline.regions import Region
from pipeline.schema import (
    MERGED,
    MOVED_BY,
    NEW,
    REPEAT,
    SPLIT,
    IncidentChange,
    Report,
)
from pipeline.summary import RunSummary
from pipeline.thread import PLACES, ThreadParams, follow_up
from tests.pipeline.test_regions import (
    TOWNS,
    _author_calls,
    _post_in_another_incident,
    report,
)

TYPE = "VEHICLE ACCIDENT"
#: Two points 8 km apart.
HERE, THERE = (40.121, -75.344), (40.154, -75.250)


def typed(report_id: str, point: tuple[float, float] | None, minute: float,
          reporter: str, channel: str = "911") -> Report:
    lat, lon = point or (None, None)
    return dataclasses.replace(report(report_id, lat, lon, minute, channel=channel,
                                      reporter=reporter), type_text=TYPE)


@pytest.fixture
def matcher(models: Models) -> IncidentMatcher:
    return IncidentMatcher(models.kinds, models.match, TOWNS)


def threaded(thread: dict[str, Any], item: Report) -> Report:
    return follow_up(thread, item, ThreadParams(follow_up_s=1800))


def test_a_thread_names_the_reports_without_a_place_to_the_reporters_next_fix(
        ) -> None:
    thread: dict[str, Any] = {}
    early = threaded(thread, typed("early", None, 0, "rp:1"))
    call = threaded(thread, typed("c", None, 40, "rp:1"))
    read = threaded(thread, dataclasses.replace(
        typed("r", HERE, 41, "rp:1", "sms"), details={"geocoded_by": "text"}))
    assert PLACES not in early.details and PLACES not in call.details
    # A point read from a text is not the reporter's: nothing is placed by it,
    # nor is the text placed by the fix (it has a point).
    assert PLACES not in read.details
    fix = threaded(thread, typed("t", THERE, 45, "rp:1", "sms"))
    # Only what came in the 30 minutes before the fix.
    assert fix.details[PLACES] == [["c", "VEHICLE ACCIDENT"]]
    # Placed once: a second fix names nothing, a redelivery of the first the same.
    assert PLACES not in threaded(thread, typed("t2", HERE, 47, "rp:1",
                                                "sms")).details
    assert threaded(thread, typed("t", THERE, 45, "rp:1", "sms")).details[PLACES] == [
        ["c", "VEHICLE ACCIDENT"]]
    # Another reporter's fix places nothing of this one's.
    other: dict[str, Any] = {}
    assert PLACES not in threaded(other, typed("o", THERE, 46, "rp:2")).details


def joined_by_type(matcher: IncidentMatcher, region: Region, thread: dict[str, Any]
                   ) -> tuple[IncidentChange, IncidentChange]:
    """A crash at HERE, and a caller (rp:1) who cannot say where, joined to it
    by its call type alone."""
    crash = matcher.apply(region, threaded({}, typed("a", HERE, 0, "rp:a")))
    call = matcher.apply(region, threaded(thread, typed("c", None, 2, "rp:1")))
    assert (call.change, call.incident_id) == (MERGED, crash.incident_id)
    assert matcher.moved() == []
    return crash, call


def test_a_call_without_a_place_moves_to_where_its_callers_text_puts_it(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    thread: dict[str, Any] = {}
    first, call = joined_by_type(matcher, region, thread)
    # Their text four minutes on has a fix 8 km away: another incident.
    text = matcher.apply(region, threaded(thread, typed("t", THERE, 6, "rp:1", "sms")))
    assert text.change == NEW and text.incident_id != first.incident_id
    left, joined = matcher.moved()
    assert matcher.moved() == []  # taken once
    info = {"report_id": "c", "from": first.incident_id, "into": text.incident_id,
            "by": MOVED_BY,
            "reason": "its reporter's fix in t (sms) puts it here; it gave no place "
                      "of its own"}
    assert (left.change, left.incident_id, left.report_count) == (
        SPLIT, first.incident_id, 1)
    assert "c" not in left.report_ids and left.split == info
    assert (joined.change, joined.incident_id, joined.report_count) == (
        MERGED, text.incident_id, 2)
    assert joined.report_ids == ("t", "c") and joined.split == info
    assert (joined.channel, joined.reporter) == ("911", "rp:1")
    assert joined.report_event_ms == call.report_event_ms
    # Idempotent: the call again is a repeat where it is now; the text again
    # moves nothing.
    again = matcher.apply(region, threaded(thread, typed("c", None, 2, "rp:1")))
    assert (again.change, again.incident_id) == (REPEAT, text.incident_id)
    text_again = matcher.apply(region, threaded(thread, typed("t", THERE, 6, "rp:1",
                                                              "sms")))
    assert text_again.change == REPEAT and matcher.moved() == []
    # The reporter's next text without a place joins them there.
    later = matcher.apply(region, threaded(thread, typed("t3", None, 9, "rp:1", "sms")))
    assert later.incident_id == text.incident_id


def test_an_incident_left_with_no_report_closes(matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    thread: dict[str, Any] = {}
    crash = matcher.apply(region, threaded({}, typed("x", HERE, 28, "rp:x")))
    # A fall, no place: no incident of its type, so one of its own.
    alone = matcher.apply(region, threaded(thread, dataclasses.replace(
        typed("c", None, 30, "rp:1"), type_text="FALL VICTIM", kind="medical_trauma")))
    assert alone.change == NEW and alone.incident_id != crash.incident_id
    # The caller's text has a fix at the crash, and joins it.
    text = matcher.apply(region, threaded(thread, typed("t", HERE, 33, "rp:1", "sms")))
    assert (text.change, text.incident_id) == (MERGED, crash.incident_id)
    left, joined = matcher.moved()
    assert (left.incident_id, left.report_count, left.report_ids) == (
        alone.incident_id, 0, ())
    assert alone.incident_id not in region.open
    assert (joined.incident_id, joined.report_count, joined.witnesses) == (
        crash.incident_id, 3, 2)
    assert joined.kinds == ("collision", "medical_trauma")


def test_a_call_with_a_point_of_its_own_stays(matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    thread: dict[str, Any] = {}
    call = matcher.apply(region, threaded(thread, typed("c", HERE, 0, "rp:1")))
    text = matcher.apply(region, threaded(thread, typed("t", THERE, 5, "rp:1", "sms")))
    assert text.incident_id != call.incident_id
    assert matcher.moved() == []


def test_a_post_moves_to_the_incident_of_its_authors_call(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    posted = _post_in_another_incident(matcher, region)
    call = _author_calls(matcher, region, "car on its roof; a blue pickup")
    assert call.link is not None and call.incident_id != posted
    left, joined = matcher.moved()
    assert (left.change, left.incident_id, left.report_count) == (SPLIT, posted, 1)
    assert (joined.change, joined.incident_id, joined.report_count) == (
        MERGED, call.incident_id, 2)
    assert joined.split is not None and joined.split["report_id"] == "p"
    assert joined.split["reason"] == (
        "its author is the caller of c1 (both say blue pickup; 4.0 min after the "
        "post): the call says where")
    assert joined.channel == "social"


def test_a_post_of_an_unlinked_caller_stays(matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    posted = _post_in_another_incident(matcher, region)
    call = _author_calls(matcher, region, "car on its roof")
    assert call.link is None and call.incident_id != posted
    assert matcher.moved() == []


def test_a_run_counts_moves_apart_from_splits_and_keeps_the_new_home() -> None:
    run = RunSummary(reports_read=2)
    info = {"report_id": "c", "from": "I-1", "into": "I-2", "by": MOVED_BY,
            "reason": "x"}
    common = {"received_ms": 1_000, "board_ms": 1_040}
    run.add_board({"raw_ref": "t:0:0", "report_id": "c", "incident_id": "I-1",
                   "change": NEW, **common})
    run.add_board({"raw_ref": "t:0:1", "report_id": "t", "incident_id": "I-2",
                   "change": NEW, **common})
    run.add_board({"raw_ref": "split:c", "report_id": "c", "incident_id": "I-1",
                   "change": SPLIT, "split": info, "report_count": 0, **common})
    run.add_board({"raw_ref": "split:c", "report_id": "c", "incident_id": "I-2",
                   "change": MERGED, "split": info, **common})
    # The call redelivered: a repeat of where it is now, no conflict.
    run.add_board({"raw_ref": "t:0:0", "report_id": "c", "incident_id": "I-2",
                   "change": REPEAT, **common})
    figures = run.figures(elapsed_s=1.0)
    assert figures["moved_by_reporter_fix"] == 1 and figures["splits"] == 0
    assert figures["reports_in_two_incidents"] == 0
    assert figures["reports_accounted"] == 2
    assert (figures["incidents"], figures["incidents_emptied"]) == (1, 1)


def test_a_run_read_in_any_order_sees_no_conflict_in_a_move() -> None:
    info = {"report_id": "c", "from": "I-1", "into": "I-2", "by": MOVED_BY,
            "reason": "x"}
    common = {"received_ms": 1_000, "board_ms": 1_040}
    records = [
        {"raw_ref": "split:c", "report_id": "c", "incident_id": "I-2",
         "change": MERGED, "split": info, **common},
        {"raw_ref": "t:0:2", "report_id": "c", "incident_id": "I-2",
         "change": REPEAT, **common},
        {"raw_ref": "t:0:0", "report_id": "c", "incident_id": "I-1",
         "change": NEW, **common},
        {"raw_ref": "split:c", "report_id": "c", "incident_id": "I-1",
         "change": SPLIT, "split": info, "report_count": 0, **common},
        # Another report that the board names in two incidents, no move.
        {"raw_ref": "t:0:3", "report_id": "d", "incident_id": "I-3",
         "change": NEW, **common},
        {"raw_ref": "t:0:4", "report_id": "d", "incident_id": "I-4",
         "change": NEW, **common},
    ]
    for order in (records, records[::-1]):
        run = RunSummary(reports_read=3)
        for record in order:
            run.add_board(record)
        assert run.figures(elapsed_s=1.0)["reports_in_two_incidents"] == 1


def test_a_reporter_with_another_report_left_behind_stays_a_witness_there(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    thread: dict[str, Any] = {}
    # The reporter's first text names its corner (a point read from the text:
    # a place); their second gives none; their third a fix 8 km away.
    read = dataclasses.replace(typed("r1", HERE, 0, "rp:1", "sms"),
                               flags=("geocoded",), details={"geocoded_by": "text"})
    first = matcher.apply(region, threaded(thread, read))
    matcher.apply(region, threaded({}, typed("x", HERE, 1, "rp:x")))
    matcher.apply(region, threaded(thread, typed("r2", None, 3, "rp:1")))
    matcher.apply(region, threaded(thread, typed("t", THERE, 8, "rp:1", "sms")))
    [left, _] = matcher.moved()
    assert left.report_ids == ("r1", "x")
    assert "rp:1" in region.open[first.incident_id]["reporters"]
    later = matcher.apply(region, threaded({}, typed("y", HERE, 9, "rp:y")))
    assert later.incident_id == first.incident_id
    assert (later.report_count, later.witnesses) == (3, 3)


def test_a_fix_moves_no_report_another_sender_gave_the_same_id(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    matcher.apply(region, threaded({}, typed("a", HERE, 0, "rp:a")))
    matcher.apply(region, threaded({}, typed("c", None, 2, "rp:2")))
    thread: dict[str, Any] = {}
    renamed = matcher.apply(region, threaded(thread, typed("c", None, 5, "rp:1")))
    assert renamed.report_id != "c"  # decided under an id of its own
    matcher.apply(region, threaded(thread, typed("t", THERE, 8, "rp:1", "sms")))
    # The fix names "c", which is rp:2's: it stays.
    assert matcher.moved() == []


def test_the_words_of_a_moved_report_go_with_it(matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    thread: dict[str, Any] = {}
    crash = matcher.apply(region, threaded({}, typed("x", HERE, -1, "rp:x")))
    call = dataclasses.replace(typed("c", None, 0, "rp:1"), kind="cardiac_arrest",
                               type_text="CARDIAC ARREST",
                               text="my father is not breathing")
    alone = matcher.apply(region, threaded(thread, call))
    assert alone.incident_id != crash.incident_id
    matcher.apply(region, threaded(thread, typed("t", HERE, 3, "rp:1", "sms")))
    left, joined = matcher.moved()
    said = "CARDIAC ARREST my father is not breathing"
    assert said in joined.texts and said not in left.texts
    assert "cardiac_arrest" in joined.kinds


def test_a_fix_late_by_event_time_moves_nothing_out_of_a_stale_incident(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    thread: dict[str, Any] = {}
    matcher.apply(region, threaded({}, typed("a", HERE, 0, "rp:a")))
    matcher.apply(region, threaded(thread, typed("c", None, 2, "rp:1")))
    for n in range(3):  # the region's clock goes on past stale_after_s (2 h)
        matcher.apply(region, threaded({}, typed(f"f{n}", THERE, 200 + n, f"rp:f{n}")))
    matcher.apply(region, threaded(thread, typed("t", (40.30, -75.10), 6, "rp:1",
                                                 "sms")))
    assert matcher.moved() == []


def test_a_report_that_named_a_street_or_an_address_is_not_moved() -> None:
    thread: dict[str, Any] = {}
    threaded(thread, dataclasses.replace(typed("c1", None, 0, "rp:1"),
                                         address="HAWS AVE & MAIN ST"))
    threaded(thread, dataclasses.replace(typed("c2", None, 1, "rp:1"),
                                         text="crash on haws ave"))
    fix = threaded(thread, typed("t", THERE, 5, "rp:1", "sms"))
    assert PLACES not in fix.details


def test_an_operators_split_stands_before_a_reporters_fix(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    thread: dict[str, Any] = {}
    crash, _ = joined_by_type(matcher, region, thread)
    matcher.split(region, crash.incident_id, "c", "op", "not this crash", 0)
    matcher.apply(region, threaded(thread, typed("t", HERE, 4, "rp:1", "sms")))
    assert matcher.moved() == []


def two_moved_by_a_fix(matcher: IncidentMatcher, region: Region
                       ) -> tuple[IncidentChange, IncidentChange]:
    """A crash at HERE joined by two calls of rp:1 who cannot say where, a
    crash at THERE, and rp:1's text with a fix THERE: (THERE's crash, the
    text's change)."""
    thread: dict[str, Any] = {}
    matcher.apply(region, threaded({}, typed("a", HERE, 0, "rp:a")))
    matcher.apply(region, threaded(thread, typed("c1", None, 1, "rp:1")))
    matcher.apply(region, threaded(thread, typed("c2", None, 2, "rp:1")))
    there = matcher.apply(region, threaded({}, typed("b", THERE, 3, "rp:b")))
    fix = matcher.apply(region, threaded(thread, typed("t", THERE, 5, "rp:1", "sms")))
    return there, fix


def test_an_operators_split_after_a_move_keeps_the_witnesses(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    there, fix = two_moved_by_a_fix(matcher, region)
    assert fix.incident_id == there.incident_id
    assert len(matcher.moved()) == 4  # two reports, two changes each
    matcher.split(region, there.incident_id, "t", "op", "another phone", 0)
    later = matcher.apply(region, threaded({}, typed("z", THERE, 6, "rp:z")))
    assert later.incident_id == there.incident_id
    assert (later.report_count, later.witnesses) == (4, 3)  # rp:b, rp:1, rp:z


def test_the_changes_of_a_fix_that_moves_two_reports_count_up(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    _, fix = two_moved_by_a_fix(matcher, region)
    joined = [c for c in matcher.moved() if c.change == MERGED]
    assert [fix.report_count] + [c.report_count for c in joined] == [2, 3, 4]
    assert [c.witnesses for c in joined] == [2, 2]


def test_a_fix_from_another_source_places_nothing() -> None:
    thread: dict[str, Any] = {}
    threaded(thread, typed("c", None, 0, "rp:1"))
    other = dataclasses.replace(typed("t", THERE, 3, "rp:1", "sms"), source="json")
    assert PLACES not in threaded(thread, other).details
    # The reporter's next fix from the call's source still places it.
    assert threaded(thread, typed("u", HERE, 5, "rp:1", "sms")).details[PLACES] == [
        ["c", "VEHICLE ACCIDENT"]]


def test_a_post_stays_when_its_authors_call_gives_no_place(
        matcher: IncidentMatcher) -> None:
    region = Region("r:test")
    _post_in_another_incident(matcher, region)
    call = matcher.apply(region, dataclasses.replace(
        report("c1", None, None, minute=5, reporter="rp:phone1",
               text="a blue pickup flipped over"), type_text=TYPE))
    # Linked to the post ("the call gives no place"), in an incident of its
    # own without a point: the post stays in the crash its town put it in.
    assert call.change == NEW and call.lat is None and call.link is not None
    assert matcher.moved() == []
