"""The runtime's values as JSON, as they cross HTTP between ``reconciler serve`` and an
``http(s)://`` runtime: writes, their results and refusals, history, sendings, the lock, steps.

Both ends use these functions, so a value reads back as it was written. Readers of what a client
sent (``write``, ``owner``) take JSON the service has checked against its OpenAPI schemas first;
readers of what the service answered raise :class:`~reconciler.errors.RuntimeStoreError`-like
refusals through the client when an answer is not what the API documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler import errors
from reconciler.model import Action, Campaign, RuntimeState, Sending
from reconciler.runtime.base import (
    Applied,
    LockInfo,
    LockOwner,
    Provenance,
    Write,
)
from reconciler.runtime.engine import Step

Json = dict[str, Any]


# --- writes and their results -----------------------------------------------------------------


def write_json(w: Write) -> Json:
    body: Json = {
        "key": w.key,
        "action": w.action.value,
        "campaign": w.campaign,
        "expected_etag": w.expected_etag,
        "actor": w.provenance.actor,
        "commit": w.provenance.commit,
        "dirty": w.provenance.dirty,
        "plan_id": w.plan_id,
        "file": w.file,
        "spec": w.spec,
        "copied_from": w.copied_from,
        "copy_base": w.copy_base,
        "activate": w.activate,
        "lock_owner": w.lock_owner,
        "adopt": w.adopt,
    }
    if w.base_hash is not None:  # sent only when known: a service of before it reads the rest
        body["base_hash"] = w.base_hash
    if w.title is not None:
        body["title"] = w.title
    if w.labels is not None:
        body["labels"] = dict(w.labels)
    return body


def write(data: Mapping[str, Any]) -> Write:
    """A write as a client sent it. Its origin is always the reconciler's: a console's edits have
    a route of their own."""
    return Write(
        key=data["key"],
        action=Action(data["action"]),
        campaign=data["campaign"],
        expected_etag=data.get("expected_etag"),
        provenance=Provenance(
            data.get("actor") or "", data.get("commit"), bool(data.get("dirty", False))
        ),
        plan_id=data.get("plan_id"),
        file=data.get("file"),
        spec=data.get("spec"),
        copied_from=data.get("copied_from"),
        copy_base=data.get("copy_base"),
        activate=bool(data.get("activate", False)),
        lock_owner=data.get("lock_owner"),
        adopt=bool(data.get("adopt", False)),
        base_hash=data.get("base_hash"),
        title=data.get("title"),
        labels=data.get("labels"),
    )


#: refusals by the kind a client reads them back as (the most specific class first)
REFUSALS: dict[str, type[errors.ReconcilerError]] = {
    "stale": errors.StalePlanError,
    "plan": errors.PlanError,
    "locked": errors.LockedError,
    "conflict": errors.ConflictError,
    "forbidden": errors.ForbiddenError,
    "store": errors.RuntimeStoreError,
    "refused": errors.RefusedError,
    "unavailable": errors.RuntimeUnavailable,
}


def error_json(exc: errors.ReconcilerError) -> Json:
    kind = next((k for k, cls in REFUSALS.items() if isinstance(exc, cls)), "refused")
    body: Json = {"kind": kind, "message": str(exc)}
    if isinstance(exc, errors.LockedError) and exc.holder is not None:
        body["holder"] = exc.holder
    return body


def error(data: Mapping[str, Any]) -> errors.ReconcilerError:
    cls = REFUSALS.get(str(data.get("kind")), errors.RefusedError)
    message = str(data.get("message", ""))
    if cls is errors.LockedError:
        holder = data.get("holder")
        return errors.LockedError(message, holder if isinstance(holder, str) else None)
    return cls(message)


def result_json(result: Applied | errors.ReconcilerError) -> Json:
    if isinstance(result, errors.ReconcilerError):
        return {"refused": error_json(result)}
    return {
        "applied": {
            "campaign": result.campaign.to_json(),
            "revision": result.revision,
            "replayed": result.replayed,
        }
    }


def result(data: Mapping[str, Any]) -> Applied | errors.ReconcilerError:
    if "refused" in data:
        return error(data["refused"])
    applied = data["applied"]
    return Applied(
        campaign=Campaign.from_json(applied["campaign"]),
        revision=applied["revision"],
        replayed=bool(applied.get("replayed", False)),
    )


# --- reads ------------------------------------------------------------------------------------


def snapshot_json(state: RuntimeState) -> Json:
    return {
        "revision": state.revision,
        "campaigns": [c.to_json() for c in state.campaigns.values()],
    }


def snapshot(data: Mapping[str, Any]) -> RuntimeState:
    campaigns = (Campaign.from_json(c) for c in data["campaigns"])
    return RuntimeState(revision=data["revision"], campaigns={c.name: c for c in campaigns})


def owner_json(owner: LockOwner) -> Json:
    return {"owner": owner.owner, "pid": owner.pid, "host": owner.host, "reason": owner.reason}


def owner(data: Mapping[str, Any]) -> LockOwner:
    return LockOwner(owner=data["owner"], pid=data["pid"], host=data["host"], reason=data["reason"])


def lock_json(lock: LockInfo | None) -> Json | None:
    if lock is None:
        return None
    return {"holder": owner_json(lock.holder), "acquired": lock.acquired, "expires": lock.expires}


def lock(data: Mapping[str, Any] | None) -> LockInfo | None:
    if data is None:
        return None
    return LockInfo(
        holder=owner(data["holder"]), acquired=data["acquired"], expires=data["expires"]
    )


def step_json(step: Step) -> Json:
    return {
        "campaign": step.campaign.to_json(),
        "sendings": [x.to_json() for x in step.sendings],
        "events": list(step.events),
    }


def step(data: Mapping[str, Any]) -> Step:
    return Step(
        campaign=Campaign.from_json(data["campaign"]),
        sendings=tuple(Sending.from_json(x) for x in data["sendings"]),
        events=tuple(data["events"]),
    )
