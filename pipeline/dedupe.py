"""Reports of one incident become one incident.

Reports are partitioned by region (``region_key``: every report of one source,
an agency's service area, meets in one partition) and matched there against
the open incidents of the grid cells around them; a ``CellState`` holds the
open incidents of one cell and is stored apart, so a batch reads and writes
only the cells it touches (``Region``, in ``pipeline/regions.py``; the
weights of every scorer below, and the readings of a report they weigh, are
in ``pipeline/evidence.py``). A report with a point weighs the open
incidents within ``radius_m`` plus ``reach_factor`` times both fixes'
uncertainty (each counted up to ``max_accuracy_m``), in any cell within
reach, within ``window_s`` of event time and of a compatible kind: the
distance against the fixes' spread, the time apart, the kinds, the
reporter and the streets both name, if any (``FIX_EVIDENCE``); it joins the
one with the most evidence when that is ``fix_min_score``, otherwise it opens
a new incident in its own cell.

A report without a point still says where: a corner it names (two streets)
that located reports named before is weighed as a fix at the corner's learnt
point (``pipeline/corners.py``, once ``corner_min_fixes`` taught it; the
region's corners are kept in ``CORNER_SHARDS`` cells of their own, so they are
stored and restored like the incidents), and opens an incident there when it
joins none; failing that, a street it names
(``pipeline/places.py``) that an incident's reports named too, within
``placeless_window_s``. A report that names only its town (a post from
"Lower Merion, PA") weighs every incident with a point near the town's circle
(``models/places.yaml``), or where the town's recorded calls are (its cells:
``TOWN_SHARE_RING``), opened up to ``town_window_s`` before it: how much of
the town it is in, how long after, kinds, call type and streets both give, the
incident's priority and size, posts it has, words of the post its texts said
too, how long it has been quiet (``TOWN_WEIGHTS``); it joins the likeliest
when that one holds ``town_min_p`` of the evidence, no other fits
it alike, and the report's words name a kind or the incident's call type (or
its reporter reported the incident before). A post the relevance gate held
(``hold``) opens nothing; it joins the town's likeliest incident only with
``held_min_p`` of the evidence and words that name the incident's kind or
call type. A report whose place cannot be set against an incident's (it says nothing of
where, or gives a point where the incident's reports gave only streets, or
streets where they gave only a point) and matches no place weighs every
incident of the region that it names the call type of ("cardiac emergency" in
its type or words) first reported within ``typed_window_s``: how long after,
the incident's priority, whether it has a point (``TYPED_WEIGHTS``); it joins
the likeliest when that one holds ``typed_min_p`` of the evidence and no other
fits it alike. When neither the report nor the incident's reports give a call
type (a source that sends none), the kind both give stands in for it, with a
weight against (``untyped_kind``). A located report weighs only incidents
opened without a point this way, the less the more incidents with a point
of its type are open. Points of addresses
(a CAD's geocode: an address, no uncertainty) are matched by
``address_radius_m`` and ``address_window_s``; a record of a responding
discipline at the very point of one is of that incident whatever kind its
words give (a county posts one record per discipline). A
follow-up from a reporter of an open incident joins it (``follow_up_s``); a
report that gave no place moves to the incident of its reporter's next fix,
a post to that of its author's linked call (``moved``). An
incident's point is the mean of its fixes weighted by their precision (the
inverse square of the uncertainty; the uncertainty of the mean shrinks with
each fix); an incident opened without a point takes the first that joins
it. A fix the reporter's thread lends is that reporter's earlier fix again
and does not count twice; a point of unknown uncertainty (an address) is
never averaged, nor moved. Words that name no kind
(``other``) do not keep two reports apart.

Idempotent: a report already seen changes nothing (``repeat``), also after its
incident left the state: report ids are remembered, in the cell of the report's
point (or a shard of the region's cells of reports without one), for
``seen_ttl_s`` of event time, longer than incidents stay open, and until
their input is committed (a replay goes through days of event time in a
second; a worker killed in it processes its uncommitted input again, its
reports of days before: ``Region.committed``). Two versions of
one report (a source that updates its records: ``Report.version_ms``): the
newer one updates the incident (``updated``), an older one or an exact copy is
a ``repeat``. An id given again to another report (another sender or
channel, or in the same version an event time over a minute off) is no copy: the report
is decided under an id of its own (``reused_id``), wherever its point falls
(``Region.seen_at`` finds the first one's record). Late reports (by event
time) join like any other: the gap is measured to the incident's span of
event times. Bounded: an incident with no
report for ``stale_after_s`` of event time (by the region's clock) leaves its
cell, a report id leaves after ``seen_ttl_s``, and a cell keeps at most
``max_open_per_cell`` incidents and ``max_seen_per_cell`` report ids; a corner
untaught for ``corner_ttl_s`` leaves its shard when the shard next learns, and
a shard keeps at most ``max_corners_per_shard`` corners.

A report whose time is implausible (far future or past) cannot be matched by
time, nor may it move a clock: it opens its own incident, whose id derives
from the report id (so a redelivery names the same incident) but differs from
the id the same report opens when it can be matched (so a copy without a
plausible time never resets that incident); a copy without a point likewise
opens one named apart, unless an open incident holds the report: then it is
a repeat of that one.

>>> from pipeline.kinds import KindTable
>>> from pipeline.schema import Report
>>> kinds = KindTable.from_config({"kinds": {
...     "collision": {"match": ["ACCIDENT"], "priority": 2, "needs": "ems"},
...     "other": {"match": [], "priority": 4, "needs": "police"}}})
>>> matcher = IncidentMatcher(kinds, MatchParams())
>>> def report(rid, lat, minute):
...     return Report(report_id=rid, source="t", channel="911",
...                   event_ms=minute * 60_000, received_ms=0, kind="collision",
...                   type_text="ACCIDENT", lat=lat, lon=-75.0, location="known")
>>> region = Region()
>>> matcher.apply(region, report("a", 40.0, 0)).change
'new'
>>> joined = matcher.apply(region, report("b", 40.0005, 3))
>>> joined.change, joined.report_count, joined.merge["reasons"][0]
('merged', 2, "distance 56 m, 0.5 times the fixes' spread (107 m)")
>>> matcher.apply(region, report("b", 40.0005, 3)).change
'repeat'
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from pipeline.addresses import GEOCODED, AddressBook
from pipeline.corners import CornerBook, CornerPoint, corner_key
from pipeline.evidence import (
    FIX_EVIDENCE,
    HELD_TOWN_COUNT,
    HELD_TOWN_PLACE,
    HELD_TOWN_WEIGHTS,
    SPREAD_REF_M,
    STREET_NEAR,
    TOWN_COUNT,
    TOWN_EARLY_S,
    TOWN_PLACE,
    TOWN_SHARE_RING,
    TOWN_TIE,
    TOWN_WEIGHTS,
    TYPED_ALIKE_MAX,
    TYPED_QUIET_S,
    TYPED_SINCE,
    TYPED_WEIGHTS,
    Where,
    apart_places,
    names_it,
    relevance_logit,
    said_type,
    street_agreement,
    streets_of,
    untyped_kind,
    words_of,
)
from pipeline.geo import cell_key, cells_within, distance_m
from pipeline.kinds import OTHER, KindTable
from pipeline.places import Gazetteer, place_name
from pipeline.regions import CellState, Region, matchable, region_key
from pipeline.schema import (
    LOCATION_KNOWN,
    MERGED,
    MOVED_BY,
    NEW,
    REPEAT,
    SPLIT,
    UPDATED,
    IncidentChange,
    Merge,
    Report,
)
from pipeline.thread import (
    CALL,
    LENT_FIX,
    PLACES,
    SOCIAL,
    PostLinkParams,
    VoiceLink,
    fields_words,
    link_late_caller,
    link_voice,
    personal_words,
    said_text,
)

MAX_REPORT_IDS = 100
MAX_REPORTERS = 20
MAX_STREETS = 12
MAX_VOICE_WORDS = 24
MAX_EVENT_WORDS = 60
MAX_TYPES = 4
#: A call type shorter than this ("MVA") is too loose to find inside a text.
MIN_TYPE_CHARS = 5
#: Two points this close are one point.
SAME_POINT_M = 1.0
STRONG, WEAK, TYPED = "strong", "weak", "typed"
#: What a cell remembers as the incident of a held post that joined none.
HELD = ""
#: The flag of a report that came with an id already given to another report
#: (``reused_id``).
REUSED_ID = "report_id_reused"
#: Two event times of one id this close are one report's, stamped twice.
RESTAMP_MS = 60_000
#: Cells the reports without a point of one region are remembered in.
PLACELESS_SHARDS = 64
#: Cells the street corners one region learnt are kept in, by corner.
CORNER_SHARDS = 1024


@dataclass(frozen=True, slots=True)
class MatchParams:
    cell_deg: float = 0.05
    radius_m: float = 150.0
    window_s: float = 900.0
    stale_after_s: float = 7200.0
    max_open_per_cell: int = 500
    max_texts: int = 5
    seen_ttl_s: float = 86_400.0
    max_seen_per_cell: int = 20_000
    #: A report from a reporter already in an open incident joins it within
    #: this long (event time) and the usual distance, whatever its kind says.
    follow_up_s: float = 1800.0
    #: A report without a point joins an incident this long (event time) apart
    #: when it names one of its streets, or its town holds the incident.
    placeless_window_s: float = 1200.0
    #: A fix's uncertainty counts up to this much; a worse one is no better
    #: than this (and bounds the cells searched around a point).
    max_accuracy_m: float = 1000.0
    #: Two fixes are weighed (``FIX_EVIDENCE``) up to ``radius_m`` plus this
    #: many times both their uncertainties apart.
    reach_factor: float = 1.0
    #: A town's circle that fits two incidents this close in confidence
    #: joins neither.
    weak_margin: float = 0.05
    #: Two identities of one incident on different channels are one person
    #: when they say at least ``link_min_words`` words no other reporter said,
    #: this close in time (``pipeline/thread.py``).
    link_window_s: float = 1800.0
    link_min_words: int = 2
    #: A new caller this long after the incident began who says nothing its
    #: one unlinked post of the last ``post_link_window_s`` did not is that
    #: post's author (``link_late_caller``); None: never.
    link_late_s: float | None = None
    #: A call without a place is linked to a post of any town sharing this
    #: many words no other post said (``PostLinkParams.placeless_min_words``).
    placeless_link_min_words: int | None = None
    #: A new caller is the author of a post in another incident when the call
    #: comes this long after the post at most, within ``post_link_reach``
    #: radii of the post's town, and the two share ``post_link_min_words``
    #: words no other post there said (``RecentPosts``, ``pipeline/thread.py``).
    post_link_window_s: float = 600.0
    post_link_min_words: int = 2
    post_link_reach: float = 1.25
    #: A report whose place cannot be set against an incident's (no place at
    #: all, or a point against streets) weighs every incident of the region
    #: that it names the call type of ("cardiac emergency"), first reported
    #: up to this long apart (``TYPED_WEIGHTS``), and joins the likeliest when
    #: its share of the evidence, against the others and a new incident, is
    #: ``typed_min_p``.
    typed_window_s: float = 0.0
    typed_min_p: float = 0.5
    #: Two points without an uncertainty (addresses a CAD geocoded) this close
    #: can be one incident; at one point, whatever kinds their words give.
    address_radius_m: float = 150.0
    #: ...and this close in event time (the records one call sends each
    #: discipline carry the call's time).
    address_window_s: float = 900.0
    #: A report that names only its town (a post from "Lower Merion, PA")
    #: weighs every incident of the town opened up to this long before it
    #: (``TOWN_WEIGHTS``) and joins the likeliest when its share of the
    #: evidence, against the others and a new incident, is ``town_min_p``.
    town_window_s: float = 1800.0
    town_min_p: float = 0.5
    #: Two fixes are compared in units of their spread: the root of the sum
    #: of their squared uncertainties and this (``FIX_EVIDENCE``)...
    fix_spread_m: float = 15.0
    #: ...and a report joins an incident whose evidence (distance, time,
    #: kind, reporter, streets; log-likelihood ratio) is at least this.
    fix_min_score: float = 0.0
    #: A post the relevance gate holds (``hold``) that names only its town
    #: joins the likeliest incident of the town when it has this share of the
    #: evidence and the post's words name its kind or call type; None: a held
    #: post joins nothing.
    held_min_p: float | None = None
    #: A report without a fix that names a corner (two streets) located
    #: reports named before (``pipeline/corners.py``) is weighed like a fix
    #: at the corner's learnt point once ``corner_min_fixes`` taught it; its
    #: uncertainty is the mean's and ``corner_spread_m`` together. None: no
    #: corner is used (nor learnt).
    corner_min_fixes: int | None = None
    corner_spread_m: float = 50.0
    #: A corner untaught this long (event time) is forgotten; a shard of a
    #: region's corners keeps at most ``max_corners_per_shard``.
    corner_ttl_s: float = 30 * 86_400.0
    max_corners_per_shard: int = 200

    def __post_init__(self) -> None:
        for name in ("cell_deg", "window_s", "stale_after_s", "seen_ttl_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.radius_m < 0 or self.max_open_per_cell < 1 or self.max_texts < 0:
            raise ValueError("radius_m, max_open_per_cell and max_texts are too small")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MatchParams:
        unknown = set(config) - set(cls.__slots__)
        if unknown:
            raise ValueError(f"unknown matching settings: {sorted(unknown)}")
        return cls(**config)


def incident_id_for(report_id: str, event_ms: int | None = None) -> str:
    """The id of the incident a report opens: stable across redelivery.

    With the report's event time: a source that reuses a report id (a CAD
    numbering that wraps, an app's counter reset) once dedupe has forgotten
    the first, for another event, opens an incident of another id. With the
    first's id it would take that incident's place on the board and its
    record of alerts sent, and page nobody.

    >>> incident_id_for("TIP-7", 0) == incident_id_for("TIP-7", 0)
    True
    >>> incident_id_for("TIP-7", 0) == incident_id_for("TIP-7", 93_600_000)
    False
    """
    name = report_id if event_ms is None else f"{report_id}@{event_ms}"
    return "I-" + hashlib.sha1(name.encode()).hexdigest()[:16]


class SplitRefused(ValueError):
    """A split command that names no report of the incident it names."""


@dataclass(frozen=True)
class _Candidate:
    confidence: float
    incident: dict[str, Any]
    home: str
    merge: Merge
    #: How the place agrees: STRONG (a point or a street) or WEAK (a town's
    #: circle).
    evidence: str


class IncidentMatcher:
    """Decides, report by report, which incident each one belongs to."""

    def __init__(self, kinds: KindTable, params: MatchParams,
                 places: Gazetteer | None = None, book: AddressBook | None = None):
        self.kinds = kinds
        self.params = params
        self.places = places or Gazetteer()
        #: The address book, for how far a point is from a named street.
        self.book = book
        # Words that name a kind of event ("smoke", "house fire", "accident")
        # describe the event, not the person reporting it.
        self.kind_words = fields_words(
            [name.replace("_", " ") for name in kinds.kinds]
            + [term for kind in kinds.kinds.values() for term in kind.match])
        # The index serves reports without a point and incidents without one
        # this long after their last change.
        self._index_keep_ms = 1000 * max(params.placeless_window_s,
                                         params.follow_up_s)
        self._post_link = PostLinkParams(
            params.post_link_window_s, params.post_link_min_words,
            params.post_link_reach, params.max_accuracy_m, self._kinds_fit,
            params.placeless_link_min_words, self._in_town)
        self._moved: list[IncidentChange] = []

    def apply(self, region: Region, report: Report) -> IncidentChange:
        """Add ``report`` to ``region`` (in place) and say what changed."""
        self._moved = []
        change = self._apply(region, report, held=False)
        assert change is not None  # only a held post joins nothing
        return change

    def moved(self) -> list[IncidentChange]:
        """The changes the last ``apply`` made besides its own, taken once:
        the reporter's earlier reports without a place that its fix moved
        into its incident (``_move_placed``), two for each: the incident
        it left (``split``) and the one it joined (``merged``), both with
        ``split`` saying from where, into where and why."""
        moved, self._moved = self._moved, []
        return moved

    def hold(self, region: Region, report: Report) -> IncidentChange | None:
        """A post the relevance gate judged not an emergency: it never opens
        an incident, but joins an open one of its town that it fits beyond
        doubt (``held_min_p``: the town's evidence, and its words name the
        incident's kind or call type); None when it joins none (it goes to
        ``reports.irrelevant``). Either way its author's later call can be
        linked to it (``RecentPosts``), and it is remembered: a redelivery
        changes nothing."""
        self._moved = []
        return self._apply(region, report, held=True)

    def _apply(self, region: Region, report: Report, held: bool
               ) -> IncidentChange | None:
        if not matchable(report):
            if held:
                return None
            alone, _ = self._open(region, None, report, self._where(report))
            return self._change(alone, report, NEW, None)

        own = self._own_key(region, report)
        # The newest record of the id, wherever the point of the report that
        # left it fell (``_recall``).
        kept, known = self._recall(region, own, report.report_id)
        if known is not None and _another_report(known, report):
            # A source gave an id it gave before to another report (another
            # sender or channel, or in the same version a time over a minute off): the
            # report is decided under an id of its own, not dropped as a
            # repeat of the first.
            return self._apply(region, reused_id(report), held)
        if (known is not None and _other_time(known, report)
                and REUSED_ID not in report.flags):
            # A newer version at another time: of the first report, unless
            # a report renamed for that time is remembered (then its own).
            renamed = reused_id(report)
            if self._recall(region, self._own_key(region, renamed),
                            renamed.report_id)[1] is not None:
                return self._apply(region, renamed, held)
        if known is not None and known[0] != HELD and self._torn(region, kept, known,
                                                                 report):
            known = None
        if known is not None and known[0] == HELD:
            if held and report.version_ms <= _version(known):
                return None
            # A newer version of a held post, or the post passed by the gate
            # now: decided anew (nothing holds it).
            known = None
        if known is not None:
            home = known[3] if len(known) > 3 else kept
            incident = region.cell(home).open.get(known[0])
            if incident is not None and report.version_ms > _version(known):
                self._update(region, home, incident, own, report)
                return self._change(incident, report, UPDATED, None)
            incident = incident or _closed(known[0], report)
            return self._change(incident, report, REPEAT, None)
        holder = region.holder(report.report_id)
        if holder is not None:
            # An incident holds the report, but its cell does not remember it:
            # a copy whose point changed on the way, or a report redelivered
            # after a worker was killed halfway through storing a batch (the
            # incident's cell stored, the report's not). A repeat all the same.
            home, incident = holder
            if _not_of(incident, report):
                return self._apply(region, reused_id(report), held)
            self._remember(region, own, incident, home, report)
            return self._change(incident, report, REPEAT, None)

        region.clock.see(report.event_ms)
        region.prune(region.clock_ms - self._index_keep_ms)
        where = self._where(report)
        self._learn_corner(region, report, where)
        corner = self._corner(region, report, where)
        best = (self._held_match(region, report, where) if held
                else self._best_match(region, report, where, corner))
        if best is None and held:
            self._keep_held(region, own, report, where)
            return None
        if best is None:
            incident, link = self._open(region, own, report, where, corner)
            change = self._change(incident, report, NEW, None)
            home = own
        else:
            link = self._join(region, best.home, best.incident, own, report, where)
            home, incident = best.home, best.incident
            merge = best.merge.to_dict()
            if GEOCODED in report.flags:
                # A dispatcher tells a point the address book gave from a fix.
                merge["reasons"].append(
                    f"its point is the address book's for "
                    f"{report.details.get(GEOCODED, report.address)!r}")
            change = self._change(best.incident, report, MERGED, merge)
        # Then what the report's fix or its link moves here (``moved``): the
        # changes go out after this one, each counting one report more.
        self._move_placed(region, home, incident, report)
        if link is not None:
            self._move_posts(region, home, incident, report, link)
        return change if link is None else replace(change, link=link.to_dict())

    def _move_placed(self, region: Region, home: str, incident: dict[str, Any],
                     report: Report) -> None:
        """Move the reports ``report``'s thread names (``PLACES``: its
        reporter's earlier reports that gave no place) from the incidents
        they sit in to ``incident``, where the reporter's own fix put
        ``report``. They were decided on kind and time alone (or opened an
        incident of their own); the fix is the first place the reporter
        gave. Seed 1: incident F1 0.9400 -> 0.9429 (P 0.9531 -> 0.9554) when
        first measured; reports that named a street or an address are left
        where they are since (they gave a place): 0.0004 less."""
        for placed in report.details.get(PLACES) or ():
            report_id, text = (placed if isinstance(placed, list) and len(placed) == 2
                               else (placed, None))
            found = region.locate(report_id) if isinstance(report_id, str) else None
            # Not a report another sender gave the same id (``reused_id``),
            # nor one an operator split into an incident of its own.
            if (found is not None and len(found[1]) > 8 and found[1][4] is None
                    and found[1][7] == report.reporter
                    and found[1][0] != incident_id_for(f"split:{report_id}")):
                self._move(region, report_id, *found, home, incident,
                           f"its reporter's fix in {report.report_id} "
                           f"({report.channel}) puts it here; it gave no place "
                           "of its own", report.received_ms,
                           text if isinstance(text, str) else None)

    def _move_posts(self, region: Region, home: str, incident: dict[str, Any],
                    report: Report, link: VoiceLink) -> None:
        """Move the posts of the handle ``link`` takes ``report``'s caller
        for from the incident they joined (or opened) to ``incident``, and
        join the ones the gate held to it: a post names only its town, its
        author's call says where. Seed 1: incident F1 0.9429 -> 0.9456 (P
        0.9554 -> 0.9576), held posts too 0.9462; thread F1 0.9802 either way;
        of the posts so moved in a first trial, 152 of 181 out of incidents
        that kept other reports went to their true incident, 44 of 48 out of
        incidents they were alone in."""
        post = region.posts.posts.get(link.same_as)
        if post is None or post[4] == incident["id"] or incident["lat"] is None:
            return  # a call that gives no place says no better where
        reason = (f"its author is the caller of {report.report_id} "
                  f"({'; '.join(link.reasons[:2])}): the call says where")
        said = region.posts.said.get(link.same_as, {})
        for report_id in region.posts.held.get(link.same_as, ()):
            # Posts the gate held, in no incident: they join this one.
            found = region.locate(report_id)
            if found is not None and len(found[1]) > 8 and found[1][0] == HELD:
                self._move(region, report_id, *found, home, incident, reason,
                           report.received_ms, said.get(report_id))
        if not post[4]:
            return
        entry = region.recent.get(post[4])
        left = region.cell(entry[0]).open.get(post[4]) if entry else None
        for report_id in list(left["report_ids"]) if left else ():
            found = region.locate(report_id)
            if (found is not None and len(found[1]) > 8 and found[1][0] == post[4]
                    and found[1][7] == link.same_as):
                self._move(region, report_id, *found, home, incident, reason,
                           report.received_ms, said.get(report_id))

    def _move(self, region: Region, report_id: str, own: str, seen: list[Any],
              home: str, incident: dict[str, Any], reason: str, at_ms: int,
              text: str | None = None) -> None:
        """Move the report ``seen`` remembers (in ``own``) from the open
        incident it sits in to ``incident`` (in ``home``): two changes for
        ``moved``. One in an incident that has closed stays; an incident
        left with no report closes. ``text`` (what the report said, as the
        incident's ``texts`` hold it) goes with it, when known."""
        left_home = seen[3]
        left = region.cell(left_home).open.get(seen[0]) if seen[0] != HELD else {
            "id": HELD, "count": 1, "report_ids": [report_id], "kind": seen[6],
            "kinds": [seen[6]], "lat": None, "lon": None, "area": "",
            "first_ms": seen[1], "last_ms": seen[1], "texts": []}
        horizon = (max(region.clock_ms, region.cell(left_home).clock_ms)
                   - self.params.stale_after_s * 1000)
        if left is None or left is incident or left["last_ms"] < horizon:
            return  # closed, or as good as (a fix late by event time)
        left["count"] -= 1
        left["report_ids"] = [r for r in left["report_ids"] if r != report_id]
        if text is not None and text in left["texts"]:
            # Its words go with it (the score stage reads an incident's texts).
            left["texts"].remove(text)
        reporter = seen[7]
        if reporter and self._still_reports(region, left, reporter):
            # The same person's other report stays: one echo fewer.
            left["echoes"] = max(0, left.get("echoes", 0) - 1)
        elif reporter:
            left["reporters"] = [r for r in left.get("reporters", ()) if r != reporter]
            voice = left.get("voices", {}).pop(reporter, None)
            voices = incident.setdefault("voices", {})
            if voice is not None and len(voices) < MAX_REPORTERS:
                voices.setdefault(reporter, voice)
        if reporter:
            reporters = incident.setdefault("reporters", [])
            if reporter not in reporters:
                reporters[:] = [*reporters, reporter][-MAX_REPORTERS:]
            else:
                # The same person again: a report, not another witness.
                incident["echoes"] = incident.get("echoes", 0) + 1
        if left["id"] == HELD:
            pass  # a held post: in no incident, nothing to leave
        elif left["count"] <= 0:
            del region.cell(left_home).open[left["id"]]
            region.forget(left["id"])
        else:
            region.index(left, left_home)
        region.changed.add(left_home)
        if seen[6] not in incident["kinds"]:
            incident["kinds"].append(seen[6])
        if text is not None and text not in incident["texts"]:
            incident["texts"] = (incident["texts"] + [text])[-self.params.max_texts:]
        incident["first_ms"] = min(incident["first_ms"], seen[1])
        incident["count"] += 1
        incident["report_ids"] = (incident["report_ids"] + [report_id])[
            -MAX_REPORT_IDS:]
        region.index(incident, home)
        region.member(report_id, incident)
        region.changed.add(home)
        region.remember(own, report_id, [incident["id"], *seen[1:3], home, *seen[4:]])
        info = {"report_id": report_id, "from": left["id"], "into": incident["id"],
                "by": MOVED_BY, "reason": reason}
        moved = {"reporter": reporter, "channel": seen[8], "report_event_ms": seen[1],
                 "witnesses": max(1, incident["count"] - incident.get("echoes", 0))}
        joined = replace(_split_change(incident, MERGED, info, region.name, at_ms),
                         **moved)
        self._moved += [joined] if left["id"] == HELD else [
            _split_change(left, SPLIT, info, region.name, at_ms), joined]

    @staticmethod
    def _still_reports(region: Region, incident: dict[str, Any], reporter: str
                       ) -> bool:
        """Whether ``incident`` holds a report of ``reporter`` (of its latest
        ``MAX_REPORT_IDS``)."""
        for report_id in incident["report_ids"]:
            found = region.locate(report_id)
            if found is not None and len(found[1]) > 8 and found[1][7] == reporter:
                return True
        return False

    def _torn(self, region: Region, own: str, known: list[Any], report: Report
              ) -> bool:
        """Whether the seen record of ``report`` names an incident that does not
        hold it although it cannot have closed yet: the state of a worker killed
        halfway through storing a batch (the report's cell stored, not its
        incident's). The record is dropped and the report decided again, as
        it was: the incident it opened gets the same id, the one it joined
        is there to join. Not a record older than ``stale_after_s`` by the
        region's clock or its incident's cell's: the incident may have closed
        since."""
        home = known[3] if len(known) > 3 else own
        cell = region.cell(home)
        clock_ms = max(region.clock_ms, cell.clock_ms)  # a cell stored ahead
        if known[1] < clock_ms - self.params.stale_after_s * 1000:
            return False
        incident = cell.open.get(known[0])
        if incident is not None and (report.report_id in incident["report_ids"]
                                     or len(incident["report_ids"]) >= MAX_REPORT_IDS):
            return False
        del region.cell(own).seen[report.report_id]
        region.changed.add(own)
        return True

    def split(self, region: Region, incident_id: str, report_id: str, by: str,
              reason: str, at_ms: int) -> list[IncidentChange]:
        """Take ``report_id`` out of ``incident_id`` into an incident of its own.

        Returns the changes: the incident without the report (``split``) and
        the report's new incident (``new``), both saying who split what and
        why. The new incident's id derives from the report id, and the report
        is remembered in it: the same command again changes nothing (no
        changes), and a redelivery of the report is a repeat of its new
        incident. Raises ``SplitRefused`` when there is nothing to split.
        """
        found = region.locate(report_id)
        if found is None:
            raise SplitRefused(f"report {report_id} is not known in {region.name}")
        own, seen = found
        into = incident_id_for(f"split:{report_id}")
        if seen[0] == into:
            return []
        if seen[0] != incident_id:
            raise SplitRefused(f"report {report_id} is in {seen[0]}, not {incident_id}")
        home = seen[3] if len(seen) > 3 else own
        incident = region.cell(home).open.get(incident_id)
        if incident is None:
            raise SplitRefused(f"incident {incident_id} is closed")
        if incident["count"] <= 1:
            raise SplitRefused(f"report {report_id} is the only one of {incident_id}")
        lat, lon, kind = (seen[4], seen[5], seen[6]) if len(seen) > 6 else (
            None, None, incident["kind"])
        reporter, channel = (seen[7], seen[8]) if len(seen) > 8 else ("", "")
        incident["count"] -= 1
        incident["report_ids"] = [r for r in incident["report_ids"] if r != report_id]
        alone: dict[str, Any] = {
            "id": into, "kind": kind, "kinds": [kind], "lat": lat, "lon": lon,
            "acc_m": 0.0, "area": incident["area"], "first_ms": seen[1],
            "last_ms": seen[1], "count": 1, "report_ids": [report_id], "texts": [],
            "reporters": [], "streets": [],
        }
        if reporter and self._still_reports(region, incident, reporter):
            # Another report of theirs stays: one echo fewer there.
            incident["echoes"] = max(0, incident.get("echoes", 0) - 1)
            alone["reporters"] = [reporter]
        elif reporter:
            # The reporter goes with the report: their follow-ups join the
            # incident the operator put them in, not the one they left.
            incident["reporters"] = [r for r in incident.get("reporters", ())
                                     if r != reporter]
            alone["reporters"] = [reporter]
            voice = incident.get("voices", {}).pop(reporter, None)
            if voice is not None:
                alone["voices"] = {reporter: voice}
        region.changed.add(home)
        region.cell(own).open[into] = alone
        region.index(alone, own)
        region.remember(own, report_id, [into, seen[1], seen[2], own, lat, lon,
                                         kind, reporter, channel, -1])
        info = {"report_id": report_id, "from": incident_id, "into": into,
                "by": by, "reason": reason}
        moved = {"reporter": reporter, "channel": channel, "report_event_ms": seen[1]}
        return [_split_change(incident, SPLIT, info, region.name, at_ms),
                replace(_split_change(alone, NEW, info, region.name, at_ms), **moved)]

    def _post_kinds(self, report: Report) -> frozenset[str]:
        """The kinds a post may be about: its own and every one its words
        name (a post read as ``service`` for "helicopter crashed" may tell of
        a collision); none for another channel's report."""
        if report.channel != SOCIAL:
            return frozenset()
        return (self.kinds.read_all(report.text) | {report.kind}) - {OTHER}

    def _in_town(self, source: str, town: str, lat: float, lon: float
                 ) -> bool | None:
        """Whether a point is in ``town`` as the town scorer reads a post's
        town: the calls recorded around it named it often enough to put it
        short of the outer ring (``_town_ring``); None without cells there."""
        ring = _town_ring(self.places.share(source, town, lat, lon))
        return None if ring is None else ring < len(TOWN_PLACE) - 1

    def _kinds_fit(self, a: str, b: str) -> bool:
        """Whether reports of kinds ``a`` and ``b`` may tell of one event; a
        report whose words name no kind (``other``) fits any."""
        return OTHER in (a, b) or self.kinds.compatible(a, b)

    def _where(self, report: Report) -> Where:
        circle = self.places.find(report.source, report.address)
        kind_of_call = report.type_text.strip().lower()
        return Where(streets_of(report), circle,
                      place_name(report.address) if circle is not None else "",
                      kind_of_call if len(kind_of_call) >= MIN_TYPE_CHARS else "",
                      f"{report.type_text} {report.text}".lower())

    def _own_key(self, region: Region, report: Report) -> str:
        """The cell that remembers a report: its point's, or for a report
        without one a shard of the region's cells of such reports (by id)."""
        if report.has_point:
            assert report.lat is not None and report.lon is not None
            cell = cell_key(report.lat, report.lon, self.params.cell_deg)
            return f"{region.name}|{cell}"
        shard = int(hashlib.sha1(report.report_id.encode()).hexdigest()[:8], 16)
        return f"{region.name}|p{shard % PLACELESS_SHARDS}"

    def _recall(self, region: Region, own: str, report_id: str
                ) -> tuple[str, list[Any] | None]:
        """The cell that remembers ``report_id`` and its record: the cell the
        id was last remembered in (``Region.seen_at``), once what that cell
        forgets by now is gone, else ``own``; (``own``, None) when neither
        remembers it."""
        other = region.seen_at.get(report_id)
        if other is not None and other != own:
            # The newest record of the id: a newer version leaves the older
            # one in its cell.
            record = self._expired(region, other).seen.get(report_id)
            if record is not None:
                return other, record
        return own, region.cell(own).seen.get(report_id)

    def _expired(self, region: Region, key: str) -> CellState:
        """A cell, after the incidents gone quiet by the region's clock left it."""
        cell = region.cell(key)
        if cell.clock_ms < region.clock_ms:
            cell.clock_ms = region.clock_ms
            horizon = cell.clock_ms - self.params.stale_after_s * 1000
            stale = [i for i, inc in cell.open.items() if inc["last_ms"] < horizon]
            for incident_id in stale:
                del cell.open[incident_id]
                region.forget(incident_id)
            seen = len(cell.seen)
            cell.forget_seen(cell.clock_ms - self.params.seen_ttl_s * 1000,
                             self.params.max_seen_per_cell - 1,
                             region.committed)
            if stale or len(cell.seen) != seen:
                region.changed.add(key)
        return cell

    def _candidates(self, region: Region, report: Report
                    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(home cell, incident) of every open incident ``report`` could join."""
        if report.has_point:
            assert report.lat is not None and report.lon is not None
            reach_m = self._reach_m(report.accuracy_m or 0.0,
                                    self.params.max_accuracy_m)
            for key in cells_within(report.lat, report.lon, reach_m,
                                    self.params.cell_deg):
                home = f"{region.name}|{key}"
                for incident in self._expired(region, home).open.values():
                    yield home, incident
            indexed = region.unplaced
        else:
            indexed = region.recent
        # The index: incidents opened without a point (for a report with one),
        # or every recent incident of the region (for a report without one).
        # Past every window it serves an entry leaves it (``Region.prune``):
        # reports with a point still find the incident in its cell.
        for incident_id, (home, _) in list(indexed.items()):
            found = self._expired(region, home).open.get(incident_id)
            if found is None:
                region.forget(incident_id)
                continue
            yield home, found

    def _best_match(self, region: Region, report: Report, where: Where,
                    corner: tuple[str, CornerPoint] | None = None
                    ) -> _Candidate | None:
        located = report
        if corner is not None:
            name, point = corner
            located = replace(report, lat=point.lat, lon=point.lon,
                              accuracy_m=point.acc_m, location=LOCATION_KNOWN)
            found = self._corner_match(region, located, where, name, point)
            if found is not None:
                return found
        town_only = where.circle is not None and not report.has_point
        if town_only:
            town = self._town_match(region, report, where)
            if town is not None and names_it(report, where, town.incident):
                return town
        candidates = [c for key, incident in self._candidates(region, report)
                      if (c := self._candidate(report, where, key, incident))
                      is not None
                      # The incidents with a point the town's scorer weighed.
                      and not (town_only and incident["lat"] is not None)]
        if not candidates:
            # No place fits: the call type may, when the places cannot be
            # compared (a corner's point can be, with an incident's point).
            return self._typed_match(region, located, where)
        # A place both give (a point, an intersection, the reporter's own
        # incident) outranks one that only fits (one street, a town's circle).
        candidates.sort(key=lambda c: (c.evidence != STRONG, -c.confidence,
                                       c.incident["id"]))
        best = candidates[0]
        if best.evidence == WEAK and len(candidates) > 1 and (
                best.confidence - candidates[1].confidence < self.params.weak_margin):
            return None  # a town's circle that fits two incidents decides nothing
        return best

    def _corner_match(self, region: Region, located: Report, where: Where,
                      name: str, corner: CornerPoint) -> _Candidate | None:
        """The incident a report without a fix joins when weighed as a fix at
        the learnt point of the corner it names (``located``); None unless one
        fits by a point or by both streets (``STRONG``): the other ways are
        tried after (a corner learnt from a stray fix may be off)."""
        candidates = [c for key, incident in self._candidates(region, located)
                      if (c := self._candidate(located, where, key, incident))
                      is not None and c.evidence == STRONG]
        if not candidates:
            return None
        best = min(candidates, key=lambda c: (-c.confidence, c.incident["id"]))
        reasons = (f"no fix; {name} is where {corner.fixes} located reports put "
                   f"it (+/- {corner.acc_m:.0f} m)", *best.merge.reasons)
        return replace(best, merge=replace(best.merge, reasons=reasons))

    def _corner_book(self, region: Region, name: str) -> tuple[CornerBook, str]:
        """The book of a region's corners that holds ``name``, and its cell."""
        shard = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)
        key = f"{region.name}|g{shard % CORNER_SHARDS}"
        book = CornerBook(region.cell(key).corners, self.params.max_accuracy_m,
                          self.params.radius_m / 2,
                          refresh_ms=self.params.corner_ttl_s * 1000 / 4)
        return book, key

    def _learn_corner(self, region: Region, report: Report, where: Where) -> None:
        """A report with a fix of its own that names a corner teaches where
        the corner is (``pipeline/corners.py``); a point its thread lent or
        the address book gave (``geocoded``) is none of its own. Seed 1:
        with geocoded points teaching, incident F1 0.9401 against 0.9400."""
        params = self.params
        name = corner_key(where.streets)
        if (params.corner_min_fixes is None or name is None
                or not report.has_point or LENT_FIX in report.flags
                or GEOCODED in report.flags):
            return
        assert report.lat is not None and report.lon is not None
        book, key = self._corner_book(region, name)
        left = book.forget(region.clock_ms - params.corner_ttl_s * 1000,
                           params.max_corners_per_shard - 1)
        if book.learn_one(name, report.lat, report.lon, report.accuracy_m,
                          report.event_ms) or left:
            region.changed.add(key)

    def _corner(self, region: Region, report: Report, where: Where
                ) -> tuple[str, CornerPoint] | None:
        """The corner a report without a fix names and its learnt point, once
        ``corner_min_fixes`` taught it."""
        min_fixes = self.params.corner_min_fixes
        name = corner_key(where.streets)
        if min_fixes is None or name is None or report.has_point:
            return None
        book, _ = self._corner_book(region, name)
        point = book.point_of(name, self.params.corner_spread_m)
        if point is None or point.fixes < min_fixes:
            return None
        return name, point

    def _held_match(self, region: Region, report: Report, where: Where
                    ) -> _Candidate | None:
        """The incident a held post joins: the town's likeliest, with
        ``held_min_p`` of the evidence, whose kind (not ``other``) or call
        type the post's words name."""
        min_p = self.params.held_min_p
        if min_p is None or where.circle is None or report.has_point:
            return None
        best = self._town_match(region, report, where, min_p)
        if best is None:
            return None
        incident = best.incident
        if report.kind != OTHER and report.kind in incident["kinds"]:
            named = f"its words name {report.kind}"
        elif also := sorted(self._post_kinds(report).intersection(incident["kinds"])):
            named = f"its words name {also[0]}"
        elif said := said_type(where, incident):
            named = f"its words say {said}"
        else:
            return None
        reasons = (*best.merge.reasons,
                   f"held by the relevance gate, but {named} >= {min_p:.0%}")
        return replace(best, merge=replace(best.merge, reasons=reasons))

    def _keep_held(self, region: Region, own: str, report: Report,
                   where: Where) -> None:
        """Remember a held post that joined nothing: its id (a redelivery is
        held again) and, when it names its town, its words, for its author's
        later call (``RecentPosts``)."""
        region.remember(own, report.report_id, [
            HELD, report.event_ms, report.version_ms, own, None, None,
            report.kind, report.reporter, report.channel, region.offset])
        if report.reporter and where.circle is not None:
            event = fields_words([report.type_text, report.address])
            words = personal_words(report.text, event | self.kind_words)
            region.posts.hear_held(report, words, where.circle, self._post_link,
                                   region.clock_ms, self._post_kinds(report))

    def _town_match(self, region: Region, report: Report, where: Where,
                    min_p: float | None = None) -> _Candidate | None:
        """The incident with a point that a report naming only its town
        belongs to, weighing every one of the town against the others
        (``TOWN_WEIGHTS``, or ``HELD_TOWN_WEIGHTS`` for a held post, one
        given ``min_p``); None when none has ``min_p`` (``town_min_p``) of
        the evidence, a new incident counting as one more with no evidence."""
        held = min_p is not None
        assert where.circle is not None
        lat, lon, radius = where.circle
        params, w = self.params, TOWN_WEIGHTS
        place, count = TOWN_PLACE, TOWN_COUNT
        if held:
            place, w, count = HELD_TOWN_PLACE, HELD_TOWN_WEIGHTS, HELD_TOWN_COUNT
        reach = place[-1][0] * radius
        scored: list[tuple[float, dict[str, Any], str, float, float | None, float,
                           str]] = []
        # The gate's belief that the post reports an emergency at all weighs
        # every incident alike against a new one (a post about none is alone).
        lean = w["relevance"] * relevance_logit(report)
        words = words_of(report.text).difference(self.kind_words)
        # Every kind the post's words name ("helicopter crashed" reads as a
        # service call and tells of a crash too).
        named_kinds = self._post_kinds(report)
        for incident_id, (home, _) in list(region.recent.items()):
            incident = self._expired(region, home).open.get(incident_id)
            if incident is None:
                region.forget(incident_id)
                continue
            if incident["lat"] is None:
                continue
            since_s = (report.event_ms - incident["first_ms"]) / 1000
            if not -params.window_s <= since_s <= params.town_window_s:
                continue
            if report.report_id in incident["report_ids"]:
                continue
            dist = distance_m(lat, lon, incident["lat"], incident["lon"])
            named = self.places.share(report.source, where.town,
                                      incident["lat"], incident["lon"])
            ring = _town_ring(named)
            if dist > reach and ring in (None, len(place) - 1):
                continue
            score = (next(v for bound, v in place if dist <= bound * radius)
                     if ring is None else place[ring][1])
            score += w["first_minutes"] if since_s < TOWN_EARLY_S else w["later"]
            kinds = incident["kinds"]
            if report.kind in kinds:
                kind, kind_reason = "same_kind", f"same kind {report.kind}"
            elif also := sorted(named_kinds.intersection(kinds)):
                kind = "same_kind"
                kind_reason = f"its words name {also[0]} too, the incident's kind"
            elif any(self.kinds.compatible(report.kind, k) for k in kinds):
                kind = "compatible"
                kind_reason = f"kind {report.kind} compatible with {incident['kind']}"
            elif report.kind == OTHER:
                kind, kind_reason = "report_other", "the words name no kind"
            elif incident["kind"] == OTHER:
                kind = "incident_other"
                kind_reason = f"kind {report.kind}; the incident's names none"
            else:
                kind = "other_kind"
                kind_reason = f"kind {report.kind}, not {incident['kind']}"
            score += w[kind]
            said = said_type(where, incident)
            score += w["said_type"] if said else w["not_said"]
            if said:
                kind_reason += f"; both say {said}"
            shared = len(where.streets.intersection(incident.get("streets", ())))
            score += 0.0 if not shared else w["one_street" if shared == 1
                                              else "two_streets"]
            priority = min(self.kinds.get(k).priority for k in kinds)
            score += w["serious" if priority <= 2 else
                       "priority_3" if priority == 3 else "minor"]
            score += count[min(incident["count"], len(count)) - 1]
            voices = incident.get("voices", {}).values()
            score += w["posted" if any(v[0] == SOCIAL for v in voices)
                       else "not_posted"]
            # Words of the post its texts said too, beyond kinds and the
            # incident's own type and streets; how long it has been quiet.
            mine = words.difference(incident.get("event_words", ()))
            if mine and any(not mine.isdisjoint(words_of(text))
                            for text in incident["texts"]):
                score += w["shared_words"]
            score += w["quiet_minute"] * max(
                0.0, report.event_ms - incident["last_ms"]) / 60_000
            if report.reporter and report.reporter in incident.get("reporters", ()):
                score += w["same_reporter"]
                kind_reason += "; the reporter's open incident"
            scored.append((score + lean, incident, home, dist, named, since_s,
                           kind_reason))
        if not scored:
            return None
        scored.sort(key=lambda s: (-s[0], s[1]["id"]))
        top, incident, home, dist, named, since_s, kind_reason = scored[0]
        # The new incident's evidence is 0: exp(0 - top) in the denominator.
        share = 1.0 / (math.exp(-top) + sum(math.exp(s[0] - top) for s in scored))
        if min_p is None:
            min_p = params.town_min_p
        if share < min_p or (
                len(scored) > 1 and scored[1][0] >= top - TOWN_TIE):
            return None  # too little of the evidence, or two fit alike
        where_reason = (f"incident {dist / 1000:.1f} km from the centre of "
                        f"{report.address} ({radius / 1000:.1f} km)")
        if named is not None:
            where_reason += (f"; {named:.0%} of the calls recorded around it "
                             "named the town")
        merge = Merge(
            reasons=(where_reason,
                     f"{since_s / 60:.1f} min after its first report",
                     kind_reason,
                     f"{share:.0%} of the evidence among {len(scored)} incidents "
                     "of the town"),
            confidence=round(share, 3), distance_m=None,
            gap_s=round(_gap_s(incident, report.event_ms), 1))
        return _Candidate(share, incident, home, merge, WEAK)

    def _typed_match(self, region: Region, report: Report, where: Where
                     ) -> _Candidate | None:
        """The incident a report whose place cannot be set against its own
        belongs to by the call type both give (or, when neither gives one,
        the kind: ``untyped_kind``), weighing every such incident of the
        region against the others (``TYPED_WEIGHTS``); None when none has
        ``typed_min_p`` of the evidence, a new incident counting as one more
        with none, or two fit alike. An incident holding a post whose words
        are the call's (``authors_post``) is where its author's call is."""
        params, w = self.params, TYPED_WEIGHTS
        scored: list[tuple[float, dict[str, Any], str, float, str, float | None,
                           str]] = []
        # A report with a point can be set against every incident with one:
        # only those opened without one may be apart from it.
        indexed = region.unplaced if report.has_point else region.recent
        posts = self._author_posts(region, report, where)
        for incident_id, (home, _) in list(indexed.items()):
            incident = self._expired(region, home).open.get(incident_id)
            if incident is None:
                region.forget(incident_id)
                continue
            since_s = abs(report.event_ms - incident["first_ms"]) / 1000
            # The author's post is evidence of its own: the call type's
            # window does not bound it, the post's (``post_link_window_s``) does.
            posted = _posted_here(posts, incident)
            if (since_s > params.typed_window_s and not posted) or not apart_places(
                    report, where, incident) or (
                        report.report_id in incident["report_ids"]):
                continue
            said, score = said_type(where, incident), 0.0
            if not said and (kind := untyped_kind(report, where, incident)):
                # Neither gives a call type (a source that sends none): the
                # kind both give, a looser class, stands in for it.
                said, score = f"kind {kind}, neither a call type", w["kind_only"]
            if not said:
                continue
            score += next((v for bound, v in TYPED_SINCE if since_s <= bound),
                          TYPED_SINCE[-1][1])
            priority = min(self.kinds.get(k).priority for k in incident["kinds"])
            score += w["serious" if priority <= 2 else
                       "priority_3" if priority == 3 else "minor"]
            score += w["located"] if incident["lat"] is not None else 0.0
            if (report.event_ms - incident["last_ms"]) / 1000 > TYPED_QUIET_S:
                score += w["quiet"]
            if incident.get("streets"):
                score += w["incident_named"]
            near = self._street_near(report, where, incident)
            if near is not None:
                score += next(v for bound, v in STREET_NEAR if near <= bound)
            if posted:
                score += w["authors_post"]
            scored.append((score, incident, home, since_s, said, near, posted))
        if not scored:
            return None
        scored.sort(key=lambda s: (-s[0], s[1]["id"]))
        top, incident, home, since_s, said, near, posted = scored[0]
        # What the report gives of its place weighs every incident alike.
        own = w["report_named"] if where.streets else 0.0
        if report.has_point:
            # A located report weighs only incidents opened without a place;
            # the more located ones of its type are open, the likelier such
            # an incident is a stray caller of one of them.
            own += w["located_alike"] * min(
                TYPED_ALIKE_MAX, self._located_alike(region, report, where))
        share = 1.0 / (math.exp(-top - own)
                       + sum(math.exp(s[0] - top) for s in scored))
        if share < params.typed_min_p or (
                len(scored) > 1 and scored[1][0] >= top - TOWN_TIE):
            return None  # too little of the evidence, or two fit alike
        gives = report.has_point or where.streets
        reasons = [f"{'places apart' if gives else 'no place'}; both say {said}",
                   f"{since_s / 60:.1f} min from its first report"]
        if near is not None:
            streets = sorted(where.streets or incident.get("streets", ()))
            reasons.append(
                f"over {STREET_NEAR[-2][0] / 1000:.0f} km from the addresses on "
                f"{' and '.join(streets)}" if near == math.inf else
                f"{near:.0f} m from an address on {' or '.join(streets)}")
        if posted:
            reasons.append(f"a post it holds says {posted} too")
        reasons.append(f"{share:.0%} of the evidence among {len(scored)} "
                       "incidents of the call type")
        merge = Merge(
            reasons=tuple(reasons),
            confidence=round(share, 3), distance_m=None,
            gap_s=round(_gap_s(incident, report.event_ms), 1))
        return _Candidate(share, incident, home, merge, TYPED)

    def _author_posts(self, region: Region, report: Report, where: Where
                      ) -> dict[str, list[tuple[frozenset[str], frozenset[str]]]]:
        """The incidents holding an unlinked post that a call giving no place
        (no point, address or street) may be its author's: sent within
        ``post_link_window_s`` before the call, saying words the call says
        that no post of another incident said (``RecentPosts``); incident
        id -> for each such handle (the call's words, the words both say).
        Only a call: a post, then a call. A handle whose posts joined two
        incidents tells neither."""
        if (report.channel != CALL or not report.reporter or report.has_point
                or report.address.strip() or where.streets):
            return {}
        words = personal_words(report.text, fields_words(
            [report.type_text, report.address]) | self.kind_words)
        index = region.posts
        handles = {h for word in words for h in index.by_word.get(word, ())}
        found: dict[str, list[tuple[frozenset[str], frozenset[str]]]] = {}
        window_ms = self._post_link.window_s * 1000
        for handle in sorted(handles - index.spread):
            first_ms, last_ms, said, _, incident_id, linked, _ = index.posts[handle]
            if (incident_id and not linked and handle != report.reporter
                    and first_ms <= report.event_ms <= last_ms + window_ms):
                both = frozenset(w for w in words & said if all(
                    index.posts[other][4] == incident_id
                    for other in index.by_word.get(w, ())))
                found.setdefault(incident_id, []).append((words, both))
        return found

    def _street_near(self, report: Report, where: Where, incident: dict[str, Any]
                     ) -> float | None:
        """How far the point one of them has is from the streets the other
        names, by the address book (``STREET_NEAR``); None without a book, a
        point, streets, or a book point of them."""
        if self.book is None:
            return None
        if where.streets and incident["lat"] is not None and not report.has_point:
            return self.book.street_distance_m(report.source, where.streets,
                                               incident["lat"], incident["lon"])
        streets = incident.get("streets")
        if report.has_point and streets and incident["lat"] is None:
            assert report.lat is not None and report.lon is not None
            return self.book.street_distance_m(report.source, streets,
                                               report.lat, report.lon)
        return None

    def _located_alike(self, region: Region, report: Report, where: Where) -> int:
        """How many incidents with a point, first reported within
        ``typed_window_s`` of ``report``, it names the call type of (or,
        neither giving one, shares the kind of: ``untyped_kind``)."""
        alike = 0
        for incident_id, (home, _) in list(region.recent.items()):
            incident = self._expired(region, home).open.get(incident_id)
            if incident is None or incident["lat"] is None or abs(
                    report.event_ms - incident["first_ms"]
            ) / 1000 > self.params.typed_window_s:
                continue
            if said_type(where, incident) or untyped_kind(report, where, incident):
                alike += 1
        return alike

    def _reach_m(self, accuracy_m: float, other_m: float) -> float:
        """How far apart two fixes can be one place: ``radius_m`` plus both
        uncertainties, each counted up to ``max_accuracy_m``, times
        ``reach_factor`` (a fix may be off by more than it states)."""
        most = self.params.max_accuracy_m
        return self.params.radius_m + self.params.reach_factor * (
            min(accuracy_m, most) + min(other_m, most))

    def _candidate(self, report: Report, where: Where, key: str,
                   incident: dict[str, Any]) -> _Candidate | None:
        params = self.params
        # A follow-up from a reporter of this incident: their own words
        # ("still here, he is bleeding") rarely name the kind again.
        same_reporter = bool(report.reporter) and report.reporter in \
            incident.get("reporters", ())
        placed = report.has_point and incident["lat"] is not None
        addresses = placed and _address_point(report) and bool(
            incident.get("address_point"))
        if same_reporter:
            window_s = params.follow_up_s
        elif addresses:
            window_s = params.address_window_s
        elif placed:
            window_s = params.window_s
        else:
            window_s = params.placeless_window_s
        gap_s = _gap_s(incident, report.event_ms)
        if gap_s > window_s:
            return None  # the cheap test first: most incidents in reach fail it
        if report.report_id in incident["report_ids"]:
            return None  # a copy (its place lost) of a report it holds
        same_kind = report.kind in incident["kinds"]
        compatible = same_kind or any(
            self.kinds.compatible(report.kind, k) for k in incident["kinds"])
        kind_free = report.kind == OTHER or incident["kind"] == OTHER

        dist: float | None = None
        evidence = STRONG
        one_address = False
        if placed:
            assert report.lat is not None and report.lon is not None
            dist = distance_m(report.lat, report.lon, incident["lat"], incident["lon"])
            if not addresses:
                if dist > self._reach_m(report.accuracy_m or 0.0, incident["acc_m"]):
                    return None
                return self._fix_candidate(report, where, key, incident, dist,
                                           gap_s, same_reporter, same_kind,
                                           compatible, kind_free)
            # Two addresses' points: one address is one point, and the
            # disciplines a call sends (EMS, fire, traffic) each post a record
            # of their own type there.
            limit_m = params.address_radius_m
            if dist > limit_m:
                return None
            one_address = dist < SAME_POINT_M and bool(report.discipline)
            place = 1 - dist / limit_m if limit_m > 0 else 1.0
            place_reason = f"distance {dist:.0f} m <= {limit_m:.0f} m"
        else:
            found = self._place_evidence(report, where, incident)
            if found is not None:
                place, place_reason, evidence = found
            elif same_reporter:
                place, place_reason = 0.5, "no place; the reporter's open incident"
            else:
                return None
        if not (compatible or same_reporter or kind_free or one_address):
            return None

        if same_reporter:
            kind_score, kind_reason = 1.0, "same reporter (a follow-up)"
        elif same_kind:
            kind_score, kind_reason = 1.0, f"same kind {report.kind}"
        elif compatible:
            kind_score = 0.5
            kind_reason = f"kind {report.kind} compatible with {incident['kind']}"
        elif one_address and not kind_free:
            kind_score = 0.5
            kind_reason = (f"{report.discipline} record of kind {report.kind} at "
                           "the incident's address")
        else:
            kind_score = 0.25
            kind_reason = f"kind {report.kind}: the words name no kind"
        if evidence == WEAK and (said := said_type(where, incident)):
            # A town fits many incidents: the call type both give tells them
            # apart.
            kind_score, kind_reason = 1.5, f"both say {said}"
        confidence = round(0.5 * place + 0.3 * (1 - gap_s / window_s)
                           + 0.2 * kind_score, 3)
        merge = Merge(
            reasons=(place_reason,
                     f"{gap_s / 60:.1f} min apart <= {window_s / 60:.0f} min",
                     kind_reason),
            confidence=confidence,
            distance_m=None if dist is None else round(dist, 1),
            gap_s=round(gap_s, 1),
        )
        return _Candidate(confidence, incident, key, merge, evidence)

    def _fix_candidate(self, report: Report, where: Where, key: str,
                       incident: dict[str, Any], dist: float, gap_s: float,
                       same_reporter: bool, same_kind: bool, compatible: bool,
                       kind_free: bool) -> _Candidate | None:
        """A located report and an incident with a point, weighed by how far
        apart against the fixes' uncertainties, how long, kinds, reporter and
        the streets both name (``FIX_EVIDENCE``); None below
        ``fix_min_score``."""
        params, w = self.params, FIX_EVIDENCE
        # A point without an uncertainty (none stated) is taken as uncertain
        # as half the radius: neither exact nor anywhere.
        unknown = params.radius_m / 2
        spread = math.sqrt(
            min(report.accuracy_m or unknown, params.max_accuracy_m) ** 2
            + min(incident["acc_m"] or unknown, params.max_accuracy_m) ** 2
            + params.fix_spread_m ** 2)
        z = dist / spread
        score = max(w["tail"], w["centre"] - w["k"] * z * z)
        score += w["per_log_spread"] * math.log(spread / SPREAD_REF_M)
        score += max(w["late"], w["soon"] - w["per_minute"] * gap_s / 60)
        if same_kind:
            kind = "same_kind"
            kind_reason = f"same kind {report.kind}"
        elif compatible:
            kind = "compatible"
            kind_reason = f"kind {report.kind} compatible with {incident['kind']}"
        elif kind_free:
            kind = "kind_free"
            kind_reason = f"kind {report.kind}: the words name no kind"
        elif same_reporter:
            kind, kind_reason = "", f"kind {report.kind}, not {incident['kind']}"
        else:
            return None  # kinds that cannot be one incident
        score += w.get(kind, 0.0)
        follow = ("same reporter (a follow-up)",) if same_reporter else ()
        if same_reporter:
            score += w["same_reporter"]
        streets, street_reason = street_agreement(
            where.streets, frozenset(incident.get("streets", ())))
        if streets:
            score += w[streets]
            follow = (*follow, street_reason)
        if score < params.fix_min_score:
            return None
        confidence = round(1 / (1 + math.exp(-score)), 3)
        merge = Merge(
            reasons=(f"distance {dist:.0f} m, {z:.1f} times the fixes' spread "
                     f"({spread:.0f} m)",
                     f"{gap_s / 60:.1f} min apart",
                     kind_reason, *follow,
                     f"evidence {score:+.1f} >= {params.fix_min_score:+.1f}"),
            confidence=confidence, distance_m=round(dist, 1), gap_s=round(gap_s, 1))
        return _Candidate(confidence, incident, key, merge, STRONG)

    def _place_evidence(self, report: Report, where: Where,
                        incident: dict[str, Any]) -> tuple[float, str, str] | None:
        """How a report and an incident, one of them without a point, agree on
        the place: (strength, reason, STRONG or WEAK), or None."""
        shared = where.streets.intersection(incident.get("streets", ()))
        if shared:
            # One street may be long (a pike, a turnpike); an intersection
            # both name is one place, and two that share one street are two
            # corners of it (one that names the street alone may be either).
            names = " and ".join(sorted(shared)[:2])
            if len(shared) > 1:
                return 0.9, f"both name {names}", STRONG
            if len(where.streets) > 1 and len(incident.get("streets", ())) > 1:
                return None
            return 0.7, f"both name {names}", WEAK
        circle = where.circle
        if circle is not None and incident["lat"] is not None:
            lat, lon, radius = circle
            dist = distance_m(lat, lon, incident["lat"], incident["lon"])
            if dist <= radius + min(incident["acc_m"], self.params.max_accuracy_m):
                return (0.5 * (1 - dist / (2 * radius)),
                        f"incident inside {report.address} ({radius / 1000:.1f} km)",
                        WEAK)
            return None
        # An incident known only by a town (a post opened it) is no place for
        # a fix: a point inside a town kilometres wide says nothing of which
        # event it saw. On generated streams (seed 1) 32 of the located
        # reports that joined such an incident were of its event and 322
        # not; without the join incident F1 0.8834 -> 0.8856.
        if (circle is not None and not report.has_point and incident.get("place")
                and incident.get("place_name") == where.town):
            return 0.3, f"both from {report.address}", WEAK
        return None

    def _open(self, region: Region, home: str | None, report: Report,
              where: Where, corner: tuple[str, CornerPoint] | None = None
              ) -> tuple[dict[str, Any], VoiceLink | None]:
        # A report that cannot be matched (``home`` None) opens an incident of
        # its own, and one without a point opens one named apart from the one
        # the same report id opens with a point and a plausible time: a copy
        # without them must not reset that one. Its reporter may be the author
        # of a post in another incident (the link).
        if home is None:
            name = f"alone:{report.report_id}"
        elif report.has_point:
            name = report.report_id
        else:
            name = f"nofix:{report.report_id}"
        incident: dict[str, Any] = {
            "id": incident_id_for(name, report.event_ms),
            "kind": report.kind,
            "kinds": [report.kind],
            "lat": report.lat if report.has_point else None,
            "lon": report.lon if report.has_point else None,
            "acc_m": report.accuracy_m or 0.0,
            # A point without an uncertainty: an address's, as a CAD gives it.
            "address_point": _address_point(report),
            "area": report.area,
            "first_ms": report.event_ms,
            "last_ms": report.event_ms,
            "count": 1,
            "report_ids": [report.report_id],
            "texts": [said_text(report)],
            "reporters": [report.reporter] if report.reporter else [],
            "streets": sorted(where.streets)[:MAX_STREETS],
            "types": [where.type] if where.type else [],
        }
        if corner is not None:
            # The corner's learnt point, with its uncertainty: fixes that join
            # move it by their precision (``_fuse``).
            name, point = corner
            incident.update(lat=point.lat, lon=point.lon, acc_m=point.acc_m,
                            corner=name)
        link = self._voice(region, incident, report, where)
        if not report.has_point and where.circle is not None:
            incident["place"] = list(where.circle)
            incident["place_name"] = where.town
        if home is None:
            return incident, link
        cell = region.cell(home)
        # Room for the new incident: the longest-quiet ones leave first.
        overflow = len(cell.open) - self.params.max_open_per_cell + 1
        if overflow > 0:
            oldest = sorted(cell.open, key=lambda i: cell.open[i]["last_ms"])
            for incident_id in oldest[:overflow]:
                del cell.open[incident_id]
                region.forget(incident_id)
        cell.open[incident["id"]] = incident
        region.index(incident, home)
        region.changed.add(home)
        self._remember(region, home, incident, home, report)
        return incident, link

    def _remember(self, region: Region, own: str, incident: dict[str, Any],
                  home: str, report: Report) -> None:
        # What a split needs to give the report an incident of its own.
        region.remember(own, report.report_id, [
            incident["id"], report.event_ms, report.version_ms, home,
            report.lat if report.has_point else None,
            report.lon if report.has_point else None, report.kind,
            report.reporter, report.channel, region.offset])

    def _join(self, region: Region, home: str, incident: dict[str, Any], own: str,
              report: Report, where: Where) -> VoiceLink | None:
        if report.kind not in incident["kinds"]:
            incident["kinds"].append(report.kind)
        if incident["kind"] == OTHER and report.kind != OTHER:
            incident["kind"] = report.kind
        if _fuses(report, incident):
            self._fuse(incident, report)
        elif report.has_point and incident["lat"] is None:
            # The first point of an incident opened without one.
            incident["lat"], incident["lon"] = report.lat, report.lon
            incident["acc_m"] = report.accuracy_m or 0.0
            incident["address_point"] = _address_point(report)
        incident["first_ms"] = min(incident["first_ms"], report.event_ms)
        incident["last_ms"] = max(incident["last_ms"], report.event_ms)
        incident["count"] += 1
        incident["report_ids"] = (incident["report_ids"] + [report.report_id])[
            -MAX_REPORT_IDS:
        ]
        incident["texts"] = (incident["texts"] + [said_text(report)])[
            -self.params.max_texts:
        ]
        reporters = incident.setdefault("reporters", [])
        if report.reporter and report.reporter not in reporters:
            reporters[:] = [*reporters, report.reporter][-MAX_REPORTERS:]
        elif report.reporter:
            # The same person again: a report, not another witness.
            incident["echoes"] = incident.get("echoes", 0) + 1
        types = incident.setdefault("types", [])
        if where.type and where.type not in types:
            types[:] = [*types, where.type][-MAX_TYPES:]
        streets = where.streets.difference(incident.get("streets", ()))
        if streets:
            incident["streets"] = [*incident.get("streets", ()),
                                   *sorted(streets)][:MAX_STREETS]
        link = self._voice(region, incident, report, where)
        region.index(incident, home)
        region.changed.add(home)
        self._remember(region, own, incident, home, report)
        return link

    def _fuse(self, incident: dict[str, Any], report: Report) -> None:
        """Move the incident's point towards a new fix by the fix's share of
        the precision (``fix_weight``, the sum of the inverse squared
        uncertainties, each counted up to ``max_accuracy_m``). Seed 1: incident
        F1 0.8792 -> 0.8795 (P 0.9337 -> 0.9341) against the most precise fix
        alone; seeds 2/3 0.8803 -> 0.8807, 0.8857 -> 0.8863. A split leaves the
        point as it is."""
        assert report.lat is not None and report.lon is not None
        most = self.params.max_accuracy_m
        before = incident.get("fix_weight") or min(incident["acc_m"], most) ** -2
        weight = min(report.accuracy_m or most, most) ** -2
        share = weight / (before + weight)
        incident["lat"] += share * (report.lat - incident["lat"])
        east = (report.lon - incident["lon"] + 180) % 360 - 180
        incident["lon"] = (incident["lon"] + share * east + 180) % 360 - 180
        incident["fix_weight"] = before + weight
        incident["acc_m"] = (before + weight) ** -0.5

    def _voice(self, region: Region, incident: dict[str, Any], report: Report,
               where: Where) -> VoiceLink | None:
        """Keep what each reporter of the incident said; link a new identity
        to an earlier one that said the same, in the incident or, for a call,
        in another (``pipeline/thread.py``)."""
        if not report.reporter:
            return None
        voices: dict[str, list[Any]] = incident.setdefault("voices", {})
        # The event's own words (its types, kinds, addresses and streets, as
        # any report gave them) say nothing about who speaks.
        event = set(incident.get("event_words", ())) | fields_words([
            report.type_text, report.address, *incident.get("streets", ()),
            *(k.replace("_", " ") for k in incident["kinds"])])
        incident["event_words"] = sorted(event)[:MAX_EVENT_WORDS]
        words = personal_words(report.text, event | self.kind_words)
        link = link_voice(voices, report.reporter, report.channel, report.event_ms,
                          words, self.params.link_window_s, self.params.link_min_words)
        if link is None:
            link = link_late_caller(voices, report.reporter, report.channel,
                                    report.event_ms, words, incident["first_ms"],
                                    self.params.link_late_s,
                                    self.params.post_link_window_s)
        voice = voices.get(report.reporter)
        if voice is None:
            if len(voices) < MAX_REPORTERS:
                voices[report.reporter] = [report.channel, report.event_ms,
                                           sorted(words)[:MAX_VOICE_WORDS],
                                           link.same_as if link else ""]
            if link is not None:
                voices[link.same_as][3:4] = [report.reporter]
        else:
            voice[1] = max(voice[1], report.event_ms)
            voice[2] = sorted(set(voice[2]) | words)[:MAX_VOICE_WORDS]
        return region.posts.hear(report, incident, voice is None, words,
                                 where.circle, link, self._post_link,
                                 region.clock_ms, self._post_kinds(report))

    def _update(self, region: Region, home: str, incident: dict[str, Any],
                own: str, report: Report) -> None:
        """A newer version of a report the incident holds: its kind and text
        join the incident's, its times widen the span; the count stays."""
        if report.kind not in incident["kinds"]:
            incident["kinds"].append(report.kind)
        incident["first_ms"] = min(incident["first_ms"], report.event_ms)
        incident["last_ms"] = max(incident["last_ms"], report.event_ms)
        text = said_text(report)
        if text not in incident["texts"]:
            incident["texts"] = (incident["texts"] + [text])[-self.params.max_texts:]
        region.changed.add(home)
        self._remember(region, own, incident, home, report)

    @staticmethod
    def _change(incident: dict[str, Any], report: Report, change: str,
                merge: dict[str, Any] | None) -> IncidentChange:
        return IncidentChange(
            region=region_key(report),
            incident_id=incident["id"],
            change=change,
            report_id=report.report_id,
            raw_ref=report.raw_ref,
            received_ms=report.received_ms,
            kind=incident["kind"],
            kinds=tuple(incident["kinds"]),
            lat=incident["lat"],
            lon=incident["lon"],
            area=incident["area"],
            first_ms=incident["first_ms"],
            last_ms=incident["last_ms"],
            report_count=incident["count"],
            report_ids=tuple(incident["report_ids"]),
            texts=tuple(incident["texts"]),
            merge=merge,
            channel=report.channel,
            reporter=report.reporter,
            address=report.address,
            report_event_ms=report.event_ms,
            witnesses=max(1, incident["count"] - incident.get("echoes", 0)),
        )


def reused_id(report: Report) -> Report:
    """``report`` under the id of its own that a reused id gives it: the id,
    ``~`` and a digest of its time, channel and sender (what tells two
    reports of one id apart, ``_another_report``), so that a redelivery of
    it, or a newer version, gets the same one."""
    digest = hashlib.sha256("\x1f".join((
        str(report.event_ms), report.channel, report.reporter,
    )).encode()).hexdigest()[:12]
    return replace(report, report_id=f"{report.report_id}~{digest}",
                   flags=(*report.flags, REUSED_ID))


def _another_report(seen: list[Any], report: Report) -> bool:
    """Whether a seen record of ``report``'s id is of another report: another
    sender or channel, or in the same version (none, or the same update
    time; a newer version may correct the time) an event time more than
    ``RESTAMP_MS`` off. A redelivery, or a copy whose point was lost on the
    way, agrees on all three; a renamed report is not renamed again."""
    if len(seen) <= 8 or REUSED_ID in report.flags:
        return False
    if seen[7] != report.reporter or seen[8] != report.channel:
        return True
    return report.version_ms == _version(seen) and _other_time(seen, report)


def _other_time(seen: list[Any], report: Report) -> bool:
    """Whether ``report``'s event time is not the seen one's: more than
    ``RESTAMP_MS`` apart (a gateway that sends a message again may stamp it
    again, seconds later)."""
    return abs(int(seen[1]) - report.event_ms) > RESTAMP_MS


def _not_of(incident: dict[str, Any], report: Report) -> bool:
    """Whether ``report`` cannot be the report of its id that ``incident``
    holds: its time is outside the incident's span, or its sender is not
    among the incident's (while the list has room)."""
    if REUSED_ID in report.flags:
        return False
    if not incident["first_ms"] <= report.event_ms <= incident["last_ms"]:
        return True
    reporters = incident.get("reporters", ())
    return bool(report.reporter) and len(reporters) < MAX_REPORTERS and (
        report.reporter not in reporters)


def _version(seen: list[Any]) -> int:
    # States written before versions were kept hold two items.
    return int(seen[2]) if len(seen) > 2 else 0


def _closed(incident_id: str, report: Report) -> dict[str, Any]:
    """What a repeat names when its incident has left the state: only its id.

    The change it produces says ``repeat``; consumers keep the incident's state
    from earlier changes and take nothing else from it.
    """
    return {
        "id": incident_id, "kind": report.kind, "kinds": [report.kind],
        "lat": report.lat, "lon": report.lon, "area": report.area,
        "first_ms": report.event_ms, "last_ms": report.event_ms, "count": 1,
        "report_ids": [report.report_id], "texts": [],
    }


def _split_change(incident: dict[str, Any], change: str, info: dict[str, Any],
                  region: str, at_ms: int) -> IncidentChange:
    return IncidentChange(
        incident_id=incident["id"], change=change, report_id=info["report_id"],
        raw_ref=f"split:{info['report_id']}", received_ms=at_ms,
        kind=incident["kind"], kinds=tuple(incident["kinds"]), lat=incident["lat"],
        lon=incident["lon"], area=incident["area"], first_ms=incident["first_ms"],
        last_ms=incident["last_ms"], report_count=incident["count"],
        report_ids=tuple(incident["report_ids"]), texts=tuple(incident["texts"]),
        split=info, region=region,
        witnesses=max(0, incident["count"] - incident.get("echoes", 0)))


def _posted_here(posts: dict[str, list[tuple[frozenset[str], frozenset[str]]]],
                 incident: dict[str, Any]) -> str:
    """The words a call shares with one post ``incident`` holds (``posts``:
    ``_author_posts``) that are not the incident's own (its types, streets,
    kinds), when they are two or all the call says; else ""."""
    held = posts.get(incident["id"])
    if not held:
        return ""
    event = set(incident.get("event_words", ())) | fields_words([
        *incident.get("streets", ()),
        *(kind.replace("_", " ") for kind in incident["kinds"])])
    for words, both in held:
        words, both = words - event, both - event
        if len(both) >= 2 or (both and words <= both):
            return " ".join(sorted(both)[:4])
    return ""


def _town_ring(share: float | None) -> int | None:
    """The ring of ``TOWN_PLACE`` an incident is in for a post, by the share
    of the calls recorded around it that named the post's town
    (``TOWN_SHARE_RING``); None without cells (the circle's distance
    decides).

    >>> _town_ring(0.9), _town_ring(0.3), _town_ring(0.01), _town_ring(None)
    (0, 2, 4, None)
    """
    if share is None:
        return None
    return next((ring for floor, ring in TOWN_SHARE_RING if share > floor),
                len(TOWN_PLACE) - 1)


def _gap_s(incident: dict[str, Any], event_ms: int) -> float:
    """Seconds between an event and an incident's span of event times."""
    if incident["first_ms"] <= event_ms <= incident["last_ms"]:
        return 0.0
    first, last = incident["first_ms"], incident["last_ms"]
    edge = first if event_ms < first else last
    return abs(event_ms - edge) / 1000


def _fuses(report: Report, incident: dict[str, Any]) -> bool:
    """A fix of the report's own with a stated uncertainty, and an incident
    whose point has one: the two are averaged (``IncidentMatcher._fuse``)."""
    return (report.has_point and bool(report.accuracy_m)
            and incident["lat"] is not None and incident["acc_m"] > 0
            and LENT_FIX not in report.flags)


def _address_point(report: Report) -> bool:
    """A point an address gives, without an uncertainty: a CAD's geocode."""
    return report.has_point and report.accuracy_m is None and bool(report.address)
