"""Views of a calendar: text for people, JSON for programs.

Campaign names, channels, segments and reasons come from manifests and the runtime, so escaping is
not left to each line: the text view composes its lines raw and hands them to :func:`_lines`, which
escapes each one (:func:`reconciler.escape.text`); the JSON view returns
:func:`reconciler.render_json.document`'s output.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from reconciler import calendar, escape, render_json
from reconciler.calendar import DRAFT, WEEKDAYS, Calendar, Entry
from reconciler.wording import plural

__all__ = ["calendar_json", "calendar_text"]


def calendar_text(cal: Calendar) -> str:
    """A heading that says the zone, per day a line per sending and per clash, then the totals.

    Times are in the calendar's zone. When the zone keeps one abbreviation over the window, the
    heading says it once; across a change (CET to CEST) every time says its own."""
    lines: list[str] = []
    each = len(cal.abbreviations) > 1
    if cal.days:
        first, last = cal.days[0].date, cal.days[-1].date
        said = "" if each or cal.abbreviations == (cal.zone,) else f" ({cal.abbreviations[0]})"
        lines.append(f"Sendings {first} to {last}, times in {cal.zone}{said}")
    # escaped first, to measure them: escaping again in _lines changes nothing
    rows = [
        [escape.text(cell) for cell in _cells(e, each)] for day in cal.days for e in day.sendings
    ]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(5)]
    cells = iter(rows)
    first_day = cal.days[0].date if cal.days else None
    capped: dict[date, list[str]] = {}  # each window on its first day shown
    for w in cal.capped:
        shown = max(w.first, first_day) if first_day is not None else w.first
        capped.setdefault(shown, []).append(f"  ! over cap {w.cap.name}: {w.said()}")
    for day in cal.days:
        lines.append(f"{WEEKDAYS[day.date.weekday()]} {day.date}")
        for _ in day.sendings:
            row = next(cells)
            lines.append(
                "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
        for clash in day.clashes:
            names = ", ".join(clash.campaigns)
            lines.append(
                f"  ! clash: segment {clash.segment} gets {clash.sendings} sendings: {names}"
            )
        lines.extend(capped.get(day.date, ()))
        if not day.sendings:
            lines.append("  no sendings")
    totals = f"{plural(cal.sendings, 'sending')}, {plural(cal.clashes, 'clash', 'clashes')}"
    if cal.capped:
        totals += f", {plural(len(cal.capped), 'window')} over a frequency cap"
    lines.append(totals)
    lines.extend(f"not shown: {n.campaign}: {n.reason}" for n in cal.not_shown)
    if cal.truncated:
        lines.append(
            f"cut short: {', '.join(cal.truncated)} (over {calendar.MAX_SENDINGS} sendings each)"
        )
    return _lines(lines)


def calendar_json(cal: Calendar) -> str:
    """Times in RFC 3339 with the offset they have in the calendar's zone."""
    body: dict[str, Any] = {
        "zone": cal.zone,
        "from": cal.days[0].date.isoformat() if cal.days else None,
        "to": cal.days[-1].date.isoformat() if cal.days else None,
        "summary": {"sendings": cal.sendings, "clashes": cal.clashes},
        "days": [
            {
                "date": day.date.isoformat(),
                "weekday": WEEKDAYS[day.date.weekday()],
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
        "capped": [
            {
                "policy": w.cap.name,
                "segment": w.segment,
                "from": w.first.isoformat(),
                "to": w.last.isoformat(),
                "per": w.cap.per,
                "max": w.cap.max,
                "sendings": w.sendings,
                "campaigns": list(w.campaigns),
            }
            for w in cal.capped
        ],
        "not_shown": [{"campaign": n.campaign, "reason": n.reason} for n in cal.not_shown],
        "truncated": list(cal.truncated),
    }
    return render_json.document(body)


def _cells(entry: Entry, abbreviated: bool) -> list[str]:
    """Time (seconds only when there are some; the abbreviation when asked), campaign, channel,
    segment, note: raw."""
    at = entry.at
    time = f"{at:%H:%M:%S}" if at.second else f"{at:%H:%M}"
    if abbreviated:
        time += f" {at.tzname()}"
    note = "(draft)" if entry.state == DRAFT else ""
    return [time, entry.campaign, entry.channel, entry.segment or "-", note]


def _lines(lines: Iterable[str]) -> str:
    """The one way out of the text view: every line escaped."""
    return "".join(f"{escape.text(line)}\n" for line in lines)
