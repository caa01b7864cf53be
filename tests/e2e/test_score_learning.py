"""The score stage learns from dispatchers' outcomes, and keeps it over a restart.

Vehicle fires, whose rules' priority is 2, each get an outcome saying the
dispatcher gave them 4. The model (with a rule file that lets it act after 3
outcomes) then moves new vehicle fires one level, to 3, and says so in the
reasons with the outcomes it learnt from. The worker stops; a new one finds the
model in its changelog and scores the next vehicle fires the same way.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from agents.broker import EmbeddedBroker, free_port
from agents.cli import read_metrics, wait_for_worker, worker_process
from agents.settings import ROOT, Settings
from pipeline.bundle import partition_for
from tests.e2e.conftest import REDIS_URL, forget_keys, read_topic

PARTITIONS = 4
TAUGHT = 24
RULE = {"min_outcomes": 3, "min_confidence": 0.5, "use_gate": False,
        "max_shift": 1, "snapshot_every_s": 600}


def rule_files(work_dir: Path) -> Path:
    """The shipped rule tables, with a score model allowed to act early; its
    snapshots are written only at a replay's end (600 s apart otherwise)."""
    models = work_dir / "models"
    shutil.copytree(ROOT / "models", models)
    text = "\n".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}"
                     for k, v in RULE.items())
    (models / "score_model.yaml").write_text(text + "\n")
    return models


def vehicle_fire(report_id: str, n: int) -> dict[str, Any]:
    """A report on its own: points 3 km apart never merge."""
    return {"report_id": report_id, "source": "montgomery_pa", "channel": "app",
            "time": datetime.now(tz=UTC).isoformat(), "type": "VEHICLE FIRE",
            "text": "car on fire in a parking lot",
            "location": {"lat": 40.0 + 0.03 * (n // 10), "lon": -75.6 + 0.03 * (n % 10),
                         "accuracy_m": 10}}


def send(bootstrap: str, topic: str, records: list[tuple[str, dict[str, Any]]]
         ) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for key, value in records:
        producer.send(topic, key=key.encode(), value=orjson.dumps(value))
    producer.flush()
    producer.close()


def flush_outcomes(bootstrap: str) -> None:
    """A replay's end on dispatch.outcomes: each partition stores its model."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for partition in range(PARTITIONS):
        producer.send("dispatch.outcomes", key=b"__control__", partition=partition,
                      value=orjson.dumps({"control": "flush", "token": "t"}))
    producer.flush()
    producer.close()


def board_of(bootstrap: str, report_ids: set[str], timeout_s: float = 60
             ) -> dict[str, dict[str, Any]]:
    """The board record of each report, by report id, once all are there."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = {r["report_id"]: r for r in read_topic(bootstrap, "incidents.board",
                                                        0.5)
                 if r.get("report_id") in report_ids}
        if len(found) == len(report_ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def metric(port: int, line: str) -> float:
    for text in read_metrics(port).splitlines():
        if text.startswith(line + " "):
            return float(text.split()[-1])
    return 0.0


def wait_metric(port: int, line: str, at_least: float, timeout_s: float = 60
                ) -> float:
    deadline = time.monotonic() + timeout_s
    while (value := metric(port, line)) < at_least and time.monotonic() < deadline:
        time.sleep(0.5)
    return value


def probe(bootstrap: str, prefix: str) -> dict[str, dict[str, Any]]:
    ids = {f"montgomery_pa:{prefix}-{n}" for n in range(12)}
    send(bootstrap, "reports.raw.json",
         [(f"{prefix}-{n}", vehicle_fire(f"{prefix}-{n}", 60 + n)) for n in range(12)])
    return board_of(bootstrap, ids)


def expected_reason(record: dict[str, Any], learnt: Counter[int]
                    ) -> tuple[int, str, str]:
    """Priority, and how the model's reason a probe should carry begins and
    ends, by its partition (incident ids, and so partitions, vary by run)."""
    seen = learnt[partition_for(record["incident_id"].encode(), PARTITIONS)]
    if seen == 0:
        return 2, "model: no dispatcher outcome learnt yet", "the rules decide"
    if seen < RULE["min_outcomes"]:
        return 2, "model: p(4)=", (f"from {seen} outcomes: no change before "
                                   f"{RULE['min_outcomes']} outcomes")
    return 3, "model: p(4)=", f"from {seen} outcomes: +1"


@pytest.fixture(scope="module")
def learnt_and_restarted(tmp_path_factory: pytest.TempPathFactory
                         ) -> dict[str, Any]:
    work_dir = tmp_path_factory.mktemp("score-learning")
    broker = EmbeddedBroker(log_path=work_dir / "broker.log")
    bootstrap = broker.start()
    settings = Settings.from_env(broker=bootstrap, redis_url=REDIS_URL,
                                 app_id=f"test-{uuid.uuid4().hex[:8]}",
                                 web_port=free_port(), data_dir=work_dir,
                                 models_dir=rule_files(work_dir))
    port = settings.web_port
    try:
        with worker_process(settings, work_dir / "worker-1.log") as process:
            wait_for_worker(port, process)
            ids = [f"t-{n}" for n in range(TAUGHT)]
            send(bootstrap, "reports.raw.json",
                 [(i, vehicle_fire(i, n)) for n, i in enumerate(ids)])
            taught = board_of(bootstrap, {f"montgomery_pa:{i}" for i in ids})
            outcomes = [(r["incident_id"], {
                "incident_id": r["incident_id"], "disposition": "extinguished",
                "resolved": True, "by": "dispatcher-7", "priority": 4,
                "kind": "vehicle_fire", "at_ms": int(time.time() * 1000)})
                for r in taught.values()]
            send(bootstrap, "dispatch.outcomes", outcomes)
            # The same outcomes again: redelivered, they teach nothing twice.
            send(bootstrap, "dispatch.outcomes", outcomes)
            learnt = wait_metric(
                port, 'intake_score_outcomes_total{outcome="learnt"}', TAUGHT)
            repeats = wait_metric(
                port, 'intake_score_outcomes_total{outcome="repeat"}', TAUGHT)
            flush_outcomes(bootstrap)
            partitions_taught = len({partition_for(i.encode(), PARTITIONS)
                                     for i, _ in outcomes})
            written = wait_metric(port, 'intake_score_snapshots_total'
                                  '{outcome="written"}', partitions_taught)
            before = probe(bootstrap, "before")
            assert process.poll() is None
        with worker_process(settings, work_dir / "worker-2.log") as process:
            wait_for_worker(port, process)
            after = probe(bootstrap, "after")
            assert process.poll() is None
    finally:
        broker.stop()
        forget_keys(REDIS_URL, settings.app_id)
    return {"taught": taught, "learnt": learnt, "repeats": repeats,
            "written": written, "partitions_taught": partitions_taught,
            "per_partition": Counter(partition_for(i.encode(), PARTITIONS)
                                     for i, _ in outcomes),
            "before": before, "after": after}


def test_each_outcome_is_learnt_once_and_each_model_stored(
        learnt_and_restarted: dict[str, Any]) -> None:
    run = learnt_and_restarted
    assert len(run["taught"]) == TAUGHT
    assert all(r["priority"] == 2 for r in run["taught"].values())
    assert run["learnt"] == TAUGHT
    assert run["repeats"] == TAUGHT
    # One snapshot per partition that learnt, at the flush: none before it.
    assert run["written"] == run["partitions_taught"]


@pytest.mark.parametrize("when", ["before", "after"])
def test_the_model_moves_the_rules_and_says_why_before_and_after_a_restart(
        learnt_and_restarted: dict[str, Any], when: str) -> None:
    probes = learnt_and_restarted[when]
    assert len(probes) == 12
    assert any(r["priority"] == 3 for r in probes.values())  # the model moved some
    for record in probes.values():
        priority, begins, ends = expected_reason(
            record, learnt_and_restarted["per_partition"])
        model_reason = record["priority_reasons"][-1]
        assert record["priority_reasons"][0] == "kind vehicle_fire: base priority 2"
        assert model_reason.startswith(begins), model_reason
        assert model_reason.endswith(ends), model_reason
        assert record["priority"] == priority
