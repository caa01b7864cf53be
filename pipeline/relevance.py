"""Is a social post about a real emergency, and what kind of information is it?

Two online classifiers (river), both learning one post at a time:

- ``RelevanceClassifier``: a multinomial naive Bayes on word, word-pair and
  keyword *counts* (as river's stock text pipeline counts words) and a
  logistic regression (AdaGrad steps) on words, word pairs and character 2-5
  grams inside words average their probabilities. The collection keyword,
  when the feed has one, is one more feature. By default the decision
  threshold is the one that maximised F1 of the "emergency" class over the
  probabilities the model gave *before* learning each post it has been taught
  (so it never sees a label before predicting it). Reasons name the words
  that pushed most.

  For posts of an event the model has never been taught (a new disaster),
  ``linear_weight=0``, ``threshold=0.5`` and ``skip_unseen`` do better: the
  regression leans on the training events' own names and places (hurricane,
  Boston, ...), an F1 cut tuned on those events is too strict for a new one,
  and unseen names push naive Bayes to "no" (see ``bayes_log_odds``), so all
  three miss most of a new event's posts; naive Bayes alone adds up every
  generic cue (warnings, damage, "praying for"). Chosen by leave-one-out over
  the *training* events of each CrisisLexT6 fold (see
  ``benchmarks/relevance_eval.py``), not on the held-out event.
- ``InfoTypeClassifier``: a multinomial naive Bayes over CrisisLexT26
  information types (caution and advice, affected individuals, ...).

Snapshots are pickled river objects (``snapshot`` / ``restore``): load only
snapshots this code wrote, never bytes from outside the deployment.

>>> model = RelevanceClassifier()
>>> for _ in range(3):
...     model.learn_one("house fire two people trapped", True)
...     model.learn_one("this new song is fire lol", False)
>>> model.predict_one("fire and people trapped inside").is_emergency
True
"""

from __future__ import annotations

import html
import math
import pickle
import re
from collections import deque
from itertools import pairwise
from typing import Any, NamedTuple, Self
from urllib.parse import unquote

from river import linear_model, naive_bayes, optim

#: Hashtags are split on case changes so #FlashFlood also says flash and flood.
CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
HASHTAG = re.compile(r"#(\w+)")
TOKEN = re.compile(r"#?[^\W_]+(?:'[^\W_]+)?|[!?]")
DIGITS = re.compile(r"\d+")


class Verdict(NamedTuple):
    """A relevance decision: emergency or not, its probability and why."""

    is_emergency: bool
    probability: float
    reasons: tuple[str, ...]


class InfoType(NamedTuple):
    """An information-type decision, its probability and why."""

    label: str | None
    probability: float
    reasons: tuple[str, ...]


def tokens(text: str) -> list[str]:
    """Lower-case words of a post; masked URLs and handles become one token each."""
    text = html.unescape(text or "")
    text = text.replace("http://url", " xurl ").replace("@user", " xuser ")
    text = HASHTAG.sub(
        lambda m: f" #{m.group(1)} {' '.join(CAMEL_PART.findall(m.group(1)))} ", text)
    return TOKEN.findall(DIGITS.sub("0", text.lower()))


def features(text: str, keyword: str | None = None, chars: bool = True
             ) -> dict[str, float]:
    """Counts of words, word pairs, in-word character 2-5 grams and the keyword."""
    words = tokens(text)
    found: dict[str, float] = {}
    for name in [*(f"w:{w}" for w in words),
                 *(f"b:{a} {b}" for a, b in pairwise(words))]:
        found[name] = found.get(name, 0.0) + 1.0
    if chars:
        for word in words:
            padded = f" {word} "
            for n in range(2, 6):
                for i in range(len(padded) - n + 1):
                    name = f"c:{padded[i:i + n]}"
                    found[name] = found.get(name, 0.0) + 1.0
    if keyword:
        found[f"k:{unquote(keyword).strip().lower()}"] = 1.0
    return found


def bayes_part(x: dict[str, float]) -> dict[str, float]:
    """The counts naive Bayes sees: words, word pairs and the keyword."""
    return {k: v for k, v in x.items() if k[0] in "wbk"}


def sigmoid(z: float) -> float:
    """The logistic function, without overflow for large |z|."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def unit_length(x: dict[str, float]) -> dict[str, float]:
    """Presence features scaled to unit length, so long posts do not shout."""
    scale = 1.0 / math.sqrt(len(x)) if x else 1.0
    return dict.fromkeys(x, scale)


def best_f1_threshold(history: deque[tuple[float, bool]], default: float) -> float:
    """The probability cut that gave the best F1 of the positive class so far."""
    positives = sum(1 for _, label in history if label)
    if not positives:
        return default
    best_f1, best_cut, hits = 0.0, default, 0
    for rank, (probability, label) in enumerate(sorted(history, reverse=True), 1):
        hits += label
        f1 = 2 * hits / (rank + positives)
        if f1 > best_f1:
            best_f1, best_cut = f1, probability
    return best_cut


class Snapshots:
    """``snapshot`` and ``restore`` for a classifier: its state, pickled."""

    def snapshot(self) -> bytes:
        """Pickled state; restore only snapshots written by this code."""
        return pickle.dumps(self.__dict__, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, blob: bytes) -> Self:
        """A classifier from ``snapshot`` bytes (a trusted, local artefact)."""
        model = cls.__new__(cls)
        model.__dict__.update(pickle.loads(blob))  # trusted: our own snapshot
        return model


class RelevanceClassifier(Snapshots):
    """Online "does this post report a real emergency" classifier."""

    def __init__(self, chars: bool = True, learning_rate: float = 0.5,
                 refit_every: int = 100, min_history: int = 200,
                 history_size: int = 5000, track_every: int = 1,
                 linear_weight: float = 0.5, threshold: float | None = None,
                 skip_unseen: bool = False):
        """``threshold=None`` tunes the cut online for F1; a number fixes it.
        ``linear_weight`` is the regression's share of the probability
        (naive Bayes has the rest); 0 skips the regression altogether.
        ``skip_unseen``: see ``bayes_log_odds``."""
        if not 0.0 <= linear_weight <= 1.0:
            raise ValueError(f"linear_weight {linear_weight} is not in [0, 1]")
        self.chars = chars
        self.track_every = track_every
        self.linear_weight = linear_weight
        self.skip_unseen = skip_unseen
        self.tune_threshold = threshold is None
        self.bayes = naive_bayes.MultinomialNB(alpha=1.0)
        self.linear = linear_model.LogisticRegression(
            optimizer=optim.AdaGrad(learning_rate), l2=0.0)
        self.threshold = 0.5 if threshold is None else threshold
        self.refit_every = refit_every
        self.min_history = min_history
        self.history: deque[tuple[float, bool]] = deque(maxlen=history_size)
        self.learned = 0

    def probability(self, x: dict[str, float]) -> float:
        """Weighted mean of the two models' probabilities of "emergency"."""
        if not self.learned:
            return 0.5
        p_bayes = sigmoid(self.bayes_log_odds(bayes_part(x)))
        if not self.linear_weight:
            return p_bayes
        p_linear = self.linear.predict_proba_one(unit_length(x)).get(True, 0.5)
        return (1 - self.linear_weight) * p_bayes + self.linear_weight * p_linear

    def bayes_log_odds(self, x: dict[str, float]) -> float:
        """Naive Bayes' log odds of "emergency" (river's MultinomialNB counts).

        With ``skip_unseen`` a word never seen in training is left out, as a
        fitted vocabulary would drop it. Otherwise, as river's
        ``predict_proba_one``, it counts against the class with more words in
        total: fine in a stream that is taught as it goes, but posts of a new
        event, full of new names, then lean to "not an emergency" merely for
        being new (CrisisLexT6 held-out F1 0.79 -> 0.82)."""
        bayes = self.bayes
        counts = bayes.class_counts
        if not (counts[True] and counts[False]):
            return 0.0 if not counts else (30.0 if counts[True] else -30.0)
        alpha, terms = bayes.alpha, bayes.n_terms
        yes = bayes.class_totals[True] + alpha * terms
        no = bayes.class_totals[False] + alpha * terms
        log_odds = math.log(counts[True] / counts[False])
        unseen = 0.0 if self.skip_unseen else math.log(no / yes)
        for name, count in x.items():
            seen = bayes.feature_counts.get(name)
            if seen:
                log_odds += count * math.log((seen.get(True, 0) + alpha) / yes
                                             * no / (seen.get(False, 0) + alpha))
            else:
                log_odds += count * unseen
        return log_odds

    def predict_one(self, text: str, keyword: str | None = None) -> Verdict:
        """Emergency or not, with the probability and the words behind it."""
        x = features(text, keyword, self.chars)
        probability = self.probability(x)
        is_emergency = probability >= self.threshold
        return Verdict(is_emergency, probability,
                       self.reasons(x, is_emergency, probability))

    def learn_one(self, text: str, label: bool, keyword: str | None = None) -> None:
        """Learn one labelled post; first record what was predicted for it."""
        x = features(text, keyword, self.chars)
        label = bool(label)

        # 1. The probability before learning feeds the threshold, never after
        #    (every post, or every n-th when learning a large batch of posts).
        if self.tune_threshold and self.learned % self.track_every == 0:
            self.history.append((self.probability(x), label))

        # 2. Learn.
        self.bayes.learn_one(bayes_part(x), label)
        if self.linear_weight:
            self.linear.learn_one(unit_length(x), label)
        self.learned += 1

        # 3. Move the threshold now and then, once there is enough to judge.
        if (self.tune_threshold
                and self.learned % (self.refit_every * self.track_every) == 0
                and len(self.history) >= self.min_history):
            self.threshold = best_f1_threshold(self.history, self.threshold)

    def reasons(self, x: dict[str, float], is_emergency: bool, probability: float,
                top: int = 3) -> tuple[str, ...]:
        """The words (and keyword) that pushed hardest towards the verdict."""
        verdict = "real emergency" if is_emergency else "not an emergency"
        head = (f"relevance: {verdict} (p={probability:.2f}, "
                f"threshold {self.threshold:.2f})")
        if not self.learned:
            return (head, "model not trained yet")
        sign = 1.0 if is_emergency else -1.0
        # The live vector, read in place: ``linear.weights`` copies all of it.
        weights = self.linear._weights
        pushes = sorted(((sign * self.push(k, weights), k) for k in x
                         if k[0] in "wk"), reverse=True)
        named = [f"{'keyword' if k[0] == 'k' else 'word'} '{k[2:]}' "
                 f"({'+' if w * sign > 0 else '-'}{abs(w):.2f})"
                 for w, k in pushes[:top] if w > 0]
        return (head, *named)

    def push(self, name: str, weights: dict[str, float]) -> float:
        """How far one feature moves the verdict towards "emergency": naive
        Bayes' log count ratio and the regression's weight, in their shares."""
        bayes = self.bayes
        if len(bayes.class_counts) < 2:
            ratio = 0.0
        else:
            ratio = math.log(bayes.p_feature_given_class(name, True)
                             / bayes.p_feature_given_class(name, False))
        weight = weights.get(name, 0.0)
        return (1 - self.linear_weight) * ratio + self.linear_weight * weight


class InfoTypeClassifier(Snapshots):
    """Online information type of a crisis post (CrisisLexT26 labels)."""

    def __init__(self, alpha: float = 0.3):
        self.bayes = naive_bayes.MultinomialNB(alpha=alpha)
        self.learned = 0

    def predict_one(self, text: str) -> InfoType:
        """The most likely type, its probability and the words most typical of it."""
        x = features(text, chars=False)
        if not self.learned:
            return InfoType(None, 0.0, ("info type: model not trained yet",))
        probabilities = self.bayes.predict_proba_one(x)
        label = max(probabilities, key=probabilities.__getitem__)
        return InfoType(label, probabilities[label], self.reasons(x, label))

    def learn_one(self, text: str, label: str) -> None:
        """Learn one labelled post."""
        self.bayes.learn_one(features(text, chars=False), label)
        self.learned += 1

    def reasons(self, x: dict[str, float], label: str, top: int = 3
                ) -> tuple[str, ...]:
        """Words seen far more often with this type than with the others."""
        counts: Any = self.bayes.feature_counts
        totals = self.bayes.class_counts
        others = sum(totals.values()) - totals[label]
        lift = []
        for name in x:
            if name[0] != "w" or name not in counts:
                continue
            per_class = counts[name]
            mine = (per_class.get(label, 0) + 1) / (totals[label] + 2)
            rest = (sum(per_class.values()) - per_class.get(label, 0) + 1) / (
                others + 2)
            lift.append((mine / rest, name[2:]))
        lift.sort(reverse=True)
        named = [f"word '{w}' ({ratio:.1f}x)" for ratio, w in lift[:top] if ratio > 1]
        return (f"info type: {label}", *named)
