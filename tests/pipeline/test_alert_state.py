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


def test_an_incident_of_an_untrusted_time_never_moves_the_clock() -> None:
    log = SentLog(keep_ms=2 * HOUR_MS)
    log.touch("I-open", 0)
    log.touch("I-skewed", 5 * HOUR_MS, timely=False)  # a device's wrong clock
    log.touch("I-other", 10 * 60_000)

    assert log.clock_ms == 10 * 60_000 and log.expired() == []
    log.touch("I-later", 2 * HOUR_MS + 1)
    assert log.expired() == ["I-open", "I-skewed"]  # filed at the clock's time


def test_a_restored_log_keeps_each_time_across_a_gap_of_days() -> None:
    log = SentLog.restored(2 * HOUR_MS, [("I-new", 72 * HOUR_MS), ("I-old", HOUR_MS),
                                         ("I-newer", 72 * HOUR_MS + 1)])

    assert log.clock_ms == 72 * HOUR_MS + 1
    assert log.expired() == ["I-old"]  # the new ones stay: filed at their times


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


def test_one_update_per_interval_and_the_rest_collapsed_into_the_next() -> None:
    from pipeline.alert_state import flush_due, observe, opened

    a = opened("fire", priority=3, units=False, now_ms=0, ack_within_s=0)
    a, first = observe(a, 2, False, now_ms=61_000, interval_ms=60_000)
    a, second = observe(a, 2, True, now_ms=62_000, interval_ms=60_000)
    a, third = observe(a, 1, True, now_ms=63_000, interval_ms=60_000)

    assert (first, second, third) == ("update", "collapsed", "collapsed")
    assert a.revision == 1 and a.collapsed == 2
    assert flush_due(a, 120_999, 60_000)[1] is False
    a, sent = flush_due(a, 121_000, 60_000)
    assert sent and a.revision == 2 and (a.priority, a.units) == (1, True)


def test_a_change_that_does_not_matter_or_comes_twice_sends_nothing() -> None:
    from pipeline.alert_state import observe, opened

    a = opened("fire", priority=2, units=True, now_ms=0, ack_within_s=0)
    assert observe(a, 3, False, 100_000, 1)[1] == "none"  # less urgent, no news
    a, outcome = observe(a, 1, True, 100_000, 1)
    assert outcome == "update"
    assert observe(a, 1, True, 200_000, 1)[1] == "none"  # the same change again


def test_escalation_once_after_the_deadline_and_an_ack_after_it_recorded() -> None:
    from pipeline.alert_state import acknowledge, escalate_due, opened

    a = opened("fire", 2, False, now_ms=1_000, ack_within_s=30)
    assert a.due_ms == 31_000 and a.waiting
    a, escalated = escalate_due(a, 31_000)
    assert escalated and not a.waiting
    assert escalate_due(a, 99_000)[1] is False
    a, outcome = acknowledge(a, "sup-2", 40_000)
    assert outcome == "after_escalation" and a.acked_by == "sup-2"


def test_no_deadline_without_ack_within_s() -> None:
    from pipeline.alert_state import escalate_due, opened

    a = opened("fire", 2, False, now_ms=0, ack_within_s=0)
    assert escalate_due(a, 10**12)[1] is False and not a.waiting


def test_state_round_trips_through_the_table() -> None:
    from pipeline.alert_state import AlertState, observe, opened

    a = observe(opened("fire", 3, False, 0, 60), 2, False, 1, 60_000)[0]
    assert AlertState.from_dict(a.to_dict()) == a
