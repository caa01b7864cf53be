"""Where a report's CPU goes: worker, broker and domain code, against the chain.

The throughput target of issue 3 is a ratio to the plain five-hop chain. On a
machine of C cores that ratio R can be reached only if every process together
(workers, broker, load generator) spends at most ``C / (R x chain_rps)`` of CPU
per report. This run measures, on one embedded broker, with CPU time read from
``/proc`` (so a busy machine slows the run but hardly moves the figures):

1. the pipeline replaying N Montgomery rows as fast as it can on one worker:
   the worker's and the broker's CPU per report;
2. with ``py-spy`` installed (a dev dependency), the share of the worker's
   samples spent in domain code (a frame of ``pipeline/``), and so the domain
   code's CPU per report;
3. the plain chain of ``benchmarks/chain_app.py`` on the same N rows: its
   worker's and the broker's CPU per report, from its first send to its last
   arrival.

It prints the budget per report at ``--ratio`` (5) beside what the broker and
the domain code alone already take. Both runs are bound by CPU, so the ratio
of their rates follows the ratio of their CPU per report (``cpu_ratio``); the
same ratio with the worker cut down to its domain code
(``cpu_ratio_without_framework``) is the most any transport work can give with
the broker's cost as it is. It ends with one JSON line and never fails on
speed.

    python -m benchmarks.cpu_budget --reports 20000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agents.replay import read_rows, replay_rows
from benchmarks.throughput import FMT, bench_chain, publish_units
from benchmarks.workload import RUN_DIR, broker, montgomery_log, pipeline_workers, say

TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_HZ = 200


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def pids_with(word: bytes) -> list[int]:
    """Processes whose command line holds ``word``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if word in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def broker_pids(bootstrap: str) -> list[int]:
    """The embedded broker listening at ``bootstrap`` (none for a remote one)."""
    return [pid for pid in pids_with(f"tcp://{bootstrap}".encode())
            if b"tansu" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def domain_share(samples: Path) -> float | None:
    """Share of py-spy's raw samples with a ``pipeline/`` frame on the stack."""
    total = domain = 0
    for line in samples.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        if "(pipeline/" in stack:
            domain += int(count)
    return round(domain / total, 3) if total else None


class Sampler:
    """``py-spy record`` of one process while it runs, if py-spy is there."""

    def __init__(self, pid: int):
        self.pid = pid
        self.exe = shutil.which("py-spy") or shutil.which(
            "py-spy", path=str(Path(sys.executable).parent))
        self.out = Path(tempfile.mkdtemp(dir=RUN_DIR)) / "samples.txt"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Sampler:
        if self.exe:
            self.process = subprocess.Popen(
                [self.exe, "record", "--pid", str(self.pid), "--rate", str(SAMPLE_HZ),
                 "--format", "raw", "--output", str(self.out), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # attached before the load starts
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            # py-spy writes its samples when interrupted, as on Ctrl-C.
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)

    def share(self) -> float | None:
        return domain_share(self.out) if self.out.exists() else None


def measure_pipeline(bootstrap: str, rows: list[dict[str, str]]) -> dict[str, Any]:
    brokers = broker_pids(bootstrap)
    with pipeline_workers(bootstrap, 1) as running:
        worker = running.processes[0].pid
        publish_units(bootstrap, running.settings.models_dir, len(rows))
        with Sampler(worker) as sampler:
            worker_0, broker_0 = cpu_s(worker), sum(map(cpu_s, brokers))
            figures = replay_rows(bootstrap, FMT, rows, stall_s=120)
            worker_s = cpu_s(worker) - worker_0
            broker_s = sum(map(cpu_s, brokers)) - broker_0
    reports = len(rows)
    share = sampler.share()
    return {
        "pipeline_rps": figures["throughput_rps"],
        "worker_us_per_report": round(worker_s / reports * 1e6),
        "broker_us_per_report": round(broker_s / reports * 1e6) if brokers else None,
        "domain_share_of_worker": share,
        "domain_us_per_report": round(share * worker_s / reports * 1e6)
        if share is not None else None,
    }


class ChainMeter:
    """CPU of the chain's worker and of the broker, from first send to last arrival."""

    def __init__(self, bootstrap: str):
        self.brokers = broker_pids(bootstrap)
        self.chain: list[int] = []
        self.worker_s = self.broker_s = 0.0

    def start(self) -> None:
        self.chain = pids_with(b"benchmarks.chain_app")
        self.worker_s = -sum(map(cpu_s, self.chain))
        self.broker_s = -sum(map(cpu_s, self.brokers))

    def stop(self) -> None:
        self.worker_s += sum(map(cpu_s, self.chain))
        self.broker_s += sum(map(cpu_s, self.brokers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--ratio", type=float, default=5.0)
    args = parser.parse_args(argv)
    rows = read_rows(montgomery_log(), args.reports)
    reports = len(rows)
    RUN_DIR.mkdir(parents=True, exist_ok=True)

    with broker() as bootstrap:
        say(f"budget: broker at {bootstrap}; {reports} reports")
        figures: dict[str, Any] = {"reports": reports, "cores": os.cpu_count()}
        figures.update(measure_pipeline(bootstrap, rows))
        say(f"budget: pipeline {figures['pipeline_rps']} reports/s")
        meter = ChainMeter(bootstrap)
        chain = bench_chain(bootstrap, rows, meter=meter)
    figures["chain_rps"] = chain["chain_rps"]
    figures["chain_worker_us_per_report"] = round(meter.worker_s / reports * 1e6)
    figures["chain_broker_us_per_report"] = (
        round(meter.broker_s / reports * 1e6) if meter.brokers else None)
    cores = figures["cores"] or 1
    figures["ratio_asked"] = args.ratio
    figures["budget_us_per_report"] = round(
        cores * 1e6 / (args.ratio * chain["chain_rps"]))
    broker_us, domain_us = (figures["broker_us_per_report"],
                            figures["domain_us_per_report"])
    figures["broker_plus_domain_us"] = (
        broker_us + domain_us if broker_us is not None and domain_us is not None
        else None)

    if broker_us is not None and figures["chain_broker_us_per_report"] is not None:
        # Both runs are bound by CPU: their rates stand as their CPU per report.
        chain_us = figures["chain_worker_us_per_report"] + figures[
            "chain_broker_us_per_report"]
        pipeline_us = figures["worker_us_per_report"] + broker_us
        figures["cpu_ratio"] = round(chain_us / pipeline_us, 2)
        if domain_us is not None:
            figures["cpu_ratio_without_framework"] = round(
                chain_us / (broker_us + domain_us), 2)

    print(f"pipeline: {figures['pipeline_rps']} reports/s; per report: worker "
          f"{figures['worker_us_per_report']} us (domain code "
          f"{figures['domain_us_per_report']} us), broker "
          f"{figures['broker_us_per_report']} us")
    print(f"chain:    {figures['chain_rps']} reports/s; per report: worker "
          f"{figures['chain_worker_us_per_report']} us, broker "
          f"{figures['chain_broker_us_per_report']} us")
    print(f"budget:   {args.ratio:g} x the chain on {cores} cores leaves "
          f"{figures['budget_us_per_report']} us of CPU per report for every "
          f"process; broker + domain code alone take "
          f"{figures['broker_plus_domain_us']} us")
    if "cpu_ratio" in figures:
        print(f"ratio:    the chain's CPU per report over the pipeline's "
              f"{figures['cpu_ratio']}; with no cost but broker and domain code "
              f"{figures.get('cpu_ratio_without_framework')}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
