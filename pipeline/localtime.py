"""Local wall-clock times of a source, turned into UTC instants.

Every source declares its zone (``models/service_areas.yaml``). A local time on
the repeated hour of a daylight-saving change is ambiguous: the first
occurrence is taken and the report is flagged. A local time inside the skipped
hour does not exist: it is moved forward by the gap and flagged.

>>> ms, flags = local_to_utc_ms("2016-03-13 02:30:00", "America/New_York")
>>> flags
('nonexistent_local_time',)
>>> local_to_utc_ms("2015-11-01 01:30:00", "America/New_York")[1]
('ambiguous_local_time',)
>>> local_to_utc_ms("2016-01-23 12:00:00", "America/New_York")
(1453568400000, ())
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_FORMAT = "%Y-%m-%d %H:%M:%S"
FAR_PAST_S = 20 * 365 * 86400
#: Later than its receipt by more than this, a time is a wrong clock (a
#: device set by hand, a zone set wrong), not a report of the future.
FAR_FUTURE_S = 900
#: Flags of a time that cannot be trusted: kept on the report, never allowed to
#: move a clock (a cell's, a window's) that other reports are judged by.
IMPLAUSIBLE_TIME = frozenset({"time_in_future", "time_far_past"})


#: How far past its newest time one event may move an event-time clock. A
#: farther leap waits for a second event within this of the first: then time
#: really moved on (a quiet spell); else it was one wrong date (a recorded
#: log's row typed a year ahead, which a receipt time of today cannot tell).
#: A day, as the surge stage's ``max_ahead_s``: a sparse stream's gaps of
#: hours are time moving on.
MAX_CLOCK_LEAP_S = 86_400


class EventClock:
    """The newest event time of a stream, which one wrong time cannot move far.

    Incidents leave state by this clock; a single row dated a year ahead
    would otherwise close every open incident of its region at once
    (a live report's wrong clock is flagged by ``plausibility_flags`` and
    moves no clock at all). ``see`` returns the time to file an
    event under: its own, or the clock's while its leap is unconfirmed.

    >>> clock = EventClock(leap_ms=100)
    >>> clock.see(1_000), clock.see(5_000), clock.ms
    (1000, 1000, 1000)
    >>> clock.see(1_050), clock.see(5_020), clock.ms  # 5,020 confirms 5,000
    (1050, 5020, 5020)
    """

    __slots__ = ("_held", "leap_ms", "ms")

    def __init__(self, leap_ms: int = MAX_CLOCK_LEAP_S * 1000, ms: int = 0):
        self.ms = ms
        self.leap_ms = leap_ms
        self._held: int | None = None

    def see(self, event_ms: int) -> int:
        if self.ms == 0 or event_ms - self.ms <= self.leap_ms:
            self.ms = max(self.ms, event_ms)
            return event_ms
        held, self._held = self._held, event_ms
        if held is None or abs(event_ms - held) > self.leap_ms:
            return self.ms
        self._held = None
        self.ms = event_ms
        return event_ms


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_to_utc_ms(text: str, zone_name: str, fmt: str = DEFAULT_FORMAT
                    ) -> tuple[int, tuple[str, ...]]:
    """Parse a naive local time in ``zone_name``; return UTC ms and flags.

    Raises ``ValueError`` when ``text`` does not match ``fmt``.
    """
    text = text.strip()
    if fmt == DEFAULT_FORMAT and len(text) == 19 and text[10] == " ":
        # The common case, parsed in C: strptime costs ten times as much.
        naive = datetime.fromisoformat(text)
        if naive.tzinfo is not None:
            raise ValueError(f"time data {text!r} has an offset; expected {fmt}")
    else:
        naive = datetime.strptime(text, fmt)  # noqa: DTZ007 - localized below
    return naive_to_utc_ms(naive, zone_name)


def naive_to_utc_ms(naive: datetime, zone_name: str) -> tuple[int, tuple[str, ...]]:
    tz = zone(zone_name)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    flags: tuple[str, ...] = ()
    if first.utcoffset() != second.utcoffset():
        # Round-tripping through UTC tells a skipped hour from a repeated one.
        back = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if back == naive:
            flags = ("ambiguous_local_time",)
        else:
            gap = (first.utcoffset() or timedelta()) - (
                second.utcoffset() or timedelta()
            )
            first = (naive + abs(gap)).replace(tzinfo=tz, fold=0)
            flags = ("nonexistent_local_time",)
    return int(first.timestamp() * 1000), flags


def parse_iso_ms(text: str, default_zone: str) -> tuple[int, tuple[str, ...]]:
    """An ISO 8601 time; without an offset it is local to ``default_zone``."""
    stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        return naive_to_utc_ms(stamp, default_zone)
    return int(stamp.timestamp() * 1000), ()


def plausibility_flags(event_ms: int, now_ms: int) -> tuple[str, ...]:
    """Flag event times far in the future or the past of ``now_ms``."""
    if event_ms > now_ms + FAR_FUTURE_S * 1000:
        return ("time_in_future",)
    if event_ms < now_ms - FAR_PAST_S * 1000:
        return ("time_far_past",)
    return ()
