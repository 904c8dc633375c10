"""Desired (manifests) x actual (a runtime snapshot) -> Plan. A pure function: no I/O, no clock.

The same manifests and the same snapshot always give the same plan, byte for byte: every collection
is walked in sorted order and nothing depends on time or on dictionary order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler import lifecycle, schedule
from reconciler.errors import Diagnostic, Hint, Severity
from reconciler.lifecycle import Action, Decision
from reconciler.manifests import copy_cycle, cycle_message
from reconciler.model import (
    RECONCILER,
    Campaign,
    DesiredState,
    Kind,
    Manifest,
    RuntimeState,
    Spec,
    allowed,
    base_hash,
    instant,
    kind_of,
    overlay,
    spec_hash,
)
from reconciler.plan import FieldChange, Operation, Plan, Reason
from reconciler.validation import validate_spec

#: refusals caused by a change of the spec: placed at the changed field that comes first
CHANGE_REFUSALS = frozenset({lifecycle.ONE_TIME_MODIFY, lifecycle.COMPLETED_MODIFY})
#: the manifest field a refusal points at; anything else points at ``spec``
REFUSAL_FIELD = {
    lifecycle.NEW_STOPPED: "spec.run",
    lifecycle.NEVER_LIVE_STOPPED: "spec.run",
    lifecycle.ONE_TIME_STOP: "spec.run",
    lifecycle.RESTART: "spec.run",
}

_MISSING: Any = object()

#: a manifest annotation: "false" makes drift on that campaign reported, never restored
SELF_HEAL = "reconciler/self-heal"
#: annotation: "true" adopts a campaign made outside the reconciler with the manifest's changes
ADOPT = "reconciler/adopt"
#: how many differing fields a message names before it counts the rest
SHOWN_FIELDS = 5


#: FieldChanges by (path, type of the value, value): see ``diff``
Known = dict[tuple[str, type, Any], FieldChange]


def diff(
    before: Spec, after: Spec, path: str = "spec", known: Known | None = None
) -> list[FieldChange]:
    """Field-level changes; mappings are walked key by key, lists and scalars compared whole.

    ``known``: the changes made so far (by one plan). A FieldChange is immutable, so a field that
    many new campaigns add with the same value (a channel, a segment, a time zone) can be one
    object: made once, and held once, instead of once per campaign.
    """
    changes: list[FieldChange] = []
    if not before:  # every field is new (a create, a copy): the common case, and a plain walk
        _added(after, path, changes, {} if known is None else known)
        return changes
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        where = f"{path}.{key}"
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            changes.extend(diff(old, new, where))
        elif old is _MISSING and isinstance(new, Mapping):
            changes.extend(diff({}, new, where))
        elif new is _MISSING and isinstance(old, Mapping):
            changes.extend(diff(old, {}, where))
        elif old != new:
            changes.append(
                FieldChange(
                    where, None if old is _MISSING else old, None if new is _MISSING else new
                )
            )
    return changes


#: values whose type and equality tell their JSON (not floats: -0.0 == 0.0), and which hash
_SHAREABLE = (str, int, type(None))


def _added(spec: Spec, path: str, changes: list[FieldChange], known: Known) -> None:
    """``diff({}, spec)``: every field that is not a mapping, as added, in the same order."""
    for key, value in sorted(spec.items()):
        where = f"{path}.{key}"
        if isinstance(value, _SHAREABLE):
            change = known.get((where, type(value), value))
            if change is None:  # the type too: True == 1, and both would be the same key
                change = known[where, type(value), value] = FieldChange(where, None, value)
            changes.append(change)
        elif isinstance(value, (dict, Mapping)):  # dict first: no need of the dearer ABC check
            _added(value, where, changes, known)
        else:
            changes.append(FieldChange(where, None, value))


@dataclass
class _Planning:
    """The state of one planning pass, threaded through the steps below."""

    state: RuntimeState
    manifests: dict[str, Manifest]
    operations: dict[str, Operation]
    errors: list[Diagnostic]
    warnings: list[Diagnostic]
    #: the live spec each campaign will have once the plan is applied (None: never live)
    live_after: dict[str, Spec | None]
    #: with a ``now``: what the operations say about sendings
    sendings: _Sendings | None = None
    #: the field changes of this plan's operations, to share (see ``diff``)
    known: Known = field(default_factory=dict)
    unchanged: int = 0
    #: manifests a limited plan (targets) leaves out
    left_out: int = 0

    def error(self, manifest: Manifest, path: str, message: str) -> None:
        at = manifest.where(path)
        self.errors.append(
            Diagnostic(message, manifest.file, at.line, at.column, campaign=manifest.name)
        )

    def warn(self, manifest: Manifest, path: str, message: str) -> None:
        at = manifest.where(path)
        self.warnings.append(
            Diagnostic(message, manifest.file, at.line, at.column, manifest.name, Severity.WARNING)
        )


def plan(
    manifests: Sequence[Manifest],
    state: RuntimeState,
    *,
    prune: bool = False,
    orphans: bool = True,
    targets: Sequence[str] = (),
    now: datetime | None = None,
) -> Plan:
    """The operations that make ``state`` equal to ``manifests``, with every refusal explained.

    ``orphans``: whether ``manifests`` are the whole repository, so that a managed campaign without
    one is an orphan (warned about, or stopped with ``prune``). ``targets`` limit the plan to those
    campaigns and the sources they are to be copied from. With ``now``, operations of outbound
    campaigns say which sendings they lead to, start or cancel (``now`` is an input like any
    other: the same inputs still give the same plan).
    """
    by_name: dict[str, Manifest] = {}
    for manifest in manifests:
        by_name.setdefault(manifest.name, manifest)  # the loader already reported duplicates
    work = _Planning(state, by_name, {}, [], [], {}, _Sendings(now) if now is not None else None)
    if targets:
        work.manifests = _targeted(work, by_name, targets)
    for name in _copy_order(work):
        _plan_one(work, work.manifests[name])
    if orphans:  # only the whole repository can tell that a campaign's manifest is gone
        _plan_orphans(work, prune, set(targets) or None)
    return Plan(
        runtime="",
        runtime_id=None,
        runtime_revision=state.revision,
        operations=tuple(_dependency_order(work.operations)),
        targets=tuple(sorted(set(targets))),
        left_out=work.left_out,
        unchanged=work.unchanged,
        errors=tuple(sorted(work.errors, key=diagnostic_order)),
        warnings=tuple(sorted(work.warnings, key=diagnostic_order)),
    )


class _Sendings:
    """Which sendings operations of outbound campaigns lead to (activate, replace, copy, resume)
    or cancel (stop), seen from ``now``.

    Many campaigns share a schedule, and the next sendings cost far more than looking them up:
    they are worked out once per distinct schedule in a plan.
    """

    def __init__(self, now: datetime) -> None:
        self.now = now
        #: (channel, schedule) -> the next sendings. Nothing else of the spec counts (see
        #: ``schedule.next_occurrences``), and ``now`` is the same for the whole plan. The schedule
        #: is keyed by its repr: specs are plain data (mappings, lists, strings, numbers), whose
        #: repr tells one value from another, and it costs less than canonical JSON (mappings
        #: equal but for key order merely get an entry each).
        self._upcoming: dict[tuple[Any, str], tuple[datetime, ...]] = {}

    def upcoming(self, spec: Spec) -> tuple[datetime, ...]:
        if not spec.get("schedule"):
            return ()
        key = (spec.get("channel"), repr(spec["schedule"]))
        found = self._upcoming.get(key)
        if found is None:
            found = self._upcoming[key] = tuple(schedule.next_occurrences(spec, self.now, 3))
        return found

    def cancelled(self, campaign: Campaign, live: Spec) -> dict[str, Any]:
        """What stopping ``campaign`` cancels: its next sending (one in progress finishes)."""
        upcoming = schedule.next_occurrences(live, self.now, 1)
        return {
            "cancels": instant_text(upcoming[0]) if upcoming else None,
            "in_progress": campaign.sending.scheduled if campaign.sending is not None else None,
        }

    def for_operation(
        self, campaign: Campaign | None, kind: Kind, goes_live: bool, spec: Spec
    ) -> tuple[tuple[datetime, ...], tuple[datetime, ...]]:
        """For an operation that makes ``spec`` live: its next sendings once applied and, for a
        schedule change, those before."""
        if kind is Kind.INBOUND or not goes_live:
            return (), ()
        live = campaign.live.spec if campaign is not None and campaign.live is not None else None
        before: tuple[datetime, ...] = ()
        if live is not None and live.get("schedule") != spec.get("schedule"):
            before = self.upcoming(live)
        return self.upcoming(spec), before


def instant_text(moment: datetime) -> str:
    """An instant as a plan's parameters hold it: RFC 3339, in UTC."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _targeted(
    work: _Planning, by_name: Mapping[str, Manifest], targets: Sequence[str]
) -> dict[str, Manifest]:
    """The targeted manifests, and the sources that copies among them are to be made from."""
    wanted: set[str] = set()
    pending = list(targets)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted.add(name)
        m = by_name.get(name)
        source = m.copy_from if m is not None else None
        if source is not None and source in by_name and work.state.get(name) is None:
            pending.append(source)
    for name in sorted(set(targets)):
        if name not in by_name and work.state.get(name) is None:
            work.errors.append(
                Diagnostic(
                    f"no manifest and no campaign is named {name!r}, which the plan was limited to",
                    campaign=name,
                )
            )
    added = sorted(wanted - set(targets))
    if added:
        work.warnings.append(
            Diagnostic(
                "included, as sources of the copies the plan makes: " + ", ".join(added),
                severity=Severity.WARNING,
            )
        )
    work.left_out = len(set(by_name) - wanted)
    return {name: m for name, m in by_name.items() if name in wanted}


def diagnostic_order(d: Diagnostic) -> tuple[str, int, int, str, str]:
    return (d.file or "", d.line or 0, d.column or 0, d.campaign or "", d.message)


def _copy_order(work: _Planning) -> list[str]:
    """Every manifest name, sources before their copies, otherwise by name. Cycles are errors."""
    waiting_on: dict[str, str] = {}
    for name, manifest in work.manifests.items():
        source = manifest.copy_from
        if source is not None and work.state.get(name) is None and source in work.manifests:
            waiting_on[name] = source
    copies_of: dict[str, list[str]] = {}
    for copy, source in waiting_on.items():
        copies_of.setdefault(source, []).append(copy)
    ready = [name for name in work.manifests if name not in waiting_on]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for copy in copies_of.get(name, ()):
            heapq.heappush(ready, copy)
    for name in sorted(set(work.manifests) - set(order)):  # the loader reports cycles too
        chain = copy_cycle(name, waiting_on)
        assert chain is not None
        work.error(work.manifests[name], "spec.copyFrom", cycle_message(chain))
    return order


def _copy_source(work: _Planning, manifest: Manifest) -> tuple[Spec | None, str | None]:
    """The spec a new copy starts from, or an error message."""
    source = manifest.copy_from
    assert source is not None
    if source in work.manifests:
        if source not in work.live_after:
            return None, f"copyFrom source {source!r} has errors; fix it first"
        base = work.live_after[source]
    else:
        existing = work.state.get(source)
        if existing is None:
            return None, f"copyFrom names {source!r}, which does not exist"
        base = existing.live.spec if existing.live else None
    if base is None:
        return None, (
            f"copyFrom names {source!r}, which has never been live; "
            "only a campaign that has been live can be duplicated"
        )
    return base, None


def _plan_one(work: _Planning, m: Manifest) -> None:
    campaign = work.state.get(m.name)
    #: a campaign made outside the reconciler: a manifest that matches it adopts it
    adopting = campaign is not None and not campaign.managed
    copying = m.copy_from is not None and campaign is None
    copy_base: Spec | None = None
    if copying:
        copy_base, problem = _copy_source(work, m)
        if problem is not None:
            work.error(m, "spec.copyFrom", problem)
            return
        desired = overlay(copy_base or {}, m.spec)
    elif m.copy_from is not None and campaign is not None:
        if m.copy_from != campaign.copied_from:
            was = (
                f"as a copy of {campaign.copied_from!r}; set copyFrom: {campaign.copied_from}"
                if campaign.copied_from
                else "and is not a copy"
            )
            work.error(
                m,
                "spec.copyFrom",
                f"copyFrom only applies when a campaign is created: {m.name!r} already exists "
                f"{was}, or remove copyFrom and write the whole spec",
            )
            return
        desired = overlay(campaign.copy_base or {}, m.spec)  # copying happened once, from this base
    else:
        desired = dict(m.spec)
    if m.copy_from is not None:
        problems = validate_spec(desired)
        if problems:
            for problem in problems:
                work.error(m, "spec.copyFrom", f"{problem} (after copying from {m.copy_from!r})")
            return
    kind = kind_of(desired)
    refusal = _identity_refusal(campaign, desired, kind)
    # only a campaign in the runtime has versions to compare with: a new one's spec needs no hash
    digest = spec_hash(desired) if campaign is not None else ""
    decision = (
        Decision(refusal=refusal)
        if refusal
        else lifecycle.decide(
            campaign, kind=kind, state=m.state, run=m.run, desired_hash=digest, copy=copying
        )
    )
    if adopting:
        assert campaign is not None
        matches = decision.refusal is None and decision.action is None and not decision.warning
        if matches:  # taken over as it is
            work.live_after[m.name] = _live_after(campaign, None, desired, m)
            work.operations[m.name] = _operation(
                work, m, campaign, Action.ADOPT, desired, digest, kind, None, None, None
            )
            return
        if m.annotations.get(ADOPT) != "true":
            work.error(m, "metadata.name", _unadoptable(m, campaign, desired))
            return
    # an outside version is drift only once the reconciler manages the campaign
    drifted_by = None if adopting else _drift(campaign, digest)
    if drifted_by is not None and m.annotations.get(SELF_HEAL) == "false":
        assert campaign is not None and campaign.live is not None
        fields = ", ".join(c.path for c in diff(campaign.live.spec, desired))
        work.warn(
            m,
            "metadata.annotations",
            f"drift: live version {campaign.live.number} was changed outside the reconciler by "
            f'{drifted_by} ({fields}); it is reported only, as {SELF_HEAL} is "false"',
        )
        work.live_after[m.name] = campaign.live.spec
        work.unchanged += 1
        return
    if decision.refusal is not None:
        prefix = (
            f"live version {campaign.live.number} was changed outside the reconciler by "
            f"{drifted_by}; "
            if campaign and campaign.live and drifted_by
            else ""
        )
        accept = "; or accept the outside change by setting the manifest to the live version"
        message = prefix + decision.refusal + (accept if prefix else "")
        if decision.refusal in CHANGE_REFUSALS or decision.refusal == refusal:
            _at_change(work, m, campaign, desired, message, work.error)
        else:
            work.error(m, REFUSAL_FIELD.get(decision.refusal, "spec"), message)
        return
    if decision.warning == lifecycle.BACK_TO_DRAFT:
        work.warn(m, "spec.state", decision.warning)
    elif decision.warning is not None:  # a change that is not applied: said where it is
        _at_change(work, m, campaign, desired, decision.warning, work.warn)
    if _goes_live(decision.action, m) and work.sendings is not None:
        passed = _passed(desired, work.sendings.now)
        if passed is not None:
            work.error(m, "spec.schedule.once.at", passed)
            return
    work.live_after[m.name] = _live_after(campaign, decision.action, desired, m)
    if decision.action is None:
        work.unchanged += 1
        return
    source = work.state.get(m.copy_from) if copying and m.copy_from else None
    untouched_source = source is not None and source.name not in work.operations
    work.operations[m.name] = _operation(
        work, m, campaign, decision.action, desired, digest, kind, copy_base, drifted_by,
        source.etag if source is not None and untouched_source else None, adopt=adopting,
    )  # fmt: skip


def _unadoptable(m: Manifest, campaign: Campaign, desired: Spec) -> str:
    """Why a manifest does not simply adopt the campaign made outside the reconciler it names:
    what differs, and the two ways out."""
    held = campaign.draft if m.state is DesiredState.DRAFT and campaign.draft else None
    held = held or campaign.live or campaign.draft
    fields = [c.path for c in diff(held.spec, desired)] if held is not None else []
    shown = ", ".join(fields[:SHOWN_FIELDS]) + (
        f" and {len(fields) - SHOWN_FIELDS} more" if len(fields) > SHOWN_FIELDS else ""
    )
    differs = (
        f"its spec differs ({shown})"
        if fields
        else f"it is {campaign.status.value}, and the manifest says state: {m.state.value}, "
        f"run: {m.run.value}"
    )
    return (
        f"campaign {m.name!r} was made outside the reconciler, and this manifest does not match "
        f"it: {differs}. `reconciler import {m.name}` writes the manifest that matches it; or "
        f'annotate this one {ADOPT}: "true" to adopt it and make the change'
    )


def _at_change(
    work: _Planning,
    m: Manifest,
    campaign: Campaign | None,
    desired: Spec,
    message: str,
    report: Callable[[Manifest, str, str], None],
) -> None:
    """Report ``message``, caused by a change to the manifest's spec, at the changed field that
    comes first in the file (where a reviewer sees the change, and GitHub its annotation), naming
    the changed fields."""
    current = campaign.live or campaign.draft if campaign is not None else None
    paths = [c.path for c in diff(current.spec if current else {}, desired)]
    if not paths:
        report(m, "spec", message)
        return
    first = min(paths, key=lambda path: tuple(m.where(path)))
    named = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    report(m, first, f"{named} changed: {message}")


def _passed(spec: Spec, now: datetime) -> str | None:
    """Why a one-time campaign whose only sending lies in the past must not go live, or None:
    activated, it would send nothing, complete, and never be editable again."""
    once = (spec.get("schedule") or {}).get("once")
    if kind_of(spec) is not Kind.ONE_TIME or not isinstance(once, Mapping):
        return None
    at = instant(once["at"])
    if at > now:
        return None
    return (
        f"its only sending, {schedule.describe(at, spec)}, has passed (now is "
        f"{schedule.describe(now, spec)}): activated, it would send nothing and be completed. "
        "Set a future time, or remove schedule.once to send it on activation"
    )


def _identity_refusal(campaign: Campaign | None, desired: Spec, kind: Kind) -> str | None:
    """A campaign that has been live keeps its channel and kind for good."""
    if campaign is None or not campaign.activated:
        return None
    if desired["channel"] != campaign.channel.value:
        return (
            f"the channel of a campaign that has been live cannot change "
            f"({campaign.channel.value} -> {desired['channel']}); duplicate it with copyFrom"
        )
    if kind is not campaign.kind:
        return (
            f"the kind of a campaign that has been live cannot change "
            f"({campaign.kind.value} -> {kind.value}); duplicate it with copyFrom"
        )
    return None


def _drift(campaign: Campaign | None, digest: str) -> str | None:
    live = campaign.live if campaign else None
    if live is None or live.origin == RECONCILER or live.hash == digest:
        return None
    return live.actor


def _goes_live(action: Action | None, m: Manifest) -> bool:
    return action in (Action.ACTIVATE, Action.REPLACE) or (
        action in (Action.COPY, Action.RESUME) and m.state is DesiredState.LIVE
    )


def _live_after(
    campaign: Campaign | None, action: Action | None, desired: Spec, m: Manifest
) -> Spec | None:
    if _goes_live(action, m):
        return desired
    return campaign.live.spec if campaign and campaign.live else None


def _operation(
    work: _Planning,
    m: Manifest,
    campaign: Campaign | None,
    action: Action,
    desired: Spec,
    digest: str,
    kind: Kind,
    copy_base: Spec | None,
    drifted_by: str | None,
    source_etag: str | None,
    *,
    adopt: bool = False,
) -> Operation:
    count = campaign.versions if campaign else 0
    live = campaign.live if campaign else None
    draft = campaign.draft if campaign else None
    current = live or draft
    promoted = campaign.number_for(digest) if campaign else 1
    before_spec: Spec = current.spec if current else {}
    after_spec: Spec = desired
    writes_spec = True
    params: dict[str, Any] = {}
    versions: tuple[int | None, int | None]
    if action is Action.CREATE:
        versions, reason = (None, 1), Reason.NEW_DRAFT
    elif action is Action.COPY:  # shown against its source: what differs, and how much does not
        assert copy_base is not None and m.copy_from is not None
        versions, reason, before_spec = (None, 1), Reason.NEW_COPY, copy_base
        params = {"source": m.copy_from, "state": m.state.value}
        params["source_version"] = _version_after(work, m.copy_from)
    elif action is Action.ACTIVATE:
        versions = (draft.number if draft else None, promoted)
        reason = Reason.NEW_LIVE if campaign is None else Reason.DRAFT_GOES_LIVE
    elif action is Action.UPDATE:
        versions = (current.number if current else None, count + 1)
        reason = Reason.CHANGE_STAGED if live else Reason.DRAFT_CHANGED
        if live:
            params = {"draft": count + 1, "live": live.number}
    elif action is Action.REPLACE:
        assert live is not None
        versions = (live.number, promoted)
        params = {"live": live.number}
        if drifted_by is not None:
            reason = Reason.DRIFT_RESTORED
        elif draft is not None and draft.hash == digest:
            reason, params = Reason.STAGED_REPLACES, {"draft": draft.number, "live": live.number}
        else:
            reason = Reason.SPEC_CHANGED
    elif action is Action.DISCARD:
        assert live is not None and draft is not None
        versions, writes_spec = (draft.number, live.number), False
        before_spec, after_spec = draft.spec, live.spec
        reason, params = Reason.LIVE_MATCHED, {"draft": draft.number, "live": live.number}
    elif action is Action.STOP:
        assert live is not None and campaign is not None
        versions, writes_spec = (live.number, live.number), False
        before_spec = after_spec = live.spec
        reason = Reason.STOP_REQUESTED
        if kind is not Kind.INBOUND and work.sendings is not None:
            params = work.sendings.cancelled(campaign, live.spec)
    elif action is Action.ADOPT:  # nothing of the campaign changes
        assert current is not None
        versions, writes_spec = (current.number, current.number), False
        before_spec = after_spec = current.spec
        reason, params = Reason.ADOPTED, {"actor": current.actor}
    else:  # RESUME: running again, with its versions as the manifest says
        assert live is not None
        reason = Reason.RESUME_REQUESTED
        if m.state is DesiredState.DRAFT:
            versions = (live.number, live.number)
            if promoted != live.number and (draft is None or promoted != draft.number):
                params["staged"] = promoted
        else:
            versions = (live.number, promoted)
            if promoted != live.number:
                params["replaces"] = promoted
        if draft is not None and promoted != draft.number:
            params["discards"] = draft.number
    if drifted_by is not None and action is not Action.REPLACE:
        assert live is not None
        params["drift_version"] = live.number
    upcoming: tuple[datetime, ...] = ()
    before: tuple[datetime, ...] = ()
    goes_live = _goes_live(action, m)
    if work.sendings is not None:
        upcoming, before = work.sendings.for_operation(campaign, kind, goes_live, desired)
    shown = live.spec if action is Action.STOP and live is not None else desired
    changes = tuple(diff(before_spec, after_spec, known=work.known))
    inherited = 0
    if action is Action.COPY:
        differing = {c.path for c in changes}
        inherited = sum(1 for c in diff({}, desired, known=work.known) if c.path not in differing)
    return Operation(
        campaign=m.name,
        action=action,
        reason=reason,
        reason_params=params,
        file=m.file,
        from_version=versions[0],
        to_version=versions[1],
        changes=changes,
        inherited=inherited,
        etag=campaign.etag if campaign else None,
        manifest_hash=m.hash,
        spec=desired if writes_spec else None,
        spec_hash=spec_hash(desired) if writes_spec else None,
        kind=kind.value,
        channel=str(desired["channel"]),
        copied_from=m.copy_from if action is Action.COPY else None,
        copy_base=copy_base if action is Action.COPY else None,
        activate=action in (Action.COPY, Action.RESUME) and m.state is DesiredState.LIVE,
        source_etag=source_etag,
        depends_on=(m.copy_from,) if action is Action.COPY and m.copy_from else (),
        drift=drifted_by,
        next_sendings=upcoming,
        sendings_before=before,
        zone=_zone(kind, shown),
        zone_before=schedule.zone_of(live.spec) if before and live is not None else None,
        on_activation=goes_live and kind is Kind.ONE_TIME and not desired.get("schedule"),
        adopt=adopt,
        labels=m.labels,
        base_hash=(m.base_hash or base_hash(m)) if writes_spec else None,
        title=m.title,
    )


def _version_after(work: _Planning, name: str) -> int | None:
    """The live version a campaign has once the plan is applied (a copy's source)."""
    op = work.operations.get(name)
    if op is not None:
        return op.to_version
    campaign = work.state.get(name)
    return campaign.live.number if campaign is not None and campaign.live is not None else None


def _zone(kind: Kind, spec: Spec) -> str | None:
    return None if kind is Kind.INBOUND else schedule.zone_of(spec)


def _plan_orphans(work: _Planning, prune: bool, only: set[str] | None) -> None:
    for name, campaign in sorted(work.state.campaigns.items()):
        if not campaign.managed or name in work.manifests or (only and name not in only):
            continue
        can_stop = allowed(Action.STOP, campaign.status, campaign.kind)
        if prune and can_stop:
            assert campaign.live is not None
            cancels = (
                work.sendings.cancelled(campaign, campaign.live.spec)
                if work.sendings is not None and campaign.kind is not Kind.INBOUND
                else {}
            )
            work.operations[name] = Operation(
                campaign=name,
                action=Action.STOP,
                reason=Reason.MANIFEST_REMOVED,
                reason_params=cancels,
                from_version=campaign.live.number,
                to_version=campaign.live.number,
                etag=campaign.etag,
                kind=campaign.kind.value,
                channel=campaign.channel.value,
                zone=_zone(campaign.kind, campaign.live.spec),
            )
            continue
        hint = None
        if prune:
            message = (
                f"campaign {name!r} has no manifest and cannot be stopped "
                f"({campaign.kind.a_campaign} that is {campaign.status.value}); "
                "it is left as it is"
            )
        elif can_stop:
            message = f"campaign {name!r} has no manifest; it is left running"
            hint = Hint.PRUNE
        elif not campaign.activated:
            message = f"campaign {name!r} has no manifest; the draft is left as it is"
        else:
            message = f"campaign {name!r} has no manifest; it is left as it is"
        work.warnings.append(
            Diagnostic(message, campaign=name, severity=Severity.WARNING, hint=hint)
        )


def _dependency_order(operations: Mapping[str, Operation]) -> Iterable[Operation]:
    """Every operation after those it depends on (a copy after its source), otherwise by name."""
    blocked: dict[str, set[str]] = {
        name: {d for d in op.depends_on if d in operations}
        for name, op in operations.items()
        if op.depends_on  # few do: the others need no set of their own
    }
    dependents: dict[str, list[str]] = {}
    for name, deps in blocked.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(name)
    ready = [name for name in operations if not blocked.get(name)]
    heapq.heapify(ready)
    while ready:
        name = heapq.heappop(ready)
        yield operations[name]
        for dependent in dependents.get(name, ()):
            blocked[dependent].discard(name)
            if not blocked[dependent]:
                heapq.heappush(ready, dependent)
