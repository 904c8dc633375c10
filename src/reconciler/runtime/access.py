"""Who may do what to a runtime, and the credentials that say who: roles, tokens, signing keys.

Pure: no I/O. The rules are data, read by one function each (Argo CD's ``builtin-policy.csv``: a
role table, not ``if role == ...`` in every handler). The service checks each request against
:data:`PERMISSIONS`; the platform keeps the rows (``platform.py``).

Tokens are 256 random bits behind a prefix that secret scanners can match (GitHub's ``ghp_``). A
store keeps only their SHA-256: a token is high-entropy, so a fast hash is as good as a slow one
against guessing, and is looked up by its digest, in constant time whatever the token.

A token name that is not :data:`TOKEN_NAME` is refused with a
:class:`~reconciler.errors.RefusedError`: the runtime says no to a name it would not keep, and
retrying will not change its mind (there is no input error of the runtime's in the tree, and a
``PlanError`` would name the wrong thing).
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from reconciler.errors import RefusedError
from reconciler.model import Action
from reconciler.runtime.base import Write


class Role(enum.StrEnum):
    """What a token may do, each role everything the one before it may, and more."""

    VIEWER = "viewer"
    MANAGER = "manager"
    APPROVER = "approver"
    ADMINISTRATOR = "administrator"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: Role) -> bool:
        """Whether this role may do all that ``other`` may."""
        return self.rank >= other.rank


class Capability(enum.StrEnum):
    """What a token may do besides writing campaigns (which :data:`PERMISSIONS` takes by action)."""

    READ = "read"  # plan, status, history, sendings, calendar, events
    PUBLISH = "publish"  # a plan to the dashboard
    LOCK = "lock"  # take, renew and release the apply lock
    SIGN = "sign"  # have a plan signed with the service's key
    ADMINISTER = "administer"  # tokens, signing keys, segments, the engine, breaking a lock


#: the least role that may do each thing: the one table of the rules. A write that activates
#: (a copy to live) needs what ACTIVATE needs besides what its own action does.
PERMISSIONS: Mapping[Action | Capability, Role] = {
    Capability.READ: Role.VIEWER,
    Capability.PUBLISH: Role.VIEWER,
    Action.CREATE: Role.MANAGER,
    Action.UPDATE: Role.MANAGER,
    Action.DISCARD: Role.MANAGER,
    Action.COPY: Role.MANAGER,  # into a draft
    Action.ADOPT: Role.MANAGER,  # the campaign is untouched: only who manages it changes
    Capability.LOCK: Role.MANAGER,
    Action.ACTIVATE: Role.APPROVER,
    Action.REPLACE: Role.APPROVER,
    Action.STOP: Role.APPROVER,
    Action.RESUME: Role.APPROVER,
    Capability.SIGN: Role.APPROVER,
    Action.EDIT: Role.ADMINISTRATOR,  # a console edit
    Capability.ADMINISTER: Role.ADMINISTRATOR,
}


def required(what: Action | Capability) -> Role:
    """The least role that may do ``what``."""
    return PERMISSIONS[what]


def required_role(write: Write) -> Role:
    """The least role that may make ``write``."""
    return required_for(write.action, activate=write.activate)


def required_for(action: Action, *, activate: bool = False) -> Role:
    """The least role that may do ``action``: its own, and an activation's when it goes live (a
    copy into a draft is a manager's, a copy to live an approver's)."""
    role = required(action)
    if activate and not role.includes(required(Action.ACTIVATE)):
        return required(Action.ACTIVATE)
    return role


# --- tokens -------------------------------------------------------------------------------------

TOKEN_PREFIX = "rcn_"
#: 32 random bytes, URL-safe base64 without padding: 43 characters, 256 bits
_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")
#: a token's name: as a campaign's, lower case letters, digits and inner hyphens, 1-63 characters
TOKEN_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def new_token() -> str:
    """A new secret token: shown once, to whoever made it; the store keeps its digest."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(secret: str) -> str:
    """What a store keeps of a token, and looks it up by."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def looks_like_token(text: str) -> bool:
    """Whether ``text`` has a token's form (anything else is not looked up at all)."""
    return _TOKEN.fullmatch(text) is not None


def check_token_name(name: str) -> None:
    """Refuse a name that is not :data:`TOKEN_NAME`."""
    if TOKEN_NAME.fullmatch(name) is None:
        raise RefusedError(
            f"invalid token name {name!r:.80}: use 1-63 lower case letters, digits and inner "
            f"hyphens ({TOKEN_NAME.pattern})"
        )


@dataclass(frozen=True)
class TokenInfo:
    """A token as anyone may see it: never its secret, nor its digest."""

    name: str
    role: Role
    created: str
    last_used: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.value,
            "created": self.created,
            "last_used": self.last_used,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TokenInfo:
        return cls(data["name"], Role(data["role"]), data["created"], data.get("last_used"))


#: a token used again this soon after its last recorded use is not written again: a client that
#: polls does not make a write of every request
TOUCH_EVERY = timedelta(minutes=1)


# --- plan signing keys --------------------------------------------------------------------------

#: how long a retired key still verifies plans: a plan signed just before a rotation is applied
#: for ``signing.DEFAULT_MAX_AGE``, give or take ``signing.CLOCK_SKEW`` (a test keeps them equal)
KEY_GRACE = timedelta(hours=24, minutes=5)


def key_id(secret: bytes) -> str:
    """A key's id: a digest of it under its own label, which says which key and reveals nothing."""
    return hashlib.sha256(b"reconciler plan key id\n" + secret).hexdigest()[:12]


def new_key_secret() -> str:
    """A new plan signing key: 256 random bits, as 64 hex characters."""
    return secrets.token_hex(32)


@dataclass(frozen=True)
class SigningKey:
    """One of the service's plan signing keys, as its store keeps it. Its repr shows its id only."""

    secret: str = field(repr=False)
    created: str
    retired: str | None = None

    @property
    def key_id(self) -> str:
        return key_id(self.secret.encode())

    def __repr__(self) -> str:
        shown = f"key_id={self.key_id!r}, created={self.created!r}, retired={self.retired!r}"
        return f"SigningKey({shown})"
