"""The sendings the manifests would produce, day by day, with clashes: ``reconciler calendar``.

The calendar is data; :mod:`reconciler.render_calendar` words it. It works from the manifests and
a runtime snapshot (read for copies only), with :mod:`reconciler.schedule`:

- Days are the local dates ``start .. start + days - 1`` in ``zone`` (an IANA name, default
  ``UTC``); :func:`today` is the first of them when none is given. A sending belongs to the day of
  its local time in ``zone``, and is shown in ``zone``.
- A manifest with ``state: live`` and ``run: running`` sends: its sendings are listed as ``live``.
- A ``state: draft`` manifest is listed too, as ``draft`` (what it would send once activated as it
  is written), but it sends nothing, so it never takes part in a clash. (A campaign that is
  already live keeps sending its live version while its manifest says ``draft``; the calendar
  shows the manifests, not that version.)
- A manifest with ``run: stopped`` sends nothing and is not listed, whatever its ``state``.
- Campaigns without a sending time known ahead are not listed: one-time campaigns without a
  ``schedule`` (sent on activation) and inbound channels.
- A ``copyFrom`` manifest is shown with its effective spec (:mod:`reconciler.effective`): its
  source's live spec (from the source's manifest, else the runtime) with its own ``spec`` laid
  over it. A copy whose source cannot be resolved is named in :attr:`Calendar.not_shown`, with
  why, as the planner words it.
- A **clash**: two or more different live campaigns sending to the same ``audience.segment`` on the
  same day. Sendings without a segment never clash.
- A window **over a frequency cap** of the project file: a day or week (in the policies' zone)
  in which a segment gets more live sendings than the cap allows, counting the sendings the
  calendar shows (a week cut by the calendar's first or last day counts only its days shown).
- At most :data:`MAX_SENDINGS` sendings per campaign are computed; a campaign that has more in the
  window is cut short and named in :attr:`Calendar.truncated`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler import policies, schedule
from reconciler.effective import Resolver
from reconciler.model import INBOUND_CHANNELS, DesiredState, Manifest, Run, RuntimeState, segment_of
from reconciler.policies import Window
from reconciler.project import NONE, Policies

__all__ = [
    "MAX_SENDINGS",
    "Calendar",
    "Clash",
    "Day",
    "Entry",
    "NotShown",
    "calendar",
    "today",
]

#: sendings computed per campaign; more in the window are cut (a cron firing every minute...)
MAX_SENDINGS = 10_000
LIVE, DRAFT = "live", "draft"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EMPTY = RuntimeState(revision=0, campaigns={})


@dataclass(frozen=True)
class Entry:
    """One sending: ``at`` is an aware datetime in the calendar's zone."""

    at: dt.datetime
    campaign: str
    channel: str
    segment: str | None
    state: str  # "live" or "draft"


@dataclass(frozen=True)
class Clash:
    """Two or more live campaigns sending to one segment on one day."""

    segment: str
    campaigns: tuple[str, ...]  # sorted, distinct
    sendings: int  # how many live sendings that segment gets that day


@dataclass(frozen=True)
class Day:
    date: dt.date
    sendings: tuple[Entry, ...]  # by time, then campaign
    clashes: tuple[Clash, ...]  # by segment


@dataclass(frozen=True)
class NotShown:
    """A campaign the calendar cannot show: a copy whose source cannot be resolved."""

    campaign: str
    reason: str  # as the planner words it: "copyFrom names 'x', which does not exist"


@dataclass(frozen=True)
class Calendar:
    days: tuple[Day, ...]
    zone: str = "UTC"
    #: the abbreviations ``zone`` uses in the window, in order ("CET"; "CET", "CEST" across a
    #: change): one is said once, several are said at every time
    abbreviations: tuple[str, ...] = ("UTC",)
    not_shown: tuple[NotShown, ...] = ()  # by campaign
    truncated: tuple[str, ...] = ()  # campaigns with more than MAX_SENDINGS sendings
    #: windows over a frequency cap, by cap (in the project file's order), segment and date
    capped: tuple[Window, ...] = ()

    @property
    def sendings(self) -> int:
        return sum(len(day.sendings) for day in self.days)

    @property
    def clashes(self) -> int:
        return sum(len(day.clashes) for day in self.days)


def today(now: dt.datetime, zone: str = "UTC") -> dt.date:
    """The date it is at ``now`` in ``zone``: the calendar's first day when none is given."""
    return now.astimezone(_zone(zone)).date()


def calendar(
    manifests: Sequence[Manifest],
    start: dt.date,
    days: int,
    zone: str = "UTC",
    state: RuntimeState | None = None,
    rules: Policies = NONE,
) -> Calendar:
    """The sendings of ``manifests`` on the ``days`` local dates from ``start`` on, in ``zone``;
    ``state`` (the runtime; None: an empty one) gives copies their sources' live specs where no
    manifest does, and the bases of copies made already; ``rules``' frequency caps mark the
    windows over them."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    tz = _zone(zone)
    dates = [start + dt.timedelta(days=n) for n in range(days)]
    # from the first day's midnight to the midnight after the last day; both readings of a
    # midnight in a gap or an overlap, to be safe: each sending is then kept by its local date
    low = _midnight(start, tz)[0]
    high = _midnight(dates[-1] + dt.timedelta(days=1), tz)[1]
    per_day: dict[dt.date, list[Entry]] = {date: [] for date in dates}
    not_shown: list[NotShown] = []
    truncated: list[str] = []
    by_name: dict[str, Manifest] = {}
    for manifest in manifests:
        by_name.setdefault(manifest.name, manifest)  # the loader reports duplicates
    resolver = Resolver(by_name, state or _EMPTY)
    for manifest in sorted(manifests, key=lambda m: m.name):
        status = _state(manifest)
        if status is None:
            continue
        spec, problem = resolver.effective(manifest)
        if problem is not None:
            not_shown.append(NotShown(manifest.name, problem))
            continue
        assert spec is not None
        if spec.get("channel") in INBOUND_CHANNELS or not spec.get("schedule"):
            continue
        found = schedule.occurrences(spec, low, high, limit=MAX_SENDINGS + 1)
        if len(found) > MAX_SENDINGS:
            truncated.append(manifest.name)
            found = found[:MAX_SENDINGS]
        channel, segment = str(spec.get("channel", "")), segment_of(spec)
        for moment in found:
            local = moment.astimezone(tz)
            if local.date() in per_day:
                per_day[local.date()].append(Entry(local, manifest.name, channel, segment, status))
    policy_zone = rules.zone
    live = [
        (e.campaign, e.channel, e.segment, (e.at.astimezone(policy_zone).date(),))
        for entries in per_day.values()
        for e in entries
        if e.state == LIVE
    ]
    return Calendar(
        days=tuple(_day(date, entries) for date, entries in per_day.items()),
        zone=zone,
        abbreviations=_abbreviations(tz, low, high, per_day),
        not_shown=tuple(not_shown),
        truncated=tuple(truncated),
        capped=tuple(w for cap in rules.caps for w in policies.over_cap(cap, live)),
    )


# -- helpers -------------------------------------------------------------------------------------


def _state(manifest: Manifest) -> str | None:
    """'live' for what sends, 'draft' for what is listed only, None for what is not listed."""
    if manifest.run is Run.STOPPED:
        return None
    return DRAFT if manifest.state is DesiredState.DRAFT else LIVE


def _zone(zone: str) -> dt.tzinfo:
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {zone!r} (expected an IANA name)") from exc


def _abbreviations(
    tz: dt.tzinfo, low: dt.datetime, high: dt.datetime, per_day: Mapping[dt.date, list[Entry]]
) -> tuple[str, ...]:
    """The zone's abbreviations from ``low`` to ``high``, in order: read at every midnight and at
    every sending (zones change at most a few times a year, never twice in a day)."""
    moments = [low.astimezone(tz)] + [
        _midnight(date, tz)[1].astimezone(tz) for date in list(per_day)[1:]
    ]
    moments += [entry.at for entries in per_day.values() for entry in entries]
    moments.append((high - dt.timedelta(microseconds=1)).astimezone(tz))
    found: dict[str, None] = {}
    for moment in sorted(moments):
        found.setdefault(moment.tzname() or moment.strftime("%z"), None)
    return tuple(found)


def _midnight(date: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The earlier and the later instant that 00:00 on ``date`` may denote (the same, mostly)."""
    first = dt.datetime.combine(date, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    second = dt.datetime.combine(date, dt.time(fold=1), tzinfo=tz).astimezone(dt.UTC)
    return min(first, second), max(first, second)


def _day(date: dt.date, entries: list[Entry]) -> Day:
    entries.sort(key=lambda e: (e.at, e.campaign))
    by_segment: dict[str, list[str]] = {}
    for entry in entries:
        if entry.state == LIVE and entry.segment is not None:
            by_segment.setdefault(entry.segment, []).append(entry.campaign)
    clashes = tuple(
        Clash(segment, tuple(sorted(set(names))), len(names))
        for segment, names in sorted(by_segment.items())
        if len(set(names)) > 1
    )
    return Day(date, tuple(entries), clashes)
