"""Redis health as the route and units stages see it: counted, logged sparingly.

Routing goes on from the unit table when Redis fails (every call is bounded);
each failure is counted in ``intake_redis_fallback_total``, the log says so
at most once per ``LOG_EVERY_S`` (with how many failures it skipped), and
``/health`` reports Redis as degraded until a call succeeds again. After a
failure, callers leave Redis alone for ``RETRY_AFTER_S`` (``should_try``), so a
Redis that hangs costs one timeout per that time, not one per batch.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from agents import metrics

logger = logging.getLogger(__name__)
LOG_EVERY_S = 30.0
RETRY_AFTER_S = 1.0


class RedisHealth:
    def __init__(self, log_every_s: float = LOG_EVERY_S,
                 retry_after_s: float = RETRY_AFTER_S):
        self.log_every_s = log_every_s
        self.retry_after_s = retry_after_s
        self._last_failure = -float("inf")
        self.failing_since: float | None = None
        self.last_error = ""
        self._last_log = -float("inf")
        self._unlogged = 0

    def failed(self, what: str, exc: BaseException) -> None:
        metrics.REDIS_FALLBACKS.inc()
        now = time.monotonic()
        self._last_failure = now
        if self.failing_since is None:
            self.failing_since = time.time()
        self.last_error = f"{what}: {exc!r}"[:300]
        if now - self._last_log < self.log_every_s:
            self._unlogged += 1
            return
        skipped = f" ({self._unlogged} more failures since the last message)" \
            if self._unlogged else ""
        logger.warning("Redis failed (%s); routing from the unit table%s",
                       self.last_error, skipped)
        self._last_log, self._unlogged = now, 0

    def should_try(self) -> bool:
        """Whether to call Redis now: always while it answers; after a failure,
        again once ``retry_after_s`` has passed."""
        return (self.failing_since is None
                or time.monotonic() - self._last_failure >= self.retry_after_s)

    def succeeded(self) -> None:
        if self.failing_since is not None:
            logger.warning("Redis answers again after %.0f s",
                           time.time() - self.failing_since)
        self.failing_since = None
        self._unlogged = 0

    def status(self) -> dict[str, Any]:
        if self.failing_since is None:
            return {"redis": "ok"}
        return {"redis": "degraded", "redis_failing_since": self.failing_since,
                "redis_last_error": self.last_error}
