"""What the score step costs per record: the rules alone, and with the model.

The first N rows of the Montgomery log go through normalize and dedupe (the
domain code, no broker) into incident changes as the score step receives them
(decoded from JSON). Each is then scored, timed per record:

1. ``rules``: ``PriorityScorer.score`` alone (the step before the model);
2. ``with_model_untrained``: ``LearnedScorer.score``, no outcome learnt yet;
3. ``with_model_trained``: the same after the model learnt one outcome per
   incident (the log has no dispatcher priorities: each outcome is the rules'
   priority, one level up for every third incident, so the model's weights
   are as dense as real outcomes would make them; only the cost is measured).

It also times ``learn`` per outcome and ``pack`` per snapshot, with its size.
The last line is one JSON object.

    python -m benchmarks.score_cost [--reports 20000]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import orjson

from agents.feeds import shared_feeds
from agents.resources import load_models
from agents.settings import Settings
from benchmarks.workload import say
from pipeline.dedupe import IncidentMatcher
from pipeline.learned_score import pack
from pipeline.normalize import normalize
from pipeline.regions import Region, region_key
from pipeline.schema import Report

RECEIVED_MS = 1_464_000_000_000


def incident_changes(limit: int) -> list[dict[str, Any]]:
    """The score step's input for the log's first ``limit`` rows."""
    models = load_models(Settings.from_env().models_dir)
    matcher = IncidentMatcher(models.kinds, models.match, models.places)
    regions: dict[str, Region] = {}
    feed = next(f for f in shared_feeds() if f.name == "montgomery_pa")
    changes = []
    for _, value in feed.messages(limit):
        report = normalize(value, "cad", RECEIVED_MS, models.normalize)
        if not isinstance(report, Report):
            continue
        key = region_key(report)
        change = matcher.apply(regions.setdefault(key, Region(key)), report)
        changes.append(orjson.loads(orjson.dumps(change.to_dict())))
    return changes


def per_record_us(records: list[dict[str, Any]],
                  work: Callable[[dict[str, Any]], object], rounds: int = 3) -> float:
    """Best of ``rounds`` passes, microseconds per record."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for record in records:
            work(record)
        best = min(best, time.perf_counter() - started)
    return round(best / len(records) * 1e6, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    args = parser.parse_args(argv)

    say(f"building the incident changes of {args.reports:,} rows")
    records = incident_changes(args.reports)
    models = load_models(Settings.from_env().models_dir)
    rules, learned = models.scorer, models.learned
    figures: dict[str, Any] = {"records": len(records)}

    figures["rules_us"] = per_record_us(
        records, lambda r: rules.score(r["kind"], r["texts"], r["report_count"]))
    model = learned.new_model()
    figures["with_model_untrained_us"] = per_record_us(
        records, lambda r: learned.score(r, model))

    facts = [learned.score(r, model)[2] for r in records]
    started = time.perf_counter()
    for index, fact in enumerate(facts):
        final = fact[7] - 1 if index % 3 == 0 and fact[7] > 1 else fact[7]
        learned.learn(model, fact, final)
    figures["learn_us"] = round((time.perf_counter() - started) / len(facts) * 1e6, 2)
    figures["with_model_trained_us"] = per_record_us(
        records, lambda r: learned.score(r, model))
    started = time.perf_counter()
    packed = pack(model)
    figures["pack_ms"] = round((time.perf_counter() - started) * 1000, 1)
    figures["snapshot_bytes"] = len(orjson.dumps(packed))
    figures["weights"] = sum(len(w) for w in model.classifier.weights.values())
    for name, value in figures.items():
        say(f"{name:>28}: {value}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
