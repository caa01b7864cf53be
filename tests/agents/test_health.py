"""Redis failures: counted every time, logged sparingly, shown on /health."""

from __future__ import annotations

import logging

import pytest

from agents.health import RedisHealth


def test_failures_log_once_per_window_and_say_how_many_were_skipped(
        caplog: pytest.LogCaptureFixture) -> None:
    health = RedisHealth(log_every_s=3600)
    with caplog.at_level(logging.WARNING, logger="agents.health"):
        for _ in range(50):
            health.failed("unit search", ConnectionError("refused"))
    assert len(caplog.records) == 1
    assert health.status()["redis"] == "degraded"
    assert "refused" in health.status()["redis_last_error"]

    health.log_every_s = 0
    with caplog.at_level(logging.WARNING, logger="agents.health"):
        health.failed("unit search", ConnectionError("refused"))
    assert "49 more failures" in caplog.records[-1].getMessage()


def test_a_success_clears_the_degraded_state() -> None:
    health = RedisHealth()
    health.failed("write", TimeoutError())
    health.succeeded()
    assert health.status() == {"redis": "ok"}
