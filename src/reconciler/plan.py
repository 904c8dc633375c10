"""Plans: immutable, self-describing lists of operations, and their saved (JSON) form.

A plan holds everything ``apply`` needs: the full spec each operation writes, the etag each campaign
must still have, and the runtime it was made against. Apply consumes only the plan, never the
manifests, so a reviewed plan is exactly what runs.

A saved plan is a file that travels between CI jobs, so reading one trusts nothing that can be
recomputed: the summary is counted again, each operation's shape is checked against its action, each
spec against its hash, and the id against the whole. These catch mistakes and careless edits, not an
attacker, who can recompute them all; against an attacker a plan is signed (``signing``).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.actions import SUMMARY_ORDER
from reconciler.errors import Diagnostic, PlanError, Severity
from reconciler.model import Action, Spec, canonical_json, parse_moment, spec_hash

#: 2: operations carry ``spec_hash``, and a plan may carry a ``signature``; 3: an operation's
#: reason is a code and its parameters, its sendings instants and a zone
FORMAT_VERSION = 3


class Reason(enum.StrEnum):
    """Why an operation is planned: a code, with its parameters in ``Operation.reason_params``
    (as Terraform's ``ActionReason``). The views word it, each in its own way; the library's data
    holds no prose (and no command-line flag)."""

    NEW_DRAFT = "new-draft"  # create: not in the runtime, the manifest says draft
    NEW_LIVE = "new-live"  # activate: not in the runtime, the manifest says live
    DRAFT_GOES_LIVE = "draft-goes-live"  # activate: a draft that was never live
    NEW_COPY = "new-copy"  # copy; params: source, state
    DRAFT_CHANGED = "draft-changed"  # update of a draft that was never live
    CHANGE_STAGED = "change-staged"  # update of a live campaign; params: draft, live
    SPEC_CHANGED = "spec-changed"  # replace; params: live
    STAGED_REPLACES = "staged-replaces"  # replace by the staged draft; params: draft, live
    DRIFT_RESTORED = "drift-restored"  # replace of an outside version; params: live
    LIVE_MATCHED = "live-matched"  # discard; params: draft, live
    #: stop; params: cancels (the sending it cancels, None if none is left; absent when not
    #: known: planned without a now), in_progress (the sending that goes on, if any)
    STOP_REQUESTED = "stop-requested"
    #: stop of a campaign whose manifest was removed (pruning); params as STOP_REQUESTED
    MANIFEST_REMOVED = "manifest-removed"
    #: resume; params: staged (a version staged as draft), replaces (the version that replaces
    #: the live one), discards (a staged draft discarded), each when it happens
    RESUME_REQUESTED = "resume-requested"
    #: adopt: a campaign made outside the reconciler, which the manifest matches; params: origin,
    #: actor (who made its version in view: the live one, else the draft)
    ADOPTED = "adopted"


#: the actions a plan may hold, in the order of its summary
ACTION_ORDER: tuple[Action, ...] = SUMMARY_ORDER


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class Operation:
    campaign: str
    action: Action
    reason: Reason
    file: str | None = None
    from_version: int | None = None
    to_version: int | None = None
    #: the fields it changes; a copy's, those that differ from its source's live spec, with
    #: ``inherited`` counting the fields taken from the source as they are
    changes: tuple[FieldChange, ...] = ()
    inherited: int = 0
    #: the campaign's etag when planned; None means the campaign must not exist yet
    etag: str | None = None
    #: the hash of the manifest document the operation comes from
    manifest_hash: str | None = None
    #: the complete spec this operation writes (None for stop and discard), and its hash: a saved
    #: plan's spec is checked against it before anything is applied
    spec: Spec | None = None
    spec_hash: str | None = None
    kind: str | None = None
    channel: str | None = None
    #: for copy: the source, the source spec copied, and whether the copy ends live
    copied_from: str | None = None
    copy_base: Spec | None = None
    activate: bool = False
    #: for a copy of a campaign outside the plan: the source's etag, which must not move either
    source_etag: str | None = None
    depends_on: tuple[str, ...] = ()
    #: who wrote the live version when it is not the reconciler (the plan restores the manifest)
    drift: str | None = None
    #: the parameters of ``reason`` (plain JSON values; instants as RFC 3339 text)
    reason_params: Mapping[str, Any] = field(default_factory=dict)
    #: the next sendings once applied, and, for a schedule change, the next ones before it: a
    #: reviewer sees what a schedule change does. Instants, shown in ``zone`` (the campaign's)
    next_sendings: tuple[datetime, ...] = ()
    sendings_before: tuple[datetime, ...] = ()
    zone: str | None = None
    zone_before: str | None = None  # the live version's, for the sendings before
    #: a one-time campaign without a schedule: it sends as it is activated
    on_activation: bool = False
    #: the operation also adopts the campaign, made outside the reconciler (reconciler/adopt)
    adopt: bool = False
    #: the manifest's labels: what a freeze's selector matches, again when a saved plan is applied
    labels: Mapping[str, str] = field(default_factory=dict)
    #: for an operation that writes a spec: the base hash of its manifest (``model.base_hash``,
    #: before any environment's overlay), which the version it writes records. Promotion looks
    #: for it among the versions that have been live in the environment promoted from
    base_hash: str | None = None
    #: the manifest's ``metadata.title``, which the version the operation writes records
    title: str | None = None

    def key(self, plan_id: str) -> str:
        """The idempotency key: the same operation of the same plan is applied at most once."""
        return f"{plan_id}/{self.campaign}/{self.action.value}"

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "action": self.action.value,
            "file": self.file,
            "reason_code": self.reason.value,
            "reason_params": dict(self.reason_params),
            "from_version": self.from_version,
            "to_version": self.to_version,
            "changes": [c.to_json() for c in self.changes],
            "inherited": self.inherited,
            "etag": self.etag,
            "manifest_hash": self.manifest_hash,
            "spec_hash": self.spec_hash,
            "kind": self.kind,
            "channel": self.channel,
            "spec": self.spec,
            "copied_from": self.copied_from,
            "copy_base": self.copy_base,
            "activate": self.activate,
            "source_etag": self.source_etag,
            "depends_on": list(self.depends_on),
            "drift": self.drift,
            "zone": self.zone,
            "next_sendings": [m.isoformat() for m in self.next_sendings],
            "zone_before": self.zone_before,
            "sendings_before": [m.isoformat() for m in self.sendings_before],
            "on_activation": self.on_activation,
        } | self._optional()

    def _optional(self) -> dict[str, Any]:
        """The keys written only when they say something: older plans read the same."""
        found: dict[str, Any] = {"adopt": True} if self.adopt else {}
        if self.labels:
            found["labels"] = dict(self.labels)
        if self.base_hash is not None:
            found["base_hash"] = self.base_hash
        if self.title is not None:
            found["title"] = self.title
        return found

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Operation:
        return cls(
            campaign=data["campaign"],
            action=Action(data["action"]),
            reason=Reason(data["reason_code"]),
            reason_params=dict(data.get("reason_params") or {}),
            file=data.get("file"),
            from_version=data.get("from_version"),
            to_version=data.get("to_version"),
            changes=tuple(
                FieldChange(c["path"], c.get("before"), c.get("after"))
                for c in data.get("changes", ())
            ),
            inherited=data.get("inherited", 0),
            etag=data.get("etag"),
            manifest_hash=data.get("manifest_hash"),
            spec=data.get("spec"),
            spec_hash=data.get("spec_hash"),
            kind=data.get("kind"),
            channel=data.get("channel"),
            copied_from=data.get("copied_from"),
            copy_base=data.get("copy_base"),
            activate=bool(data.get("activate", False)),
            source_etag=data.get("source_etag"),
            depends_on=tuple(data.get("depends_on", ())),
            drift=data.get("drift"),
            zone=data.get("zone"),
            zone_before=data.get("zone_before"),
            next_sendings=tuple(map(parse_moment, data.get("next_sendings", ()))),
            sendings_before=tuple(map(parse_moment, data.get("sendings_before", ()))),
            on_activation=bool(data.get("on_activation", False)),
            adopt=bool(data.get("adopt", False)),
            labels=dict(data.get("labels") or {}),
            base_hash=data.get("base_hash"),
            title=data.get("title"),
        )


@dataclass(frozen=True)
class Signature:
    """A saved plan's signature: an HMAC of the plan (with its id), the key's id and the time.

    Data only: ``signing`` makes and checks it. The key id is a short digest of the key, never
    the key: it tells which key signed, so that a plan signed with another one is named as such.
    """

    algorithm: str
    key_id: str
    signed_at: str
    value: str

    def to_json(self) -> dict[str, str]:
        return {
            "algorithm": self.algorithm,
            "key_id": self.key_id,
            "signed_at": self.signed_at,
            "value": self.value,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Signature:
        return cls(data["algorithm"], data["key_id"], data["signed_at"], data["value"])


@dataclass(frozen=True)
class Plan:
    runtime: str
    runtime_id: str | None
    runtime_revision: int
    operations: tuple[Operation, ...] = ()
    #: the git commit the manifests were read at, and whether they differed from it: apply
    #: records these, whenever it runs
    commit: str | None = None
    dirty: bool = False
    #: the campaigns the plan was limited to (--target), and how many manifests that left out
    targets: tuple[str, ...] = ()
    left_out: int = 0
    unchanged: int = 0
    errors: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    #: what the change makes of the policies (the project file's): a reviewer reads it first
    policy_changes: tuple[FieldChange, ...] = ()
    policy_file: str | None = None  # the project file they are in
    #: set on a signed saved plan; not part of the plan's content (nor of its id, nor of equality):
    #: it is made over that content
    signature: Signature | None = field(default=None, compare=False)

    @functools.cached_property
    def plan_id(self) -> str:
        """The plan's identity, made from its whole content (when first asked: it costs a hash of
        every operation)."""
        return _content_id(self.to_json(with_id=False))

    @property
    def has_changes(self) -> bool:
        return bool(self.operations)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict[str, int]:
        counts = Counter(op.action for op in self.operations)
        out = {action.value: counts.get(action, 0) for action in ACTION_ORDER}
        out["unchanged"] = self.unchanged
        out["errors"] = len(self.errors)
        return out

    def to_json(self, *, with_id: bool = True) -> dict[str, Any]:
        body = {
            "format_version": FORMAT_VERSION,
            "runtime": self.runtime,
            "runtime_id": self.runtime_id,
            "runtime_revision": self.runtime_revision,
            "commit": self.commit,
            "dirty": self.dirty,
            "targets": list(self.targets),
            "left_out": self.left_out,
            "summary": self.summary(),
            "operations": [op.to_json() for op in self.operations],
            "errors": [d.to_json() for d in self.errors],
            "warnings": [d.to_json() for d in self.warnings],
        }
        if self.policy_changes:
            body["policy_file"] = self.policy_file
            body["policy_changes"] = [c.to_json() for c in self.policy_changes]
        if not with_id:
            return body
        # The id is made from this same body: when it is not known yet, it is made from the body
        # at hand rather than from a second one built for it (a plan of 10,000 campaigns is two
        # million values). functools.cached_property keeps plan_id in the instance's __dict__.
        if "plan_id" not in self.__dict__:
            self.__dict__["plan_id"] = _content_id(body)
        return {"format_version": FORMAT_VERSION, "plan_id": self.plan_id} | body


def _content_id(body: Mapping[str, Any]) -> str:
    return "plan-" + hashlib.sha256(canonical_json(body).encode()).hexdigest()[:16]


_NULLABLE_STR = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"], "minimum": 1}
_NULLABLE_OBJ = {"type": ["object", "null"]}
_INSTANT = {"type": "string", "format": "date-time"}
_DIAGNOSTIC = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "file": _NULLABLE_STR,
        "campaign": _NULLABLE_STR,
        "line": _NULLABLE_INT,
        "column": _NULLABLE_INT,
        "policy": _NULLABLE_STR,
        "policy_file": _NULLABLE_STR,
        "policy_line": _NULLABLE_INT,
    },
}
#: the shape of a saved plan: what apply relies on is checked before anything is read from it
SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["runtime", "runtime_revision", "summary", "operations", "errors", "warnings"],
    "properties": {
        "plan_id": {"type": "string"},
        "runtime": {"type": "string"},
        "runtime_id": _NULLABLE_STR,
        "runtime_revision": {"type": "integer", "minimum": 0},
        "commit": _NULLABLE_STR,
        "dirty": {"type": "boolean"},
        "targets": {"type": "array", "items": {"type": "string"}},
        "left_out": {"type": "integer", "minimum": 0},
        "summary": {
            "type": "object",
            "required": ["unchanged"],
            "properties": {"unchanged": {"type": "integer", "minimum": 0}},
        },
        "operations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["campaign", "action", "reason_code"],
                "properties": {
                    "campaign": {"type": "string"},
                    "action": {"enum": [a.value for a in ACTION_ORDER]},
                    "reason": {"type": "string"},  # the wording, for people: not read
                    "reason_code": {"enum": [r.value for r in Reason]},
                    "reason_params": {
                        "type": "object",
                        "additionalProperties": {"type": ["string", "integer", "boolean", "null"]},
                    },
                    "zone": _NULLABLE_STR,
                    "zone_before": _NULLABLE_STR,
                    "on_activation": {"type": "boolean"},
                    "adopt": {"type": "boolean"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "title": {"type": "string"},
                    "file": _NULLABLE_STR,
                    "from_version": _NULLABLE_INT,
                    "to_version": _NULLABLE_INT,
                    "inherited": {"type": "integer", "minimum": 0},
                    "etag": _NULLABLE_STR,
                    "manifest_hash": _NULLABLE_STR,
                    "spec_hash": _NULLABLE_STR,
                    "base_hash": _NULLABLE_STR,
                    "kind": _NULLABLE_STR,
                    "channel": _NULLABLE_STR,
                    "spec": _NULLABLE_OBJ,
                    "copied_from": _NULLABLE_STR,
                    "copy_base": _NULLABLE_OBJ,
                    "activate": {"type": "boolean"},
                    "source_etag": _NULLABLE_STR,
                    "depends_on": {"type": "array", "items": {"type": "string"}},
                    "drift": _NULLABLE_STR,
                    "next_sendings": {"type": "array", "items": _INSTANT},
                    "sendings_before": {"type": "array", "items": _INSTANT},
                    "changes": {
                        "type": "array",
                        "items": {"type": "object", "required": ["path"]},
                    },
                },
            },
        },
        "errors": {"type": "array", "items": _DIAGNOSTIC},
        "warnings": {"type": "array", "items": _DIAGNOSTIC},
        "policy_file": _NULLABLE_STR,
        "policy_changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path"],
                "properties": {"path": {"type": "string"}},
            },
        },
        "signature": {
            "type": "object",
            "required": ["algorithm", "key_id", "signed_at", "value"],
            "properties": {
                "algorithm": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
                "key_id": {"type": "string", "pattern": "^[0-9a-f]{1,64}$"},
                "signed_at": {
                    "type": "string",
                    "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                },
                "value": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            },
        },
    },
}

#: actions that write a spec: every other one (stop, discard) carries none
WRITES_SPEC = frozenset(
    {Action.CREATE, Action.ACTIVATE, Action.UPDATE, Action.REPLACE, Action.COPY, Action.RESUME}
)
#: actions that may end with the campaign activated by the same operation
MAY_ACTIVATE = frozenset({Action.COPY, Action.RESUME})
ALTERED = "the plan was altered after it was made. Nothing was applied"


def loads(text: str, source: str = "<plan>") -> Plan:
    """Read a saved plan, refusing anything that is not one this version can apply, and any
    plan whose content does not agree with itself (see the module's docstring)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PlanError(f"{source}: not a saved plan (invalid JSON: {exc})") from exc
    return from_data(data, source)


def from_data(data: Any, source: str = "<plan>") -> Plan:
    """:func:`loads` of a saved plan already read as JSON (a request's body, say)."""
    if not isinstance(data, dict) or "format_version" not in data:
        raise PlanError(f"{source}: not a saved plan (no format_version)")
    if data["format_version"] in (1, 2):
        raise PlanError(
            f"{source}: plan format {data['format_version']} was made by an older reconciler "
            f"(this one reads format {FORMAT_VERSION}); nothing was applied. Plan again"
        )
    if data["format_version"] != FORMAT_VERSION:
        raise PlanError(
            f"{source}: plan format {data['format_version']!r:.20} is not supported "
            f"(this reconciler reads format {FORMAT_VERSION}); plan again"
        )
    from jsonschema import Draft202012Validator  # here: only reading a saved plan needs it

    problem = next(iter(Draft202012Validator(SHAPE).iter_errors(data)), None)
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "the plan"
        raise PlanError(f"{source}: not a valid saved plan: {where}: {problem.message:.120}")
    try:
        plan = Plan(
            runtime=data["runtime"],
            runtime_id=data.get("runtime_id"),
            runtime_revision=data["runtime_revision"],
            operations=tuple(Operation.from_json(o) for o in data["operations"]),
            commit=data.get("commit"),
            dirty=bool(data.get("dirty", False)),
            targets=tuple(data.get("targets", ())),
            left_out=data.get("left_out", 0),
            unchanged=data["summary"]["unchanged"],
            errors=tuple(Diagnostic.from_json(d, Severity.ERROR) for d in data["errors"]),
            warnings=tuple(Diagnostic.from_json(d, Severity.WARNING) for d in data["warnings"]),
            policy_file=data.get("policy_file"),
            policy_changes=tuple(
                FieldChange(c["path"], c.get("before"), c.get("after"))
                for c in data.get("policy_changes", ())
            ),
            signature=Signature.from_json(data["signature"]) if "signature" in data else None,
        )
    except (KeyError, TypeError, ValueError) as exc:  # pragma: no cover - SHAPE rules these out
        raise PlanError(f"{source}: not a valid saved plan ({exc!r:.80})") from exc
    _check_summary(plan, data["summary"], source)
    names = {op.campaign for op in plan.operations}
    seen: set[str] = set()
    for op in plan.operations:
        problem_of_op = _shape_problem(op, names, seen)
        if problem_of_op is not None:
            raise PlanError(
                f"{source}: operation {_named(op.campaign)} ({op.action.value}): {problem_of_op}; "
                f"{ALTERED}"
            )
    if plan.plan_id != data.get("plan_id"):
        raise PlanError(f"{source}: its plan_id does not match its content; {ALTERED}")
    return plan


def _named(name: str) -> str:
    """A campaign name read from a saved plan, fit for a one-line message whoever wrote it."""
    return name if name.isprintable() and len(name) <= 100 else repr(name[:100])


def _check_summary(plan: Plan, summary: Mapping[str, Any], source: str) -> None:
    """The summary is what a reviewer reads first: it must count what the plan does."""
    counted = plan.summary()
    for key in [*counted, *(k for k in summary if k not in counted)]:
        if key != "unchanged" and summary.get(key) != counted.get(key, 0):
            raise PlanError(
                f"{source}: its summary does not match its operations ({key!r:.40}: "
                f"{summary.get(key)!r:.20} in the summary, {counted.get(key, 0)} counted); "
                f"{ALTERED}"
            )


def _shape_problem(op: Operation, names: set[str], seen: set[str]) -> str | None:
    """What about ``op`` its action rules out, or its spec hash contradicts; None when nothing.

    ``names`` are the campaigns of the plan; ``seen`` those of the operations before this one.
    """
    a = op.action.value
    if op.campaign in seen:
        return "the campaign has another operation before this one"
    seen.add(op.campaign)
    if op.action in WRITES_SPEC and op.spec is None:
        return f"a {a} writes a spec, and it has none"
    if op.action not in WRITES_SPEC and (
        op.spec is not None or op.spec_hash is not None or op.base_hash is not None
    ):
        return f"a {a} writes no spec, and it has one"
    if op.activate and op.action not in MAY_ACTIVATE:
        return f"a {a} does not activate, and it says activate"
    if op.action is Action.COPY and op.copied_from is None:
        return "a copy names its source, and it has no copied_from"
    if op.action is not Action.COPY and (
        op.copied_from is not None or op.copy_base is not None or op.source_etag is not None
    ):
        return f"a {a} has no source, and it has copied_from, copy_base or source_etag"
    strangers = [d for d in op.depends_on if d not in names and d != op.copied_from]
    if strangers:
        return (
            f"it depends on {strangers[0]!r:.80}, which is neither a campaign of the plan nor "
            "its source"
        )
    if op.spec is not None and op.spec_hash != spec_hash(op.spec):
        return "its spec does not match its spec_hash"
    return None
