"""A campaign's versions, as far as the runtime and its history know them, and the rows of a diff
between two of them.

The runtime keeps a campaign's live version and its draft; every earlier version is in the history,
whose entries record the whole campaign before and after each write. A diff is the plan's own
(``planner.diff``), field by field, worded as the plan words a change; long text is shown whole,
before and after side by side.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.model import RECONCILER, Campaign, Version
from reconciler.plan import FieldChange
from reconciler.planner import diff
from reconciler.runtime.base import HistoryEntry
from reconciler.wording import VALUE_WIDTH, short

#: a string longer than this, or on several lines, is shown whole, side by side
LONG_TEXT = VALUE_WIDTH


@dataclass(frozen=True)
class VersionView:
    """One version as the campaign page lists it; its title and labels when it recorded them."""

    number: int
    spec: Mapping[str, Any]
    hash: str
    commit: str | None
    file: str | None
    actor: str
    applied_at: str
    origin: str
    dirty: bool
    title: str | None
    labels: Mapping[str, str]
    role: str  # "live", "draft" or "earlier"

    @property
    def outside(self) -> bool:
        return self.origin != RECONCILER

    @property
    def metadata(self) -> dict[str, Any]:
        """The manifest's metadata the version recorded, as a diff compares it."""
        found: dict[str, Any] = {}
        if self.title is not None:
            found["title"] = self.title
        if self.labels:
            found["labels"] = dict(self.labels)
        return found


def _from_version(v: Version, role: str) -> VersionView:
    # title and labels: read with getattr, so that this works before and after Version has them
    title = getattr(v, "title", None)
    labels = getattr(v, "labels", None)
    return VersionView(
        v.number, v.spec, v.hash, v.commit, v.file, v.actor, v.applied_at, v.origin, v.dirty,
        title if isinstance(title, str) else None,
        labels if isinstance(labels, Mapping) else {},
        role,
    )  # fmt: skip


def _from_json(data: Any) -> VersionView | None:
    """A version as a history entry records it (a campaign's JSON), or None when it is not one."""
    if not isinstance(data, Mapping):
        return None
    try:
        number, spec = int(data["number"]), data["spec"]
        if not isinstance(spec, Mapping):
            return None
        title, labels = data.get("title"), data.get("labels")
        return VersionView(
            number, spec, str(data.get("hash", "")), data.get("commit"), data.get("file"),
            str(data.get("actor", "")), str(data.get("applied_at", "")),
            str(data.get("origin", RECONCILER)), bool(data.get("dirty", False)),
            title if isinstance(title, str) else None,
            labels if isinstance(labels, Mapping) else {},
            "earlier",
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return None


def versions(campaign: Campaign, history: Iterable[HistoryEntry]) -> list[VersionView]:
    """Every version the campaign and its history know, newest first."""
    found: dict[int, VersionView] = {}
    for entry in history:
        for side in (entry.before, entry.after):
            for key in ("live", "draft"):
                version = _from_json((side or {}).get(key))
                if version is not None:
                    found[version.number] = version
    if campaign.draft is not None:
        found[campaign.draft.number] = _from_version(campaign.draft, "draft")
    if campaign.live is not None:
        found[campaign.live.number] = _from_version(campaign.live, "live")
    return [found[n] for n in sorted(found, reverse=True)]


@dataclass(frozen=True)
class ChangeRow:
    """One changed field: its sign and kind as the plan shows them, and its values."""

    sign: str  # "+", "-", "~"
    kind: str  # "added", "removed", "changed": the row's CSS class
    path: str
    before: str  # on one line, as the plan shows a value ("" when there is none)
    after: str
    long: bool  # shown whole, side by side: ``before_lines`` and ``after_lines``
    before_lines: tuple[str, ...] = ()
    after_lines: tuple[str, ...] = ()


def _is_long(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) > LONG_TEXT or "\n" in value
    return value is not None and len(short(value, LONG_TEXT + 1)) > LONG_TEXT


def _lines(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split("\n"))
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2)
    return tuple(text.split("\n"))


def change_rows(changes: Sequence[FieldChange]) -> list[ChangeRow]:
    rows = []
    for c in changes:
        if c.before is None:
            sign, kind = "+", "added"
        elif c.after is None:
            sign, kind = "-", "removed"
        else:
            sign, kind = "~", "changed"
        before = "" if c.before is None else short(c.before)
        after = "" if c.after is None else short(c.after)
        if _is_long(c.before) or _is_long(c.after):
            rows.append(
                ChangeRow(
                    sign, kind, c.path, before, after, True, _lines(c.before), _lines(c.after)
                )
            )
        else:
            rows.append(ChangeRow(sign, kind, c.path, before, after, False))
    return rows


def compare(old: VersionView, new: VersionView) -> list[FieldChange]:
    """What changed from ``old`` to ``new``: metadata (title, labels), then the spec."""
    return diff(old.metadata, new.metadata, "metadata") + diff(old.spec, new.spec)
