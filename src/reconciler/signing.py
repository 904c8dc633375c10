"""Signed saved plans: an HMAC-SHA256 with a key that only the protected CI jobs hold.

A saved plan travels between CI jobs as an artifact, and whoever can write the artifact can
rewrite the plan and recompute every hash in it. With a key, ``plan --out`` signs the plan (its
canonical JSON, id included, with the key's id and the signing time) and ``apply --plan`` refuses
a plan that is unsigned, signed with another key, altered since, too old, or signed in the future.
The library never reads the key from the environment: the CLI does, and hands it over. The key is
never written, shown or put in an error: only its id, a short digest of it, is.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from reconciler.errors import PlanError
from reconciler.model import canonical_json, parse_moment
from reconciler.plan import Plan, Signature
from reconciler.runtime.access import SigningKey, key_id
from reconciler.runtime.base import timestamp

ALGORITHM = "hmac-sha256"
MIN_KEY_LENGTH = 32
DEFAULT_MAX_AGE = timedelta(hours=24)
#: how far in the future a signing time may lie: the clocks of two CI runners differ a little
CLOCK_SKEW = timedelta(minutes=5)
KEY_VARIABLE = "RECONCILER_PLAN_KEY"
MAX_AGE_VARIABLE = "RECONCILER_PLAN_MAX_AGE"


@dataclass(frozen=True)
class PlanKey:
    """A plan signing key. Its repr shows the key id only."""

    secret: bytes = field(repr=False)
    key_id: str

    @classmethod
    def from_text(cls, text: str) -> PlanKey:
        secret = text.strip()
        if not secret:  # set, but to nothing: a secret this job was not given
            raise PlanError(
                f"{KEY_VARIABLE} is set but empty (a secret this job does not have?); set it to "
                f"a key of at least {MIN_KEY_LENGTH} random characters (`openssl rand -hex 32`), "
                "or unset it"
            )
        if len(secret) < MIN_KEY_LENGTH:
            raise PlanError(
                f"{KEY_VARIABLE} is {len(secret)} characters long; a plan key needs at least "
                f"{MIN_KEY_LENGTH} random ones: make one with `openssl rand -hex 32`"
            )
        raw = secret.encode()
        return cls(raw, key_id(raw))

    @classmethod
    def of(cls, key: SigningKey) -> PlanKey:
        """The key of the runtime service's own, as its store keeps it."""
        return cls(key.secret.encode(), key.key_id)


_DURATION = re.compile(r"(\d{1,9})([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_max_age(text: str | None) -> timedelta:
    """``RECONCILER_PLAN_MAX_AGE``: seconds (3600) or a number with s, m, h or d (90m, 24h, 2d)."""
    if text is None or not text.strip():
        return DEFAULT_MAX_AGE
    found = _DURATION.fullmatch(text.strip())
    seconds = int(found.group(1)) * _UNIT[found.group(2)] if found else 0
    if seconds <= 0:
        raise PlanError(
            f"{MAX_AGE_VARIABLE} {text!r:.40} is not a duration: give seconds (3600) or a number "
            "with s, m, h or d (90m, 24h, 2d)"
        )
    return timedelta(seconds=seconds)


def _mac(plan: Plan, key: PlanKey, signed_at: str) -> str:
    """The HMAC of the plan's content with its id, bound to the key's id and the signing time."""
    message = f"{ALGORITHM}\n{key.key_id}\n{signed_at}\n" + canonical_json(plan.to_json())
    return hmac.new(key.secret, message.encode(), hashlib.sha256).hexdigest()


def sign(plan: Plan, key: PlanKey, now: datetime) -> Plan:
    """The plan with its signature, made at ``now``."""
    signed_at = timestamp(now)
    mac = _mac(plan, key, signed_at)
    return replace(plan, signature=Signature(ALGORITHM, key.key_id, signed_at, mac))


def verify(plan: Plan, key: PlanKey | None, now: datetime, max_age: timedelta, source: str) -> None:
    """Refuse, naming why, a saved plan that this apply must not trust.

    Without a key, an unsigned plan passes (its content checks are all there is), but a signed one
    does not: a key missing from an apply job is a mistake to report, not a reason to trust less.
    """
    signature = plan.signature
    if key is None:
        if signature is not None:
            raise PlanError(
                f"{source}: the plan is signed (key {signature.key_id}), but no plan key is set "
                f"here ({KEY_VARIABLE}), so its signature cannot be checked; nothing was "
                "applied. Give this job the key the plan was signed with"
            )
        return
    if signature is None:
        raise PlanError(
            f"{source}: the plan is not signed, and a plan key is set here ({KEY_VARIABLE}), so "
            "only signed plans are applied; nothing was applied. Make the plan with "
            "`plan --out` where the key is set"
        )
    if signature.algorithm != ALGORITHM:
        raise PlanError(
            f"{source}: the plan is signed with {signature.algorithm}, not {ALGORITHM}; "
            "nothing was applied. Plan again"
        )
    if signature.key_id != key.key_id:
        raise PlanError(
            f"{source}: the plan was signed with another key (key {signature.key_id}; the key "
            f"set here is {key.key_id}); nothing was applied. Plan again with this key, or apply "
            "with the key it was signed with"
        )
    if not hmac.compare_digest(signature.value, _mac(plan, key, signature.signed_at)):
        raise PlanError(
            f"{source}: its signature does not match its content; the plan was altered after "
            "it was signed. Nothing was applied"
        )
    signed_at = parse_moment(signature.signed_at)
    if signed_at > now + CLOCK_SKEW:
        raise PlanError(
            f"{source}: the plan was signed at {signature.signed_at}, {_span(signed_at - now)} "
            f"from now ({timestamp(now)}); nothing was applied. Check the clocks of the jobs "
            "that plan and apply"
        )
    if now - signed_at > max_age:
        raise PlanError(
            f"{source}: the plan was signed at {signature.signed_at}, {_span(now - signed_at)} "
            f"ago, and a signed plan is applied for {_span(max_age)} ({MAX_AGE_VARIABLE}); "
            "nothing was applied. Plan again"
        )


def verify_with_keys(
    plan: Plan, keys: Sequence[SigningKey], now: datetime, max_age: timedelta, source: str
) -> None:
    """:func:`verify` with the runtime service's keys (current first, as
    ``Authority.signing_keys`` gives them): with the key the signature names, so a plan signed
    before a rotation is applied after it. A retired key verifies only what it signed before it
    was retired: a key rotated away because it leaked signs nothing new that is trusted."""
    if not keys:
        raise PlanError(
            f"{source}: the runtime service has no plan signing key; nothing was applied"
        )
    named = plan.signature.key_id if plan.signature is not None else None
    key = next((k for k in keys if k.key_id == named), keys[0])
    verify(plan, PlanKey.of(key), now, max_age, source)
    signed_at = plan.signature.signed_at if plan.signature is not None else ""
    if key.retired is not None and signed_at > key.retired:
        raise PlanError(
            f"{source}: the plan was signed at {signed_at} with key {key.key_id}, which was "
            f"retired at {key.retired}; nothing was applied. Plan again"
        )


def _span(delta: timedelta) -> str:
    """A duration for people, to the second: 2d 3h, 1h 30m, 1d 1s, 0s."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts) or "0s"
