"""A real pipeline for end-to-end tests: embedded broker, one worker, real Redis."""

from __future__ import annotations

import contextlib
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from agents.broker import EmbeddedBroker, free_port
from agents.cli import read_metrics, wait_for_worker, worker_process
from agents.fleet import log_points, publish_fleet
from agents.redis_server import answers, forget_app
from agents.resources import load_models
from agents.settings import ROOT, Settings

SHARED_LOG = (ROOT.parent / "shared" / "data" / "montgomery_911"
              / "calls_2015-12-10_to_2016-05-31.csv")
SHIPPED_LOG = ROOT / "data" / "montgomery_911_2015-12-10_to_2016-05-31.csv.gz"
REDIS_URL = os.environ.get("INTAKE_REDIS_URL", "redis://127.0.0.1:6379/0")


def montgomery_log() -> Path:
    """The shared recorded log; the copy shipped for the demo where it is absent."""
    return SHARED_LOG if SHARED_LOG.exists() else SHIPPED_LOG


@dataclass
class LivePipeline:
    bootstrap: str
    settings: Settings
    work_dir: Path

    def metrics(self) -> str:
        return read_metrics(self.settings.web_port)

    def health(self) -> dict[str, Any]:
        """The worker's /health answer (503 too: it says which agent crashed)."""
        url = f"http://127.0.0.1:{self.settings.web_port}/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: dict[str, Any] = orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = orjson.loads(exc.read())
        return body


def read_topic(bootstrap: str, topic: str, quiet_s: float = 1.0
               ) -> list[dict[str, Any]]:
    """Every value on ``topic`` from the beginning, until it stays quiet.

    Not "until the end offset": the embedded broker reports end offsets that
    lag behind its last batch.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        values: list[dict[str, Any]] = []
        last_news = time.monotonic()
        while time.monotonic() - last_news < quiet_s:
            for records in consumer.poll(timeout_ms=100).values():
                values.extend(orjson.loads(r.value) for r in records)
                last_news = time.monotonic()
        return values
    finally:
        consumer.close()


@contextlib.contextmanager
def running_pipeline(work_dir: Path, **overrides: Any) -> Iterator[LivePipeline]:
    """A fresh embedded broker and one worker (settings ``overrides``) on it."""
    if not answers(REDIS_URL):
        pytest.fail(f"no Redis answers at {REDIS_URL}: start one (.ci/run does)")
    broker = EmbeddedBroker(log_path=work_dir / "broker.log")
    bootstrap = broker.start()
    options: dict[str, Any] = {
        "broker": bootstrap, "redis_url": REDIS_URL,
        "app_id": f"test-{uuid.uuid4().hex[:8]}", "web_port": free_port(),
        "data_dir": work_dir,
    }
    settings = Settings.from_env(**{**options, **overrides})
    try:
        with worker_process(settings, work_dir / "worker.log") as process:
            wait_for_worker(settings.web_port, process)
            yield LivePipeline(bootstrap, settings, work_dir)
            assert process.poll() is None, "the worker died during the tests"
    finally:
        broker.stop()
        forget_keys(REDIS_URL, settings.app_id)


def publish_test_fleet(pipeline: LivePipeline, rows: int) -> None:
    """The simulated fleet, placed at points of the log's first ``rows`` rows."""
    models = load_models(pipeline.settings.models_dir)
    area = models.normalize.sources["montgomery_pa"]
    points = log_points(montgomery_log(), area, limit=rows)
    publish_fleet(pipeline.bootstrap, points, models.fleet, int(time.time() * 1000))
    time.sleep(1.0)  # the units stage stores the fleet before incidents arrive


@pytest.fixture(scope="session")
def live_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePipeline]:
    with running_pipeline(tmp_path_factory.mktemp("pipeline")) as pipeline:
        yield pipeline


def forget_keys(url: str, app_id: str) -> None:
    """Remove what a test app wrote to the shared Redis (its keys only)."""
    forget_app(url, app_id)
