"""A reporter's thread: follow-ups without a place take the reporter's last fix.

A caller who texts again a few minutes later ("still here, he is bleeding")
rarely sends a location; a tipster's second tip may have none. Keyed by the
reporter's keyed hash (``Report.reporter``), the thread remembers the last
point that reporter sent. A later report of the same reporter without a point,
within ``follow_up_s`` of event time, takes that point (location ``known``,
flagged ``location_from_thread``), so dedupe can match it by place, time and
reporter like any other report. A report with a point of its own keeps it and
becomes the thread's last fix. The thread never joins two incidents: it only
lends a place; dedupe decides.

Idempotent: the thread remembers what it lent each follow-up without a point
(a fix, or none) for ``follow_up_s``, and a redelivered follow-up gets the
same again, even when the reporter sent a fix since. A worker killed after
sending a batch but before storing its threads, or the other way round,
processes the batch again: the report must reach dedupe with the point it
had, or dedupe no longer finds it among the reports it has seen (they are
kept by point) and decides it anew.

One person may use two identities: a post from a handle, then a call from a
number. Inside one incident, dedupe takes a call (or a text or an app tip)
from a new identity for the person of an earlier post when the two say the
same things no other reporter of the incident said, close in time
(``link_voice``), or when it is a late call that says nothing the one post
of the incident without a linked caller did not (``link_late_caller``,
off unless ``link_late_s`` is set: it links by timing alone); the
change carries the link with its reasons, and the two
identities are one thread from then on. A post names only its town, so it may
join another incident than its author's call: a new caller is also linked to a
recent post of another incident when the call is in the post's town, soon
after it, and the two say what no other post there said (``RecentPosts``).
Identity alone never joins a report to an incident; a link never merges two.
What it does move is a report that gave no place: the reporter's later fix
(``_placing``), or a post's author's later call, says where it belongs
(``IncidentMatcher._move_placed`` and ``_move_posts`` in pipeline/dedupe.py).

>>> from pipeline.schema import Report
>>> def report(rid, minute, lat=None):
...     return Report(report_id=rid, source="t", channel="sms",
...                   event_ms=minute * 60_000, received_ms=0, kind="other",
...                   type_text="", reporter="rp:1", lat=lat,
...                   lon=-75.0 if lat else None,
...                   location="known" if lat else "unknown")
>>> state = {}
>>> follow_up(state, report("a", 0, 40.0), ThreadParams()).flags
()
>>> lent = follow_up(state, report("b", 5), ThreadParams())
>>> lent.lat, lent.location, lent.flags
(40.0, 'known', ('location_from_thread',))
>>> _ = follow_up(state, report("d", 6, 41.0), ThreadParams())
>>> follow_up(state, report("b", 5), ThreadParams()).lat  # a redelivery
40.0
>>> follow_up(state, report("c", 90), ThreadParams()).location
'unknown'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from pipeline.addresses import GEOCODED, GEOCODED_BY
from pipeline.geo import distance_m
from pipeline.places import NOT_A_NAME, SUFFIXES, street_names
from pipeline.schema import LOCATION_KNOWN, Report

#: The flag of a report whose point is its reporter's last fix, lent.
LENT_FIX = "location_from_thread"
#: The detail of a report with a fix naming the reporter's earlier reports
#: that gave no place (``_placing``).
PLACES = "places_reports"


@dataclass(frozen=True, slots=True)
class ThreadParams:
    #: A report this long (event time) after the reporter's last fix borrows it.
    follow_up_s: float = 1800.0
    #: Uncertainty added to a borrowed fix: the reporter may have moved.
    drift_m: float = 50.0


def follow_up(state: dict[str, Any], report: Report, params: ThreadParams
              ) -> Report:
    """Update a reporter's thread ``state`` (in place) with ``report``; return
    the report, with the thread's last fix when it has no point of its own."""
    if not report.reporter:
        return report
    fix = state.get("fix")
    # A point read from the text (``pipeline/addresses.py``) is where the
    # texter says the event is: the reporter's own fix, if any, stands
    # before it, and it is no fix of theirs to lend.
    read = report.details.get(GEOCODED_BY) == "text"
    if report.has_point and not read:
        if fix is None or report.event_ms >= fix[3]:
            state["fix"] = [report.lat, report.lon, report.accuracy_m or 0.0,
                            report.event_ms]
        return _placing(state.get("lent", {}), report, params)
    lent: dict[str, list[Any]] = state.setdefault("lent", {})
    answered = lent.get(report.report_id)
    if answered is not None:
        # A redelivery: the fix it took the first time, or none, whatever
        # fixes came since (dedupe finds the report by its point).
        fix = answered[1]
    else:
        if fix is not None and (abs(report.event_ms - fix[3])
                                > params.follow_up_s * 1000):
            fix = None
        # A report that names an address or a street gave a place, if not a
        # point: its reporter's fix does not move it.
        placeable = not (read or report.address.strip() or street_names(report.text))
        _remember_lent(lent, report, fix, params,
                       said_text(report) if placeable else None)
    if fix is None:
        return report
    if read:
        report = replace(report, flags=tuple(f for f in report.flags if f != GEOCODED),
                         details={k: v for k, v in report.details.items()
                                  if k not in (GEOCODED, GEOCODED_BY)})
    lat, lon, accuracy, _ = fix
    return replace(report, lat=lat, lon=lon, location=LOCATION_KNOWN,
                   accuracy_m=accuracy + params.drift_m,
                   flags=(*report.flags, LENT_FIX))


def said_text(report: Report) -> str:
    """What a report said, as an incident's ``texts`` hold it."""
    return f"{report.type_text} {report.text}".strip()[:500]


#: The held posts of one handle whose ids ``RecentPosts`` keeps (and the
#: texts of as many of its posts).
MAX_HELD_IDS = 8
#: The follow-ups without a point a thread remembers what it lent them.
MAX_LENT = 32


def _remember_lent(lent: dict[str, list[Any]], report: Report,
                   fix: list[Any] | None, params: ThreadParams,
                   placeable: str | None = None) -> None:
    """Keep what a follow-up without a point was lent (``fix``, or None) for
    ``follow_up_s`` of event time, at most ``MAX_LENT`` of them. One lent
    nothing that gave no place at all (``placeable``: what it said) also
    keeps which later fix of the reporter placed it ("" while none has:
    ``_placing``)."""
    lent[report.report_id] = (
        [report.event_ms, None, "", placeable, report.source]
        if fix is None and placeable is not None else [report.event_ms, fix])
    horizon = report.event_ms - params.follow_up_s * 1000
    for report_id in [r for r, entry in lent.items() if entry[0] < horizon]:
        del lent[report_id]
    while len(lent) > MAX_LENT:
        del lent[next(iter(lent))]


def _placing(lent: dict[str, list[Any]], report: Report, params: ThreadParams
             ) -> Report:
    """A report with a fix of its own, naming in ``details`` (``PLACES``) the
    reporter's reports of the ``follow_up_s`` before it that gave no place
    and took none, each as ``[report id, what it said]``: dedupe moves them
    to this report's incident when they sit in another
    (``IncidentMatcher.moved``). A caller who could not say where and texts
    a fix minutes later is where the fix is. Each is placed by one fix only,
    the first; a redelivery of that fix names them again. A report that
    named an address or a street gave a place, and is not placed so."""
    since = report.event_ms - params.follow_up_s * 1000
    placed = []
    for report_id, entry in lent.items():
        if (len(entry) > 2 and entry[2] in ("", report.report_id)
                and since <= entry[0] <= report.event_ms
                # Dedupe matches one source's reports apart from another's.
                and (len(entry) < 5 or entry[4] == report.source)):
            entry[2] = report.report_id
            placed.append([report_id, entry[3] if len(entry) > 3 else None])
    if not placed:
        return report
    return replace(report, details={**report.details, PLACES: placed})


#: Words that say nothing about who is speaking: English function words and
#: what every report of an emergency says.
_COMMON = """
a about after again all also am an and any anyone are around as at be been
before being but by can cant could did do does dont down for from get getting
go going got had has have he her here him his how i im in into is it its just
know like looks lot lots me more my near need no not now of off on one only or
other our out over please right so some someone still than that the their them
then there they this to too up us very was we were what whats when where which
who why will with would you your
caller callers passer reports reported report scene location exact unsure help
emergency call calling happening happened police fire ems ambulance
address cannot name nobody arrived subject victim
"""
COMMON_WORDS = frozenset(_COMMON.split())
_WORDS = re.compile(r"[a-z]+")
_SUFFIX_WORDS = frozenset(SUFFIXES)
SOCIAL = "social"
CALL = "911"


def personal_words(text: str, exclude: Iterable[str] = ()) -> frozenset[str]:
    """The words of a text that can tell one witness from another: three
    letters or more, not common, not in ``exclude`` (the incident's own words:
    its type, its streets), nor the first words of a street's name.

    A street is known by its last name word and suffix ("run ct",
    ``pipeline/places.py``), which the incident's streets exclude; the words
    before them ("deer" of "Deer Run Ct", "valley" of "Valley Forge Rd") are
    the address too, whoever says it.
    """
    skip = COMMON_WORDS.union(exclude)
    words = _WORDS.findall(text.lower())
    if not _SUFFIX_WORDS.isdisjoint(words):
        for index, word in enumerate(words):
            if word in SUFFIXES and index > 1 and words[index - 1] not in NOT_A_NAME:
                for before in range(index - 2, max(index - 4, -1), -1):
                    if words[before] in COMMON_WORDS or words[before] in SUFFIXES:
                        break
                    words[before] = ""
    return frozenset(w for w in words if len(w) > 2 and w not in skip)


def fields_words(fields: Iterable[str]) -> frozenset[str]:
    """The ``personal_words`` of each field, together: a street's name is read
    inside its own field, never across two ("disabled vehicle" then "church
    rd" then "road hazard" keeps "disabled" and "church").

    >>> sorted(fields_words(["disabled vehicle", "church rd", "road hazard"]))
    ['church', 'disabled', 'hazard', 'road', 'vehicle']
    >>> sorted(personal_words("disabled vehicle church rd road hazard"))
    ['hazard', 'road']
    """
    return frozenset().union(*(personal_words(field) for field in fields))


@dataclass(frozen=True, slots=True)
class VoiceLink:
    """Two identities of one incident taken for one person, and why."""

    reporter: str
    same_as: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"reporter": self.reporter, "same_as": self.same_as,
                "reasons": list(self.reasons)}


def link_voice(voices: dict[str, list[Any]], reporter: str, channel: str,
               event_ms: int, words: frozenset[str], window_s: float,
               min_words: int) -> VoiceLink | None:
    """The identity of an incident's earlier reporter on another channel that
    is the same person as ``reporter``, if exactly one is.

    ``voices`` maps each reporter of the incident to ``[channel, last event ms,
    words, the identity it is linked to or ""]``; a voice already linked is
    not linked again (one handle, one number: never a chain of phones). A new
    phone or app account is one person with an earlier social handle (one
    person's two identities; a call and a text from one person share their
    number already) when they speak within ``window_s`` and share at least
    ``min_words`` words that no other voice of the incident used (what they
    noticed, not what everyone says). A new identity is linked at most once,
    to the voice sharing the most such words; a tie links nothing.

    The post comes first, then the call: a link is decided when the call
    comes, never when a post comes after calls. A post weighed against the
    calls before it would be linked to one that shares its words by chance
    before its author's own call comes: on generated streams (seed 1), 95 of
    the 101 wrong links were made so, and 12 of the 503 right ones.

    For the same reason, what a caller said who last spoke before the post's
    last words does not make those words common: that caller is not the
    post's author as far as links go (a link is a post, then a call), only a
    second witness of the same thing ("a red sedan" from a caller, then the
    post and its author's call). On generated streams (seed 1) these words
    kept 35 authors unlinked: thread F1 0.9746 -> 0.9757 (P 0.9961 ->
    0.9957); seeds 2 and 3 0.9728 -> 0.9741 and 0.9740 -> 0.9750. The cost:
    a caller who calls first and then posts, and another caller who later
    says the same thing, are linked wrongly.
    """
    if (not reporter or channel == SOCIAL or reporter in voices
            or len(words) < min_words):
        return None
    best: tuple[int, str, frozenset[str], float, str] | None = None
    tied = False
    for other, voice in voices.items():
        other_channel, last_ms, other_words = voice[:3]
        gap_s = abs(event_ms - last_ms) / 1000
        if other_channel != SOCIAL or gap_s > window_s:
            continue
        if len(voice) > 3 and voice[3]:
            continue  # already one person with another identity
        said_by_others = {w for name, said in voices.items() if name != other
                          and (said[0] == SOCIAL or said[1] >= last_ms)
                          for w in said[2]}
        shared = (words & set(other_words)) - said_by_others
        if len(shared) < min_words:
            continue
        if best is None or len(shared) > best[0]:
            best, tied = (len(shared), other, frozenset(shared), gap_s,
                          other_channel), False
        elif len(shared) == best[0]:
            tied = True
    if best is None or tied:
        return None
    _, other, shared, gap_s, other_channel = best
    return VoiceLink(reporter, other, (
        f"both say {' '.join(sorted(shared)[:4])}",
        f"{gap_s / 60:.1f} min apart",
        f"{other_channel} then {channel}, in one incident",
    ))


def link_late_caller(voices: dict[str, list[Any]], reporter: str, channel: str,
                     event_ms: int, words: frozenset[str], began_ms: int,
                     late_s: float | None, window_s: float) -> VoiceLink | None:
    """The one post of an incident whose author a late new caller is, when
    nothing the two said does it (``link_voice`` found none).

    The witnesses of an incident call in its first minutes; a new caller
    ``late_s`` or more after the incident began, within ``window_s`` after
    a post of it, who says nothing the post did not say (no word of a thing
    they noticed that its author would have said too; a word another voice
    of the incident said is not one: a call-taker's own words, "passer-by",
    "on scene", come in every caller's notes), is the author of that
    post when it is the incident's one post in that window no identity is
    linked to yet. Two such posts: nothing is linked. Only calls, as in
    ``link_voice``. None ``late_s``: never.

    On generated streams (seed 1) 372 of the 1,327 authors who call mention
    nothing they noticed, on any channel: no word links them. Among new
    callers of an incident holding one unlinked post before them, sharing no
    word with it and saying none it lacks, the post's author was 108 of 119
    callers from 10 min after the incident began on, 79 of 81 from 15 min
    (counted on merge_eval's incidents). In the matcher,
    ``late_s`` 360/480/600/720/900 s gave thread F1 0.9795/0.9797/0.9797/
    0.9788/0.9780 (P 0.9932/0.9942/0.9946/0.9947/0.9946) from 0.9758
    (P 0.9950); seeds 2 and 3 (600 s) 0.9740 -> 0.9780, 0.9750 -> 0.9779.
    That was with posts up to 30 min either side of the call; only those up
    to ``window_s`` before it count since (a post of another witness is then
    less often a rival): ``window_s`` 420/600/900 s gave seed 1 0.9791/
    0.9811/0.9808 from 0.9804 (P 0.9928/0.9937/0.9939 from 0.9938); seeds
    2 and 3 (600 s) 0.9787 -> 0.9795, 0.9784 -> 0.9793. Words other voices
    said too (not only the post's) allowed in the call: seed 1 0.9811 ->
    0.9817 (P 0.9937 -> 0.9935), seeds 2 and 3 0.9795 -> 0.9803, 0.9793 ->
    0.9800.
    """
    if (late_s is None or channel != CALL or not reporter or reporter in voices
            or event_ms - began_ms < late_s * 1000):
        return None
    posts = [(name, voice) for name, voice in voices.items()
             if voice[0] == SOCIAL and not (len(voice) > 3 and voice[3])
             and 0 <= event_ms - voice[1] <= window_s * 1000]
    if len(posts) != 1:
        return None
    other, voice = posts[0]
    said = {w for said in voices.values() for w in said[2]}
    if not words <= said:
        return None
    return VoiceLink(reporter, other, (
        f"a new caller {(event_ms - began_ms) / 60_000:.0f} min after the "
        "incident began, saying nothing the post did not",
        f"{abs(event_ms - voice[1]) / 60_000:.1f} min after the incident's one "
        "post without a linked caller",
        f"social then {channel}, in one incident",
    ))


@dataclass(frozen=True, slots=True)
class PostLinkParams:
    """How a call finds its caller's post in another incident (``RecentPosts``)."""

    #: The call comes this long after the post at most...
    window_s: float = 600.0
    #: ...shares this many words no other post in reach said...
    min_words: int = 2
    #: ...and its point is this many radii of the post's town from its centre
    #: (plus the point's uncertainty, counted up to ``max_accuracy_m``).
    reach: float = 1.25
    max_accuracy_m: float = 1000.0
    #: ...and one of the kinds the post's words name and the call's kind may
    #: be one event's (``KindTable.compatible``; a post naming none fits
    #: any). None: any kinds.
    kinds_fit: Callable[[str, str], bool] | None = None
    #: A call that gives no place (nor does its incident) is linked to a post
    #: of any town when they share this many words no other post said;
    #: None: never.
    placeless_min_words: int | None = None
    #: Whether a point is in a town by the calls recorded around it (source,
    #: town, lat, lon); None where they do not tell, and the circle decides.
    in_town: Callable[[str, str, float, float], bool | None] | None = None


class RecentPosts:
    """A region's posts of the last ``window_s``, by the words their authors
    said: where a call finds the post of its caller when the two reports
    ended in different incidents.

    A post names only its town, so it may join another incident of the town
    than its author's call does, or open one of its own; the call is then a
    new voice of an incident without the post, and ``link_voice`` cannot see
    it. A new caller is the author of a post in another incident when the
    post came first, within ``window_s`` before the call, from a town the
    call is in, and the two share at least
    ``min_words`` words that no other post in reach said, nor another
    reporter of the call's incident (a caller who last spoke before the post
    is a second witness, not a rival: as in ``link_voice``; seed 1 thread F1
    0.9757 -> 0.9759, seeds 2 and 3 0.9741 -> 0.9744, 0.9750 -> 0.9752).
    One such word is enough when the call says no word the post did not (an
    author repeats all they noticed; "someone was yelling" gives one word
    of its own, "yelling"): seed 1 thread F1 0.9797
    -> 0.9804 (P 0.9946 -> 0.9938), seeds 2 and 3 0.9780 -> 0.9787, 0.9779
    -> 0.9784. Only calls: a post, then a call, as one person reports twice.
    The post's kind and the call's must fit one event (``kinds_fit``): a
    witness who posts about a fire alarm does not call about a gas leak, and
    two strangers of two incidents share a detail ("a man in a green
    jacket") by chance. Every kind the post's words name counts ("helicopter
    crashed" reads as a service call and tells of a crash): seed 1 thread
    F1 0.9786 -> 0.9794 (P 0.9924 -> 0.9943), seeds 2 and 3 0.9778 ->
    0.9794, 0.9779 -> 0.9794; with the one kind ``KindTable.read`` gives,
    0.9791 on seed 1.

    A call that gives no place (no fix, no address), in an incident that
    has none either (a caller who cannot say where), cannot be held against
    a town; it is the author of a post of any town
    (``placeless_min_words``, None: never) when they share that many words
    that no other post of a fitting kind in the window said, and the post
    names a kind that fits the call's (a post naming none fits no such
    call). Content and time agree, the place cannot
    disagree, and the link says the call gave none: seed 1 thread F1 0.9799
    -> 0.9803 (P 0.9947 -> 0.9941), seeds 2 and 3 0.9793 -> 0.9803, 0.9795
    -> 0.9802.

    The call is in the post's town when the calls recorded around it named
    the town often enough for the town scorer to weigh it there (``in_town``:
    short of the outer ring of ``TOWN_PLACE``, pipeline/evidence.py); where
    no call was recorded, when the town's circle holds it (``reach`` radii).
    A circle holds much of its neighbours and misses the town's outskirts:
    by the circle alone seed 1/2/5 thread F1 was 0.9808/0.9809/0.9800 (P
    0.9946/0.9952/0.9953), by the calls 0.9813/0.9816/0.9807 (P 0.9956/
    0.9967/0.9963); incident F1 0.9530/0.9487/0.9519 -> 0.9534/0.9491/
    0.9524, as posts move to their author's call.

    ``posts`` maps a handle to ``[first event ms, last event ms, words, its
    town's circle and name, the incident it is in, linked, its kinds]``, oldest
    change first; ``by_word`` finds the handles that said a word. A handle is
    linked once. In memory, like the region's other indexes: ``restore``
    takes the posts back from the incidents' voices after a restart.
    """

    def __init__(self) -> None:
        self.posts: dict[str, list[Any]] = {}
        self.by_word: dict[str, set[str]] = {}
        #: The report ids of each handle's held posts (in no incident).
        self.held: dict[str, list[str]] = {}
        #: What each handle's posts said, by report id (``said_text``), for
        #: a post that moves to its author's call (``IncidentMatcher._move``).
        self.said: dict[str, dict[str, str]] = {}
        #: The handles whose posts joined more than one incident: their
        #: words are no one incident's.
        self.spread: set[str] = set()

    def hear(self, report: Report, incident: dict[str, Any], new: bool,
             words: frozenset[str], town: tuple[float, float, float] | None,
             link: VoiceLink | None, params: PostLinkParams, clock_ms: int,
             kinds: frozenset[str] = frozenset()) -> VoiceLink | None:
        """Take in a report with a reporter that ``incident`` (in place: its
        ``voices``) now holds, after ``link_voice`` gave ``link``; return the
        link of a new caller to a post of another incident, if any. A post's
        ``kinds`` are those its words may name (none: any)."""
        self.prune(clock_ms - params.window_s * 1000)
        voices: dict[str, list[Any]] = incident.get("voices", {})
        voice = voices.get(report.reporter)
        if link is not None:
            self._linked(link.same_as)
        elif new and report.channel == CALL and (
                incident["lat"] is not None  # it has one when the call has
                or (params.placeless_min_words is not None
                    and not report.address.strip())):
            point: tuple[float, float, float] | None = None
            if incident["lat"] is not None:
                point = (incident["lat"], incident["lon"], incident["acc_m"] or 0.0)
            if report.has_point:
                assert report.lat is not None and report.lon is not None
                point = (report.lat, report.lon, report.accuracy_m or 0.0)
            link = self._link(report, point, incident, words, params)
            if link is not None:
                self._linked(link.same_as)
                if voice is not None:
                    voice[3] = link.same_as
        if report.channel == SOCIAL and town is not None:
            self._add(report.reporter, report.event_ms, report.event_ms, words,
                      [*town, report.address], incident["id"],
                      bool(voice and len(voice) > 3 and voice[3]), *kinds)
            self._said(report)
            if voice is not None:
                said = kinds.union(voice[5] if len(voice) > 5 else ())
                voice[4:] = [[*town, report.address], sorted(said)]
        return link

    def hear_held(self, report: Report, words: frozenset[str],
                  town: tuple[float, float, float], params: PostLinkParams,
                  clock_ms: int, kinds: frozenset[str] = frozenset()) -> None:
        """Take in a post the relevance gate held, in no incident: a later
        call of its author is linked to it like to a post of another
        incident. Not restored after a restart (no incident holds it)."""
        self.prune(clock_ms - params.window_s * 1000)
        self._add(report.reporter, report.event_ms, report.event_ms, words,
                  [*town, report.address], "", False, *kinds)
        held = self.held.setdefault(report.reporter, [])
        if report.report_id not in held:
            held[:] = [*held, report.report_id][-MAX_HELD_IDS:]
        self._said(report)

    def _said(self, report: Report) -> None:
        said = self.said.setdefault(report.reporter, {})
        said[report.report_id] = said_text(report)
        while len(said) > MAX_HELD_IDS:
            del said[next(iter(said))]

    def restore(self, incident: dict[str, Any]) -> None:
        """Index the posts an incident's voices hold (after a restart)."""
        for handle, voice in incident.get("voices", {}).items():
            if voice[0] == SOCIAL and len(voice) > 4:
                # A voice stored before posts kept their kinds fits any.
                kinds = voice[5] if len(voice) > 5 else ()
                self._add(handle, voice[1], voice[1], voice[2], voice[4],
                          incident["id"], bool(voice[3]), *kinds)

    def prune(self, horizon_ms: float) -> None:
        """Forget the posts last seen before ``horizon_ms``."""
        while self.posts:
            handle, post = next(iter(self.posts.items()))
            if post[1] >= horizon_ms:
                break
            self._forget(handle)

    def _add(self, handle: str, first_ms: int, last_ms: int, words: Iterable[str],
             town: list[Any], incident_id: str, linked: bool, *kinds: str) -> None:
        post = self.posts.pop(handle, None)
        if post is None:
            post = [first_ms, last_ms, frozenset(words), town, incident_id, linked,
                    frozenset(kinds)]
        else:
            if post[4] and incident_id and post[4] != incident_id:
                self.spread.add(handle)
            post = [min(post[0], first_ms), max(post[1], last_ms),
                    post[2] | frozenset(words), town, incident_id,
                    post[5] or linked, post[6] | frozenset(kinds)]
        self.posts[handle] = post
        for word in post[2]:
            self.by_word.setdefault(word, set()).add(handle)

    def _linked(self, handle: str) -> None:
        post = self.posts.get(handle)
        if post is not None:
            post[5] = True

    def _forget(self, handle: str) -> None:
        self.spread.discard(handle)
        self.held.pop(handle, None)
        self.said.pop(handle, None)
        post = self.posts.pop(handle, None)
        for word in post[2] if post else ():
            said = self.by_word.get(word)
            if said is not None:
                said.discard(handle)
                if not said:
                    del self.by_word[word]

    def _link(self, report: Report, point: tuple[float, float, float] | None,
              incident: dict[str, Any], words: frozenset[str],
              params: PostLinkParams) -> VoiceLink | None:
        found: dict[str, set[str]] = {}
        for word in words:
            for handle in self.by_word.get(word, ()):
                found.setdefault(handle, set()).add(word)
        if not found:
            return None
        incident_id = incident["id"]
        here = [voice for name, voice in incident.get("voices", {}).items()
                if name != report.reporter]
        uncertainty = min(point[2], params.max_accuracy_m) if point else 0.0
        min_words = params.min_words
        if point is None:
            assert params.placeless_min_words is not None
            min_words = params.placeless_min_words
        fits: list[tuple[str, set[str], list[Any], float]] = []
        for handle, shared in found.items():
            post = self.posts[handle]
            first_ms, last_ms, _, town, post_incident, linked, kinds = post
            if (linked or post_incident == incident_id or handle == report.reporter
                    or not first_ms <= report.event_ms
                    <= last_ms + params.window_s * 1000):
                continue
            if params.kinds_fit is not None and (kinds or point is None) and not any(
                    params.kinds_fit(kind, report.kind) for kind in kinds):
                continue
            dist = (distance_m(point[0], point[1], town[0], town[1])
                    if point else -1.0)
            inside = (params.in_town(report.source, town[3], point[0], point[1])
                      if point and params.in_town else None)
            if inside is None:
                inside = dist <= params.reach * town[2] + uncertainty
            if inside:
                fits.append((handle, shared, post, dist))
        best: tuple[int, str, frozenset[str], list[Any], float] | None = None
        tied = False
        # How many of the fitting posts said each word: a word is another
        # post's too when more than this one said it.
        said_by = Counter(w for _, shared, _, _ in fits for w in shared)
        for handle, shared, post, dist in fits:
            others = {w for w in shared if said_by[w] > 1}
            said_here = {w for voice in here
                         if voice[0] == SOCIAL or voice[1] >= post[1]
                         for w in voice[2]}
            personal = frozenset(shared - others - said_here)
            if len(personal) < min_words and not (
                    point and personal and words <= post[2]):
                continue
            if best is None or len(personal) > best[0]:
                best, tied = (len(personal), handle, personal, post, dist), False
            elif len(personal) == best[0]:
                tied = True
        if best is None or tied:
            return None
        _, handle, personal, post, dist = best
        where = f"the call gives no place; the post was sent from {post[3][3]}"
        if point:
            by_calls = params.in_town and params.in_town(
                report.source, post[3][3], point[0], point[1])
            where = (f"the call {dist / 1000:.1f} km from the centre of "
                     f"{post[3][3]}, where the post was sent from"
                     + (", among the calls recorded there" if by_calls else ""))
        return VoiceLink(report.reporter, handle, (
            f"both say {' '.join(sorted(personal)[:4])}",
            f"{(report.event_ms - post[0]) / 60_000:.1f} min after the post",
            where,
            "social then 911, the post in another incident",
        ))
