"""The runtime contract: one suite, run against every backend (``backends.BACKENDS``).

Every test drives a backend through :class:`reconciler.runtime.base.Runtime` (and, for the engine,
segments and console edits, :class:`~reconciler.runtime.base.Simulator`) only, with a fixed fake
clock, and asserts the exact campaign, revision, history, sendings and lock state that results.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backends import HTTP_ACTOR, POSTGRESQL, backend_url, served
from factories import FakeClock
from reconciler.errors import (
    ConflictError,
    LockedError,
    RefusedError,
    RuntimeBackendError,
    UnknownRuntimeError,
)
from reconciler.model import (
    Action,
    Campaign,
    Channel,
    Kind,
    Sending,
    SendingOutcome,
    Spec,
    Status,
    Version,
    kind_of,
    overlay,
    spec_hash,
)
from reconciler.runtime.base import (
    LOCK_TTL_SECONDS,
    Applied,
    LockInfo,
    LockOwner,
    Provenance,
    Runtime,
    Simulator,
    Write,
    redacted,
    timestamp,
)
from reconciler.runtime.http import LEASE_SECONDS
from reconciler.runtime.registry import open_runtime

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACTIVATED = "2026-06-01T12:00:00.000Z"  # the clock when the tests activate
STAMP = "2026-06-01T12:00:00.000Z"
ALICE = Provenance(actor="alice", commit="c0ffee")

EMAIL = {
    "channel": "email",
    "audience": {"segment": "newsletter"},
    "content": {"subject": "Hello", "body": "Body"},
}
ONE_TIME = {**EMAIL, "schedule": {"once": {"at": "2026-01-05T09:00:00+01:00"}}}
ONE_TIME_LATER = {**EMAIL, "schedule": {"once": {"at": "2026-12-01T09:00:00+01:00"}}}
RECURRING = {
    **EMAIL,
    "schedule": {
        "recurring": {"every": "week", "on": ["mon"], "at": "09:00"},
        "timezone": "Europe/Amsterdam",
    },
}
RECURRING_LATER = {
    **EMAIL,
    "schedule": {
        "recurring": {
            "every": "week",
            "on": ["mon"],
            "at": "09:00",
            "start": "2026-06-01T12:00:01Z",  # one second after NOW
        }
    },
}
INBOUND = {"channel": "in-app", "content": {"title": "Hi", "body": "There"}}
INBOUND_LATER = {
    **INBOUND,
    "window": {"start": "2026-07-01T00:00:00Z", "end": "2026-08-01T00:00:00Z"},
}


def subject(spec: Spec, text: str) -> dict[str, Any]:
    return {**spec, "content": {**spec["content"], "subject": text}}


def titled(spec: Spec, text: str) -> dict[str, Any]:
    return {**spec, "content": {**spec["content"], "title": text}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorded(backend: str) -> Callable[[str], str]:
    """Who history records for a write its client makes as ``actor``: through the service, the
    client's token (named ``alice``), and the actor it claims when that is someone else."""
    if not served(backend):
        return lambda actor: actor
    return lambda actor: actor if actor == HTTP_ACTOR else f"{HTTP_ACTOR} (for {actor})"


def runtime_url(backend: str, tmp_path: Path, clock: FakeClock) -> str:
    return backend_url(backend, tmp_path, label="contract", clock=clock)


@pytest.fixture
def rt(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    runtime = open_runtime(runtime_url(backend, tmp_path, clock), clock=clock)
    yield runtime
    runtime.close()


_keys = iter(range(1, 1_000_000))


def a_write(
    action: Action,
    name: str,
    etag: str | None,
    spec: Spec | None = None,
    *,
    key: str | None = None,
    plan_id: str | None = "plan-test",
    provenance: Provenance = ALICE,
    **extra: Any,
) -> Write:
    """One write with a fresh idempotency key (unless one is given)."""
    return Write(
        key=key or f"plan-test/{name}/{action.value}/{next(_keys)}",
        action=action,
        campaign=name,
        expected_etag=etag,
        provenance=provenance,
        plan_id=plan_id,
        file=f"campaigns/{name}.yaml",
        spec=spec,
        **extra,
    )


def write(
    rt: Runtime, action: Action, name: str, etag: str | None, spec: Spec | None = None, **kw: Any
) -> Applied:
    """Apply one write with a fresh idempotency key (unless one is given)."""
    return rt.apply(a_write(action, name, etag, spec, **kw))


def version(number: int, spec: Spec, *, at: str = STAMP, name: str = "alpha") -> Version:
    return Version(
        number=number,
        spec=spec,
        hash=spec_hash(spec),
        commit="c0ffee",
        file=f"campaigns/{name}.yaml",
        actor="alice",
        applied_at=at,
    )


def state_of(rt: Runtime) -> tuple[int, dict[str, Campaign], int]:
    snap = rt.snapshot()
    return snap.revision, dict(snap.campaigns), len(rt.history())


# --- the empty runtime ------------------------------------------------------------------------


def test_an_empty_runtime_has_revision_0_and_nothing_in_it(rt: Runtime) -> None:
    snap = rt.snapshot()
    assert snap.revision == 0
    assert dict(snap.campaigns) == {}
    assert snap.get("alpha") is None
    assert rt.history() == []
    assert rt.history("alpha") == []
    assert rt.applied_keys("") == frozenset()


# --- one write each -----------------------------------------------------------------------------


def test_create_makes_a_draft_with_version_1(rt: Runtime) -> None:
    applied = write(rt, Action.CREATE, "alpha", None, RECURRING)
    expected = Campaign(
        name="alpha",
        channel=Channel.EMAIL,
        kind=Kind.RECURRING,
        status=Status.DRAFT,
        live=None,
        draft=version(1, RECURRING),
        etag="1",
        versions=1,
    )
    assert applied == Applied(campaign=expected, revision=1, replayed=False)
    snap = rt.snapshot()
    assert snap.revision == 1
    assert dict(snap.campaigns) == {"alpha": expected}
    assert expected.managed is True
    assert expected.copied_from is None
    assert expected.copy_base is None


@pytest.mark.parametrize(
    ("spec", "kind", "status"),
    [
        pytest.param(EMAIL, Kind.ONE_TIME, Status.LIVE, id="one-time-sent-on-activation"),
        pytest.param(ONE_TIME, Kind.ONE_TIME, Status.LIVE, id="one-time-start-passed"),
        pytest.param(ONE_TIME_LATER, Kind.ONE_TIME, Status.SCHEDULED, id="one-time-later"),
        pytest.param(RECURRING, Kind.RECURRING, Status.LIVE, id="recurring-no-start"),
        pytest.param(RECURRING_LATER, Kind.RECURRING, Status.SCHEDULED, id="recurring-later"),
        pytest.param(INBOUND, Kind.INBOUND, Status.LIVE, id="inbound-no-window"),
        pytest.param(INBOUND_LATER, Kind.INBOUND, Status.SCHEDULED, id="inbound-window-later"),
    ],
)
def test_activate_a_new_campaign_is_live_or_scheduled_by_its_start(
    rt: Runtime, spec: Spec, kind: Kind, status: Status
) -> None:
    campaign = write(rt, Action.ACTIVATE, "alpha", None, spec).campaign
    assert campaign == Campaign(
        name="alpha",
        channel=Channel(spec["channel"]),
        kind=kind,
        status=status,
        live=version(1, spec),
        draft=None,
        etag="1",
        versions=1,
        activated_at=ACTIVATED,
    )


def test_a_start_equal_to_now_is_live_not_scheduled(rt: Runtime, clock: FakeClock) -> None:
    clock.advance(1)  # now == RECURRING_LATER's start
    assert write(rt, Action.ACTIVATE, "alpha", None, RECURRING_LATER).campaign.status is Status.LIVE


def test_activating_an_unchanged_draft_promotes_it_and_keeps_its_number(
    rt: Runtime, clock: FakeClock
) -> None:
    write(rt, Action.CREATE, "alpha", None, RECURRING)
    clock.advance(60)
    campaign = write(rt, Action.ACTIVATE, "alpha", "1", RECURRING).campaign
    assert campaign.status is Status.LIVE
    assert campaign.live == version(1, RECURRING)  # the draft itself, written at the first stamp
    assert campaign.draft is None
    assert campaign.versions == 1
    assert campaign.etag == "2"


def test_activating_a_draft_with_a_new_spec_gets_the_next_number(
    rt: Runtime, clock: FakeClock
) -> None:
    write(rt, Action.CREATE, "alpha", None, RECURRING)
    clock.advance(60)
    changed = subject(RECURRING, "Changed")
    campaign = write(rt, Action.ACTIVATE, "alpha", "1", changed).campaign
    assert campaign.live == version(2, changed, at="2026-06-01T12:01:00.000Z")
    assert (campaign.status, campaign.draft, campaign.versions) == (Status.LIVE, None, 2)


def test_update_a_draft_replaces_it_with_the_next_version(rt: Runtime) -> None:
    write(rt, Action.CREATE, "alpha", None, ONE_TIME)
    changed = subject(ONE_TIME, "Changed")
    campaign = write(rt, Action.UPDATE, "alpha", "1", changed).campaign
    assert campaign == Campaign(
        name="alpha",
        channel=Channel.EMAIL,
        kind=Kind.ONE_TIME,
        status=Status.DRAFT,
        live=None,
        draft=version(2, changed),
        etag="2",
        versions=2,
    )


def test_update_a_draft_may_change_its_channel_and_kind(rt: Runtime) -> None:
    write(rt, Action.CREATE, "alpha", None, ONE_TIME)
    campaign = write(rt, Action.UPDATE, "alpha", "1", INBOUND).campaign
    assert (campaign.channel, campaign.kind) == (Channel.IN_APP, Kind.INBOUND)
    assert campaign.draft == version(2, INBOUND)


def test_update_a_live_recurring_campaign_stages_a_draft_beside_the_live_version(
    rt: Runtime, clock: FakeClock
) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    clock.advance(60)
    changed = subject(RECURRING, "Changed")
    campaign = write(rt, Action.UPDATE, "alpha", "1", changed).campaign
    assert campaign == Campaign(
        name="alpha",
        channel=Channel.EMAIL,
        kind=Kind.RECURRING,
        status=Status.LIVE,
        live=version(1, RECURRING),
        draft=version(2, changed, at="2026-06-01T12:01:00.000Z"),
        etag="2",
        versions=2,
        activated_at=ACTIVATED,
    )


def test_replace_with_the_staged_draft_promotes_it_and_keeps_its_number(
    rt: Runtime, clock: FakeClock
) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    clock.advance(60)
    changed = subject(RECURRING, "Changed")
    staged = write(rt, Action.UPDATE, "alpha", "1", changed).campaign.draft
    clock.advance(60)
    campaign = write(rt, Action.REPLACE, "alpha", "2", changed).campaign
    assert campaign.live == staged
    assert campaign.live == version(2, changed, at="2026-06-01T12:01:00.000Z")
    assert (campaign.status, campaign.draft, campaign.versions, campaign.etag) == (
        Status.LIVE,
        None,
        2,
        "3",
    )


def test_replace_with_a_new_spec_while_a_draft_is_staged_gets_a_new_number(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    write(rt, Action.UPDATE, "alpha", "1", subject(RECURRING, "Staged"))
    third = subject(RECURRING, "Third")
    campaign = write(rt, Action.REPLACE, "alpha", "2", third).campaign
    assert campaign.live == version(3, third)
    assert (campaign.draft, campaign.versions) == (None, 3)


def test_replace_a_live_inbound_campaign(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, INBOUND)
    changed = titled(INBOUND, "New title")
    campaign = write(rt, Action.REPLACE, "alpha", "1", changed).campaign
    assert campaign.live == version(2, changed)
    assert (campaign.status, campaign.draft, campaign.versions) == (Status.LIVE, None, 2)


def test_discard_drops_the_staged_draft_and_keeps_the_count(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    write(rt, Action.UPDATE, "alpha", "1", subject(RECURRING, "Staged"))
    campaign = write(rt, Action.DISCARD, "alpha", "2").campaign
    assert campaign.live == version(1, RECURRING)
    assert (campaign.status, campaign.draft, campaign.versions, campaign.etag) == (
        Status.LIVE,
        None,
        2,
        "3",
    )
    # the next version never reuses the discarded number
    fourth = subject(RECURRING, "Again")
    assert write(rt, Action.UPDATE, "alpha", "3", fourth).campaign.draft == version(3, fourth)


@pytest.mark.parametrize(
    "spec", [RECURRING, RECURRING_LATER, INBOUND], ids=["live", "scheduled", "inbound"]
)
def test_stop_a_live_or_scheduled_campaign(rt: Runtime, spec: Spec) -> None:
    before = write(rt, Action.ACTIVATE, "alpha", None, spec).campaign
    campaign = write(rt, Action.STOP, "alpha", "1").campaign
    assert campaign == Campaign(
        name="alpha",
        channel=before.channel,
        kind=before.kind,
        status=Status.STOPPED,
        live=version(1, spec),  # the version that ran is kept
        draft=None,
        etag="2",
        versions=1,
        activated_at=ACTIVATED,
    )


def test_resume_a_stopped_inbound_campaign_keeps_its_version(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, INBOUND)
    write(rt, Action.STOP, "alpha", "1")
    campaign = write(rt, Action.RESUME, "alpha", "2", INBOUND, activate=True).campaign
    assert campaign.live == version(1, INBOUND)
    assert (campaign.status, campaign.draft, campaign.versions, campaign.etag) == (
        Status.LIVE,
        None,
        1,
        "3",
    )


def test_resume_with_a_changed_spec_makes_it_the_next_live_version(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, INBOUND)
    write(rt, Action.STOP, "alpha", "1")
    changed = titled(INBOUND, "Back")
    campaign = write(rt, Action.RESUME, "alpha", "2", changed, activate=True).campaign
    assert campaign.live == version(2, changed)
    assert (campaign.status, campaign.versions) == (Status.LIVE, 2)


def test_resume_of_a_manifest_in_draft_stages_the_change_beside_the_live_version(
    rt: Runtime,
) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, INBOUND)
    write(rt, Action.STOP, "alpha", "1")
    changed = titled(INBOUND, "Back")
    campaign = write(rt, Action.RESUME, "alpha", "2", changed).campaign
    assert campaign.live == version(1, INBOUND)
    assert campaign.draft == version(2, changed)
    assert (campaign.status, campaign.versions) == (Status.LIVE, 2)


@pytest.mark.parametrize(
    ("activate", "status"), [(True, Status.LIVE), (False, Status.DRAFT)], ids=["live", "draft"]
)
def test_copy_records_its_source_and_base(rt: Runtime, activate: bool, status: Status) -> None:
    write(rt, Action.ACTIVATE, "source", None, ONE_TIME)
    spec = overlay(ONE_TIME, {"content": {"subject": "Copy"}})
    campaign = write(
        rt,
        Action.COPY,
        "alpha",
        None,
        spec,
        copied_from="source",
        copy_base=ONE_TIME,
        activate=activate,
    ).campaign
    assert campaign == Campaign(
        name="alpha",
        channel=Channel.EMAIL,
        kind=Kind.ONE_TIME,
        status=status,
        live=version(1, spec) if activate else None,
        draft=None if activate else version(1, spec),
        etag="2",
        versions=1,
        copied_from="source",
        copy_base=ONE_TIME,
        activated_at=ACTIVATED if activate else None,
    )
    assert rt.snapshot().campaigns["alpha"] == campaign
    # the source is untouched
    assert rt.snapshot().campaigns["source"].etag == "1"


def test_every_write_bumps_the_revision_and_the_etag_is_that_revision(rt: Runtime) -> None:
    steps = [
        (Action.ACTIVATE, "alpha", None, RECURRING),
        (Action.CREATE, "beta", None, INBOUND),
        (Action.UPDATE, "alpha", "1", subject(RECURRING, "Two")),
        (Action.ACTIVATE, "beta", "2", INBOUND),
        (Action.REPLACE, "alpha", "3", subject(RECURRING, "Two")),
    ]
    for revision, (action, name, etag, spec) in enumerate(steps, start=1):
        applied = write(rt, action, name, etag, spec)
        assert applied.revision == revision
        assert applied.campaign.etag == str(revision)
        assert rt.snapshot().revision == revision
    snap = rt.snapshot()
    assert {n: c.etag for n, c in snap.campaigns.items()} == {"alpha": "5", "beta": "4"}
    assert {n: c.versions for n, c in snap.campaigns.items()} == {"alpha": 2, "beta": 1}


# --- refusals: nothing changes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "name", "etag", "message"),
    [
        pytest.param(
            Action.UPDATE,
            "alpha",
            "7",
            "campaign 'alpha' changed since it was planned (etag 7, now 1); plan again",
            id="stale-etag",
        ),
        pytest.param(
            Action.UPDATE,
            "alpha",
            None,
            "campaign 'alpha' changed since it was planned (etag absent, now 1); plan again",
            id="exists-but-expected-absent",
        ),
        pytest.param(
            Action.ACTIVATE,
            "ghost",
            "1",
            "campaign 'ghost' changed since it was planned (etag 1, now absent); plan again",
            id="absent-but-expected-etag",
        ),
    ],
)
def test_a_wrong_expected_etag_is_a_conflict_and_changes_nothing(
    rt: Runtime, action: Action, name: str, etag: str | None, message: str
) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    before = state_of(rt)
    with pytest.raises(ConflictError) as caught:
        write(rt, action, name, etag, subject(RECURRING, "Nope"), key="plan-x/conflict")
    assert str(caught.value) == message
    assert state_of(rt) == before
    assert rt.applied_keys("plan-x/") == frozenset()


def test_a_conflicting_key_is_not_burnt(rt: Runtime) -> None:
    """A write refused for its etag may be applied later under the same key."""
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    changed = subject(RECURRING, "Two")
    with pytest.raises(ConflictError):
        write(rt, Action.UPDATE, "alpha", "9", changed, key="plan-x/alpha/update")
    applied = write(rt, Action.UPDATE, "alpha", "1", changed, key="plan-x/alpha/update")
    assert (applied.replayed, applied.revision, applied.campaign.versions) == (False, 2, 2)


@pytest.mark.parametrize(
    ("setup", "action", "spec", "message"),
    [
        pytest.param(
            [(Action.ACTIVATE, ONE_TIME)],
            Action.STOP,
            None,
            "the runtime refuses to stop 'alpha': not allowed for a one-time campaign that is live",
            id="stop-one-time",
        ),
        pytest.param(
            [(Action.ACTIVATE, ONE_TIME_LATER)],
            Action.UPDATE,
            subject(ONE_TIME_LATER, "Changed"),
            "the runtime refuses to update 'alpha': "
            "not allowed for a one-time campaign that is scheduled",
            id="update-scheduled-one-time",
        ),
        pytest.param(
            [(Action.ACTIVATE, ONE_TIME)],
            Action.REPLACE,
            subject(ONE_TIME, "Changed"),
            "the runtime refuses to replace 'alpha': "
            "not allowed for a one-time campaign that is live",
            id="replace-live-one-time",
        ),
        pytest.param(
            [(Action.ACTIVATE, RECURRING), (Action.STOP, None)],
            Action.RESUME,
            RECURRING,
            "the runtime refuses to resume 'alpha': "
            "not allowed for a recurring campaign that is stopped",
            id="resume-stopped-recurring",
        ),
        pytest.param(
            [(Action.ACTIVATE, RECURRING), (Action.STOP, None)],
            Action.REPLACE,
            subject(RECURRING, "Changed"),
            "the runtime refuses to replace 'alpha': "
            "not allowed for a recurring campaign that is stopped",
            id="replace-stopped",
        ),
        pytest.param(
            [(Action.CREATE, RECURRING)],
            Action.STOP,
            None,
            "the runtime refuses to stop 'alpha': "
            "not allowed for a recurring campaign that is draft",
            id="stop-draft",
        ),
        pytest.param(
            [(Action.CREATE, RECURRING)],
            Action.DISCARD,
            None,
            "the runtime refuses to discard 'alpha': "
            "not allowed for a recurring campaign that is draft",
            id="discard-draft",
        ),
        pytest.param(
            [(Action.ACTIVATE, RECURRING)],
            Action.CREATE,
            RECURRING,
            "the runtime refuses to create 'alpha': "
            "not allowed for a recurring campaign that is live",
            id="create-existing",
        ),
        pytest.param(
            [(Action.ACTIVATE, RECURRING)],
            Action.ACTIVATE,
            RECURRING,
            "the runtime refuses to activate 'alpha': "
            "not allowed for a recurring campaign that is live",
            id="activate-live",
        ),
    ],
)
def test_a_forbidden_transition_is_refused_and_changes_nothing(
    rt: Runtime,
    setup: list[tuple[Action, Spec | None]],
    action: Action,
    spec: Spec | None,
    message: str,
) -> None:
    etag = None
    for step, step_spec in setup:
        etag = write(rt, step, "alpha", etag, step_spec).campaign.etag
    before = state_of(rt)
    with pytest.raises(RefusedError) as caught:
        write(rt, action, "alpha", etag, spec, key="plan-x/refused")
    assert str(caught.value) == message
    assert isinstance(caught.value, RuntimeBackendError)
    assert state_of(rt) == before
    assert rt.applied_keys("plan-x/") == frozenset()


def test_a_refusal_for_an_inbound_campaign_reads_well(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, INBOUND)
    with pytest.raises(RefusedError) as caught:
        write(rt, Action.ACTIVATE, "alpha", "1", INBOUND)
    assert str(caught.value) == (
        "the runtime refuses to activate 'alpha': not allowed for an inbound campaign that is live"
    )


@pytest.mark.parametrize("action", [Action.CREATE, Action.ACTIVATE, Action.COPY])
def test_a_new_campaign_without_a_spec_is_refused(rt: Runtime, action: Action) -> None:
    with pytest.raises(
        RefusedError, match=r"^the runtime refuses to \w+ .alpha.: a new campaign needs a spec$"
    ):
        write(rt, action, "alpha", None, None)
    assert state_of(rt) == (0, {}, 0)


# --- idempotency --------------------------------------------------------------------------------


def test_the_same_key_twice_is_replayed_and_writes_nothing(rt: Runtime, clock: FakeClock) -> None:
    first = write(rt, Action.ACTIVATE, "alpha", None, RECURRING, key="plan-a/alpha/activate")
    assert first.replayed is False
    after_first = state_of(rt)
    clock.advance(60)
    again = write(rt, Action.ACTIVATE, "alpha", None, RECURRING, key="plan-a/alpha/activate")
    assert again == Applied(campaign=first.campaign, revision=1, replayed=True)
    assert state_of(rt) == after_first
    assert rt.applied_keys("plan-a/") == {"plan-a/alpha/activate"}


def test_a_replayed_key_wins_over_a_moved_etag(rt: Runtime) -> None:
    """An interrupted plan rerun replays its done operations even though their etags moved."""
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING, key="plan-a/alpha/activate")
    current = write(rt, Action.UPDATE, "alpha", "1", subject(RECURRING, "Two")).campaign
    before = state_of(rt)
    again = write(rt, Action.ACTIVATE, "alpha", None, RECURRING, key="plan-a/alpha/activate")
    assert again == Applied(campaign=current, revision=2, replayed=True)
    assert state_of(rt) == before


def test_applied_keys_by_prefix(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING, key="plan-a/alpha/activate")
    write(rt, Action.CREATE, "beta", None, INBOUND, key="plan-a/beta/create")
    write(rt, Action.UPDATE, "alpha", "1", subject(RECURRING, "Two"), key="plan-ab/alpha/update")
    write(rt, Action.ACTIVATE, "beta", "2", INBOUND, key="other/beta/activate")
    assert rt.applied_keys("plan-a/") == {"plan-a/alpha/activate", "plan-a/beta/create"}
    assert rt.applied_keys("plan-ab/") == {"plan-ab/alpha/update"}
    assert rt.applied_keys("plan-a") == {
        "plan-a/alpha/activate",
        "plan-a/beta/create",
        "plan-ab/alpha/update",
    }
    assert rt.applied_keys("") == {
        "plan-a/alpha/activate",
        "plan-a/beta/create",
        "plan-ab/alpha/update",
        "other/beta/activate",
    }
    assert rt.applied_keys("plan-a/alpha/activate") == {"plan-a/alpha/activate"}
    assert rt.applied_keys("plan-b") == frozenset()
    assert rt.applied_keys("%") == frozenset()  # no LIKE wildcards
    assert rt.applied_keys("plan_a") == frozenset()


def test_applied_keys_by_prefix_beyond_the_basic_multilingual_plane(rt: Runtime) -> None:
    """A key whose next character lies outside the BMP still matches its prefix."""
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING, key="plan-a/\U0001f600")
    assert rt.applied_keys("plan-a/") == {"plan-a/\U0001f600"}


# --- history ------------------------------------------------------------------------------------


def test_history_records_every_write_in_order(
    rt: Runtime, clock: FakeClock, recorded: Callable[[str], str]
) -> None:
    bob = Provenance(actor="bob", commit=None)
    created = write(rt, Action.CREATE, "alpha", None, RECURRING, plan_id="plan-1").campaign
    clock.advance(1.5)
    other = write(rt, Action.ACTIVATE, "beta", None, INBOUND, plan_id=None, provenance=bob)
    clock.advance(60)
    activated = write(rt, Action.ACTIVATE, "alpha", "1", RECURRING, plan_id="plan-2").campaign
    clock.advance(60)
    stopped = write(rt, Action.STOP, "alpha", "3", plan_id="plan-3").campaign

    entries = rt.history()
    assert [
        (e.seq, e.revision, e.at, e.actor, e.commit, e.plan_id, e.operation, e.campaign)
        for e in entries
    ] == [
        (1, 1, "2026-06-01T12:00:00.000Z", "alice", "c0ffee", "plan-1", "create", "alpha"),
        (2, 2, "2026-06-01T12:00:01.500Z", recorded("bob"), None, None, "activate", "beta"),
        (3, 3, "2026-06-01T12:01:01.500Z", "alice", "c0ffee", "plan-2", "activate", "alpha"),
        (4, 4, "2026-06-01T12:02:01.500Z", "alice", "c0ffee", "plan-3", "stop", "alpha"),
    ]
    assert [(e.before, e.after) for e in entries] == [
        (None, created.to_json()),
        (None, other.campaign.to_json()),
        (created.to_json(), activated.to_json()),
        (activated.to_json(), stopped.to_json()),
    ]
    assert entries[3].to_json()["after"]["status"] == "stopped"

    assert rt.history("alpha") == [entries[0], entries[2], entries[3]]
    assert rt.history("beta") == [entries[1]]
    assert rt.history("ghost") == []


def test_history_is_not_written_by_a_replay_or_a_refusal(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, ONE_TIME, key="k/1")
    write(rt, Action.ACTIVATE, "alpha", None, ONE_TIME, key="k/1")
    with pytest.raises(RefusedError):
        write(rt, Action.STOP, "alpha", "1", key="k/2")
    with pytest.raises(ConflictError):
        write(rt, Action.STOP, "alpha", "0", key="k/3")
    assert [(e.revision, e.operation) for e in rt.history()] == [(1, "activate")]


# --- the lock -----------------------------------------------------------------------------------

CI = LockOwner(owner="ci@runner-1:101", pid=101, host="runner-1", reason="apply campaigns")
DEV = LockOwner(owner="dev@laptop:202", pid=202, host="laptop", reason="apply plan.json")


@pytest.fixture
def held(backend: str) -> Callable[[LockOwner], LockOwner]:
    """A lock owner as the runtime names it: through the service, bound to the client's token."""
    if not served(backend):
        return lambda owner: owner
    return lambda owner: replace(owner, owner=f"{owner.owner} [token {HTTP_ACTOR}]")


@pytest.fixture
def ttl(backend: str) -> Callable[[float], float]:
    """The ttl a lock asked for with ``seconds`` gets: through the service, a lease it renews."""
    if not served(backend):
        return lambda seconds: seconds
    return lambda seconds: min(seconds, LEASE_SECONDS)


def expiry(at: str, seconds: float) -> str:
    return timestamp(datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(seconds=seconds))


def test_acquire_a_free_lock_returns_none_and_a_second_owner_is_told_who_holds_it(
    rt: Runtime, held: Callable[[LockOwner], LockOwner], ttl: Callable[[float], float]
) -> None:
    assert rt.acquire_lock(CI) is None
    found = rt.acquire_lock(DEV)
    expires = expiry("2026-06-01T12:00:00.000Z", ttl(LOCK_TTL_SECONDS))
    assert found == LockInfo(holder=held(CI), acquired="2026-06-01T12:00:00.000Z", expires=expires)
    assert found.describe() == (
        f"{held(CI).owner} (apply campaigns) since 2026-06-01T12:00:00.000Z, expires {expires}"
    )
    assert LOCK_TTL_SECONDS == 300.0


def test_the_same_owner_reacquiring_refreshes_the_lock(
    rt: Runtime, clock: FakeClock, held: Callable[[LockOwner], LockOwner]
) -> None:
    assert rt.acquire_lock(CI, ttl=10) is None
    clock.advance(8)
    assert rt.acquire_lock(CI, ttl=10) is None
    clock.advance(8)  # past the first expiry, within the refreshed one
    assert rt.acquire_lock(DEV) == LockInfo(  # held since it was first taken
        holder=held(CI), acquired="2026-06-01T12:00:00.000Z", expires="2026-06-01T12:00:18.000Z"
    )


def test_release_lets_the_other_owner_in(rt: Runtime) -> None:
    assert rt.acquire_lock(CI) is None
    rt.release_lock(CI)
    assert rt.acquire_lock(DEV) is None
    assert rt.acquire_lock(CI) is not None


def test_release_by_someone_else_does_not_free_the_lock(
    rt: Runtime, held: Callable[[LockOwner], LockOwner]
) -> None:
    assert rt.acquire_lock(CI) is None
    rt.release_lock(DEV)
    found = rt.acquire_lock(DEV)
    assert found is not None
    assert found.holder == held(CI)


def test_releasing_a_free_lock_is_harmless(rt: Runtime) -> None:
    rt.release_lock(CI)
    assert rt.acquire_lock(CI) is None


def test_an_expired_lock_is_taken_over(
    rt: Runtime,
    clock: FakeClock,
    held: Callable[[LockOwner], LockOwner],
    ttl: Callable[[float], float],
) -> None:
    assert rt.acquire_lock(CI, ttl=10) is None
    clock.advance(9.999)
    assert rt.acquire_lock(DEV) is not None
    clock.advance(0.001)  # exactly at expiry
    assert rt.acquire_lock(DEV) is None
    assert rt.acquire_lock(CI) == LockInfo(
        holder=held(DEV),
        acquired="2026-06-01T12:00:10.000Z",
        expires=expiry("2026-06-01T12:00:10.000Z", ttl(LOCK_TTL_SECONDS)),
    )


def test_a_live_holder_on_this_host_keeps_the_lock(
    rt: Runtime, held: Callable[[LockOwner], LockOwner]
) -> None:
    me = LockOwner.current("apply campaigns")
    other = LockOwner(owner="other@x:1", pid=os.getpid(), host=me.host, reason="apply other")
    assert rt.acquire_lock(other) is None
    found = rt.acquire_lock(me)
    assert found is not None
    assert found.holder == held(other)


def test_the_lock_does_not_touch_campaigns_or_history(rt: Runtime) -> None:
    rt.acquire_lock(CI)
    rt.release_lock(CI)
    assert state_of(rt) == (0, {}, 0)


#: a pid no process has: above the largest pid Linux (2**22) or macOS (99,999) gives out
DEAD_PID = 2**22 + 1


def test_a_lock_held_by_a_dead_process_on_this_host_is_taken_over_at_once(
    rt: Runtime, backend: str, clock: FakeClock
) -> None:
    pid = DEAD_PID
    host = socket.gethostname()
    ghost = LockOwner(owner=f"ci@{host}:{pid}", pid=pid, host=host, reason="apply campaigns")
    assert rt.acquire_lock(ghost) is None
    me = LockOwner.current("apply campaigns")
    if served(backend):
        # a lease: the service cannot see its clients' processes, only that they stop renewing
        assert rt.acquire_lock(me) is not None
        clock.advance(LEASE_SECONDS)
        assert rt.acquire_lock(me) is None
        return
    assert rt.acquire_lock(me) is None  # not expired, but its holder is gone
    held = rt.acquire_lock(ghost)
    assert held == LockInfo(
        holder=me, acquired="2026-06-01T12:00:00.000Z", expires="2026-06-01T12:05:00.000Z"
    )


def test_a_dead_pid_on_another_host_is_not_taken_over(
    rt: Runtime, held: Callable[[LockOwner], LockOwner]
) -> None:
    pid = DEAD_PID
    far = LockOwner(owner=f"ci@elsewhere:{pid}", pid=pid, host="elsewhere", reason="apply")
    assert rt.acquire_lock(far) is None
    found = rt.acquire_lock(LockOwner.current("apply"))
    assert found is not None
    assert found.holder == held(far)


# --- the change feed ----------------------------------------------------------------------------


def test_the_revision_is_the_change_feed(rt: Runtime) -> None:
    assert rt.revision() == 0
    assert rt.changes(0, timeout=0) == 0  # nothing new, and no wait
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    assert rt.revision() == 1
    assert rt.changes(0, timeout=600) == 1  # a change made already: no wait either
    rt.acquire_lock(CI)
    assert rt.revision() == 1  # the lock is not a change of the campaigns


def test_a_change_wakes_a_waiter(backend: str, tmp_path: Path, clock: FakeClock) -> None:
    url = runtime_url(backend, tmp_path, clock)
    with open_runtime(url, clock=clock) as waiter, open_runtime(url, clock=clock) as writer:
        waiter.snapshot()
        seen: list[int] = []
        thread = threading.Thread(target=lambda: seen.append(waiter.changes(0, timeout=600)))
        thread.start()
        write(writer, Action.ACTIVATE, "alpha", None, RECURRING)
        thread.join()
    assert seen == [1]


# --- a runtime is a context manager -------------------------------------------------------------


def test_a_runtime_is_a_context_manager_that_closes_it(
    backend: str, tmp_path: Path, clock: FakeClock
) -> None:
    url = runtime_url(backend, tmp_path, clock)
    with open_runtime(url, clock=clock) as rt:
        write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    with open_runtime(url, clock=clock) as again:  # what was written is there when reopened
        assert set(again.snapshot().campaigns) == {"alpha"}


# --- the simulator: segments, the engine, console edits -----------------------------------------

DAILY = {**EMAIL, "schedule": {"recurring": {"every": "day", "at": "09:00"}}}


def simulator(rt: Runtime) -> Simulator:
    assert isinstance(rt, Simulator)
    return rt


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def test_segments_are_kept_and_are_no_write_to_campaigns(rt: Runtime) -> None:
    sim = simulator(rt)
    assert sim.segments() == {}
    sim.set_segment("newsletter", 3000)
    sim.set_segment("vip", 10)
    sim.set_segment("vip", 20)
    assert sim.segments() == {"newsletter": 3000, "vip": 20}
    assert state_of(rt) == (0, {}, 0)


def test_a_tick_on_an_empty_runtime_does_nothing(rt: Runtime) -> None:
    assert simulator(rt).tick(NOW) == []
    assert state_of(rt) == (0, {}, 0)


def test_the_engine_starts_and_ends_a_sending_each_in_a_write_of_its_own(rt: Runtime) -> None:
    sim = simulator(rt)
    sim.set_segment("newsletter", 3000)  # 30 s at the default 100 a second
    activated = write(rt, Action.ACTIVATE, "alpha", None, DAILY).campaign
    assert sim.tick(at("2026-06-02T08:59:59Z")) == []
    (step,) = sim.tick(at("2026-06-02T09:00:00Z"))
    started = Sending(
        id="alpha@2026-06-02T09:00:00.000Z",
        campaign="alpha",
        version=1,
        scheduled="2026-06-02T09:00:00.000Z",
        outcome=SendingOutcome.RUNNING,
        started="2026-06-02T09:00:00.000Z",
        ends="2026-06-02T09:00:30.000Z",
    )
    assert (step.campaign.etag, step.sendings, step.events) == ("2", (started,), ("send",))
    assert (step.campaign.sending, step.campaign.cursor) == (started, started.scheduled)
    assert rt.snapshot().campaigns["alpha"] == step.campaign
    assert rt.sendings() == rt.sendings("alpha") == [started]
    assert rt.sendings("beta") == []
    assert sim.tick(at("2026-06-02T09:00:29Z")) == []
    (ended,) = sim.tick(at("2026-06-02T09:00:30Z"))
    sent = replace(started, outcome=SendingOutcome.SENT)
    assert (ended.campaign.etag, ended.sendings, ended.events) == ("3", (sent,), ("sent",))
    assert ended.campaign.sending is None
    assert rt.sendings() == [sent]
    history = rt.history()
    assert [(e.seq, e.revision, e.actor, e.operation, e.at) for e in history] == [
        (1, 1, "alice", "activate", ACTIVATED),
        (2, 2, "engine", "engine: send", "2026-06-02T09:00:00.000Z"),
        (3, 3, "engine", "engine: sent", "2026-06-02T09:00:30.000Z"),
    ]
    assert (history[1].before, history[1].after) == (
        activated.to_json(),
        step.campaign.to_json(),
    )
    assert (history[1].commit, history[1].plan_id, history[1].file) == (None, None, None)
    assert rt.snapshot().revision == 3


def test_the_engine_and_an_apply_meet_through_the_etag(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, DAILY)
    simulator(rt).tick(at("2026-06-02T09:00:00Z"))
    with pytest.raises(ConflictError, match=r"\(etag 1, now 2\)"):
        write(rt, Action.STOP, "alpha", "1")
    assert write(rt, Action.STOP, "alpha", "2").campaign.status is Status.STOPPING


def test_a_console_edit_is_a_new_live_version_by_someone_else(
    rt: Runtime, recorded: Callable[[str], str]
) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    edited = subject(RECURRING, "Edited")
    campaign = simulator(rt).edit("alpha", edited, "1", "carol")
    assert campaign.live is not None
    assert (campaign.etag, campaign.live.number, campaign.live.spec) == ("2", 2, edited)
    assert (campaign.live.actor, campaign.live.origin) == (recorded("carol"), "console")
    assert [(e.actor, e.operation) for e in rt.history()] == [
        ("alice", "activate"),
        (recorded("carol"), "edit"),
    ]
    with pytest.raises(ConflictError):
        simulator(rt).edit("alpha", RECURRING, "1", "carol")


# --- the registry -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://x", "memory:", "postgres", "SQLITE:///x.db", "://"])
def test_an_unknown_url_lists_the_known_kinds(url: str) -> None:
    with pytest.raises(UnknownRuntimeError) as caught:
        open_runtime(url)
    assert str(caught.value) == (
        f"unknown runtime URL {url!r}; known kinds: http://HOST:PORT, https://HOST, "
        "memory://[NAME], postgresql://USER@HOST/DB, sqlite:///PATH"
    )
    assert isinstance(caught.value, RuntimeBackendError)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://u:secret@h:5432/db?sslmode=require",
            "postgresql://u:***@h:5432/db?sslmode=require",
        ),
        ("postgresql://u:secret@h:port/db", "postgresql://u:***@h:port/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("https://h/x?next=a:b@c", "https://h/x?next=a:b@c"),
        ("sqlite:///runtime.db", "sqlite:///runtime.db"),
        ("not a url", "not a url"),
    ],
    ids=["password", "bad-port", "at-in-password", "no-password", "at-in-query", "sqlite", "text"],
)
def test_redacted_hides_the_password_of_any_url(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_an_unknown_url_is_clipped_in_the_message() -> None:
    with pytest.raises(UnknownRuntimeError) as caught:
        open_runtime("ftp://" + "x" * 10_000)
    assert len(str(caught.value)) < 250  # the URL clipped to 100 characters, then the known kinds


def test_a_named_memory_runtime_is_shared_between_opens(clock: FakeClock) -> None:
    url = f"memory://shared-{uuid.uuid4().hex}"
    first, second = open_runtime(url, clock=clock), open_runtime(url, clock=clock)
    write(first, Action.ACTIVATE, "alpha", None, RECURRING)
    assert second.snapshot().revision == 1
    assert set(second.snapshot().campaigns) == {"alpha"}
    assert second.runtime_id() == first.runtime_id()
    assert first.acquire_lock(CI) is None
    assert second.acquire_lock(DEV) is not None


def test_an_anonymous_memory_runtime_is_not_shared(clock: FakeClock) -> None:
    first, second = open_runtime("memory://", clock=clock), open_runtime("memory://", clock=clock)
    write(first, Action.ACTIVATE, "alpha", None, RECURRING)
    assert second.snapshot().revision == 0
    assert dict(second.snapshot().campaigns) == {}
    assert second.runtime_id() != first.runtime_id()
    assert first.acquire_lock(CI) is None
    assert second.acquire_lock(DEV) is None


def test_a_runtime_has_a_stable_id_once_written(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    ident = rt.runtime_id()
    assert isinstance(ident, str)
    assert ident
    write(rt, Action.CREATE, "beta", None, RECURRING)
    assert rt.runtime_id() == ident


def test_the_url_is_kept(rt: Runtime, backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        assert rt.url == f"sqlite:///{tmp_path}/rt.db"
    elif backend == "postgresql":
        assert rt.url.startswith(f"{POSTGRESQL}?options=-csearch_path%3Dt_")
    elif served(backend):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", rt.url)
    else:
        assert rt.url.startswith("memory://contract-")


def test_a_write_under_a_lock_that_was_lost_is_refused(
    rt: Runtime, clock: FakeClock, held: Callable[[LockOwner], LockOwner]
) -> None:
    assert rt.acquire_lock(CI, ttl=60) is None
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING, lock_owner=CI.owner)
    clock.advance(61)  # CI was paused past its lock's expiry, and DEV took the lock over
    assert rt.acquire_lock(DEV) is None
    before = state_of(rt)
    with pytest.raises(LockedError) as caught:
        write(rt, Action.ACTIVATE, "beta", None, RECURRING, lock_owner=CI.owner)
    assert str(caught.value) == (
        f"the runtime lock of {held(CI).owner} was lost (now held by {held(DEV).owner}); beta "
        "was not written. Run apply again"
    )
    assert state_of(rt) == before
    rt.release_lock(DEV)
    with pytest.raises(LockedError, match=r"was lost \(expired\)"):
        write(rt, Action.ACTIVATE, "beta", None, RECURRING, lock_owner=CI.owner)


# --- batches ------------------------------------------------------------------------------------


def test_a_batch_lands_whole_each_write_with_its_own_revision_and_history(rt: Runtime) -> None:
    results = rt.apply_batch(
        [
            a_write(Action.CREATE, "alpha", None, RECURRING, key="plan-b/alpha/create"),
            a_write(Action.ACTIVATE, "beta", None, INBOUND, key="plan-b/beta/activate"),
            # sees the create before it in the same batch
            a_write(Action.ACTIVATE, "alpha", "1", RECURRING, key="plan-b/alpha/activate"),
        ]
    )
    assert all(isinstance(r, Applied) for r in results)
    applied = [r for r in results if isinstance(r, Applied)]
    assert [(r.revision, r.campaign.etag, r.replayed) for r in applied] == [
        (1, "1", False),
        (2, "2", False),
        (3, "3", False),
    ]
    alpha = applied[2].campaign
    assert (alpha.status, alpha.live, alpha.draft, alpha.versions) == (
        Status.LIVE,
        version(1, RECURRING),
        None,
        1,
    )
    snap = rt.snapshot()
    assert snap.revision == 3
    assert dict(snap.campaigns) == {"alpha": alpha, "beta": applied[1].campaign}
    assert [(e.seq, e.revision, e.operation, e.campaign) for e in rt.history()] == [
        (1, 1, "create", "alpha"),
        (2, 2, "activate", "beta"),
        (3, 3, "activate", "alpha"),
    ]
    assert [(e.before, e.after) for e in rt.history("alpha")] == [
        (None, applied[0].campaign.to_json()),
        (applied[0].campaign.to_json(), alpha.to_json()),
    ]
    assert rt.applied_keys("plan-b/") == {
        "plan-b/alpha/create",
        "plan-b/beta/activate",
        "plan-b/alpha/activate",
    }


class TickingClock(FakeClock):
    """A clock one second later at every reading: each write gets an instant of its own."""

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def test_a_batch_gives_what_one_write_at_a_time_gives(backend: str, tmp_path: Path) -> None:
    """The same writes, as one batch and one by one: the same results, state and history."""
    writes = [
        a_write(Action.ACTIVATE, "alpha", None, RECURRING, key="p/1"),
        a_write(Action.CREATE, "beta", None, INBOUND, key="p/2"),
        a_write(Action.ACTIVATE, "source", None, ONE_TIME, key="p/3"),
        a_write(Action.UPDATE, "alpha", "1", subject(RECURRING, "Two"), key="p/4"),
        a_write(
            Action.COPY,
            "copy",
            None,
            overlay(ONE_TIME, {"content": {"subject": "Again"}}),
            key="p/5",
            copied_from="source",
            copy_base=ONE_TIME,
            activate=True,
        ),
        a_write(Action.REPLACE, "alpha", "4", subject(RECURRING, "Two"), key="p/6"),
        a_write(Action.ACTIVATE, "beta", "2", titled(INBOUND, "Changed"), key="p/7"),
        a_write(Action.STOP, "beta", "7", key="p/8"),
        a_write(Action.ACTIVATE, "alpha", None, RECURRING, key="p/1"),  # replayed
    ]
    (tmp_path / "batched").mkdir()
    (tmp_path / "single").mkdir()
    # through the service, the clock is read by every request too (a token's last use): there, one
    # request against several would stamp different instants, so both keep one
    ticking, other = (
        (FakeClock(), FakeClock()) if served(backend) else (TickingClock(), TickingClock())
    )
    batched = open_runtime(runtime_url(backend, tmp_path / "batched", ticking), clock=ticking)
    single = open_runtime(runtime_url(backend, tmp_path / "single", other), clock=other)
    try:
        results = batched.apply_batch(writes)
        assert results == [single.apply(w) for w in writes]
        assert batched.snapshot() == single.snapshot()
        assert batched.history() == single.history()
        assert batched.applied_keys("") == single.applied_keys("")
        stamps = [e.at for e in batched.history("alpha")]
    finally:
        batched.close()
        single.close()
    ticked = ["2026-06-01T12:00:01.000Z", "2026-06-01T12:00:04.000Z", "2026-06-01T12:00:06.000Z"]
    assert stamps == (["2026-06-01T12:00:00.000Z"] * 3 if served(backend) else ticked)


REFUSALS = {
    "stale-etag": (
        a_write(Action.UPDATE, "alpha", "7", subject(RECURRING, "Two"), key="plan-b/alpha"),
        ConflictError,
        "campaign 'alpha' changed since it was planned (etag 7, now 1); plan again",
    ),
    "lifecycle": (
        a_write(Action.ACTIVATE, "alpha", "1", RECURRING, key="plan-b/alpha"),
        RefusedError,
        "the runtime refuses to activate 'alpha': not allowed for a recurring campaign that is "
        "live",
    ),
    "lost-lock": (
        a_write(Action.STOP, "alpha", "1", key="plan-b/alpha", lock_owner=CI.owner),
        LockedError,
        f"the runtime lock of {CI.owner} was lost (now held by {DEV.owner}); alpha was not "
        "written. Run apply again",
    ),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_refused_write_ends_the_batch_and_is_rolled_back_alone(
    rt: Runtime, refusal: str, held: Callable[[LockOwner], LockOwner]
) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    assert rt.acquire_lock(DEV) is None
    before = rt.snapshot().campaigns["alpha"]
    refused, error, message = REFUSALS[refusal]
    results = rt.apply_batch(
        [
            a_write(Action.ACTIVATE, "beta", None, INBOUND, key="plan-b/beta"),
            refused,
            a_write(Action.ACTIVATE, "gamma", None, INBOUND, key="plan-b/gamma"),
        ]
    )
    assert len(results) == 2  # gamma, after the refusal, was not attempted
    assert isinstance(results[0], Applied)
    assert results[0].revision == 2
    assert type(results[1]) is error
    owners = {CI.owner: held(CI).owner, DEV.owner: held(DEV).owner}
    assert str(results[1]) == re.sub(
        "|".join(map(re.escape, owners)), lambda m: owners[m[0]], message
    )
    snap = rt.snapshot()
    assert snap.revision == 2
    assert dict(snap.campaigns) == {"alpha": before, "beta": results[0].campaign}
    assert [(e.revision, e.campaign) for e in rt.history()] == [(1, "alpha"), (2, "beta")]
    assert rt.applied_keys("plan-b/") == {"plan-b/beta"}


def test_a_batch_replays_known_keys_even_twice_in_one_batch(rt: Runtime) -> None:
    first = write(rt, Action.ACTIVATE, "alpha", None, RECURRING, key="k/alpha")
    results = rt.apply_batch(
        [
            a_write(Action.ACTIVATE, "alpha", None, RECURRING, key="k/alpha"),
            a_write(Action.CREATE, "beta", None, INBOUND, key="k/beta"),
            a_write(Action.CREATE, "beta", None, INBOUND, key="k/beta"),
        ]
    )
    assert all(isinstance(r, Applied) for r in results)
    beta = rt.snapshot().campaigns["beta"]
    assert results == [
        Applied(campaign=first.campaign, revision=1, replayed=True),
        Applied(campaign=beta, revision=2),
        Applied(campaign=beta, revision=2, replayed=True),
    ]
    assert [(e.revision, e.campaign) for e in rt.history()] == [(1, "alpha"), (2, "beta")]


def test_an_empty_batch_changes_nothing(rt: Runtime) -> None:
    assert rt.apply_batch([]) == []
    assert state_of(rt) == (0, {}, 0)


# --- the simulator: campaigns made in a console -------------------------------------------------


def console_version(spec: Spec, actor: str, number: int = 1) -> Version:
    return Version(
        number=number,
        spec=spec,
        hash=spec_hash(spec),
        commit=None,
        file=None,
        actor=actor,
        applied_at=STAMP,
        origin="console",
    )


@pytest.mark.parametrize(
    ("spec", "live", "status"),
    [
        (RECURRING, False, Status.DRAFT),
        (RECURRING, True, Status.LIVE),
        (ONE_TIME_LATER, True, Status.SCHEDULED),
        (INBOUND, True, Status.LIVE),
    ],
    ids=["draft", "live", "scheduled", "inbound"],
)
def test_a_console_creation_is_unmanaged_and_of_console_origin(
    rt: Runtime, recorded: Callable[[str], str], spec: Spec, live: bool, status: Status
) -> None:
    made = simulator(rt).create("alpha", spec, live=live, actor="carol")
    version = console_version(spec, recorded("carol"))
    expected = Campaign(
        name="alpha",
        channel=Channel(spec["channel"]),
        kind=kind_of(spec),
        status=status,
        live=version if live else None,
        draft=None if live else version,
        etag="1",
        versions=1,
        managed=False,
        activated_at=ACTIVATED if live else None,
    )
    assert made == expected
    assert rt.snapshot().campaigns == {"alpha": expected}
    assert [(e.revision, e.actor, e.operation, e.plan_id, e.before) for e in rt.history()] == [
        (1, recorded("carol"), "activate" if live else "create", None, None)
    ]
    assert rt.history()[0].after == expected.to_json()


def test_a_console_creation_stopped_is_activated_then_stopped_in_one_transaction(
    rt: Runtime, recorded: Callable[[str], str]
) -> None:
    made = simulator(rt).create("alpha", RECURRING, live=True, actor="carol", stopped=True)
    assert (made.status, made.etag, made.managed) == (Status.STOPPED, "2", False)
    assert made.live == console_version(RECURRING, recorded("carol"))
    assert [(e.revision, e.actor, e.operation) for e in rt.history()] == [
        (1, recorded("carol"), "activate"),
        (2, recorded("carol"), "stop"),
    ]


def test_a_console_copy_is_a_copy_of_its_source(
    rt: Runtime, recorded: Callable[[str], str]
) -> None:
    write(rt, Action.ACTIVATE, "source", None, ONE_TIME)
    spec = subject(ONE_TIME, "Copy")
    made = simulator(rt).create(
        "alpha", spec, live=False, actor="carol", copied_from="source", copy_base=ONE_TIME
    )
    assert made == Campaign(
        name="alpha",
        channel=Channel.EMAIL,
        kind=Kind.ONE_TIME,
        status=Status.DRAFT,
        live=None,
        draft=console_version(spec, recorded("carol")),
        etag="2",
        versions=1,
        copied_from="source",
        copy_base=ONE_TIME,
        managed=False,
    )
    assert [(e.actor, e.operation) for e in rt.history()] == [
        ("alice", "activate"),
        (recorded("carol"), "copy"),
    ]


def test_a_console_creation_of_an_existing_name_is_refused_in_one_line(rt: Runtime) -> None:
    write(rt, Action.CREATE, "alpha", None, RECURRING)
    before = state_of(rt)
    with pytest.raises(RefusedError, match=r"^campaign 'alpha' already exists in the runtime$"):
        simulator(rt).create("alpha", RECURRING, live=True, actor="carol")
    assert state_of(rt) == before


def test_a_console_creation_that_cannot_be_stopped_makes_nothing(rt: Runtime) -> None:
    with pytest.raises(RefusedError, match="not allowed for a one-time campaign that is live"):
        simulator(rt).create("alpha", ONE_TIME, live=True, actor="carol", stopped=True)
    assert state_of(rt) == (0, {}, 0)


def test_the_reconciler_s_own_writes_make_managed_campaigns(rt: Runtime) -> None:
    assert write(rt, Action.CREATE, "alpha", None, RECURRING).campaign.managed is True


# --- adoption: a campaign made outside the reconciler ------------------------------------------


def test_an_adoption_takes_over_a_console_campaign_and_changes_nothing_else(
    rt: Runtime, recorded: Callable[[str], str]
) -> None:
    made = simulator(rt).create("alpha", RECURRING, live=True, actor="maria")
    assert not made.managed
    assert made.live is not None and made.live.origin == "console"
    adopted = write(rt, Action.ADOPT, "alpha", made.etag).campaign
    assert adopted == replace(made, managed=True, etag="2")
    assert [(e.operation, e.actor) for e in rt.history()] == [
        ("activate", recorded("maria")),
        ("adopt", "alice"),
    ]


def test_the_reconciler_does_not_write_to_a_campaign_it_does_not_manage(rt: Runtime) -> None:
    made = simulator(rt).create("alpha", RECURRING, live=True, actor="maria")
    before = state_of(rt)
    with pytest.raises(RefusedError) as caught:
        write(rt, Action.REPLACE, "alpha", made.etag, subject(RECURRING, "Two"))
    assert str(caught.value) == (
        "the runtime refuses to replace 'alpha': it is not managed by the reconciler; adopt it "
        "first"
    )
    assert state_of(rt) == before


def test_a_write_that_adopts_makes_its_change_and_takes_over(rt: Runtime) -> None:
    made = simulator(rt).create("alpha", RECURRING, live=True, actor="maria")
    changed = write(
        rt, Action.REPLACE, "alpha", made.etag, subject(RECURRING, "Two"), adopt=True
    ).campaign
    assert changed.managed
    assert changed.live is not None
    assert (changed.live.number, changed.live.spec) == (2, subject(RECURRING, "Two"))


def test_adopting_a_campaign_the_reconciler_manages_is_refused(rt: Runtime) -> None:
    write(rt, Action.ACTIVATE, "alpha", None, RECURRING)
    before = state_of(rt)
    with pytest.raises(RefusedError) as caught:
        write(rt, Action.ADOPT, "alpha", "1")
    assert str(caught.value) == (
        "the runtime refuses to adopt 'alpha': the reconciler manages it already"
    )
    assert state_of(rt) == before


@pytest.mark.parametrize("action", [Action.UPDATE, Action.REPLACE, Action.ACTIVATE])
def test_a_write_of_a_version_without_a_spec_is_refused(rt: Runtime, action: Action) -> None:
    write(rt, Action.CREATE, "alpha", None, RECURRING)
    before = state_of(rt)
    with pytest.raises(RefusedError) as caught:
        write(rt, action, "alpha", "1")
    assert str(caught.value) == (f"the runtime refuses to {action.value} 'alpha': it needs a spec")
    assert state_of(rt) == before


def test_an_adoption_carries_nothing_but_the_campaign(rt: Runtime) -> None:
    made = simulator(rt).create("alpha", RECURRING, live=False, actor="maria")
    before = state_of(rt)
    with pytest.raises(RefusedError) as caught:
        write(rt, Action.ADOPT, "alpha", made.etag, INBOUND)
    assert str(caught.value) == (
        "the runtime refuses to adopt 'alpha': an adoption writes nothing but the management"
    )
    assert state_of(rt) == before
