"""Priority on the common scale (1 = immediate threat to life, 5 = no urgency),
with the reasons that produced it.

The kind gives a base priority (``models/incident_types.yaml``); words in the
incident's texts and the number of distinct reports move it
(``models/priority.yaml``). Each lexicon group counts once.

>>> from pipeline.kinds import KindTable
>>> kinds = KindTable.from_config({"kinds": {
...     "collision": {"match": ["ACCIDENT"], "priority": 2, "needs": "ems"},
...     "other": {"match": [], "priority": 4, "needs": "police"}}})
>>> scorer = PriorityScorer(kinds, {"lexicon": {"children": {"shift": -1,
...     "terms": ["child", "niño"]}}, "reporters": {"min_reports": 3, "shift": -1}})
>>> scorer.score("collision", ["car hit a NINO on Main St"], report_count=1)
(1, ('kind collision: base priority 2', "text mentions 'nino' (children): -1"))
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from pipeline.kinds import KindTable

HIGHEST, LOWEST = 1, 5


@lru_cache(maxsize=65_536)
def fold(text: str) -> str:
    """Lower case, accents removed, punctuation to spaces: what the lexicon sees."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.replace("'", "").replace("\u2019", "")  # can't -> cant
    return " " + re.sub(r"[^a-z0-9]+", " ", plain).strip() + " "


class PriorityScorer:
    """Scores incidents from the kind table and the priority rule file."""

    def __init__(self, kinds: KindTable, config: dict[str, Any]):
        self.kinds = kinds
        self.groups: list[tuple[str, int, list[tuple[str, str]]]] = []
        for group, spec in config.get("lexicon", {}).items():
            terms = [(f" {fold(t).strip()} ", t) for t in spec["terms"]]
            self.groups.append((group, int(spec["shift"]), terms))
        reporters = config.get("reporters", {})
        self.min_reports = int(reporters.get("min_reports", 0)) or None
        self.reporters_shift = int(reporters.get("shift", 0))

    def score(self, kind: str, texts: Iterable[str], report_count: int
              ) -> tuple[int, tuple[str, ...]]:
        """The priority of an incident and why, strongest reasons first."""
        base = self.kinds.get(kind).priority
        reasons = [f"kind {kind}: base priority {base}"]
        priority = base

        folded = " ".join(fold(t) for t in texts)
        for group, shift, terms in self.groups:
            hit = next((shown for padded, shown in terms if padded in folded), None)
            if hit is not None:
                priority += shift
                reasons.append(f"text mentions '{fold(hit).strip()}' ({group}): "
                               f"{shift:+d}")

        if self.min_reports and report_count >= self.min_reports:
            priority += self.reporters_shift
            reasons.append(f"{report_count} reports: {self.reporters_shift:+d}")

        clamped = min(LOWEST, max(HIGHEST, priority))
        if clamped != priority:
            reasons.append(f"clamped to the scale {HIGHEST}..{LOWEST}")
        return clamped, tuple(reasons)
