"""The library's entry points: one call per command. Nothing here prints; callers render."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import (
    environments,
    executor,
    manifests,
    overlays,
    planner,
    policies,
    project,
    promotion,
    provenance,
    schedule,
    signing,
)
from reconciler import notify as notifying
from reconciler.cache import DiskCache
from reconciler.calendar import Calendar
from reconciler.calendar import calendar as make_calendar
from reconciler.calendar import today as calendar_today
from reconciler.cycles import Cycle
from reconciler.errors import (
    Diagnostic,
    ForbiddenError,
    PlanError,
    ReconcilerError,
    RuntimeUnavailable,
    RuntimeURLError,
    Severity,
)
from reconciler.executor import Ledger
from reconciler.history import History, field_changes
from reconciler.model import (
    Campaign,
    CampaignStatus,
    Manifest,
    Sending,
    SendingOutcome,
    Sendings,
    Status,
    parse_moment,
)
from reconciler.notify import Delivery as Delivery  # the type notify's callers get
from reconciler.plan import FieldChange, Plan, Signature, loads
from reconciler.project import Policies, Project
from reconciler.provenance import actor, git_state
from reconciler.runtime.access import Role, TokenInfo
from reconciler.runtime.base import (
    BUSY_SECONDS,
    DEFAULT_URL,
    Administration,
    LockInfo,
    LockOwner,
    Patience,
    PlanPublisher,
    PlanSigner,
    Provenance,
    PublishedPlan,
    Runtime,
    Simulator,
    redacted,
    timestamp,
)
from reconciler.runtime.engine import Step
from reconciler.runtime.migrate import Copied
from reconciler.runtime.migrate import migrate as copy_runtime
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime
from reconciler.signing import PlanKey
from reconciler.validation import validate_spec

if TYPE_CHECKING:  # imported by the two commands that use them: every other one starts faster
    from reconciler import console, importer


@dataclass(frozen=True)
class Options:
    """What every runtime-reading command shares."""

    runtime_url: str | None = None
    actor: str | None = None
    #: the moment taken as now by plans (next sendings) and the runtime (live or scheduled);
    #: None is the clock's time. Pinned, it makes output reproducible ($RECONCILER_NOW)
    now: datetime | None = None
    #: how long to wait while another process writes to the runtime, and how to say so
    patience: Patience = field(default_factory=Patience)
    #: the environment of the project file the runtime URL comes from (--env), with its overlay
    target: environments.Target | None = None

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)

    def open(self, url: str | None = None) -> Runtime:
        """The runtime, open: use it as a context manager, which closes it."""
        opened = url or self.runtime_url
        # a URL the repository chose; apply passes it explicitly
        if self.target is not None and opened == self.target.runtime_url:
            environments.check_token(self.target.runtime_url, self.target.name)
        return open_runtime(opened, clock=self.clock, patience=self.patience)

    def waiting(self, seconds: float) -> Options:
        """These options, waiting at least ``seconds`` (--lock-timeout) for another writer."""
        return replace(self, patience=replace(self.patience, seconds=max(seconds, BUSY_SECONDS)))


CACHE_DIR = Path(".reconciler") / "cache"


def _load(path: str | os.PathLike[str], cache: manifests.Cache | None) -> manifests.LoadResult:
    """Load the manifests, with the given cache, else the one on disk in the working directory."""
    if cache is not None:
        return manifests.load(path, cache)
    disk = DiskCache(CACHE_DIR)
    loaded = manifests.load(path, disk)
    disk.save()
    return loaded


@dataclass(frozen=True)
class ProjectSource:
    """Where the policies come from: the project file (``--project``, else the one found from the
    manifests' folder) and, with ``policies_from``, that file as it is at a git commit
    (``--policies-from REF``: in CI, the base branch, so that a pull request cannot lift a freeze
    and use that in the same change)."""

    file: Path | None = None
    policies_from: str | None = None


def in_environment(
    options: Options,
    name: str,
    source: ProjectSource | None = None,
    manifests_at: str | os.PathLike[str] = ".",
) -> Options:
    """``options`` aimed at environment ``name`` of the project file: its runtime (from the
    variable it names) and its overlay."""
    judged = read_policies(source or ProjectSource(), manifests_at)
    if not judged.project.ok:
        raise PlanError(f"--env {name}: {judged.project.diagnostics[0]}")
    target = environments.resolve(judged.project, name)
    return replace(options, runtime_url=target.runtime_url, target=target)


@dataclass(frozen=True)
class Judged:
    """The project file as read, the policies that judge the plan, and what the change makes of
    the policies (against ``policies_from``, else the commit checked out)."""

    project: Project
    policies: Policies
    changes: tuple[FieldChange, ...] = ()


def project_path(source: ProjectSource, manifests_at: str | os.PathLike[str] = ".") -> Path:
    """Where the project file of the manifests at ``manifests_at`` is, or would be."""
    if source.file is not None:
        return source.file
    folder = Path(manifests_at)
    return project.locate(folder if folder.is_dir() else folder.parent)


def read_policies(source: ProjectSource, manifests_at: str | os.PathLike[str] = ".") -> Judged:
    """The project file (found from the manifests at ``manifests_at``), and the policies that
    judge a plan: those at ``policies_from`` when given, else its own. Its changes are told
    against ``policies_from``, else the commit checked out (none outside git)."""
    target = project_path(source, manifests_at)
    current = project.read(target, required=source.file is not None)
    ref = source.policies_from
    base = project.at_ref(ref or "HEAD", target)
    if ref is not None:
        if base is None:
            where = provenance.work_tree_top(target.parent)
            raise PlanError(
                f"--policies-from {ref!r:.60}: no such commit in the git repository at {where}"
                if where is not None
                else f"--policies-from {ref!r:.60}: {project.shown(target.parent)} is not in a git "
                "work tree"
            )
        if not base.ok:
            raise PlanError(
                f"--policies-from {ref!r:.60}: the project file there is invalid "
                f"({base.diagnostics[0]}); its policies cannot judge this plan"
            )
    judged_by = base.policies if ref is not None and base is not None else current.policies
    if base is None or not current.ok or base.text == current.text:
        return Judged(current, judged_by)
    return Judged(current, judged_by, policies.project_changes(base, current))


def _in_environment(
    loaded: manifests.LoadResult, found: Project, target: environments.Target
) -> manifests.LoadResult:
    """The manifests of ``target``'s environment, its overlay laid over them."""
    patches, problems = overlays.load(target.overlay) if target.overlay else ([], [])
    chosen, wrong = overlays.for_environment(
        loaded.manifests, patches, target.name, sorted(found.environments)
    )
    return manifests.LoadResult(
        tuple(chosen), (*loaded.diagnostics, *problems, *wrong), loaded.files
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
    judged: Judged = Judged(Project(), project.NONE)


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
    found = read_policies(source, path).project
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


def notifier(
    options: Options,
    policy_source: ProjectSource | None = None,
    manifests_at: str | os.PathLike[str] = ".",
    environment: str | None = None,
) -> Callable[[Ledger | Cycle | ReconcilerError], list[Delivery]]:
    """What sends the notifications of the project file (found from the manifests at
    ``manifests_at``) about an apply's ledger, a watch cycle (never a dry run's), or the error
    that ended an apply: each target delivered or given up when it returns. A watch keeps one:
    a cycle that wrote nothing is not told again while it tells what the one before told."""
    source = policy_source or ProjectSource()
    repeats = notifying.Repeats()

    def send(result: Ledger | Cycle | ReconcilerError) -> list[Delivery]:
        run = notifying.run_of(result)
        if run is None or not repeats.fresh(run):
            return []
        target = project_path(source, manifests_at)
        found = project.read(target, required=source.file is not None)
        if not found.notifications:
            return []
        the_plan = run.plan
        context = notifying.Context(
            environment,
            the_plan.runtime if the_plan is not None else shown_url(options.runtime_url),
            actor(options.actor),
            options.clock(),
            notifying.commit_url(
                the_plan.commit if the_plan is not None else None,
                os.environ,
                lambda: provenance.origin(target.parent),
            ),
        )
        return notifying.send(found, run, context)

    return send


def notify(
    result: Ledger | Cycle | ReconcilerError,
    options: Options,
    policy_source: ProjectSource | None = None,
    manifests_at: str | os.PathLike[str] = ".",
    environment: str | None = None,
) -> list[Delivery]:
    """Send the notifications of one apply or cycle (see :func:`notifier`)."""
    return notifier(options, policy_source, manifests_at, environment)(result)


def serve(
    options: Options,
    listen: str,
    *,
    tls: tuple[str, str] | None = None,
    max_age: timedelta = signing.DEFAULT_MAX_AGE,
    started: Callable[[str], None] = lambda url: None,
    project_file: Path | None = None,
) -> None:
    """Serve the runtime ``options`` names until stopped (``reconciler serve``); plans it signs
    are applied for ``max_age``; the dashboard's calendar marks the frequency caps of
    ``project_file`` (an invalid one is refused)."""
    rules = project.NONE
    if project_file is not None:
        found = project.read(project_file, required=True)
        if not found.ok:
            raise PlanError(f"--project: {found.diagnostics[0]}")
        rules = found.policies
    try:
        from reconciler.service.server import serve as serving
    except ImportError as exc:
        raise RuntimeURLError(
            f"reconciler serve needs the service's packages ({exc.name} is missing): "
            "pip install 'reconciler[service]'"
        ) from exc
    serving(
        options.runtime_url or DEFAULT_URL,
        listen,
        tls=tls,
        clock=options.clock,
        patience=options.patience,
        max_age=max_age,
        started=started,
        policies=rules,
    )


def shown_url(url: str | None) -> str:
    """A runtime URL as messages show it: the default's when None, never with its password."""
    return redacted(url or DEFAULT_URL)


def plan_key(text: str | None) -> PlanKey | None:
    """The plan signing key from its text (as ``RECONCILER_PLAN_KEY`` holds it), None for none;
    a key too short to be a secret is refused."""
    return None if text is None else PlanKey.from_text(text)


def parse_max_age(text: str | None) -> timedelta:
    """How long a signed plan is applied for (``RECONCILER_PLAN_MAX_AGE``); 24 hours for None."""
    return signing.parse_max_age(text)


def apply_saved(
    plan_file: str | os.PathLike[str],
    options: Options,
    *,
    key: PlanKey | None = None,
    max_age: timedelta = signing.DEFAULT_MAX_AGE,
    keep_going: bool = False,
    lock_timeout: float = 0.0,
    require_clean: bool = False,
    policy_source: ProjectSource | None = None,
) -> Ledger:
    """Apply a saved plan exactly as reviewed, or refuse it whole: when it is not what was
    made (its own checks, its signature with ``key``), is for another runtime, its campaigns
    moved, or a freeze holds one of its operations now. A plan an earlier run applied whole is
    reported as such, and nothing is done again.

    The runtime is the one ``options`` names (or the default), never the URL in the plan: a
    forged plan must not choose the server apply connects to, with the credentials it holds.
    """
    source = os.fspath(plan_file)
    the_plan = load_plan(plan_file)
    if key is not None:
        signing.verify(the_plan, key, options.clock(), max_age, source)
    if require_clean:
        _require_clean(the_plan.commit, the_plan.dirty, "the saved plan's manifests")
    judged = read_policies(policy_source or ProjectSource())

    def checked(runtime: Runtime) -> Plan | Ledger:
        if key is None:
            _verify_without_key(the_plan, runtime, options.clock(), max_age, source)
        done = executor.check_saved(the_plan, runtime, runtime.snapshot())
        if the_plan.operations and all(
            op.key(the_plan.plan_id) in done for op in the_plan.operations
        ):
            return Ledger(the_plan, already_applied=executor.applied_before(the_plan, runtime))
        # a freeze is judged when the plan is applied: one made before it is refused during it
        frozen = [
            d
            for d in policies.freezes(the_plan, {}, options.clock(), judged.policies)
            if d.severity is Severity.ERROR
        ]
        refused = [*judged.project.diagnostics, *frozen]
        if refused:
            return Ledger(replace(the_plan, errors=(*the_plan.errors, *refused)))
        return the_plan

    return _apply_locked(
        options.runtime_url,
        f"apply --plan {source}",
        checked,
        options,
        keep_going=keep_going,
        lock_timeout=lock_timeout,
    )


def _verify_without_key(
    the_plan: Plan, runtime: Runtime, now: datetime, max_age: timedelta, source: str
) -> None:
    """Where no plan key is set: a runtime service checks the plan against its own keys (it
    applies only plans it signed); any other runtime takes an unsigned plan."""
    if not isinstance(runtime, PlanSigner):
        signing.verify(the_plan, None, now, max_age, source)
        return
    try:
        runtime.verify_plan(_saved(the_plan))
    except PlanError as exc:
        raise PlanError(f"{source}: {exc}") from None


def _saved(the_plan: Plan) -> dict[str, Any]:
    """The plan's data as a saved plan holds it (a runtime service reads it as ``apply`` does)."""
    body = the_plan.to_json()
    if the_plan.signature is not None:
        body["signature"] = the_plan.signature.to_json()
    return body


def sign_by_runtime(options: Options, the_plan: Plan) -> tuple[Plan, str | None]:
    """The plan signed by its runtime, when that is a service (``plan --out`` where no plan key
    is set), and a note when the runtime would not sign it (a token whose role may not apply
    it: the plan is saved unsigned, and ``apply --plan`` through the service will refuse it)."""
    with options.open() as runtime:
        if not isinstance(runtime, PlanSigner):
            return the_plan, None
        try:
            signature = runtime.sign_plan(_saved(the_plan))
        except ForbiddenError as exc:
            return the_plan, f"the plan is saved unsigned: {exc}"
    return replace(the_plan, signature=Signature.from_json(signature)), None


def publish(options: Options, the_plan: Plan, ref: str | None) -> PublishedPlan:
    """Publish the plan to the dashboard of its runtime (``plan --publish``), under ``ref``. A
    runtime service records the token that published it; the embedded platform, the actor (the
    dashboard of ``reconciler serve`` over that store shows it)."""
    with options.open() as runtime:
        # the platform first: it has publish_plan too, and is told who publishes
        if isinstance(runtime, Platform):
            return runtime.publish_plan(_saved(the_plan), ref, actor(options.actor))
        if isinstance(runtime, PlanPublisher):
            return runtime.publish_plan(_saved(the_plan), ref)
        raise ForbiddenError(
            f"runtime {redacted(runtime.url)} has no dashboard to publish a plan to: only the "
            "runtime service and the stores it serves (sqlite, postgresql, memory) keep them"
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


def save_plan(
    the_plan: Plan,
    plan_file: str | os.PathLike[str],
    document: Callable[[Plan], str],
    *,
    key: PlanKey | None = None,
    now: datetime | None = None,
) -> None:
    """Write the plan, as ``document`` words it (the JSON view), whole or not at all (a reader
    never sees half a plan); signed at ``now`` (the clock's time when None) with ``key``, when
    there is one."""
    if key is not None:
        the_plan = signing.sign(the_plan, key, now or datetime.now(UTC))
    target = Path(plan_file)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(document(the_plan), encoding="utf-8")
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


def _simulator(runtime: Runtime) -> Simulator:
    """The runtime's simulator controls, which only the embedded platform has."""
    if not isinstance(runtime, Simulator):
        raise ForbiddenError(
            f"runtime {redacted(runtime.url)} has no simulator controls (the engine's ticks, "
            "segments, console edits): only the embedded platform has them"
        )
    return runtime


def migrate(options: Options, source: str, target: str) -> Copied:
    """Copy the runtime at ``source`` into the empty one at ``target``, verified."""
    with options.open(source) as copied, options.open(target) as copy:
        if not isinstance(copied, Platform) or not isinstance(copy, Platform):
            other = copied if not isinstance(copied, Platform) else copy
            raise ForbiddenError(
                f"runtime {redacted(other.url)} is not one this reconciler keeps the rows of; "
                "a runtime is copied between stores (memory, SQLite, PostgreSQL)"
            )
        return copy_runtime(copied.store, copy.store)


def tick(options: Options, now: datetime | None = None) -> list[Step]:
    """Advance the runtime's engine once, as if at ``now``."""
    with options.open() as runtime:
        return _simulator(runtime).tick(now or options.clock())


def run_engine(
    options: Options,
    stop: Callable[[], bool],
    report: Callable[[list[Step]], None],
    every: float = 1.0,
    unavailable: Callable[[str, float], None] = lambda error, retry_in: None,
) -> None:
    """Tick every ``every`` seconds until ``stop`` says so; a tick in progress always completes.

    With a pinned now (``RECONCILER_NOW``), the engine's clock starts there and runs at the pace
    of the real one, as every other command takes that moment as now. A runtime that cannot be
    reached is tried again without end, with backoff (``unavailable`` is told, once per outage);
    a refusal ends the run, as for every command.
    """
    origin, began = options.clock(), time.monotonic()
    failures = 0
    while not stop():
        try:
            with options.open() as runtime:
                engine = _simulator(runtime)
                while not stop():
                    started = time.monotonic()
                    steps = engine.tick(origin + timedelta(seconds=started - began))
                    failures = 0
                    if steps:
                        report(steps)
                    _pause(stop, every, started)
        except RuntimeUnavailable as exc:
            failures += 1
            wait = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1))
            if failures == 1:
                unavailable(str(exc), wait)
            _pause(stop, wait, time.monotonic())


#: how long `runtime run` waits before trying an unreachable runtime again: doubling, capped
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0


def _pause(stop: Callable[[], bool], seconds: float, since: float) -> None:
    while not stop() and time.monotonic() - since < seconds:
        time.sleep(min(0.1, seconds))


def set_segment(options: Options, name: str, size: int) -> None:
    with options.open() as runtime:
        _simulator(runtime).set_segment(name, size)


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


def edit(
    options: Options, name: str, settings: Sequence[str], *, actor: str | None = None
) -> Campaign:
    """Write a new live version of ``name`` as an outside actor would, from a campaign console.

    For demos and tests of drift: the reconciler reports such a version, and restores the
    manifest where the lifecycle allows. ``settings`` are ``path=value`` with a path inside the
    spec (``content.subject=Hi``); a value is read as JSON when it can be, else as text.
    """
    with options.open() as runtime:
        campaign = runtime.snapshot().get(name)
        if campaign is None or campaign.live is None:
            raise PlanError(f"no campaign named {name!r} with a live version in the runtime")
        spec = json.loads(json.dumps(campaign.live.spec))
        for setting in settings:
            path, sep, raw = setting.partition("=")
            if not sep or not path:
                raise PlanError(
                    f"--set {setting!r:.60}: expected PATH=VALUE, like content.subject=Hi"
                )
            *parents, leaf = path.split(".")
            node = spec
            for part in parents:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise PlanError(f"--set {path}: {part} is not a mapping")
            node[leaf] = _value(raw)
        problems = validate_spec(spec)
        if problems:
            raise PlanError(f"the edited spec is not valid: {problems[0]}")
        return _simulator(runtime).edit(name, spec, campaign.etag, actor or "console")


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


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


# --- the runtime service's tokens and signing key, and the lock: an administrator's -------------


def _administration(runtime: Runtime) -> Administration:
    """The runtime's administration, which the stores' platform and the runtime service have."""
    if not isinstance(runtime, Administration):
        raise ForbiddenError(
            f"runtime {redacted(runtime.url)} has no tokens, signing keys or lock to break: only "
            "the stores' runtimes (sqlite, postgresql, memory) and the runtime service have them"
        )
    return runtime


def create_token(options: Options, name: str, role: Role) -> str:
    """A new token ``name`` with ``role`` for the runtime service: its secret, shown once."""
    with options.open() as runtime:
        return _administration(runtime).create_token(name, role)


def tokens(options: Options) -> list[TokenInfo]:
    """Every token of the runtime service, by name (never a secret or a digest)."""
    with options.open() as runtime:
        return _administration(runtime).tokens()


def revoke_token(options: Options, name: str) -> None:
    with options.open() as runtime:
        _administration(runtime).revoke_token(name)


def rotate_signing_key(options: Options) -> str:
    """A new plan signing key for the runtime service, the previous one retired: its id."""
    with options.open() as runtime:
        return _administration(runtime).rotate_signing_key()


def break_lock(options: Options) -> LockInfo | None:
    """Remove the apply lock whoever holds it: what was held (None: nothing was)."""
    with options.open() as runtime:
        return _administration(runtime).break_lock()


# --- campaigns made outside the reconciler, and their import into git ---------------------------


def create(
    options: Options, file: str | os.PathLike[str], *, actor: str | None = None
) -> console.Made:
    """Make the campaigns of a manifest file in the runtime as a campaign console would: not
    managed by the reconciler, drafts or activated per ``state``, stopped per ``run``, copies of
    their ``copyFrom``; recorded in history as made by ``actor`` (default ``console``). Nothing
    is made when any manifest is invalid or cannot be made."""
    from reconciler import console

    loaded = manifests.load(file)
    if not loaded.ok:
        return console.Made(loaded)
    with options.open() as runtime:
        sim = _simulator(runtime)
        todo, problems = console.creations(loaded.manifests, runtime.snapshot())
        if problems:
            return console.Made(replace(loaded, diagnostics=(*loaded.diagnostics, *problems)))
        made = [
            sim.create(
                c.manifest.name,
                c.spec,
                live=c.live,
                actor=actor or "console",
                copied_from=c.copied_from,
                copy_base=c.copy_base,
                stopped=c.stopped,
                title=c.manifest.title,
                labels=c.manifest.labels or None,
            )
            for c in todo
        ]
    return console.Made(loaded, tuple(made))


#: where `import` writes, unless told
IMPORT_DIR = Path("campaigns") / "imported"


def import_campaigns(
    options: Options,
    path: str | os.PathLike[str],
    names: Sequence[str] = (),
    all: bool = False,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> importer.Imported:
    """Write a manifest for each unmanaged campaign named (or every one, with ``all``) into
    ``out`` (default campaigns/imported/), ``NAME.yaml``: one the next plan adopts, and nothing
    else. Campaigns whose manifests are under ``path`` already are skipped; an existing file is
    never overwritten unless ``force``. Any error writes nothing."""
    from reconciler import importer

    folder = Path(out) if out is not None else IMPORT_DIR
    # no manifests yet: nothing is skipped, the first import makes the folder
    none = manifests.LoadResult((), (), 0)
    loaded = _load(path, None) if os.path.lexists(path) else none
    known = {m.name: m.file for m in loaded.manifests}
    with options.open() as runtime:
        state = runtime.snapshot()
        shown = redacted(runtime.url)
        entry = (
            next(
                (
                    e
                    for e in runtime.history(after=state.revision - 1)
                    if e.revision == state.revision
                ),
                None,
            )
            if state.revision > 0
            else None
        )
    result = importer.Imported(shown, state.revision)
    if not loaded.ok:
        found = tuple(d for d in loaded.diagnostics if d.severity is Severity.ERROR)
        return replace(result, errors=found)
    chosen = importer.select(state.campaigns, names, all, known)
    source = importer.Source(shown, state.revision, entry.at if entry is not None else None)
    in_git = {n for n, c in state.campaigns.items() if c.managed} | set(known)
    in_git |= {c.name for c in chosen.campaigns}
    errors = list(chosen.errors)
    texts: list[tuple[str, Path, str]] = []
    for c in chosen.campaigns:
        target = folder / f"{c.name}.yaml"
        text = importer.manifest(c, source, in_git, os.fspath(target))
        if text is None:
            errors.append(Diagnostic(f"no manifest reads back as campaign {c.name!r}: a bug"))
        elif len(text.encode()) > manifests.MAX_FILE_BYTES:
            errors.append(
                Diagnostic(
                    f"the manifest of {c.name} would be over 1 MiB, more than a manifest may be",
                    os.fspath(target),
                    campaign=c.name,
                )
            )
        elif os.path.lexists(target) and not force:
            errors.append(
                Diagnostic(
                    f"{os.fspath(target)} exists; it is never overwritten (--force replaces it)",
                    os.fspath(target),
                    campaign=c.name,
                )
            )
        else:
            texts.append((c.name, target, text))
    warnings = tuple(importer.skipped_warning(n, f) for n, f in chosen.skipped)
    result = replace(result, skipped=chosen.skipped, warnings=warnings)
    if errors:
        return replace(result, errors=tuple(errors))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for _, target, text in texts:
            partial = target.with_name(f".{target.name}.partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(target)
    except OSError as exc:
        raise PlanError(f"cannot write to {os.fspath(folder)}: {exc.strerror}") from exc
    return replace(result, written=tuple((n, os.fspath(t)) for n, t, _ in texts))
