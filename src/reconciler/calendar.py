"""The sendings the manifests would produce, day by day, with clashes: ``reconciler calendar``.

The calendar works from the manifests alone (no runtime), with :mod:`reconciler.schedule`:

- Days are the local dates ``start .. start + days - 1`` in ``zone`` (an IANA name, default
  ``UTC``). A sending belongs to the day of its local time in ``zone``, and is shown in ``zone``.
- A manifest with ``state: live`` and ``run: running`` sends: its sendings are listed as ``live``.
- A ``state: draft`` manifest is listed too, as ``draft`` (what it would send once activated as it
  is written), but it sends nothing, so it never takes part in a clash. (A campaign that is
  already live keeps sending its live version while its manifest says ``draft``; reading manifests
  only, the calendar cannot show that version.)
- A manifest with ``run: stopped`` sends nothing and is not listed, whatever its ``state``.
- Campaigns without a sending time known ahead are not listed: one-time campaigns without a
  ``schedule`` (sent on activation) and inbound channels.
- A ``copyFrom`` manifest whose own ``spec`` lacks ``channel`` or ``schedule`` is skipped: its
  effective spec is laid over the source's live version in the runtime, which the calendar does not
  read. Skipped campaigns are named in :attr:`Calendar.skipped` (and below the text view).
- A **clash**: two or more different live campaigns sending to the same ``audience.segment`` on the
  same day. Sendings without a segment never clash.
- At most :data:`MAX_SENDINGS` sendings per campaign are computed; a campaign that has more in the
  window is cut short and named in :attr:`Calendar.truncated`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler import escape, schedule
from reconciler.model import INBOUND_CHANNELS, DesiredState, Manifest, Run

__all__ = [
    "MAX_SENDINGS",
    "Calendar",
    "Clash",
    "Day",
    "Entry",
    "calendar",
    "calendar_json",
    "calendar_text",
]

#: sendings computed per campaign; more in the window are cut (a cron firing every minute...)
MAX_SENDINGS = 10_000
LIVE, DRAFT = "live", "draft"
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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
class Calendar:
    days: tuple[Day, ...]
    zone: str = "UTC"
    skipped: tuple[str, ...] = ()  # copyFrom manifests without their own channel or schedule
    truncated: tuple[str, ...] = ()  # campaigns with more than MAX_SENDINGS sendings

    @property
    def sendings(self) -> int:
        return sum(len(day.sendings) for day in self.days)

    @property
    def clashes(self) -> int:
        return sum(len(day.clashes) for day in self.days)


def calendar(
    manifests: Sequence[Manifest], start: dt.date, days: int, zone: str = "UTC"
) -> Calendar:
    """The sendings of ``manifests`` on the ``days`` local dates from ``start`` on, in ``zone``."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {zone!r} (expected an IANA name)") from exc
    dates = [start + dt.timedelta(days=n) for n in range(days)]
    # from the first day's midnight to the midnight after the last day; both readings of a
    # midnight in a gap or an overlap, to be safe: each sending is then kept by its local date
    low = _midnight(start, tz)[0]
    high = _midnight(dates[-1] + dt.timedelta(days=1), tz)[1]
    per_day: dict[dt.date, list[Entry]] = {date: [] for date in dates}
    skipped: list[str] = []
    truncated: list[str] = []
    for manifest in sorted(manifests, key=lambda m: m.name):
        spec = manifest.spec
        if manifest.copy_from is not None and not ("channel" in spec and "schedule" in spec):
            skipped.append(manifest.name)
            continue
        state = _state(manifest)
        if state is None or spec.get("channel") in INBOUND_CHANNELS or not spec.get("schedule"):
            continue
        found = schedule.occurrences(spec, low, high, limit=MAX_SENDINGS + 1)
        if len(found) > MAX_SENDINGS:
            truncated.append(manifest.name)
            found = found[:MAX_SENDINGS]
        channel, segment = str(spec.get("channel", "")), _segment(spec)
        for moment in found:
            local = moment.astimezone(tz)
            if local.date() in per_day:
                per_day[local.date()].append(Entry(local, manifest.name, channel, segment, state))
    return Calendar(
        days=tuple(_day(date, entries) for date, entries in per_day.items()),
        zone=zone,
        skipped=tuple(skipped),
        truncated=tuple(truncated),
    )


def calendar_text(cal: Calendar) -> str:
    """Per day a heading, then one line per sending and one per clash.

    Campaign names and segments come from manifests: each line is escaped as it is written (cells
    first too, to measure them), so none can bring a control character to the terminal."""
    lines: list[str] = []
    if cal.days:
        first, last = cal.days[0].date, cal.days[-1].date
        lines.append(f"Sendings {first} to {last}, times in {cal.zone}")
    rows = [list(map(escape.text, _cells(e))) for day in cal.days for e in day.sendings]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(5)]
    for day in cal.days:
        lines.append(f"{_WEEKDAYS[day.date.weekday()]} {day.date}")
        for entry in day.sendings:
            cells = list(map(escape.text, _cells(entry)))
            lines.append(
                "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
            )
        for clash in day.clashes:
            names = ", ".join(clash.campaigns)
            lines.append(
                f"  ! clash: segment {clash.segment} gets {clash.sendings} sendings: {names}"
            )
        if not day.sendings:
            lines.append("  no sendings")
    lines.append(f"{_count(cal.sendings, 'sending')}, {_count(cal.clashes, 'clash', 'clashes')}")
    if cal.skipped:
        lines.append(
            f"not shown: {', '.join(cal.skipped)} (copyFrom without its own channel or "
            "schedule: the rest comes from the source's live version in the runtime)"
        )
    if cal.truncated:
        lines.append(f"cut short: {', '.join(cal.truncated)} (over {MAX_SENDINGS} sendings each)")
    return "".join(f"{escape.text(line)}\n" for line in lines)


def calendar_json(cal: Calendar) -> str:
    body: dict[str, Any] = {
        "zone": cal.zone,
        "from": cal.days[0].date.isoformat() if cal.days else None,
        "to": cal.days[-1].date.isoformat() if cal.days else None,
        "summary": {"sendings": cal.sendings, "clashes": cal.clashes},
        "days": [
            {
                "date": day.date.isoformat(),
                "weekday": _WEEKDAYS[day.date.weekday()],
                "sendings": [
                    {
                        "at": entry.at.isoformat(),
                        "campaign": entry.campaign,
                        "channel": entry.channel,
                        "segment": entry.segment,
                        "state": entry.state,
                    }
                    for entry in day.sendings
                ],
                "clashes": [
                    {
                        "segment": clash.segment,
                        "campaigns": list(clash.campaigns),
                        "sendings": clash.sendings,
                    }
                    for clash in day.clashes
                ],
            }
            for day in cal.days
        ],
        "skipped": list(cal.skipped),
        "truncated": list(cal.truncated),
    }
    return escape.json_document(json.dumps(body, indent=2, ensure_ascii=False)) + "\n"


# -- helpers -------------------------------------------------------------------------------------


def _state(manifest: Manifest) -> str | None:
    """'live' for what sends, 'draft' for what is listed only, None for what is not listed."""
    if manifest.run is Run.STOPPED:
        return None
    return DRAFT if manifest.state is DesiredState.DRAFT else LIVE


def _midnight(date: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The earlier and the later instant that 00:00 on ``date`` may denote (the same, mostly)."""
    first = dt.datetime.combine(date, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    second = dt.datetime.combine(date, dt.time(fold=1), tzinfo=tz).astimezone(dt.UTC)
    return min(first, second), max(first, second)


def _segment(spec: Mapping[str, Any]) -> str | None:
    audience = spec.get("audience")
    segment = audience.get("segment") if isinstance(audience, Mapping) else None
    return segment if isinstance(segment, str) else None


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


def _cells(entry: Entry) -> list[str]:
    note = "(draft)" if entry.state == DRAFT else ""
    return [f"{entry.at:%H:%M}", entry.campaign, entry.channel, entry.segment or "-", note]


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"
