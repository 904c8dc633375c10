"""When a campaign sends: a spec's ``schedule`` turned into sending times.

Every result is an aware UTC datetime; :func:`describe` shows one in the campaign's own time zone.
The rules, one way each:

**Kinds.** No ``schedule`` (a one-time campaign sent on activation) and inbound channels (no
schedule at all) have no sending times known ahead: ``[]``. ``once: {at}`` is that instant.
``recurring`` is either ``every``/``interval``/``on``/``at`` or ``cron``, read in
``schedule.timezone`` (an IANA name, default ``UTC``).

**every.** ``at`` (``HH:MM``) is local wall-clock time in the campaign's zone. Without ``at`` the
wall-clock time of ``start`` is used, or ``00:00`` when there is no ``start`` either.
``every: day`` sends every ``interval`` days; ``every: week`` on the weekdays ``on`` of every
``interval``-th week (weeks run Monday to Sunday; without ``on``: the anchor's weekday);
``every: month`` on the days of the month ``on`` of every ``interval``-th month (without ``on``:
the anchor's day of the month).

**Anchor.** Intervals are counted from an anchor: the local date (in the campaign's zone) of
``start`` when given; otherwise the fixed epoch 1970-01-05 (a Monday) for days and weeks, and
1970-01-01 for months. So without ``start``, ``every: week`` without ``on`` sends on Mondays,
``every: month`` without ``on`` on the 1st, ``interval: 2`` days falls on the days an even number
of days after 1970-01-05, weeks on the weeks an even number of weeks after the week of 1970-01-05,
months on January, March, May... (an even number of months after January 1970).

**Bounds.** ``recurring.start`` and ``recurring.end`` are instants: a sending at exactly ``start``
is included, one at exactly ``end`` is not. The window of :func:`occurrences` works the same way:
``[start, end)``. A recurring campaign whose ``start`` has passed rolls over to its next slot: that
is :func:`next_occurrences` from now.

**Daylight saving.** A local time keeps its wall-clock value across the changes: 09:00
Europe/Amsterdam is 08:00 UTC in winter and 07:00 UTC in summer. A local time that does not exist
(it falls in a spring-forward gap, like 02:30 on the last Sunday of March in Europe) is sent at the
first valid local time after the gap, the moment of the change itself (03:00 local in Europe; not
03:30, which is what Python's ``fold=0`` arithmetic would give). A local time that exists twice
(the autumn overlap, 02:30 on the last Sunday of October in Europe) is sent once, at the first of
the two (``fold=0``, still summer time). Should two local times resolve to one instant (several
times inside one gap), that instant is one sending.

**cron** (5 fields) is evaluated by cronsim on local wall-clock times in the campaign's zone, each
match resolved by the rule above, for every expression. cronsim itself does this only when the
minute and hour fields are fixed (it then moves a missing time to the first valid minute after the
gap and takes ``fold=0``: the same result); for an expression with ``*`` in the minute or hour
field it would count elapsed time instead (Debian cron), skipping the slots inside a gap and firing
the repeated slots of an overlap twice. Here such an expression also follows the wall-clock rule:
``30 * * * *`` sends at 03:00 for the missing 02:30, and ``0 * * * *`` sends once at 02:00 on the
autumn day, not twice. Day of month and day of week follow cron's rule as cronsim implements it
(Vixie/Debian cron): when both fields are restricted a day matching either one fires (``0 9 13 *
FRI``: every 13th and every Friday); when either field starts with ``*`` (``*``, ``*/2``), both
must match.

**Month ends.** A day of the month that a month does not have (``on: [31]`` in April, ``29``/
``30``/``31`` in February) is skipped for that month, never moved to another day, as in cron.
``on: [29]`` sends on 29 February in leap years only.

**Horizon.** A schedule may never send (``every: month``, ``interval: 12``, ``on: [31]``, anchored
in February), so the search gives up after 50 years (:data:`HORIZON_YEARS`) without a sending and
returns what it found: for ``every: month`` 50 years of active months without a day that exists,
for cron cronsim's own limit (50 years without a match). ``every: day`` and ``every: week`` always
have a next slot. The search never walks from the anchor: it jumps to the first slot at or after the
window, so the next sendings cost the same in 2026 as in 1970.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cronsim

from reconciler.model import INBOUND_CHANNELS, instant

__all__ = [
    "HORIZON_YEARS",
    "between",
    "describe",
    "describe_in",
    "next_occurrences",
    "occurrences",
    "zone_of",
]

UTC = dt.UTC
#: the search gives up after this many years without a single candidate sending
HORIZON_YEARS = 50
_DAY_EPOCH = dt.date(1970, 1, 5)  # a Monday: the anchor of every: day and every: week
_MONTH_EPOCH = dt.date(1970, 1, 1)  # the anchor of every: month
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TICK = dt.timedelta(microseconds=1)  # the resolution of datetime: "strictly after" is +1 tick

# -- public API ----------------------------------------------------------------------------------


def occurrences(
    spec: Mapping[str, Any], start: dt.datetime, end: dt.datetime, *, limit: int = 10_000
) -> list[dt.datetime]:
    """Sending times of `spec` in [start, end), sorted, as aware UTC datetimes; at most `limit`."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if limit <= 0 or end <= start:
        return []
    return list(islice(_sendings(spec, start, end), limit))


def between(spec: Mapping[str, Any], start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """:func:`occurrences`, one at a time and without a limit: for a search that stops at the
    first sending it looks for."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    return _sendings(spec, start, end) if start < end else iter(())


def next_occurrences(
    spec: Mapping[str, Any], after: dt.datetime, count: int = 3
) -> list[dt.datetime]:
    """The next `count` sending times strictly after `after` (fewer when the schedule ends)."""
    _require_aware(after, "after")
    if count <= 0:
        return []
    return list(islice(_sendings(spec, after + _TICK, None), count))


def describe(moment: dt.datetime, spec: Mapping[str, Any]) -> str:
    """A sending time in the campaign's own timezone for people: 'Mon 2026-12-07 09:00 CET'.

    Seconds are shown only when they are not zero ('Mon 2026-12-07 09:00:30 CET').
    """
    return describe_in(moment, zone_of(spec))


def describe_in(moment: dt.datetime, zone: str) -> str:
    """A moment for people, in the IANA ``zone``: 'Mon 2026-12-07 09:00 CET'."""
    _require_aware(moment, "moment")
    local = moment.astimezone(_zone({"timezone": zone}))
    seconds = f":{local.second:02d}" if local.second else ""
    return f"{_WEEKDAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M}{seconds} {local.tzname()}"


def zone_of(spec: Mapping[str, Any]) -> str:
    """The IANA zone a campaign's times are read and shown in: its schedule's, else UTC."""
    return str(_schedule(spec).get("timezone", "UTC"))


# -- the schedule --------------------------------------------------------------------------------


def _sendings(
    spec: Mapping[str, Any], start: dt.datetime, end: dt.datetime | None
) -> Iterator[dt.datetime]:
    """Sending times in [start, end) (end None: unbounded), increasing, without repeats."""
    schedule = _schedule(spec)
    if not schedule or spec.get("channel") in INBOUND_CHANNELS:
        return
    if "once" in schedule:
        at = _instant_of(_mapping(schedule["once"], "schedule.once").get("at"), "once.at")
        if start <= at and (end is None or at < end):
            yield at.astimezone(UTC)
        return
    recurring = _mapping(schedule.get("recurring"), "schedule.recurring")
    zone = _zone(schedule)
    first, last = _optional_instant(recurring, "start"), _optional_instant(recurring, "end")
    low = start if first is None else max(start, first)
    high = end if last is None else last if end is None else min(end, last)
    if high is not None and low >= high:
        return
    # Every local time that resolves to `low` or later is after every wall-clock reading taken
    # before `low`: start the scan at the reading one tick before it, in whole seconds.
    try:
        begin = (low - _TICK).astimezone(zone).replace(tzinfo=None, microsecond=0)
    except OverflowError:
        return
    previous = None
    for local in _candidates(recurring, zone, first, begin):
        at = _resolve(local, zone)
        if high is not None and at >= high:
            return
        if at >= low and at != previous:
            previous = at
            yield at


def _candidates(
    recurring: Mapping[str, Any], zone: dt.tzinfo, first: dt.datetime | None, begin: dt.datetime
) -> Iterator[dt.datetime]:
    """Naive local wall-clock times of the schedule, increasing, from around `begin` on."""
    if "cron" in recurring:
        yield from _cron(str(recurring["cron"]), begin)
        return
    every = recurring.get("every")
    interval = recurring.get("interval", 1)
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        raise ValueError(f"schedule.recurring.interval: expected a positive integer: {interval!r}")
    local_start = first.astimezone(zone) if first is not None else None
    at = _time_of_day(recurring.get("at"), local_start)
    anchor = local_start.date() if local_start is not None else None
    on = recurring.get("on")
    try:
        if every == "day":
            dates = _days(anchor or _DAY_EPOCH, interval, begin.date())
        elif every == "week":
            weekdays = [_weekday(d) for d in on] if on else [(anchor or _DAY_EPOCH).weekday()]
            dates = _weeks(anchor or _DAY_EPOCH, interval, sorted(set(weekdays)), begin.date())
        elif every == "month":
            days = [_month_day(d) for d in on] if on else [(anchor or _MONTH_EPOCH).day]
            dates = _months(anchor or _MONTH_EPOCH, interval, sorted(set(days)), begin.date())
        else:
            raise ValueError(
                f"schedule.recurring: expected every: day|week|month or cron: {every!r}"
            )
        for day in dates:
            yield dt.datetime.combine(day, at)
    except OverflowError:  # past the year 9999: nothing more to find
        return


def _days(anchor: dt.date, interval: int, first: dt.date) -> Iterator[dt.date]:
    behind = (first - anchor).days
    day = anchor + dt.timedelta(days=-(-behind // interval) * interval)  # first slot >= first
    step = dt.timedelta(days=interval)
    while True:
        yield day
        day += step


def _weeks(
    anchor: dt.date, interval: int, weekdays: list[int], first: dt.date
) -> Iterator[dt.date]:
    week0 = anchor - dt.timedelta(days=anchor.weekday())
    weeks = (first - week0).days // 7  # the week holding `first`, counted from the anchor's
    week = week0 + dt.timedelta(weeks=weeks + -weeks % interval)
    step = dt.timedelta(weeks=interval)
    while True:
        for weekday in weekdays:
            yield week + dt.timedelta(days=weekday)
        week += step


def _months(anchor: dt.date, interval: int, days: list[int], first: dt.date) -> Iterator[dt.date]:
    month0 = anchor.year * 12 + anchor.month - 1
    month = first.year * 12 + first.month - 1
    month += (month0 - month) % interval  # the first active month from `first`'s on
    found = month
    while month - found <= HORIZON_YEARS * 12:  # a day that never exists: give up in time
        year, index = divmod(month, 12)
        if year > dt.MAXYEAR:
            return
        length = _month_length(year, index + 1)
        for day in days:
            if day <= length:  # a month without this day skips it
                found = month
                yield dt.date(year, index + 1, day)
        month += interval


def _cron(expression: str, begin: dt.datetime) -> Iterator[dt.datetime]:
    """cronsim over naive wall-clock times: every match strictly after `begin`, in order."""
    try:
        matches = cronsim.CronSim(expression, begin)
    except cronsim.CronSimError as exc:
        raise ValueError(f"schedule.recurring.cron: {expression!r}: {exc}") from exc
    while True:
        try:
            found: dt.datetime = next(matches)  # gives up itself after 50 years without a match
        except (StopIteration, OverflowError):
            return
        yield found


# -- local time ----------------------------------------------------------------------------------


def _resolve(local: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The UTC instant of a naive wall-clock time: the first of two, or the end of a gap."""
    before = zone.utcoffset(local)  # fold=0: the earlier reading, or the offset before a gap
    assert before is not None
    instant = dt.datetime.combine(local.date(), local.time(), UTC) - before
    after = instant.astimezone(zone).utcoffset()
    if after == before:  # the reading exists (once, or twice: this is the first of the two)
        return instant
    # A gap: the offset changes from `before` to `after` at an instant in (local - after,
    # instant]. That instant is the first valid local time after the gap: find it to the second
    # (zone transitions fall on whole seconds).
    assert after is not None
    lo, hi = -int((after - before).total_seconds()), 0  # after instant + lo, at or before + hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (instant + dt.timedelta(seconds=mid)).astimezone(zone).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return instant + dt.timedelta(seconds=hi)


def _time_of_day(value: object, start: dt.datetime | None) -> dt.time:
    if value is None:
        return start.time() if start is not None else dt.time()
    if isinstance(value, str) and len(value) == 5 and value[2] == ":":
        try:
            return dt.time(int(value[:2]), int(value[3:]))
        except ValueError:
            pass
    raise ValueError(f"schedule.recurring.at: expected a time of day as HH:MM: {value!r}")


def _month_length(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (dt.date(year, month + 1, 1) - dt.date(year, month, 1)).days


# -- reading the spec ----------------------------------------------------------------------------


def _schedule(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    schedule = spec.get("schedule")
    return {} if schedule is None else _mapping(schedule, "schedule")


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _zone(schedule: Mapping[str, Any]) -> dt.tzinfo:
    name = schedule.get("timezone", "UTC")
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"schedule.timezone: unknown time zone {name!r}") from exc


def _instant_of(value: object, where: str) -> dt.datetime:
    """An aware datetime from an RFC 3339 string (as manifests hold them) or a datetime."""
    if isinstance(value, str):
        try:
            value = instant(value)
        except ValueError as exc:
            raise ValueError(f"schedule.{where}: {exc}") from exc
    if not isinstance(value, dt.datetime):
        raise ValueError(f"schedule.{where}: expected a date-time, got {value!r}")
    if value.utcoffset() is None:
        raise ValueError(f"schedule.{where}: a date-time needs an offset: {value!r}")
    return value


def _optional_instant(recurring: Mapping[str, Any], key: str) -> dt.datetime | None:
    value = recurring.get(key)
    return None if value is None else _instant_of(value, f"recurring.{key}")


def _weekday(value: object) -> int:
    if isinstance(value, str) and value.lower() in _WEEKDAYS:
        return _WEEKDAYS.index(value.lower())
    raise ValueError(f"schedule.recurring.on: expected a weekday (mon..sun): {value!r}")


def _month_day(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 31:
        return value
    raise ValueError(f"schedule.recurring.on: expected a day of the month (1-31): {value!r}")


def _require_aware(moment: dt.datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone): {moment!r}")
