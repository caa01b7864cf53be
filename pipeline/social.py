"""Does a social post report a real emergency? The relevance gate of the pipeline.

A post is judged where it becomes a report (the normalize stage): the
relevance classifier's verdict, its probability and reasons, and the post's
information type go into ``details["relevance"]``; a post judged not an
emergency is also flagged ``not_an_emergency``. Such a post is still a
normalized report (it is counted, kept, and visible), but dedupe does not let
it open an incident, and lets it join one only when it fits it beyond doubt
(``IncidentMatcher.hold``); otherwise it goes to ``reports.irrelevant``
(``docs/schema.md``). Its surge counts are not taken either.

The classifiers (``pipeline/relevance.py``) come pre-trained from
``models/relevance.pkl.gz`` (``benchmarks/train_relevance.py`` writes it from
the shared labelled posts); ``models/relevance.yaml`` says whether the gate is
on and may set the cut in place of the classifier's own F1-best one.

>>> triage = PostTriage.untrained()
>>> triage.judge("house fire on main st, people trapped")["emergency"]
True
"""

from __future__ import annotations

import copy
import dataclasses
import gzip
import pickle
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pipeline.kinds import KindTable
from pipeline.places import street_names
from pipeline.relevance import InfoTypeClassifier, RelevanceClassifier
from pipeline.schema import Report

NOT_AN_EMERGENCY = "not_an_emergency"


@dataclass(frozen=True, slots=True)
class RelevanceRule:
    """``models/relevance.yaml``: the gate and where its classifiers are."""

    #: Off: posts are judged nowhere and all of them may open incidents.
    enabled: bool = True
    #: The pre-trained classifiers, next to the rule file.
    snapshot: str = "relevance.pkl.gz"
    #: A post is an emergency from this probability on; None: the classifier's
    #: own threshold (the F1-best cut over the posts it was trained on).
    threshold: float | None = None
    #: A post that names a call type of priority 1-3 in words of its own
    #: ("cardiac emergency", not "ems" in "systems") and a street is kept
    #: whatever the classifier says: it reports something dispatchable at a
    #: place, and the classifiers learnt disaster posts, not 911 call types.
    keep_typed_at_street: bool = True

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RelevanceRule:
        unknown = set(config) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown relevance settings: {sorted(unknown)}")
        rule = cls(**config)
        if not isinstance(rule.enabled, bool):
            raise ValueError("enabled must be true or false")
        if not isinstance(rule.keep_typed_at_street, bool):
            raise ValueError("keep_typed_at_street must be true or false")
        if not isinstance(rule.snapshot, str) or not rule.snapshot:
            raise ValueError("snapshot must name a file")
        if rule.threshold is not None and (
                isinstance(rule.threshold, bool)
                or not isinstance(rule.threshold, int | float)
                or not 0.0 <= rule.threshold <= 1.0):
            raise ValueError("threshold must be a probability, or null")
        return rule


class PostTriage:
    """The relevance and information-type classifiers, and the verdict they give."""

    def __init__(self, relevance: RelevanceClassifier, info: InfoTypeClassifier,
                 threshold: float | None = None, kinds: KindTable | None = None):
        if threshold is not None:
            # A shallow copy: the learnt state is shared, the cut is this one's.
            relevance = copy.copy(relevance)
            relevance.threshold = threshold
        self.relevance = relevance
        self.info = info
        #: The call types a kept post must spell out (``keep_typed_at_street``);
        #: None: every post is the classifier's to judge.
        self.kinds = kinds

    @classmethod
    def untrained(cls) -> PostTriage:
        """Classifiers that have learnt nothing: every post counts as an
        emergency (probability 0.5 at the default cut of 0.5)."""
        return cls(RelevanceClassifier(), InfoTypeClassifier())

    @classmethod
    def load(cls, path: Path, threshold: float | None = None,
             kinds: KindTable | None = None) -> PostTriage:
        """The classifiers ``save`` wrote (a trusted artefact of this project:
        they are pickled, so never load one from outside the deployment)."""
        with gzip.open(path, "rb") as handle:
            state = pickle.load(handle)
        return cls(RelevanceClassifier.restore(state["relevance"]),
                   InfoTypeClassifier.restore(state["info_type"]), threshold,
                   kinds)

    def save(self, path: Path) -> None:
        state = {"relevance": self.relevance.snapshot(),
                 "info_type": self.info.snapshot()}
        with gzip.open(path, "wb", compresslevel=9) as handle:
            pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)

    def judge(self, text: str) -> dict[str, Any]:
        """The verdict on a post's text, as a report's ``details`` carry it."""
        verdict = self.relevance.predict_one(text)
        info = self.info.predict_one(text)
        return {"emergency": verdict.is_emergency,
                "p": round(verdict.probability, 3),
                "info_type": info.label,
                "reasons": [*verdict.reasons, *info.reasons]}

    def triaged(self, report: Report) -> Report:
        """A social report with its verdict; other channels pass untouched."""
        if report.channel != "social":
            return report
        verdict = self.judge(report.text)
        if not verdict["emergency"] and self.kinds is not None:
            named = self.kinds.named_call_type(report.text)
            if named is not None and street_names(report.text):
                verdict["emergency"] = True
                verdict["reasons"].insert(0, f"kept: names a {named} call and "
                                             "a street")
        flags = report.flags if verdict["emergency"] else (
            *report.flags, NOT_AN_EMERGENCY)
        return dataclasses.replace(
            report, flags=flags, details={**report.details, "relevance": verdict})
