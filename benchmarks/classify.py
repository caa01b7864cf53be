"""F1 figures of a classifier's guesses, shared by the evaluations."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence


def f1_score(pairs: Iterable[tuple[bool, bool]]) -> float:
    """F1 of the positive class from (predicted, actual) pairs.

    >>> f1_score([(True, True), (True, False), (False, True), (False, False)])
    0.5
    """
    tp = fp = fn = 0
    for predicted, actual in pairs:
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def macro_f1(pairs: Sequence[tuple[Hashable, Hashable]],
             labels: Iterable[Hashable] | None = None) -> float:
    """Mean one-vs-rest F1 over ``labels`` (default: the actual labels) from
    (predicted, actual) pairs; a guess outside the labels is simply wrong.

    >>> macro_f1([("a", "a"), ("b", "a"), ("b", "b"), (None, "b")])
    0.5833333333333333
    """
    chosen = sorted({actual for _, actual in pairs} if labels is None else labels,
                    key=str)
    return sum(f1_score((p == label, a == label) for p, a in pairs)
               for label in chosen) / len(chosen)
