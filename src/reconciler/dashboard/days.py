"""The calendar page's data: the sendings of the runtime's campaigns, per day and campaign, in the
viewer's zone, with clashes.

Where ``reconciler calendar`` shows what the manifests would send, this shows what the runtime
sends and sent: upcoming sendings from the live spec of each live or scheduled campaign (after its
engine's cursor, as ``status`` computes the next one), and past ones from the runtime's sendings,
with their outcomes. A **clash** is as the calendar command has it: two or more campaigns sending to
one segment on one day (sendings skipped or cancelled do not count).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from reconciler import policies, schedule
from reconciler.calendar import WEEKDAYS, Clash
from reconciler.dashboard.listing import labels_of, shown_version
from reconciler.dashboard.query import CalendarQuery
from reconciler.model import (
    INBOUND_CHANNELS,
    Campaign,
    RuntimeState,
    Sending,
    SendingOutcome,
    Status,
    parse_moment,
    segment_of,
)
from reconciler.policies import Window
from reconciler.project import NONE, Policies

__all__ = ["WEEKDAYS", "CalendarDay", "DayCampaign", "Month", "days", "period"]

#: sendings computed per campaign in the window shown; a cron firing every minute is cut there
MAX_PER_CAMPAIGN = 2_000
_TICK = dt.timedelta(microseconds=1)
_NOT_SENT = (SendingOutcome.SKIPPED, SendingOutcome.CANCELLED)


@dataclass(frozen=True)
class Slot:
    at: dt.datetime  # in the viewer's zone
    outcome: SendingOutcome | None  # None: upcoming
    version: int | None


@dataclass
class DayCampaign:
    """One campaign's sendings on one day."""

    campaign: str
    channel: str
    status: Status
    segment: str | None
    slots: list[Slot]
    clash: bool = False

    @property
    def sends(self) -> bool:
        return any(s.outcome not in _NOT_SENT for s in self.slots)


@dataclass(frozen=True)
class CalendarDay:
    date: dt.date
    campaigns: tuple[DayCampaign, ...]  # by first sending, then name
    clashes: tuple[Clash, ...]  # by segment
    outside: bool  # a day of the month before or after, shown to fill the grid's weeks
    today: bool
    #: the windows over a frequency cap that start this day (or, begun before, the first day shown)
    capped: tuple[Window, ...] = ()


@dataclass(frozen=True)
class Month:
    """The days shown (whole weeks, Monday to Sunday), and where the links lead."""

    days: tuple[CalendarDay, ...]
    first: dt.date  # the first day of the month or week shown
    previous: dt.date
    next: dt.date
    truncated: tuple[str, ...]  # campaigns with more sendings than are computed

    @property
    def weeks(self) -> list[tuple[CalendarDay, ...]]:
        return [self.days[i : i + 7] for i in range(0, len(self.days), 7)]


def period(first_day: dt.date, view: str) -> tuple[dt.date, dt.date, dt.date, dt.date, dt.date]:
    """(first, start, end, previous, next): the month or week shown from ``first_day``, the whole
    weeks shown around it (``end`` excluded), and the first days of the one before and after."""
    if view == "week":
        first = first_day - dt.timedelta(days=first_day.weekday())
        week = dt.timedelta(days=7)
        return first, first, first + week, first - week, first + week
    first = first_day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    start = first - dt.timedelta(days=first.weekday())
    last = following - dt.timedelta(days=1)
    end = last + dt.timedelta(days=7 - last.weekday())
    return first, start, end, previous, following


def _midnight(date: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(), tzinfo=tz).astimezone(dt.UTC)


def _passes(c: Campaign, filters: CalendarQuery) -> bool:
    if filters.channel is not None and c.channel is not filters.channel:
        return False
    version = shown_version(c)
    if filters.segment is not None and segment_of(version.spec if version else None) != (
        filters.segment
    ):
        return False
    if filters.label is not None:
        key, value = filters.label
        return labels_of(version).get(key) == value
    return True


def _upcoming(
    c: Campaign, low: dt.datetime, high: dt.datetime, now: dt.datetime
) -> list[dt.datetime]:
    if c.live is None or c.status not in (Status.LIVE, Status.SCHEDULED):
        return []
    spec = c.live.spec
    if c.channel in INBOUND_CHANNELS or not spec.get("schedule"):
        return []
    after = max(now, parse_moment(c.cursor)) if c.cursor else now
    try:
        return schedule.occurrences(spec, max(low, after + _TICK), high, limit=MAX_PER_CAMPAIGN + 1)
    except (ValueError, KeyError, TypeError):  # a console may have written anything
        return []


def days(
    state: RuntimeState,
    first_day: dt.date,
    view: str,
    zone: str,
    filters: CalendarQuery,
    now: dt.datetime,
    sendings: Sequence[Sending] = (),
    rules: Policies = NONE,
) -> Month:
    first, start, end, previous, following = period(first_day, view)
    tz = ZoneInfo(zone)
    low, high = _midnight(start, tz), _midnight(end, tz)
    dates = [start + dt.timedelta(days=n) for n in range((end - start).days)]
    cells: dict[dt.date, dict[str, DayCampaign]] = {d: {} for d in dates}
    truncated: list[str] = []
    wanted = {name: c for name, c in state.campaigns.items() if _passes(c, filters)}

    def add(
        c: Campaign, moments: Iterable[tuple[dt.datetime, SendingOutcome | None, int | None]]
    ) -> None:
        spec = shown_version(c)
        segment = segment_of(spec.spec if spec else None)
        for moment, outcome, version in moments:
            local = moment.astimezone(tz)
            cell = cells.get(local.date())
            if cell is None:
                continue
            entry = cell.get(c.name)
            if entry is None:
                entry = cell[c.name] = DayCampaign(c.name, c.channel.value, c.status, segment, [])
            entry.slots.append(Slot(local, outcome, version))

    for x in sendings:
        c = wanted.get(x.campaign)
        if c is not None:
            moment = parse_moment(x.scheduled)
            if low <= moment < high:
                add(c, [(moment, x.outcome, x.version)])
    for name in sorted(wanted):
        c = wanted[name]
        found = _upcoming(c, low, high, now)
        if len(found) > MAX_PER_CAMPAIGN:
            truncated.append(name)
            found = found[:MAX_PER_CAMPAIGN]
        version = c.live.number if c.live else None
        add(c, ((m, None, version) for m in found))
    today = now.astimezone(tz).date()
    capped = _capped(cells, rules, tz, dates[0])
    shown = tuple(
        replace(
            _day(d, cells[d], outside=view == "month" and d.month != first.month, today=d == today),
            capped=tuple(capped.get(d, ())),
        )
        for d in dates
    )
    return Month(shown, first, previous, following, tuple(truncated))


def _capped(
    cells: Mapping[dt.date, Mapping[str, DayCampaign]],
    rules: Policies,
    tz: dt.tzinfo,
    first_shown: dt.date,
) -> dict[dt.date, list[Window]]:
    """The windows over the frequency caps of ``rules`` among the sendings shown, each on the
    day it starts (one begun before the first day shown: on that day), by the caps' own days and
    weeks (their zone)."""
    if not rules.caps:
        return {}
    zone = rules.zone
    sent = [
        (e.campaign, e.channel, e.segment, [s.at.astimezone(zone).date() for s in e.slots])
        for cell in cells.values()
        for e in cell.values()
        if e.sends
    ]
    found: dict[dt.date, list[Window]] = {}
    for cap in rules.caps:
        for window in policies.over_cap(cap, sent):
            found.setdefault(max(window.first, first_shown), []).append(window)
    return found


def _day(
    date: dt.date, cell: Mapping[str, DayCampaign], *, outside: bool, today: bool
) -> CalendarDay:
    for entry in cell.values():
        entry.slots.sort(key=lambda s: s.at)
    by_segment: dict[str, list[DayCampaign]] = {}
    for entry in cell.values():
        if entry.segment is not None and entry.sends:
            by_segment.setdefault(entry.segment, []).append(entry)
    clashes = []
    for segment, entries in sorted(by_segment.items()):
        if len(entries) > 1:
            for entry in entries:
                entry.clash = True
            sent = sum(1 for e in entries for s in e.slots if s.outcome not in _NOT_SENT)
            clashes.append(Clash(segment, tuple(sorted(e.campaign for e in entries)), sent))
    ordered = sorted(cell.values(), key=lambda e: (e.slots[0].at, e.campaign))
    return CalendarDay(date, tuple(ordered), tuple(clashes), outside, today)
