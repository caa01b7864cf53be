"""Fragments of true incidents (benchmarks/merge_fragments.py)."""

from __future__ import annotations

from benchmarks.merge_fragments import fragments, missed_pairs, oracle_merge
from benchmarks.scenario import pairwise_scores
from pipeline.schema import LOCATION_KNOWN, LOCATION_UNKNOWN, Report


def report(report_id: str, channel: str = "911", fix: bool = True) -> Report:
    return Report(report_id=report_id, source="t", channel=channel, event_ms=0,
                  received_ms=0, kind="collision", type_text="ACCIDENT",
                  lat=40.0 if fix else None,
                  lon=-75.0 if fix else None,
                  location=LOCATION_KNOWN if fix else LOCATION_UNKNOWN)


# True incident A (a, b, c, d) split three ways: the pure {a, b} and {c} (opened
# without a fix) and the impure {d, x} holding x of incident X.
REPORTS = [report("a"), report("b"), report("c", fix=False), report("d"), report("x")]
TRUTH = {"a": "A", "b": "A", "c": "A", "d": "A", "x": "X"}
PREDICTED = {"a": "1", "b": "1", "c": "2", "d": "3", "x": "3"}


def test_missed_pairs_are_charged_to_the_later_report_by_its_sort() -> None:
    assert missed_pairs(REPORTS, PREDICTED, TRUTH) == {
        "911/nofix/noaddr": 2, "911/fix/noaddr": 3}


def test_fragments_count_the_split_and_the_pure_ones() -> None:
    assert fragments(PREDICTED, TRUTH) == {"split_into": {1: 1, 3: 1}, "pure": 2,
                                           "impure": 1}


def test_the_oracle_merges_only_pure_fragments_it_is_asked_to() -> None:
    merged = oracle_merge(REPORTS, PREDICTED, TRUTH)
    assert merged == {"a": "1", "b": "1", "c": "1", "d": "3", "x": "3"}
    located_only = oracle_merge(REPORTS, PREDICTED, TRUTH, lambda r: r.has_point)
    assert located_only == PREDICTED
    assert pairwise_scores(merged, TRUTH).recall > pairwise_scores(PREDICTED,
                                                                   TRUTH).recall
