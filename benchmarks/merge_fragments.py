"""Where incident recall is lost: the fragments a true incident is split into.

Runs the generated stream through the matcher as ``merge_eval`` does and
tells, for the reports that are not with the rest of their true incident:

- the true pairs missed, charged to the later report of each pair (by arrival),
  by its channel, whether it has a fix and whether it gives an address;
- how many predicted incidents each true incident is split into, and whether
  the fragments are pure (every report of one true incident);
- the incident F1 an oracle would reach that merges every pure fragment into
  the largest fragment of its true incident, in all and only for fragments
  opened by a report of a given sort (no fix, not a post): what an
  incident-to-incident merge could win at most.

    python -m benchmarks.merge_fragments [--seed S] [--incidents N]
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agents.resources import Models
from benchmarks.merge_eval import match, normalized, scenario_models
from benchmarks.scenario import generate, pairwise_scores, stream_options
from benchmarks.workload import say
from pipeline.schema import Report

#: Fragments the histogram counts separately; more are counted with this.
MOST_FRAGMENTS = 5


def sort_of(report: Report) -> str:
    """channel/fix/address, as the missed pairs are counted by."""
    return (f"{report.channel}/{'fix' if report.has_point else 'nofix'}/"
            f"{'addr' if report.address.strip() else 'noaddr'}")


def missed_pairs(reports: Sequence[Report], predicted: Mapping[str, str],
                 truth: Mapping[str, str]) -> Counter[str]:
    """True pairs put apart, charged to the later report of each by its sort."""
    seen: dict[str, list[str]] = defaultdict(list)
    missed: Counter[str] = Counter()
    for report in reports:
        earlier = seen[truth[report.report_id]]
        apart = sum(predicted[other] != predicted[report.report_id]
                    for other in earlier)
        if apart:
            missed[sort_of(report)] += apart
        earlier.append(report.report_id)
    return missed


def fragments(predicted: Mapping[str, str], truth: Mapping[str, str]
              ) -> dict[str, Any]:
    """Per true incident, the predicted incidents it is split into (a
    histogram up to ``MOST_FRAGMENTS``), and how many of the fragments of
    split incidents are pure."""
    members: dict[str, set[str]] = defaultdict(set)
    sizes: Counter[str] = Counter()
    truths: dict[str, set[str]] = defaultdict(set)
    for report_id, incident in truth.items():
        members[incident].add(predicted[report_id])
        truths[predicted[report_id]].add(incident)
        sizes[predicted[report_id]] += 1
    split: Counter[int] = Counter(min(len(f), MOST_FRAGMENTS) for f in members.values())
    pure = impure = 0
    for found in members.values():
        if len(found) > 1:
            for fragment in found:
                if len(truths[fragment]) == 1:
                    pure += 1
                else:
                    impure += 1
    return {"split_into": dict(sorted(split.items())), "pure": pure, "impure": impure}


def oracle_merge(reports: Sequence[Report], predicted: Mapping[str, str],
                 truth: Mapping[str, str],
                 opened_by: Callable[[Report], bool] = lambda report: True
                 ) -> dict[str, str]:
    """``predicted`` with every pure fragment whose first report (by arrival)
    ``opened_by`` accepts merged into the largest fragment of its incident."""
    first: dict[str, Report] = {}
    truths: dict[str, set[str]] = defaultdict(set)
    sizes: dict[str, Counter[str]] = defaultdict(Counter)
    for report in reports:
        fragment = predicted[report.report_id]
        first.setdefault(fragment, report)
        truths[fragment].add(truth[report.report_id])
        sizes[truth[report.report_id]][fragment] += 1
    into = {}
    for incident, counts in sizes.items():
        largest = min(counts, key=lambda f: (-counts[f], f))
        for fragment in counts:
            if (fragment != largest and truths[fragment] == {incident}
                    and opened_by(first[fragment])):
                into[fragment] = largest
    return {r: into.get(f, f) for r, f in predicted.items()}


def _stream(models: Models, seed: int, incidents: int
            ) -> tuple[Models, list[Report], dict[str, str]]:
    """The scenario's models (``scenario_models``), reports and truth."""
    reports: list[Report] = []
    truth: dict[str, str] = {}
    scenario = generate(seed, incidents)
    models = scenario_models(models, scenario)
    for report, message in normalized(models, scenario, models.addresses):
        reports.append(report)
        truth[report.report_id] = message.truth.incident_id
    return models, reports, truth


def main(argv: list[str] | None = None) -> int:
    args, models = stream_options(__doc__, argv)
    say(f"merge fragments: seed {args.seed}, {args.incidents} incidents")
    models, reports, truth = _stream(models, args.seed, args.incidents)
    predicted = match(models, reports)
    missed = missed_pairs(reports, predicted, truth)
    total = sum(missed.values())
    print(f"true pairs put apart: {total}, by the later report's sort")
    for sort, count in missed.most_common():
        print(f"  {count:7d} {count / total:6.1%}  {sort}")
    split = fragments(predicted, truth)
    print(f"true incidents by fragments (up to {MOST_FRAGMENTS}): "
          f"{split['split_into']}; fragments of split ones: {split['pure']} pure, "
          f"{split['impure']} impure")
    oracles: dict[str, Callable[[Report], bool]] = {
        "any": lambda r: True,
        "not_post": lambda r: r.channel != "social",
        "no_fix_not_post": lambda r: not r.has_point and r.channel != "social",
        "no_place_not_post": lambda r: (not r.has_point and not r.address.strip()
                                        and r.channel != "social"),
    }
    figures: dict[str, Any] = {"seed": args.seed, "missed_pairs": total,
                               "incident_f1": round(pairwise_scores(predicted,
                                                                    truth).f1, 4),
                               **split}
    for name, opened_by in oracles.items():
        scores = pairwise_scores(oracle_merge(reports, predicted, truth, opened_by),
                                 truth)
        figures[f"oracle_{name}_f1"] = round(scores.f1, 4)
        print(f"  pure fragments opened by {name} merged: F1 {scores.f1:.4f} "
              f"(P {scores.precision:.4f} R {scores.recall:.4f})")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
