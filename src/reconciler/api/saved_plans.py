"""Saved plans: written, read back, signed (by a key or by the runtime service), published to a
dashboard, and applied exactly as reviewed."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler import (
    executor,
    policies,
    signing,
)
from reconciler.api.options import Options
from reconciler.api.planning import _apply_locked, _require_clean
from reconciler.api.policy import ProjectSource, read_policies
from reconciler.errors import (
    ForbiddenError,
    PlanError,
    Severity,
)
from reconciler.executor import Ledger
from reconciler.plan import Plan, Signature, loads
from reconciler.provenance import actor
from reconciler.runtime.base import (
    PlanPublisher,
    PlanSigner,
    PublishedPlan,
    Runtime,
    redacted,
)
from reconciler.runtime.platform import Platform
from reconciler.signing import PlanKey


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
