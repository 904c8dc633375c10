"""Apply a plan: under the runtime lock, guarded, idempotent operations, committed in batches.

Every operation carries the etag its campaign had when planned and an idempotency key made of the
plan id, the campaign and the action. The runtime commits a batch of operations in one transaction
(one commit, one fsync, instead of one per operation), and each operation of it is still checked
and refused on its own. A run killed at any instant leaves whole batches behind; the same saved
plan applied again replays the done ones (nothing is written twice) and does the rest, and a fresh
plan simply no longer contains what was done.
"""

from __future__ import annotations

import enum
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from reconciler.errors import (
    ForbiddenError,
    LockedError,
    PlanError,
    ReconcilerError,
    StalePlanError,
)
from reconciler.model import Action, RuntimeState
from reconciler.plan import Operation, Plan
from reconciler.runtime.base import Applied, LockOwner, Provenance, Runtime, Write, redacted
from reconciler.validation import validate_spec

HEARTBEAT_SECONDS = 60.0
# A batch holds at most BATCH_MAX operations and, at the pace of the batch before, about
# BATCH_SECONDS of work: a long apply still commits regularly, and answers ``stop`` and renews its
# lock between batches in good time. The first batch is small: the pace is not known yet.
BATCH_MAX = 500
BATCH_SECONDS = 0.5
BATCH_FIRST = 50


class Outcome(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class LedgerEntry:
    campaign: str
    action: Action
    outcome: Outcome
    message: str = ""
    replayed: bool = False  # done by an earlier run of this plan; nothing was written now


@dataclass(frozen=True)
class AppliedBefore:
    """When a saved plan was applied whole, and by whom: its last operation's history entry
    (None for both, should the history not have it)."""

    at: str | None
    actor: str | None


@dataclass(frozen=True)
class Ledger:
    """What an apply did: the plan it ran and, per operation, done, failed or skipped."""

    plan: Plan
    entries: tuple[LedgerEntry, ...] = ()
    #: a saved plan applied again after an earlier run did all of it (a retried CI job): nothing
    #: was done now, and nothing needed to be
    already_applied: AppliedBefore | None = None

    @property
    def ok(self) -> bool:
        return self.plan.ok and all(e.outcome is Outcome.DONE for e in self.entries)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for e in self.entries if e.outcome is outcome)


@contextmanager
def hold_lock(
    runtime: Runtime,
    owner: LockOwner,
    *,
    timeout: float = 0.0,
    poll: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[None]:
    """Hold the runtime's lock for the block, waiting up to ``timeout`` seconds for it."""
    deadline = clock() + timeout
    while (holder := runtime.acquire_lock(owner)) is not None:
        if clock() >= deadline:
            advice = (
                f"still locked after waiting {timeout:g}s"
                if timeout > 0
                else "try again, or wait for it with --lock-timeout SECONDS"
            )
            raise LockedError(
                f"the runtime is locked by {holder.describe()}; {advice}", holder.describe()
            )
        sleep(poll)
    try:
        yield
    finally:
        runtime.release_lock(owner)


def check_saved(plan: Plan, runtime: Runtime, state: RuntimeState) -> frozenset[str]:
    """Refuse a saved plan that no longer applies; return the keys of its operations already done.

    Staleness is judged per campaign, not per runtime: a plan applies while each campaign it
    writes (and each source it copies from) still has the etag it was planned against, whatever
    happened to the other campaigns meanwhile. Operations of this plan already done (an earlier
    run was interrupted) are skipped by their idempotency keys; when all are, the caller reports
    the plan as applied before (:func:`applied_before`).
    """
    for op in plan.operations:
        problems = validate_spec(op.spec) if op.spec is not None else []
        if problems:
            raise PlanError(
                f"the saved plan's spec for {op.campaign} is not valid ({problems[0]}); "
                "nothing was applied. Plan again"
            )
    if plan.errors:
        raise StalePlanError(
            "the saved plan has errors, so nothing of it can be applied; fix them and plan again"
        )
    _check_runtime(plan, runtime, state)
    done = runtime.applied_keys(plan.plan_id + "/")
    todo = [op for op in plan.operations if op.key(plan.plan_id) not in done]
    moved = [
        *(op.campaign for op in todo if _etag(state, op.campaign) != op.etag),
        *(
            f"{op.copied_from} (the source of {op.campaign})"
            for op in todo
            if op.source_etag is not None and _etag(state, op.copied_from) != op.source_etag
        ),
    ]
    if moved:
        raise StalePlanError(
            "campaigns of this plan changed since it was made: "
            + ", ".join(moved)
            + "; nothing was applied. Plan again"
        )
    return done


def _check_runtime(plan: Plan, runtime: Runtime, state: RuntimeState) -> None:
    """The plan was made for this runtime: by its stored identity, never by its URL (a reading
    and a writing credential name one runtime by two URLs, and a plan's URL is not to be trusted).

    A plan made while its runtime did not exist yet has no identity to compare: it applies while
    the runtime holds nothing but what this plan itself wrote (an earlier, interrupted run).
    """
    here = redacted(runtime.url)
    if plan.runtime_id is None:
        if state.revision == 0 or all(e.plan_id == plan.plan_id for e in runtime.history()):
            return
        raise StalePlanError(
            f"the saved plan was made for {_recorded(plan.runtime)} while that runtime did not "
            f"exist yet, and the runtime here ({here}) has been written to since (revision "
            f"{state.revision}); nothing was applied. Plan again"
        )
    current_id = runtime.runtime_id()
    if current_id != plan.runtime_id:
        this = f"id {current_id}" if current_id is not None else "which does not exist yet"
        raise StalePlanError(
            f"the saved plan was made for another runtime, {_recorded(plan.runtime)} (id "
            f"{_shown(plan.runtime_id)}), not for {here} ({this}); nothing was applied. Apply it "
            "with --runtime naming the runtime it was made for, or plan again"
        )


def _recorded(url: str) -> str:
    """The runtime URL a plan records, for a message: it is shown, never connected to."""
    return _shown(redacted(url))


def _shown(text: str) -> str:
    """Text read from a saved plan, fit for a one-line message whoever wrote it."""
    return text if text.isprintable() and len(text) <= 200 else repr(text[:200])


def applied_before(plan: Plan, runtime: Runtime) -> AppliedBefore:
    """When and by whom the last operation of ``plan`` was applied: the plan's last write."""
    last = plan.operations[-1].campaign if plan.operations else None
    entries = [e for e in runtime.history(last) if e.plan_id == plan.plan_id] if last else []
    return (
        AppliedBefore(entries[-1].at, entries[-1].actor) if entries else AppliedBefore(None, None)
    )


def _etag(state: RuntimeState, name: str | None) -> str | None:
    campaign = state.get(name) if name is not None else None
    return campaign.etag if campaign is not None else None


def execute(
    runtime: Runtime,
    plan: Plan,
    provenance: Provenance,
    *,
    owner: LockOwner,
    keep_going: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> Ledger:
    """Apply ``plan`` in batches, one transaction each. The caller holds the lock as ``owner``.

    The ledger is the one that applying operation by operation gives: an operation is done once
    its batch has committed; a failed one ends its batch, and the run stops or, with
    ``keep_going``, goes on with the next batch, skipping what depends on the failure. ``stop`` is
    asked before each batch: once it says so (a shutdown signal), the batch in flight has
    committed and the rest are skipped, to be planned again by the next run.
    """
    ops = plan.operations
    entries: list[LedgerEntry] = []
    broken: dict[str, str] = {}  # campaign -> why it did not happen
    heartbeat = time.monotonic()
    size = BATCH_FIRST
    while len(entries) < len(ops):
        at = len(entries)
        if stop():
            entries += [_skipped(op, "not attempted: stopping") for op in ops[at:]]
            break
        if broken and not keep_going:
            entries += [
                _skipped(op, "not attempted: an earlier operation failed") for op in ops[at:]
            ]
            break
        blocked_by = next((d for d in ops[at].depends_on if d in broken), None)
        if blocked_by is not None:
            entries.append(
                _skipped(ops[at], f"depends on {blocked_by}, which {broken[blocked_by]}")
            )
            broken[ops[at].campaign] = "was skipped"
            continue
        if time.monotonic() - heartbeat > HEARTBEAT_SECONDS:
            _renew(runtime, owner)
            heartbeat = time.monotonic()
        # a batch ends before an operation that depends on one that did not happen: the top of
        # the loop skips it. One that depends on an operation of the batch may come along: were
        # that one to fail, the batch would end there.
        batch = list(
            itertools.takewhile(
                lambda op: not any(d in broken for d in op.depends_on), ops[at : at + size]
            )
        )
        writes = [_write(op, plan, provenance, owner) for op in batch]
        started = time.monotonic()
        try:
            results = runtime.apply_batch(writes)
        except ForbiddenError:
            raise  # this credential may not: no operation would fare better, so none is tried
        except ReconcilerError as exc:
            if len(batch) > 1:  # rolled back whole: again one by one, to find the one that fails
                size = 1
                continue
            results = [exc]
        for op, result in zip(batch, results, strict=False):  # shorter when one failed
            entries.append(_entry(op, result))
            if isinstance(result, ReconcilerError):
                broken[op.campaign] = "failed"
        size = _next_size(size, len(results), time.monotonic() - started)
    return Ledger(plan=plan, entries=tuple(entries))


def _next_size(size: int, done: int, seconds: float) -> int:
    """About BATCH_SECONDS of work at the pace of the last batch, growing at most fourfold."""
    fits = int(BATCH_SECONDS * done / seconds) if seconds > 0 else BATCH_MAX
    return max(1, min(BATCH_MAX, 4 * size, fits))


def _renew(runtime: Runtime, owner: LockOwner) -> None:
    holder = runtime.acquire_lock(owner)
    if holder is not None:
        raise LockedError(f"the runtime lock was lost to {holder.describe()}; stopping")


def _entry(op: Operation, result: Applied | ReconcilerError) -> LedgerEntry:
    if isinstance(result, ReconcilerError):
        return LedgerEntry(op.campaign, op.action, Outcome.FAILED, str(result))
    return LedgerEntry(op.campaign, op.action, Outcome.DONE, replayed=result.replayed)


def _skipped(op: Operation, why: str) -> LedgerEntry:
    return LedgerEntry(op.campaign, op.action, Outcome.SKIPPED, why)


def _write(
    op: Operation, plan: Plan, provenance: Provenance, owner: LockOwner | None = None
) -> Write:
    return Write(
        key=op.key(plan.plan_id),
        action=op.action,
        campaign=op.campaign,
        expected_etag=op.etag,
        provenance=provenance,
        plan_id=plan.plan_id,
        file=op.file,
        spec=op.spec,
        copied_from=op.copied_from,
        copy_base=op.copy_base,
        activate=op.activate,
        lock_owner=owner.owner if owner is not None else None,
        adopt=op.adopt,
        base_hash=op.base_hash,
        title=op.title,
        labels=dict(op.labels) if op.labels else None,
    )
