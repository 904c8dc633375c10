"""Which view each command prints: one table per command, from a ``--format`` name to its view.

A table's keys are its command's ``--format`` choices, so a new format is one entry here and no
change to the command. Every view takes the data and whether to colour; only the text views for a
terminal use the second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from reconciler import render
from reconciler.calendar import Calendar
from reconciler.cycles import Cycle, Stopped
from reconciler.executor import Ledger
from reconciler.history import History
from reconciler.manifests import LoadResult
from reconciler.model import CampaignStatus, Sendings
from reconciler.plan import Plan
from reconciler.render_calendar import calendar_json, calendar_text
from reconciler.runtime.access import TokenInfo

if TYPE_CHECKING:  # `import` imports it: every other command starts faster
    from reconciler.importer import Imported

T = TypeVar("T")
#: a view: the data, and whether to colour -> the output, ending with a line break
View = Callable[[T, bool], str]


def _plain(view: Callable[[T], str]) -> View[T]:
    """A view that has no colours: the choice is not for it."""
    return lambda data, color: view(data)


VALIDATE_VIEWS: Mapping[str, View[LoadResult]] = {
    "text": _plain(render.validation_text),
    "json": _plain(render.validation_json),
}

PLAN_VIEWS: Mapping[str, View[Plan]] = {
    "text": lambda plan, color: render.plan_text(plan, color=color),
    "json": _plain(render.plan_json),
    "markdown": _plain(render.plan_markdown),
    "github": _plain(render.plan_github),
}
#: the formats whose plan also goes to GitHub's job summary, with the view it goes there in: the
#: workflow's own format, so that a workflow that plans in several formats shows its plan once
PLAN_SUMMARIES: Mapping[str, Callable[[Plan], str]] = {"github": render.plan_markdown}

#: `plan --all-envs`: every environment's plan, or why it has none, by name
PLAN_ALL_VIEWS: Mapping[str, View[Mapping[str, Plan | str]]] = {
    "text": lambda plans, color: render.plans_text(plans, color=color),
    "json": _plain(render.plans_json),
    "markdown": _plain(render.plans_markdown),
    "github": _plain(render.plans_github),
}
PLAN_ALL_SUMMARIES: Mapping[str, Callable[[Mapping[str, Plan | str]], str]] = {
    "github": render.plans_markdown
}

APPLY_VIEWS: Mapping[str, View[Ledger]] = {
    "text": lambda ledger, color: render.apply_text(ledger, color=color),
    "json": _plain(render.ledger_json),
}

STATUS_VIEWS: Mapping[str, View[Sequence[CampaignStatus]]] = {
    "text": _plain(render.status_text),
    "json": _plain(render.status_json),
}

HISTORY_VIEWS: Mapping[str, View[History]] = {
    "text": _plain(render.history_text),
    "json": _plain(render.history_json),
}

SENDINGS_VIEWS: Mapping[str, View[Sendings]] = {
    "text": _plain(render.sendings_text),
    "json": _plain(render.sendings_json),
}

TOKEN_VIEWS: Mapping[str, View[Sequence[TokenInfo]]] = {
    "text": _plain(render.tokens_text),
    "json": _plain(render.tokens_json),
}

CALENDAR_VIEWS: Mapping[str, View[Calendar]] = {
    "text": _plain(calendar_text),
    "json": _plain(calendar_json),
}


IMPORT_VIEWS: Mapping[str, View[Imported]] = {
    "text": _plain(render.imported_text),
    "json": _plain(render.imported_json),
}


@dataclass(frozen=True)
class WatchView:
    """A watch prints each cycle as it ends, and a last line when it stops."""

    cycle: View[Cycle]
    stopped: Callable[[Stopped], str]


WATCH_VIEWS: Mapping[str, WatchView] = {
    "text": WatchView(
        lambda cycle, color: render.cycle_text(cycle, color=color), render.stopped_text
    ),
    "json": WatchView(_plain(render.cycle_json), render.stopped_json),
}
