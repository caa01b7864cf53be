"""How far a report-time key can get on the SF priority files: issue 6's bound.

Issue 6 asks the priority from the report alone to beat the per-call-type
majority (learnt progressively) by 5 points of accuracy. This measures, per
file, what a lookup on each key can reach when it may see the *whole* file,
future calls included:

- ``hindsight``: each key value predicts its most frequent final level over
  the whole file, scored on the same calls. It is optimistic by construction
  (a key seen once is always right), so for keys with many values it says
  nothing; for the type (16 or 157 values) it is a fair Bayes-rate estimate;
- ``held_out``: leave-one-out: each call is predicted by the most frequent
  level among the *other* calls with its key value, backing off to its call
  type when it has none. It still uses the future, so an online learner that
  only has the past is not expected to beat it; it is the honest ceiling of
  a key.

Keys marked ``triage`` encode the call-taker's or dispatcher's later work
(SFFD's call type group, SFPD's final call type, the sensitive flag that
follows it) and are shown only to say that the labels are learnable when that
work is known. The target is the online per-type majority plus 0.05.

Prints a table; the last line is one JSON object.

    python -m benchmarks.priority_bound [--data DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.priority_eval import (
    FIRE_CSV,
    POLICE_CSV,
    SHARED_DATA,
    TypeMajority,
    _local,
)
from benchmarks.workload import say

Row = dict[str, str]
Key = Callable[[Row], Any]


def _first_rows(path: Path) -> list[Row]:
    """SFFD: each call's first unit row, in received order."""
    calls: dict[str, Row] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            calls.setdefault(row["Call Number"], row)
    return list(calls.values())


def _police_rows(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        return sorted(csv.DictReader(handle),
                      key=lambda r: _local(r["received_datetime"]))


def _best(counts: Counter[str]) -> str:
    """The most frequent level; ties to the alphabetically first (the more
    urgent on both SF scales), so the figure does not depend on dict order."""
    return min(counts, key=lambda level: (-counts[level], level))


def online_majority(rows: list[Row], label: str, kind: Callable[[Row], str]) -> float:
    """The issue's baseline exactly as ``priority_eval`` runs it (its type key,
    its tie rule): per-type majority so far, predict then learn."""
    majority, right = TypeMajority(), 0
    for row in rows:
        right += majority.predict_one(kind(row)) == row[label]
        majority.learn_one(kind(row), row[label])
    return right / len(rows)


def hindsight(rows: list[Row], label: str, key: Key) -> tuple[int, float]:
    """Distinct key values, and accuracy of each value's majority on itself."""
    by_key: defaultdict[Any, Counter[str]] = defaultdict(Counter)
    for row in rows:
        by_key[key(row)][row[label]] += 1
    return len(by_key), sum(max(c.values()) for c in by_key.values()) / len(rows)


def held_out(rows: list[Row], label: str, key: Key, kind: Key) -> float:
    """Leave-one-out accuracy of the key's majority, backing off to the type."""
    by_key: defaultdict[Any, Counter[str]] = defaultdict(Counter)
    by_type: defaultdict[Any, Counter[str]] = defaultdict(Counter)
    for row in rows:
        by_key[key(row)][row[label]] += 1
        by_type[kind(row)][row[label]] += 1
    right = 0
    for row in rows:
        for table, value in ((by_key, key(row)), (by_type, kind(row))):
            others = table[value] - Counter({row[label]: 1})
            if others:
                right += _best(others) == row[label]
                break
    return right / len(rows)


def _hour_band(stamp: str) -> int:
    return _local(stamp).hour // 3


def fire_keys() -> list[tuple[str, bool, Key]]:
    """(name, triage?, key) for SFFD; every key starts with the call type."""
    def kind(r: Row) -> str:
        return r["Call Type"]

    def with_col(col: str) -> Key:
        return lambda r: (kind(r), r[col])

    return [
        ("type", False, kind),
        ("type x hour band", False, lambda r: (
            kind(r), _hour_band(r["Received DtTm"]))),
        ("type x hour", False, lambda r: (kind(r), _local(r["Received DtTm"]).hour)),
        ("type x day", False, with_col("Call Date")),
        ("type x battalion", False, with_col("Battalion")),
        ("type x station area", False, with_col("Station Area")),
        ("type x zip", False, with_col("Zipcode of Incident")),
        ("type x neighbourhood", False, with_col("Neighborhood  District")),
        ("type x box", False, with_col("Box")),
        ("type x address", False, with_col("Address")),
        ("type x neighbourhood x hour band", False, lambda r: (
            kind(r), r["Neighborhood  District"], _hour_band(r["Received DtTm"]))),
        ("type x call type group", True, with_col("Call Type Group")),
    ]


def police_keys() -> list[tuple[str, bool, Key]]:
    """(name, triage?, key) for SFPD; the type is the original code."""
    def kind(r: Row) -> str:
        return r["call_type_original"]

    def with_col(col: str) -> Key:
        return lambda r: (kind(r), r[col])

    return [
        ("type", False, kind),
        ("type description", False, lambda r: r["call_type_original_desc"]),
        ("type x notes", False, with_col("call_type_original_notes")),
        ("type x on view", False, with_col("onview_flag")),
        ("type x hour band", False, lambda r: (kind(r), _hour_band(
            r["received_datetime"]))),
        ("type x year", False, lambda r: (kind(r), r["received_datetime"][6:10])),
        ("type x notes x on view", False, lambda r: (
            kind(r), r["call_type_original_notes"], r["onview_flag"])),
        ("type x sensitive (blank place)", True, with_col("sensitive_call")),
        ("final type", True, lambda r: r["call_type_final"]),
        ("type x final type", True, with_col("call_type_final")),
    ]


def bound(name: str, rows: list[Row], label: str, keys: list[tuple[str, bool, Key]],
          eval_type: Callable[[Row], str]) -> dict[str, Any]:
    """The table of one file, and its headline figures."""
    kind = keys[0][2]
    baseline = online_majority(rows, label, eval_type)
    say(f"{name}: {len(rows)} calls; online per-type majority {baseline:.4f}, "
        f"target {baseline + 0.05:.4f}")
    say(f"  {'key':38s} {'values':>6s} {'hindsight':>9s} {'held out':>8s}")
    best_held, best_key = 0.0, ""
    for key_name, triage, key in keys:
        values, seen = hindsight(rows, label, key)
        out = held_out(rows, label, key, kind)
        say(f"  {key_name + (' [triage]' if triage else ''):38s} {values:6d} "
            f"{seen:9.4f} {out:8.4f}")
        if not triage and out > best_held:
            best_held, best_key = out, key_name
    say(f"  best report-time key held out: {best_key} {best_held:.4f}, "
        f"{best_held - baseline:+.4f} over the baseline (target +0.05)")
    return {
        f"priority_bound_majority_acc_{name}": round(baseline, 4),
        f"priority_bound_target_acc_{name}": round(baseline + 0.05, 4),
        f"priority_bound_type_hindsight_acc_{name}": round(
            hindsight(rows, label, kind)[1], 4),
        f"priority_bound_best_held_out_acc_{name}": round(best_held, 4),
        f"priority_bound_best_held_out_key_{name}": best_key,
        f"priority_bound_best_held_out_margin_{name}": round(best_held - baseline, 4),
    }


def run(shared_data_dir: Path | str = SHARED_DATA) -> dict[str, Any]:
    """The bound figures of both SF files."""
    data = Path(shared_data_dir)
    figures = bound("sf_fire", _first_rows(data / FIRE_CSV), "Final Priority",
                    fire_keys(), lambda r: r["Call Type"])
    figures.update(bound(
        "sf_police", _police_rows(data / POLICE_CSV), "priority_final",
        police_keys(),
        lambda r: r["call_type_original_desc"] or r["call_type_original"]))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA,
                        help="the shared data directory")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.data)), flush=True)


if __name__ == "__main__":
    main()
