"""Issue 6's figures in one run: priority (``benchmarks/priority_eval.py``) and
social-post relevance and information type (``benchmarks/relevance_eval.py``).

Each part says its protocol in its own docstring: predict then learn, in time
or file order, with the baselines measured in the same run. The last line is
one JSON object with both parts' figures and, for each of the issue's
targets, whether it is met (``targets``).

    make eval-score                 # python -m benchmarks.score_eval
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from benchmarks import priority_eval, relevance_eval
from benchmarks.workload import say

SHARED_DATA = priority_eval.SHARED_DATA

#: The issue's targets: (figure, at least).
TARGETS = (
    ("priority_margin_sf_fire", 0.05),
    ("priority_margin_sf_police", 0.05),
    ("priority_with_taker_margin_sf_fire", 0.0),
    ("priority_with_taker_margin_sf_police", 0.0),
    ("relevance_f1_disaster_tweets", 0.75),
    ("relevance_f1_crisislex_cross_event", 0.80),
)


def run(shared_data_dir: Path, workers: int = 2) -> dict[str, Any]:
    started = time.monotonic()
    figures: dict[str, Any] = {}
    say("priority: SF fire and police, progressive")
    figures.update(priority_eval.run(shared_data_dir))
    say("relevance and information type")
    figures.update(relevance_eval.run(shared_data_dir, workers))
    figures["targets"] = {name: figures.get(name, float("nan")) >= least
                          for name, least in TARGETS}
    figures["seconds_total"] = round(time.monotonic() - started, 1)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA,
                        help="the shared data directory")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"no shared data at {args.data} (--data)")
    print(json.dumps(run(args.data, args.workers)), flush=True)


if __name__ == "__main__":
    main()
