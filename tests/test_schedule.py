"""Sending times of schedules: DST both ways, month ends, leap days, intervals, bounds, cron.

Every expected time is written out twice: in UTC and as the campaign's local time (``describe``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import cronsim
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reconciler import schedule
from reconciler.schedule import HORIZON_YEARS, describe, next_occurrences, occurrences

AMS, NYC = "Europe/Amsterdam", "America/New_York"
FAR = datetime(2200, 1, 1, tzinfo=UTC)


def every(zone: str | None = None, **recurring: Any) -> dict[str, Any]:
    schedule: dict[str, Any] = {"recurring": recurring}
    if zone:
        schedule["timezone"] = zone
    return {"channel": "email", "audience": {"segment": "s"}, "schedule": schedule}


def cron(expression: str, zone: str | None = None) -> dict[str, Any]:
    return every(zone, cron=expression)


def once(at: str, zone: str | None = None) -> dict[str, Any]:
    schedule: dict[str, Any] = {"once": {"at": at}}
    if zone:
        schedule["timezone"] = zone
    return {"channel": "email", "audience": {"segment": "s"}, "schedule": schedule}


def utc(text: str) -> datetime:
    """'2026-03-29' or '2026-03-29 01:00' as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def shown(spec: dict[str, Any], moments: list[datetime]) -> list[str]:
    """'2026-03-29 01:00Z = Sun 2026-03-29 03:00 CEST': each time in UTC and in local time."""
    for moment in moments:
        assert moment.tzinfo is UTC
    return [f"{m:%Y-%m-%d %H:%M}Z = {describe(m, spec)}" for m in moments]


def case(name: str, spec: dict[str, Any], start: str, end: str, *expected: str) -> Any:
    return pytest.param(spec, utc(start), utc(end), list(expected), id=name)


CASES = [
    # -- DST, Europe/Amsterdam: spring forward 2026-03-29 02:00 CET -> 03:00 CEST,
    #    fall back 2026-10-25 03:00 CEST -> 02:00 CET
    case(
        "ams-day-09:00-spring",
        every(AMS, every="day", at="09:00"),
        "2026-03-28",
        "2026-03-31",
        "2026-03-28 08:00Z = Sat 2026-03-28 09:00 CET",
        "2026-03-29 07:00Z = Sun 2026-03-29 09:00 CEST",
        "2026-03-30 07:00Z = Mon 2026-03-30 09:00 CEST",
    ),
    case(
        "ams-day-09:00-autumn",
        every(AMS, every="day", at="09:00"),
        "2026-10-24",
        "2026-10-27",
        "2026-10-24 07:00Z = Sat 2026-10-24 09:00 CEST",
        "2026-10-25 08:00Z = Sun 2026-10-25 09:00 CET",
        "2026-10-26 08:00Z = Mon 2026-10-26 09:00 CET",
    ),
    case(
        "ams-day-02:30-in-spring-gap-moves-to-03:00",
        every(AMS, every="day", at="02:30"),
        "2026-03-28",
        "2026-03-31",
        "2026-03-28 01:30Z = Sat 2026-03-28 02:30 CET",
        "2026-03-29 01:00Z = Sun 2026-03-29 03:00 CEST",
        "2026-03-30 00:30Z = Mon 2026-03-30 02:30 CEST",
    ),
    case(
        "ams-day-02:30-in-autumn-overlap-sent-once-first",
        every(AMS, every="day", at="02:30"),
        "2026-10-24",
        "2026-10-27",
        "2026-10-24 00:30Z = Sat 2026-10-24 02:30 CEST",
        "2026-10-25 00:30Z = Sun 2026-10-25 02:30 CEST",
        "2026-10-26 01:30Z = Mon 2026-10-26 02:30 CET",
    ),
    case(
        "ams-week-09:00-spring",
        every(AMS, every="week", on=["sun"], at="09:00"),
        "2026-03-20",
        "2026-04-06",
        "2026-03-22 08:00Z = Sun 2026-03-22 09:00 CET",
        "2026-03-29 07:00Z = Sun 2026-03-29 09:00 CEST",
        "2026-04-05 07:00Z = Sun 2026-04-05 09:00 CEST",
    ),
    case(
        "ams-week-09:00-autumn",
        every(AMS, every="week", on=["sun"], at="09:00"),
        "2026-10-17",
        "2026-11-02",
        "2026-10-18 07:00Z = Sun 2026-10-18 09:00 CEST",
        "2026-10-25 08:00Z = Sun 2026-10-25 09:00 CET",
        "2026-11-01 08:00Z = Sun 2026-11-01 09:00 CET",
    ),
    case(
        "ams-week-02:30-in-spring-gap",
        every(AMS, every="week", on=["sun"], at="02:30"),
        "2026-03-20",
        "2026-04-06",
        "2026-03-22 01:30Z = Sun 2026-03-22 02:30 CET",
        "2026-03-29 01:00Z = Sun 2026-03-29 03:00 CEST",
        "2026-04-05 00:30Z = Sun 2026-04-05 02:30 CEST",
    ),
    case(
        "ams-week-02:30-in-autumn-overlap",
        every(AMS, every="week", on=["sun"], at="02:30"),
        "2026-10-17",
        "2026-11-02",
        "2026-10-18 00:30Z = Sun 2026-10-18 02:30 CEST",
        "2026-10-25 00:30Z = Sun 2026-10-25 02:30 CEST",
        "2026-11-01 01:30Z = Sun 2026-11-01 02:30 CET",
    ),
    # -- DST, America/New_York: spring forward 2026-03-08 02:00 EST -> 03:00 EDT,
    #    fall back 2026-11-01 02:00 EDT -> 01:00 EST
    case(
        "nyc-day-09:00-spring",
        every(NYC, every="day", at="09:00"),
        "2026-03-07",
        "2026-03-10",
        "2026-03-07 14:00Z = Sat 2026-03-07 09:00 EST",
        "2026-03-08 13:00Z = Sun 2026-03-08 09:00 EDT",
        "2026-03-09 13:00Z = Mon 2026-03-09 09:00 EDT",
    ),
    case(
        "nyc-day-09:00-autumn",
        every(NYC, every="day", at="09:00"),
        "2026-10-31",
        "2026-11-03",
        "2026-10-31 13:00Z = Sat 2026-10-31 09:00 EDT",
        "2026-11-01 14:00Z = Sun 2026-11-01 09:00 EST",
        "2026-11-02 14:00Z = Mon 2026-11-02 09:00 EST",
    ),
    case(
        "nyc-day-02:30-in-spring-gap-moves-to-03:00",
        every(NYC, every="day", at="02:30"),
        "2026-03-07",
        "2026-03-10",
        "2026-03-07 07:30Z = Sat 2026-03-07 02:30 EST",
        "2026-03-08 07:00Z = Sun 2026-03-08 03:00 EDT",
        "2026-03-09 06:30Z = Mon 2026-03-09 02:30 EDT",
    ),
    case(
        "nyc-day-01:30-in-autumn-overlap-sent-once-first",
        every(NYC, every="day", at="01:30"),
        "2026-10-31",
        "2026-11-03",
        "2026-10-31 05:30Z = Sat 2026-10-31 01:30 EDT",
        "2026-11-01 05:30Z = Sun 2026-11-01 01:30 EDT",
        "2026-11-02 06:30Z = Mon 2026-11-02 01:30 EST",
    ),
    case(
        "nyc-week-09:00-spring",
        every(NYC, every="week", on=["sun"], at="09:00"),
        "2026-03-01",
        "2026-03-16",
        "2026-03-01 14:00Z = Sun 2026-03-01 09:00 EST",
        "2026-03-08 13:00Z = Sun 2026-03-08 09:00 EDT",
        "2026-03-15 13:00Z = Sun 2026-03-15 09:00 EDT",
    ),
    case(
        "nyc-week-09:00-autumn",
        every(NYC, every="week", on=["sun"], at="09:00"),
        "2026-10-25",
        "2026-11-09",
        "2026-10-25 13:00Z = Sun 2026-10-25 09:00 EDT",
        "2026-11-01 14:00Z = Sun 2026-11-01 09:00 EST",
        "2026-11-08 14:00Z = Sun 2026-11-08 09:00 EST",
    ),
    case(
        "nyc-week-02:30-in-spring-gap",
        every(NYC, every="week", on=["sun"], at="02:30"),
        "2026-03-01",
        "2026-03-16",
        "2026-03-01 07:30Z = Sun 2026-03-01 02:30 EST",
        "2026-03-08 07:00Z = Sun 2026-03-08 03:00 EDT",
        "2026-03-15 06:30Z = Sun 2026-03-15 02:30 EDT",
    ),
    case(
        "nyc-week-01:30-in-autumn-overlap",
        every(NYC, every="week", on=["sun"], at="01:30"),
        "2026-10-25",
        "2026-11-09",
        "2026-10-25 05:30Z = Sun 2026-10-25 01:30 EDT",
        "2026-11-01 05:30Z = Sun 2026-11-01 01:30 EDT",
        "2026-11-08 06:30Z = Sun 2026-11-08 01:30 EST",
    ),
    # -- a gap at midnight, and a gap of 30 minutes
    case(
        "santiago-day-00:30-in-a-midnight-gap-moves-to-01:00",
        every("America/Santiago", every="day", at="00:30"),
        "2026-09-05",
        "2026-09-08",
        "2026-09-05 04:30Z = Sat 2026-09-05 00:30 -04",
        "2026-09-06 04:00Z = Sun 2026-09-06 01:00 -03",
        "2026-09-07 03:30Z = Mon 2026-09-07 00:30 -03",
    ),
    case(
        "lord-howe-day-02:15-in-a-30-minute-gap-moves-to-02:30",
        every("Australia/Lord_Howe", every="day", at="02:15"),
        "2026-10-02",
        "2026-10-05",
        "2026-10-02 15:45Z = Sat 2026-10-03 02:15 +1030",
        "2026-10-03 15:30Z = Sun 2026-10-04 02:30 +11",
        "2026-10-04 15:15Z = Mon 2026-10-05 02:15 +11",
    ),
    # -- cron across DST: the same wall-clock rule
    case(
        "cron-ams-09:00-spring",
        cron("0 9 * * *", AMS),
        "2026-03-28",
        "2026-03-31",
        "2026-03-28 08:00Z = Sat 2026-03-28 09:00 CET",
        "2026-03-29 07:00Z = Sun 2026-03-29 09:00 CEST",
        "2026-03-30 07:00Z = Mon 2026-03-30 09:00 CEST",
    ),
    case(
        "cron-ams-02:30-in-spring-gap",
        cron("30 2 * * *", AMS),
        "2026-03-28",
        "2026-03-31",
        "2026-03-28 01:30Z = Sat 2026-03-28 02:30 CET",
        "2026-03-29 01:00Z = Sun 2026-03-29 03:00 CEST",
        "2026-03-30 00:30Z = Mon 2026-03-30 02:30 CEST",
    ),
    case(
        "cron-ams-02:30-in-autumn-overlap",
        cron("30 2 * * *", AMS),
        "2026-10-24",
        "2026-10-27",
        "2026-10-24 00:30Z = Sat 2026-10-24 02:30 CEST",
        "2026-10-25 00:30Z = Sun 2026-10-25 02:30 CEST",
        "2026-10-26 01:30Z = Mon 2026-10-26 02:30 CET",
    ),
    case(
        "cron-ams-hourly-in-spring-gap",
        cron("30 * * * *", AMS),
        "2026-03-29 00:00",
        "2026-03-29 03:00",
        "2026-03-29 00:30Z = Sun 2026-03-29 01:30 CET",
        "2026-03-29 01:00Z = Sun 2026-03-29 03:00 CEST",
        "2026-03-29 01:30Z = Sun 2026-03-29 03:30 CEST",
        "2026-03-29 02:30Z = Sun 2026-03-29 04:30 CEST",
    ),
    case(
        "cron-ams-hourly-gap-slot-and-03:00-are-one-sending",
        cron("0 * * * *", AMS),
        "2026-03-29 00:00",
        "2026-03-29 03:00",
        "2026-03-29 00:00Z = Sun 2026-03-29 01:00 CET",
        "2026-03-29 01:00Z = Sun 2026-03-29 03:00 CEST",
        "2026-03-29 02:00Z = Sun 2026-03-29 04:00 CEST",
    ),
    case(
        "cron-ams-hourly-in-autumn-overlap-once",
        cron("0 * * * *", AMS),
        "2026-10-24 23:00",
        "2026-10-25 03:00",
        "2026-10-24 23:00Z = Sun 2026-10-25 01:00 CEST",
        "2026-10-25 00:00Z = Sun 2026-10-25 02:00 CEST",
        "2026-10-25 02:00Z = Sun 2026-10-25 03:00 CET",
    ),
    case(
        "cron-nyc-09:00-spring",
        cron("0 9 * * *", NYC),
        "2026-03-07",
        "2026-03-10",
        "2026-03-07 14:00Z = Sat 2026-03-07 09:00 EST",
        "2026-03-08 13:00Z = Sun 2026-03-08 09:00 EDT",
        "2026-03-09 13:00Z = Mon 2026-03-09 09:00 EDT",
    ),
    case(
        "cron-nyc-09:00-autumn",
        cron("0 9 * * *", NYC),
        "2026-10-31",
        "2026-11-03",
        "2026-10-31 13:00Z = Sat 2026-10-31 09:00 EDT",
        "2026-11-01 14:00Z = Sun 2026-11-01 09:00 EST",
        "2026-11-02 14:00Z = Mon 2026-11-02 09:00 EST",
    ),
    case(
        "cron-nyc-02:30-in-spring-gap",
        cron("30 2 * * *", NYC),
        "2026-03-07",
        "2026-03-10",
        "2026-03-07 07:30Z = Sat 2026-03-07 02:30 EST",
        "2026-03-08 07:00Z = Sun 2026-03-08 03:00 EDT",
        "2026-03-09 06:30Z = Mon 2026-03-09 02:30 EDT",
    ),
    case(
        "cron-nyc-01:30-in-autumn-overlap",
        cron("30 1 * * *", NYC),
        "2026-10-31",
        "2026-11-03",
        "2026-10-31 05:30Z = Sat 2026-10-31 01:30 EDT",
        "2026-11-01 05:30Z = Sun 2026-11-01 01:30 EDT",
        "2026-11-02 06:30Z = Mon 2026-11-02 01:30 EST",
    ),
    # -- cron's day-of-month / day-of-week rule
    case(
        "cron-dom-or-dow-13th-and-fridays",
        cron("0 9 13 * FRI"),
        "2026-12-01",
        "2027-01-01",
        "2026-12-04 09:00Z = Fri 2026-12-04 09:00 UTC",
        "2026-12-11 09:00Z = Fri 2026-12-11 09:00 UTC",
        "2026-12-13 09:00Z = Sun 2026-12-13 09:00 UTC",
        "2026-12-18 09:00Z = Fri 2026-12-18 09:00 UTC",
        "2026-12-25 09:00Z = Fri 2026-12-25 09:00 UTC",
    ),
    case(
        "cron-dom-star-means-dow-only",
        cron("0 9 * * FRI"),
        "2026-12-01",
        "2027-01-01",
        "2026-12-04 09:00Z = Fri 2026-12-04 09:00 UTC",
        "2026-12-11 09:00Z = Fri 2026-12-11 09:00 UTC",
        "2026-12-18 09:00Z = Fri 2026-12-18 09:00 UTC",
        "2026-12-25 09:00Z = Fri 2026-12-25 09:00 UTC",
    ),
    case(
        "cron-dom-star-step-and-dow-both-must-match",
        cron("0 9 */2 * FRI"),
        "2026-12-01",
        "2027-01-01",
        "2026-12-11 09:00Z = Fri 2026-12-11 09:00 UTC",
        "2026-12-25 09:00Z = Fri 2026-12-25 09:00 UTC",
    ),
    # -- month ends and leap days: a missing day is skipped, never moved
    case(
        "month-31-skips-april-and-june",
        every(every="month", on=[31], at="09:00"),
        "2026-03-01",
        "2026-08-01",
        "2026-03-31 09:00Z = Tue 2026-03-31 09:00 UTC",
        "2026-05-31 09:00Z = Sun 2026-05-31 09:00 UTC",
        "2026-07-31 09:00Z = Fri 2026-07-31 09:00 UTC",
    ),
    case(
        "month-29-30-31-skip-february",
        every(every="month", on=[31, 29, 30], at="09:00"),
        "2026-01-30",
        "2026-03-30",
        "2026-01-30 09:00Z = Fri 2026-01-30 09:00 UTC",
        "2026-01-31 09:00Z = Sat 2026-01-31 09:00 UTC",
        "2026-03-29 09:00Z = Sun 2026-03-29 09:00 UTC",
    ),
    case(
        "cron-31-skips-april-and-june",
        cron("0 9 31 * *"),
        "2026-03-01",
        "2026-08-01",
        "2026-03-31 09:00Z = Tue 2026-03-31 09:00 UTC",
        "2026-05-31 09:00Z = Sun 2026-05-31 09:00 UTC",
        "2026-07-31 09:00Z = Fri 2026-07-31 09:00 UTC",
    ),
    case(
        "leap-day-2028",
        every(every="month", on=[29], at="09:00"),
        "2028-02-01",
        "2028-03-01",
        "2028-02-29 09:00Z = Tue 2028-02-29 09:00 UTC",
    ),
    case("no-leap-day-2027", every(every="month", on=[29], at="09:00"), "2027-02-01", "2027-03-01"),
    # -- intervals, with and without start (anchors: 1970-01-05 for days and weeks, 1970-01 for
    #    months, else the local date of start)
    case(
        "days-interval-2-from-epoch",
        every(every="day", interval=2, at="09:00"),
        "2026-12-01",
        "2026-12-07",
        "2026-12-01 09:00Z = Tue 2026-12-01 09:00 UTC",
        "2026-12-03 09:00Z = Thu 2026-12-03 09:00 UTC",
        "2026-12-05 09:00Z = Sat 2026-12-05 09:00 UTC",
    ),
    case(
        "days-interval-2-from-start",
        every(AMS, every="day", interval=2, at="09:00", start="2026-12-02T00:00:00+01:00"),
        "2026-12-01",
        "2026-12-07",
        "2026-12-02 08:00Z = Wed 2026-12-02 09:00 CET",
        "2026-12-04 08:00Z = Fri 2026-12-04 09:00 CET",
        "2026-12-06 08:00Z = Sun 2026-12-06 09:00 CET",
    ),
    case(
        "weeks-interval-2-from-epoch-on-mondays",
        every(every="week", interval=2, at="09:00"),
        "2026-11-30",
        "2026-12-28",
        "2026-12-07 09:00Z = Mon 2026-12-07 09:00 UTC",
        "2026-12-21 09:00Z = Mon 2026-12-21 09:00 UTC",
    ),
    case(
        "weeks-interval-2-from-start-on-mon-thu",
        every(
            AMS,
            every="week",
            interval=2,
            on=["mon", "thu"],
            at="09:00",
            start="2026-12-03T00:00:00+01:00",
        ),
        "2026-11-30",
        "2027-01-05",
        "2026-12-03 08:00Z = Thu 2026-12-03 09:00 CET",
        "2026-12-14 08:00Z = Mon 2026-12-14 09:00 CET",
        "2026-12-17 08:00Z = Thu 2026-12-17 09:00 CET",
        "2026-12-28 08:00Z = Mon 2026-12-28 09:00 CET",
        "2026-12-31 08:00Z = Thu 2026-12-31 09:00 CET",
    ),
    case(
        "weeks-interval-2-from-start-on-its-weekday",
        every(AMS, every="week", interval=2, at="09:00", start="2026-12-03T00:00:00+01:00"),
        "2026-11-30",
        "2027-01-05",
        "2026-12-03 08:00Z = Thu 2026-12-03 09:00 CET",
        "2026-12-17 08:00Z = Thu 2026-12-17 09:00 CET",
        "2026-12-31 08:00Z = Thu 2026-12-31 09:00 CET",
    ),
    case(
        "months-interval-2-from-epoch-odd-months",
        every(every="month", interval=2, on=[15], at="09:00"),
        "2026-01-01",
        "2026-07-01",
        "2026-01-15 09:00Z = Thu 2026-01-15 09:00 UTC",
        "2026-03-15 09:00Z = Sun 2026-03-15 09:00 UTC",
        "2026-05-15 09:00Z = Fri 2026-05-15 09:00 UTC",
    ),
    case(
        "months-interval-2-from-start-on-its-day",
        every(AMS, every="month", interval=2, at="09:00", start="2026-02-10T09:00:00+01:00"),
        "2026-01-01",
        "2026-09-01",
        "2026-02-10 08:00Z = Tue 2026-02-10 09:00 CET",
        "2026-04-10 07:00Z = Fri 2026-04-10 09:00 CEST",
        "2026-06-10 07:00Z = Wed 2026-06-10 09:00 CEST",
        "2026-08-10 07:00Z = Mon 2026-08-10 09:00 CEST",
    ),
    case(
        "month-without-on-or-start-on-the-1st",
        every(every="month", at="09:00"),
        "2026-01-01",
        "2026-03-01",
        "2026-01-01 09:00Z = Thu 2026-01-01 09:00 UTC",
        "2026-02-01 09:00Z = Sun 2026-02-01 09:00 UTC",
    ),
    case(
        "week-on-several-weekdays-in-any-order",
        every(every="week", on=["fri", "mon", "wed"], at="09:00"),
        "2026-12-07",
        "2026-12-14",
        "2026-12-07 09:00Z = Mon 2026-12-07 09:00 UTC",
        "2026-12-09 09:00Z = Wed 2026-12-09 09:00 UTC",
        "2026-12-11 09:00Z = Fri 2026-12-11 09:00 UTC",
    ),
    # -- bounds: start included, end excluded, for the schedule and for the window
    case(
        "schedule-start-included-end-excluded",
        every(
            AMS,
            every="day",
            at="09:00",
            start="2026-12-07T09:00:00+01:00",
            end="2026-12-10T09:00:00+01:00",
        ),
        "2026-12-01",
        "2026-12-31",
        "2026-12-07 08:00Z = Mon 2026-12-07 09:00 CET",
        "2026-12-08 08:00Z = Tue 2026-12-08 09:00 CET",
        "2026-12-09 08:00Z = Wed 2026-12-09 09:00 CET",
    ),
    case(
        "window-start-included-end-excluded",
        every(every="day", at="09:00"),
        "2026-12-07 09:00",
        "2026-12-09 09:00",
        "2026-12-07 09:00Z = Mon 2026-12-07 09:00 UTC",
        "2026-12-08 09:00Z = Tue 2026-12-08 09:00 UTC",
    ),
    case(
        "window-starting-at-the-end-of-the-gap-holds-the-moved-sending",
        every(AMS, every="day", at="02:30"),
        "2026-03-29 01:00",
        "2026-03-30 01:00",
        "2026-03-29 01:00Z = Sun 2026-03-29 03:00 CEST",
        "2026-03-30 00:30Z = Mon 2026-03-30 02:30 CEST",
    ),
    case(
        "window-starting-in-the-repeated-hour-misses-the-first-02:30",
        every(AMS, every="day", at="02:30"),
        "2026-10-25 01:30",
        "2026-10-27",
        "2026-10-26 01:30Z = Mon 2026-10-26 02:30 CET",
    ),
    case(
        "cron-window-starting-in-the-repeated-hour",
        cron("0 * * * *", AMS),
        "2026-10-25 01:00",
        "2026-10-25 03:00",
        "2026-10-25 02:00Z = Sun 2026-10-25 03:00 CET",
    ),
    case(
        "without-at-the-time-of-start",
        every(AMS, every="day", start="2026-12-07T10:15:00+01:00"),
        "2026-12-01",
        "2026-12-09",
        "2026-12-07 09:15Z = Mon 2026-12-07 10:15 CET",
        "2026-12-08 09:15Z = Tue 2026-12-08 10:15 CET",
    ),
    # -- once, and nothing known ahead
    case(
        "once-inside-the-window",
        once("2026-11-27T08:00:00+01:00", AMS),
        "2026-11-27",
        "2026-11-28",
        "2026-11-27 07:00Z = Fri 2026-11-27 08:00 CET",
    ),
    case("once-before-the-window", once("2026-11-27T08:00:00+01:00"), "2026-11-28", "2026-11-29"),
    case(
        "once-at-the-window-end-excluded",
        once("2026-11-27T08:00:00+01:00"),
        "2026-11-27",
        "2026-11-27 07:00",
    ),
    case(
        "once-at-the-window-start-included",
        once("2026-11-27T08:00:00+01:00"),
        "2026-11-27 07:00",
        "2026-11-28",
        "2026-11-27 07:00Z = Fri 2026-11-27 07:00 UTC",
    ),
    case(
        "no-schedule-sent-on-activation",
        {"channel": "email", "audience": {"segment": "s"}},
        "2026-01-01",
        "2027-01-01",
    ),
    case(
        "inbound-channel",
        {"channel": "in-app", "content": {"title": "t", "body": "b"}},
        "2026-01-01",
        "2027-01-01",
    ),
]


@pytest.mark.parametrize(("spec", "start", "end", "expected"), CASES)
def test_occurrences(
    spec: dict[str, Any], start: datetime, end: datetime, expected: list[str]
) -> None:
    assert shown(spec, occurrences(spec, start, end)) == expected


# -- next sendings ---------------------------------------------------------------------------------

WEEKLY_DIGEST = every(AMS, every="week", on=["mon", "thu"], at="09:00")


@pytest.mark.parametrize(
    ("spec", "after", "count", "expected"),
    [
        pytest.param(
            WEEKLY_DIGEST,
            "2026-12-07 08:00",
            3,
            [
                "2026-12-10 08:00Z = Thu 2026-12-10 09:00 CET",
                "2026-12-14 08:00Z = Mon 2026-12-14 09:00 CET",
                "2026-12-17 08:00Z = Thu 2026-12-17 09:00 CET",
            ],
            id="strictly-after-a-sending",
        ),
        pytest.param(
            WEEKLY_DIGEST,
            "2026-12-07 07:59:59.999999",
            1,
            ["2026-12-07 08:00Z = Mon 2026-12-07 09:00 CET"],
            id="one-microsecond-before-a-sending",
        ),
        pytest.param(
            every(AMS, every="week", on=["mon"], at="09:00", start="2026-01-05T09:00:00+01:00"),
            "2026-12-08 12:00",
            2,
            [
                "2026-12-14 08:00Z = Mon 2026-12-14 09:00 CET",
                "2026-12-21 08:00Z = Mon 2026-12-21 09:00 CET",
            ],
            id="start-passed-rolls-over-to-the-next-slot",
        ),
        pytest.param(
            every(AMS, every="week", on=["mon"], at="09:00", start="2027-01-04T00:00:00+01:00"),
            "2026-12-08 12:00",
            2,
            [
                "2027-01-04 08:00Z = Mon 2027-01-04 09:00 CET",
                "2027-01-11 08:00Z = Mon 2027-01-11 09:00 CET",
            ],
            id="start-ahead-begins-at-start",
        ),
        pytest.param(
            every(every="day", at="09:00", end="2026-12-09T09:00:00Z"),
            "2026-12-07 12:00",
            3,
            ["2026-12-08 09:00Z = Tue 2026-12-08 09:00 UTC"],
            id="fewer-when-the-schedule-ends",
        ),
        pytest.param(
            every(every="month", interval=12, on=[29], start="2026-02-01T09:00:00Z"),
            "2026-01-01 00:00",
            3,
            [
                "2028-02-29 09:00Z = Tue 2028-02-29 09:00 UTC",
                "2032-02-29 09:00Z = Sun 2032-02-29 09:00 UTC",
                "2036-02-29 09:00Z = Fri 2036-02-29 09:00 UTC",
            ],
            id="leap-days-only",
        ),
        pytest.param(
            every(every="month", interval=12, on=[31], start="2026-02-01T09:00:00Z"),
            "2026-01-01 00:00",
            3,
            [],
            id="never-stops-at-the-horizon",
        ),
        pytest.param(
            cron("0 9 29 2 *"),
            "2026-01-01 00:00",
            2,
            [
                "2028-02-29 09:00Z = Tue 2028-02-29 09:00 UTC",
                "2032-02-29 09:00Z = Sun 2032-02-29 09:00 UTC",
            ],
            id="cron-leap-days-only",
        ),
        pytest.param(
            once("2026-11-27T08:00:00+01:00", AMS),
            "2026-11-01 00:00",
            3,
            ["2026-11-27 07:00Z = Fri 2026-11-27 08:00 CET"],
            id="once-ahead",
        ),
        pytest.param(once("2026-11-27T08:00:00+01:00"), "2026-11-27 07:00", 3, [], id="once-past"),
        pytest.param({"channel": "push"}, "2026-11-27 07:00", 3, [], id="no-schedule"),
    ],
)
def test_next_occurrences(
    spec: dict[str, Any], after: str, count: int, expected: list[str]
) -> None:
    assert shown(spec, next_occurrences(spec, utc(after), count)) == expected


def test_the_horizon_is_fifty_years_without_a_candidate() -> None:
    assert HORIZON_YEARS == 50
    # the leap-day schedule has a 8-year gap across 2100 (not a leap year): well inside it
    spec = every(every="month", interval=12, on=[29], start="2096-02-01T09:00:00Z")
    assert [m.year for m in next_occurrences(spec, utc("2096-03-01"), 2)] == [2104, 2108]


def test_limit_caps_the_count() -> None:
    spec = every(every="day", at="09:00")
    assert len(occurrences(spec, utc("2026-01-01"), utc("2027-01-01"), limit=10)) == 10
    assert len(occurrences(spec, utc("2026-01-01"), utc("2027-01-01"))) == 365
    assert occurrences(spec, utc("2026-01-01"), utc("2027-01-01"), limit=0) == []


def test_an_empty_or_reversed_window_is_empty() -> None:
    spec = every(every="day", at="09:00")
    assert occurrences(spec, utc("2026-01-02"), utc("2026-01-01")) == []
    assert occurrences(spec, utc("2026-01-01 09:00"), utc("2026-01-01 09:00")) == []


def test_the_window_may_be_given_in_any_zone() -> None:
    spec = every(AMS, every="day", at="09:00")
    start = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo(AMS))
    assert occurrences(spec, start, start + timedelta(days=1)) == [utc("2026-12-07 08:00")]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: occurrences(WEEKLY_DIGEST, datetime(2026, 1, 1), FAR), id="start"),
        pytest.param(lambda: occurrences(WEEKLY_DIGEST, FAR, datetime(2300, 1, 1)), id="end"),
        pytest.param(lambda: next_occurrences(WEEKLY_DIGEST, datetime(2026, 1, 1)), id="after"),
        pytest.param(lambda: describe(datetime(2026, 1, 1), WEEKLY_DIGEST), id="describe"),
    ],
)
def test_naive_datetimes_are_refused(call: Any) -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        call()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(every(every="fortnight"), "every: day|week|month", id="every"),
        pytest.param(every(every="week", on=["monday"]), "weekday", id="weekday"),
        pytest.param(every(every="month", on=[32]), "day of the month", id="month-day"),
        pytest.param(every(every="day", at="9:00"), "HH:MM", id="at"),
        pytest.param(every(every="day", interval=0), "positive integer", id="interval"),
        pytest.param(every("Mars/Olympus", every="day"), "unknown time zone", id="zone"),
        pytest.param(cron("0 9 * *"), "cron", id="cron"),
        pytest.param(every(every="day", start="2026-01-01T00:00:00"), "offset", id="naive-start"),
    ],
)
def test_malformed_schedules_raise_value_error(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        occurrences(spec, utc("2026-01-01"), utc("2027-01-01"))


# -- describe --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "spec", "expected"),
    [
        pytest.param("2026-12-07 08:00", WEEKLY_DIGEST, "Mon 2026-12-07 09:00 CET", id="winter"),
        pytest.param("2026-07-06 07:00", WEEKLY_DIGEST, "Mon 2026-07-06 09:00 CEST", id="summer"),
        pytest.param(
            "2026-12-07 17:00", cron("0 12 * * *", NYC), "Mon 2026-12-07 12:00 EST", id="nyc"
        ),
        pytest.param(
            "2026-12-07 08:00", {"channel": "email"}, "Mon 2026-12-07 08:00 UTC", id="utc"
        ),
        pytest.param(
            "2026-12-07 08:00:30", WEEKLY_DIGEST, "Mon 2026-12-07 09:00:30 CET", id="seconds"
        ),
    ],
)
def test_describe(moment: str, spec: dict[str, Any], expected: str) -> None:
    assert describe(utc(moment), spec) == expected


def test_next_three_sendings_jump_to_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """It runs for thousands of campaigns per plan: it jumps to the window instead of walking from
    the anchor (1970 for a schedule without start). Counted in candidate times looked at, not in
    seconds (speed is measured in ``bench/``)."""
    specs = [
        WEEKLY_DIGEST,
        every(every="day", interval=3, at="09:00"),
        every(
            "Europe/Berlin", every="month", on=[1], at="10:30", start="2026-12-01T00:00:00+01:00"
        ),
        cron("0 12 * * MON-FRI", NYC),
    ]
    real, looked = schedule._candidates, []

    def counted(*args: Any) -> Iterator[datetime]:
        looked.append(0)
        for candidate in real(*args):
            looked[-1] += 1
            yield candidate

    monkeypatch.setattr(schedule, "_candidates", counted)
    now = utc("2026-12-07 10:00")
    for spec in specs:
        assert len(next_occurrences(spec, now)) == 3
    assert looked == [4, 4, 4, 3]  # each: the one before now, and the three after it


# -- properties ------------------------------------------------------------------------------------

ZONES = ["UTC", AMS, NYC, "Australia/Lord_Howe"]  # Lord Howe moves its clocks by 30 minutes
CHANGES = [  # dates around which daylight saving changes (and a leap day)
    datetime(2026, 3, 29, tzinfo=UTC),
    datetime(2026, 10, 25, tzinfo=UTC),
    datetime(2027, 3, 14, tzinfo=UTC),
    datetime(2027, 11, 7, tzinfo=UTC),
    datetime(2026, 4, 5, tzinfo=UTC),
    datetime(2026, 10, 4, tzinfo=UTC),
    datetime(2028, 2, 29, tzinfo=UTC),
]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

times_of_day = st.builds(
    lambda hour, minute: f"{hour:02d}:{minute:02d}",
    st.sampled_from([0, 1, 2, 3, 9, 23]) | st.integers(0, 23),
    st.sampled_from([0, 15, 30, 59]) | st.integers(0, 59),
)


@st.composite
def windows(draw: st.DrawFn, days: int) -> tuple[datetime, datetime]:
    start = draw(st.sampled_from(CHANGES)) + timedelta(minutes=draw(st.integers(-30_000, 30_000)))
    return start, start + timedelta(minutes=draw(st.integers(1, days * 1440)))


@st.composite
def bounds(draw: st.DrawFn, near: datetime, zone: str) -> dict[str, str]:
    """Optional recurring start and end, written in the campaign's zone or in UTC."""
    found: dict[str, str] = {}
    shown_in = ZoneInfo(zone) if draw(st.booleans()) else UTC
    first = near + timedelta(minutes=draw(st.integers(-90 * 1440, 60 * 1440)))
    if draw(st.booleans()):
        found["start"] = first.astimezone(shown_in).isoformat()
    if draw(st.booleans()):
        last = first + timedelta(minutes=draw(st.integers(1, 120 * 1440)))
        found["end"] = last.astimezone(shown_in).isoformat()
    return found


@st.composite
def every_specs(draw: st.DrawFn, near: datetime) -> dict[str, Any]:
    zone = draw(st.sampled_from(ZONES))
    unit = draw(st.sampled_from(["day", "week", "month"]))
    recurring: dict[str, Any] = {"every": unit, **draw(bounds(near, zone))}
    if draw(st.integers(0, 3)):  # mostly with an interval, often above 2
        recurring["interval"] = draw(st.integers(1, 5))
    if unit == "week" and draw(st.booleans()):
        recurring["on"] = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True))
    if unit == "month" and draw(st.booleans()):
        days = st.sampled_from([1, 15, 28, 29, 30, 31]) | st.integers(1, 31)
        recurring["on"] = draw(st.lists(days, min_size=1, max_size=4, unique=True))
    if draw(st.integers(0, 5)):  # mostly with a time of day
        recurring["at"] = draw(times_of_day)
    return every(zone, **recurring)


def cron_fields(draw: st.DrawFn) -> str:
    minute = draw(st.sampled_from(["0", "30", "5,35", "*/20"]))
    hour = draw(st.sampled_from(["2", "9", "1-3", "*/6", "*"]))
    day = draw(st.sampled_from(["*", "13", "31", "1-7", "29"]))
    month = draw(st.sampled_from(["*", "*", "2", "3,10", "*/3"]))
    weekday = draw(st.sampled_from(["*", "*", "MON", "FRI", "SUN", "MON-FRI"]))
    expression = f"{minute} {hour} {day} {month} {weekday}"
    try:
        cronsim.CronSim(expression, datetime(2000, 1, 1))
    except cronsim.CronSimError:
        assume(False)  # "0 9 31 2 *": the manifest validator refuses it too
    return expression


@st.composite
def cron_specs(draw: st.DrawFn, near: datetime) -> dict[str, Any]:
    zone = draw(st.sampled_from(ZONES))
    return every(zone, cron=cron_fields(draw), **draw(bounds(near, zone)))


def recurring_bounds(spec: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    recurring = spec["schedule"]["recurring"]
    start, end = recurring.get("start"), recurring.get("end")
    return (
        datetime.fromisoformat(start) if start else None,
        datetime.fromisoformat(end) if end else None,
    )


def zone_of(spec: dict[str, Any]) -> ZoneInfo:
    return ZoneInfo(spec["schedule"].get("timezone", "UTC"))


def exists(local: datetime, zone: ZoneInfo) -> bool:
    aware = local.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local


def first_valid(local: datetime, zone: ZoneInfo) -> datetime:
    """The oracle's resolution, cronsim's way: minute by minute out of a gap; fold=0 otherwise."""
    while not exists(local, zone):
        local += timedelta(minutes=1)
    return local.replace(tzinfo=zone).astimezone(UTC)


def check_common(
    spec: dict[str, Any], start: datetime, end: datetime, found: list[datetime]
) -> None:
    assert found == sorted(set(found)), "sorted, strictly increasing"
    first, last = recurring_bounds(spec)
    for moment in found:
        assert moment.tzinfo is UTC
        assert start <= moment < end
        assert first is None or moment >= first
        assert last is None or moment < last


def oracle_every(spec: dict[str, Any], start: datetime, end: datetime) -> list[datetime]:
    """Day by day over the window, straight from the documented rules."""
    recurring, zone = spec["schedule"]["recurring"], zone_of(spec)
    first, last = recurring_bounds(spec)
    low = max(start, first) if first else start
    high = min(end, last) if last else end
    local_start = first.astimezone(zone) if first else None
    anchor = local_start.date() if local_start else None
    if "at" in recurring:
        at = datetime.strptime(recurring["at"], "%H:%M").time()
    else:
        at = local_start.time() if local_start else datetime.min.time()
    interval: int = recurring.get("interval", 1)
    unit = recurring["every"]

    def matches(day: date) -> bool:
        if unit == "day":
            return (day - (anchor or date(1970, 1, 5))).days % interval == 0
        if unit == "week":
            base = anchor or date(1970, 1, 5)
            weeks = (day - (base - timedelta(days=base.weekday()))).days // 7
            on = recurring.get("on") or [WEEKDAYS[base.weekday()]]
            return weeks % interval == 0 and WEEKDAYS[day.weekday()] in on
        base = anchor or date(1970, 1, 1)
        months = (day.year - base.year) * 12 + day.month - base.month
        return months % interval == 0 and day.day in (recurring.get("on") or [base.day])

    found = set()
    day = low.astimezone(zone).date() - timedelta(days=2)
    while day <= high.astimezone(zone).date() + timedelta(days=2):
        if matches(day):
            moment = first_valid(datetime.combine(day, at), zone)
            if low <= moment < high:
                found.add(moment)
        day += timedelta(days=1)
    return sorted(found)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_schedules_match_the_rules(data: st.DataObject) -> None:
    start, end = data.draw(windows(days=120))
    spec = data.draw(every_specs(start))
    found = occurrences(spec, start, end)
    check_common(spec, start, end, found)
    assert found == oracle_every(spec, start, end)
    recurring, zone = spec["schedule"]["recurring"], zone_of(spec)
    if "at" in recurring:
        at = datetime.strptime(recurring["at"], "%H:%M").time()
        for moment in found:
            local = moment.astimezone(zone)
            wanted = datetime.combine(local.date(), at)
            if local.replace(tzinfo=None) != wanted:  # only for a time inside a gap:
                assert not exists(wanted, zone)  # `at` does not exist that day,
                assert local.replace(tzinfo=None) > wanted  # the sending is after it,
                before = (moment - timedelta(microseconds=1)).astimezone(zone)
                assert before.replace(tzinfo=None) < wanted  # the first valid time after the gap


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_cron_schedules_are_ordered_and_bounded(data: st.DataObject) -> None:
    start, end = data.draw(windows(days=15))
    spec = data.draw(cron_specs(start))
    found = occurrences(spec, start, end)
    check_common(spec, start, end, found)
    expression, zone = spec["schedule"]["recurring"]["cron"], zone_of(spec)
    minute, hour = expression.split()[:2]
    if not minute.startswith("*") and not hour.startswith("*"):
        # a fixed-time expression: cronsim's own DST handling must agree (gap: first valid
        # minute after it; overlap: fold=0)
        first, last = recurring_bounds(spec)
        low = max(start, first) if first else start
        high = min(end, last) if last else end
        expected: set[datetime] = set()
        for match in cronsim.CronSim(expression, (low - timedelta(days=2)).astimezone(zone)):
            moment = match.astimezone(UTC)
            if moment >= high:
                break
            if moment >= low:
                expected.add(moment)
        assert found == sorted(expected)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_next_occurrences_are_the_first_of_occurrences(data: st.DataObject) -> None:
    after, _ = data.draw(windows(days=1))
    spec = data.draw(every_specs(after) | cron_specs(after))
    count = data.draw(st.integers(1, 5))
    expected = occurrences(spec, after + timedelta(microseconds=1), FAR, limit=count)
    assert next_occurrences(spec, after, count) == expected
    assert all(moment > after for moment in expected)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(every(AMS, every="day", at="09:00"), id="day"),
        pytest.param(every(AMS, every="week", on=["fri"]), id="week"),
        pytest.param(every(AMS, every="month", on=[31]), id="month"),
        pytest.param(cron("0 9 * * *", AMS), id="cron"),
        pytest.param(every(every="day", interval=10**9), id="huge-interval"),
    ],
)
def test_the_search_ends_with_the_calendar_in_9999(spec: dict[str, Any]) -> None:
    found = next_occurrences(spec, utc("9999-12-01"), 40)
    assert found == sorted(found)
    assert all(moment.year == 9999 for moment in found)
