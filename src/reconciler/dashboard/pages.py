"""The dashboard's pages: pure functions from data to a whole HTML document.

Each takes what it shows (a runtime snapshot, history entries, sendings, a plan), the moment and
the viewer's zone, and, for the layout, the signed-in name and the sign-out form's CSRF token; the
service reads the data, calls one of these and sends what it returns. Nothing here reads a clock,
a store or a request. Every value reaches the document through the templates, which escape it
(:mod:`reconciler.dashboard.rendering`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

from reconciler import render, wording
from reconciler.actions import FACTS, RISK_ORDER, SUMMARY_ORDER
from reconciler.dashboard import days as calendar_days
from reconciler.dashboard import listing, versions
from reconciler.dashboard.query import SORT_FIELDS, CalendarQuery, Query, zones
from reconciler.dashboard.rendering import render as _render
from reconciler.history import field_changes
from reconciler.model import Campaign, RuntimeState, Sending, Status
from reconciler.plan import FieldChange, Operation, Plan
from reconciler.project import NONE, Policies
from reconciler.runtime.base import HistoryEntry

__all__ = [
    "PublishedPlanLike",
    "calendar_page",
    "campaign_page",
    "campaigns_page",
    "drift_page",
    "error_page",
    "plan_page",
    "plans_page",
    "signin_page",
]

#: the columns of the campaigns list: (sort field or None, heading)
COLUMNS = (
    ("name", "Name"), ("title", "Title"), ("status", "Status"), ("kind", "Kind"),
    ("channel", "Channel"), ("live", "Live"), ("draft", "Draft"), (None, "Drift"),
    ("next", "Next sending"), ("changed", "Last change"),
)  # fmt: skip
assert {f for f, _ in COLUMNS if f} == set(SORT_FIELDS)
_CHANGE_CLASS = {"+": "added", "-": "removed", "~": "changed"}


def campaign_href(name: str) -> str:
    """The campaign page's path; a name from a console may hold anything, so it is quoted (a
    lone surrogate too, which UTF-8 itself refuses)."""
    return "/campaigns/" + quote(name, safe="", errors="surrogatepass")


def commit_short(commit: str | None, dirty: bool = False) -> str:
    """The commit, short; '-dirty' when the manifests had uncommitted changes (as git describe)."""
    if commit is None:
        return "-"
    return commit[:12] + ("-dirty" if dirty else "")


def _change_lines(changes: Sequence[FieldChange]) -> list[tuple[str, str]]:
    """Each change as the plan's text view words it, with its CSS class."""
    lines = [render.change_line(c) for c in changes]
    return [(_CHANGE_CLASS[line[0]], line) for line in lines]


def _layout(csrf: str, signed_in_as: str | None) -> dict[str, object]:
    return {"csrf": csrf, "signed_in_as": signed_in_as}


# -- the campaigns list --------------------------------------------------------------------------


def campaigns_page(
    state: RuntimeState,
    last_changes: Mapping[str, HistoryEntry],
    query: Query,
    now: dt.datetime,
    zone: str,
    *,
    csrf: str = "",
    signed_in_as: str | None = None,
) -> str:
    """Campaigns filtered, sorted and paged as ``query`` says, times in the viewer's ``zone``;
    ``last_changes`` is each campaign's newest history entry."""
    query = replace(query, tz=zone)  # the page's links keep the zone
    found = listing.listing(state.campaigns, last_changes, query, now)
    headers: list[tuple[str, str | None, str | None]] = []
    for field, heading in COLUMNS:
        if field is None:
            headers.append((heading, None, None))
            continue
        current = query.sort == field
        direction = "desc" if current and query.direction == "asc" else "asc"
        aria = ("ascending" if query.direction == "asc" else "descending") if current else None
        headers.append((heading, "?" + query.params(sort=field, direction=direction, page=1), aria))
    pager = [
        (n, None if n is None else "?" + query.params(page=n))
        for n in listing.page_numbers(query.page, found.pages)
    ]
    return _render(
        "campaigns.html",
        title="Campaigns",
        here="Campaigns",
        query=query,
        listing=found,
        headers=headers,
        pager=pager,
        previous="?" + query.params(page=query.page - 1) if query.page > 1 else None,
        next="?" + query.params(page=query.page + 1) if query.page < found.pages else None,
        zone=zone,
        zones=zones(),
        statuses=[s.value for s in Status],
        kinds=["one-time", "recurring", "inbound"],
        channels=["email", "sms", "push", "in-app", "web", "code-based", "content-card"],
        href=campaign_href,
        commit_short=commit_short,
        revision=state.revision,
        **_layout(csrf, signed_in_as),
    )


# -- one campaign --------------------------------------------------------------------------------


def campaign_page(
    campaign: Campaign,
    history: Sequence[HistoryEntry],
    sendings: Sequence[Sending],
    copies: list[str],
    compare: tuple[int, int] | None,
    now: dt.datetime,
    zone: str,
    *,
    csrf: str = "",
    signed_in_as: str | None = None,
) -> str:
    """One campaign: its title, labels, status, versions, a diff of two versions (``compare``:
    from, to), its history (newest first), its sendings as a timeline, and its copies."""
    known = versions.versions(campaign, history)
    by_number = {v.number: v for v in known}
    diff_rows: list[versions.ChangeRow] | None = None
    missing = []
    if compare is not None:
        missing = [n for n in compare if n not in by_number]
        if not missing:
            old, new = by_number[compare[0]], by_number[compare[1]]
            diff_rows = versions.change_rows(versions.compare(old, new))
    # the title and labels the campaign is shown with: its live version's, else its newest's
    shown = next((v for v in known if v.role == "live"), known[0] if known else None)
    entries = sorted(history, key=lambda e: e.seq, reverse=True)
    timeline = sorted(sendings, key=lambda x: (x.scheduled, x.id), reverse=True)
    return _render(
        "campaign.html",
        title=campaign.name,
        here="Campaigns",
        c=campaign,
        title_text=shown.title if shown else None,
        labels=sorted(shown.labels.items()) if shown else [],
        known=known,
        compare=compare,
        missing=missing,
        diff_rows=diff_rows,
        history=[
            (e, commit_short(e.commit, e.dirty), _change_lines(field_changes(e)), _written(e))
            for e in entries
        ],
        timeline=timeline,
        now=now,
        zone=zone,
        zones=zones(),
        copies=sorted(copies),
        draft_in_progress=listing.draft_in_progress(campaign),
        href=campaign_href,
        commit_short=commit_short,
        **_layout(csrf, signed_in_as),
    )


def _written(e: HistoryEntry) -> str:
    """The version an entry wrote: a staged or created draft, else the live one."""
    side = "draft" if e.operation in ("create", "update") else "live"
    after = e.after or {}
    version = after.get(side) or after.get("live")
    number = version.get("number") if isinstance(version, Mapping) else None
    return f"v{number}" if isinstance(number, int) else "-"


# -- the calendar --------------------------------------------------------------------------------


def calendar_page(
    state: RuntimeState,
    first_day: dt.date,
    view: str,
    zone: str,
    filters: CalendarQuery,
    now: dt.datetime,
    sendings: Sequence[Sending] = (),
    rules: Policies = NONE,
    *,
    csrf: str = "",
    signed_in_as: str | None = None,
) -> str:
    """The month (or week, ``view``) of ``first_day``: each day's campaigns and their sendings in
    ``zone``, clashes and windows over ``rules``' frequency caps marked; the runtime's
    ``sendings`` for the days gone."""
    month = calendar_days.days(state, first_day, view, zone, filters, now, sendings, rules)
    query = CalendarQuery(
        first=month.first,
        view="week" if view == "week" else "month",
        tz=zone,
        segment=filters.segment,
        channel=filters.channel,
        label=filters.label,
    )
    heading = f"{month.first:%B %Y}" if view != "week" else f"Week of {month.first.isoformat()}"
    return _render(
        "calendar.html",
        title=f"Calendar: {heading}",
        here="Calendar",
        heading=heading,
        month=month,
        view=view,
        query=query,
        previous="?" + query.params(first=month.previous),
        next="?" + query.params(first=month.next),
        today="?" + query.params(first=None),
        other_view="?" + _other_view(query, month, now.astimezone(ZoneInfo(zone)).date()),
        weekdays=calendar_days.WEEKDAYS,
        zone=zone,
        zones=zones(),
        channels=["email", "sms", "push"],
        href=campaign_href,
        **_layout(csrf, signed_in_as),
    )


def _other_view(query: CalendarQuery, month: calendar_days.Month, today: dt.date) -> str:
    """The link to the week view (of today when it is in the month shown, else of the month's
    first day), or to the month view of the week's first day."""
    if query.view == "week":
        return query.params(view="month")
    shown = {d.date for d in month.days if not d.outside}
    return query.params(view="week", first=today if today in shown else month.first)


# -- drift ---------------------------------------------------------------------------------------


def drift_page(
    state: RuntimeState,
    history: Sequence[HistoryEntry] = (),
    *,
    csrf: str = "",
    signed_in_as: str | None = None,
) -> str:
    """Campaigns whose live version was written outside the reconciler, each with what that
    version changed when the history holds the write that made it."""
    drifted = []
    for name in sorted(state.campaigns):
        c = state.campaigns[name]
        if not c.drifted or c.live is None:
            continue
        number = c.live.number
        made = next(
            (
                e
                for e in sorted(history, key=lambda e: e.seq, reverse=True)
                if e.campaign == name and _live_number(e.after) == number
            ),
            None,
        )
        rows = versions.change_rows(field_changes(made)) if made is not None else None
        drifted.append((c, made, rows))
    return _render(
        "drift.html",
        title="Drift",
        here="Drift",
        drifted=drifted,
        href=campaign_href,
        **_layout(csrf, signed_in_as),
    )


def _live_number(campaign: Mapping[str, object] | None) -> object:
    live = (campaign or {}).get("live")
    return live.get("number") if isinstance(live, Mapping) else None


# -- plans ---------------------------------------------------------------------------------------


class PublishedPlanLike(Protocol):
    """A plan published to the dashboard (``reconciler plan --publish``), as the store lists it."""

    @property
    def id(self) -> int | str: ...
    @property
    def plan_id(self) -> str: ...
    @property
    def ref(self) -> str | None: ...
    @property
    def published_at(self) -> str: ...
    @property
    def published_by(self) -> str: ...
    @property
    def summary(self) -> Mapping[str, int] | str: ...


def summary_text(summary: Mapping[str, int] | str) -> str:
    """A plan's counts as its summary says them: '2 to activate; 14 unchanged; 1 error'."""
    if isinstance(summary, str):
        return summary
    actions = [f"{summary[a.value]} to {a.value}" for a in SUMMARY_ORDER if summary.get(a.value)]
    parts = [", ".join(actions) or "No changes", f"{summary.get('unchanged', 0)} unchanged"]
    if summary.get("errors"):
        parts.append(wording.plural(summary["errors"], "error"))
    return "; ".join(parts)


def plan_href(published_id: int | str) -> str:
    return "/plans/" + quote(str(published_id), safe="")


def plans_page(
    plans: Sequence[PublishedPlanLike],
    *,
    csrf: str = "",
    signed_in_as: str | None = None,
) -> str:
    """The plans published to the dashboard, newest first."""
    rows = sorted(plans, key=lambda p: (p.published_at, p.id), reverse=True)
    return _render(
        "plans.html",
        title="Plans",
        here="Plans",
        plans=[(p, summary_text(p.summary), plan_href(p.id)) for p in rows],
        **_layout(csrf, signed_in_as),
    )


def plan_page(
    plan: Plan,
    published_info: PublishedPlanLike | None = None,
    *,
    csrf: str = "",
    signed_in_as: str | None = None,
) -> str:
    """A plan as the pull-request comment shows it, whole: the summary, a change to the policies,
    errors (nothing applies until they are fixed), the operations grouped by risk with their field
    changes, then warnings."""
    said = wording.summary(plan)
    summary = "; ".join([", ".join(said.actions) or said.head, ", ".join(said.tail)])
    summary += "; " + ", ".join(said.problems) if said.problems else ""
    groups = [
        (action, [_operation(op) for op in plan.operations if op.action is action])
        for action in RISK_ORDER
    ]
    return _render(
        "plan.html",
        title=f"Plan {plan.plan_id[:19]}",
        here="Plans",
        plan=plan,
        info=published_info,
        summary=summary,
        policy_changes=[
            (_CHANGE_CLASS.get(sign, "note"), f"{sign} {text}")
            for sign, text in wording.policy_changes(plan)
        ],
        policy_heading=wording.POLICY_CHANGES,
        groups=[(a, FACTS[a], ops) for a, ops in groups if ops],
        errors=[render.diagnostic_line(d) for d in plan.errors],
        warnings=[render.diagnostic_line(d) for d in plan.warnings],
        href=campaign_href,
        **_layout(csrf, signed_in_as),
    )


def _operation(op: Operation) -> dict[str, object]:
    before = wording.sendings(op.sendings_before, op.zone_before) if op.sendings_before else ""
    return {
        "op": op,
        "versions": wording.versions(op),
        "reason": wording.reason(op),
        "sendings_before": before,
        "next_sendings": wording.next_sendings(op),
        "changes": _change_lines(op.changes),
        "inherited": wording.inherited(op) if op.inherited else "",
    }


# -- signing in, and errors ----------------------------------------------------------------------


def signin_page(csrf: str, error: str | None = None) -> str:
    """The sign-in form: a token, POSTed to /signin with the form's CSRF token."""
    return _render("signin.html", title="Sign in", here="", csrf=csrf, error=error)


def error_page(
    status: int,
    message: str,
    *,
    csrf: str = "",
    signed_in_as: str | None = None,
) -> str:
    """An error: its status and what went wrong (a query the page does not take: QueryError)."""
    return _render(
        "error.html",
        title=f"Error {status}",
        here="",
        status=status,
        message=message,
        **_layout(csrf, signed_in_as),
    )
