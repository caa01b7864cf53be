"""The surge detector on the Numenta Anomaly Benchmark and on a real blizzard.

1. **NAB.** The detector the surge stage runs (``pipeline/anomaly.py``, with
   the settings of ``models/surge.yaml``) reads every NAB series as a stream,
   one value at a time. Two settings differ, because NAB's series are not
   counts of reports: values are read on the ``auto`` scale (counts stay on
   the Anscombe scale, anything else is a value) and a drop is flagged as well
   as a jump (``both``). Its output, 1 where it flags and 0 elsewhere, is
   written in NAB's results layout under ``--out`` (default
   ``var/nab/results``: ``intakeSurge/<category>/intakeSurge_<series>.csv``)
   and scored by ``pipeline/nab.py`` under NAB's three profiles. The same
   scorer re-scores NAB's published windowed-Gaussian output as a check.
2. **Blizzard.** The Montgomery County log is normalised as the pipeline
   does and its reports counted per area and discipline (and ``ALL``) in the
   surge stage's own ``SurgeMonitor``, in event-time order, then flushed.
   The storm (Winter Storm Jonas, 2016-01-22 to 2016-01-24 local time) is
   judged on ``ALL|Traffic``: its *onset* is the first storm window whose
   count is above the 99th percentile of that key's windows outside the
   storm; the *lag* runs from the onset window's start to the start of the
   first window flagged as a surge on any Traffic key in the storm, in window
   lengths (``blizzard_lag_windows``) and in hops (negative: flagged before
   the onset). Every surge outside the storm counts as a false flag here (an upper
   bound: some are real events), per area and day of the log.

The last line is one JSON object: ``nab_standard``, ``nab_low_fp``,
``nab_low_fn``, ``blizzard_lag_windows``, ``false_flags_per_area_day`` and the
figures behind them.

    make eval-nab                     # python -m benchmarks.nab_eval
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from datetime import UTC, datetime
from multiprocessing import Pool
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agents.cli import DEMO_LOG
from agents.replay import FORMATS, envelopes, read_rows
from agents.resources import Models, load_models
from agents.settings import ROOT
from benchmarks.workload import say
from pipeline.anomaly import DetectorParams, StreamDetector
from pipeline.nab import (
    Series,
    load_profiles,
    load_windows,
    read_data,
    read_results_dir,
    score_corpus,
    write_series_csv,
)
from pipeline.normalize import normalize
from pipeline.schema import Report
from pipeline.surge import SURGE, ClosedWindow, SurgeMonitor, surge_keys

NAB_ROOT = ROOT.parent / "shared" / "data" / "nab"
MONTGOMERY = (ROOT.parent / "shared" / "data" / "montgomery_911"
              / "calls_2015-12-10_to_2016-05-31.csv")
DETECTOR = "intakeSurge"
PUBLISHED = "windowedGaussian"
EASTERN = ZoneInfo("America/New_York")
STORM = (datetime(2016, 1, 22, tzinfo=EASTERN), datetime(2016, 1, 24, tzinfo=EASTERN))
PROFILE_NAMES = {"standard": "nab_standard", "reward_low_FP_rate": "nab_low_fp",
                 "reward_low_FN_rate": "nab_low_fn"}


def nab_params(models_dir: Path) -> DetectorParams:
    """The surge stage's detector, reading NAB's values (see the docstring)."""
    surge = load_models(models_dir).surge.detector
    return replace(surge, scale="auto", direction="both")


def _flags(job: tuple[DetectorParams, list[float]]) -> list[float]:
    params, values = job
    detector = StreamDetector(params)
    return [1.0 if detector.update(value).flagged else 0.0 for value in values]


def run_nab(nab_root: Path, out_dir: Path, params: DetectorParams,
            workers: int) -> dict[str, Any]:
    data = read_data(nab_root)
    windows = load_windows(nab_root)
    profiles = load_profiles(nab_root)
    keys = sorted(data)
    started = time.monotonic()
    results: dict[str, Series] = {}
    with Pool(workers) as pool:
        jobs = [(params, data[key][1]) for key in keys]
        for done, (key, flags) in enumerate(
                zip(keys, pool.imap(_flags, jobs), strict=True), 1):
            timestamps, values = data[key]
            write_series_csv(out_dir, DETECTOR, key, timestamps, values, flags,
                             windows.get(key, []))
            results[key] = Series(timestamps, flags)
            if done % 10 == 0 or done == len(keys):
                say(f"nab: {done}/{len(keys)} series "
                    f"({time.monotonic() - started:.0f} s)")
    scores = score_corpus(results, windows, profiles)
    figures: dict[str, Any] = {}
    for profile, name in PROFILE_NAMES.items():
        result = scores[profile]
        figures[name] = round(result.score, 2)
        say(f"nab {profile}: {result.score:.2f} (windows hit {result.tp}, "
            f"missed {result.fn}, false alarms {result.fp})")
    figures["nab_windows_hit"] = scores["standard"].tp
    figures["nab_windows_missed"] = scores["standard"].fn
    figures["nab_false_alarms"] = scores["standard"].fp
    figures["nab_rows"] = sum(len(values) for _, values in data.values())
    figures["nab_seconds"] = round(time.monotonic() - started, 1)
    published_dir = nab_root / "results"
    if (published_dir / PUBLISHED).is_dir():
        check = score_corpus(read_results_dir(published_dir, PUBLISHED), windows,
                             profiles)
        figures["scorer_check_windowed_gaussian"] = [
            round(check[profile].score, 2) for profile in PROFILE_NAMES]
    return figures


def report_counts(log: Path, models: Models) -> list[tuple[int, str]]:
    """(event ms, surge key) of each report, as normalize sends them."""
    fmt = FORMATS["montgomery_pa"]
    rows = read_rows(log)
    counts: list[tuple[int, str]] = []
    # Received now, as a replay's are: an old event time is plausible then.
    received_ms = int(time.time() * 1000)
    for value in envelopes(rows, fmt):
        report = normalize(value, "cad", received_ms, models.normalize)
        if not isinstance(report, Report):
            continue
        counts.extend((report.event_ms, key) for key in surge_keys(report))
    counts.sort()
    return counts


def run_blizzard(log: Path, models_dir: Path) -> dict[str, Any]:
    models = load_models(models_dir)
    started = time.monotonic()
    counts = report_counts(log, models)
    if not counts:
        raise SystemExit(f"{log}: no reports to count (is it a Montgomery log?)")
    say(f"blizzard: {len(counts):,} counts from {log.name} "
        f"({time.monotonic() - started:.0f} s)")
    monitor = SurgeMonitor(models.surge)
    closed: list[ClosedWindow] = []
    for index, (event_ms, key) in enumerate(counts):
        closed += monitor.add(key, event_ms, (index, 0))
        if index % 50_000 == 0 and index:
            say(f"blizzard: {index:,}/{len(counts):,} counted "
                f"({time.monotonic() - started:.0f} s)")
    closed += monitor.flush()
    storm_ms = [int(moment.timestamp() * 1000) for moment in STORM]
    hop_ms = models.surge.step_s * 1000

    def in_storm(window: ClosedWindow) -> bool:
        return storm_ms[0] <= window.start_ms < storm_ms[1]

    county = [w for w in closed if w.key == "ALL|Traffic"]
    outside = sorted(w.count for w in county if not in_storm(w))
    # Windows with no reports are not closed one by one: they are zeros here.
    quiet = max(0, (counts[-1][0] - counts[0][0]) // hop_ms - len(county))
    outside = [0] * quiet + outside
    limit = outside[min(len(outside) - 1, math.ceil(0.99 * len(outside)) - 1)]
    onset = next((w for w in sorted(county, key=lambda w: w.start_ms)
                  if in_storm(w) and w.count > limit), None)
    storm_flags = sorted((w for w in closed if w.status == SURGE and in_storm(w)
                          and w.key.endswith("|Traffic")), key=lambda w: w.start_ms)
    lag = lag_hops = None
    if onset is not None and storm_flags:
        lag_ms = storm_flags[0].start_ms - onset.start_ms
        lag = round(lag_ms / (models.surge.window_s * 1000), 2)
        lag_hops = lag_ms // hop_ms
    areas = {w.key.split("|", 1)[0] for w in closed}
    span_days = (counts[-1][0] - counts[0][0]) / 86_400_000
    rest_days = span_days - (storm_ms[1] - storm_ms[0]) / 86_400_000
    false_flags = [w for w in closed if w.status == SURGE and not in_storm(w)]
    figures: dict[str, Any] = {
        "blizzard_lag_windows": lag,
        "blizzard_lag_hops": lag_hops,
        "blizzard_onset": _local(onset.start_ms) if onset else None,
        "blizzard_onset_count": onset.count if onset else None,
        "blizzard_threshold_count": limit,
        "blizzard_first_flag": _described(storm_flags[0]) if storm_flags else None,
        "blizzard_flags": len(storm_flags),
        "blizzard_flagged_keys": [f"{w.key} {_local(w.start_ms)} ({w.count})"
                                  for w in storm_flags],
        "false_flags": len(false_flags),
        "false_flags_per_area_day": round(len(false_flags)
                                          / (len(areas) * rest_days), 5),
        "areas": len(areas),
        "log_days": round(span_days, 1),
        "windows_closed": len(closed),
        "late_events": monitor.late_total,
        "blizzard_seconds": round(time.monotonic() - started, 1),
    }
    say(f"blizzard: onset {figures['blizzard_onset']} "
        f"({figures['blizzard_onset_count']} traffic reports county-wide, above "
        f"{limit}); first flag {figures['blizzard_first_flag']}; lag {lag} windows "
        f"({lag_hops} hops)")
    say(f"outside the storm: {len(false_flags)} flags over {len(areas)} areas and "
        f"{rest_days:.0f} days = {figures['false_flags_per_area_day']} per area-day")
    return figures


def _described(window: ClosedWindow) -> str:
    return (f"{window.key} {_local(window.start_ms)} ({window.count} reports, "
            f"expected <= {window.expected_high})")


def _local(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(EASTERN).strftime(
        "%Y-%m-%d %H:%M %Z")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab-root", type=Path, default=NAB_ROOT)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "nab" / "results")
    parser.add_argument("--log", type=Path, default=None,
                        help="Montgomery County log (default: the shared copy, "
                             "else the one shipped for the demo)")
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not (args.nab_root / "labels" / "combined_windows.json").is_file():
        parser.error(f"no NAB copy at {args.nab_root} (--nab-root)")
    log = args.log or (MONTGOMERY if MONTGOMERY.is_file() else DEMO_LOG)

    params = nab_params(args.models)
    say(f"detector: {params}")
    figures = run_nab(args.nab_root, args.out, params, args.workers)
    say(f"results in NAB's layout: {args.out / DETECTOR} (re-score: python -m "
        f"benchmarks.nab_score {args.out} {DETECTOR})")
    figures.update(run_blizzard(log, args.models))
    figures["results_dir"] = str(args.out)
    figures["detector"] = DETECTOR
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
