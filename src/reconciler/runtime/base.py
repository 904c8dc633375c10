"""The runtime interface: what the reconciler needs from a campaign platform (:class:`Runtime`),
and the simulator's controls that only the embedded platform offers (:class:`Simulator`).

This module names no backend. What an operation means is decided once, in ``platform.py``, over any
store (``store.py``); backends are found by URL scheme in ``registry.py``, which this module does
not import.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from reconciler.errors import ReconcilerError
from reconciler.model import (
    RECONCILER,
    Action,
    Campaign,
    RuntimeState,
    Sending,
    Spec,
)

if TYPE_CHECKING:
    from reconciler.runtime.access import Role, SigningKey, TokenInfo
    from reconciler.runtime.engine import Step

DEFAULT_URL = "sqlite:///.reconciler/runtime.db"
LOCK_TTL_SECONDS = 300.0
#: the least a command waits for another process's write to the runtime to end
BUSY_SECONDS = 10.0

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Patience:
    """How long a command waits for the runtime while another process writes to it, and how it
    tells that it is waiting (the library does not print: the caller says what to do)."""

    seconds: float = BUSY_SECONDS
    waiting: Callable[[str], None] | None = None
    #: how long to try to reach a runtime across a network before giving up (None: the store's
    #: default, 10 s for PostgreSQL)
    connect_seconds: float | None = None


@dataclass(frozen=True)
class Provenance:
    """Who applies, and from what: recorded on every version and history entry."""

    actor: str
    commit: str | None = None
    dirty: bool = False
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
    #: the lock owner the write is made under: it lands only while that owner holds the lock
    lock_owner: str | None = None
    #: the write also takes over the campaign, made outside the reconciler (an adoption that
    #: makes a change in the same operation)
    adopt: bool = False
    #: the base hash of the manifest the spec comes from (``model.base_hash``): recorded on the
    #: version the write makes, for promotion to find
    base_hash: str | None = None
    #: the manifest's title and labels: recorded on the version the write makes
    title: str | None = None
    labels: Mapping[str, str] | None = None


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
    file: str | None = None
    dirty: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "revision": self.revision,
            "at": self.at,
            "actor": self.actor,
            "commit": self.commit,
            "dirty": self.dirty,
            "file": self.file,
            "plan_id": self.plan_id,
            "operation": self.operation,
            "campaign": self.campaign,
            "before": self.before,
            "after": self.after,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryEntry:
        return cls(
            seq=data["seq"],
            revision=data["revision"],
            at=data["at"],
            actor=data["actor"],
            commit=data.get("commit"),
            plan_id=data.get("plan_id"),
            operation=data["operation"],
            campaign=data["campaign"],
            before=data.get("before"),
            after=data.get("after"),
            file=data.get("file"),
            dirty=bool(data.get("dirty", False)),
        )


@dataclass(frozen=True)
class SessionInfo:
    """A signed-in browser's session of the dashboard, as the store keeps it (never its secret:
    the store has only its digest). It lasts while its token does, until it expires."""

    token: str  # the name of the token it was started with
    role: Role  # that token's
    csrf: str  # what the dashboard's forms carry back: a page of another site cannot know it
    created: str
    expires: str


@dataclass(frozen=True)
class PublishedPlan:
    """A plan published to the dashboard (``plan --publish``): the saved plan is kept beside it.
    ``ref`` says what it is the plan of (a pull request and commit, say): the latest plan of a
    ref supersedes the ones before it; a plan without a ref stands alone."""

    id: int  # the store's number, in the order published
    plan_id: str
    ref: str | None
    published_at: str
    published_by: str
    summary: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "plan_id": self.plan_id,
            "ref": self.ref,
            "published_at": self.published_at,
            "published_by": self.published_by,
            "summary": dict(self.summary),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PublishedPlan:
        return cls(
            id=data["id"],
            plan_id=data["plan_id"],
            ref=data.get("ref"),
            published_at=data["published_at"],
            published_by=data["published_by"],
            summary={str(k): int(v) for k, v in data["summary"].items()},
        )


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class LockOwner:
    owner: str
    pid: int
    host: str
    reason: str

    @classmethod
    def current(cls, reason: str) -> LockOwner:
        user = current_user()
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
    """What the reconciler needs from a campaign runtime. A runtime is a context manager: ``with
    open_runtime(url) as runtime:`` closes it at the end of the block."""

    @property
    def url(self) -> str:
        """Where the runtime is, as given (with its password: shown only ``redacted``)."""

    def snapshot(self) -> RuntimeState:
        """Every campaign, consistently, at one revision."""

    def runtime_id(self) -> str | None:
        """A stable identity of this runtime (None while it does not exist yet)."""

    def revision(self) -> int:
        """The runtime's revision (0 while it does not exist): cheap enough to poll."""

    def changes(self, since: int, timeout: float) -> int:
        """Wait until the revision is past ``since``, at most ``timeout`` seconds; the revision."""

    def apply(self, write: Write) -> Applied:
        """Apply one operation in one transaction, checking its etag; replay a known key."""

    def apply_batch(self, writes: Sequence[Write]) -> list[Applied | ReconcilerError]:
        """Apply operations in order in one transaction: the batch is durable whole or not at all.

        Each write is checked as :meth:`apply` checks it, and sees the writes before it. The first
        one refused (a lost lock, a moved etag, the lifecycle) ends the batch: the writes before it
        land, it does not, and its error is the last result; the writes after it are not attempted
        and have no result (the caller skips them or sends them again). Any other error (the
        backend's) rolls the whole batch back and is raised.
        """

    def applied_keys(self, prefix: str) -> frozenset[str]:
        """The idempotency keys already applied that start with ``prefix``."""

    def history(self, campaign: str | None = None, after: int = 0) -> list[HistoryEntry]:
        """The audit trail, oldest first; of one campaign when named; only what was written
        after revision ``after`` (an event stream's "what happened since")."""

    def sendings(self, campaign: str | None = None) -> list[Sending]:
        """Sendings, oldest slot first; of one campaign when named."""

    def acquire_lock(self, owner: LockOwner, ttl: float = LOCK_TTL_SECONDS) -> LockInfo | None:
        """Take the lock (or, held already by ``owner``, extend it) and return None, or return
        who holds it."""

    def release_lock(self, owner: LockOwner) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class Simulator(Protocol):
    """The controls of the embedded campaign platform, which a real one keeps to itself: its
    engine's clock, its segments, and edits made as from its console."""

    def tick(self, now: datetime) -> list[Step]:
        """Advance every campaign to ``now`` (the engine), each guarded by its etag."""

    def set_segment(self, name: str, size: int) -> None:
        """How many recipients a segment has: a sending to it lasts size / throttle seconds."""

    def segments(self) -> dict[str, int]: ...

    def edit(self, campaign: str, spec: Spec, expected_etag: str, actor: str) -> Campaign:
        """Write a new live version as an outside actor would, from a campaign console."""

    def create(
        self,
        name: str,
        spec: Spec,
        *,
        live: bool,
        actor: str,
        copied_from: str | None = None,
        copy_base: Spec | None = None,
        stopped: bool = False,
        title: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Campaign:
        """Make a campaign as a campaign console would: unmanaged, a draft or activated (and
        then stopped, when asked), a copy of ``copied_from`` when named, its version with the
        ``title`` and ``labels`` given; an existing name is refused."""


@runtime_checkable
class Administration(Protocol):
    """What an administrator does to a runtime besides its campaigns: the tokens of the runtime
    service, its plan signing key, and a lock another process left. The platform does it over a
    store; the service's client over HTTP. No secret but a new token ever comes back."""

    def create_token(self, name: str, role: Role) -> str:
        """A new token ``name`` with ``role``: its secret, which is shown this once."""

    def tokens(self) -> list[TokenInfo]:
        """Every token, by name."""

    def revoke_token(self, name: str) -> None:
        """Remove the token ``name``: it no longer authenticates."""

    def rotate_signing_key(self) -> str:
        """Make a new plan signing key, the previous one retired; the new key's id."""

    def break_lock(self) -> LockInfo | None:
        """Remove the apply lock, whoever holds it; what was held (None: nothing was)."""


@runtime_checkable
class PlanSigner(Protocol):
    """A runtime that signs and checks saved plans with a key of its own (the runtime service's,
    kept in its store): what ``plan --out`` and ``apply --plan`` use where no
    ``RECONCILER_PLAN_KEY`` is set. Plans travel as their saved JSON."""

    def sign_plan(self, plan: Mapping[str, Any]) -> dict[str, str]:
        """The plan's signature, when the caller may apply every operation in it."""

    def verify_plan(self, plan: Mapping[str, Any]) -> str:
        """The id of the key that signed the plan; refused when the runtime signed no such plan."""


@runtime_checkable
class PlanPublisher(Protocol):
    """A runtime that keeps published plans for its dashboard, and says who published them: the
    runtime service (which names the caller's token). The embedded platform publishes too, but is
    told who publishes (``Platform.publish_plan``): check for it first."""

    def publish_plan(self, data: Mapping[str, Any], ref: str | None) -> PublishedPlan:
        """Publish a saved plan (its JSON) under ``ref``: what the dashboard lists."""


@runtime_checkable
class Authority(Protocol):
    """What the runtime service asks of the runtime it serves, and keeps to itself: who a token
    is, and the keys it signs and verifies plans with."""

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The token whose secret this is; None for one unknown, revoked or malformed."""

    def signing_key(self) -> SigningKey:
        """The current plan signing key (made on first use)."""

    def signing_keys(self) -> list[SigningKey]:
        """The keys a plan may be verified with: the current one first, then those retired
        recently enough that plans they signed may still be applied."""


def single(results: Sequence[Applied | ReconcilerError]) -> Applied:
    """The result of a batch of one write, its refusal raised: :meth:`Runtime.apply`."""
    (result,) = results
    if isinstance(result, ReconcilerError):
        raise result
    return result


def redacted(url: str) -> str:
    """The URL without its password, fit for plans, messages, logs and CI artifacts.

    Done by hand rather than with urlsplit, which raises on a malformed port or host: a URL that
    cannot be parsed is the one most likely to end up in an error message.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{host}{rest[end:]}"
