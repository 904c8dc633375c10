"""Running and administering a runtime: the service, the engine's ticks and the simulator's
controls, copies between stores, tokens, signing keys and the lock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler import (
    project,
    signing,
)
from reconciler.api.options import Options
from reconciler.errors import (
    ForbiddenError,
    PlanError,
    RuntimeUnavailable,
    RuntimeURLError,
)
from reconciler.model import (
    Campaign,
)
from reconciler.runtime.access import Role, TokenInfo
from reconciler.runtime.base import (
    DEFAULT_URL,
    Administration,
    LockInfo,
    Runtime,
    Simulator,
    redacted,
)
from reconciler.runtime.engine import Step
from reconciler.runtime.migrate import Copied
from reconciler.runtime.migrate import migrate as copy_runtime
from reconciler.runtime.platform import Platform
from reconciler.validation import validate_spec


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
