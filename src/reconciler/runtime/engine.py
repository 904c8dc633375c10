"""The embedded runtime's engine: what a campaign platform does as time passes.

:func:`advance` is pure: one campaign and a moment in, the campaign after that moment and the
sendings it started, finished or skipped out. The platform runs it per campaign, each write guarded
by the campaign's etag, so the engine and an apply can work on one runtime at the same time: they
meet only there.

The rules, at each tick, in this order:

1. A sending whose time is up finishes (``sent``). A ``stopping`` campaign then becomes ``stopped``;
   a one-time campaign becomes ``completed``.
2. A ``scheduled`` campaign whose start has come becomes ``live``.
3. A ``live`` outbound campaign with no sending in progress looks at the slots that came due since
   the last one it dealt with: the latest starts now, if it is at most ``GRACE`` old, with the live
   version of this moment; every other one is recorded as ``skipped`` and never sent late (the
   engine was not running, or the previous sending was still going). A sending lasts as long as
   its audience takes at its throttle rate.
4. A recurring campaign with an end and no slot left, and a one-time campaign whose only slot has
   been dealt with, become ``completed``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from reconciler.model import (
    Campaign,
    Kind,
    Sending,
    SendingOutcome,
    Spec,
    Status,
    instant,
    parse_moment,
)
from reconciler.runtime.base import timestamp
from reconciler.runtime.transition import activation_status
from reconciler.schedule import next_occurrences, occurrences

GRACE = timedelta(seconds=60)  # a slot older than this when the engine sees it is skipped
DEFAULT_SEGMENT_SIZE = 10_000  # recipients of a segment the runtime has no size for
DEFAULT_RATE = 100  # messages per second without a throttle
ENGINE = "engine"  # the actor of the engine's writes in the history
MISSED = "missed: the engine was not running at its time, or a sending was still in progress"

SegmentSize = Callable[[str], int]


@dataclass(frozen=True)
class Step:
    """What one tick did to one campaign."""

    campaign: Campaign
    sendings: tuple[Sending, ...]  # started, finished or skipped: to be stored by id
    events: tuple[str, ...]  # what changed, for the history: "send", "sent", "live", ...


def duration(spec: Spec, segment_size: SegmentSize) -> timedelta:
    audience = spec.get("audience") or {}
    size = segment_size(str(audience.get("segment", "")))
    rate = (spec.get("throttle") or {}).get("perSecond") or DEFAULT_RATE
    return timedelta(seconds=max(1, math.ceil(size / rate)))


def due_slots(campaign: Campaign, now: datetime) -> list[datetime]:
    """The slots that came due since the last one the campaign dealt with, oldest first."""
    assert campaign.live is not None
    spec = campaign.live.spec
    if campaign.cursor is not None:
        since = parse_moment(campaign.cursor) + timedelta(microseconds=1)
    else:  # nothing dealt with yet: every slot since the campaign was first activated
        since = parse_moment(campaign.activated_at or campaign.live.applied_at)
        once = (spec.get("schedule") or {}).get("once")
        if isinstance(once, Mapping) and once.get("at"):
            since = min(since, instant(once["at"]))  # activated after its time: skipped
    if not spec.get("schedule"):  # one-time, sent on activation
        return [since] if campaign.cursor is None and since <= now else []
    return occurrences(spec, since, now + timedelta(microseconds=1))


def advance(campaign: Campaign, now: datetime, segment_size: SegmentSize) -> Step | None:
    """The campaign at ``now``, or None when time changes nothing for it."""
    if campaign.kind is Kind.INBOUND or campaign.live is None:
        return None
    if campaign.status in (Status.DRAFT, Status.STOPPED, Status.COMPLETED):
        return None
    spec = campaign.live.spec
    c = campaign
    sendings: list[Sending] = []
    events: list[str] = []
    if c.sending is not None and c.sending.ends is not None and parse_moment(c.sending.ends) <= now:
        sendings.append(replace(c.sending, outcome=SendingOutcome.SENT))
        events.append("sent")
        c = replace(c, sending=None)
        if c.status is Status.STOPPING:
            c = replace(c, status=Status.STOPPED)
            events.append("stopped")
    if c.status is Status.SCHEDULED and _started(spec, now):
        c = replace(c, status=Status.LIVE)
        events.append("live")
    if c.status is Status.LIVE and c.sending is None:
        due = due_slots(c, now)
        latest = due[-1] if due else None
        sendings.extend(_skipped(c, slot) for slot in due[:-1])
        if latest is not None and now - latest > GRACE:
            sendings.append(_skipped(c, latest))
        elif latest is not None:
            started = Sending(
                id=f"{c.name}@{timestamp(latest)}",
                campaign=c.name,
                version=c.live.number if c.live else 0,
                scheduled=timestamp(latest),
                outcome=SendingOutcome.RUNNING,
                started=timestamp(now),
                ends=timestamp(now + duration(spec, segment_size)),
            )
            sendings.append(started)
            events.append("send")
            c = replace(c, sending=started)
        if latest is not None:
            c = replace(c, cursor=timestamp(latest))
    if c.status is Status.LIVE and c.sending is None and _finished(c, now):
        c = replace(c, status=Status.COMPLETED)
        events.append("completed")
    if c == campaign and not sendings:
        return None
    return Step(c, tuple(sendings), tuple(events))


def _skipped(c: Campaign, slot: datetime) -> Sending:
    return Sending(
        id=f"{c.name}@{timestamp(slot)}",
        campaign=c.name,
        version=c.live.number if c.live else 0,
        scheduled=timestamp(slot),
        outcome=SendingOutcome.SKIPPED,
        reason=MISSED,
    )


def _started(spec: Spec, now: datetime) -> bool:
    return activation_status(spec, now) is Status.LIVE


def _finished(c: Campaign, now: datetime) -> bool:
    """Nothing is left to send: a one-time campaign's slot was dealt with, a recurring one ended."""
    assert c.live is not None
    if c.kind is Kind.ONE_TIME:
        return c.cursor is not None
    recurring = (c.live.spec.get("schedule") or {}).get("recurring")
    has_end = isinstance(recurring, Mapping) and recurring.get("end") is not None
    return has_end and not next_occurrences(c.live.spec, now, 1)
