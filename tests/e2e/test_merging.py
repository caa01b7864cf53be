"""One incident per event on a real broker with two workers: reports either
side of a cell border and on different raw partitions, a report without a
point, a late report, a redelivery, and an operator's split flowing downstream."""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from kafka import KafkaProducer

from agents.broker import EmbeddedBroker, free_port
from agents.cli import wait_for_worker, worker_process
from agents.export import send_split
from agents.resources import load_topics
from agents.settings import Settings
from pipeline.bundle import partition_for
from tests.e2e.conftest import REDIS_URL, forget_keys, read_topic

METRE_DEG = 360 / (2 * math.pi * 6_371_008.8)
BORDER = 40.15  # a border of 0.05 degree cells
#: Haws Ave & Main St, Norristown, where the county's geocoder puts it.
CORNER = (40.119061, -75.353854)
T0 = datetime(2016, 1, 23, 17, 0, tzinfo=UTC).timestamp()


def payload(report_id: str, minute: float, lat: float | None = None,
            text: str = "vehicle accident", address: str = "",
            lon: float = -75.30) -> dict[str, Any]:
    value: dict[str, Any] = {
        "report_id": report_id, "source": "montgomery_pa", "channel": "911",
        "time": datetime.fromtimestamp(T0 + minute * 60, tz=UTC).isoformat(),
        "type": "vehicle accident", "text": text}
    if lat is not None:
        value["location"] = {"lat": lat, "lon": lon, "accuracy_m": 10}
    if address:
        value["address"] = address
    return value


@contextlib.contextmanager
def two_workers(work_dir: Path) -> Iterator[tuple[str, Settings]]:
    broker = EmbeddedBroker(log_path=work_dir / "broker.log")
    bootstrap = broker.start()
    app_id = f"test-{uuid.uuid4().hex[:8]}"
    try:
        with contextlib.ExitStack() as stack:
            running = []
            for n in range(2):
                settings = Settings.from_env(
                    broker=bootstrap, redis_url=REDIS_URL, app_id=app_id,
                    web_port=free_port(), data_dir=work_dir / f"w{n}")
                process = stack.enter_context(
                    worker_process(settings, work_dir / f"worker-{n}.log"))
                running.append((settings, process))
            for settings, process in running:
                wait_for_worker(settings.web_port, process)
            time.sleep(3.0)  # the group settles: each worker owns partitions
            for settings, process in running:
                wait_for_worker(settings.web_port, process)
            yield bootstrap, running[0][0]
            assert all(p.poll() is None for _, p in running), "a worker died"
    finally:
        broker.stop()
        forget_keys(REDIS_URL, app_id)


def board_until(bootstrap: str, wanted: int, timeout_s: float = 60
                ) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        board = read_topic(bootstrap, "incidents.board", quiet_s=1.0)
        if len(board) >= wanted or time.monotonic() > deadline:
            return board
        time.sleep(0.5)


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, Settings, dict[str, dict[str, Any]]]]:
    with two_workers(tmp_path_factory.mktemp("merging")) as (bootstrap, settings):
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        sends = [
            # 30 m apart, either side of a cell border, on two raw partitions.
            (0, payload("south", 0, BORDER - 15 * METRE_DEG,
                        text="car on its roof at haws ave")),
            (1, payload("north", 2, BORDER + 15 * METRE_DEG)),
            # No fix; the caller names the street, at a corner the county's
            # address book does not hold.
            (0, payload("nofix", 5, text="accident",
                        address="HAWS AVE & NORTH POLE RD")),
            # A located call at a real corner, and a call without a fix that
            # names it: the book (models/addresses) places the second there.
            (1, payload("corner", 1, CORNER[0] + 20 * METRE_DEG, lon=CORNER[1])),
            (0, payload("spoken", 4, text="accident", address="Main St & Haws Avenue")),
            # Late by event time: sent last, happened first.
            (1, payload("late", -3, BORDER)),
            # Redelivered: the same message again, on another partition.
            (1, payload("south", 0, BORDER - 15 * METRE_DEG,
                        text="car on its roof at haws ave")),
        ]
        for partition, value in sends:
            producer.send("reports.raw.json", value=orjson.dumps(value),
                          partition=partition).get(30)
            time.sleep(0.3)  # arrival order as listed
        producer.close()
        board = board_until(bootstrap, len(sends))
        by_report = {c["report_id"].split(":")[-1]: c for c in board}
        yield bootstrap, settings, by_report


def test_reports_across_a_border_and_partitions_are_one_incident(
        merged: tuple[str, Settings, dict[str, dict[str, Any]]]) -> None:
    _, _, by_report = merged
    south, north = by_report["south"], by_report["north"]
    assert north["change"] == "merged"
    assert north["incident_id"] == south["incident_id"]
    assert north["merge"]["reasons"][0].startswith("distance 30 m")


def test_a_report_without_a_fix_and_a_late_one_join_it(
        merged: tuple[str, Settings, dict[str, dict[str, Any]]]) -> None:
    _, _, by_report = merged
    incident = by_report["south"]["incident_id"]
    assert (by_report["nofix"]["change"], by_report["nofix"]["incident_id"]) == (
        "merged", incident)
    assert by_report["nofix"]["merge"]["reasons"][0] == "both name haws ave"
    assert (by_report["late"]["change"], by_report["late"]["incident_id"]) == (
        "merged", incident)
    assert by_report["late"]["report_count"] == 4


def test_a_call_without_a_fix_is_placed_at_the_address_it_gives(
        merged: tuple[str, Settings, dict[str, dict[str, Any]]]) -> None:
    bootstrap, _, by_report = merged
    spoken = by_report["spoken"]
    assert (spoken["change"], spoken["incident_id"]) == (
        "merged", by_report["corner"]["incident_id"])
    assert spoken["merge"]["reasons"][0].startswith("distance 20 m")
    bundles = cast(list[list[dict[str, Any]]],  # bundles of reports
                   read_topic(bootstrap, "reports.normalized"))
    normalized = {r["report_id"].split(":")[-1]: r
                  for bundle in bundles for r in bundle}
    assert "geocoded" in normalized["spoken"]["flags"]
    assert (normalized["spoken"]["lat"], normalized["spoken"]["lon"]) == CORNER
    assert "geocoded" not in normalized["nofix"]["flags"]
    assert normalized["nofix"]["lat"] is None


def test_a_redelivered_report_changes_nothing(
        merged: tuple[str, Settings, dict[str, dict[str, Any]]]) -> None:
    bootstrap, _, _ = merged
    board = read_topic(bootstrap, "incidents.board")
    south = [c for c in board if c["report_id"].endswith(":south")]
    assert [c["change"] for c in south] == ["new", "repeat"]
    assert len({c["incident_id"] for c in board}) == 2  # the border's, the corner's


def test_a_split_flows_downstream_and_is_idempotent(
        merged: tuple[str, Settings, dict[str, dict[str, Any]]]) -> None:
    bootstrap, settings, by_report = merged
    incident = by_report["south"]["incident_id"]
    report_id = by_report["late"]["report_id"]
    partitions = load_topics(settings.topics_file)["incidents.commands"].partitions
    for _ in range(2):  # the same command twice
        send_split(bootstrap, incident, report_id, "supervisor 3", "other car",
                   partitions)
    board = board_until(bootstrap, 9)
    splits = [c for c in board if c.get("split")]
    assert [c["change"] for c in splits] == ["split", "new"]
    left, alone = splits
    assert (left["incident_id"], left["report_count"]) == (incident, 3)
    assert report_id not in left["report_ids"]
    assert alone["report_ids"] == [report_id] and alone["incident_id"] != incident
    assert alone["split"] == {"report_id": report_id, "from": incident,
                              "into": alone["incident_id"], "by": "supervisor 3",
                              "reason": "other car"}
    # Downstream stages handled both like any change: scored and on the board.
    assert all(c["priority"] is not None and c["board_ms"] for c in splits)


def test_commands_that_cannot_be_carried_out_are_dead_lettered_and_lose_nothing(
        merged: tuple[str, Settings, dict[str, dict[str, Any]]]) -> None:
    bootstrap, settings, _ = merged
    region = "r:montgomery_pa"
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send("reports.raw.json", value=orjson.dumps(
        payload("alone", 30, 40.30, text="tree down"))).get(30)
    board = board_until(bootstrap, 10)
    alone = next(c for c in board if c["report_id"].endswith(":alone"))
    partitions = load_topics(settings.topics_file)["incidents.commands"].partitions
    commands = [
        {"command": "split", "region": region, "incident_id": alone["incident_id"],
         "report_id": alone["report_id"], "by": "sup", "at_ms": 1},  # its only one
        {"command": "split", "region": region},  # no ids
        {"note": "not a command at all"},
    ]
    producer.send("incidents.commands", key=region.encode(),
                  value=orjson.dumps(commands),
                  partition=partition_for(region.encode(), partitions)).get(30)
    # A report after the commands still goes through.
    producer.send("reports.raw.json", value=orjson.dumps(
        payload("after", 31, 40.40, text="wires down"))).get(30)
    producer.close()

    board = board_until(bootstrap, 11)
    assert any(c["report_id"].endswith(":after") for c in board)
    letters: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while len(letters) < 3 and time.monotonic() < deadline:
        letters = read_topic(bootstrap, "reports.deadletter")
    assert sorted(letter["reason"] for letter in letters) == [
        "bad_command", "bad_command", "split_refused"]
    assert any("only one" in letter["detail"] for letter in letters)


def test_a_caller_without_a_place_follows_their_texts_fix_downstream(
        merged: tuple[str, Settings, dict[str, dict[str, Any]]]) -> None:
    bootstrap, _, _ = merged
    at = 40.25, -75.20  # far from every report before
    number = "+15550001111"

    def when(minute: float) -> str:
        return datetime.fromtimestamp(T0 + minute * 60, tz=UTC).isoformat()

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    sends = [
        ("reports.raw.json", payload("crash", 40, at[0], lon=at[1])),
        # A cardiac arrest, the caller cannot say where: an incident of its own.
        ("reports.raw.call", {"call_id": "fall", "source": "montgomery_pa",
                              "time": when(41), "type": "CARDIAC ARREST",
                              "caller_number": number,
                              "text": "my father is not breathing; caller unsure "
                                      "of exact location"}),
        # Their text three minutes on, from the crash.
        ("reports.raw.sms", {"message_id": "fix", "source": "montgomery_pa",
                             "sender": "+1 555 000 1111", "time": when(44),
                             "text": "it is here, by the gas station",
                             "location": {"lat": at[0], "lon": at[1],
                                          "accuracy_m": 8}}),
    ]
    for topic, value in sends:
        producer.send(topic, value=orjson.dumps(value)).get(30)
        time.sleep(0.3)
    producer.close()
    board = board_until(bootstrap, 16)
    crash = next(c for c in board if c["report_id"].endswith(":crash"))
    fall = next(c for c in board if c["report_id"].endswith(":fall")
                and not c.get("split"))
    assert fall["change"] == "new" and fall["incident_id"] != crash["incident_id"]
    moved = [c for c in board if c.get("split") and c["report_id"].endswith(":fall")]
    assert [c["change"] for c in moved] == ["split", "merged"]
    left, joined = moved
    assert (left["incident_id"], left["report_count"], left["units"]) == (
        fall["incident_id"], 0, [])
    assert (joined["incident_id"], joined["report_count"]) == (crash["incident_id"], 3)
    assert joined["split"]["by"] == "dedupe"
    assert joined["split"]["reason"].startswith("its reporter's fix in sms:")
    # Scored and on the board like any change; the emptied one asks for no
    # units, so no shortfall either. The call's words went with it: the crash
    # is now life-threatening.
    assert fall["priority"] == 1 and joined["priority"] == 1 and joined["board_ms"]
    assert left["route_shortfall"] == [] and joined["route_shortfall"]
    assert any("not breathing" in text for text in joined["texts"])
    # The emptied incident's alert gets one last update, saying where its
    # report went; the crash's alert fires.
    deadline = time.monotonic() + 30
    while True:
        alerts = read_topic(bootstrap, "alerts.outbound", quiet_s=0.5)
        gone = [a for a in alerts if a["incident_id"] == fall["incident_id"]]
        crash_alerts = [a for a in alerts if a["incident_id"] == crash["incident_id"]
                        and a["rule_id"] == "life-threat"]
        if ((any(a["action"] == "update" for a in gone) and crash_alerts)
                or time.monotonic() > deadline):
            break
        time.sleep(0.5)
    assert [a["action"] for a in gone if a["rule_id"] == "life-threat"] == [
        "alert", "update"]
    update = next(a for a in gone if a["action"] == "update")
    assert update["changed"] == [
        f"no report left: moved into incident {crash['incident_id']}"]
    assert crash_alerts and crash_alerts[0]["action"] == "alert"
