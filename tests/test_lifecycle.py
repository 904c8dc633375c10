"""The lifecycle table: exhaustively inside the law, and row by row as the design states it."""

from __future__ import annotations

import itertools

import pytest

from reconciler import lifecycle
from reconciler.lifecycle import Action, Change, Decision, Situation, decide
from reconciler.model import (
    Campaign,
    Channel,
    DesiredState,
    Kind,
    Run,
    Status,
    Version,
    allowed,
)

STATUS_OF = {
    Situation.DRAFT: Status.DRAFT,
    Situation.ACTIVE: Status.LIVE,
    Situation.STOPPING: Status.STOPPING,
    Situation.STOPPED: Status.STOPPED,
    Situation.COMPLETED: Status.COMPLETED,
}


def version(number: int, digest: str) -> Version:
    return Version(number, {}, digest, None, None, "t", "2026-01-01T00:00:00Z")


def campaign(situation: Situation, kind: Kind, change: Change) -> tuple[Campaign | None, str]:
    """A campaign in ``situation`` and the desired hash that relates to it as ``change`` says."""
    if situation is Situation.ABSENT:
        return None, "h-new"
    status = STATUS_OF[situation]
    channel = Channel.IN_APP if kind is Kind.INBOUND else Channel.EMAIL
    if status is Status.DRAFT:
        draft, live = version(1, "h1"), None
        desired = {Change.NONE: "h1"}.get(change, "h-new")
    else:
        live = version(1, "h1")
        draft = version(2, "h2") if change in (Change.DISCARDABLE, Change.STAGED) else None
        desired = {Change.NONE: "h1", Change.DISCARDABLE: "h1", Change.STAGED: "h2"}.get(
            change, "h-new"
        )
    return Campaign("c", channel, kind, status, live, draft, "e", 2), desired


EVERY_CASE = [
    (situation, kind, state, run, change)
    for situation, kind, state, run, change in itertools.product(
        Situation, Kind, DesiredState, Run, Change
    )
    # a campaign that was never live has no staged draft beside a live version
    if not (
        situation in (Situation.ABSENT, Situation.DRAFT)
        and change in (Change.DISCARDABLE, Change.STAGED)
    )
]


@pytest.mark.parametrize(("situation", "kind", "state", "run", "change"), EVERY_CASE)
def test_every_decision_is_one_the_lifecycle_allows(
    situation: Situation, kind: Kind, state: DesiredState, run: Run, change: Change
) -> None:
    for copy in (False, True):
        before, desired = campaign(situation, kind, change)
        decision = decide(before, kind=kind, state=state, run=run, desired_hash=desired, copy=copy)
        assert (decision.action is None) or (decision.refusal is None)
        if decision.action is not None:
            assert allowed(decision.action, before.status if before else None, kind), decision


def d(
    action: Action | None = None, refusal: str | None = None, warning: str | None = None
) -> Decision:
    return Decision(action, refusal, warning)


S, K, D, R, C = Situation, Kind, DesiredState, Run, Change
ROWS = [
    # situation, kind, state, run, change, expected
    (S.ABSENT, K.ONE_TIME, D.DRAFT, R.RUNNING, C.NEW, d(Action.CREATE)),
    (S.ABSENT, K.RECURRING, D.LIVE, R.RUNNING, C.NEW, d(Action.ACTIVATE)),
    (S.ABSENT, K.INBOUND, D.LIVE, R.STOPPED, C.NEW, d(refusal=lifecycle.NEW_STOPPED)),
    (S.DRAFT, K.ONE_TIME, D.DRAFT, R.RUNNING, C.NONE, d()),
    (S.DRAFT, K.ONE_TIME, D.DRAFT, R.RUNNING, C.NEW, d(Action.UPDATE)),
    (S.DRAFT, K.ONE_TIME, D.LIVE, R.RUNNING, C.NONE, d(Action.ACTIVATE)),
    (S.DRAFT, K.RECURRING, D.LIVE, R.STOPPED, C.NONE, d(refusal=lifecycle.NEVER_LIVE_STOPPED)),
    (S.ACTIVE, K.ONE_TIME, D.LIVE, R.RUNNING, C.NONE, d()),
    (S.ACTIVE, K.ONE_TIME, D.LIVE, R.RUNNING, C.NEW, d(refusal=lifecycle.ONE_TIME_MODIFY)),
    (S.ACTIVE, K.ONE_TIME, D.LIVE, R.STOPPED, C.NONE, d(refusal=lifecycle.ONE_TIME_STOP)),
    (S.ACTIVE, K.ONE_TIME, D.DRAFT, R.RUNNING, C.NONE, d(warning=lifecycle.BACK_TO_DRAFT)),
    (S.ACTIVE, K.RECURRING, D.LIVE, R.RUNNING, C.NEW, d(Action.REPLACE)),
    (S.ACTIVE, K.INBOUND, D.LIVE, R.RUNNING, C.STAGED, d(Action.REPLACE)),
    (S.ACTIVE, K.RECURRING, D.LIVE, R.RUNNING, C.DISCARDABLE, d(Action.DISCARD)),
    (S.ACTIVE, K.RECURRING, D.DRAFT, R.RUNNING, C.NEW, d(Action.UPDATE)),
    (S.ACTIVE, K.RECURRING, D.DRAFT, R.RUNNING, C.STAGED, d()),
    (S.ACTIVE, K.RECURRING, D.DRAFT, R.RUNNING, C.NONE, d(warning=lifecycle.BACK_TO_DRAFT)),
    (S.ACTIVE, K.RECURRING, D.LIVE, R.STOPPED, C.NONE, d(Action.STOP)),
    (
        S.ACTIVE, K.INBOUND, D.LIVE, R.STOPPED, C.NEW,
        d(Action.STOP, warning=lifecycle.STOP_DROPS_CHANGE),
    ),
    (S.STOPPING, K.RECURRING, D.LIVE, R.STOPPED, C.NONE, d()),
    (S.STOPPING, K.RECURRING, D.LIVE, R.RUNNING, C.NONE, d(refusal=lifecycle.RESTART)),
    (S.STOPPED, K.RECURRING, D.LIVE, R.RUNNING, C.NONE, d(refusal=lifecycle.RESTART)),
    (S.STOPPED, K.RECURRING, D.LIVE, R.STOPPED, C.NEW, d(warning=lifecycle.FROZEN_OUTBOUND)),
    (S.STOPPED, K.INBOUND, D.LIVE, R.RUNNING, C.NONE, d(Action.RESUME)),
    (S.STOPPED, K.INBOUND, D.LIVE, R.RUNNING, C.NEW, d(Action.RESUME)),
    (S.STOPPED, K.INBOUND, D.LIVE, R.STOPPED, C.NEW, d(warning=lifecycle.FROZEN_INBOUND)),
    (S.COMPLETED, K.ONE_TIME, D.LIVE, R.RUNNING, C.NONE, d()),
    (S.COMPLETED, K.RECURRING, D.LIVE, R.RUNNING, C.NEW, d(refusal=lifecycle.COMPLETED_MODIFY)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("situation", "kind", "state", "run", "change", "expected"),
    ROWS,
    ids=[f"{r[0]}-{r[1]}-{r[2]}-{r[3]}-{r[4]}" for r in ROWS],
)
def test_rows(
    situation: Situation, kind: Kind, state: DesiredState, run: Run, change: Change,
    expected: Decision,
) -> None:  # fmt: skip
    before, desired = campaign(situation, kind, change)
    assert decide(before, kind=kind, state=state, run=run, desired_hash=desired) == expected


def test_copy_of_an_absent_campaign() -> None:
    assert decide(
        None, kind=Kind.ONE_TIME, state=D.DRAFT, run=R.RUNNING, desired_hash="h", copy=True
    ) == d(Action.COPY)


def test_every_refusal_says_what_to_do_instead() -> None:
    refusals = {r.outcome for r in lifecycle.RULES if isinstance(r.outcome, str)} - set(Action)
    assert refusals
    for message in refusals:
        assert ";" in message, message  # why; what to do instead
