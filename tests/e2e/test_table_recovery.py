"""A table written in one burst comes back whole after a restart.

The embedded broker reports a partition's end as the base offset of its last
record batch plus one, and Faust recovers a table up to there: without the
changelog fences (``agents/fences.py``) a worker restarted after the fleet
came in one burst knew 91 of 134 units.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from agents.broker import EmbeddedBroker, free_port
from agents.cli import read_metrics, wait_for_worker, worker_process
from agents.settings import Settings
from tests.e2e.conftest import REDIS_URL, LivePipeline, forget_keys, publish_test_fleet
from tests.e2e.test_redis_recovery import counter, fleet_size, wait_until


def units_known(port: int) -> float:
    return counter(read_metrics(port), "intake_units_known")


def test_units_written_in_one_burst_all_come_back_after_restarts(
        tmp_path: Path) -> None:
    units = fleet_size()
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log")
    bootstrap = broker.start()
    settings = Settings.from_env(broker=bootstrap, redis_url=REDIS_URL,
                                 app_id=f"test-{uuid.uuid4().hex[:8]}",
                                 web_port=free_port(), data_dir=tmp_path)
    known_after: list[float] = []
    try:
        with worker_process(settings, tmp_path / "worker-1.log") as process:
            wait_for_worker(settings.web_port, process)
            publish_test_fleet(LivePipeline(bootstrap, settings, tmp_path), 2000)
            assert wait_until(lambda: units_known(settings.web_port) == units)
            assert wait_until(lambda: counter(read_metrics(settings.web_port),
                                              "intake_changelog_fences_total") >= 1)
        for restart in (2, 3):
            with worker_process(settings, tmp_path / f"worker-{restart}.log"
                                ) as process:
                wait_for_worker(settings.web_port, process)
                # Recovery is done before the worker says it is ready; a short
                # wait shows that nothing arrives later either.
                time.sleep(2.0)
                known_after.append(units_known(settings.web_port))
    finally:
        broker.stop()
        forget_keys(REDIS_URL, settings.app_id)

    assert known_after == [units, units]
