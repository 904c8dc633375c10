"""The library's entry points: one call per command. Nothing here prints; callers render."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reconciler import executor, manifests, planner
from reconciler.errors import PlanError, Severity
from reconciler.executor import Ledger
from reconciler.model import Campaign
from reconciler.plan import Plan, loads
from reconciler.runtime.base import (
    HistoryEntry,
    LockOwner,
    Provenance,
    Runtime,
    current_user,
    open_runtime,
)


@dataclass(frozen=True)
class Options:
    """What every runtime-reading command shares."""

    runtime_url: str | None = None
    actor: str | None = None


def validate(path: str | os.PathLike[str]) -> manifests.LoadResult:
    return manifests.load(path)


@dataclass(frozen=True)
class _Desired:
    """The manifests as read, and whether they are the whole repository or one file of it."""

    loaded: manifests.LoadResult
    whole: bool
    prune: bool
    commit: str | None


def _read(path: str | os.PathLike[str], prune: bool) -> _Desired:
    loaded = manifests.load(path)
    whole = not Path(path).is_file()
    if prune and not whole:
        raise PlanError(
            f"--prune needs the whole manifest directory: {os.fspath(path)} is one file, and "
            "every campaign outside it would look removed"
        )
    if prune and loaded.ok and not loaded.manifests:
        raise PlanError(
            f"--prune refused: there are no manifests under {os.fspath(path)}, so every campaign "
            "would be stopped; check the path"
        )
    return _Desired(loaded, whole, prune, git_commit(Path(path)))


def plan(path: str | os.PathLike[str], options: Options, *, prune: bool = False) -> Plan:
    """A dry run: read the manifests and the runtime, and work out the operations."""
    desired = _read(path, prune)
    runtime = open_runtime(options.runtime_url)
    try:
        return _plan(desired, runtime)
    finally:
        runtime.close()


def _plan(desired: _Desired, runtime: Runtime) -> Plan:
    loaded, commit = desired.loaded, desired.commit
    state = runtime.snapshot()
    if not loaded.ok:
        # An invalid repository plans nothing: a campaign in a broken file would look removed.
        return Plan(
            runtime=runtime.url,
            runtime_id=runtime.runtime_id(),
            runtime_revision=state.revision,
            commit=commit,
            errors=tuple(d for d in loaded.diagnostics if d.severity is Severity.ERROR),
            warnings=tuple(d for d in loaded.diagnostics if d.severity is Severity.WARNING),
        )
    return planner.plan(
        loaded.manifests,
        state,
        prune=desired.prune,
        orphans=desired.whole,
        runtime=runtime.url,
        runtime_id=runtime.runtime_id(),
        commit=commit,
    )


def apply(
    path: str | os.PathLike[str],
    options: Options,
    *,
    prune: bool = False,
    keep_going: bool = False,
    lock_timeout: float = 0.0,
) -> Ledger:
    """Plan and apply under the runtime lock. A plan with errors applies nothing."""
    desired = _read(path, prune)
    return _apply_locked(
        options.runtime_url,
        f"apply {os.fspath(path)}",
        lambda runtime: _plan(desired, runtime),
        options,
        keep_going=keep_going,
        lock_timeout=lock_timeout,
    )


def apply_saved(
    plan_file: str | os.PathLike[str],
    options: Options,
    *,
    keep_going: bool = False,
    lock_timeout: float = 0.0,
) -> Ledger:
    """Apply a saved plan exactly as reviewed, or refuse it whole when the runtime moved."""
    the_plan = load_plan(plan_file)

    def checked(runtime: Runtime) -> Plan:
        executor.check_saved(the_plan, runtime, runtime.snapshot())
        return the_plan

    return _apply_locked(
        options.runtime_url or the_plan.runtime or None,
        f"apply --plan {os.fspath(plan_file)}",
        checked,
        options,
        keep_going=keep_going,
        lock_timeout=lock_timeout,
    )


def _apply_locked(
    url: str | None,
    reason: str,
    plan_for: Callable[[Runtime], Plan],
    options: Options,
    *,
    keep_going: bool,
    lock_timeout: float,
) -> Ledger:
    """Take the lock, then plan (or check a saved plan) and apply: never on a stale reading."""
    runtime = open_runtime(url)
    owner = LockOwner.current(reason)
    try:
        with executor.hold_lock(runtime, owner, timeout=lock_timeout):
            the_plan = plan_for(runtime)
            if not the_plan.ok:
                return Ledger(plan=the_plan)
            return executor.execute(
                runtime,
                the_plan,
                provenance(options, the_plan.commit),
                owner=owner,
                keep_going=keep_going,
            )
    finally:
        runtime.close()


def save_plan(the_plan: Plan, plan_file: str | os.PathLike[str]) -> None:
    """Write the plan whole or not at all: a reader never sees half a plan."""
    target = Path(plan_file)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(the_plan.dumps(), encoding="utf-8")
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise PlanError(f"cannot save the plan to {os.fspath(plan_file)}: {exc.strerror}") from exc


def load_plan(plan_file: str | os.PathLike[str]) -> Plan:
    try:
        text = Path(plan_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read plan {os.fspath(plan_file)}: {exc}") from exc
    return loads(text, os.fspath(plan_file))


def status(options: Options, name: str | None = None) -> list[Campaign]:
    runtime = open_runtime(options.runtime_url)
    try:
        campaigns = runtime.snapshot().campaigns
    finally:
        runtime.close()
    return [c for n, c in sorted(campaigns.items()) if name in (None, n)]


def history(options: Options, name: str | None = None) -> list[HistoryEntry]:
    runtime = open_runtime(options.runtime_url)
    try:
        return runtime.history(name)
    finally:
        runtime.close()


def provenance(options: Options, commit: str | None) -> Provenance:
    actor = (
        options.actor
        or os.environ.get("RECONCILER_ACTOR")
        or os.environ.get("GITHUB_ACTOR")
        or current_user()
    )
    return Provenance(actor=actor, commit=commit)


def git_commit(where: Path) -> str | None:
    """The commit checked out where the manifests live, if they are in a git work tree."""
    folder = where if where.is_dir() else where.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
