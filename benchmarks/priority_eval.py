"""How well the online priority model predicts the dispatcher's final priority.

Progressive validation (predict, then learn) in time order over each San
Francisco file (``../shared/data/README.md``):

- ``sf_fire``: the SFFD unit dispatches; one call has several unit rows, the
  call's first row stands for it and ``Final Priority`` (2 or 3) is its label.
  Unit type, ALS flag, alarms and disposition come from the response, not the
  report, so they are not features;
- ``sf_police``: the SFPD sample; ``priority_final`` (A/B/C) is the label.
  Its district and neighbourhood are not features: DataSF blanks every place
  of a "sensitive" call, and that flag follows the *final* call type (it
  matches it on 98.8% of calls, the original type on 94.3%), so a blank place
  would smuggle the dispatcher's reclassification into the report. Whether
  an officer saw it himself (``onview_flag``) is known at once and is kept.

Two variants, each against its baseline in the same pass:

- from the report alone (type, words, place, time) against the per-call-type
  majority, itself learnt progressively. Apart: the same plus the entry delay
  (receipt to CAD entry), which is known before dispatch but is a trace of the
  call-taker's work, so it is not in the headline figures; and the same plus
  the recent outcomes of the type at that hour band and place
  (``PriorityModel(backoff_alpha=)``, ``priority_with_backoff_*``), known at
  report time but within half a point of the headline either way, so not it.
  ``benchmarks/priority_bound.py`` shows how little any report-time key adds;
- with the call-taker's original priority known, against keeping it (and
  against keeping it with legacy codes read as their usual final level); upgrades
  are calls whose final priority is more urgent than the taker's.

Prints the figures; the last line is one JSON object.

    python -m benchmarks.priority_eval [--data DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.classify import macro_f1
from benchmarks.workload import say
from pipeline.cad_sources import SF_TIME
from pipeline.priority_model import CallFacts, PriorityModel

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FIRE_CSV = "sf_fire_calls/sffd_unit_dispatches_2016-12-31_to_2017-01-04.csv"
POLICE_CSV = "sf_police_dispatched_calls_sample/sfpd_dispatched_calls_random_sample.csv"
#: Pseudo-calls of the type's own shares that the hour and place back-off
#: starts from (``PriorityModel.backoff_alpha``).
BACKOFF_ALPHA = 5.0
FIRE_LEVELS = ("2", "3")  # 2 is the more urgent (lights and siren)
POLICE_LEVELS = ("A", "B", "C")


def _local(stamp: str) -> datetime:
    """The wall-clock time as written; the hour of day is what matters here."""
    return datetime.strptime(stamp, SF_TIME)  # noqa: DTZ007 - local by design


def _entry_delay_s(received: datetime, entry: str) -> float | None:
    """How long the call-taker took to put the call into CAD, if written."""
    return (_local(entry) - received).total_seconds() if entry.strip() else None


def fire_calls(path: Path) -> Iterator[tuple[CallFacts, str]]:
    """One (facts, final priority) per call, in the file's (time) order."""
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Call Number"] in seen:
                continue
            seen.add(row["Call Number"])
            received = _local(row["Received DtTm"])
            places = (("zip", row["Zipcode of Incident"]),
                      ("battalion", row["Battalion"]),
                      ("station", row["Station Area"]),
                      ("neighbourhood", row["Neighborhood  District"]))
            yield CallFacts(row["Call Type"], "", places, received.hour,
                            received.weekday(), row["Original Priority"],
                            _entry_delay_s(received, row["Entry DtTm"])), \
                row["Final Priority"]


def police_calls(path: Path) -> Iterator[tuple[CallFacts, str]]:
    """One (facts, final priority) per SFPD call, in received order."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle),
                      key=lambda r: _local(r["received_datetime"]))
    for row in rows:
        received = _local(row["received_datetime"])
        call_type = row["call_type_original_desc"] or row["call_type_original"]
        # No district or neighbourhood: blank exactly when the call was deemed
        # sensitive, which follows the final type (module docstring).
        places = (("onview", row["onview_flag"]),)
        yield CallFacts(call_type, row["call_type_original_notes"], places,
                        received.hour, received.weekday(),
                        row["priority_original"],
                        _entry_delay_s(received, row["entry_datetime"])), \
            row["priority_final"]


class TypeMajority:
    """The baseline: the final level seen most often for the call type so far."""

    def __init__(self) -> None:
        self.counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.overall: Counter[str] = Counter()

    def predict_one(self, call_type: str) -> str | None:
        counts = self.counts.get(call_type) or self.overall
        return counts.most_common(1)[0][0] if counts else None

    def learn_one(self, call_type: str, final: str) -> None:
        self.counts[call_type][final] += 1
        self.overall[final] += 1


def evaluate(name: str, calls: list[tuple[CallFacts, str]],
             levels: tuple[str, ...]) -> dict[str, Any]:
    """Both variants and both baselines over one file, predict then learn."""
    alone, with_taker = PriorityModel(levels), PriorityModel(levels, True)
    with_entry = PriorityModel(levels)
    with_backoff = PriorityModel(levels, backoff_alpha=BACKOFF_ALPHA)
    majority = TypeMajority()
    # A legacy taker code (SFPD's 1/2/3/E/I) read as its usual final level so far.
    legacy = TypeMajority()
    keys = ("ours", "with_entry", "with_backoff", "majority", "taker_ours",
            "taker_kept", "taker_mapped")
    pairs: dict[str, list[tuple[str, str | None]]] = {key: [] for key in keys}
    rank = {level: i for i, level in enumerate(levels)}
    upgrades = caught = introduced = changed = changed_right = 0

    for timed, final in calls:
        # The headline variants never see the entry delay; one model does.
        facts = replace(timed, entry_delay_s=None)
        taker, ours = facts.taker_priority, with_taker.predict_one(facts).priority
        guesses = {
            "ours": alone.predict_one(facts).priority,
            "with_entry": with_entry.predict_one(timed).priority,
            "with_backoff": with_backoff.predict_one(facts).priority,
            "majority": majority.predict_one(facts.call_type),
            "taker_ours": ours,
            "taker_kept": facts.taker_priority,
            "taker_mapped": facts.taker_priority if facts.taker_priority in rank
            else legacy.predict_one(facts.taker_priority),
        }
        for key, guess in guesses.items():
            pairs[key].append((final, guess))

        if taker in rank:
            if rank[final] < rank[taker]:
                upgrades += 1
                caught += ours == final
            elif rank[ours] < rank[taker]:
                introduced += 1
            if ours != taker:
                changed += 1
                changed_right += ours == final

        alone.learn_one(facts, final)
        with_entry.learn_one(timed, final)
        with_backoff.learn_one(facts, final)
        with_taker.learn_one(facts, final)
        majority.learn_one(facts.call_type, final)
        legacy.learn_one(facts.taker_priority, final)

    figure = {key: (round(sum(t == g for t, g in got) / len(got), 4),
                    round(macro_f1([(g, t) for t, g in got], levels), 4))
              for key, got in pairs.items()}
    return {
        f"priority_calls_{name}": len(calls),
        f"priority_acc_{name}": figure["ours"][0],
        f"priority_macro_f1_{name}": figure["ours"][1],
        f"priority_majority_acc_{name}": figure["majority"][0],
        f"priority_majority_macro_f1_{name}": figure["majority"][1],
        f"priority_margin_{name}": round(figure["ours"][0] - figure["majority"][0], 4),
        f"priority_with_entry_acc_{name}": figure["with_entry"][0],
        f"priority_with_entry_macro_f1_{name}": figure["with_entry"][1],
        f"priority_with_entry_margin_{name}": round(
            figure["with_entry"][0] - figure["majority"][0], 4),
        f"priority_with_backoff_acc_{name}": figure["with_backoff"][0],
        f"priority_with_backoff_macro_f1_{name}": figure["with_backoff"][1],
        f"priority_with_backoff_margin_{name}": round(
            figure["with_backoff"][0] - figure["majority"][0], 4),
        f"priority_with_taker_acc_{name}": figure["taker_ours"][0],
        f"priority_with_taker_macro_f1_{name}": figure["taker_ours"][1],
        f"priority_taker_kept_acc_{name}": figure["taker_kept"][0],
        f"priority_taker_kept_macro_f1_{name}": figure["taker_kept"][1],
        f"priority_with_taker_margin_{name}": round(
            figure["taker_ours"][0] - figure["taker_kept"][0], 4),
        f"priority_taker_mapped_acc_{name}": figure["taker_mapped"][0],
        f"priority_with_taker_margin_mapped_{name}": round(
            figure["taker_ours"][0] - figure["taker_mapped"][0], 4),
        f"priority_upgrades_{name}": upgrades,
        f"priority_upgrades_caught_{name}": caught,
        f"priority_upgrades_introduced_wrongly_{name}": introduced,
        f"priority_taker_changed_{name}": changed,
        f"priority_taker_changed_right_{name}": changed_right,
    }


def run(shared_data_dir: Path | str = SHARED_DATA) -> dict[str, Any]:
    """The figures of both SF files."""
    data = Path(shared_data_dir)
    figures: dict[str, Any] = {}
    for name, reader, path, levels in (
            ("sf_fire", fire_calls, data / FIRE_CSV, FIRE_LEVELS),
            ("sf_police", police_calls, data / POLICE_CSV, POLICE_LEVELS)):
        started = time.monotonic()
        calls = list(reader(path))
        result = evaluate(name, calls, levels)
        figures.update(result)
        say(f"{name}: {len(calls)} calls in {time.monotonic() - started:.1f} s")
        say(f"  report alone: acc {result[f'priority_acc_{name}']} macro-F1 "
            f"{result[f'priority_macro_f1_{name}']}; per-type majority acc "
            f"{result[f'priority_majority_acc_{name}']} macro-F1 "
            f"{result[f'priority_majority_macro_f1_{name}']}; margin "
            f"{result[f'priority_margin_{name}']:+.4f}")
        say(f"  report + entry delay: acc {result[f'priority_with_entry_acc_{name}']}"
            f" macro-F1 {result[f'priority_with_entry_macro_f1_{name}']}; margin "
            f"{result[f'priority_with_entry_margin_{name}']:+.4f}")
        say(f"  report + hour/place back-off: acc "
            f"{result[f'priority_with_backoff_acc_{name}']} macro-F1 "
            f"{result[f'priority_with_backoff_macro_f1_{name}']}; margin "
            f"{result[f'priority_with_backoff_margin_{name}']:+.4f}")
        say(f"  taker known: acc {result[f'priority_with_taker_acc_{name}']}; "
            f"keeping it {result[f'priority_taker_kept_acc_{name}']}; margin "
            f"{result[f'priority_with_taker_margin_{name}']:+.4f}; keeping it with "
            f"legacy codes mapped {result[f'priority_taker_mapped_acc_{name}']}, "
            f"margin {result[f'priority_with_taker_margin_mapped_{name}']:+.4f}")
        say(f"  upgrades "
            f"{result[f'priority_upgrades_caught_{name}']} of "
            f"{result[f'priority_upgrades_{name}']} caught, "
            f"{result[f'priority_upgrades_introduced_wrongly_{name}']} introduced "
            f"wrongly")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA,
                        help="the shared data directory")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.data)), flush=True)


if __name__ == "__main__":
    main()
