"""Canonical incident kinds: from a source's type text to one shared vocabulary.

>>> table = KindTable.from_config({"kinds": {
...     "fire": {"match": ["FIRE"], "priority": 2, "needs": "fire"},
...     "fire_alarm": {"match": ["FIRE ALARM"], "priority": 3, "needs": "fire",
...                    "compatible_with": ["fire"]},
...     "other": {"match": [], "priority": 4, "needs": "police"}}})
>>> table.classify("Fire alarm, 2nd floor")
'fire_alarm'
>>> table.classify("lost cat")
'other'
>>> table.compatible("fire", "fire_alarm")
True
>>> table.named_call_type("smoke, then a fire alarm on Elm St")
'fire_alarm'
>>> table.named_call_type("campfire stories", max_priority=2) is None
True

A free text (a post: no type field) is read by ``read``: the kinds' terms
and their everyday ``words`` ("crashed", "wreck"), each only at the start of
a word ("ems" is no kind in "systems").

>>> table = KindTable.from_config({"kinds": {
...     "collision": {"match": ["VEHICLE ACCIDENT"], "priority": 2, "needs": "ems",
...                   "words": ["accident", "wreck"]},
...     "medical": {"match": ["EMS"], "priority": 3, "needs": "ems"},
...     "other": {"match": [], "priority": 4, "needs": "police"}}})
>>> table.read("Greer man dies in wreck"), table.read("two cars wrecked")
('collision', 'collision')
>>> table.read("I accidentally deleted it")
'other'
>>> table.classify("our systems are down"), table.read("our systems are down")
('medical', 'other')
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

OTHER = "other"


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    match: tuple[str, ...]
    priority: int
    needs: str
    compatible_with: frozenset[str]
    #: Everyday words that name the kind in a free text (``KindTable.read``).
    words: tuple[str, ...] = ()


class KindTable:
    """The kinds of ``models/incident_types.yaml`` and how to pick one."""

    def __init__(self, kinds: dict[str, Kind]):
        if OTHER not in kinds:
            raise ValueError("the kind table needs an 'other' kind")
        self.kinds = kinds
        # Longest substring first, so the most specific kind wins a search.
        self._terms = sorted(
            ((term, order, kind.name)
             for order, kind in enumerate(kinds.values()) for term in kind.match),
            key=lambda item: (-len(item[0]), item[1]),
        )
        self._cache: dict[str, str] = {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KindTable:
        kinds = {}
        for name, spec in config["kinds"].items():
            kinds[name] = Kind(
                name=name,
                match=tuple(str(t).upper() for t in spec.get("match", [])),
                priority=int(spec["priority"]),
                needs=str(spec["needs"]),
                compatible_with=frozenset(spec.get("compatible_with", [])),
                words=tuple(str(t).upper() for t in spec.get("words", [])),
            )
        return cls(kinds)

    def classify(self, type_text: str) -> str:
        """The kind whose longest match term occurs in ``type_text``."""
        key = type_text.upper()
        found = self._cache.get(key)
        if found is None:
            found = next((name for term, _, name in self._terms if term in key), OTHER)
            if len(self._cache) < 10_000:
                self._cache[key] = found
        return found

    def named_call_type(self, text: str, max_priority: int = 3) -> str | None:
        """The kind whose call type ``text`` names in words of its own, when
        that kind's priority is ``max_priority`` or more urgent; else None.

        A term counts only at the start of a word ("hemorrhag" in
        "hemorrhaging", not "ems" in "systems"); the longest term found wins,
        as in ``classify``.
        """
        found = [match.group(0) for match in self._term_at_word.finditer(
            text.upper())]
        if not found:
            return None
        name = self._kind_of_term[max(found, key=len)]
        return name if self.kinds[name].priority <= max_priority else None

    def read(self, text: str) -> str:
        """The kind a free text names: the longest of the kinds' terms (at
        the start of a word) and ``words`` (whole words, with an -s, -es,
        -d, -ed or -ing) found in it, table order breaking a tie; ``other``
        when none is."""
        upper = text.upper()
        found = [match.group(1) for pattern in self._read_patterns
                 for match in pattern.finditer(upper)]
        return self._kind_of_word[max(found, key=len)] if found else OTHER

    def read_all(self, text: str) -> frozenset[str]:
        """Every kind a term or word of ``text`` names (``read`` keeps the
        longest one's): what a text may be about when its words disagree
        ("helicopter crashed")."""
        upper = text.upper()
        return frozenset(self._kind_of_word[match.group(1)]
                         for pattern in self._read_patterns
                         for match in pattern.finditer(upper))

    @functools.cached_property
    def _kind_of_word(self) -> dict[str, str]:
        kinds: dict[str, str] = {}
        for term, _, name in sorted(
                ((term, order, kind.name)
                 for order, kind in enumerate(self.kinds.values())
                 for term in (*kind.match, *kind.words)),
                key=lambda item: (-len(item[0]), item[1])):
            kinds.setdefault(term, name)
        return kinds

    @functools.cached_property
    def _read_patterns(self) -> tuple[re.Pattern[str], ...]:
        def alternatives(terms: Iterable[str]) -> str:
            return "|".join(map(re.escape, sorted(set(terms), key=len, reverse=True)))
        terms = [t for kind in self.kinds.values() for t in kind.match]
        words = [w for kind in self.kinds.values() for w in kind.words]
        patterns = [re.compile(r"(?<![A-Z0-9])(" + alternatives(terms) + ")")
                    ] if terms else []
        if words:
            patterns.append(re.compile(
                r"(?<![A-Z0-9])(" + alternatives(words)
                + r")(?:S|ES|D|ED|ING)?(?![A-Z0-9])"))
        return tuple(patterns)

    @functools.cached_property
    def _kind_of_term(self) -> dict[str, str]:
        kinds: dict[str, str] = {}
        for term, _, name in self._terms:  # longest first, then table order
            kinds.setdefault(term, name)
        return kinds

    @functools.cached_property
    def _term_at_word(self) -> re.Pattern[str]:
        terms = sorted(self._kind_of_term, key=len, reverse=True)
        return re.compile(r"(?<![A-Z0-9])(?:" + "|".join(map(re.escape, terms)) + ")")

    def compatible(self, a: str, b: str) -> bool:
        """Whether reports of kinds ``a`` and ``b`` may describe one event."""
        if a == b:
            return True
        ka, kb = self.kinds.get(a), self.kinds.get(b)
        return bool(
            (ka is not None and b in ka.compatible_with)
            or (kb is not None and a in kb.compatible_with)
        )

    def get(self, name: str) -> Kind:
        return self.kinds.get(name) or self.kinds[OTHER]
