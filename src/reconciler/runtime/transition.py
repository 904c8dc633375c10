"""What an operation does to a campaign: the semantics every store shares, as pure functions.

The platform (``platform.py``) runs :func:`stage` inside a store's transaction. :func:`transition`
refuses, as a campaign platform would, a moved etag, anything the lifecycle forbids
(``model.ALLOWED``), and a new version that would change the channel or kind of a campaign that has
been live; :func:`fence_check` refuses a write from a process that no longer holds the lock.
:func:`stage` does all of it for a batch of writes, before the store keeps any of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, replace
from datetime import datetime

from reconciler.errors import ConflictError, LockedError, ReconcilerError, RefusedError
from reconciler.model import (
    RECONCILER,
    Action,
    Campaign,
    Channel,
    Spec,
    Status,
    Version,
    allowed,
    instant,
    kind_of,
    spec_hash,
)
from reconciler.runtime.base import Applied, Clock, Write, timestamp


def fence_check(write: Write, held: tuple[str, str] | None, now: datetime) -> None:
    """Refuse a write whose writer lost the lock (it expired, or another process took it over):
    a paused apply must not go on writing a plan checked against a runtime that has moved."""
    if write.lock_owner is None:
        return
    if held is None or held[0] != write.lock_owner or held[1] <= timestamp(now):
        holder = f"now held by {held[0]}" if held and held[0] != write.lock_owner else "expired"
        raise LockedError(
            f"the runtime lock of {write.lock_owner} was lost ({holder}); {write.campaign} was "
            "not written. Run apply again"
        )


def _start_of(spec: Spec) -> datetime | None:
    """When an activated campaign starts: a later start makes it scheduled, not live."""
    schedule = spec.get("schedule") or {}
    start: str | None = None
    if "once" in schedule:
        start = schedule["once"].get("at")
    elif isinstance(schedule.get("recurring"), Mapping):
        start = schedule["recurring"].get("start")
    elif isinstance(spec.get("window"), Mapping):
        start = spec["window"].get("start")
    if not start:
        return None
    return instant(start)


#: the actions that always write a version: a write of one without a spec is refused (a resume
#: may come without one: the versions stay as they are)
NEEDS_SPEC = frozenset(
    {Action.CREATE, Action.ACTIVATE, Action.UPDATE, Action.REPLACE, Action.COPY, Action.EDIT}
)


def activation_status(spec: Spec, now: datetime) -> Status:
    start = _start_of(spec)
    return Status.SCHEDULED if start is not None and start > now else Status.LIVE


def transition(before: Campaign | None, write: Write, *, etag: str, now: datetime) -> Campaign:
    """The campaign ``write`` makes of ``before``.

    A spec the campaign already holds (live or staged) keeps its version and number; any other spec
    gets the next number (``Campaign.number_for``). The reconciler writes to a campaign made
    outside it only once it adopts it: an ``adopt``, or a write that adopts as it changes.
    """
    current_etag = before.etag if before is not None else None
    if current_etag != write.expected_etag:
        raise ConflictError(
            f"campaign {write.campaign!r} changed since it was planned "
            f"(etag {write.expected_etag or 'absent'}, now {current_etag or 'absent'}); plan again"
        )
    adopting = write.action is Action.ADOPT or write.adopt
    if (
        before is not None
        and not before.managed
        and write.provenance.origin == RECONCILER
        and not adopting
    ):
        raise RefusedError(
            f"the runtime refuses to {write.action.value} {write.campaign!r}: it is not managed "
            "by the reconciler; adopt it first"
        )
    if write.action is Action.ADOPT and before is not None and before.managed:
        raise RefusedError(
            f"the runtime refuses to adopt {write.campaign!r}: the reconciler manages it already"
        )
    after = _made(before, write, etag=etag, now=now)
    return replace(after, managed=True) if adopting else after


def _made(before: Campaign | None, write: Write, *, etag: str, now: datetime) -> Campaign:
    """What ``write`` makes of ``before``, its etag and management checked."""
    spec = write.spec
    refused = f"the runtime refuses to {write.action.value} {write.campaign!r}"
    if before is None and spec is None:
        raise RefusedError(f"{refused}: a new campaign needs a spec")
    # what each action carries: a spec where it writes a version, nothing where it writes none
    if spec is None and write.action in NEEDS_SPEC:
        raise RefusedError(f"{refused}: it needs a spec")
    if write.action is Action.ADOPT and (
        spec is not None or write.copied_from or write.copy_base is not None or write.activate
    ):
        raise RefusedError(f"{refused}: an adoption writes nothing but the management")
    kind = before.kind if before is not None else kind_of(spec or {})
    if not allowed(write.action, before.status if before else None, kind):
        state = before.status.value if before else "absent"
        raise RefusedError(f"{refused}: not allowed for {kind.a_campaign} that is {state}")
    if (
        before is not None
        and before.activated
        and spec is not None
        and write.action is not Action.EDIT
        and (spec.get("channel") != before.channel.value or kind_of(spec) is not before.kind)
    ):
        raise RefusedError(
            f"{refused}: the channel and kind of a campaign that has been live cannot change"
        )

    def version_of(new_spec: Spec, campaign: Campaign | None) -> Version:
        digest = spec_hash(new_spec)
        held = campaign.version_with(digest) if campaign is not None else None
        # a console edit says nothing of the title and labels: the version it replaces keeps them
        current = (campaign.live or campaign.draft) if campaign is not None else None
        keeps = (
            current is not None
            and write.provenance.origin != RECONCILER
            and write.title is None
            and write.labels is None
        )
        return held or Version(
            number=campaign.number_for(digest) if campaign is not None else 1,
            spec=new_spec,
            hash=digest,
            commit=write.provenance.commit,
            dirty=write.provenance.dirty,
            file=write.file,
            actor=write.provenance.actor,
            applied_at=timestamp(now),
            origin=write.provenance.origin,
            base_hash=write.base_hash,
            title=current.title if keeps and current is not None else write.title,
            labels=current.labels if keeps and current is not None else write.labels,
        )

    action = write.action
    if before is None:
        assert spec is not None
        version = version_of(spec, None)
        activate = action is Action.ACTIVATE or (action is Action.COPY and write.activate)
        return Campaign(
            name=write.campaign,
            channel=Channel(spec["channel"]),
            kind=kind,
            status=activation_status(spec, now) if activate else Status.DRAFT,
            live=version if activate else None,
            draft=None if activate else version,
            etag=etag,
            versions=1,
            copied_from=write.copied_from,
            copy_base=write.copy_base,
            activated_at=timestamp(now) if activate else None,
            managed=write.provenance.origin == RECONCILER,  # a console's campaign is not ours
        )
    out = replace(before, etag=etag)
    if action is Action.ADOPT:  # its management changes, and nothing of the campaign
        return out
    if before.status is Status.DRAFT and spec is not None:
        # a draft that was never live may still change channel and kind
        out = replace(out, channel=Channel(spec["channel"]), kind=kind_of(spec))
    if action is Action.DISCARD:
        return replace(out, draft=None)
    if action is Action.STOP:  # a sending in progress finishes first: the engine ends the stop
        return replace(out, status=Status.STOPPING if before.sending else Status.STOPPED)
    if spec is None:  # resume without a spec: the versions stay as they are
        return replace(out, status=activation_status(_live_spec(before), now))
    version = version_of(spec, before)
    counted = replace(out, versions=max(before.versions, version.number))
    if action is Action.EDIT:  # a new live version, written from outside; nothing else moves
        return replace(counted, live=version)
    if action is Action.UPDATE or (action is Action.RESUME and not write.activate):
        staged = None if version is before.live else version
        status = activation_status(_live_spec(before), now) if action is Action.RESUME else None
        return replace(counted, draft=staged, status=status or before.status)
    # ACTIVATE, REPLACE, and RESUME into live: the version goes live, nothing stays staged
    first = counted.activated_at or timestamp(now)
    return replace(
        counted, live=version, draft=None, status=activation_status(spec, now), activated_at=first
    )


def _live_spec(campaign: Campaign) -> Spec:
    return campaign.live.spec if campaign.live is not None else {}


@dataclass(frozen=True)
class Staged:
    """A write of a batch that passed every check: what the store keeps for it."""

    write: Write
    before: Campaign | None
    after: Campaign
    revision: int
    at: str


@dataclass(frozen=True)
class Batch:
    results: tuple[Applied | ReconcilerError, ...]  # per write attempted, in order; a refusal last
    staged: tuple[Staged, ...]  # the writes to store, in order
    revision: int  # the runtime's revision once they are stored


def stage(
    writes: Iterable[Write],
    campaigns: Mapping[str, Campaign],
    applied: Set[str],
    *,
    lock: tuple[str, str] | None,
    revision: int,
    clock: Clock,
) -> Batch:
    """Check a batch of writes against the state it starts from and work out what each makes.

    ``campaigns`` and ``applied`` need hold only the campaigns and keys the writes name; ``lock``
    is the holder and expiry of the runtime's lock. Each write sees the ones before it; the first
    refused ends the batch. The store keeps the staged writes afterwards, in its one
    transaction: a refused write never wrote anything, so leaving it out is all it takes to roll
    it back alone (no savepoint needed).
    """
    current = dict(campaigns)
    done = set(applied)
    results: list[Applied | ReconcilerError] = []
    staged: list[Staged] = []
    for write in writes:
        now = clock()
        before = current.get(write.campaign)
        try:
            fence_check(write, lock, now)
            if write.key in done:
                assert before is not None
                results.append(Applied(campaign=before, revision=revision, replayed=True))
                continue
            after = transition(before, write, etag=str(revision + 1), now=now)
        except ReconcilerError as exc:
            results.append(exc)
            break
        revision += 1
        current[write.campaign] = after
        done.add(write.key)
        staged.append(Staged(write, before, after, revision, timestamp(now)))
        results.append(Applied(campaign=after, revision=revision))
    return Batch(tuple(results), tuple(staged), revision)
