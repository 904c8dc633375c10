"""What the runtime holds and will do, read: status, sendings, history, and the calendar of
sendings the manifests would produce."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime

from reconciler import (
    manifests,
    schedule,
)
from reconciler.api.options import Options
from reconciler.api.policy import ProjectSource, _in_environment, read_policies
from reconciler.calendar import Calendar
from reconciler.calendar import calendar as make_calendar
from reconciler.calendar import today as calendar_today
from reconciler.errors import (
    PlanError,
)
from reconciler.history import History, field_changes
from reconciler.model import (
    Campaign,
    CampaignStatus,
    Sending,
    SendingOutcome,
    Sendings,
    Status,
    parse_moment,
)
from reconciler.runtime.base import (
    timestamp,
)


def status(
    options: Options, name: str | None = None, now: datetime | None = None
) -> list[CampaignStatus]:
    with options.open() as runtime:
        campaigns = runtime.snapshot().campaigns
        sendings = runtime.sendings(name)
    moment = now or options.clock()
    last: dict[str, Sending] = {}
    for sending in sendings:  # oldest first: the last one wins
        if sending.outcome in (SendingOutcome.SENT, SendingOutcome.RUNNING):
            last[sending.campaign] = sending
    return [
        CampaignStatus(c, _next_sending(c, moment), last.get(n))
        for n, c in sorted(campaigns.items())
        if name in (None, n)
    ]


def _next_sending(c: Campaign, now: datetime) -> datetime | None:
    if c.live is None or c.status not in (Status.LIVE, Status.SCHEDULED):
        return None
    after = max(now, parse_moment(c.cursor)) if c.cursor else now
    upcoming = schedule.next_occurrences(c.live.spec, after, 1)
    return upcoming[0] if upcoming else None


def sendings(options: Options, name: str | None = None) -> Sendings:
    """Sendings, oldest slot first (of ``name``'s, when given), with their campaigns' zones."""
    with options.open() as runtime:
        found = runtime.sendings(name)
        campaigns = runtime.snapshot().campaigns
    zones = {
        n: schedule.zone_of(c.live.spec)
        for n in {x.campaign for x in found}
        if (c := campaigns.get(n)) is not None and c.live is not None
    }
    return Sendings(tuple(found), zones)


def history(options: Options, name: str | None = None, since: datetime | None = None) -> History:
    """The audit trail, newest first, with each entry's field changes; of one campaign, and from a
    moment on, when asked (saying how many entries that left out)."""
    with options.open() as runtime:
        entries = runtime.history(name)
    start = timestamp(since if since.tzinfo else since.replace(tzinfo=UTC)) if since else None
    shown = tuple(e for e in reversed(entries) if start is None or e.at >= start)
    changes = {e.seq: found for e in shown if (found := field_changes(e))}
    return History(shown, changes, since=start, earlier=len(entries) - len(shown))


def parse_since(text: str, what: str = "--since") -> datetime:
    """A date (midnight UTC) or a date-time (UTC unless it has an offset), as --since takes."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PlanError(
            f"{what} {text!r:.40}: expected a date or date-time like 2026-11-27 or "
            "2026-11-27T09:00:00+01:00"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def calendar(
    path: str | os.PathLike[str],
    options: Options,
    start: date | None,
    days: int,
    zone: str = "UTC",
    policy_source: ProjectSource | None = None,
) -> tuple[manifests.LoadResult, Calendar | None]:
    """The sendings the manifests under ``path`` would produce, day by day, clashes and windows
    over a frequency cap flagged, from ``start`` (today in ``zone`` when None). The runtime is
    only read: for the live specs of the sources of copies that the repository does not hold,
    and only when there are copies."""
    loaded = manifests.load(path)
    judged = read_policies(policy_source or ProjectSource(), path)
    if not judged.project.ok:
        loaded = replace(loaded, diagnostics=(*loaded.diagnostics, *judged.project.diagnostics))
    elif options.target is not None and loaded.ok:
        loaded = _in_environment(loaded, judged.project, options.target)
    if not loaded.ok:
        return loaded, None
    try:
        first = start if start is not None else calendar_today(options.clock(), zone)
        state = None
        if any(m.copy_from is not None for m in loaded.manifests):  # else no need of a runtime
            with options.open() as runtime:
                state = runtime.snapshot()
        made = make_calendar(loaded.manifests, first, days, zone, state, judged.policies)
        return loaded, made
    except ValueError as exc:
        raise PlanError(f"calendar: {exc}") from exc
