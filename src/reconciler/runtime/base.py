"""The runtime interface, the semantics every backend shares, and the registry of backends by URL.

A backend stores campaigns, a revision, a history and a lock. It does not decide what an operation
means: :func:`transition` does, the same for every backend, and refuses what the lifecycle forbids,
as a campaign platform would. A backend's job is to run ``transition`` in one transaction with its
etag check, its idempotency record, the revision bump and the history entry.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from reconciler.errors import ConflictError, RuntimeBackendError, UnknownRuntimeError
from reconciler.model import (
    RECONCILER,
    Action,
    Campaign,
    Channel,
    Kind,
    RuntimeState,
    Spec,
    Status,
    Version,
    allowed,
    kind_of,
    spec_hash,
)

DEFAULT_URL = "sqlite:///.reconciler/runtime.db"
LOCK_TTL_SECONDS = 300.0

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RefusedError(RuntimeBackendError):
    """The runtime refuses an operation the lifecycle does not allow."""


@dataclass(frozen=True)
class Provenance:
    """Who applies, and from what: recorded on every version and history entry."""

    actor: str
    commit: str | None = None
    origin: str = RECONCILER


@dataclass(frozen=True)
class Write:
    """One operation as the runtime receives it: self-contained, guarded and idempotent."""

    key: str  # idempotency key: a key already applied is never applied again
    action: Action
    campaign: str
    expected_etag: str | None  # None: the campaign must not exist
    provenance: Provenance
    plan_id: str | None = None
    file: str | None = None
    spec: Spec | None = None
    copied_from: str | None = None
    copy_base: Spec | None = None
    activate: bool = False


@dataclass(frozen=True)
class Applied:
    campaign: Campaign
    revision: int
    replayed: bool = False  # the key had been applied before: nothing was done this time


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    revision: int
    at: str
    actor: str
    commit: str | None
    plan_id: str | None
    operation: str
    campaign: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "revision": self.revision,
            "at": self.at,
            "actor": self.actor,
            "commit": self.commit,
            "plan_id": self.plan_id,
            "operation": self.operation,
            "campaign": self.campaign,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True)
class LockOwner:
    owner: str
    pid: int
    host: str
    reason: str

    @classmethod
    def current(cls, reason: str) -> LockOwner:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        host = socket.gethostname()
        return cls(owner=f"{user}@{host}:{os.getpid()}", pid=os.getpid(), host=host, reason=reason)


@dataclass(frozen=True)
class LockInfo:
    holder: LockOwner
    acquired: str
    expires: str

    def describe(self) -> str:
        return (
            f"{self.holder.owner} ({self.holder.reason}) since {self.acquired}, "
            f"expires {self.expires}"
        )


class Runtime(Protocol):
    """What the reconciler needs from a campaign runtime."""

    url: str

    def snapshot(self) -> RuntimeState:
        """Every campaign, consistently, at one revision."""

    def runtime_id(self) -> str | None:
        """A stable identity of this runtime (None while it does not exist yet)."""

    def apply(self, write: Write) -> Applied:
        """Apply one operation in one transaction, checking its etag; replay a known key."""

    def applied_keys(self, prefix: str) -> frozenset[str]:
        """The idempotency keys already applied that start with ``prefix``."""

    def history(self, campaign: str | None = None) -> list[HistoryEntry]:
        """The audit trail, oldest first."""

    def acquire_lock(self, owner: LockOwner, ttl: float = LOCK_TTL_SECONDS) -> LockInfo | None:
        """Take the lock and return None, or return who holds it."""

    def release_lock(self, owner: LockOwner) -> None: ...

    def close(self) -> None: ...


# --- what an operation does -----------------------------------------------------------------


def _start_of(spec: Spec) -> datetime | None:
    """When an activated campaign starts: a later start makes it scheduled, not live."""
    schedule = spec.get("schedule") or {}
    start: str | None = None
    if "once" in schedule:
        start = schedule["once"].get("at")
    elif isinstance(schedule.get("recurring"), Mapping):
        start = schedule["recurring"].get("start")
    elif isinstance(spec.get("window"), Mapping):
        start = spec["window"].get("start")
    if not start:
        return None
    return datetime.fromisoformat(start.replace("Z", "+00:00"))


def activation_status(spec: Spec, now: datetime) -> Status:
    start = _start_of(spec)
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return Status.SCHEDULED if start is not None and start > now else Status.LIVE


def transition(before: Campaign | None, write: Write, *, etag: str, now: datetime) -> Campaign:
    """The campaign ``write`` makes of ``before``; refuses a moved etag and a forbidden transition.

    Every new spec gets the next version number; promoting a staged draft keeps the draft's number.
    """
    current_etag = before.etag if before is not None else None
    if current_etag != write.expected_etag:
        raise ConflictError(
            f"campaign {write.campaign!r} changed since it was planned "
            f"(etag {write.expected_etag or 'absent'}, now {current_etag or 'absent'}); plan again"
        )
    spec = write.spec
    kind = Kind(before.kind) if before is not None else _kind(spec)
    if not allowed(write.action, before.status if before else None, kind):
        state = before.status.value if before else "absent"
        raise RefusedError(
            f"the runtime refuses to {write.action.value} {write.campaign!r}: "
            f"not allowed for {kind.a_campaign} that is {state}"
        )
    stamp = timestamp(now)

    def version_for(new_spec: Spec, count: int, staged: Version | None) -> tuple[Version, int]:
        digest = spec_hash(new_spec)
        if staged is not None and staged.hash == digest:
            return staged, count
        return (
            Version(
                number=count + 1,
                spec=new_spec,
                hash=digest,
                commit=write.provenance.commit,
                file=write.file,
                actor=write.provenance.actor,
                applied_at=stamp,
                origin=write.provenance.origin,
            ),
            count + 1,
        )

    action = write.action
    if before is None:
        assert spec is not None
        version, count = version_for(spec, 0, None)
        activate = action is Action.ACTIVATE or (action is Action.COPY and write.activate)
        return Campaign(
            name=write.campaign,
            channel=Channel(spec["channel"]),
            kind=kind,
            status=activation_status(spec, now) if activate else Status.DRAFT,
            live=version if activate else None,
            draft=None if activate else version,
            etag=etag,
            versions=count,
            copied_from=write.copied_from,
            copy_base=write.copy_base,
        )
    out = replace(before, etag=etag)
    if before.status is Status.DRAFT and spec is not None:
        # a draft that was never live may still change channel and kind
        out = replace(out, channel=Channel(spec["channel"]), kind=kind_of(spec))
    if action is Action.ACTIVATE:
        assert spec is not None
        version, count = version_for(spec, before.versions, before.draft)
        return replace(
            out, status=activation_status(spec, now), live=version, draft=None, versions=count
        )
    if action is Action.UPDATE:
        assert spec is not None
        version, count = version_for(spec, before.versions, None)
        return replace(out, draft=version, versions=count)
    if action is Action.REPLACE:
        assert spec is not None
        version, count = version_for(spec, before.versions, before.draft)
        return replace(out, live=version, draft=None, versions=count)
    if action is Action.DISCARD:
        return replace(out, draft=None)
    if action is Action.STOP:
        return replace(out, status=Status.STOPPED)
    if action is Action.RESUME:
        if spec is None or (before.live is not None and before.live.hash == spec_hash(spec)):
            return replace(out, status=Status.LIVE, draft=None)
        version, count = version_for(spec, before.versions, before.draft)
        return replace(out, status=Status.LIVE, live=version, draft=None, versions=count)
    raise RefusedError(f"the runtime cannot {action.value} an existing campaign")


def _kind(spec: Spec | None) -> Kind:
    if spec is None:
        raise RefusedError("a new campaign needs a spec")
    return kind_of(spec)


# --- registry -------------------------------------------------------------------------------------

Opener = Callable[[str, Clock], Runtime]


@dataclass
class Registry:
    openers: dict[str, Opener] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    def register(self, scheme: str, example: str) -> Callable[[Opener], Opener]:
        def decorate(opener: Opener) -> Opener:
            self.openers[scheme] = opener
            self.examples[scheme] = example
            return opener

        return decorate

    def open(self, url: str, clock: Clock = utcnow) -> Runtime:
        scheme, sep, _ = url.partition("://")
        opener = self.openers.get(scheme) if sep else None
        if opener is None:
            known = ", ".join(self.examples[s] for s in sorted(self.examples))
            raise UnknownRuntimeError(f"unknown runtime URL {url!r:.100}; known kinds: {known}")
        return opener(url, clock)


REGISTRY = Registry()


def open_runtime(url: str | None = None, clock: Clock = utcnow) -> Runtime:
    """Open the runtime at ``url``; by default the embedded SQLite runtime in the working dir."""
    import reconciler.runtime.memory
    import reconciler.runtime.sqlite  # noqa: F401  (backends register themselves on import)

    return REGISTRY.open(url or DEFAULT_URL, clock)
