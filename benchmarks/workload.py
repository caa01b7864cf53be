"""The shared workload of every benchmark: real reports, a broker, running workers."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from agents.broker import CHILD_PREEXEC, broker_for, free_port
from agents.cli import wait_for_worker, worker_process
from agents.settings import ROOT, Settings

SHARED_LOG = (ROOT.parent / "shared" / "data" / "montgomery_911"
              / "calls_2015-12-10_to_2016-05-31.csv")
SHIPPED_LOG = ROOT / "data" / "montgomery_911_2015-12-10_to_2016-05-31.csv.gz"
RUN_DIR = ROOT / "var" / "bench"


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


@contextlib.contextmanager
def pipeline_worker(bootstrap: str, **overrides: object) -> Iterator[Settings]:
    """One pipeline worker with a fresh app id, ready to consume."""
    settings = Settings.from_env(
        broker=bootstrap, app_id=f"bench-{uuid.uuid4().hex[:8]}",
        web_port=free_port(), data_dir=RUN_DIR, **overrides,
    )
    with worker_process(settings, RUN_DIR / "worker.log") as process:
        wait_for_worker(settings.web_port, process)
        yield settings


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


def wait(seconds: float) -> None:
    time.sleep(seconds)
