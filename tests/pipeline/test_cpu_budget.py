"""The CPU budget benchmark's readings: /proc CPU time and py-spy's raw samples."""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchmarks.cpu_budget import cpu_s, domain_share, pids_with


def test_domain_share_counts_samples_with_a_pipeline_frame(tmp_path: Path) -> None:
    samples = tmp_path / "samples.txt"
    samples.write_text(
        "main (agents/cli.py:1);run (faust/agents/agent.py:698) 6\n"
        "main (agents/cli.py:1);match (pipeline/dedupe.py:40);"
        "dist (geopy/distance.py:9) 3\n"
        "main (agents/cli.py:1);score (pipeline/score.py:10) 1\n"
        "garbage line without a count\n"
    )
    assert domain_share(samples) == 0.4
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert domain_share(empty) is None


def test_cpu_time_of_this_process_grows_with_work() -> None:
    before = cpu_s(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    assert cpu_s(os.getpid()) - before >= 0.1
    assert cpu_s(2**22 + 12345) == 0.0  # no such process


def test_processes_are_found_by_their_command_line() -> None:
    assert os.getpid() in pids_with(b"pytest") or os.getpid() in pids_with(b"python")
