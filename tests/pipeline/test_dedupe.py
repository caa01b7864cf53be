"""dedupe: reports of one incident become one incident, idempotently and bounded."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import orjson
import pytest

from agents.resources import Models
from pipeline.addresses import AddressBook
from pipeline.dedupe import (
    MAX_REPORT_IDS,
    IncidentMatcher,
    MatchParams,
    incident_id_for,
)
from pipeline.geo import distance_m
from pipeline.places import Gazetteer, TownCells
from pipeline.regions import Region, region_key
from pipeline.schema import (
    LOCATION_KNOWN,
    LOCATION_UNKNOWN,
    MERGED,
    NEW,
    REPEAT,
    UPDATED,
    IncidentChange,
    Report,
)

LAT, LON = 40.1210, -75.3420  # well inside one 0.05 degree cell
METRE_DEG = 360 / (2 * math.pi * 6_371_008.8)  # degrees of latitude per metre
MINUTE_MS = 60_000
T0_MS = 1_450_000_000_000


def opened(name: str, minute: float = 0.0) -> str:
    """The id of the incident the report ``name`` (at ``minute``) opened."""
    return incident_id_for(name, T0_MS + int(minute * MINUTE_MS))


def report(report_id: str, *, north_m: float = 0.0, minute: float = 0.0,
           kind: str = "collision", located: bool = True,
           accuracy_m: float | None = None, text: str = "") -> Report:
    return Report(
        report_id=report_id,
        source="test",
        channel="911",
        event_ms=T0_MS + int(minute * MINUTE_MS),
        received_ms=T0_MS + int(minute * MINUTE_MS) + 1_000,
        kind=kind,
        type_text=kind.upper(),
        text=text,
        lat=LAT + north_m * METRE_DEG if located else None,
        lon=LON if located else None,
        location=LOCATION_KNOWN if located else LOCATION_UNKNOWN,
        accuracy_m=accuracy_m,
        area="NORRISTOWN",
        raw_ref=f"t:0:{report_id}",
    )


@pytest.fixture
def matcher(models: Models) -> IncidentMatcher:
    return IncidentMatcher(models.kinds, models.match)


def snapshot(region: Region) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(region.snapshot()))
    return loaded


def restored(region: Region) -> Region:
    """The region as a restarted worker finds it: cells from the table."""
    stored = snapshot(region)
    again = Region(region.name, stored.get)
    again.rebuild(stored.items())
    return again


def test_real_params_are_loaded(models: Models) -> None:
    assert models.match == MatchParams(cell_deg=0.05, radius_m=150.0, window_s=900,
                                       stale_after_s=7200, max_open_per_cell=500,
                                       max_texts=5, seen_ttl_s=86_400,
                                       max_seen_per_cell=20_000,
                                       typed_window_s=900, typed_min_p=0.4,
                                       address_radius_m=40,
                                       address_window_s=600, town_min_p=0.4,
                                       fix_spread_m=60.0, link_min_words=1,
                                       reach_factor=1.5, held_min_p=0.5,
                                       corner_min_fixes=1,
                                       placeless_link_min_words=2)


def test_params_from_config_refuse_unknown_keys_and_impossible_values() -> None:
    assert MatchParams.from_config({"radius_m": 80.0}) == MatchParams(radius_m=80.0)

    with pytest.raises(ValueError, match="radius_metres"):
        MatchParams.from_config({"radius_metres": 80.0})
    with pytest.raises(ValueError, match="cell_deg"):
        MatchParams.from_config({"cell_deg": 0})


def test_new_then_merged_then_repeat(matcher: IncidentMatcher) -> None:
    cell = Region()
    first = matcher.apply(cell, report("a"))
    second = matcher.apply(cell, report("b", north_m=50, minute=2))
    again = matcher.apply(cell, report("b", north_m=50, minute=2))

    assert first.change == "new"
    assert first.incident_id == opened("a")
    assert first.report_count == 1
    assert first.merge is None
    assert (second.change, second.incident_id) == ("merged", first.incident_id)
    assert second.report_count == 2
    assert second.report_ids == ("a", "b")
    assert (again.change, again.incident_id) == ("repeat", first.incident_id)
    assert again.report_count == 2
    assert again.merge is None


def test_reports_100_m_and_10_min_apart_of_compatible_kinds_merge(
    matcher: IncidentMatcher,
) -> None:
    cell = Region()
    opened = matcher.apply(cell, report("a", kind="collision"))
    joined = matcher.apply(cell, report("b", north_m=100, minute=10,
                                        kind="vehicle_fire"))

    assert joined.change == "merged"
    assert joined.incident_id == opened.incident_id
    assert joined.kind == "collision"
    assert joined.kinds == ("collision", "vehicle_fire")
    assert joined.merge is not None
    # Points without a stated uncertainty count as half the radius each.
    assert joined.merge["reasons"] == [
        "distance 100 m, 0.8 times the fixes' spread (122 m)",
        "10.0 min apart",
        "kind vehicle_fire compatible with collision",
        "evidence +0.8 >= +0.0",
    ]
    assert joined.merge["distance_m"] == pytest.approx(100.0, abs=0.1)
    assert joined.merge["gap_s"] == 600.0
    assert 0.0 <= joined.merge["confidence"] <= 1.0
    assert (joined.first_ms, joined.last_ms) == (T0_MS, T0_MS + 10 * MINUTE_MS)


def test_same_kind_same_place_same_time_is_near_certain(
    matcher: IncidentMatcher,
) -> None:
    cell = Region()
    matcher.apply(cell, report("a"))
    joined = matcher.apply(cell, report("b"))

    assert joined.merge is not None
    assert joined.merge["confidence"] >= 0.99
    assert joined.merge["reasons"][2] == "same kind collision"


def test_incompatible_kinds_do_not_merge(matcher: IncidentMatcher) -> None:
    cell = Region()
    opened = matcher.apply(cell, report("a", kind="collision"))
    other = matcher.apply(cell, report("b", north_m=10, minute=1, kind="burglary"))

    assert other.change == "new"
    assert other.incident_id != opened.incident_id
    assert len(cell.open) == 2


def test_too_far_apart_does_not_merge(matcher: IncidentMatcher) -> None:
    cell = Region()
    matcher.apply(cell, report("a"))

    assert matcher.apply(cell, report("b", north_m=160, minute=1)).change == "new"


def test_distance_is_weighed_against_the_fixes_uncertainty(
        matcher: IncidentMatcher) -> None:
    cell = Region()
    wide = matcher.apply(cell, report("a", accuracy_m=120.0))
    joined = matcher.apply(cell, report("b", north_m=200, minute=1, accuracy_m=120.0))

    assert joined.change == "merged" and joined.incident_id == wide.incident_id
    assert joined.merge is not None
    assert joined.merge["reasons"][0] == \
        "distance 200 m, 1.1 times the fixes' spread (180 m)"

    # Two fixes good to 10 m, 160 m apart (inside the outer 150 + 10 + 10 m):
    # two places, whatever the kind and time say.
    sharp = Region()
    first = matcher.apply(sharp, report("c", accuracy_m=10.0))
    apart = matcher.apply(sharp, report("d", north_m=160, minute=1, accuracy_m=10.0))
    assert apart.change == "new" and apart.incident_id != first.incident_id
    # ...but 20 m apart they are one.
    close = matcher.apply(sharp, report("e", north_m=20, minute=2, accuracy_m=10.0))
    assert close.incident_id == first.incident_id


def test_streets_both_name_weigh_two_fixes(matcher: IncidentMatcher) -> None:
    def call(report_id: str, north_m: float, text: str) -> Report:
        return report(report_id, north_m=north_m, minute=1, accuracy_m=30.0,
                      text=text)

    # 110 m apart with 30 m fixes, a minute apart, one kind: one incident when
    # the calls name no street, or the same corner...
    for said in ("car on its side", "crash at Main St and Haws Ave"):
        region = Region()
        first = matcher.apply(region, report("a", accuracy_m=30.0,
                                             text="crash at haws ave & main st"))
        joined = matcher.apply(region, call("b", 110, said))
        assert joined.incident_id == first.incident_id
    assert joined.merge is not None
    assert "both name haws ave and main st" in joined.merge["reasons"]

    # ...two when they name another corner of one road, or other streets.
    for said in ("crash at Main St & Oak Rd", "crash on Elm St"):
        region = Region()
        first = matcher.apply(region, report("a", accuracy_m=30.0,
                                             text="crash at haws ave & main st"))
        assert matcher.apply(region, call("b", 110, said)).change == "new"


def test_a_sharp_incident_near_beats_a_loose_one_that_covers_the_report(
        matcher: IncidentMatcher) -> None:
    # 300 m from an 800 m fix is well inside its spread, 90 m from a 20 m fix
    # is 1.4 spreads off; a loose fix fits every place around it, so the
    # sharp one is likelier.
    region = Region()
    loose = matcher.apply(region, report("loose", north_m=-300, accuracy_m=800.0))
    sharp = matcher.apply(region, report("sharp", north_m=90, accuracy_m=20.0,
                                         kind="burglary"))
    words_only = matcher.apply(region, report("r", minute=1, accuracy_m=10.0,
                                              kind="other"))

    assert sharp.change == "new" and sharp.incident_id != loose.incident_id
    assert words_only.incident_id == sharp.incident_id


def test_an_incidents_point_is_its_fixes_mean_by_precision(
        matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, report("a", accuracy_m=20.0))
    two = matcher.apply(region, report("b", north_m=40, minute=1, accuracy_m=20.0))
    # Alike fixes meet halfway, and the mean is surer than either.
    assert two.lat is not None
    assert distance_m(LAT, LON, two.lat, LON) == pytest.approx(20.0, abs=0.1)
    assert region.open[two.incident_id]["acc_m"] == pytest.approx(20 / math.sqrt(2))

    # A fix four times as sure pulls the point 16 / 17 of the way to it.
    sure = matcher.apply(region, report("c", north_m=-20, minute=2,
                                        accuracy_m=20 / math.sqrt(2) / 4))
    assert sure.lat is not None
    assert (sure.lat - LAT) / METRE_DEG == pytest.approx(20 - 40 * 16 / 17, abs=0.1)

    # A fix the reporter's thread lends (their own, again) does not count.
    lent = dataclasses.replace(report("d", north_m=30, minute=3, accuracy_m=1.0),
                               flags=("location_from_thread",))
    assert matcher.apply(region, lent).lat == sure.lat


def test_window_edge_merges_and_just_past_it_does_not(
    matcher: IncidentMatcher,
) -> None:
    cell = Region()
    matcher.apply(cell, report("a"))

    assert matcher.apply(cell, report("b", minute=15)).change == "merged"
    # The incident now spans 0..15 min; 31 min is 16 min past its end.
    assert matcher.apply(cell, report("c", minute=31)).change == "new"


def test_too_late_does_not_merge(matcher: IncidentMatcher) -> None:
    cell = Region()
    matcher.apply(cell, report("a"))

    assert matcher.apply(cell, report("b", north_m=20, minute=16)).change == "new"


def test_late_report_with_earlier_event_time_joins(matcher: IncidentMatcher) -> None:
    cell = Region()
    opened = matcher.apply(cell, report("a", minute=10))
    late = matcher.apply(cell, report("b", north_m=50, minute=3))

    assert late.change == "merged"
    assert late.incident_id == opened.incident_id
    assert (late.first_ms, late.last_ms) == (T0_MS + 3 * MINUTE_MS,
                                             T0_MS + 10 * MINUTE_MS)
    assert late.merge is not None
    assert late.merge["gap_s"] == 420.0


def test_report_inside_the_span_has_no_gap(matcher: IncidentMatcher) -> None:
    cell = Region()
    matcher.apply(cell, report("a", minute=0))
    matcher.apply(cell, report("b", minute=12))
    inside = matcher.apply(cell, report("c", minute=6))

    assert inside.merge is not None
    assert inside.merge["gap_s"] == 0.0
    assert inside.report_count == 3


def test_the_most_confident_incident_wins(matcher: IncidentMatcher) -> None:
    cell = Region()
    south = matcher.apply(cell, report("south", north_m=-100))
    north = matcher.apply(cell, report("north", north_m=100, minute=1))
    # Both are within 150 m of each report below; the nearer one fits best.
    near_south = matcher.apply(cell, report("x", north_m=-40, minute=1))
    near_north = matcher.apply(cell, report("y", north_m=40, minute=1))

    assert north.change == "new"
    assert near_south.incident_id == south.incident_id
    assert near_north.incident_id == north.incident_id


def test_same_report_twice_changes_nothing(matcher: IncidentMatcher) -> None:
    cell = Region()
    matcher.apply(cell, report("a"))
    matcher.apply(cell, report("b", north_m=30, minute=1))
    before = snapshot(cell)

    again = matcher.apply(cell, report("b", north_m=30, minute=1))
    once_more = matcher.apply(cell, report("a"))

    assert (again.change, once_more.change) == ("repeat", "repeat")
    assert again.report_count == once_more.report_count == 2
    assert snapshot(cell) == before


def test_stale_incidents_leave_the_state(
    models: Models, matcher: IncidentMatcher
) -> None:
    stale_min = models.match.stale_after_s / 60
    cell = Region()
    old = matcher.apply(cell, report("a"))
    matcher.apply(cell, report("b", north_m=20, minute=5))

    # Exactly stale_after_s after the incident's last report it is still held.
    matcher.apply(cell, report("c", minute=5 + stale_min, kind="burglary"))
    assert old.incident_id in cell.open

    matcher.apply(cell, report("d", minute=6 + stale_min, kind="burglary"))
    assert old.incident_id not in cell.open
    assert set(cell.open) == {opened("c", 5 + stale_min)}

    # A new report where the old incident was opens a new one.
    fresh = matcher.apply(cell, report("e", minute=6 + stale_min))
    assert (fresh.change, fresh.incident_id) == ("new", opened("e", 6 + stale_min))


def test_redelivery_after_the_incident_left_is_still_a_repeat(
    models: Models, matcher: IncidentMatcher
) -> None:
    stale_min = models.match.stale_after_s / 60
    cell = Region()
    old = matcher.apply(cell, report("a"))
    matcher.apply(cell, report("later", minute=stale_min + 60, kind="burglary"))
    assert old.incident_id not in cell.open
    before = snapshot(cell)

    again = matcher.apply(cell, report("a"))

    assert (again.change, again.incident_id) == ("repeat", old.incident_id)
    assert snapshot(cell) == before


def test_seen_ids_are_forgotten_after_their_ttl(models: Models) -> None:
    params = dataclasses.replace(models.match, stale_after_s=600, seen_ttl_s=3600)
    matcher = IncidentMatcher(models.kinds, params)
    cell = Region()
    matcher.apply(cell, report("a"))

    matcher.apply(cell, report("b", minute=60, kind="burglary"))
    assert "a" in cell.seen
    matcher.apply(cell, report("c", minute=61, kind="burglary"))
    assert "a" not in cell.seen

    assert matcher.apply(cell, report("a")).change == "new"


def test_a_cell_remembers_at_most_max_seen_ids(models: Models) -> None:
    params = dataclasses.replace(models.match, max_seen_per_cell=4)
    matcher = IncidentMatcher(models.kinds, params)
    cell = Region()

    for n in range(10):
        matcher.apply(cell, report(f"r{n}", minute=n / 10))
        assert len(cell.seen) <= 4

    assert set(cell.seen) == {"r6", "r7", "r8", "r9"}
    assert matcher.apply(cell, report("r9", minute=0.9)).change == "repeat"


def test_expiry_follows_event_time_not_arrival(
    models: Models, matcher: IncidentMatcher
) -> None:
    cell = Region()
    matcher.apply(cell, report("a"))
    # An old report arriving late does not move the cell's clock backwards.
    matcher.apply(cell, report("b", minute=200, kind="burglary"))
    matcher.apply(cell, report("c", minute=1, kind="burglary"))

    assert opened("a") not in cell.open
    assert cell.clock_ms == T0_MS + 200 * MINUTE_MS


def test_a_cell_holds_at_most_max_open_incidents(models: Models) -> None:
    params = dataclasses.replace(models.match, max_open_per_cell=3)
    matcher = IncidentMatcher(models.kinds, params)
    cell = Region()

    for n in range(6):
        change = matcher.apply(cell, report(f"r{n}", north_m=n * 400, minute=n))
        assert change.change == "new"
        assert len(cell.open) <= 3

    # The oldest left first.
    assert set(cell.open) == {opened(f"r{n}", n) for n in (3, 4, 5)}


def test_report_without_a_point_or_a_place_opens_its_own_incident(
    matcher: IncidentMatcher,
) -> None:
    cell = Region()
    matcher.apply(cell, report("a"))
    # Another call type than the open incident's: nothing ties it to one.
    lost = report("lost", located=False, kind="structure_fire")

    first = matcher.apply(cell, lost)
    again = matcher.apply(cell, lost)

    assert first.change == "new"
    assert first.incident_id == opened("nofix:lost") == again.incident_id
    assert again.change == REPEAT
    assert (first.lat, first.lon) == (None, None)
    assert first.report_count == 1
    assert region_key(lost) == "r:test"


def test_every_report_of_a_source_meets_in_its_region() -> None:
    assert region_key(report("a")) == "r:test"
    far = dataclasses.replace(report("b"), lat=-33.9, lon=151.2)
    assert region_key(far) == "r:test"


def test_incident_ids_are_stable_and_distinct() -> None:
    assert incident_id_for("a") == incident_id_for("a")
    assert incident_id_for("a") != incident_id_for("b")
    assert incident_id_for("a").startswith("I-")


def test_recent_ids_and_texts_are_capped_but_all_counted(models: Models) -> None:
    params = dataclasses.replace(models.match, window_s=10**6)
    matcher = IncidentMatcher(models.kinds, params)
    cell = Region()
    total = MAX_REPORT_IDS + 5

    for n in range(total):
        last = matcher.apply(cell, report(f"r{n}", minute=n / 10, text=f"call {n}"))

    assert last.report_count == total
    assert len(last.report_ids) == MAX_REPORT_IDS
    assert last.report_ids[-1] == f"r{total - 1}"
    assert last.texts == tuple(f"COLLISION call {n}" for n in range(total - 5, total))
    # Every report is still recognised as a repeat.
    assert matcher.apply(cell, report("r0")).change == "repeat"


def test_region_state_round_trips_through_orjson_and_keeps_working(
    matcher: IncidentMatcher,
) -> None:
    cell = Region()
    matcher.apply(cell, report("a"))
    matcher.apply(cell, report("b", north_m=40, minute=2))
    matcher.apply(cell, report("c", north_m=600, minute=3, kind="burglary"))

    restarted = restored(cell)
    for target in (cell, restarted):
        repeat = matcher.apply(target, report("b", north_m=40, minute=2))
        joined = matcher.apply(target, report("d", north_m=20, minute=4))
        assert repeat.change == "repeat"
        assert (joined.change, joined.report_count) == ("merged", 3)
        assert joined.incident_id == opened("a")
    assert restarted.snapshot() == cell.snapshot()
    assert set(restarted.recent) == set(cell.recent)


def test_merged_distance_matches_geo(matcher: IncidentMatcher) -> None:
    cell = Region()
    matcher.apply(cell, report("a"))
    joined = matcher.apply(cell, report("b", north_m=75))
    b = report("b", north_m=75)

    assert joined.merge is not None
    assert b.lat is not None and b.lon is not None
    assert joined.merge["distance_m"] == round(distance_m(b.lat, b.lon, LAT, LON), 1)


def test_a_full_cell_evicts_only_when_a_new_incident_needs_room(
    models: Models,
) -> None:
    params = dataclasses.replace(models.match, max_open_per_cell=2)
    matcher = IncidentMatcher(models.kinds, params)
    cell = Region()
    first = matcher.apply(cell, report("a"))
    matcher.apply(cell, report("b", north_m=1000, minute=1))

    joined = matcher.apply(cell, report("c", north_m=10, minute=2))

    assert joined.change == "merged"
    assert joined.incident_id == first.incident_id
    assert len(cell.open) == 2


def test_a_report_with_an_implausible_time_neither_matches_nor_moves_the_clock(
    matcher: IncidentMatcher,
) -> None:
    cell = Region()
    future = dataclasses.replace(report("f", minute=10**9), flags=("time_in_future",))

    alone = matcher.apply(cell, future)
    first = matcher.apply(cell, report("a"))
    second = matcher.apply(cell, report("b", minute=2))

    assert alone.change == "new" and alone.incident_id == opened("alone:f", 10**9)
    assert cell.clock_ms == report("b", minute=2).event_ms
    assert (second.change, second.incident_id) == ("merged", first.incident_id)
    assert region_key(future) == "u:f"


def test_one_row_dated_a_year_ahead_does_not_close_the_regions_incidents(
        matcher: IncidentMatcher) -> None:
    region = Region()
    first = matcher.apply(region, report("a"))
    typo = matcher.apply(region, report("t", north_m=5000, minute=365 * 1440))

    joined = matcher.apply(region, report("c", north_m=10, minute=3))

    assert typo.change == "new"
    assert region.clock_ms == report("c", minute=3).event_ms
    assert (joined.change, joined.incident_id) == ("merged", first.incident_id)


def test_a_quiet_spell_of_days_moves_the_clock_once_a_second_report_confirms(
        matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, report("a"))
    matcher.apply(region, report("b", north_m=5000, minute=3 * 1440))
    matcher.apply(region, report("c", north_m=9000, minute=3 * 1440 + 5))

    assert region.clock_ms == report("c", minute=3 * 1440 + 5).event_ms
    again = matcher.apply(region, report("d", north_m=10, minute=3 * 1440 + 6))
    assert again.change == "new"  # "a" is days stale by then


def test_a_report_id_reused_once_forgotten_opens_an_incident_of_another_id(
        models: Models, matcher: IncidentMatcher) -> None:
    region = Region()
    first = matcher.apply(region, report("TIP-7"))
    later = models.match.seen_ttl_s / 60 + 10
    for n in range(2):  # a day on, twice: time moved on (EventClock)
        matcher.apply(region, report(f"x{n}", north_m=5000, minute=later + n))

    reused = matcher.apply(region, report("TIP-7", north_m=9000, minute=later + 2))

    assert "TIP-7" in region.seen and reused.change == "new"
    assert reused.incident_id != first.incident_id
    assert reused.incident_id == opened("TIP-7", later + 2)


def test_one_person_reporting_three_times_is_one_witness(
        matcher: IncidentMatcher) -> None:
    region = Region()
    texts = [dataclasses.replace(report(f"t{n}", north_m=5 * n, minute=n),
                                 reporter="rp:same") for n in range(3)]
    changes = [matcher.apply(region, text) for text in texts]
    other = matcher.apply(region, report("call", north_m=10, minute=4))

    assert [c.report_count for c in changes] == [1, 2, 3]
    assert [c.witnesses for c in changes] == [1, 1, 1]
    assert (other.report_count, other.witnesses) == (4, 2)


def versioned(version_ms: int, text: str = "", kind: str = "collision") -> Report:
    return dataclasses.replace(report("sf_fire:170010001", text=text, kind=kind),
                   version_ms=version_ms)


def test_a_newer_version_updates_the_incident_and_an_older_one_changes_nothing(
        matcher: IncidentMatcher) -> None:
    cell = Region()
    first = matcher.apply(cell, versioned(1_000, "unit E1 dispatched"))
    newer = matcher.apply(cell, versioned(2_000, "unit M5 on scene",
                                          kind="medical_trauma"))
    older = matcher.apply(cell, versioned(1_500, "stale copy"))
    again = matcher.apply(cell, versioned(2_000, "unit M5 on scene",
                                          kind="medical_trauma"))

    assert (first.change, newer.change, older.change, again.change) == (
        NEW, UPDATED, REPEAT, REPEAT)
    assert newer.incident_id == first.incident_id
    assert newer.report_count == 1  # one report, two versions
    assert newer.kinds == ("collision", "medical_trauma")
    assert "stale copy" not in " ".join(again.texts)
    assert "unit M5 on scene" in " ".join(newer.texts)


def test_versions_survive_the_state_round_trip(matcher: IncidentMatcher) -> None:
    cell = Region()
    matcher.apply(cell, versioned(1_000))
    restarted = restored(cell)
    assert matcher.apply(restarted, versioned(1_000)).change == REPEAT
    assert matcher.apply(restarted, versioned(3_000)).change == UPDATED


def test_a_copy_without_a_place_is_a_repeat_of_the_incident_that_holds_it(
        matcher: IncidentMatcher) -> None:
    cell = Region()
    first = matcher.apply(cell, report("r1"))
    merged = matcher.apply(cell, report("r2", north_m=20, minute=2))
    # The same report id again, its point lost on the way: its cell (that
    # of its point) is not where it looks, but the incident holds it.
    copy = matcher.apply(cell, report("r1", located=False))

    assert merged.incident_id == first.incident_id and merged.report_count == 2
    assert copy.change == REPEAT and copy.incident_id == first.incident_id
    assert copy.report_count == 2  # never reset, never counted twice
    assert matcher.apply(cell, report("r1", located=False)).change == REPEAT
    # Once the incident is gone from the state, the copy opens an incident of
    # its own, named apart from the one the report opened.
    again = matcher.apply(Region(), report("r1", located=False))
    assert again.change == "new" and again.incident_id != first.incident_id
    assert matcher.apply(Region(), report("r1", located=False)).incident_id == (
        again.incident_id)  # stable across redelivery


def sms(report_id: str, text: str, minute: float) -> Report:
    """A text with no fix, no street and no town: only its words."""
    return Report(report_id=report_id, source="test", channel="sms",
                  event_ms=T0_MS + int(minute * MINUTE_MS),
                  received_ms=T0_MS + int(minute * MINUTE_MS) + 1_000,
                  kind="collision", type_text="", text=text, lat=None, lon=None,
                  location=LOCATION_UNKNOWN, area="UNKNOWN", raw_ref=f"t:0:{report_id}")


def test_a_report_with_no_place_joins_the_one_incident_of_its_call_type(
        matcher: IncidentMatcher) -> None:
    region = Region()
    crash = matcher.apply(region, report("a"))
    matcher.apply(region, report("b", north_m=3000, kind="structure_fire"))

    joined = matcher.apply(region, sms("t", "need help collision cant talk", 3))

    assert joined.change == "merged" and joined.incident_id == crash.incident_id
    assert joined.merge is not None
    assert joined.merge["reasons"][0] == "no place; both say collision"
    assert joined.merge["distance_m"] is None


def test_a_call_type_two_open_incidents_have_joins_neither(
        matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, report("a"))
    matcher.apply(region, report("b", north_m=3000, minute=1))

    alone = matcher.apply(region, sms("t", "need help collision cant talk", 3))

    assert alone.change == "new" and alone.report_count == 1


def test_a_report_with_no_place_joins_the_likeliest_incident_of_its_call_type(
        matcher: IncidentMatcher) -> None:
    # Callers of one event call within minutes of it: of two crashes, the
    # one first reported a minute ago, not ten.
    region = Region()
    matcher.apply(region, report("a"))
    recent = matcher.apply(region, report("b", north_m=3000, minute=9))

    joined = matcher.apply(region, sms("t", "need help collision cant talk", 10))

    assert joined.change == "merged" and joined.incident_id == recent.incident_id
    assert joined.merge is not None
    assert joined.merge["reasons"][1:] == [
        "1.0 min from its first report",
        "90% of the evidence among 2 incidents of the call type"]


def test_a_call_type_leans_to_the_incident_whose_callers_named_no_street(
        matcher: IncidentMatcher) -> None:
    # A caller who cannot say where calls about an event whose other callers
    # could not either more often than about one whose callers named streets.
    region = Region()
    opened = matcher.apply(region, named("a", "HAWS AVE & MAIN ST", 0))
    placeless = matcher.apply(region, dataclasses.replace(
        sms("s", "i cannot say where", 0), type_text="VEHICLE ACCIDENT"))

    joined = matcher.apply(region, sms("t", "collision, vehicle accident", 1))

    assert opened.incident_id != placeless.incident_id
    assert joined.change == "merged" and joined.incident_id == placeless.incident_id


def test_a_call_type_joins_a_serious_incident_not_a_minor_one_alike(
        matcher: IncidentMatcher) -> None:
    # A crash draws several callers, a service call one or two: two minutes
    # after each, a call of its type is likely the crash's, not the other's.
    def two_minutes_after(kind: str) -> str:
        region = Region()
        matcher.apply(region, report("a", kind=kind))
        return matcher.apply(region, dataclasses.replace(
            sms("t", f"{kind} here, cannot say where", 2), kind=kind)).change

    assert (two_minutes_after("collision"), two_minutes_after("service")) == (
        "merged", "new")


def test_a_call_type_joins_only_within_the_typed_window(
        matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, report("a"))
    late = matcher.params.typed_window_s / 60 + 1

    assert matcher.apply(region, sms("t", "collision on my street", late)).change \
        == "new"


def test_a_located_report_joins_an_incident_opened_with_no_place_by_its_type(
        matcher: IncidentMatcher) -> None:
    region = Region()
    first = matcher.apply(region, sms("t", "collision, i cannot say where", 0))

    located = matcher.apply(region, report("a", minute=2))

    assert located.change == "merged" and located.incident_id == first.incident_id
    assert (located.lat, located.lon) == (LAT, LON)  # the incident takes the point


def test_a_street_and_a_point_join_by_their_call_type(
        matcher: IncidentMatcher) -> None:
    # A call without a fix names its streets; a located call names none: no
    # place tells them apart or together, their call type does.
    region = Region()
    named = dataclasses.replace(report("a", located=False),
                                address="HAWS AVE & MAIN ST")
    first = matcher.apply(region, named)

    located = matcher.apply(region, report("b", minute=2))
    later = matcher.apply(region, dataclasses.replace(
        report("c", located=False, minute=3), address="OAK RD & ELM ST"))

    assert located.change == "merged" and located.incident_id == first.incident_id
    assert located.merge is not None
    assert located.merge["reasons"][0] == "places apart; both say collision"
    # Streets the incident's reports never named are evidence against it.
    assert later.change == "new"


def test_a_street_joins_no_located_incident_when_two_fit_its_call_type_alike(
        matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, report("a"))
    matcher.apply(region, report("b", north_m=3000))

    named = matcher.apply(region, dataclasses.replace(
        report("c", located=False, minute=2), address="HAWS AVE & MAIN ST"))

    assert named.change == "new"


def named(report_id: str, address: str, minute: float) -> Report:
    """A call without a fix that gives an address."""
    return dataclasses.replace(report(report_id, located=False, minute=minute),
                               address=address)


def test_one_street_joins_unless_the_report_names_another_corner_of_it(
        matcher: IncidentMatcher) -> None:
    region = Region()
    first = matcher.apply(region, named("a", "HAWS AVE & MAIN ST", 0))

    same_road = matcher.apply(region, named("b", "MAIN ST", 1))
    elsewhere = matcher.apply(region, named("c", "MAIN ST & OAK RD", 2))

    assert elsewhere.change == "new"
    assert same_road.change == "merged" and same_road.incident_id == first.incident_id
    assert same_road.merge is not None
    assert same_road.merge["reasons"][0] == "both name main st"


def test_an_intersection_both_name_outranks_one_street_and_a_call_type(
        matcher: IncidentMatcher) -> None:
    region = Region()
    one_street = matcher.apply(region, named("a", "MAIN ST", 0))
    corner = matcher.apply(region, named("b", "HAWS AVE & MAIN ST", 21))

    # A late call at that corner, as close in time to either incident.
    late = matcher.apply(region, named("c", "HAWS AVE & MAIN ST", 10))

    assert corner.incident_id != one_street.incident_id
    assert late.incident_id == corner.incident_id


def test_a_call_types_words_name_no_street(matcher: IncidentMatcher) -> None:
    def call(report_id: str, minute: float) -> Report:
        return dataclasses.replace(
            report(report_id, located=False, minute=minute, kind="road_hazard"),
            type_text="HAZARDOUS ROAD CONDITIONS",
            text="hazardous road conditions, caller on scene")

    region = Region()
    first = matcher.apply(region, call("a", 0))
    # No "hazardous rd" both name: ten minutes on, past the call-type window,
    # nothing says the two are one place.
    assert matcher.apply(region, call("b", 10)).incident_id != first.incident_id


def cad(report_id: str, *, north_m: float = 0.0, minute: float = 0.0,
        kind: str = "collision", discipline: str = "Traffic") -> Report:
    """A CAD record: an address's point, with no uncertainty."""
    return dataclasses.replace(report(report_id, north_m=north_m, minute=minute,
                                      kind=kind), address="MAIN ST & OAK RD",
                               discipline=discipline)


def test_records_of_one_address_are_one_incident_whatever_their_kinds(
        matcher: IncidentMatcher) -> None:
    region = Region()
    first = matcher.apply(region, cad("traffic"))

    ems = matcher.apply(region, cad("ems", minute=4, kind="service",
                                    discipline="EMS"))

    assert ems.change == "merged" and ems.incident_id == first.incident_id
    assert ems.merge is not None
    assert ems.merge["reasons"][2] == \
        "EMS record of kind service at the incident's address"


def test_an_alarm_of_another_kind_at_an_address_stays_apart(
        matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, cad("traffic"))
    # An alarm company's signal names no responding discipline.
    alarm = dataclasses.replace(cad("alarm", minute=1, kind="burglar_alarm"),
                                discipline="", channel="sensor")

    assert matcher.apply(region, alarm).change == "new"


def test_records_of_two_addresses_or_far_apart_in_time_stay_apart(
        matcher: IncidentMatcher) -> None:
    region = Region()
    first = matcher.apply(region, cad("a"))
    params = matcher.params
    apart = params.address_radius_m + 30

    next_door = matcher.apply(region, cad("b", north_m=apart, minute=1))
    later = matcher.apply(region, cad("c", minute=params.address_window_s / 60 + 1))
    near = matcher.apply(region, cad("d", north_m=params.address_radius_m / 2,
                                     minute=2))

    assert next_door.change == "new" and later.change == "new"
    assert near.change == "merged" and near.incident_id == first.incident_id
    # A wireless fix at the same spot is matched with the usual radius.
    fix = dataclasses.replace(report("e", north_m=apart, minute=3), accuracy_m=20.0)
    assert matcher.apply(region, fix).change == "merged"


def test_a_town_with_two_incidents_gives_the_post_to_the_one_of_its_call_type(
        models: Models) -> None:
    towns = Gazetteer({"test": {"norristown": (LAT, LON, 3000.0)}})
    matcher = IncidentMatcher(models.kinds, models.match, towns)
    region = Region()
    crash = matcher.apply(region, dataclasses.replace(
        report("a", north_m=500), type_text="VEHICLE ACCIDENT"))
    matcher.apply(region, report("b", minute=1))  # at the town's centre
    post = dataclasses.replace(
        sms("p", "vehicle accident by the park, lots of lights", 6),
        channel="social", address="Norristown, PA")

    joined = matcher.apply(region, post)

    assert joined.change == "merged" and joined.incident_id == crash.incident_id
    assert joined.merge is not None
    assert any("both say vehicle accident" in r for r in joined.merge["reasons"])


def town_post(report_id: str, text: str, minute: float, kind: str = "collision",
              reporter: str = "") -> Report:
    """A social post that names only its town (the test gazetteer's Norristown)."""
    return dataclasses.replace(sms(report_id, text, minute), channel="social",
                               address="Norristown, PA", kind=kind, reporter=reporter)


def town_matcher(models: Models) -> IncidentMatcher:
    towns = Gazetteer({"test": {"norristown": (LAT, LON, 3000.0)}})
    return IncidentMatcher(models.kinds, models.match, towns)


def test_a_town_post_joins_the_incident_its_kind_and_time_fit_not_the_nearest(
        models: Models) -> None:
    matcher = town_matcher(models)
    region = Region()
    # A lift assist at the town's centre, a crash 1.5 km out (half a radius).
    matcher.apply(region, report("a", kind="other"))
    crash = matcher.apply(region, report("b", north_m=1500, minute=1))
    matcher.apply(region, report("c", north_m=1600, minute=2))

    joined = matcher.apply(region, town_post("p", "cars smashed up, a blue pickup", 8))

    assert joined.change == "merged" and joined.incident_id == crash.incident_id
    assert joined.merge is not None
    reasons = joined.merge["reasons"]
    assert reasons[0] == "incident 1.5 km from the centre of Norristown, PA (3.0 km)"
    assert reasons[1] == "7.0 min after its first report"
    assert reasons[2] == "same kind collision"
    assert reasons[3].endswith("of the evidence among 2 incidents of the town")


def test_a_town_post_joins_nothing_outside_the_town_or_past_half_an_hour(
        models: Models) -> None:
    matcher = town_matcher(models)
    region = Region()
    far = matcher.apply(region, report("a", north_m=3000 * 1.6))
    assert matcher.apply(region, town_post("p", "crash on the road", 5)).change == "new"

    near = matcher.apply(region, report("b", minute=20))
    late = matcher.params.town_window_s / 60 + 21
    assert matcher.apply(region, town_post("q", "a crash", late)).change == "new"
    assert far.incident_id != near.incident_id


def test_a_town_post_that_fits_two_incidents_alike_opens_its_own(
        models: Models) -> None:
    # Two crashes of one size, both near the town's centre: the evidence
    # fits both alike, and a tie decides nothing.
    matcher = town_matcher(models)
    region = Region()
    one = matcher.apply(region, report("a", north_m=100))
    two = matcher.apply(region, report("b", north_m=-100))

    post = matcher.apply(region, town_post("p", "a crash downtown", 6))

    assert post.change == "new"
    assert post.incident_id not in (one.incident_id, two.incident_id)


def test_a_town_post_of_two_alike_crashes_joins_the_one_whose_caller_said_its_words(
        models: Models) -> None:
    # The words a post shares with an incident's callers (beyond kinds, the
    # incident's type and streets) break what the town alone cannot.
    matcher = town_matcher(models)
    region = Region()
    said = matcher.apply(region, report("a", north_m=100,
                                        text="a red pickup rolled over"))
    other = matcher.apply(region, report("b", north_m=-100,
                                         text="two cars hit, glass everywhere"))

    post = matcher.apply(region, town_post("p", "red pickup on its roof downtown", 6))

    assert post.change == "merged" and post.incident_id == said.incident_id
    assert post.incident_id != other.incident_id


def test_a_town_post_of_two_alike_crashes_joins_the_one_still_reported(
        models: Models) -> None:
    # Of two crashes alike, the one whose callers still call is the likelier
    # one a witness posts about.
    matcher = town_matcher(models)
    region = Region()
    quiet = matcher.apply(region, report("a", north_m=100))
    matcher.apply(region, report("b", north_m=100, minute=1))
    busy = matcher.apply(region, report("c", north_m=-100))
    again = matcher.apply(region, report("d", north_m=-100, minute=4))
    assert again.incident_id == busy.incident_id != quiet.incident_id

    post = matcher.apply(region, town_post("p", "a crash downtown", 6))

    assert post.change == "merged" and post.incident_id == busy.incident_id
    assert post.incident_id != quiet.incident_id


def test_a_town_post_the_gate_doubts_opens_its_own_where_a_sure_one_joins(
        models: Models) -> None:
    # Whether a post about a crash is about this crash at all rests on the
    # relevance gate's probability that it reports an emergency; a post whose
    # words name no kind (nor the call type) joins nothing by its town alone,
    # however sure the gate, unless its author reported the incident before.
    def posted(p: float, text: str = "that crash was so loud", kind: str = "collision",
               reporter: str = "") -> IncidentChange:
        matcher = town_matcher(models)
        region = Region()
        matcher.apply(region, report("a", north_m=1500))
        matcher.apply(region, report("b", north_m=1600, minute=1))
        if reporter:
            matcher.apply(region, town_post("o", "a crash", 5, reporter=reporter))
        post = dataclasses.replace(
            town_post("p", text, 8, kind=kind, reporter=reporter),
            details={"relevance": {"emergency": True, "p": p}})
        return matcher.apply(region, post)

    doubted, sure = posted(0.05), posted(0.9)
    unnamed = posted(0.9, "so loud out there tonight", "other")
    again = posted(0.9, "so loud out there tonight", "other", reporter="@w")

    assert doubted.change == "new" and sure.change == "merged"
    assert sure.merge is not None and sure.merge["confidence"] > 0.5
    assert unnamed.change == "new"
    assert again.change == "merged"


def test_a_held_post_joins_an_open_incident_its_words_name_but_opens_none(
        models: Models) -> None:
    matcher = town_matcher(models)
    assert matcher.params.held_min_p is not None
    region = Region()
    crash = matcher.apply(region, report("a", north_m=1500))
    matcher.apply(region, report("b", north_m=1600, minute=1))

    joined = matcher.hold(region, town_post("p", "omg that crash, a blue pickup", 8))
    # Words that name no kind, or no incident open in the town: held.
    chatter = matcher.hold(region, town_post("q", "just had lunch", 9, kind="other"))
    alone = matcher.hold(Region(), town_post("r", "a crash", 8))

    assert joined is not None and joined.change == "merged"
    assert joined.incident_id == crash.incident_id and joined.report_count == 3
    assert joined.merge is not None
    assert joined.merge["reasons"][-1] == (
        "held by the relevance gate, but its words name collision >= 50%")
    assert chatter is None and alone is None
    assert len(region.open) == 1
    # Redelivered: the joined post is a repeat, the other held again.
    again = matcher.hold(region, town_post("p", "omg that crash, a blue pickup", 8))
    assert again is not None and again.change == REPEAT
    assert matcher.hold(region, town_post("q", "just had lunch", 9, kind="other")) \
        is None


def test_a_held_post_joins_nothing_when_the_rule_is_off(models: Models) -> None:
    towns = Gazetteer({"test": {"norristown": (LAT, LON, 3000.0)}})
    matcher = IncidentMatcher(
        models.kinds, dataclasses.replace(models.match, held_min_p=None), towns)
    region = Region()
    matcher.apply(region, report("a", north_m=1500))
    assert matcher.hold(region, town_post("p", "that crash, wow", 8)) is None


def test_the_author_of_a_held_post_is_linked_to_their_later_call(
        models: Models) -> None:
    matcher = town_matcher(models)
    region = Region()
    post = town_post("p", "omg crash, blue pickup upside down", 0, reporter="rp:h")
    assert matcher.hold(region, post) is None

    call = dataclasses.replace(report("c", north_m=800, minute=5),
                               text="crash; a blue pickup", reporter="rp:c")
    change = matcher.apply(region, call)

    assert change.change == NEW and change.link is not None
    assert change.link["reporter"] == "rp:c" and change.link["same_as"] == "rp:h"
    assert change.link["reasons"][0] == "both say blue pickup"
    # The call says where: the held post joins its incident (one change, it
    # left no incident), and is a repeat of it from then on.
    [joined] = matcher.moved()
    assert (joined.change, joined.incident_id, joined.report_id) == (
        MERGED, change.incident_id, "p")
    assert joined.report_count == 2 and joined.report_ids == ("c", "p")
    assert joined.split is not None and joined.split["from"] == ""
    again = matcher.hold(region, post)
    assert again is not None and (again.change, again.incident_id) == (
        REPEAT, change.incident_id)


def test_a_fix_never_joins_an_incident_known_only_by_its_town(
        models: Models) -> None:
    matcher = town_matcher(models)
    region = Region()
    # A post from Norristown opens an incident there: a town, no point.
    opened = matcher.apply(region, town_post("p", "crash downtown", 0))

    call = matcher.apply(region, report("c", north_m=500, minute=3))
    later = matcher.apply(region, town_post("q", "that crash downtown", 5))

    assert opened.change == NEW and opened.lat is None
    assert call.change == NEW and call.incident_id != opened.incident_id
    # A later post from the town weighs the incidents with a point.
    assert later.change == "merged" and later.incident_id == call.incident_id


def test_without_call_types_a_report_with_no_place_joins_by_its_kind(
        matcher: IncidentMatcher) -> None:
    # A source that sends no call type: a crash located, then a text of a
    # crash that says nothing of where, a minute later. The kind both give
    # stands in for the type neither gives; a fire's incident stays apart.
    region = Region()
    crash = matcher.apply(region, dataclasses.replace(report("a"), type_text=""))
    matcher.apply(region, dataclasses.replace(
        report("b", north_m=3000, kind="structure_fire"), type_text=""))

    joined = matcher.apply(region, sms("t", "i cannot say where", 1))

    assert joined.change == "merged" and joined.incident_id == crash.incident_id
    assert joined.merge is not None
    assert joined.merge["reasons"][0] == (
        "no place; both say kind collision, neither a call type")


def test_a_kind_does_not_stand_in_for_a_call_type_the_incident_gave(
        matcher: IncidentMatcher) -> None:
    # The incident's caller gave a type the text does not say: the type
    # decides, and the text's kind alone joins nothing.
    region = Region()
    matcher.apply(region, dataclasses.replace(report("a"),
                                              type_text="VEHICLE ACCIDENT"))

    alone = matcher.apply(region, sms("t", "i cannot say where", 1))

    assert alone.change == "new"


def test_a_located_report_leans_away_from_a_placeless_incident_among_located_ones(
        matcher: IncidentMatcher) -> None:
    # Three crashes located kilometres apart and a caller of a crash who
    # could not say where (an incident of its own): a fourth located crash
    # is likelier a new one than that caller's, who more likely saw one of
    # the three.
    def located_after(crashes: int) -> str:
        region = Region()
        for n in range(crashes):
            matcher.apply(region, report(f"c{n}", north_m=3000 * (n + 1)))
        first = matcher.apply(region, sms("t", "collision, i cannot say where", 4))
        assert first.change == "new"
        return matcher.apply(region, report("a", minute=9)).change

    assert (located_after(0), located_after(3)) == ("merged", "new")


def test_an_id_reused_by_another_report_is_decided_under_an_id_of_its_own(
        matcher: IncidentMatcher) -> None:
    # A source gives "a" again, to a fire 3 km off and an hour later: not a
    # redelivery; dropping it as a repeat would lose an emergency.
    region = Region()
    first = matcher.apply(region, report("a"))
    other = dataclasses.replace(report("a", north_m=3000, minute=60,
                                       kind="structure_fire"), reporter="rp:x")

    change = matcher.apply(region, other)

    assert change.change == "new" and change.incident_id != first.incident_id
    assert change.report_id.startswith("a~") and change.report_id != "a"
    # Its redelivery is a repeat of it, the first's of the first.
    again = matcher.apply(region, other)
    assert (again.change, again.report_id) == ("repeat", change.report_id)
    assert again.incident_id == change.incident_id
    assert matcher.apply(region, report("a")).change == "repeat"
    assert matcher.apply(region, report("a")).incident_id == first.incident_id


def test_an_id_reused_at_another_point_is_not_taken_for_a_moved_copy(
        matcher: IncidentMatcher) -> None:
    # The seen record is kept in the cell of the first report's point; the
    # second, 3 km away, is found by the incident that holds the id: its
    # other time tells it is another report.
    region = Region()
    first = matcher.apply(region, report("a"))
    change = matcher.apply(region, report("a", north_m=3000, minute=30))
    assert change.change == "new" and change.incident_id != first.incident_id
    assert change.report_id.startswith("a~")
    # A copy of the first whose point was lost on the way is still a repeat.
    lost = matcher.apply(region, report("a", located=False))
    assert (lost.change, lost.incident_id) == ("repeat", first.incident_id)


def test_a_newer_version_of_a_report_is_no_reused_id(
        matcher: IncidentMatcher) -> None:
    region = Region()
    first = matcher.apply(region, report("a"))
    newer = dataclasses.replace(report("a", minute=1), version_ms=T0_MS + 90_000)
    change = matcher.apply(region, newer)
    assert (change.change, change.report_id) == ("updated", "a")
    assert change.incident_id == first.incident_id


def test_an_id_reused_inside_the_first_incidents_span_is_not_its_repeat(
        matcher: IncidentMatcher) -> None:
    # A CAD gives "a" again 2 minutes on, to a burglary 15 km off: inside the
    # span of the incident that holds "a" (a later report joined it), but
    # the first's record, found whatever the point, says another time.
    region = Region()
    first = matcher.apply(region, report("a"))
    matcher.apply(region, report("b", north_m=40, minute=4))
    change = matcher.apply(region, report("a", north_m=15_000, minute=2,
                                          kind="burglary"))
    assert change.change == "new" and change.report_id.startswith("a~")
    assert change.incident_id != first.incident_id
    # Another channel at the same time is another report too.
    other = dataclasses.replace(report("a", north_m=8000), channel="web")
    assert matcher.apply(region, other).report_id.startswith("a~")


def test_an_id_reused_after_its_incident_left_the_index_is_still_renamed(
        matcher: IncidentMatcher) -> None:
    region = Region()
    matcher.apply(region, report("a"))
    matcher.apply(region, report("c", north_m=20_000, minute=90))
    change = matcher.apply(region, report("a", north_m=8000, minute=95))
    assert change.change == "new" and change.report_id.startswith("a~")


def test_a_renamed_reports_versions_and_copies_stay_with_it(
        matcher: IncidentMatcher) -> None:
    # Two alarm sites of one monitoring company give "a" at one time; the
    # second is renamed. Its cancel (a newer version, its own sender) updates
    # its incident, not the first site's; its text alone names no new report.
    region = Region()
    site_one = matcher.apply(region, dataclasses.replace(
        report("a", kind="fire"), reporter="rp:one"))
    site_two = dataclasses.replace(report("a", north_m=3000, kind="burglary"),
                                   reporter="rp:two")
    renamed = matcher.apply(region, site_two)
    assert renamed.report_id.startswith("a~")

    cancel = dataclasses.replace(site_two, text="cancelled by keyholder",
                                 version_ms=T0_MS + 7 * MINUTE_MS)
    updated = matcher.apply(region, cancel)
    assert (updated.change, updated.report_id) == ("updated", renamed.report_id)
    assert updated.incident_id == renamed.incident_id != site_one.incident_id

    reworded = dataclasses.replace(site_two, text="burglary, rear door open")
    again = matcher.apply(region, reworded)
    assert (again.change, again.report_id) == ("repeat", renamed.report_id)


def test_a_renamed_reports_newer_version_and_copies_stay_with_it_after_a_restart(
        matcher: IncidentMatcher) -> None:
    # "a" given again by the same source 30 minutes on, 3 km off: renamed.
    # Its newer version (another time than the first's) updates it, not the
    # first; its redelivery stays its repeat, also from stored cells.
    region = Region()
    first = matcher.apply(region, report("a"))
    second = report("a", north_m=3000, minute=30)
    renamed = matcher.apply(region, second)
    newer = dataclasses.replace(second, version_ms=T0_MS + 35 * MINUTE_MS,
                                text="update")
    updated = matcher.apply(region, newer)
    assert (updated.change, updated.report_id) == ("updated", renamed.report_id)
    assert updated.incident_id == renamed.incident_id != first.incident_id
    for state in (region, restored(region)):
        again = matcher.apply(state, second)
        assert (again.change, again.incident_id) == ("repeat", renamed.incident_id)


def test_the_newest_record_of_an_id_decides_wherever_the_report_falls(
        matcher: IncidentMatcher) -> None:
    # A newer version of "a" fell 6 km off; its record there is the newest.
    # A copy of it without its point is its repeat, also after a restart,
    # and another report given "a" in that version near the first point is
    # no update of the first's stale record.
    region = Region()
    matcher.apply(region, report("far", north_m=6000, kind="burglary"))
    matcher.apply(region, report("a", minute=1))
    newer = dataclasses.replace(report("a", north_m=6010, minute=1),
                                version_ms=T0_MS + 5 * MINUTE_MS)
    assert matcher.apply(region, newer).change == "updated"
    lost = dataclasses.replace(newer, lat=None, lon=None, location=LOCATION_UNKNOWN)
    for state in (region, restored(region)):
        assert matcher.apply(state, lost).change == "repeat"
    other = dataclasses.replace(report("a", north_m=500, minute=40, kind="burglary"),
                                version_ms=T0_MS + 5 * MINUTE_MS)
    change = matcher.apply(region, other)
    assert change.change == "new" and change.report_id.startswith("a~")


def test_a_newer_version_of_a_held_post_is_decided_anew(models: Models) -> None:
    matcher = town_matcher(models)
    region = Region()
    assert matcher.hold(region, town_post("p", "just had lunch", 0,
                                          kind="other")) is None
    edited = dataclasses.replace(town_post("p", "crash! car on fire", 0),
                                 version_ms=T0_MS + MINUTE_MS)
    change = matcher.apply(region, edited)
    assert change.change == "new" and change.report_id == "p"
    assert matcher.apply(region, edited).change == "repeat"


def test_a_copy_stamped_again_seconds_later_is_a_repeat(
        matcher: IncidentMatcher) -> None:
    # A gateway sends "a" again with its time stamped again, 2 s on.
    region = Region()
    first = matcher.apply(region, report("a"))
    again = matcher.apply(region, report("a", minute=2 / 60))
    assert (again.change, again.report_id) == ("repeat", "a")
    assert again.incident_id == first.incident_id


def celled_matcher(models: Models, calls: list[tuple[str, float]]) -> IncidentMatcher:
    """The test town's circle, with recorded calls (town, metres north of
    the centre) drawing where Norristown and its neighbour are."""
    points = [(town, LAT + north_m * METRE_DEG, LON) for town, north_m in calls
              for _ in range(10)]
    towns = Gazetteer({"test": {"norristown": (LAT, LON, 3000.0)}},
                      {"test": TownCells.of_points(0.0035, points)})
    return IncidentMatcher(models.kinds, models.match, towns)


def test_a_town_post_joins_the_incident_where_its_towns_calls_are_not_the_nearer(
        models: Models) -> None:
    # Both crashes lie in the circle; the nearer its centre is where the
    # neighbour's calls come from, the other where Norristown's do.
    matcher = celled_matcher(models, [("East Norriton", 300), ("Norristown", 1800)])
    region = Region()
    matcher.apply(region, report("a", north_m=300))
    theirs = matcher.apply(region, report("b", north_m=1800, minute=1))

    joined = matcher.apply(region, town_post("p", "cars smashed up", 8))

    assert joined.change == "merged" and joined.incident_id == theirs.incident_id
    assert joined.merge is not None
    assert joined.merge["reasons"][0].endswith(
        "of the calls recorded around it named the town")


def test_a_town_post_joins_an_incident_past_the_circle_where_its_towns_calls_are(
        models: Models) -> None:
    # 1.6 radii out is past the circle's reach: without cells no post joins
    # (the test above it); with Norristown's calls there, one does.
    north_m = 3000 * 1.6
    matcher = celled_matcher(models, [("Norristown", north_m)])
    region = Region()
    crash = matcher.apply(region, report("a", north_m=north_m))

    joined = matcher.apply(region, town_post("p", "crash on the road", 5))

    assert joined.change == "merged" and joined.incident_id == crash.incident_id
    # The neighbour's calls there: as far as the circle says, so nothing.
    matcher = celled_matcher(models, [("East Norriton", north_m)])
    region = Region()
    matcher.apply(region, report("a", north_m=north_m))
    assert matcher.apply(region, town_post("p", "crash on the road", 5)).change == "new"


def test_a_town_post_whose_town_the_cells_never_name_is_placed_by_its_circle(
        models: Models) -> None:
    # The cells know only the neighbour (a town added to places.yaml by hand,
    # or spelt otherwise there): its circle decides, as with no cells.
    matcher = celled_matcher(models, [("East Norriton", 200)])
    region = Region()
    crash = matcher.apply(region, report("a", north_m=200))

    joined = matcher.apply(region, town_post("p", "crash on the road", 5))

    assert joined.change == "merged" and joined.incident_id == crash.incident_id


def test_a_town_post_whose_words_name_the_incidents_kind_among_others_is_of_its_kind(
        models: Models) -> None:
    # "helicopter crashed" reads as a service call, and tells of a crash too.
    matcher = town_matcher(models)
    region = Region()
    crash = matcher.apply(region, report("a", north_m=500))
    matcher.apply(region, report("b", north_m=520, minute=1))

    joined = matcher.apply(region, town_post(
        "p", "helicopter crashed on the highway", 6, kind="service"))

    assert joined.change == "merged" and joined.incident_id == crash.incident_id
    assert joined.merge is not None
    assert "its words name collision too" in joined.merge["reasons"][2]


def test_a_call_naming_streets_joins_the_incident_near_their_addresses(
        models: Models) -> None:
    # Two crashes of one call type 6 km apart; a caller with no fix names a
    # corner the book never placed, but it holds an address on one of its
    # streets 60 m from the first crash.
    book = AddressBook({"test": {
        "haws ave & main st": (LAT + 60 * METRE_DEG, LON, 10.0, 3)}})
    region = Region()
    with_book = IncidentMatcher(models.kinds, models.match, book=book)
    crash = with_book.apply(region, report("a"))
    with_book.apply(region, report("b", north_m=6000))
    call = dataclasses.replace(report("c", located=False, minute=2),
                               address="HAWS AVE & DEKALB ST")

    joined = with_book.apply(region, call)

    assert joined.change == "merged" and joined.incident_id == crash.incident_id
    assert joined.merge is not None
    assert list(joined.merge["reasons"][:3]) == [
        "places apart; both say collision", "2.0 min from its first report",
        "60 m from an address on dekalb st or haws ave"]
    # Without the book the two crashes fit it alike: it joins neither.
    region = Region()
    without = IncidentMatcher(models.kinds, models.match)
    without.apply(region, report("a"))
    without.apply(region, report("b", north_m=6000))
    assert without.apply(region, call).change == "new"


def test_a_located_call_joins_the_incident_whose_caller_named_streets_near_it(
        models: Models) -> None:
    # The first caller could only name streets (a corner the book never
    # placed); a located caller 80 m from an address on one of them is of
    # that event, though another crash of the call type is open 5 km off.
    book = AddressBook({"test": {
        "haws ave & main st": (LAT + 80 * METRE_DEG, LON, 10.0, 3)}})
    matcher = IncidentMatcher(models.kinds, models.match, book=book)
    region = Region()
    named = matcher.apply(region, dataclasses.replace(
        report("a", located=False), address="HAWS AVE & DEKALB ST"))
    matcher.apply(region, report("b", north_m=5000))

    joined = matcher.apply(region, report("c", minute=2, accuracy_m=20.0))

    assert joined.change == "merged" and joined.incident_id == named.incident_id
