"""Score a detector's output on the Numenta Anomaly Benchmark, as NAB v1.1 does.

The output is a results folder in NAB's layout
(``<results_dir>/<detector>/<category>/<detector>_<file>.csv``, columns
timestamp, anomaly_score at least). Labels and profiles come from the NAB copy in
``../shared/data/nab`` (``--nab-root`` to change). Per profile it prints the
threshold found, windows hit and missed, false alarms and the time scoring took
(on stderr); the last line is one JSON object of the three normalised scores,
shaped like NAB's ``final_results.json`` entry.

    python -m benchmarks.nab_score ../shared/data/nab/results windowedGaussian
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from agents.settings import ROOT
from benchmarks.workload import say
from pipeline.nab import load_profiles, load_windows, read_results_dir, score_corpus

NAB_ROOT = ROOT.parent / "shared" / "data" / "nab"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("detector")
    parser.add_argument("--nab-root", type=Path, default=NAB_ROOT)
    args = parser.parse_args(argv)

    if not (args.nab_root / "labels" / "combined_windows.json").is_file():
        parser.error(f"no NAB copy at {args.nab_root} (--nab-root)")
    results = read_results_dir(args.results_dir, args.detector)
    if not results:
        parser.error(f"no {args.detector}_*.csv under "
                     f"{args.results_dir / args.detector}/<category>/")
    windows = load_windows(args.nab_root)
    profiles = load_profiles(args.nab_root)

    started = time.perf_counter()
    scores = score_corpus(results, windows, profiles)
    elapsed_s = time.perf_counter() - started

    rows = sum(len(series.scores) for series in results.values())
    say(f"{args.detector}: {len(results)} series, {rows} rows, "
        f"scored in {elapsed_s:.2f} s")
    for name, result in scores.items():
        say(f"  {name}: {result.score:.2f} (raw {result.raw:.3f}, threshold "
            f"{result.threshold}, windows hit {result.tp} missed {result.fn}, "
            f"false alarms {result.fp})")
    print(json.dumps({name: scores[name].score for name in sorted(scores)}))


if __name__ == "__main__":
    main()
