"""A worker killed outright processes its last input again (at-least-once):
every report must land where it landed the first time.

The dedupe stage stores a batch's cells one by one after its changes went
out; a kill may leave some of them stored and others not. ``Table`` here
keeps cells as the stage's table does and stores a batch whole, or only the
cells named (what reached the changelog before the kill).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from agents.resources import Models
from pipeline.dedupe import IncidentMatcher
from pipeline.regions import Region
from pipeline.schema import MERGED, NEW, REPEAT, IncidentChange, Report
from pipeline.thread import follow_up
from tests.pipeline.test_dedupe import report

REGION = "r:test"


class Table:
    """The dedupe table: cells by key, JSON in and out."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def load(self, key: str) -> Any:
        value = self.data.get(key)
        return None if value is None else orjson.loads(orjson.dumps(value))

    def restarted(self) -> Region:
        """The region as a restarted worker rebuilds it from the table."""
        region = Region(REGION, self.load, lambda: list(self.data.items()))
        region.rebuild(list(self.data.items()))
        region.begin()
        return region

    def store(self, region: Region, only: set[str] | None = None) -> None:
        """The batch's cells, then the clock record; with ``only``, just those
        cells reached the table (a kill while storing: no clock record)."""
        for key in region.changed:
            if only is None or key in only:
                self.data[key] = orjson.loads(orjson.dumps(region.cells[key].to_dict()))
        if only is None:
            self.data[region.clock_key] = region.clock_record()
        region.begin()


@pytest.fixture
def matcher(models: Models) -> IncidentMatcher:
    return IncidentMatcher(models.kinds, models.match)


def placeless(report_id: str, minute: float) -> Report:
    """A call of the same kind with no fix: it joins the one incident of its
    call type (``typed_window_s``), and is remembered in a cell of reports
    without a point, not the incident's."""
    return report(report_id, minute=minute, located=False)


def killed_in_a_batch(matcher: IncidentMatcher, stored: str
                      ) -> tuple[str, IncidentChange, IncidentChange, Region]:
    """A batch of a located call that opens an incident and a placeless call
    that joins it (its cell is not the incident's); a kill stores only the
    incident's cell (``stored="incident"``) or only the call's (``"call"``).
    Returns the incident's id and what a restarted worker makes of the two
    calls processed again, and its region."""
    table = Table()
    region = table.restarted()
    table.store(region)
    opened = matcher.apply(region, report("a", minute=0))
    joined = matcher.apply(region, placeless("b", minute=2))
    assert (opened.change, joined.change) == (NEW, MERGED)
    assert joined.incident_id == opened.incident_id
    home = next(k for k in region.changed if "|p" not in k)
    shard = next(k for k in region.changed if "|p" in k)
    table.store(region, only={home if stored == "incident" else shard})

    again = table.restarted()
    return (opened.incident_id, matcher.apply(again, report("a", minute=0)),
            matcher.apply(again, placeless("b", minute=2)), again)


def test_a_kill_that_stored_the_incident_but_not_the_reports_cell(
        matcher: IncidentMatcher) -> None:
    incident_id, first, second, _ = killed_in_a_batch(matcher, "incident")

    # The placeless call's cell does not remember it, but the incident holds
    # it: a repeat, not a second incident of its own.
    assert (first.change, second.change) == (REPEAT, REPEAT)
    assert first.incident_id == second.incident_id == incident_id
    assert second.report_count == 2


def test_a_kill_that_stored_the_reports_cell_but_not_the_incident(
        matcher: IncidentMatcher) -> None:
    incident_id, first, second, again = killed_in_a_batch(matcher, "call")

    # The placeless call's cell names an incident that was never stored: it
    # is decided again and joins the incident the located call opens again.
    assert first.change == NEW and first.incident_id == incident_id
    assert second.change == MERGED and second.incident_id == incident_id
    assert second.report_count == 2
    assert matcher.apply(again, placeless("b", minute=2)).change == REPEAT


def test_a_cell_stored_hours_ahead_closes_nothing_a_replayed_batch_joins(
        models: Models, matcher: IncidentMatcher) -> None:
    # A replayed log packs hours of event time in one batch. The batch's last
    # report's cell reached the table; the incident's did not.
    table = Table()
    region = table.restarted()
    opened = matcher.apply(region, report("a", minute=0))
    table.store(region)
    hours = models.match.stale_after_s / 60 + 60
    far_north_m = 30_000  # another cell
    joined = matcher.apply(region, report("b", minute=3, north_m=30))
    later = matcher.apply(region, report("c", minute=hours, north_m=far_north_m))
    assert joined.incident_id == opened.incident_id
    far = next(k for k in region.changed
               if region.cells[k].seen.get("c") is not None)
    table.store(region, only={far})

    again = table.restarted()
    assert matcher.apply(again, report("b", minute=3, north_m=30)).incident_id == (
        opened.incident_id)
    assert matcher.apply(again, report("c", minute=hours, north_m=far_north_m)
                         ).incident_id == later.incident_id


def test_a_redelivered_follow_up_gets_the_point_it_got_before(
        matcher: IncidentMatcher, models: Models) -> None:
    # A caller's fix, a text without one (it takes the fix), then a new fix
    # far away: the text, redelivered, must reach dedupe at the same point,
    # where its cell remembers it.
    thread: dict[str, Any] = {}
    region = Region(REGION)

    def sent(item: Report) -> Report:
        return follow_up(thread, item, models.thread)

    call = report("call", minute=0)
    text = report("text", minute=4, located=False, kind="other")
    moved = report("moved", minute=6, north_m=30_000)
    call, text, moved = (replace(r, reporter="rp:1") for r in (call, text, moved))
    opened = matcher.apply(region, sent(call))
    lent = sent(text)
    assert lent.lat == call.lat
    assert matcher.apply(region, lent).incident_id == opened.incident_id
    matcher.apply(region, sent(moved))

    redelivered = sent(text)

    assert (redelivered.lat, redelivered.lon) == (lent.lat, lent.lon)
    again = matcher.apply(region, redelivered)
    assert (again.change, again.incident_id) == (REPEAT, opened.incident_id)

