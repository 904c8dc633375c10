"""The campaigns list: every campaign filtered in one pass, sorted by an allow-listed field, and
only the page's rows made into rows (their next sendings computed) for the template.

10,000 campaigns are filtered and sorted in a few milliseconds; what costs is a campaign's next
sending (its schedule walked), which is computed for the page's rows only, unless the list is
sorted by it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import schedule
from reconciler.dashboard.query import Query
from reconciler.model import Campaign, Status, Version, parse_moment, segment_of
from reconciler.runtime.base import HistoryEntry

_TICK = dt.timedelta(microseconds=1)
_NOTHING: Mapping[str, str] = {}


def shown_version(c: Campaign) -> Version | None:
    """The version whose title and labels a campaign is listed with: the live one (what runs),
    else its draft."""
    return c.live if c.live is not None else c.draft


def title_of(version: Version | None) -> str | None:
    # versions record the manifest's title since the store layer added it: read either way
    title = getattr(version, "title", None)
    return title if isinstance(title, str) else None


def labels_of(version: Version | None) -> Mapping[str, str]:
    labels = getattr(version, "labels", None)
    return labels if isinstance(labels, Mapping) else _NOTHING


def draft_in_progress(c: Campaign) -> bool:
    """A live campaign with a draft version beside its live one, as the platform's list marks."""
    return c.draft is not None and c.live is not None and c.status.activated


def next_sending(c: Campaign, now: dt.datetime) -> dt.datetime | None:
    """The next sending of a live or scheduled campaign, after its engine's cursor: as ``status``
    computes it."""
    if c.live is None or c.status not in (Status.LIVE, Status.SCHEDULED):
        return None
    after = max(now, parse_moment(c.cursor)) if c.cursor else now
    try:
        upcoming = schedule.next_occurrences(c.live.spec, after, 1)
    except (ValueError, KeyError, TypeError):  # a console may have written anything
        return None
    return upcoming[0] if upcoming else None


@dataclass(frozen=True)
class Row:
    campaign: Campaign
    title: str | None
    next_sending: dt.datetime | None
    last_change: HistoryEntry | None

    @property
    def draft_in_progress(self) -> bool:
        return draft_in_progress(self.campaign)


@dataclass(frozen=True)
class Listing:
    rows: tuple[Row, ...]
    total: int  # campaigns that pass the filters
    pages: int  # at least 1


def matches(c: Campaign, query: Query) -> bool:
    """Whether ``c`` passes the query's filters."""
    if query.status is not None and c.status is not query.status:
        return False
    if query.kind is not None and c.kind is not query.kind:
        return False
    if query.channel is not None and c.channel is not query.channel:
        return False
    version = shown_version(c)
    if query.segment is not None and segment_of(version.spec if version else None) != (
        query.segment
    ):
        return False
    if query.label is not None:
        key, value = query.label
        if labels_of(version).get(key) != value:
            return False
    if query.text is not None:
        wanted = query.text.casefold()
        if wanted not in c.name.casefold() and wanted not in (title_of(version) or "").casefold():
            return False
    return True


def listing(
    campaigns: Mapping[str, Campaign],
    last_changes: Mapping[str, HistoryEntry],
    query: Query,
    now: dt.datetime,
) -> Listing:
    """The page ``query`` asks for: filtered, sorted (missing values last, ties by name), cut."""
    found = [c for c in campaigns.values() if matches(c, query)]
    found.sort(key=lambda c: c.name)
    nexts: dict[str, dt.datetime | None] = {}
    if query.sort == "next":
        nexts = {c.name: next_sending(c, now) for c in found}
    key = _key(query.sort, last_changes, nexts)
    if key is not None:
        keyed = [(key(c), c) for c in found]
        present = [(k, c) for k, c in keyed if k is not None]
        # a stable sort keeps the names' order among equal keys, in either direction
        present.sort(key=lambda kc: kc[0], reverse=query.direction == "desc")
        found = [c for _, c in present] + [c for k, c in keyed if k is None]
    elif query.direction == "desc":
        found.reverse()
    pages = max(1, -(-len(found) // query.per_page))
    start = (query.page - 1) * query.per_page
    rows = tuple(
        Row(
            c,
            title_of(shown_version(c)),
            nexts[c.name] if c.name in nexts else next_sending(c, now),
            last_changes.get(c.name),
        )
        for c in found[start : start + query.per_page]
    )
    return Listing(rows, len(found), pages)


def _key(
    field: str,
    last_changes: Mapping[str, HistoryEntry],
    nexts: Mapping[str, dt.datetime | None],
) -> Callable[[Campaign], Any] | None:
    """The sort key of ``field`` (None for a campaign without that value); None for the name."""
    keys: dict[str, Callable[[Campaign], Any]] = {
        "title": lambda c: t.casefold() if (t := title_of(shown_version(c))) else None,
        "status": lambda c: _STATUS_ORDER[c.status],
        "kind": lambda c: c.kind.value,
        "channel": lambda c: c.channel.value,
        "live": lambda c: c.live.number if c.live else None,
        "draft": lambda c: c.draft.number if c.draft else None,
        "next": lambda c: nexts.get(c.name),
        # history's times are written one way (UTC, milliseconds, Z): as text they sort as time
        "changed": lambda c: e.at if (e := last_changes.get(c.name)) else None,
    }
    return keys.get(field)


#: statuses in the order of a campaign's life, for sorting by status
_STATUS_ORDER = {s: i for i, s in enumerate(Status)}


def page_numbers(page: int, pages: int, around: int = 2) -> Sequence[int | None]:
    """The page numbers a pager links: the first, the last and those around ``page``; None where
    numbers are left out."""
    wanted = {1, pages, *range(page - around, page + around + 1)}
    shown = sorted(n for n in wanted if 1 <= n <= pages)
    out: list[int | None] = []
    for n in shown:
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out
