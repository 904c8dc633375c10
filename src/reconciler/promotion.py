"""Promotion: an environment takes only what has been live in the one it is promoted from.

A plan for production (``promotion: {from: staging}``) may make a version live only when the same
manifest has been live in staging. "The same manifest" is its base hash (``model.base_hash``: its
``spec`` and ``copyFrom`` before any environment's overlay), not the spec a version holds, which
differs between environments by design (segments, senders, throttles). Every version records the
base hash of the manifest that wrote it, so the check is a read of the source's runtime: its
campaigns now, and the history of those whose live version now is not the one looked for (a
version live last week and replaced since has still been live).

Pure apart from reading the source runtime: nothing is written, and read-only credentials do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler import policies
from reconciler.errors import Diagnostic
from reconciler.model import RECONCILER, Action, Campaign, Manifest
from reconciler.plan import Operation, Plan
from reconciler.planner import diagnostic_order
from reconciler.runtime.base import Runtime


def goes_live(op: Operation) -> bool:
    """Whether ``op`` makes a version live that the source must have run: an activation, a
    replacement, a copy to live. A resume runs again what ran before in this environment, and
    is left alone (``policies.goes_live`` counts it, as it sends)."""
    return policies.goes_live(op) and op.action is not Action.RESUME


def check(
    plan: Plan,
    manifests: Mapping[str, Manifest],
    environment: str,
    source: str,
    runtime: Runtime,
) -> Plan:
    """``plan`` (for ``environment``) with an error for every operation that makes live a
    version whose base hash has never been live in ``source``, whose open runtime is
    ``runtime``.

    ``manifests`` by name place the errors, at each manifest's ``spec.state``. The source is
    read only when something goes live: one snapshot, and at most one history per campaign
    checked (none for a campaign live now with the version looked for, or not in the source).
    """
    going = [op for op in plan.operations if goes_live(op)]
    if not going:
        return plan
    campaigns = runtime.snapshot().campaigns
    found: list[Diagnostic] = []
    for op in going:
        refusal = _refusal(op, campaigns.get(op.campaign), source, runtime)
        if refusal is not None:
            found.append(_placed(refusal, op, manifests.get(op.campaign)))
    if not found:
        return plan
    return replace(plan, errors=tuple(sorted((*plan.errors, *found), key=diagnostic_order)))


def _refusal(op: Operation, campaign: Campaign | None, source: str, runtime: Runtime) -> str | None:
    """Why ``op`` may not make its version live, or None when its base hash was live in
    ``source`` (whose campaign of the same name is ``campaign``)."""
    wanted = op.base_hash
    seen: list[Mapping[str, Any]] = []  # the live versions the source's campaign has had
    if campaign is not None and campaign.live is not None:
        if wanted is not None and campaign.live.base_hash == wanted:
            return None
        seen.append(campaign.live.to_json())
    if campaign is not None:  # a campaign never in the source has no history there either
        for entry in runtime.history(op.campaign):
            live = (entry.after or {}).get("live")
            if isinstance(live, Mapping):
                if wanted is not None and live.get("base_hash") == wanted:
                    return None
                seen.append(live)
    message = f"{op.campaign}: this version has not been live in {source}; apply it there first"
    if _before_base_hashes(seen):
        message += (
            f" ({source}'s versions of it were made before versions recorded their base spec: "
            f"apply {source} again)"
        )
    return message


def _before_base_hashes(versions: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the versions compared say nothing either way: the reconciler wrote them before
    versions recorded their base hash (a console's versions never record one, and are not the
    reconciler's to write again)."""
    return any(v.get("origin", RECONCILER) == RECONCILER for v in versions) and all(
        v.get("base_hash") is None for v in versions
    )


def _placed(message: str, op: Operation, m: Manifest | None) -> Diagnostic:
    """The error at the manifest's ``state``, where a reviewer sees the campaign go live."""
    if m is None:  # a plan read back without its manifests: the file is all that is known
        return Diagnostic(message, op.file, campaign=op.campaign)
    at = m.where("spec.state")
    return Diagnostic(message, m.file, at.line, at.column, campaign=op.campaign)
