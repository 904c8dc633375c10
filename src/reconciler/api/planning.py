"""Plan and apply: the manifests read, planned against the runtime and judged by the policies,
then applied under the runtime lock."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from reconciler import (
    environments,
    executor,
    manifests,
    planner,
    policies,
    project,
    promotion,
)
from reconciler.api.options import Options, _load
from reconciler.api.policy import (
    Judged,
    ProjectSource,
    _in_environment,
    read_policies,
    read_project,
)
from reconciler.errors import (
    Diagnostic,
    PlanError,
    ReconcilerError,
    Severity,
)
from reconciler.executor import Ledger
from reconciler.model import (
    Manifest,
)
from reconciler.plan import Plan
from reconciler.project import Project
from reconciler.provenance import actor, git_state
from reconciler.runtime.base import (
    LockOwner,
    Provenance,
    Runtime,
    redacted,
)


def validate(
    path: str | os.PathLike[str],
    policy_source: ProjectSource | None = None,
    now: datetime | None = None,
) -> manifests.LoadResult:
    """The manifests checked, with the project file and the policies that need no runtime
    (required labels; quiet hours, from ``now``)."""
    loaded = _load(path, None)
    judged = read_policies(policy_source or ProjectSource(), path)
    found = list(judged.project.diagnostics)
    if judged.project.ok and loaded.ok:
        found += sorted(  # by place, as a plan lists them, not by kind of policy
            policies.static(loaded.manifests, now or datetime.now(UTC), judged.policies),
            key=planner.diagnostic_order,
        )
    if not found:
        return loaded
    return replace(loaded, diagnostics=(*loaded.diagnostics, *found))


@dataclass(frozen=True)
class _Desired:
    """The manifests as read, where they come from, and what of them to plan."""

    loaded: manifests.LoadResult
    whole: bool  # the whole repository, not one file of it: only then can orphans be told
    prune: bool
    targets: tuple[str, ...]
    commit: str | None
    dirty: bool
    changed: tuple[str, ...] = ()  # the files that make it dirty
    path: str = ""  # where the manifests were read, as given
    judged: Judged = Judged(Project(), project.NONE)  # noqa: RUF009 (frozen: safe to share)


def _read(
    path: str | os.PathLike[str],
    prune: bool,
    targets: Sequence[str],
    cache: manifests.Cache | None = None,
    policy_source: ProjectSource | None = None,
    target: environments.Target | None = None,
) -> _Desired:
    judged = read_policies(policy_source or ProjectSource(), path)
    loaded = _load(path, cache)
    if target is not None and loaded.ok:
        loaded = _in_environment(loaded, judged.project, target)
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
    git = git_state(Path(path))
    return _Desired(
        loaded,
        whole,
        prune,
        tuple(targets),
        git.commit,
        git.dirty,
        git.changed,
        os.fspath(path),
        judged,
    )


def plan(
    path: str | os.PathLike[str],
    options: Options,
    *,
    prune: bool = False,
    targets: Sequence[str] = (),
    cache: manifests.Cache | None = None,
    policy_source: ProjectSource | None = None,
) -> Plan:
    """A dry run: read the manifests and the runtime, and work out the operations, judged by the
    policies."""
    desired = _read(path, prune, targets, cache, policy_source, options.target)
    with options.open() as runtime:
        return _plan(desired, runtime, options)


def plan_all(
    path: str | os.PathLike[str],
    options: Options,
    *,
    prune: bool = False,
    targets: Sequence[str] = (),
    policy_source: ProjectSource | None = None,
) -> dict[str, Plan | str]:
    """A plan for every environment of the project file (``plan --all-envs``), in the file's
    order, each with its runtime and overlay: a reviewer sees staging and production at once.
    An environment that cannot be planned (its variable unset, its runtime unreachable) gets
    the one-line reason instead of a plan, and the others are planned all the same."""
    source = policy_source or ProjectSource()
    found = read_project(source, path)
    if not found.ok:
        raise PlanError(f"--all-envs: {found.diagnostics[0]}")
    if found.file is None:
        raise PlanError("--all-envs: there is no project file (reconciler.yaml) to define them")
    if not found.environments:
        raise PlanError(f"--all-envs: {found.file} defines no environments")
    plans: dict[str, Plan | str] = {}
    for name in found.environments:
        try:
            target = environments.resolve(found, name)
            aimed = replace(options, runtime_url=target.runtime_url, target=target)
            plans[name] = plan(path, aimed, prune=prune, targets=targets, policy_source=source)
        except ReconcilerError as exc:
            plans[name] = str(exc)
    return plans


def _plan(desired: _Desired, runtime: Runtime, options: Options) -> Plan:
    loaded, judged, now = desired.loaded, desired.judged, options.clock()
    state = runtime.snapshot()
    if not loaded.ok or not judged.project.ok:
        # An invalid repository plans nothing: a campaign in a broken file would look removed.
        found = (*loaded.diagnostics, *judged.project.diagnostics)
        return Plan(
            runtime=redacted(runtime.url),
            runtime_id=runtime.runtime_id(),
            runtime_revision=state.revision,
            commit=desired.commit,
            dirty=desired.dirty,
            errors=tuple(d for d in found if d.severity is Severity.ERROR),
            warnings=tuple(d for d in found if d.severity is Severity.WARNING),
        )
    planned = planner.plan(
        loaded.manifests,
        state,
        prune=desired.prune,
        orphans=desired.whole,
        targets=desired.targets,
        now=now,
    )
    planned = policies.check(planned, loaded.manifests, state, now, judged.policies)
    target = options.target
    if target is not None and target.promotion_from is not None:
        planned = _promoted(planned, loaded.manifests, judged.project, target, options)
    runtime_id = runtime.runtime_id()
    return replace(
        planned,
        runtime=redacted(runtime.url),
        runtime_id=runtime_id,
        commit=desired.commit,
        dirty=desired.dirty,
        warnings=(*_surprises(desired, runtime, runtime_id), *planned.warnings),
        policy_changes=judged.changes,
        policy_file=judged.project.file if judged.changes else None,
    )


def _promoted(
    planned: Plan,
    loaded: Sequence[Manifest],
    found: Project,
    target: environments.Target,
    options: Options,
) -> Plan:
    """``planned`` for ``target``, with what goes live there refused unless it was live in the
    environment it is promoted from (whose runtime is only read)."""
    if not any(promotion.goes_live(op) for op in planned.operations):
        return planned  # nothing to ask the source about: it is not even opened
    assert target.promotion_from is not None
    source = environments.resolve(found, target.promotion_from)
    with replace(options, runtime_url=source.runtime_url, target=source).open() as runtime:
        by_name = {m.name: m for m in loaded}
        return promotion.check(planned, by_name, target.name, source.name, runtime)


def _surprises(desired: _Desired, runtime: Runtime, runtime_id: str | None) -> list[Diagnostic]:
    """What an empty input makes of a plan, said: a mistyped path plans nothing at all, a
    mistyped runtime URL plans everything as new."""
    found = []
    if desired.whole and not desired.loaded.manifests and not desired.loaded.diagnostics:
        where = desired.path.rstrip("/") + "/"
        found.append(Diagnostic(f"no manifests under {where}", severity=Severity.WARNING))
    if runtime_id is None:
        found.append(
            Diagnostic(
                f"runtime {redacted(runtime.url)} does not exist yet: planning against an empty "
                "runtime",
                severity=Severity.WARNING,
            )
        )
    return found


def apply(
    path: str | os.PathLike[str],
    options: Options,
    *,
    prune: bool = False,
    targets: Sequence[str] = (),
    keep_going: bool = False,
    lock_timeout: float = 0.0,
    require_clean: bool = False,
    cache: manifests.Cache | None = None,
    stop: Callable[[], bool] = lambda: False,
    policy_source: ProjectSource | None = None,
) -> Ledger:
    """Plan and apply under the runtime lock, judged by the policies as of then. A plan with
    errors applies nothing."""
    desired = _read(path, prune, targets, cache, policy_source, options.target)
    if require_clean:
        _require_clean(desired.commit, desired.dirty, os.fspath(path), desired.changed)
    return _apply_locked(
        options.runtime_url,
        f"apply {os.fspath(path)}",
        lambda runtime: _plan(desired, runtime, options),
        options,
        keep_going=keep_going,
        lock_timeout=lock_timeout,
        stop=stop,
    )


#: how many of the uncommitted files --require-clean names
SHOWN_FILES = 10


def _require_clean(commit: str | None, dirty: bool, what: str, changed: Sequence[str] = ()) -> None:
    """``changed``: the files that differ, when known (a saved plan records only that some did)."""
    if commit is None:
        raise PlanError(
            f"--require-clean: {what} are not in a git work tree, so no commit holds them"
        )
    if dirty:
        files = ", ".join(changed[:SHOWN_FILES])
        if len(changed) > SHOWN_FILES:
            files += f" and {len(changed) - SHOWN_FILES} more"
        raise PlanError(
            f"--require-clean: {what} have uncommitted changes{f' ({files})' if files else ''}; "
            "commit them, so that the commit recorded holds what is applied"
        )


def _apply_locked(
    url: str | None,
    reason: str,
    plan_for: Callable[[Runtime], Plan | Ledger],
    options: Options,
    *,
    keep_going: bool,
    lock_timeout: float,
    stop: Callable[[], bool] = lambda: False,
) -> Ledger:
    """Take the lock, then plan (or check a saved plan) and apply: never on a stale reading."""
    owner = LockOwner.current(reason)
    with (
        options.waiting(lock_timeout).open(url) as runtime,
        executor.hold_lock(runtime, owner, timeout=lock_timeout),
    ):
        the_plan = plan_for(runtime)
        if isinstance(the_plan, Ledger):  # nothing to do
            return the_plan
        if not the_plan.ok:
            return Ledger(plan=the_plan)
        who = Provenance(actor(options.actor), the_plan.commit, the_plan.dirty)
        return executor.execute(
            runtime, the_plan, who, owner=owner, keep_going=keep_going, stop=stop
        )
