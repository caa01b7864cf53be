"""An online priority model that learns from dispatcher outcomes.

It predicts a call's priority on the source's own levels (``A``/``B``/``C`` for
SFPD, ``2``/``3`` for SFFD) from what the report alone says: its call type,
the words of its type and text, its place and its time; where the feed gives
it, how long the call-taker took to enter the call (``entry_delay_s``: known
before dispatch, but a trace of the taker's work, so measured apart); the
``with_taker`` variant also reads the call-taker's original priority.

A softmax regression (river, plain SGD) reads those features plus, for the
call type, the shares of each final level dispatchers gave it: over all time,
and with older outcomes fading (SFFD's medical calls swing between 2 and 3
within hours). Plain SGD weighs recent outcomes more, so the model follows
drift; the reasons say how much came from the report and how much from the
type's history.

Optionally (``backoff_alpha``), the classifier also reads back-off shares:
for the call type at this hour band, and at each of its places, the final
levels seen so far, fading with ``backoff_keep`` so that a place's recent
outcomes count most, and smoothed towards the type's overall shares with
``backoff_alpha`` pseudo-calls (a Bayesian estimate: a key seen twice barely
moves away from its type). Every one of them is known when a report arrives:
the hour and place are in it, and past outcomes are past. They are the
"area's recent history" and "time of day" reasons of issue 6. On the SF files
they move accuracy by less than half a point (``benchmarks/priority_bound.py``
shows why no report-time key can move it much further).

With the taker's priority known, the model only overrides it when it is
confident and when changes made at that confidence have, so far, been right
more often than wrong (a gate learned online). Without that record it keeps the
taker's priority, so it starts as "keep what the call-taker said". A legacy
code off the levels (SFPD's 1/2/3/E/I) reads as the level it usually ended in.

The state is plain JSON (``snapshot`` / ``PriorityModel.restore``).

>>> model = PriorityModel(levels=("A", "B", "C"))
>>> for _ in range(30):
...     model.learn_one(CallFacts("SHOTS FIRED"), "A")
...     model.learn_one(CallFacts("NOISE COMPLAINT"), "C")
>>> model.predict_one(CallFacts("SHOTS FIRED")).priority
'A'
>>> model.predict_one(CallFacts("NOISE COMPLAINT")).reasons[0]
"call type 'NOISE COMPLAINT': dispatchers chose C in 30 of 30"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from river import linear_model, optim

_WORD = re.compile(r"[a-z0-9]+")
#: Confidence thresholds the taker gate keeps a record for.
GATE_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


@dataclass(frozen=True)
class CallFacts:
    """What is known of a call when it is scored; no dispatcher decision in it."""

    call_type: str
    text: str = ""
    places: tuple[tuple[str, str], ...] = ()
    hour: int | None = None
    weekday: int | None = None
    taker_priority: str = ""
    #: Seconds from the call's receipt to its entry in CAD, when the feed says.
    entry_delay_s: float | None = None


#: Hours of day per back-off band (8 bands a day).
BACKOFF_HOURS = 3

#: Upper bounds of the entry-delay bands, in seconds.
ENTRY_BANDS_S = (30, 60, 90, 120, 180, 300)


@dataclass(frozen=True)
class PriorityGuess:
    """A predicted level, its probability and the reasons, strongest first."""

    priority: str
    confidence: float
    reasons: tuple[str, ...]


def features(facts: CallFacts, with_taker: bool) -> dict[str, float]:
    """One-hot features of a call; words of the type and text count once each."""
    found = {"bias": 1.0, f"type={facts.call_type}": 1.0}
    words = _WORD.findall(f"{facts.call_type} {facts.text}".lower())
    for word in words:
        found[f"word={word}"] = 1.0
    for name, value in facts.places:
        if value:
            found[f"{name}={value}"] = 1.0
    if facts.hour is not None:
        found[f"hours={facts.hour // 3 * 3:02d}-{facts.hour // 3 * 3 + 2:02d}"] = 1.0
    if facts.weekday is not None:
        found[f"weekday={facts.weekday}"] = 1.0
    if facts.entry_delay_s is not None:
        band = next((f"<{b}s" for b in ENTRY_BANDS_S if facts.entry_delay_s < b),
                    f">={ENTRY_BANDS_S[-1]}s")
        found[f"entry={band}"] = 1.0
    if with_taker:
        taker = facts.taker_priority or "none"
        found[f"taker={taker}"] = 1.0
        found[f"type|taker={facts.call_type}|{taker}"] = 1.0
    return found


class PriorityModel:
    """Predicts a call's priority and learns from the dispatcher's final one.

    ``levels`` lists the source's priorities, most urgent first. ``prior_keeps``
    are the per-type priors the classifier reads: 1.0 counts every outcome of
    the type alike, 0.97 lets each new outcome fade the older ones (SFFD's
    medical calls swing between 2 and 3 within hours).
    """

    def __init__(self, levels: tuple[str, ...], with_taker: bool = False,
                 learning_rate: float = 0.05,
                 prior_keeps: tuple[float, ...] = (1.0, 0.97),
                 backoff_alpha: float | None = None, backoff_keep: float = 0.99):
        if not levels:
            raise ValueError("a priority model needs at least one level")
        if not all(0.0 < keep <= 1.0 for keep in prior_keeps):
            raise ValueError("each prior keep must lie in (0, 1]")
        if backoff_alpha is not None and backoff_alpha <= 0.0:
            raise ValueError("the back-off needs a positive alpha")
        if not 0.0 < backoff_keep <= 1.0:
            raise ValueError("the back-off keep must lie in (0, 1]")
        self.levels = tuple(levels)
        self.with_taker = with_taker
        self.learning_rate = learning_rate
        self.prior_keeps = tuple(prior_keeps)
        self.backoff_alpha = backoff_alpha
        self.backoff_keep = backoff_keep
        # "hours=21-23" or "district=MISSION" -> call type -> level -> faded count
        self.backoff: dict[str, dict[str, dict[str, float]]] = {}
        # keep -> call type -> level -> (decayed) count of final priorities
        self.priors: dict[float, dict[str, dict[str, float]]] = {
            keep: {} for keep in self.prior_keeps}
        # taker's code -> level -> count: how legacy codes end up (taker variant).
        self.taker_outcomes: dict[str, dict[str, float]] = {}
        self.classifier = linear_model.SoftmaxRegression(
            optimizer=optim.SGD(learning_rate))
        # Net calls won by overriding the taker at each confidence threshold.
        self.gate_gain = {str(t): 0.0 for t in GATE_THRESHOLDS}
        self.seen = 0

    def _x(self, facts: CallFacts) -> dict[str, float]:
        """The report's features plus each prior's shares for its call type."""
        x = features(facts, self.with_taker)
        for keep, by_type in self.priors.items():
            counts = by_type.get(facts.call_type, {})
            total = sum(counts.values())
            for level, count in counts.items():
                x[f"prior{keep:g}={level}"] = count / total
        if self.with_taker:
            counts = self.taker_outcomes.get(facts.taker_priority, {})
            total = sum(counts.values())
            for level, count in counts.items():
                x[f"taker_outcomes={level}"] = count / total
        for facet, shares in self._backoff_shares(facts).items():
            for level, share in shares.items():
                x[f"backoff:{facet}={level}"] = share
        return x

    def _facets(self, facts: CallFacts) -> list[str]:
        """The keys the back-off counts a call's type under: hour band, places."""
        if self.backoff_alpha is None:
            return []
        facets = [f"{name}={value}" for name, value in facts.places if value]
        if facts.hour is not None:
            start = facts.hour // BACKOFF_HOURS * BACKOFF_HOURS
            facets.insert(0, f"hours={start:02d}-{start + BACKOFF_HOURS - 1:02d}")
        return facets

    def _type_shares(self, call_type: str) -> dict[str, float]:
        """The type's shares of each level so far, with one pseudo-call spread
        evenly, so an unseen type reads as "no preference"."""
        counts = self.priors[self.prior_keeps[0]].get(call_type, {})
        total = sum(counts.values()) + 1.0
        even = 1.0 / len(self.levels)
        return {lv: (counts.get(lv, 0.0) + even) / total for lv in self.levels}

    def _backoff_shares(self, facts: CallFacts) -> dict[str, dict[str, float]]:
        """Per facet, the type's levels there, smoothed towards the type's own:
        (count + alpha * type share) / (facet total + alpha)."""
        facets = self._facets(facts)
        if not facets or self.backoff_alpha is None:
            return {}
        alpha, parent = self.backoff_alpha, self._type_shares(facts.call_type)
        shares = {}
        for facet in facets:
            counts = self.backoff.get(facet, {}).get(facts.call_type, {})
            total = sum(counts.values()) + alpha
            shares[facet] = {lv: (counts.get(lv, 0.0) + alpha * parent[lv]) / total
                             for lv in self.levels}
        return shares

    def _rank(self, level: str) -> int:
        return self.levels.index(level) if level in self.levels else len(self.levels)

    def _best(self, x: dict[str, float]) -> tuple[str | None, dict[str, float]]:
        """The most probable level (ties to the more urgent) and all of them."""
        raw = self.classifier.predict_proba_one(x)
        if not raw:
            return None, {}
        proba = {level: raw.get(level, 0.0) for level in self.levels}
        return max(proba, key=lambda lv: (proba[lv], -self._rank(lv))), proba

    # -- the verbs -----------------------------------------------------------

    def probabilities(self, facts: CallFacts) -> tuple[str | None, dict[str, float]]:
        """The most probable level and every level's probability, no reasons:
        the cheap path for a caller that words its own (None before any
        outcome is learnt)."""
        return self._best(self._x(facts))

    def earned_gate(self) -> float | None:
        """The confidence from which overriding the taker has paid off most so
        far (``with_taker``); None while no threshold has a net gain."""
        earned = [float(t) for t, gain in self.gate_gain.items() if gain > 0]
        return max(earned, key=lambda t: self.gate_gain[str(t)], default=None)

    def predict_one(self, facts: CallFacts) -> PriorityGuess:
        """The priority on the source's levels, with the reasons behind it."""
        x = self._x(facts)
        level, proba = self._best(x)
        reasons = [self._prior_reason(facts.call_type)]
        reasons += self._backoff_reasons(facts)
        if level is None:
            # Nothing learnt: the least urgent level, said as such.
            level = self.levels[-1]
            reasons.append(f"no outcome learnt yet: {level}")
        else:
            reasons += self._model_reasons(x, level, proba)
        confidence = round(proba.get(level, 0.0), 4)

        if self.with_taker:
            return self._gated(self._taker_level(facts.taker_priority), level,
                               confidence, reasons)
        return PriorityGuess(level, confidence, tuple(reasons))

    def learn_one(self, facts: CallFacts, final_priority: str) -> None:
        """Learn from the priority the dispatcher finally assigned."""
        if final_priority not in self.levels:
            raise ValueError(f"unknown priority level {final_priority!r}")
        x = self._x(facts)

        # 1. The gate: would overriding the taker at each threshold have helped?
        taker = self._taker_level(facts.taker_priority)
        if self.with_taker and taker is not None:
            level, proba = self._best(x)
            if level is not None and level != taker:
                gain = (level == final_priority) - (taker == final_priority)
                for threshold in GATE_THRESHOLDS:
                    if proba[level] >= threshold:
                        self.gate_gain[str(threshold)] += gain

        # 2. Learn, then count the outcome into the priors.
        self.classifier.learn_one(x, final_priority)
        for keep, by_type in self.priors.items():
            counts = by_type.setdefault(facts.call_type, {})
            for level in counts:
                counts[level] *= keep
            counts[final_priority] = counts.get(final_priority, 0.0) + 1.0
        if self.with_taker:
            counts = self.taker_outcomes.setdefault(facts.taker_priority, {})
            counts[final_priority] = counts.get(final_priority, 0.0) + 1.0
        for facet in self._facets(facts):
            counts = self.backoff.setdefault(facet, {}).setdefault(
                facts.call_type, {})
            for level in counts:
                counts[level] *= self.backoff_keep
            counts[final_priority] = counts.get(final_priority, 0.0) + 1.0
        self.seen += 1

    # -- reasons -------------------------------------------------------------

    def _prior_reason(self, call_type: str) -> str:
        """What dispatchers did with this call type, all time (the first prior)."""
        counts = self.priors[self.prior_keeps[0]].get(call_type, {})
        if not counts:
            return f"call type '{call_type}': not seen before"
        level = max(counts, key=lambda lv: (counts[lv], -self._rank(lv)))
        return (f"call type '{call_type}': dispatchers chose {level} in "
                f"{counts[level]:g} of {sum(counts.values()):g}")

    def _backoff_reasons(self, facts: CallFacts) -> list[str]:
        """The hour band or place whose recent outcomes for this type stray
        furthest from the type's own, if any has been seen with it."""
        parent = self._type_shares(facts.call_type)
        best: tuple[float, str] | None = None
        for facet, shares in self._backoff_shares(facts).items():
            counts = self.backoff.get(facet, {}).get(facts.call_type, {})
            if not counts:
                continue
            level = max(shares, key=lambda lv: shares[lv] - parent[lv])
            gap = shares[level] - parent[level]
            said = (f"recent '{facts.call_type}' calls at {facet}: {level} in "
                    f"{counts.get(level, 0.0):.1f} of {sum(counts.values()):.1f} "
                    f"(faded), {shares[level]:.0%} smoothed against "
                    f"{parent[level]:.0%} for the type")
            if best is None or gap > best[0]:
                best = (gap, said)
        return [best[1]] if best else []

    def _model_reasons(self, x: dict[str, float], level: str,
                       proba: dict[str, float]) -> list[str]:
        """The features that pushed towards ``level``, and the report's share.

        A feature's push is its value times its weight for ``level`` less its
        mean weight for the other levels; the share is how much of all pushes
        came from the report itself rather than from past outcomes.
        """
        weights = self.classifier.weights
        others = [lv for lv in self.levels if lv != level]
        pushes = {}
        for name, value in x.items():
            mine = weights[level].get(name, 0.0) if level in weights else 0.0
            rest = [weights[lv].get(name, 0.0) if lv in weights else 0.0
                    for lv in others]
            pushes[name] = value * (mine - (sum(rest) / len(rest) if rest else 0.0))
        total = sum(abs(p) for name, p in pushes.items() if name != "bias")
        report = sum(abs(p) for name, p in pushes.items()
                     if name != "bias"
                     and not name.startswith(("prior", "backoff:")))
        share = report / total if total else 0.0
        reasons = [f"model says {level} with p={proba[level]:.2f}; the report's "
                   f"own features carry {share:.0%} of it, past outcomes "
                   f"the rest"]
        strongest = sorted(((name, push) for name, push in pushes.items()
                            if name != "bias" and push > 0),
                           key=lambda kv: -kv[1])[:3]
        reasons += [f"{_described(name)} pushes towards {level}: {push:+.2f}"
                    for name, push in strongest]
        return reasons

    def _taker_level(self, code: str) -> str | None:
        """The taker's priority on our levels; a legacy code reads as its usual
        final level so far, and as nothing before it has one."""
        if code in self.levels:
            return code
        counts = self.taker_outcomes.get(code)
        if not counts:
            return None
        return max(counts, key=lambda lv: (counts[lv], -self._rank(lv)))

    def _gated(self, taker: str | None, level: str, confidence: float,
               reasons: list[str]) -> PriorityGuess:
        """Keep the taker's priority unless a change has earned its way."""
        if taker is None:
            reasons.insert(0, "taker priority unknown or never seen: model decides")
            return PriorityGuess(level, round(confidence, 4), tuple(reasons))
        if level == taker:
            return PriorityGuess(taker, round(confidence, 4),
                                 (f"taker's priority {taker} kept", *reasons))
        best = self.earned_gate()
        if best is None or confidence < best:
            why = ("no change has paid off yet" if best is None
                   else f"p={confidence:.2f} below the gate {best}")
            return PriorityGuess(taker, round(confidence, 4),
                                 (f"taker's priority {taker} kept: {why}", *reasons))
        return PriorityGuess(level, round(confidence, 4), (
            f"taker's {taker} changed to {level}: p={confidence:.2f} >= gate {best}"
            f" (net {self.gate_gain[str(best)]:+.0f} calls so far)", *reasons))

    # -- snapshot ------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able values."""
        return {
            "levels": list(self.levels),
            "with_taker": self.with_taker,
            "learning_rate": self.learning_rate,
            "priors": [[keep, by_type] for keep, by_type in self.priors.items()],
            "taker_outcomes": self.taker_outcomes,
            "weights": {lv: dict(w) for lv, w in self.classifier.weights.items()},
            "gate_gain": dict(self.gate_gain),
            "seen": self.seen,
            "backoff_alpha": self.backoff_alpha,
            "backoff_keep": self.backoff_keep,
            "backoff": self.backoff,
        }

    @classmethod
    def restore(cls, state: dict[str, Any]) -> PriorityModel:
        """A model from ``snapshot``; it predicts and learns as the original."""
        keeps = tuple(float(keep) for keep, _ in state["priors"])
        # Snapshots from before the back-off have none of its keys.
        alpha = state.get("backoff_alpha")
        model = cls(tuple(state["levels"]), bool(state["with_taker"]),
                    float(state["learning_rate"]), keeps,
                    None if alpha is None else float(alpha),
                    float(state.get("backoff_keep", 0.99)))
        model.backoff = {
            facet: {call_type: {lv: float(c) for lv, c in counts.items()}
                    for call_type, counts in by_type.items()}
            for facet, by_type in state.get("backoff", {}).items()}
        for keep, by_type in state["priors"]:
            model.priors[float(keep)] = {
                call_type: {lv: float(c) for lv, c in counts.items()}
                for call_type, counts in by_type.items()}
        model.taker_outcomes = {
            code: {lv: float(c) for lv, c in counts.items()}
            for code, counts in state["taker_outcomes"].items()}
        # Plain SGD keeps no state but the weights, so they are the classifier.
        for level, weights in state["weights"].items():
            model.classifier.weights[level].update(weights)
        model.gate_gain = {k: float(v) for k, v in state["gate_gain"].items()}
        model.seen = int(state["seen"])
        return model


def _described(feature: str) -> str:
    """A feature name as a dispatcher would read it."""
    name, _, value = feature.partition("=")
    if name.startswith("prior"):
        keep = name.removeprefix("prior")
        which = "all" if keep == "1" else "recent"
        return f"{which} outcomes of this call type ({value})"
    if name.startswith("backoff:"):
        return f"recent outcomes of this type at {name.removeprefix('backoff:')}" \
            f"={value.rpartition('=')[0]} ({value.rpartition('=')[2]})"
    if name == "taker_outcomes":
        return f"outcomes of this taker priority ({value})"
    return f"{name} '{value}'"
