"""The nouns of the reconciler: manifests (desired state) and campaigns (actual state).

Everything here is immutable. Specs are plain JSON-shaped mappings; they are never mutated after
construction, and :func:`spec_hash` gives the identity used everywhere a spec is compared.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NamedTuple

#: What the reconciler writes into ``Version.origin`` for the versions it applies. Any other origin
#: is an outside writer (a campaign console, a person), which the planner reports as drift.
RECONCILER = "reconciler"

Spec = Mapping[str, Any]


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    IN_APP = "in-app"
    WEB = "web"
    CODE_BASED = "code-based"
    CONTENT_CARD = "content-card"

    @property
    def inbound(self) -> bool:
        return self in INBOUND_CHANNELS


INBOUND_CHANNELS = frozenset(
    {Channel.IN_APP, Channel.WEB, Channel.CODE_BASED, Channel.CONTENT_CARD}
)


class Kind(enum.StrEnum):
    ONE_TIME = "one-time"
    RECURRING = "recurring"
    INBOUND = "inbound"

    @property
    def a_campaign(self) -> str:
        """'a recurring campaign', 'an inbound campaign': for messages."""
        return f"{'an' if self is Kind.INBOUND else 'a'} {self.value} campaign"


class Status(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    LIVE = "live"
    STOPPING = "stopping"
    STOPPED = "stopped"
    COMPLETED = "completed"

    @property
    def activated(self) -> bool:
        """A scheduled campaign is as live as a live one: it has been activated."""
        return self is not Status.DRAFT


class DesiredState(enum.StrEnum):
    DRAFT = "draft"
    LIVE = "live"


class Run(enum.StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"


class Action(enum.StrEnum):
    CREATE = "create"
    ACTIVATE = "activate"
    UPDATE = "update"
    REPLACE = "replace"
    DISCARD = "discard"
    STOP = "stop"
    RESUME = "resume"
    COPY = "copy"
    #: the reconciler takes over a campaign made outside it; the campaign itself is untouched
    ADOPT = "adopt"
    #: not a plan action: an outside writer (a campaign console) replacing the live version
    EDIT = "edit"


_MODIFIABLE = frozenset({Kind.RECURRING, Kind.INBOUND})
_EVERY = frozenset(Kind)
_ACTIVE = (Status.LIVE, Status.SCHEDULED)

# The lifecycle's law: which operation may be applied to a campaign in which status (None: not in
# the runtime), for which kinds. The planner's rules are one policy inside it; the runtime refuses
# anything outside it, as a campaign platform would.
ALLOWED: Mapping[Action, Mapping[Status | None, frozenset[Kind]]] = {
    Action.CREATE: {None: _EVERY},
    Action.COPY: {None: _EVERY},
    Action.ACTIVATE: {None: _EVERY, Status.DRAFT: _EVERY},
    Action.UPDATE: {Status.DRAFT: _EVERY, **dict.fromkeys(_ACTIVE, _MODIFIABLE)},
    Action.REPLACE: dict.fromkeys(_ACTIVE, _MODIFIABLE),
    Action.DISCARD: dict.fromkeys(_ACTIVE, _MODIFIABLE),
    Action.STOP: dict.fromkeys(_ACTIVE, _MODIFIABLE),
    Action.RESUME: {Status.STOPPED: frozenset({Kind.INBOUND})},
    # whatever a console made may be taken over, in whatever status it is
    Action.ADOPT: dict.fromkeys(Status, _EVERY),
    # a console edits whatever has a live version, lifecycle or not: that is how drift happens
    Action.EDIT: dict.fromkeys((*_ACTIVE, Status.STOPPING, Status.STOPPED), _EVERY),
}


def allowed(action: Action, status: Status | None, kind: Kind) -> bool:
    return kind in ALLOWED[action].get(status, frozenset())


def kind_of(spec: Spec) -> Kind:
    """The kind follows from the spec: inbound channel, else recurring schedule, else one-time."""
    if Channel(spec["channel"]).inbound:
        return Kind.INBOUND
    schedule = spec.get("schedule") or {}
    return Kind.RECURRING if "recurring" in schedule else Kind.ONE_TIME


def segment_of(spec: Spec | None) -> str | None:
    """The segment an outbound campaign's spec sends to, when it names one."""
    audience = (spec or {}).get("audience")
    segment = audience.get("segment") if isinstance(audience, Mapping) else None
    return segment if isinstance(segment, str) else None


def parse_moment(moment: str) -> datetime:
    """A stored timestamp (ISO 8601, 'Z' or an offset) as an aware datetime."""
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.ASCII)
_NO_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", re.ASCII)


def instant(text: str) -> datetime:
    """A manifest's date-time (RFC 3339, with an offset) as an aware datetime, or ValueError saying
    what is wrong with it.

    The one place where a manifest's date-times are read: validation, schedules, the engine and the
    runtime all take them from here, so that what validates is what they can compute with. An
    instant must fall in the years 1 to 9999 in UTC as well as in its own offset (every date-time
    is compared and stored in UTC), and a leap second (``:60``) is refused: Python's datetime, like
    most platforms, has none.
    """
    if not _RFC3339.fullmatch(text):
        if _NO_OFFSET.fullmatch(text):
            raise ValueError(f"{text!r:.60} has no offset: add Z for UTC, or one like +01:00")
        raise ValueError(f"{text!r:.60} is not a date-time like 2026-12-01T09:00:00+01:00")
    if text[17:19] == "60":
        raise ValueError(f"{text!r:.60} is a leap second (:60), which is not supported")
    try:
        moment = datetime.fromisoformat(text)
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{text!r:.60} is out of range: a date-time must fall in the years 1 to 9999 in UTC"
        ) from None
    except ValueError:
        raise ValueError(f"{text!r:.60} is not a valid date-time (no such date or time)") from None
    return moment


def date_time_problem(value: object) -> str | None:
    """Why ``value`` is not a manifest date-time, or None when it is one (or not a string: the
    schema's type says so)."""
    if not isinstance(value, str):
        return None
    try:
        instant(value)
    except ValueError as exc:
        return str(exc)
    return None


#: ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` makes this
#: encoder on every call; a plan hashes a spec per campaign
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """The one serialisation used for hashing and for storing specs: sorted keys, no spaces."""
    return _CANONICAL.encode(value)


def spec_hash(spec: Spec) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def overlay(base: Spec, top: Spec) -> dict[str, Any]:
    """``top`` laid over ``base``: mappings merged key by key, lists and scalars replaced."""
    merged: dict[str, Any] = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = overlay(below, value)
        else:
            merged[key] = value
    return merged


_NOTHING: Mapping[str, str] = MappingProxyType({})


class Position(NamedTuple):
    """A place in a manifest file, 1-based. A tuple: manifests hold many, and caches store them."""

    line: int
    column: int


class Manifest(NamedTuple):
    """One campaign document, as read from the repository.

    ``spec`` is the versioned part of the campaign: the manifest's ``spec`` without the lifecycle
    controls ``state``, ``run`` and ``copyFrom``. With ``copy_from`` it may be partial.

    Immutable, and a named tuple rather than a frozen dataclass: every run builds one per campaign
    (from the parse cache), and a tuple is built in a fifth of the time.
    """

    name: str
    file: str
    position: Position  # where the document starts
    state: DesiredState
    run: Run
    spec: Spec
    copy_from: str | None = None
    title: str | None = None
    labels: Mapping[str, str] = _NOTHING
    annotations: Mapping[str, str] = _NOTHING
    #: the environments of the project file the campaign exists in (metadata.environments);
    #: None: every one
    environments: tuple[str, ...] | None = None
    #: where the fields the planner may need to point at are, one per line: ``"\nspec.run 12 8\n"``
    #: for the key ``run`` of ``spec`` at line 12, column 8 (its value's place). One string rather
    #: than a dict of tuples: manifests are many, cached, and seldom pointed at
    positions: str = ""
    #: identity of the whole document; a saved plan records it per operation
    hash: str = ""
    #: the :func:`base_hash` of the manifest as written, before an environment's overlay patched
    #: it; "" when no overlay did (the manifest's own is then its base hash). Promotion compares
    #: base hashes: what ran in staging is the same manifest whatever each environment lays over it
    base_hash: str = ""

    def where(self, path: str) -> Position:
        """Where the field at ``path`` is, or the nearest field above it that is in the file (a
        removed field is pointed at by the mapping it was in), or else the document."""
        return position_of(self.positions, path, self.position)

    def key_at(self, top: str) -> Position:
        """Where the key ``top`` of the document (``metadata``, ``spec``) is: the line that says
        ``metadata:``, where :meth:`where` gives its value's first line."""
        start = self.positions.find(f"\n{top}: ")
        if start < 0:
            return self.where(top)
        line, column = self.positions[
            start + len(top) + 3 : self.positions.find("\n", start + 1)
        ].split()
        return Position(int(line), int(column))


def base_hash(m: Manifest) -> str:
    """The identity of what the manifest itself asks for, before any environment's overlay: its
    ``copyFrom`` and its (versioned) ``spec``. Not the spec a version holds: that one differs
    between environments (segments, senders), where this one is the same in all of them."""
    return spec_hash({"copyFrom": m.copy_from, "spec": m.spec})


def position_of(positions: str, path: str, document: Position) -> Position:
    """Where the field at ``path`` is, by ``positions`` (as :attr:`Manifest.positions` packs
    them), or the nearest field above it that is there, or else ``document``."""
    while path:
        start = positions.find(f"\n{path} ")
        if start >= 0:
            line, column = positions[
                start + len(path) + 2 : positions.find("\n", start + 1)
            ].split()
            return Position(int(line), int(column))
        path = path.rpartition(".")[0]
    return document


@dataclass(frozen=True)
class Version:
    number: int
    spec: Spec
    hash: str
    commit: str | None
    file: str | None
    actor: str
    applied_at: str
    origin: str = RECONCILER
    dirty: bool = False  # the manifests had uncommitted changes: the commit alone does not hold it
    #: the base hash of the manifest that produced it (``base_hash``): what promotion looks for.
    #: None for a version written before versions recorded it, or from outside the reconciler
    base_hash: str | None = None
    #: the manifest's ``metadata.title`` and ``labels`` when the version was written (None: the
    #: manifest had none, or the version was written before versions recorded them, or from
    #: outside the reconciler): the runtime knows what its campaigns are called
    title: str | None = None
    labels: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "number": self.number,
            "spec": self.spec,
            "hash": self.hash,
            "commit": self.commit,
            "dirty": self.dirty,
            "file": self.file,
            "actor": self.actor,
            "applied_at": self.applied_at,
            "origin": self.origin,
        }
        if self.base_hash is not None:  # written only when known: older records read the same
            data["base_hash"] = self.base_hash
        if self.title is not None:
            data["title"] = self.title
        if self.labels is not None:
            data["labels"] = dict(self.labels)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Version:
        return cls(
            number=data["number"],
            spec=data["spec"],
            hash=data["hash"],
            commit=data.get("commit"),
            file=data.get("file"),
            actor=data["actor"],
            applied_at=data["applied_at"],
            origin=data.get("origin", RECONCILER),
            dirty=bool(data.get("dirty", False)),
            base_hash=data.get("base_hash"),
            title=data.get("title"),
            labels=dict(data["labels"]) if data.get("labels") is not None else None,
        )


class SendingOutcome(enum.StrEnum):
    RUNNING = "running"
    SENT = "sent"
    SKIPPED = "skipped"  # its slot passed while the engine was not running, or another still ran
    CANCELLED = "cancelled"  # the campaign was stopped before it


@dataclass(frozen=True)
class Sending:
    """One sending of an outbound campaign, as the runtime's engine runs it."""

    id: str
    campaign: str
    version: int  # the live version it started with: a later replace does not touch it
    scheduled: str  # the slot it was due at
    outcome: SendingOutcome
    started: str | None = None
    ends: str | None = None  # when it finishes: its audience at its throttle rate
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "campaign": self.campaign,
            "version": self.version,
            "scheduled": self.scheduled,
            "outcome": self.outcome.value,
            "started": self.started,
            "ends": self.ends,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sending:
        return cls(
            id=data["id"],
            campaign=data["campaign"],
            version=data["version"],
            scheduled=data["scheduled"],
            outcome=SendingOutcome(data["outcome"]),
            started=data.get("started"),
            ends=data.get("ends"),
            reason=data.get("reason"),
        )


@dataclass(frozen=True)
class Sendings:
    """Sendings as `runtime sendings` lists them, with the zone each campaign's times are read in
    (its schedule's): people read a sending's time in the campaign's own zone."""

    items: tuple[Sending, ...]
    zones: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Campaign:
    """One campaign as the runtime holds it."""

    name: str
    channel: Channel
    kind: Kind
    status: Status
    live: Version | None  # the version that runs (or ran: kept after stop and completion)
    draft: Version | None  # a staged draft version, at most one
    etag: str
    versions: int = 0  # how many versions were ever written; the next number is versions + 1
    copied_from: str | None = None
    #: the source's live spec at the moment of the copy: the base the copy's manifest overlays,
    #: so that later changes to the source never flow into the copy
    copy_base: Spec | None = None
    managed: bool = True
    #: the sending in progress, if any: a stop waits for it, a replace does not touch it
    sending: Sending | None = None
    #: the last slot the engine has dealt with (sent, skipped or cancelled): the next is after it
    cursor: str | None = None
    #: when it was first activated: the engine's first slots are those due since
    activated_at: str | None = None

    @property
    def activated(self) -> bool:
        return self.status.activated

    @property
    def drifted(self) -> bool:
        """The live version was written by someone other than the reconciler."""
        return self.live is not None and self.live.origin != RECONCILER

    def version_with(self, digest: str) -> Version | None:
        """The live or staged version with this spec, if the campaign holds one."""
        return next(
            (v for v in (self.live, self.draft) if v is not None and v.hash == digest), None
        )

    def number_for(self, digest: str) -> int:
        """The number of the version with this spec: its own if held, else the next one."""
        held = self.version_with(digest)
        return held.number if held is not None else self.versions + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channel": self.channel.value,
            "kind": self.kind.value,
            "status": self.status.value,
            "live": self.live.to_json() if self.live else None,
            "draft": self.draft.to_json() if self.draft else None,
            "etag": self.etag,
            "versions": self.versions,
            "copied_from": self.copied_from,
            "copy_base": self.copy_base,
            "managed": self.managed,
            "sending": self.sending.to_json() if self.sending else None,
            "cursor": self.cursor,
            "activated_at": self.activated_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Campaign:
        return cls(
            name=data["name"],
            channel=Channel(data["channel"]),
            kind=Kind(data["kind"]),
            status=Status(data["status"]),
            live=Version.from_json(data["live"]) if data.get("live") else None,
            draft=Version.from_json(data["draft"]) if data.get("draft") else None,
            etag=data["etag"],
            versions=data.get("versions", 0),
            copied_from=data.get("copied_from"),
            copy_base=data.get("copy_base"),
            managed=data.get("managed", True),
            sending=Sending.from_json(data["sending"]) if data.get("sending") else None,
            cursor=data.get("cursor"),
            activated_at=data.get("activated_at"),
        )


@dataclass(frozen=True)
class CampaignStatus:
    """A campaign as `status` shows it: the runtime's record, and its sendings seen from now."""

    campaign: Campaign
    next_sending: datetime | None = None
    last_sending: Sending | None = None


@dataclass(frozen=True)
class RuntimeState:
    """A consistent snapshot of the runtime: every campaign at one revision."""

    revision: int
    campaigns: Mapping[str, Campaign]

    def get(self, name: str) -> Campaign | None:
        return self.campaigns.get(name)
