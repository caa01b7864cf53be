"""The rule-based priority, moved by a model that learns from dispatchers.

The rules (``pipeline/score.py``) give a priority on the common scale with
their reasons. A ``PriorityModel`` (``pipeline/priority_model.py``) on the same
scale reads what the incident says (kind, words of its texts, source, area,
local hour and weekday, how many reports) and the rules' own priority, and
learns the priority a dispatcher finally gave (``dispatch.outcomes``). The rules'
priority plays the part the call-taker's plays in the model: the model learns
when the rules are wrong, and keeps a record (its gate) of whether changing
them at a given confidence has paid off.

When the model may move the rules' priority is set in
``models/score_model.yaml`` (``ModelRule``): only after ``min_outcomes``
outcomes, only at ``min_confidence`` or more, only once its changes at that
confidence have been right more often than wrong (``use_gate``), and by at
most ``max_shift`` levels. Whatever it does, one reason says so:

>>> from pipeline.kinds import KindTable
>>> kinds = KindTable.from_config({"kinds": {
...     "fire": {"match": ["FIRE"], "priority": 2, "needs": "fire"},
...     "other": {"match": [], "priority": 4, "needs": "police"}}})
>>> scorer = LearnedScorer(PriorityScorer(kinds, {}), ModelRule(min_outcomes=20))
>>> record = {"kind": "fire", "texts": ["dumpster fire"], "report_count": 1,
...           "area": "A", "region": "r:x", "first_ms": 0, "last_ms": 0}
>>> model = scorer.new_model()
>>> scorer.score(record, model)[1][-1]
'model: no dispatcher outcome learnt yet; the rules decide'
>>> for _ in range(30):
...     _ = scorer.learn(model, scorer.score(record, model)[2], 3)
>>> priority, reasons, _ = scorer.score(record, model)
>>> priority, reasons[-1]
(3, 'model: p(3)=1.00 from 30 outcomes: +1')

The facts the model learns from are kept per incident (``facts_of``: a short
JSON list, the incident's state at its latest change) until its outcome
arrives, and the model itself travels as compressed JSON (``pack`` /
``unpack``).
"""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import orjson

from pipeline.localtime import zone
from pipeline.priority_model import CallFacts, PriorityModel
from pipeline.score import HIGHEST, LOWEST, PriorityScorer

#: The common scale as the model's levels, most urgent first.
LEVELS = tuple(str(level) for level in range(HIGHEST, LOWEST + 1))
#: Stored facts: kind, text, source, area, local hour, weekday, reports band,
#: the rules' priority, the incident's last event ms, the priority last learnt.
#: Words the model reads: letters only, so a CAD text's dates, times and
#: station numbers do not become features (a new one each day).
WORD = re.compile(r"[a-z]{2,}")
KIND, TEXT, SOURCE, AREA, HOUR, WEEKDAY, REPORTS, RULES, LAST_MS, LEARNT = range(10)


@dataclass(frozen=True, slots=True)
class ModelRule:
    """When the model may move the rules' priority, and how its state is kept."""

    #: Outcomes the model must have learnt (in its partition) before it moves
    #: a priority; until then it only says what it would do.
    min_outcomes: int = 200
    #: Probability of its own level below which it changes nothing.
    min_confidence: float = 0.7
    #: Also require that its changes at this confidence have paid off so far
    #: (the model's gate, learned online from the outcomes).
    use_gate: bool = True
    #: Levels it may move the rules' priority by, at most.
    max_shift: int = 1
    #: Plain SGD's step (``PriorityModel``).
    learning_rate: float = 0.05
    #: How long (event time) an incident's facts wait for its outcome.
    facts_ttl_s: float = 259_200.0
    #: Incidents whose facts are kept, per partition: the longest-quiet go first.
    max_facts: int = 200_000
    #: A partition's model is written to its changelog at most this often.
    snapshot_every_s: float = 10.0
    #: A larger snapshot is not written (logged and counted instead).
    max_snapshot_bytes: int = 800_000
    #: Characters of the incident's texts the facts keep.
    text_chars: int = 300

    def __post_init__(self) -> None:
        if self.min_outcomes < 0 or self.max_shift < 0:
            raise ValueError("min_outcomes and max_shift must be 0 or more")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError("min_confidence must lie in [0, 1]")
        for name in ("learning_rate", "facts_ttl_s", "snapshot_every_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.max_facts < 1 or self.max_snapshot_bytes < 1 or self.text_chars < 0:
            raise ValueError("max_facts, max_snapshot_bytes and text_chars are "
                             "too small")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelRule:
        """The rule from ``models/score_model.yaml``; unknown keys are refused."""
        names = {f.name for f in fields(cls)}
        unknown = set(config) - names
        if unknown:
            raise ValueError(f"unknown score model settings: {sorted(unknown)}")
        defaults = cls()
        settings: dict[str, Any] = {}
        for name, value in config.items():
            wanted = type(getattr(defaults, name))
            if wanted is bool and not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, not {value!r}")
            if wanted is not bool and (isinstance(value, bool)
                                       or not isinstance(value, int | float)):
                raise ValueError(f"{name} must be a number, not {value!r}")
            if wanted is int and value != int(value):
                raise ValueError(f"{name} must be a whole number, not {value!r}")
            settings[name] = wanted(value)
        return cls(**settings)


def reports_band(count: int) -> str:
    return str(count) if count < 3 else "3+"


class LearnedScorer:
    """The rules' priority and reasons, then the model's say on them.

    ``zones`` maps a source to its time zone name (``service_areas.yaml``): the
    model reads the incident's local hour and weekday.
    """

    def __init__(self, rules: PriorityScorer, rule: ModelRule,
                 zones: dict[str, str] | None = None):
        self.rules = rules
        self.rule = rule
        self.zones = dict(zones or {})

    def new_model(self) -> PriorityModel:
        return PriorityModel(LEVELS, with_taker=True,
                             learning_rate=self.rule.learning_rate)

    def facts_of(self, record: dict[str, Any], rules_priority: int) -> list[Any]:
        """What the model reads of an incident change, as a short JSON list."""
        region = record.get("region") or ""
        source = region[2:] if region.startswith("r:") else ""
        hour = weekday = None
        zone_name = self.zones.get(source)
        if zone_name and record.get("first_ms"):
            local = datetime.fromtimestamp(record["first_ms"] / 1000, zone(zone_name))
            hour, weekday = local.hour, local.weekday()
        words = WORD.findall(" ".join(record.get("texts") or ()).lower())
        text = " ".join(dict.fromkeys(words))[:self.rule.text_chars]
        return [record["kind"], text, source, record.get("area") or "", hour,
                weekday, reports_band(witnesses(record)),
                rules_priority, int(record.get("last_ms") or 0), None]

    @staticmethod
    def call_facts(facts: list[Any]) -> CallFacts:
        places = (("source", facts[SOURCE]), ("area", facts[AREA]),
                  ("reports", facts[REPORTS]))
        return CallFacts(facts[KIND], facts[TEXT], places, facts[HOUR],
                         facts[WEEKDAY], str(facts[RULES]))

    def score(self, record: dict[str, Any], model: PriorityModel
              ) -> tuple[int, tuple[str, ...], list[Any]]:
        """Priority, reasons (the rules', then the model's) and the facts to keep."""
        priority, reasons = self.rules.score(record["kind"], record["texts"],
                                             witnesses(record))
        facts = self.facts_of(record, priority)
        moved, why = self.decide(model, facts, priority)
        return moved, (*reasons, why), facts

    def decide(self, model: PriorityModel, facts: list[Any], rules_priority: int
               ) -> tuple[int, str]:
        """The model's say on the rules' priority, and the reason that says it."""
        seen = model.seen
        if not seen:
            return rules_priority, ("model: no dispatcher outcome learnt yet; "
                                    "the rules decide")
        level, proba = model.probabilities(self.call_facts(facts))
        if level is None:
            return rules_priority, "model: nothing learnt yet; the rules decide"
        confidence = proba[level]
        head = f"model: p({level})={confidence:.2f} from {seen} outcomes"
        wanted = int(level)
        rule = self.rule
        if wanted == rules_priority:
            return rules_priority, f"{head}: agrees"
        if seen < rule.min_outcomes:
            return rules_priority, (f"{head}: no change before {rule.min_outcomes} "
                                    f"outcomes")
        if confidence < rule.min_confidence:
            return rules_priority, (f"{head}: no change below "
                                    f"p={rule.min_confidence:g}")
        if rule.use_gate:
            gate = model.earned_gate()
            if gate is None or confidence < gate:
                return rules_priority, (f"{head}: no change; its changes at this "
                                        f"confidence have not paid off yet")
        shift = max(-rule.max_shift, min(rule.max_shift, wanted - rules_priority))
        if not shift:
            return rules_priority, f"{head}: no change (max_shift 0)"
        return rules_priority + shift, f"{head}: {shift:+d}"

    def learn(self, model: PriorityModel, facts: list[Any], final: int) -> bool:
        """Learn the dispatcher's final priority for an incident's facts; False
        when those facts already taught it that priority (a redelivered or
        repeated outcome), which teaches nothing twice."""
        if facts[LEARNT] == final:
            return False
        model.learn_one(self.call_facts(facts), str(final))
        facts[LEARNT] = final
        return True


def pack(model: PriorityModel) -> dict[str, Any]:
    """A model as a small JSON value: outcomes seen, and its zlib'd snapshot."""
    raw = zlib.compress(orjson.dumps(model.snapshot()), 6)
    return {"seen": model.seen, "zjson": base64.b64encode(raw).decode()}


def unpack(value: dict[str, Any]) -> PriorityModel:
    """The model ``pack`` wrote."""
    state = orjson.loads(zlib.decompress(base64.b64decode(value["zjson"])))
    return PriorityModel.restore(state)


def witnesses(record: dict[str, Any]) -> int:
    """An incident change's distinct reporters (``IncidentChange.witnesses``),
    or its report count where a change predates them.

    >>> witnesses({"report_count": 3, "witnesses": 1}), witnesses({"report_count": 3})
    (1, 3)
    """
    return int(record.get("witnesses") or record.get("report_count") or 1)

