"""The campaign lifecycle: which operation closes the gap between a campaign and its manifest.

The rules are data (``RULES``, read top to bottom, first match wins) and one pure function
(:func:`decide`). They are a policy inside the law: ``model.ALLOWED`` says which operation may
ever be applied in which status; the runtime enforces it, and the property tests check that no
plan ever contains anything else.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from reconciler.model import Action, Campaign, DesiredState, Kind, Run, Status

__all__ = ["Action", "Change", "Decision", "Situation", "decide"]


class Situation(enum.StrEnum):
    """Where a campaign stands, as far as the lifecycle cares."""

    ABSENT = "absent"  # not in the runtime
    DRAFT = "draft"  # in the runtime, never activated
    ACTIVE = "active"  # activated and running: live or scheduled
    STOPPING = "stopping"
    STOPPED = "stopped"
    COMPLETED = "completed"


class Change(enum.StrEnum):
    """How the manifest's spec relates to the versions the runtime holds."""

    NONE = "none"  # equal to the current version, nothing staged
    DISCARDABLE = "discardable"  # equal to the live version, but a draft version is staged
    STAGED = "staged"  # equal to the staged draft version, which differs from the live one
    NEW = "new"  # equal to neither


_SITUATIONS = {
    Status.DRAFT: Situation.DRAFT,
    Status.SCHEDULED: Situation.ACTIVE,
    Status.LIVE: Situation.ACTIVE,
    Status.STOPPING: Situation.STOPPING,
    Status.STOPPED: Situation.STOPPED,
    Status.COMPLETED: Situation.COMPLETED,
}


def situation_of(campaign: Campaign | None) -> Situation:
    if campaign is None:
        return Situation.ABSENT
    return _SITUATIONS[campaign.status]


def change_of(campaign: Campaign | None, desired_hash: str) -> Change:
    if campaign is None:
        return Change.NEW
    current = campaign.live or campaign.draft
    staged = campaign.draft if campaign.live else None
    if current is not None and current.hash == desired_hash:
        return Change.DISCARDABLE if staged is not None else Change.NONE
    if staged is not None and staged.hash == desired_hash:
        return Change.STAGED
    return Change.NEW


# --- messages: each says why, and what to do instead --------------------------------------------

NEW_STOPPED = (
    "a new campaign cannot start stopped; set run: running (or remove run), "
    "and stop it once it is live"
)
NEVER_LIVE_STOPPED = (
    "a campaign that has never been live cannot be stopped; set run: running, or leave it in draft"
)
ONE_TIME_STOP = (
    "only recurring and inbound campaigns can be stopped; a one-time campaign runs to completion"
)
ONE_TIME_MODIFY = "one-time campaigns cannot be modified once live; duplicate it with copyFrom"
RESTART = "a stopped campaign cannot be restarted; duplicate it with copyFrom"
COMPLETED_MODIFY = "a completed campaign cannot be changed; duplicate it with copyFrom"

BACK_TO_DRAFT = (
    "the manifest says draft, but a campaign that has been live never goes back to draft; "
    "the live version is kept (set state: live to silence this)"
)
STOP_DROPS_CHANGE = "the campaign is being stopped; its spec change is not applied"
FROZEN_OUTBOUND = (
    "a stopped outbound campaign cannot be modified; its spec change is not applied "
    "(duplicate it with copyFrom to send the new version)"
)
FROZEN_INBOUND = (
    "the campaign is stopped; its spec change is applied when it resumes (run: running)"
)


@dataclass(frozen=True)
class Rule:
    """One row of the transition table. ``None`` in a field matches anything."""

    situation: Situation
    outcome: Action | str | None  # an action, a refusal message, or None for "no change"
    kind: Kind | None = None
    state: DesiredState | None = None
    run: Run | None = None
    change: frozenset[Change] | None = None
    copy: bool | None = None
    warning: str | None = None

    def matches(
        self,
        situation: Situation,
        kind: Kind,
        state: DesiredState,
        run: Run,
        change: Change,
        copy: bool,
    ) -> bool:
        return (
            self.situation is situation
            and self.kind in (None, kind)
            and self.state in (None, state)
            and self.run in (None, run)
            and (self.change is None or change in self.change)
            and self.copy in (None, copy)
        )


DIFFERS_FROM_LIVE = frozenset({Change.STAGED, Change.NEW})
LIVE_SPEC_RULES: tuple[tuple[DesiredState, frozenset[Change], Action | None, str | None], ...] = (
    # state, change, outcome, warning: what a running recurring or inbound campaign does
    (DesiredState.LIVE, frozenset({Change.NONE}), None, None),
    (DesiredState.LIVE, frozenset({Change.DISCARDABLE}), Action.DISCARD, None),
    (DesiredState.LIVE, DIFFERS_FROM_LIVE, Action.REPLACE, None),
    (DesiredState.DRAFT, frozenset({Change.NONE}), None, BACK_TO_DRAFT),
    (DesiredState.DRAFT, frozenset({Change.DISCARDABLE}), Action.DISCARD, None),
    (DesiredState.DRAFT, frozenset({Change.STAGED}), None, None),
    (DesiredState.DRAFT, frozenset({Change.NEW}), Action.UPDATE, None),
)

RULES: tuple[Rule, ...] = (
    # not in the runtime yet
    Rule(Situation.ABSENT, NEW_STOPPED, run=Run.STOPPED),
    Rule(Situation.ABSENT, Action.COPY, copy=True),
    Rule(Situation.ABSENT, Action.CREATE, state=DesiredState.DRAFT),
    Rule(Situation.ABSENT, Action.ACTIVATE, state=DesiredState.LIVE),
    # a draft that was never activated
    Rule(Situation.DRAFT, NEVER_LIVE_STOPPED, run=Run.STOPPED),
    Rule(Situation.DRAFT, Action.ACTIVATE, state=DesiredState.LIVE),
    Rule(Situation.DRAFT, None, state=DesiredState.DRAFT, change=frozenset({Change.NONE})),
    Rule(Situation.DRAFT, Action.UPDATE, state=DesiredState.DRAFT),
    # completed: nothing more can happen to it
    Rule(Situation.COMPLETED, COMPLETED_MODIFY, change=DIFFERS_FROM_LIVE),
    Rule(Situation.COMPLETED, None),
    # live or scheduled, one-time: it runs as it is
    Rule(Situation.ACTIVE, ONE_TIME_STOP, kind=Kind.ONE_TIME, run=Run.STOPPED),
    Rule(Situation.ACTIVE, ONE_TIME_MODIFY, kind=Kind.ONE_TIME, change=DIFFERS_FROM_LIVE),
    Rule(
        Situation.ACTIVE, None, kind=Kind.ONE_TIME, state=DesiredState.DRAFT, warning=BACK_TO_DRAFT
    ),
    Rule(Situation.ACTIVE, None, kind=Kind.ONE_TIME),
    # live or scheduled, recurring or inbound: stop, or stage, replace and discard versions
    Rule(
        Situation.ACTIVE,
        Action.STOP,
        run=Run.STOPPED,
        change=DIFFERS_FROM_LIVE,
        warning=STOP_DROPS_CHANGE,
    ),
    Rule(Situation.ACTIVE, Action.STOP, run=Run.STOPPED),
    *(
        Rule(Situation.ACTIVE, out, state=st, change=ch, warning=w)
        for st, ch, out, w in LIVE_SPEC_RULES
    ),
    # stopping or stopped: the spec is frozen; inbound campaigns resume, outbound ones are final
    Rule(Situation.STOPPED, Action.RESUME, kind=Kind.INBOUND, run=Run.RUNNING),
    Rule(Situation.STOPPED, RESTART, run=Run.RUNNING),
    Rule(Situation.STOPPING, RESTART, run=Run.RUNNING),
    Rule(
        Situation.STOPPED, None, kind=Kind.INBOUND, change=DIFFERS_FROM_LIVE, warning=FROZEN_INBOUND
    ),
    Rule(Situation.STOPPED, None, change=DIFFERS_FROM_LIVE, warning=FROZEN_OUTBOUND),
    Rule(Situation.STOPPING, None, change=DIFFERS_FROM_LIVE, warning=FROZEN_OUTBOUND),
    Rule(Situation.STOPPED, None),
    Rule(Situation.STOPPING, None),
)


@dataclass(frozen=True)
class Decision:
    action: Action | None = None
    refusal: str | None = None
    warning: str | None = None


def decide(
    campaign: Campaign | None,
    *,
    kind: Kind,
    state: DesiredState,
    run: Run,
    desired_hash: str,
    copy: bool = False,
) -> Decision:
    """The one operation (or refusal, or nothing) that brings ``campaign`` to its manifest."""
    return _decision(
        situation_of(campaign), kind, state, run, change_of(campaign, desired_hash), copy
    )


@functools.cache  # a few hundred possible inputs, asked for once per manifest
def _decision(
    situation: Situation, kind: Kind, state: DesiredState, run: Run, change: Change, copy: bool
) -> Decision:
    for rule in RULES:
        if rule.matches(situation, kind, state, run, change, copy):
            if isinstance(rule.outcome, str) and not isinstance(rule.outcome, Action):
                return Decision(refusal=rule.outcome)
            return Decision(action=rule.outcome, warning=rule.warning)
    raise AssertionError(f"no lifecycle rule for {situation}/{kind}/{state}/{run}/{change}")
