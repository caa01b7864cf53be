"""localtime: a source's wall-clock times into UTC, with DST edges flagged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.localtime import (
    FAR_FUTURE_S,
    FAR_PAST_S,
    local_to_utc_ms,
    naive_to_utc_ms,
    parse_iso_ms,
    plausibility_flags,
)

NEW_YORK = "America/New_York"


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
           second: int = 0) -> int:
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2016-01-23 12:00:00", utc_ms(2016, 1, 23, 17, 0, 0)),  # EST, -05:00
        ("2016-07-04 21:15:30", utc_ms(2016, 7, 5, 1, 15, 30)),  # EDT, -04:00
        ("2015-12-31 23:59:59", utc_ms(2016, 1, 1, 4, 59, 59)),
    ],
)
def test_ordinary_local_times(local: str, expected: int) -> None:
    assert local_to_utc_ms(local, NEW_YORK) == (expected, ())


def test_repeated_hour_takes_the_first_occurrence() -> None:
    ms, flags = local_to_utc_ms("2015-11-01 01:30:00", NEW_YORK)

    # The first 01:30 is still daylight time (-04:00); the second is 06:30 UTC.
    assert ms == utc_ms(2015, 11, 1, 5, 30, 0)
    assert flags == ("ambiguous_local_time",)


def test_skipped_hour_moves_forward_by_the_gap() -> None:
    ms, flags = local_to_utc_ms("2016-03-13 02:30:00", NEW_YORK)

    # 02:30 does not exist; it becomes 03:30 EDT.
    assert ms == utc_ms(2016, 3, 13, 7, 30, 0)
    assert flags == ("nonexistent_local_time",)


def test_hours_next_to_the_changes_are_not_flagged() -> None:
    assert local_to_utc_ms("2016-03-13 01:59:59", NEW_YORK) == (
        utc_ms(2016, 3, 13, 6, 59, 59), ())
    assert local_to_utc_ms("2016-03-13 03:00:00", NEW_YORK) == (
        utc_ms(2016, 3, 13, 7, 0, 0), ())
    assert local_to_utc_ms("2015-11-01 02:00:00", NEW_YORK) == (
        utc_ms(2015, 11, 1, 7, 0, 0), ())


def test_whitespace_is_trimmed_and_a_custom_format_is_used() -> None:
    assert local_to_utc_ms("  2016-01-23 12:00:00\n", NEW_YORK)[0] == utc_ms(
        2016, 1, 23, 17, 0, 0)
    assert local_to_utc_ms("23/01/2016 12:00", NEW_YORK, "%d/%m/%Y %H:%M")[0] == (
        utc_ms(2016, 1, 23, 17, 0, 0))


@pytest.mark.parametrize("text", ["", "2016-01-23", "2016-02-30 12:00:00", "noon"])
def test_unparseable_local_time_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        local_to_utc_ms(text, NEW_YORK)


def test_naive_datetime_in_utc_is_unchanged() -> None:
    naive = datetime(2016, 1, 23, 12, 0, 0)  # noqa: DTZ001 - naive on purpose
    assert naive_to_utc_ms(naive, "UTC") == (utc_ms(2016, 1, 23, 12, 0, 0), ())


@pytest.mark.parametrize(
    "text",
    [
        "2016-01-23T12:00:00Z",
        "2016-01-23T12:00:00+00:00",
        "2016-01-23T07:00:00-05:00",
        "2016-01-23T13:30:00+01:30",
        " 2016-01-23T12:00:00.000Z ",
    ],
)
def test_iso_with_an_offset_ignores_the_default_zone(text: str) -> None:
    assert parse_iso_ms(text, NEW_YORK) == (utc_ms(2016, 1, 23, 12, 0, 0), ())


def test_naive_iso_is_local_to_the_default_zone() -> None:
    assert parse_iso_ms("2016-01-23T12:00:00", "UTC") == (
        utc_ms(2016, 1, 23, 12, 0, 0), ())
    assert parse_iso_ms("2016-01-23T07:00:00", NEW_YORK) == (
        utc_ms(2016, 1, 23, 12, 0, 0), ())
    assert parse_iso_ms("2015-11-01T01:30:00", NEW_YORK)[1] == (
        "ambiguous_local_time",)
    assert parse_iso_ms("2016-03-13T02:30:00", NEW_YORK)[1] == (
        "nonexistent_local_time",)


def test_milliseconds_are_kept() -> None:
    assert parse_iso_ms("2016-01-23T12:00:00.250Z", "UTC")[0] == (
        utc_ms(2016, 1, 23, 12, 0, 0) + 250)


@pytest.mark.parametrize("text", ["", "yesterday", "2016-13-01T00:00:00Z"])
def test_bad_iso_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso_ms(text, "UTC")


NOW_MS = utc_ms(2016, 1, 23, 12, 0, 0)


@pytest.mark.parametrize(
    ("event_ms", "flags"),
    [
        (NOW_MS, ()),
        (NOW_MS + FAR_FUTURE_S * 1000, ()),
        (NOW_MS + FAR_FUTURE_S * 1000 + 1, ("time_in_future",)),
        (NOW_MS + 10 * 60_000, ()),  # a clock a few minutes fast
        (NOW_MS + 3 * 3_600_000, ("time_in_future",)),  # a zone set wrong
        (NOW_MS - FAR_PAST_S * 1000, ()),
        (NOW_MS - FAR_PAST_S * 1000 - 1, ("time_far_past",)),
        (utc_ms(9999, 1, 1, 0, 0, 0), ("time_in_future",)),
        (utc_ms(1970, 1, 1, 0, 0, 0), ("time_far_past",)),
    ],
)
def test_plausibility_flags(event_ms: int, flags: tuple[str, ...]) -> None:
    assert plausibility_flags(event_ms, NOW_MS) == flags
