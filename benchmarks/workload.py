"""The shared workload of every benchmark: real reports, a broker, running workers."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from agents.broker import CHILD_PREEXEC, broker_for, free_port
from agents.cli import wait_for_worker, worker_process
from agents.settings import ROOT, Settings

SHARED_LOG = (ROOT.parent / "shared" / "data" / "montgomery_911"
              / "calls_2015-12-10_to_2016-05-31.csv")
SHIPPED_LOG = ROOT / "data" / "montgomery_911_2015-12-10_to_2016-05-31.csv.gz"
RUN_DIR = ROOT / "var" / "bench"
CALL_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}) @ (\d{2}:\d{2}:\d{2})")


def montgomery_log() -> Path:
    """The shared recorded log, or the copy shipped with the demo."""
    return SHARED_LOG if SHARED_LOG.exists() else SHIPPED_LOG


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """The broker of ``$INTAKE_BROKER``, or a fresh embedded one."""
    setting = os.environ.get("INTAKE_BROKER", "embedded")
    with broker_for(setting, RUN_DIR / "broker.log") as bootstrap:
        yield bootstrap


@dataclass
class Workers:
    settings: Settings
    processes: list[subprocess.Popen[bytes]]

    def rss_mb(self) -> float:
        """Resident memory of the workers, added up, in MiB (from /proc)."""
        total_kb = 0
        for process in self.processes:
            status = Path(f"/proc/{process.pid}/status").read_text()
            line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
            total_kb += int(line.split()[1])
        return round(total_kb / 1024, 1)


@contextlib.contextmanager
def pipeline_workers(bootstrap: str, count: int = 1, **overrides: Any
                     ) -> Iterator[Workers]:
    """``count`` worker processes of one fresh app, sharing its partitions.

    A fresh app starts at the end of every topic ("latest"), so what earlier
    runs left on the broker is not replayed again.
    """
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    redis_url = Settings.from_env(**overrides).redis_url
    try:
        with contextlib.ExitStack() as stack:
            workers = []
            for n in range(count):
                settings = Settings.from_env(
                    broker=bootstrap, app_id=app_id, web_port=free_port(),
                    data_dir=RUN_DIR / f"w{n}", offset_reset="latest", **overrides,
                )
                process = stack.enter_context(
                    worker_process(settings, RUN_DIR / f"worker-{n}.log"))
                workers.append((settings, process))
            for settings, process in workers:
                wait_for_worker(settings.web_port, process)
            # Every worker owns partitions only once the group has settled.
            time.sleep(2.0 if count > 1 else 0.0)
            for settings, process in workers:
                wait_for_worker(settings.web_port, process)
            yield Workers(workers[0][0], [p for _, p in workers])
    finally:
        # Once the workers stopped: a running one writes its units again.
        forget_keys(redis_url, app_id)


def forget_keys(url: str, app_id: str) -> None:
    """Remove what a benchmark app wrote to Redis (its own keys only)."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{app_id}:*"))
    if keys:
        client.delete(*keys)


def looped_rows(rows: list[dict[str, str]], total: int) -> list[dict[str, str]]:
    """``total`` Montgomery rows: the log again and again, each pass later in time.

    Each pass shifts both time columns by the log's span plus a day, so the
    reports are new (their ids hash the row) and event time keeps moving on, as
    a long live run's would.
    """
    first = datetime.fromisoformat(rows[0]["timeStamp"])
    span = datetime.fromisoformat(rows[-1]["timeStamp"]) - first + timedelta(days=1)
    looped = []
    for index in range(total):
        passes, row = divmod(index, len(rows))
        source = rows[row]
        if passes == 0:
            looped.append(source)
            continue
        shift = span * passes
        stamp = datetime.fromisoformat(source["timeStamp"]) + shift
        desc = CALL_TIME.sub(functools.partial(_shifted, shift=shift), source["desc"])
        looped.append(dict(source, timeStamp=f"{stamp:%Y-%m-%d %H:%M:%S}", desc=desc))
    return looped


def _shifted(call_time: re.Match[str], shift: timedelta) -> str:
    moment = datetime.fromisoformat(f"{call_time[1]} {call_time[2]}") + shift
    return f"{moment:%Y-%m-%d @ %H:%M:%S}"


@contextlib.contextmanager
def chain_worker(bootstrap: str) -> Iterator[subprocess.Popen[bytes]]:
    """The plain five-hop Faust chain (benchmarks/chain_app.py) in a process."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, INTAKE_BROKER=bootstrap,
               CHAIN_APP_ID=f"chain-{uuid.uuid4().hex[:8]}",
               CHAIN_WEB_PORT=str(free_port()))
    with open(RUN_DIR / "chain.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "benchmarks.chain_app", "worker",
             "-l", "warn", "--without-web"],
            cwd=ROOT, env=env, stdout=log, stderr=log, preexec_fn=CHILD_PREEXEC,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
