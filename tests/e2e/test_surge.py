"""The surge stage on the real broker: closing a quiet stream by the wall clock,
its state across a worker restart, and a surge paging the supervisor.

Counts go straight to reports.by_area (one bundle per message, in the
partition of its key), with windows of seconds (models/surge.yaml in a copy
of models/).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from kafka import KafkaProducer

from agents.broker import EmbeddedBroker, free_port
from agents.cli import metric_figures, read_metrics, wait_for_worker, worker_process
from agents.settings import ROOT, Settings
from pipeline.bundle import partition_for
from tests.e2e.conftest import REDIS_URL, forget_keys, read_topic, running_pipeline

PARTITIONS = 4  # reports.by_area, topics.yaml
MINUTE_MS = 60_000
#: 2020-01-01 00:00 UTC: event times of the restart test (the wall clock is off).
BASE_MS = 1_577_836_800_000


def models_with(folder: Path, surge: dict[str, Any]) -> Path:
    """A copy of models/ whose surge.yaml is ``surge``."""
    shutil.copytree(ROOT / "models", folder)
    (folder / "surge.yaml").write_text(yaml.safe_dump(surge))
    return folder


def send_counts(bootstrap: str, counts: list[tuple[str, int]]) -> None:
    """One message per count on reports.by_area, in its key's partition."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for key, event_ms in counts:
        producer.send("reports.by_area", key=key.encode(),
                      partition=partition_for(key.encode(), PARTITIONS),
                      value=orjson.dumps([{"key": key, "event_ms": event_ms}]))
    producer.flush()
    producer.close()


def wait_for(read: Callable[[], Any], done: Callable[[Any], bool],
             timeout_s: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout_s
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


def surge_metrics(port: int) -> dict[str, float]:
    return metric_figures(read_metrics(port))


def counted(port: int) -> float:
    figures = surge_metrics(port)
    return (figures.get("intake_stage_events_total{outcome=ok,stage=surge}", 0.0)
            + figures.get("intake_surge_repeats_total", 0.0))


def test_a_single_event_then_silence_is_closed_by_the_wall_clock_and_pages(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    work_dir = tmp_path_factory.mktemp("surge-live")
    # Two-second windows every second; one report is already a surge here.
    models = models_with(work_dir / "models", {
        "window_s": 2, "hop_s": 1, "grace_s": 1,
        "detector": {"history": 10, "warmup": 0, "z_threshold": 2.0},
        "min_count": 1, "idle_s": 1, "live_lag_s": 60})
    key = "QUIETTOWN|Fire"
    with running_pipeline(work_dir, models_dir=models, surge_tick_s=0.5,
                          outbox_dir=work_dir / "outbox") as pipeline:
        event_ms = int(time.time() * 1000)
        send_counts(pipeline.bootstrap, [(key, event_ms)])

        anomalies = wait_for(
            lambda: [a for a in read_topic(pipeline.bootstrap, "anomalies.detected")
                     if a.get("key") == key],
            lambda found: len(found) >= 1)
        delivered = wait_for(
            lambda: [d for d in read_topic(pipeline.bootstrap, "alerts.delivered")
                     if d.get("surge", {}).get("key") == key],
            lambda found: len(found) >= 1)
        figures = wait_for(lambda: surge_metrics(pipeline.settings.web_port),
                           lambda f: f.get("intake_windows_closed_total", 0) >= 2)
        time.sleep(1.5)  # anything more would have come by now
        delivered_again = [d for d in read_topic(pipeline.bootstrap,
                                                 "alerts.delivered")
                           if d.get("surge", {}).get("key") == key]
        outbox = (work_dir / "outbox" / pipeline.settings.app_id / "push.jsonl")
        lines = [orjson.loads(line) for line in outbox.read_bytes().splitlines()]

    first = event_ms - event_ms % 1000 - 1000  # the earlier of its two windows
    assert [(a["start_ms"], a["count"], a["status"]) for a in anomalies] == [
        (first, 1, "surge")]
    assert figures["intake_windows_closed_total{by=wall_clock,status=surge}"] == 1
    assert figures["intake_windows_closed_total{by=wall_clock,status=normal}"] == 1
    assert len(delivered) == len(delivered_again) == 1  # one alert per window
    alert = delivered[0]
    assert (alert["recipient"], alert["rule_id"]) == ("watch_supervisor/push", "surge")
    assert alert["rendered"]["title"].startswith("SURGE: 1 Fire reports, QUIETTOWN")
    assert any(line["alert_id"] == alert["alert_id"] for line in lines)


def same_partition_key(key: str) -> str:
    """Another surge key in ``key``'s partition."""
    want = partition_for(key.encode(), PARTITIONS)
    return next(k for k in (f"NUDGE{i}|EMS" for i in range(100))
                if partition_for(k.encode(), PARTITIONS) == want)


def test_detector_history_and_open_windows_survive_a_restart_and_redelivery(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    work_dir = tmp_path_factory.mktemp("surge-restart")
    models = models_with(work_dir / "models", {
        "window_s": 60, "grace_s": 0,
        "detector": {"history": 50, "warmup": 4, "z_threshold": 4.0},
        "min_count": 5})
    key = "RESTARTVILLE|EMS"
    # Minutes 0-4 one report each, then 20 more in minute 4: minutes 0-3
    # close (the detector has seen 4 windows), minute 4 stays open.
    before = [(key, BASE_MS + m * MINUTE_MS + 1_000) for m in range(5)]
    before += [(key, BASE_MS + 4 * MINUTE_MS + 5_000 + i) for i in range(20)]
    # A later count of another key, its own changelog batch: a recovered
    # table may miss the records after the first of the changelog's last
    # batch on the embedded broker (README, Known limits).
    nudge = [(same_partition_key(key), BASE_MS + 4 * MINUTE_MS + 2_000)]
    broker = EmbeddedBroker(log_path=work_dir / "broker.log")
    bootstrap = broker.start()
    settings = Settings.from_env(
        broker=bootstrap, redis_url=REDIS_URL, app_id=f"test-{uuid.uuid4().hex[:8]}",
        web_port=free_port(), data_dir=work_dir, models_dir=models,
        surge_wall_clock=False, commit_interval_s=600.0)
    try:
        with worker_process(settings, work_dir / "worker-1.log") as process:
            wait_for_worker(settings.web_port, process)
            send_counts(bootstrap, before)
            wait_for(lambda: counted(settings.web_port), lambda n: n >= len(before))
            time.sleep(1.0)
            send_counts(bootstrap, nudge)
            wait_for(lambda: counted(settings.web_port),
                     lambda n: n >= len(before) + 1)
            first = surge_metrics(settings.web_port)
            time.sleep(1.0)  # the table's changelog sent
            # Killed before it committed a single offset (the commit interval
            # is long): the next worker gets every count again.
            process.kill()
            process.wait()

        with worker_process(settings, work_dir / "worker-2.log") as process:
            wait_for_worker(settings.web_port, process)
            # A generous wait: on a loaded machine the old member's session
            # (10 s), the rebalance and the table's recovery come first.
            redelivered = wait_for(
                lambda: surge_metrics(settings.web_port).get(
                    "intake_surge_repeats_total", 0.0),
                lambda n: n >= len(before) + 1, timeout_s=120.0)
            send_counts(bootstrap, [(key, BASE_MS + 5 * MINUTE_MS + 1_000)])
            anomalies = wait_for(
                lambda: [a for a in read_topic(bootstrap, "anomalies.detected")
                         if a.get("key") == key],
                lambda found: len(found) >= 1)
            delivered = wait_for(
                lambda: [d for d in read_topic(bootstrap, "alerts.delivered")
                         if d.get("surge", {}).get("key") == key],
                lambda found: len(found) >= 1)
            second = surge_metrics(settings.web_port)
            assert process.poll() is None
    finally:
        broker.stop()
        forget_keys(REDIS_URL, settings.app_id)

    # Before the restart: four windows closed while warming up, none flagged.
    assert first["intake_windows_closed_total{by=watermark,status=warming_up}"] == 4
    assert first.get("intake_anomalies_total", 0) == 0
    # After it: every earlier count came again and none was counted twice.
    assert redelivered == len(before) + len(nudge)
    assert second.get("intake_stage_events_total{outcome=ok,stage=surge}") == 1
    # The window open at the restart closed after it, with its 21 reports,
    # scored by a detector that remembered its 4 windows (warmed up).
    assert [(a["start_ms"], a["count"], a["seen"], a["status"]) for a in anomalies] \
        == [(BASE_MS + 4 * MINUTE_MS, 21, 4, "surge")]
    assert second["intake_windows_closed_total{by=watermark,status=surge}"] == 1
    assert [d["recipient"] for d in delivered] == ["watch_supervisor/push"]
    assert "21 EMS reports in RESTARTVILLE" in delivered[0]["reasons"][0]
