"""A paced demo keeps its simulated fleet's fixes fresh, as a real fleet does."""

from __future__ import annotations

import time
from pathlib import Path

from agents.broker import EmbeddedBroker
from agents.fleet import FleetHeartbeat
from tests.e2e.conftest import read_topic

SPEC = {"seed": 1, "units": [{"prefix": "HB", "count": 2, "capabilities": ["patrol"]}]}


def test_the_heartbeat_republishes_the_fleet_with_fresh_fixes(tmp_path: Path) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log")
    bootstrap = broker.start()
    try:
        beat = FleetHeartbeat(bootstrap, [(40.0, -75.0)], SPEC, every_s=0.3)
        started_ms = int(time.time() * 1000)
        beat.start()
        time.sleep(1.5)
        beat.stop()
        statuses = read_topic(bootstrap, "units.status", quiet_s=0.5)
    finally:
        broker.stop()

    assert not beat.is_alive() and beat.beats >= 3
    assert len(statuses) == 2 * beat.beats
    fixes = sorted({s["fix_ms"] for s in statuses})
    assert fixes[0] >= started_ms and len(fixes) == beat.beats
    assert {s["unit_id"] for s in statuses} == {"HB-01", "HB-02"}
