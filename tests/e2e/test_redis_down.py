"""With Redis unreachable, routing goes on from the unit table and says so."""

from __future__ import annotations

import pytest

from agents.replay import replay
from tests.e2e.conftest import montgomery_log, publish_test_fleet, running_pipeline

ROWS = 300


def test_routing_goes_on_from_the_table_when_redis_is_down(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    work_dir = tmp_path_factory.mktemp("redis-down")
    # Port 1 on loopback: nothing listens there, every call is refused at once.
    with running_pipeline(work_dir, redis_url="redis://127.0.0.1:1/0") as pipeline:
        publish_test_fleet(pipeline, 2000)
        figures = replay(pipeline.bootstrap, montgomery_log(), "montgomery_pa",
                         limit=ROWS, stall_s=60)
        health = pipeline.health()
        metrics = pipeline.metrics()

    assert figures["reports_accounted"] == ROWS
    assert figures["units_assigned"] > 0.9 * figures["incidents"]
    assert health["redis"] == "degraded" and health["status"] == "ok"
    fallbacks = [line for line in metrics.splitlines()
                 if line.startswith("intake_redis_fallback_total")]
    assert fallbacks and float(fallbacks[0].split()[-1]) > 0
