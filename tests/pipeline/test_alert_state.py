"""The record of alerts sent forgets incidents no change can reach any more."""

from __future__ import annotations

from pipeline.alert import SentLog

HOUR_MS = 3_600_000


def test_quiet_incidents_expire_in_order_and_busy_ones_stay() -> None:
    log = SentLog(keep_ms=24 * HOUR_MS)
    log.touch("I-old", 0)
    log.touch("I-busy", 1 * HOUR_MS)
    log.touch("I-late", 2 * HOUR_MS)
    log.touch("I-busy", 20 * HOUR_MS)  # a new report: its clock starts again
    log.touch("I-now", 25 * HOUR_MS)

    assert log.expired() == ["I-old"]  # quiet for 25 h
    assert len(log) == 3
    log.touch("I-next", 44 * HOUR_MS + 1)
    assert log.expired() == ["I-late", "I-busy"]
    assert len(log) == 2


def test_an_older_change_never_moves_an_incident_back_in_time() -> None:
    log = SentLog(keep_ms=10)
    log.touch("I-1", 100)
    log.touch("I-1", 50)  # a late report of an incident seen at 100
    log.touch("I-2", 105)
    assert log.expired() == []
    log.touch("I-3", 111)
    assert log.expired() == ["I-1"]


def test_memory_stays_bounded_over_a_long_stream() -> None:
    log = SentLog(keep_ms=24 * HOUR_MS)
    for minute in range(60 * 24 * 30):  # a month, one incident a minute
        log.touch(f"I-{minute}", minute * 60_000)
        log.expired()
    assert len(log) <= 24 * 60 + 1


def test_a_restored_log_expires_in_the_order_of_last_change() -> None:
    log = SentLog.restored(10, [("I-b", 105), ("I-a", 100), ("I-c", 120)])
    assert log.expired() == ["I-a", "I-b"]
    assert len(log) == 1
