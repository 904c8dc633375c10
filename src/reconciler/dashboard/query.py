"""A dashboard page's query string, read against allow-lists.

Every parameter a page takes is named here with what it may hold; anything else is refused with a
:class:`QueryError` that says what was expected (the integrator answers 400 with it). A value
never reaches anything but escaped HTML and, re-encoded by :func:`urllib.parse.urlencode`, the
page's own links: sorting is by a field of this list, filtering compares values in Python.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal
from urllib.parse import urlencode

from reconciler.model import Channel, Kind, Status

__all__ = [
    "DIRECTIONS",
    "MAX_PER_PAGE",
    "SORT_FIELDS",
    "CalendarQuery",
    "Query",
    "QueryError",
    "compare",
    "parse",
    "parse_calendar",
    "zone",
]

#: the campaigns list's columns it may be sorted by
SORT_FIELDS = ("name", "title", "status", "kind", "channel", "live", "draft", "next", "changed")
DIRECTIONS = ("asc", "desc")
MAX_PER_PAGE = 200
PER_PAGE = 50
#: the longest text a filter takes: longer is no name, title, label or segment anyone wrote
MAX_TEXT = 200
MAX_PAGE = 1_000_000
VIEWS = ("month", "week")


class QueryError(ValueError):
    """A query string the page does not take; its message says what it takes instead."""


@functools.cache
def _zones() -> frozenset[str]:
    # scanning the zone database takes milliseconds: once per process
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _shown(value: str) -> str:
    """A value quoted in a message, cut short: the message is shown, the value may be long."""
    return repr(value) if len(value) <= 40 else repr(value[:40]) + "…"


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise QueryError(f"{name}: {_shown(value)} is not one of {', '.join(allowed)}")
    return value


def _text(name: str, value: str) -> str:
    if len(value) > MAX_TEXT:
        raise QueryError(f"{name}: longer than {MAX_TEXT} characters")
    return value


def _number(name: str, value: str, high: int) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= high:
        raise QueryError(f"{name}: {_shown(value)} is not a whole number from 1 to {high}")
    return int(value)


def _label(value: str) -> tuple[str, str]:
    key, sep, wanted = _text("label", value).partition("=")
    if not sep or not key:
        raise QueryError(f"label: {_shown(value)} is not key=value")
    return key, wanted


def zone(value: str) -> str:
    """An IANA zone the viewer chose, or QueryError."""
    if value not in _zones():
        raise QueryError(f"tz: {_shown(value)} is not a known time zone (an IANA name)")
    return value


def zones() -> list[str]:
    """Every zone a viewer may choose, sorted."""
    return sorted(_zones())


def _known(params: Mapping[str, str], allowed: tuple[str, ...]) -> dict[str, str]:
    """The parameters that are set (a form sends its empty fields too), unknown names refused."""
    for name in params:
        if name not in allowed:
            raise QueryError(f"unknown parameter {_shown(name)}: expected {', '.join(allowed)}")
    return {name: value for name, value in params.items() if value != ""}


@dataclass(frozen=True)
class Query:
    """The campaigns list's filters, order and page."""

    status: Status | None = None
    kind: Kind | None = None
    channel: Channel | None = None
    label: tuple[str, str] | None = None
    segment: str | None = None
    text: str | None = None  # in the name or the title, ignoring case
    sort: str = "name"
    direction: Literal["asc", "desc"] = "asc"
    page: int = 1
    per_page: int = PER_PAGE
    tz: str = "UTC"

    def params(self, **changes: Any) -> str:
        """The query string of this query with ``changes``, defaults left out: the page's links
        (URL-encoded; the template escapes the ``&`` for the attribute)."""
        query = replace(self, **changes)
        pairs = []
        for f in fields(query):
            value = getattr(query, f.name)
            if value == f.default:
                continue
            if f.name == "label":
                value = f"{value[0]}={value[1]}"
            pairs.append((_NAMES.get(f.name, f.name), str(value)))
        return urlencode(pairs)


_NAMES = {"text": "q", "direction": "dir"}
_PARAMS: tuple[str, ...] = ("status", "kind", "channel", "label", "segment", "q", "sort", "dir")
_PARAMS += ("page", "per_page", "tz")


def parse(params: Mapping[str, str]) -> Query:
    """The campaigns list's query string (one value per name), or QueryError."""
    given = _known(params, _PARAMS)
    query = Query()
    if "status" in given:
        status = _one_of("status", given["status"], tuple(s.value for s in Status))
        query = replace(query, status=Status(status))
    if "kind" in given:
        query = replace(query, kind=Kind(_one_of("kind", given["kind"], tuple(Kind))))
    if "channel" in given:
        channel = _one_of("channel", given["channel"], tuple(c.value for c in Channel))
        query = replace(query, channel=Channel(channel))
    if "label" in given:
        query = replace(query, label=_label(given["label"]))
    if "segment" in given:
        query = replace(query, segment=_text("segment", given["segment"]))
    if "q" in given:
        query = replace(query, text=_text("q", given["q"]))
    if "sort" in given:
        query = replace(query, sort=_one_of("sort", given["sort"], SORT_FIELDS))
    if "dir" in given:
        direction = _one_of("dir", given["dir"], DIRECTIONS)
        query = replace(query, direction="asc" if direction == "asc" else "desc")
    if "page" in given:
        query = replace(query, page=_number("page", given["page"], MAX_PAGE))
    if "per_page" in given:
        query = replace(query, per_page=_number("per_page", given["per_page"], MAX_PER_PAGE))
    if "tz" in given:
        query = replace(query, tz=zone(given["tz"]))
    return query


@dataclass(frozen=True)
class CalendarQuery:
    """The calendar's first day, view, zone and filters."""

    first: dt.date | None = None  # None: today, in the viewer's zone
    view: Literal["month", "week"] = "month"
    tz: str = "UTC"
    segment: str | None = None
    channel: Channel | None = None
    label: tuple[str, str] | None = None

    def params(self, **changes: Any) -> str:
        query = replace(self, **changes)
        pairs = []
        for f in fields(query):
            value = getattr(query, f.name)
            if value == f.default:
                continue
            if f.name == "label":
                value = f"{value[0]}={value[1]}"
            pairs.append((f.name, value.isoformat() if f.name == "first" else str(value)))
        return urlencode(pairs)


_CALENDAR = ("first", "view", "tz", "segment", "channel", "label")


def parse_calendar(params: Mapping[str, str]) -> CalendarQuery:
    """The calendar's query string, or QueryError."""
    given = _known(params, _CALENDAR)
    query = CalendarQuery()
    if "first" in given:
        try:
            first = dt.date.fromisoformat(given["first"])
        except ValueError:
            raise QueryError(
                f"first: {_shown(given['first'])} is not a date like 2026-12-01"
            ) from None
        query = replace(query, first=first)
    if "view" in given:
        view = _one_of("view", given["view"], VIEWS)
        query = replace(query, view="week" if view == "week" else "month")
    if "tz" in given:
        query = replace(query, tz=zone(given["tz"]))
    if "segment" in given:
        query = replace(query, segment=_text("segment", given["segment"]))
    if "channel" in given:
        channel = _one_of("channel", given["channel"], tuple(c.value for c in Channel))
        query = replace(query, channel=Channel(channel))
    if "label" in given:
        query = replace(query, label=_label(given["label"]))
    return query


def compare(params: Mapping[str, str]) -> tuple[tuple[int, int] | None, str]:
    """A campaign page's query string: the two versions to compare (``from``, ``to``; None when
    neither is given) and the viewer's zone; or QueryError."""
    given = _known(params, ("from", "to", "tz"))
    tz = zone(given["tz"]) if "tz" in given else "UTC"
    if "from" not in given and "to" not in given:
        return None, tz
    if "from" not in given or "to" not in given:
        raise QueryError("from and to: give both versions to compare, or neither")
    return (_number("from", given["from"], MAX_PAGE), _number("to", given["to"], MAX_PAGE)), tz
