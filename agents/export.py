"""Export incidents from the board as EIDO-style JSON files (``pipeline/eido.py``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from agents.exceptions import IntakeError

BOARD = "incidents.board"


def read_board(bootstrap: str, quiet_s: float = 2.0) -> dict[str, list[dict[str, Any]]]:
    """Every change on the board, by incident, oldest first, read until quiet.

    Not "until the end offset": the embedded broker's end offsets lag.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(BOARD, p)
                      for p in sorted(consumer.partitions_for_topic(BOARD) or ())]
        if not partitions:
            raise IntakeError(f"no topic {BOARD} on {bootstrap}: is this the "
                               "pipeline's broker?")
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        incidents: dict[str, list[dict[str, Any]]] = {}
        last_news = time.monotonic()
        while time.monotonic() - last_news < quiet_s:
            for records in consumer.poll(timeout_ms=200, max_records=5000).values():
                for record in records:
                    change = orjson.loads(record.value)
                    incidents.setdefault(change["incident_id"], []).append(change)
                last_news = time.monotonic()
        return incidents
    finally:
        consumer.close()


def send_split(bootstrap: str, incident_id: str, report_id: str, by: str,
               reason: str, partitions: int) -> dict[str, Any]:
    """Ask dedupe to take a report out of an incident; the command as sent.

    The incident's region comes from the board; the command goes to the
    partition of ``incidents.commands`` the region's reports are matched in.
    """
    from kafka import KafkaProducer

    from pipeline.bundle import partition_for

    changes = read_board(bootstrap).get(incident_id)
    if not changes:
        raise KeyError(f"not on the board: {incident_id}")
    if not any(report_id in c.get("report_ids", ()) or c.get("report_id") == report_id
               for c in changes):
        raise KeyError(f"report {report_id} was never in {incident_id}")
    region = changes[-1].get("region") or ""
    if not region.startswith("r:"):
        raise KeyError(f"{incident_id} was matched alone: there is nothing to split")
    command = {"command": "split", "region": region, "incident_id": incident_id,
               "report_id": report_id, "by": by, "reason": reason,
               "at_ms": int(time.time() * 1000)}
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send("incidents.commands", key=region.encode(),
                      value=orjson.dumps([command]),
                      partition=partition_for(region.encode(), partitions)).get(30)
    finally:
        producer.close()
    return command


def export_eido(bootstrap: str, out_dir: Path, incident_ids: list[str] | None = None
                ) -> list[Path]:
    """Write ``<incident>.eido.json`` for each incident (or the ones named)."""
    from pipeline.eido import to_eido

    incidents = read_board(bootstrap)
    wanted = incident_ids or sorted(incidents)
    missing = [i for i in wanted if i not in incidents]
    if missing:
        raise KeyError(f"not on the board: {', '.join(missing[:5])}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for incident_id in wanted:
        path = out_dir / f"{incident_id}.eido.json"
        path.write_bytes(orjson.dumps(to_eido(incidents[incident_id]),
                                      option=orjson.OPT_INDENT_2))
        written.append(path)
    return written
