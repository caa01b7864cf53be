"""What a report and an incident agree on, as the matcher weighs it.

The weights of ``pipeline/dedupe.py``'s scorers, each fitted on generated
streams (``make eval-merge``, seed 1) with its figures beside it, and the
readings of a report they weigh: the streets it names, its town, its call
type, the relevance gate's doubt about a post. Nothing here keeps state.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

from pipeline.kinds import OTHER
from pipeline.places import street_names
from pipeline.schema import Report
from pipeline.thread import SOCIAL, personal_words

#: How a report that names only its town and an incident there agree, as
#: the weights of a conditional logit (each post choosing among the town's
#: incidents and a new one, whose weight is 0): the incident's distance from
#: the town's centre in radii (up to each bound), the report's time after the
#: incident's first report (a witness posts after calling, or not at all,
#: within half an hour), kinds, a call type or streets both give, the
#: incident's priority and reports (a fire draws posts, a lift assist does
#: not), whether it has posts already, the reporter's own earlier report, and
#: (the same for every incident) the log-odds of the relevance gate's
#: probability that the post reports an emergency at all. Refitted on seed 1
#: once posts about no emergency were in the stream (4,500 posts that pass
#: the gate against 12,100 incidents in reach; 880 of those posts about none,
#: whose right choice is a new incident): negative log-likelihood 2,881 with
#: the weights before, 2,081 refitted, 1,903 with the gate's log-odds (0.77).
#: Incident F1 seed 1: 0.9004 before; refitted 0.9007, with the log-odds
#: 0.9019 (town_min_p 0.3; held posts keep ``HELD_TOWN_WEIGHTS``: with these
#: weights 0.8984, with the log-odds for them too 0.8954). Refitted once
#: posts' kinds were read from their words (``KindTable.read``; 3,134 posts
#: that pass the gate, 520 whose right choice is new): NLL 3,804 -> 1,352;
#: incident F1 seeds 1/2/3 0.9180/0.9173/0.9196 -> 0.9187/0.9180/0.9197
#: (town_min_p 0.3/0.4/0.5/0.6, held_min_p 0.7: 0.9173/0.9172/0.9164/0.9150).
#: Two incidents of one kind in one town fit a post alike (a generated post
#: gives its town, kind and time, 2-30 min after the event, nothing of the
#: incident's own); what breaks such ties: words the post shares with the
#: incident's texts beyond kinds and its own type and streets
#: (``shared_words``), and the minutes since its last report
#: (``quiet_minute``: a witness posts while callers still call). Fitted on
#: seed 1 with the weights above as an offset (3,137 posts): NLL 1,370 ->
#: 1,350; of 83 exact ties holding the right incident, shared words pick it
#: 61 % of the time, the latest report 61 % (chance 49 %). Incident F1 seeds
#: 1/2/3 0.9231/0.9222/0.9232 -> 0.9239/0.9228/0.9235.
TOWN_PLACE = ((0.5, 1.25), (0.75, 0.8), (1.0, 0.6), (1.25, -0.15), (1.5, -2.5))
#: ``same_kind`` counts a post whose words name the incident's kind among
#: others ("helicopter crashed" is read as a service call and tells of a
#: crash), as the author link reads them (``IncidentMatcher._post_kinds``);
#: a held post joins on it too. Seeds 1/2/3 incident F1 0.9511/0.9469/0.9484
#: -> 0.9521/0.9475/0.9491 (held posts: +0.0002 on seed 1 of it).
#: Where the gazetteer has cells (``pipeline/places.py``: ``TownCells``), the
#: share of the recorded calls around an incident that named the post's
#: town picks its ring of ``TOWN_PLACE`` instead of its distance from the
#: circle's centre: above 0.5 the inner ring, above 0.2 the ring up to one
#: radius, above 0.05 the next; less, the outer ring (or, beyond the reach,
#: none). A circle holds a township's calls and many of its neighbours';
#: generated posts name the township their incident lies in, as a witness
#: would. Seed 1 (cells of 0.0035 degrees, the scenario's days left out of
#: them): incident F1 0.9463 -> 0.9512, seed 2 0.9422 -> 0.9469. Each ring
#: kept its distance where that was nearer (the cells capping it): 0.9508;
#: cells of 0.0025/0.005/0.0075 degrees (that rule): 0.9502/0.9503/0.9499.
TOWN_SHARE_RING = ((0.5, 0), (0.2, 2), (0.05, 3))
TOWN_WEIGHTS = {
    "first_minutes": -0.4, "later": 0.35, "same_kind": 1.0, "compatible": -0.4,
    "report_other": -2.2, "incident_other": 3.8, "other_kind": -2.3,
    "said_type": 2.9, "not_said": -2.95, "one_street": -0.2, "two_streets": 3.35,
    "serious": 2.65, "priority_3": 0.45, "minor": -3.15, "posted": -0.1,
    "not_posted": 0.05, "same_reporter": 1.55, "relevance": 0.8,
    "shared_words": 0.7, "quiet_minute": -0.01,
}
#: By the incident's report count: 1, 2, 3, 4 or more.
TOWN_COUNT = (0.6, -0.1, -0.1, -0.45)
#: The same for a post the gate held (``hold``), as first fitted jointly
#: (seed 1, 5,100 posts against 14,000 incidents in reach, before posts about
#: no emergency were in the stream): a held post joins only with
#: ``held_min_p`` of the evidence and words that name the incident, which
#: these weights were tuned with; the gate's log-odds, below its cut for
#: every held post, are left out.
HELD_TOWN_PLACE = ((0.5, 1.25), (0.75, 0.95), (1.0, 0.6), (1.25, -0.15),
                   (1.5, -1.5))
HELD_TOWN_WEIGHTS = {
    "first_minutes": 0.3, "later": 0.85, "same_kind": 0.85, "compatible": -0.65,
    "report_other": 1.1, "incident_other": 2.05, "other_kind": -2.25,
    "said_type": 2.5, "not_said": -1.35, "one_street": 0.9, "two_streets": 2.65,
    "serious": 2.1, "priority_3": 0.75, "minor": -1.7, "posted": 0.5,
    "not_posted": 0.65, "same_reporter": 0.9, "relevance": 0.0,
    "shared_words": 0.0, "quiet_minute": 0.0,
}
HELD_TOWN_COUNT = (-0.3, 0.35, 0.6, 0.55)
#: A probability of the relevance gate counts within this much of 0 and 1.
RELEVANCE_CLIP = 0.01
#: How two wireless fixes (or a fix and an incident's point) and their
#: reports agree, as log-likelihood ratios (same incident against another one
#: in reach), measured on generated streams (seed 1, 25,600 true and 36,600
#: other pairs of a located report and an incident in reach): the distance in
#: units of the fixes' spread ``z`` gives ``centre - k z^2`` (a normal tail),
#: never below ``tail`` (a share of fixes state their uncertainty too small,
#: the FCC's 20 % beyond the 80th percentile); the gap in minutes gives
#: ``soon - per_minute * gap``, never below ``late``; kinds and the reporter;
#: the streets both name (``street_agreement``), fitted as a logit with the
#: rest (spread term in) for an offset: seed 1, 27,800 pairs that pass the
#: time window and the kinds, 4,500 of them naming streets on both sides; one
#: by one the four read +1.8, -5.0, -2.3, -3.9. Incident F1 seeds 1/2/3
#: 0.8762/0.8773/0.8831 -> 0.8786/0.8792/0.8852 when first fitted (+1.45,
#: -4.25, -2.55, -2.9; ``one_street_of`` 0 gave 0.8778/0.8790/0.8847);
#: refitted after the spread term and the call-type street fix, 0.8816/0.8826/
#: 0.8867 -> 0.8819/0.8826/0.8871. Generated callers of one incident name its
#: address alike; real ones vary more.
#: The spread itself, ``per_log_spread`` times ``ln(spread / SPREAD_REF_M)``:
#: a fix spreads around its incident's point more thinly the wider the spread
#: (a normal's density falls with its square), other incidents are as dense
#: whatever it is, so a loose fix near an incident fits it less than a sharp
#: one as many spreads away (an 840 m fix that opens an incident took a 50 m
#: one of another 700 m off). A logit of the distance terms with the rest for
#: an offset gives -0.68 (seed 1); seed 1 incident F1 0.8795 before, -0.68/-1.0/-1.5/
#: -2.0 gave 0.8808/0.8815/0.8799/0.8691 (P 0.9372/0.9396/0.9414/0.9422).
FIX_EVIDENCE = {
    "centre": 2.9, "k": 1.25, "tail": -3.5, "soon": 1.2, "per_minute": 0.13,
    "late": -0.7, "same_kind": 1.0, "compatible": -1.0, "kind_free": 0.0,
    "same_reporter": 3.6, "same_streets": 1.6, "two_corners": -5.55,
    "one_street_of": -3.65, "other_streets": -3.05, "per_log_spread": -1.0,
}
#: How a report whose place cannot be set against an incident's (no place at
#: all, or a point or streets where the incident's reports gave only the
#: other) and an incident of the region that it names the call type of agree,
#: as the weights of a conditional logit (the report choosing among those
#: incidents and a new one, whose weight is 0), fitted jointly on generated
#: streams (seed 1: 4,100 reports without a place match against 7,200
#: incidents of their call type, 2,200 of them their own): the time since the
#: incident's first report, up to each bound (the callers of one event call
#: within minutes of it); its priority (a serious event draws many callers, a
#: lift assist one or two); whether it has a point (an incident opened with no
#: place at all is often a stray itself); no report for ``TYPED_QUIET_S``;
#: streets the report names (that the incident's reports never named); and
#: streets the incident's reports named (a caller who can say nothing of where
#: calls more often about an event whose other callers could not either).
#: Refitted on seed 1 (3,460 choice sets of calls, texts and tips against
#: incidents within the window, 1,840 of them holding their own incident):
#: negative log-likelihood 2,002 with the weights before, 1,984 refitted, 1,891
#: with ``incident_named``; incident F1 seeds 1/2/3 0.9060/0.9065/0.9083 ->
#: 0.9068 (typed_min_p 0.5) -> 0.9082/0.9088/0.9097 (typed_min_p 0.4).
TYPED_SINCE = ((60, -0.25), (180, -1.05), (300, -1.7), (600, -3.2), (900, -4.4))
#: When one of them gives a point and the other names streets, how far the
#: point is from the nearest address point of the book that names one of
#: those streets (``AddressBook.street_distance_m``), up to each bound: a
#: caller who names "Vaughn Rd & S 5th Ave", a corner the book never placed,
#: is of an event 80 m from an address on Vaughn Rd, not of one 6 km from
#: every address on both. On seed 1's reports without a point that name
#: streets (the book without the stream's days), their own incident lies
#: within 150/400/1,000 m of such a point for 65/86/90 % of them, another of
#: their kind for 2/4/7 %: weights near the log ratios of the two. Incident
#: F1 seeds 1/2/3 0.9522/0.9477/0.9496 -> 0.9528/0.9487/0.9502; weights
#: half again or a half lower gave the same to 0.0001; the same distance as
#: a place match (within 60/150 m) instead: 0.9526/0.9486/0.9497. A point
#: near one street of a corner and over a kilometre from the other tells
#: nothing (a trial: a call at one end of a 28 km pike joined a crash at the
#: other); counted as far instead, 0.9525/0.9485/0.9500 (the book may hold
#: only a namesake of the other street); as nothing, 0.9529/0.9487/0.9502.
STREET_NEAR = ((150.0, 3.0), (400.0, 2.0), (1000.0, 0.0), (math.inf, -2.5))
#: ``kind_only``: a report without a call type and an incident none of whose
#: reports gave one are weighed by the kind both give (``untyped_kind``),
#: which tells less (24 kinds against 105 types in the log). On seed 1 with
#: the call types taken away (``untyped`` in benchmarks/merge_eval.py: the
#: kind kept), untyped incident F1 0.8946 without; -1.5/-1/-0.5/0/+0.5 gave
#: 0.9113/0.9155/0.9149/0.9136/0.9128 (P 0.9476/0.9423/0.9372/0.9330/0.9302),
#: the typed stream 0.9239/0.9238/0.9238/0.9238/0.9239 (it seldom applies
#: there: a call gives its type); seeds 2/3 -0.5/-1/-1.5 gave 0.9125/0.9124/
#: 0.9102 and 0.9159/0.9166/0.9152 (0.8932/0.8994 without). Posts left out
#: (a town-less post's kind, read from its words, joined a crash): seeds
#: 1/2/3 0.9157/0.9123/0.9168, typed 0.9239/0.9231/0.9235.
#: ``authors_post``: a call whose caller's words (two, or all of them) are
#: those of a post the incident holds, an unlinked post of the
#: ``post_link_window_s`` before the call: a person who posts and then calls
#: and cannot say where is where their post is (``_author_posts`` in
#: pipeline/dedupe.py). Seeds 1/2/5/6 incident F1 0.9578/0.9578/0.9636/
#: 0.9619 without; 2/4/8 gave 0.9580/0.9582/0.9582, 0.9582/0.9584/0.9584,
#: 0.9639/0.9641/0.9641, 0.9623/0.9623/0.9622; threads 0.9821/0.9815/
#: 0.9796/0.9785 -> 0.9823/0.9818/0.9798/0.9787 at 4. Such an incident is
#: weighed however long ago it began (a post comes 2-30 min after its
#: event, its author's call minutes later): 0.9590/0.9593/0.9648/0.9631,
#: threads 0.9826/0.9822/0.9801/0.9791.
TYPED_WEIGHTS = {
    "serious": 2.4, "priority_3": 1.8, "minor": 0.0, "located": 0.55,
    "quiet": -0.15, "report_named": -1.75, "incident_named": -1.25,
    "kind_only": -1.0, "located_alike": -0.6, "authors_post": 4.0,
}
TYPED_QUIET_S = 300.0
#: ``located_alike``: a located report weighs only the incidents opened
#: without a point (one with a point is weighed by its fix), and such an
#: incident is often a caller who could not say where of an event others
#: located; the more incidents with a point of the report's call type (or
#: kind, ``untyped_kind``) first reported within ``typed_window_s``, up to
#: ``TYPED_ALIKE_MAX``, the likelier, so each weighs for a new incident. Seed
#: 1, located reports joining such an incident by type: with 0/1/2/3+ of
#: them open, 293/81/32/39 right against 26/17/16/51 wrong. Incident F1
#: seed 1 (typed / untyped) 0.9239/0.9157 without; -0.3/-0.45/-0.6/-0.8/-1.0
#: gave 0.9243/0.9163, 0.9246/0.9158, 0.9246/0.9159, 0.9244/0.9147, 0.9242/
#: 0.9147; at -0.6, up to 2/5: 0.9245/0.9159 each. Seeds 2/3 0.9231/0.9123
#: and 0.9235/0.9168 -> 0.9233/0.9132 and 0.9250/0.9176.
TYPED_ALIKE_MAX = 3
#: The spread at which ``per_log_spread`` weighs nothing.
SPREAD_REF_M = 100.0
#: Two incidents whose evidence differs by less than this fit alike.
TOWN_TIE = 1e-6
#: The first minutes after an incident's first report, where posts are rare.
TOWN_EARLY_S = 120.0


class Where(NamedTuple):
    """What a report's words say of its place, read once per report."""

    streets: frozenset[str]
    #: The circle of the town it names (``models/places.yaml``), if known.
    circle: tuple[float, float, float] | None
    #: That town's name reduced to its core ("lower merion").
    town: str
    #: Its call type in lower case ("cardiac emergency"), if it has one.
    type: str = ""
    #: Its type and text in lower case, where another report's type is looked
    #: for.
    said: str = ""


def streets_of(report: Report) -> frozenset[str]:
    """The streets a report names, field by field (a type "ROAD OBSTRUCTION"
    before a text "road obstruction, ..." is no "obstruction rd"), without the
    ones its call type's words make ("HAZARDOUS ROAD CONDITIONS": no street).

    >>> report = Report(report_id="r", source="t", channel="911", event_ms=0,
    ...                 received_ms=0, kind="road_hazard",
    ...                 type_text="HAZARDOUS ROAD CONDITIONS",
    ...                 text="hazardous road conditions at Haws Ave & Main St")
    >>> sorted(streets_of(report))
    ['haws ave', 'main st']
    """
    named = street_names(report.address) | street_names(report.text)
    return named - street_names(report.type_text)


def street_agreement(streets: frozenset[str], other: frozenset[str]
                      ) -> tuple[str, str]:
    """How the streets a located report names agree with an incident's: a
    ``FIX_EVIDENCE`` key ("" when one side names none) and the reason.

    >>> street_agreement(frozenset({"haws ave", "main st"}),
    ...                   frozenset({"main st", "haws ave"}))
    ('same_streets', 'both name haws ave and main st')
    >>> street_agreement(frozenset({"haws ave", "main st"}),
    ...                   frozenset({"haws ave", "elm st"}))[0]
    'two_corners'
    >>> street_agreement(frozenset({"haws ave"}), frozenset({"haws ave", "elm st"}))
    ('one_street_of', 'names haws ave, the incident elm st and haws ave')
    >>> street_agreement(frozenset({"oak rd"}), frozenset({"elm st"}))[0]
    'other_streets'
    >>> street_agreement(frozenset(), frozenset({"elm st"}))
    ('', '')
    """
    if not streets or not other:
        return "", ""
    shared = streets & other
    if streets == other or len(shared) > 1:
        return "same_streets", f"both name {' and '.join(sorted(shared)[:2])}"
    said = f"names {' and '.join(sorted(streets)[:2])}, the incident " \
        f"{' and '.join(sorted(other)[:2])}"
    if not shared:
        return "other_streets", said
    # One street in common: two corners of it when both name a corner, one
    # place seen more or less precisely when one names the street alone.
    if len(streets) > 1 and len(other) > 1:
        return "two_corners", said
    return "one_street_of", said


def said_type(where: Where, incident: dict[str, Any]) -> str:
    """The call type a report and an incident share: one of the incident's
    types in the report's words, or the report's type in the incident's."""
    for said in incident.get("types", ()):
        if said in where.said:
            return str(said)
    if where.type and any(where.type in text.lower() for text in incident["texts"]):
        return where.type
    return ""


def untyped_kind(report: Report, where: Where, incident: dict[str, Any]) -> str:
    """The kind (not ``other``) a report without a call type shares with an
    incident none of whose reports gave one, or "": with a type on either
    side the type decides (``said_type``), and a kind shared by two typed
    reports is weaker evidence than the types they give. A post's kind is
    read from its words and often wrong (``TOWN_WEIGHTS``): a post with no
    place it can be set against joins nothing by it.

    >>> plain = Where(frozenset(), None, "")
    >>> report = Report("r", "s", "911", 0, 0, "collision", "")
    >>> untyped_kind(report, plain, {"kinds": ["collision"], "types": []})
    'collision'
    >>> untyped_kind(report, plain, {"kinds": ["collision"],
    ...                               "types": ["vehicle accident"]})
    ''
    >>> untyped_kind(report, plain._replace(type="vehicle accident"),
    ...              {"kinds": ["collision"], "types": []})
    ''
    >>> untyped_kind(Report("p", "s", "social", 0, 0, "collision", ""), plain,
    ...              {"kinds": ["collision"], "types": []})
    ''
    """
    if (where.type or incident.get("types") or report.kind == OTHER
            or report.channel == SOCIAL):
        return ""
    return report.kind if report.kind in incident["kinds"] else ""


def apart_places(report: Report, where: Where, incident: dict[str, Any]) -> bool:
    """A report and an incident whose places cannot be compared: what one
    gives (a point, streets, a town) the other lacks. A call without a fix
    names streets, a located one often none, and no geocoder is at hand; two
    points, two lists of streets, or a point and a town, are compared
    elsewhere."""
    point = incident["lat"] is not None
    if (where.streets and incident.get("streets")) or (report.has_point and point):
        return False
    if where.circle is not None and (point or incident.get("place")):
        return False
    return not (report.has_point and incident.get("place"))


def names_it(report: Report, where: Where, incident: dict[str, Any]) -> bool:
    """Whether a report's words name a kind or the incident's call type, or it
    comes from one of the incident's reporters: a post that does neither
    joins nothing by its town alone (seed 1: 58 such joins right against 180
    wrong, 152 of them posts about no emergency)."""
    return (report.kind != OTHER or bool(said_type(where, incident))
            or (bool(report.reporter)
                and report.reporter in incident.get("reporters", ())))


def relevance_logit(report: Report) -> float:
    """The log-odds of the relevance gate's probability that a post reports
    an emergency (``pipeline/social.py``), within ``RELEVANCE_CLIP``; 0 for a
    report the gate did not judge.

    >>> relevance_logit(Report("r", "s", "social", 0, 0, "other", "",
    ...                         details={"relevance": {"p": 0.5}}))
    0.0
    """
    verdict = report.details.get("relevance")
    if not isinstance(verdict, dict) or "p" not in verdict:
        return 0.0
    p = min(max(float(verdict["p"]), RELEVANCE_CLIP), 1 - RELEVANCE_CLIP)
    return math.log(p / (1 - p))


@functools.lru_cache(maxsize=4096)
def words_of(text: str) -> frozenset[str]:
    """The words of a text that tell what someone noticed
    (``pipeline/thread.py``'s ``personal_words``), cached: the town scorer
    reads every candidate incident's texts for each post."""
    return personal_words(text)
