"""A worker killed outright (SIGKILL) before it commits: its successor
processes every input again, and every report lands where it landed before.

The broker has no transactions, so delivery is at-least-once: the new
worker's state (rebuilt from the changelogs) is ahead of its input offsets.
The replayed log runs through days of event time in seconds; before dedupe
kept the ids of reports whose input is not committed, the successor had
forgotten most of them by event time and put 12 to 26 reports of 1,200
in a second incident.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from agents.broker import EmbeddedBroker, free_port
from agents.cli import wait_for_worker, worker_process
from agents.replay import replay
from agents.settings import Settings
from tests.e2e.conftest import REDIS_URL, forget_keys, montgomery_log, read_topic

ROWS = 1200


def incidents_of(board: list[dict[str, Any]]) -> dict[str, set[str]]:
    """report id -> every incident the board put it in, a report that moved
    (or was split) counted in the incident it went to only."""
    found: dict[str, set[str]] = defaultdict(set)
    went = {r["split"]["report_id"]: r["split"] for r in board if r.get("split")}
    for record in board:
        if not record.get("split"):
            incident_id = record["incident_id"]
            split = went.get(record["report_id"])
            if split is not None and incident_id == split["from"]:
                incident_id = split["into"]
            found[record["report_id"]].add(incident_id)
    return found


def settled(bootstrap: str, at_least: int, timeout_s: float = 120.0
            ) -> list[dict[str, Any]]:
    """The board once it holds ``at_least`` records and stays quiet."""
    deadline = time.monotonic() + timeout_s
    board = read_topic(bootstrap, "incidents.board")
    while time.monotonic() < deadline:
        time.sleep(3.0)
        again = read_topic(bootstrap, "incidents.board")
        if len(again) >= at_least and len(again) == len(board):
            return again
        board = again
    raise AssertionError(f"the board did not settle: {len(board):,} records, "
                         f"{at_least:,} expected at least")


def test_a_killed_worker_s_successor_puts_every_report_where_it_was(
        tmp_path: Path) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log")
    bootstrap = broker.start()
    # No commit before the kill: the successor processes everything again.
    settings = Settings.from_env(broker=bootstrap, redis_url=REDIS_URL,
                                 app_id=f"test-{uuid.uuid4().hex[:8]}",
                                 web_port=free_port(), data_dir=tmp_path,
                                 commit_interval_s=3600.0)
    try:
        with worker_process(settings, tmp_path / "worker-1.log") as process:
            wait_for_worker(settings.web_port, process)
            figures = replay(bootstrap, montgomery_log(), "montgomery_pa",
                             limit=ROWS, stall_s=60, callers=True)
            assert figures["reports_accounted"] == ROWS
            before = incidents_of(read_topic(bootstrap, "incidents.board"))
            time.sleep(2.0)  # the changelogs reach the broker
            process.send_signal(signal.SIGKILL)
            process.wait()
        with worker_process(settings, tmp_path / "worker-2.log") as process:
            wait_for_worker(settings.web_port, process)
            after = incidents_of(settled(bootstrap, 2 * len(before)))
    finally:
        broker.stop()
        forget_keys(REDIS_URL, settings.app_id)

    assert len(before) > 0.9 * ROWS
    assert all(len(found) == 1 for found in before.values())
    assert set(after) == set(before)
    moved = {r: sorted(found) for r, found in after.items() if len(found) > 1}
    assert not moved, f"{len(moved)} reports in two incidents, e.g. " \
        f"{next(iter(moved.items()))}"
