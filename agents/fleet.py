"""Publish a simulated fleet's unit statuses to ``units.status``."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from agents.exceptions import IntakeError
from agents.replay import read_rows
from pipeline.fields import SourceArea
from pipeline.fleet import simulate_fleet
from pipeline.geo import valid_point
from pipeline.schema import UnitStatus


def log_points(path: Path, area: SourceArea, lat_column: str = "lat",
               lon_column: str = "lng", limit: int | None = None
               ) -> list[tuple[float, float]]:
    """The real points of a recorded log that fall inside its service area."""
    points = []
    for row in read_rows(path, limit):
        try:
            lat, lon = float(row[lat_column]), float(row[lon_column])
        except (KeyError, ValueError):
            continue
        if valid_point(lat, lon) and area.box.contains(lat, lon):
            points.append((lat, lon))
    return points


def publish_fleet(bootstrap: str, points: list[tuple[float, float]],
                  spec: dict[str, Any], now_ms: int) -> list[UnitStatus]:
    if not points:
        raise IntakeError("the log has no located incidents inside its service "
                          "area to station a simulated fleet at")
    units = simulate_fleet(points, spec, now_ms)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1,
                             enable_idempotence=False)
    for unit in units:
        producer.send("units.status", key=unit.unit_id.encode(),
                      value=orjson.dumps(unit.to_dict()))
    producer.flush()
    producer.close()
    return units


class FleetHeartbeat(threading.Thread):
    """Re-publishes a simulated fleet every ``every_s`` seconds until stopped.

    A real fleet's vehicles report their position every few seconds; the
    simulated one is published once, so on a replay paced over more than
    ``fix_stale_after_s`` every unit's fix would go stale and every slot stay
    open. Its units stand still: each beat is the same fleet with fresh fixes.
    """

    def __init__(self, bootstrap: str, points: list[tuple[float, float]],
                 spec: dict[str, Any], every_s: float):
        super().__init__(name="fleet-heartbeat", daemon=True)
        self.bootstrap, self.points, self.spec = bootstrap, points, spec
        self.every_s = every_s
        self.beats = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.every_s):
            publish_fleet(self.bootstrap, self.points, self.spec,
                          int(time.time() * 1000))
            self.beats += 1

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)
