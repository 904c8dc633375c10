"""The audit trail as its views show it: the entries, each with the fields it changed, and what a
``--since`` left out.

A history entry records the whole campaign before and after a write; what a reader wants is the
part of the spec that changed. That is the plan's own diff (``planner.diff``) of the version the
write made against the one it followed, so history and plan word a change the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.plan import FieldChange
from reconciler.planner import diff
from reconciler.runtime.base import HistoryEntry

__all__ = ["History", "field_changes"]

#: operations that write a draft version; every other one writes (or keeps) the live version
DRAFT_WRITES = frozenset({"create", "update"})


@dataclass(frozen=True)
class History:
    entries: tuple[HistoryEntry, ...]  # newest first
    #: each entry's field changes, by its ``seq`` (absent: none)
    changes: Mapping[int, tuple[FieldChange, ...]] = field(default_factory=dict)
    #: the moment ``--since`` asked for, written as the entries' ``at`` is; None: the whole trail
    since: str | None = None
    earlier: int = 0  # the entries before ``since``, left out


def field_changes(entry: HistoryEntry) -> tuple[FieldChange, ...]:
    """What ``entry`` changed in the spec: the version it wrote (a draft for create and update,
    else the live one) against the same side before it, or, when that side was empty, the other
    (a first activation follows its draft; a first draft its live version)."""
    side = "draft" if entry.operation in DRAFT_WRITES else "live"
    other = "live" if side == "draft" else "draft"
    after = _spec(entry.after, side) or _spec(entry.after, other)
    before = _spec(entry.before, side) or _spec(entry.before, other)
    if after is None:
        return ()
    return tuple(diff(before or {}, after))


def _spec(campaign: Mapping[str, Any] | None, side: str) -> Mapping[str, Any] | None:
    version = (campaign or {}).get(side)
    spec = version.get("spec") if isinstance(version, Mapping) else None
    return spec if isinstance(spec, Mapping) else None
