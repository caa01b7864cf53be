"""Routing with a Redis that hangs, and a Redis that lost every unit.

A Redis that accepts connections but never answers must cost each call no more
than its bound, and routing goes on from the unit table. A Redis emptied while
the worker runs, or while it is down (its table then comes back from the
changelog), is rewritten from the table.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import orjson
import pytest
import redis

from agents.broker import EmbeddedBroker, free_port
from agents.cli import read_metrics, wait_for_worker, worker_process
from agents.replay import replay
from agents.resources import load_models
from agents.settings import Settings
from agents.units import hash_key
from tests.e2e.conftest import (
    REDIS_URL,
    LivePipeline,
    forget_keys,
    montgomery_log,
    publish_test_fleet,
    running_pipeline,
)

ROWS = 200


@contextlib.contextmanager
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A loopback port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


def counter(metrics: str, name: str) -> float:
    """The value of one metric line (name with its labels), 0 when absent."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def fleet_size() -> int:
    fleet = load_models(Settings.from_env().models_dir).fleet
    return sum(int(group["count"]) for group in fleet["units"])


def test_a_redis_that_never_answers_costs_a_bound_and_routing_goes_on(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    work_dir = tmp_path_factory.mktemp("redis-slow")
    with silent_server() as (port, accepted), running_pipeline(
            work_dir, redis_url=f"redis://127.0.0.1:{port}/0") as pipeline:
        publish_test_fleet(pipeline, 2000)
        figures = replay(pipeline.bootstrap, montgomery_log(), "montgomery_pa",
                         limit=ROWS, stall_s=60)
        health = pipeline.health()
        metrics = pipeline.metrics()

    assert accepted, "the worker never reached the silent Redis"
    assert figures["reports_accounted"] == ROWS
    assert figures["units_assigned"] > 0.9 * figures["incidents"]
    assert health["redis"] == "degraded" and health["status"] == "ok"
    assert "Timeout" in health["redis_last_error"]
    from_table = sum(counter(metrics, f'intake_route_source_total{{source="{s}"}}')
                     for s in ("redis_failed", "redis_skipped"))
    assert from_table >= figures["incidents"] * 0.9
    assert counter(metrics, 'intake_route_source_total{source="redis"}') == 0


def test_redis_emptied_is_rewritten_from_the_table_and_after_a_restart(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    work_dir = tmp_path_factory.mktemp("redis-emptied")
    client = redis.Redis.from_url(REDIS_URL)
    units = fleet_size()
    broker = EmbeddedBroker(log_path=work_dir / "broker.log")
    bootstrap = broker.start()
    settings = Settings.from_env(broker=bootstrap, redis_url=REDIS_URL,
                                 app_id=f"test-{uuid.uuid4().hex[:8]}",
                                 web_port=free_port(), data_dir=work_dir)
    key = hash_key(settings.app_id)
    try:
        # 1. Units stored in both; then this app's keys go while it runs.
        with worker_process(settings, work_dir / "worker-1.log") as process:
            wait_for_worker(settings.web_port, process)
            publish_test_fleet(LivePipeline(bootstrap, settings, work_dir), 2000)
            assert wait_until(lambda: client.hlen(key) == units)
            before = counter(read_metrics(settings.web_port),
                             "intake_redis_catch_up_total")
            forget_keys(REDIS_URL, settings.app_id)

            def caught_up() -> bool:
                # The counter moves just after the last chunk is written, so
                # a full hash alone may be read before it does.
                done = counter(read_metrics(settings.web_port),
                               "intake_redis_catch_up_total")
                return done > before and client.hlen(key) == units
            assert wait_until(caught_up)

        # 2. Made stale while the worker is down, as a Redis that missed
        # writes before a restart is: every unit still in the hash (the count
        # shows nothing), one with an old status, the GEO sets gone. The new
        # worker's table comes back from its changelog, and Redis from the
        # table, whole (the changelog fences, agents/fences.py).
        unit_id, value = sorted(client.hgetall(key).items())[0]
        stale = orjson.loads(value)
        client.hset(key, unit_id, orjson.dumps({**stale, "status": "out_of_service"}))
        for geo in client.keys(f"{settings.app_id}:units:available:*"):
            client.delete(geo)
        with worker_process(settings, work_dir / "worker-2.log") as process:
            wait_for_worker(settings.web_port, process)

            def rewritten() -> bool:
                caught_up = counter(read_metrics(settings.web_port),
                                    "intake_redis_catch_up_total")
                return caught_up >= 1 and bool(
                    client.keys(f"{settings.app_id}:units:available:*"))
            assert wait_until(rewritten, timeout_s=40)
            # The stale entry is rewritten from the recovered table.
            known = counter(read_metrics(settings.web_port), "intake_units_known")
            assert known == units
            held = client.hget(key, unit_id)
            assert held is not None
            assert orjson.loads(held)["status"] == stale["status"]
            figures = replay(bootstrap, montgomery_log(), "montgomery_pa",
                             limit=ROWS, stall_s=60)
            metrics = read_metrics(settings.web_port)
            assert process.poll() is None
    finally:
        broker.stop()
        forget_keys(REDIS_URL, settings.app_id)

    assert counter(metrics, "intake_units_known") == units
    assert figures["reports_accounted"] == ROWS
    assert figures["units_assigned"] > 0.9 * figures["incidents"]
    assert counter(metrics, 'intake_route_source_total{source="redis"}') > 0
