"""Copy a runtime into an empty one: the path from "we tried it locally" to "the team's runtime".

Everything a runtime holds is copied, through the stores' own transactions (so between any two
stores): every campaign with its versions, etag and timestamps; the history, in order, with each
entry's revision; the sendings; the segments; the idempotency keys (a saved plan applied in part
resumes on the copy); the runtime service's tokens (their digests: every token works against the
copy) and plan signing keys (a service moved onto the copy signs with the key it had); the plans
published to its dashboard, in order (numbered anew by the copy, as history entries are); and the
revision. Dashboard sessions are not copied: whoever was signed in signs in again. The copy gets
an identity of its own: a saved plan made for the source is not one for the copy. The
destination must be empty (no campaign, segment, token, key or published plan), and the copy is
verified at the end: the counts, and a checksum of everything copied, read back from the
destination.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from reconciler.errors import RefusedError
from reconciler.model import canonical_json
from reconciler.runtime.base import HistoryEntry, PublishedPlan
from reconciler.runtime.store import Store, Tx


@dataclass(frozen=True)
class Copied:
    """What a migration copied, and the checksum both runtimes agree on."""

    campaigns: int
    history: int
    sendings: int
    segments: int
    keys: int
    revision: int
    checksum: str
    tokens: int = 0
    signing_keys: int = 0
    published_plans: int = 0


def migrate(source: Store, target: Store) -> Copied:
    """Copy ``source`` into ``target``, which must be empty; verify the copy; say what it copied."""
    with source.transaction(write=False) as tx:
        rows = _rows(tx)
    with target.transaction(write=True) as tx:
        if tx.revision() or tx.campaign_names() or tx.segments() or _access_rows(tx):
            raise RefusedError(
                f"runtime {target.url} is not empty (revision {tx.revision()}): a runtime is "
                "copied only into an empty one; nothing was copied"
            )
        tx.put_campaigns([(c, None) for c in rows["campaigns"].values()])
        tx.append_history(rows["history"])
        tx.put_sendings(rows["sendings"])
        for name, size in sorted(rows["segments"].items()):
            tx.set_segment(name, size)
        tx.put_applied(sorted(rows["keys"].items()))
        for token, digest in rows["tokens"]:
            tx.put_token(token, digest)
        for key in reversed(rows["signing_keys"]):  # oldest first: they are kept in that order
            tx.put_signing_key(key)
        for plan, data in rows["published_plans"]:
            tx.put_published_plan(plan, data)
        tx.set_revision(rows["revision"])
    with target.transaction(write=False) as tx:
        copied = _rows(tx)
    expected, found = _checksum(rows), _checksum(copied)
    if found != expected:
        raise RefusedError(
            f"runtime {target.url}: the copy does not read back as the source ({_said(copied)} "
            f"where {_said(rows)} were written); check it before using it"
        )
    return Copied(**_counts(rows), revision=rows["revision"], checksum=expected)


def _rows(tx: Tx) -> dict[str, Any]:
    """Everything a runtime holds that a copy keeps (not its identity, nor its lock)."""
    history = tx.history()
    keys = tx.applied_with_prefix("")
    return {
        "campaigns": tx.campaigns(),
        "history": history,
        "sendings": tx.sendings(),
        "segments": tx.segments(),
        "keys": _key_revisions(keys, history),
        "revision": tx.revision(),
        "tokens": tx.tokens(),
        "signing_keys": tx.signing_keys(),
        "published_plans": _published(tx),
    }


def _published(tx: Tx) -> list[tuple[PublishedPlan, dict[str, Any]]]:
    """Every published plan (superseded ones too) with its saved plan, oldest first."""
    found = []
    for plan in reversed(tx.published_plans(open_only=False)):
        kept = tx.published_plan(plan.id)
        assert kept is not None  # read in the same transaction
        found.append(kept)
    return found


def _access_rows(tx: Tx) -> bool:
    """Whether the runtime holds any token, signing key or published plan."""
    return bool(tx.tokens() or tx.signing_keys() or tx.published_plans(1, open_only=False))


def _key_revisions(keys: frozenset[str], history: list[HistoryEntry]) -> dict[str, int]:
    """Each idempotency key with the revision that applied it: a plan's key is its entry's
    (plan, campaign, operation); a key no entry names (a console edit's) keeps revision 0."""
    found = {f"{e.plan_id}/{e.campaign}/{e.operation}": e.revision for e in history if e.plan_id}
    return {key: found.get(key, 0) for key in keys}


def _checksum(rows: dict[str, Any]) -> str:
    """A digest of everything copied, in a canonical form; history entries by their order (a
    store numbers its entries itself)."""
    body = {
        "campaigns": [c.to_json() for c in rows["campaigns"].values()],
        "history": [replace(e, seq=0).to_json() for e in rows["history"]],
        "sendings": [s.to_json() for s in rows["sendings"]],
        "segments": rows["segments"],
        "keys": rows["keys"],
        "revision": rows["revision"],
        "tokens": [[*t.to_json().values(), digest] for t, digest in rows["tokens"]],
        "signing_keys": [[k.secret, k.created, k.retired] for k in rows["signing_keys"]],
        "published_plans": [
            [replace(p, id=0).to_json(), data] for p, data in rows["published_plans"]
        ],
    }
    return "sha256:" + hashlib.sha256(canonical_json(body).encode()).hexdigest()


def _counts(rows: dict[str, Any]) -> dict[str, int]:
    return {
        "campaigns": len(rows["campaigns"]),
        "history": len(rows["history"]),
        "sendings": len(rows["sendings"]),
        "segments": len(rows["segments"]),
        "keys": len(rows["keys"]),
        "tokens": len(rows["tokens"]),
        "signing_keys": len(rows["signing_keys"]),
        "published_plans": len(rows["published_plans"]),
    }


def _said(rows: dict[str, Any]) -> str:
    return ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in _counts(rows).items())
