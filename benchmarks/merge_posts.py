"""Where social posts lose incident pairs: by the gate's verdict, the post's
truth and the place it gives.

Runs the generated stream through the gate and the matcher as ``merge_eval``
does and sorts every post by

- its truth: about an incident, or about none (``no_emergency``);
- the relevance gate's verdict: passed, or held (``not_an_emergency``);
- the place it gives: a town of ``models/places.yaml`` (``town``), or only
  one the gazetteer does not hold, such as the county (``no town``);
- what the matcher made of it: ``with its own`` (its incident holds reports
  of its true incident and none of another), ``mixed`` (of both), ``wrong``
  (only of another), ``alone`` (nothing else).

For each sort it counts the posts and the true pairs with a post in them
that were missed, and the predicted pairs that are wrong; a pair of two
posts is counted with each of them. Prints a table; the last line is one
JSON object.

    python -m benchmarks.merge_posts [--seed S] [--incidents N]
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from agents.resources import Models
from benchmarks.merge_eval import match, normalized, scenario_models
from benchmarks.scenario import generate, stream_options
from benchmarks.workload import say
from pipeline.schema import Report
from pipeline.social import NOT_AN_EMERGENCY

#: The role of a generated post about no emergency (scenario step 9).
NO_EMERGENCY = "no_emergency"


def outcome(own: int, others: int) -> str:
    """What the matcher made of a post whose incident holds ``own`` other
    reports of its true incident and ``others`` of other ones.

    >>> outcome(2, 0), outcome(2, 1), outcome(0, 3), outcome(0, 0)
    ('with its own', 'mixed', 'wrong', 'alone')
    """
    if own and others:
        return "mixed"
    if own:
        return "with its own"
    return "wrong" if others else "alone"


def posts(models: Models, seed: int, incidents: int) -> dict[str, Any]:
    scenario = generate(seed, incidents)
    role = {i.incident_id: i.role for i in scenario.incidents}
    reports: list[Report] = []
    truth: dict[str, str] = {}
    models = scenario_models(models, scenario)
    for report, message in normalized(models, scenario, models.addresses):
        reports.append(report)
        truth[report.report_id] = message.truth.incident_id
    predicted = match(models, reports)

    # How many reports of each true incident every predicted one holds.
    holds: dict[str, Counter[str]] = defaultdict(Counter)
    for report in reports:
        holds[predicted[report.report_id]][truth[report.report_id]] += 1
    true_size = Counter(truth.values())

    counts: Counter[tuple[str, ...]] = Counter()
    missed: Counter[tuple[str, ...]] = Counter()
    wrong: Counter[tuple[str, ...]] = Counter()
    for report in reports:
        if report.channel != "social":
            continue
        mine = truth[report.report_id]
        held = holds[predicted[report.report_id]]
        own = held[mine] - 1
        others = held.total() - held[mine]
        town = models.places.find(report.source, report.address) is not None
        sort = ("about none" if role[mine] == NO_EMERGENCY else "about one",
                "held" if NOT_AN_EMERGENCY in report.flags else "passed",
                "town" if town else "no town", outcome(own, others))
        counts[sort] += 1
        missed[sort] += true_size[mine] - 1 - own
        wrong[sort] += others
    rows = [{"truth": s[0], "gate": s[1], "place": s[2], "outcome": s[3],
             "posts": counts[s], "missed_pairs": missed[s], "wrong_pairs": wrong[s]}
            for s in sorted(counts)]
    return {"posts": sum(counts.values()), "missed_pairs": sum(missed.values()),
            "wrong_pairs": sum(wrong.values()), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    args, models = stream_options(__doc__, argv)
    say(f"merge posts: generating from {args.incidents} incidents, seed {args.seed}")
    figures = posts(models, args.seed, args.incidents)
    print(f"{'truth':<11} {'gate':<7} {'place':<8} {'outcome':<13} {'posts':>6} "
          f"{'missed':>7} {'wrong':>6}")
    for row in figures["rows"]:
        print(f"{row['truth']:<11} {row['gate']:<7} {row['place']:<8} "
              f"{row['outcome']:<13} {row['posts']:>6} {row['missed_pairs']:>7} "
              f"{row['wrong_pairs']:>6}")
    print(f"{figures['posts']} posts; pairs with a post missed "
          f"{figures['missed_pairs']}, wrong {figures['wrong_pairs']} "
          "(a pair of two posts counted with each)")
    print(json.dumps({"seed": args.seed, **figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
