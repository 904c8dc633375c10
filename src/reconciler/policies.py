"""Policies: the rules of a whole repository, which no single campaign can see, checked by every
plan at the line that breaks them (``reconciler.yaml``, read by :mod:`reconciler.project`).

One pure function per kind of policy, of (plan, manifests, runtime snapshot, now) and the
policies, each giving diagnostics that name the policy and its line in the project file:

- :func:`freezes`: no listed action on a matching campaign while a freeze is on; an exempt
  campaign passes, with a warning. A copy into a draft counts as a ``create``.
- :func:`quiet_hours`: no campaign goes live (activated, replaced, copied to live, resumed) on a
  listed channel with a sending in the next year inside the quiet hours of its own zone.
- :func:`frequency_caps`: over the next 28 days, every sending to a segment by every campaign live
  after the plan, per day or week in the policies' zone: a window over the cap is an error on each
  campaign the plan makes go live that sends in it, a warning when the plan touches none of them.
- :func:`required_labels`: every manifest carries the labels.

:func:`check` runs them all on a plan; :func:`static` runs those that need no runtime
(``validate``); :func:`changes` says what a change to the policies changes, which every view of a
plan shows first.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reconciler import schedule
from reconciler.effective import Resolver
from reconciler.errors import Diagnostic, Severity
from reconciler.model import (
    INBOUND_CHANNELS,
    Action,
    DesiredState,
    Manifest,
    Position,
    Run,
    RuntimeState,
    Spec,
    Status,
    segment_of,
)
from reconciler.plan import FieldChange, Operation, Plan
from reconciler.planner import diagnostic_order, diff
from reconciler.project import Freeze, FrequencyCap, Policies, Project, QuietHours

__all__ = [
    "CAP_DAYS",
    "QUIET_DAYS",
    "Window",
    "changes",
    "check",
    "freezes",
    "frequency_caps",
    "over_cap",
    "quiet_hours",
    "required_labels",
    "static",
]

#: how far ahead quiet hours and frequency caps look
QUIET_DAYS, CAP_DAYS = 366, 28
REQUIRED = "requiredLabels"  # the policy name of required labels
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: the field a frozen operation is reported at: what says to do it
_FROZEN_FIELD = {
    Action.CREATE: "spec.state",
    Action.ACTIVATE: "spec.state",
    Action.COPY: "spec.copyFrom",
    Action.RESUME: "spec.run",
    Action.STOP: "spec.run",
    Action.ADOPT: "metadata.annotations",
}
_LIVE = (Status.LIVE, Status.SCHEDULED)


def goes_live(op: Operation) -> bool:
    """Whether ``op`` makes a spec live: what quiet hours and frequency caps look at."""
    return op.action in (Action.ACTIVATE, Action.REPLACE, Action.RESUME) or (
        op.action is Action.COPY and op.activate
    )


def frozen_as(op: Operation) -> Action:
    """The action a freeze sees: a copy into a draft is draft work, a create."""
    return Action.CREATE if op.action is Action.COPY and not op.activate else op.action


def check(
    plan: Plan,
    manifests: Sequence[Manifest],
    state: RuntimeState,
    now: datetime,
    policies: Policies,
) -> Plan:
    """``plan`` with the verdicts of every policy among its errors and warnings."""
    by_name = {m.name: m for m in manifests}
    found = [
        *required_labels(manifests, policies),
        *freezes(plan, by_name, now, policies),
        *quiet_hours(plan, by_name, now, policies),
        *frequency_caps(plan, by_name, state, now, policies),
    ]
    return _with(plan, found)


def static(manifests: Sequence[Manifest], now: datetime, policies: Policies) -> list[Diagnostic]:
    """What needs no runtime: required labels, and quiet hours of every manifest that says live
    and running (what it would send, were it applied now)."""
    found = required_labels(manifests, policies)
    if not policies.quiet_hours:
        return found
    by_name = {m.name: m for m in manifests}
    resolver = Resolver(by_name, RuntimeState(0, {}))
    searched: dict[Any, datetime | None] = {}
    for m in manifests:
        if m.state is not DesiredState.LIVE or m.run is not Run.RUNNING:
            continue
        spec, _ = resolver.effective(m)  # a copy of what is not in the repository: not known
        if spec is not None and spec.get("schedule"):
            found += _quiet(m.name, m, m.file, spec, now, policies, searched)
    return found


def _with(plan: Plan, found: Sequence[Diagnostic]) -> Plan:
    errors = [d for d in found if d.severity is Severity.ERROR]
    warnings = [d for d in found if d.severity is Severity.WARNING]
    if not errors and not warnings:
        return plan
    return replace(
        plan,
        errors=tuple(sorted((*plan.errors, *errors), key=diagnostic_order)),
        warnings=tuple(sorted((*plan.warnings, *warnings), key=diagnostic_order)),
    )


def _verdict(
    message: str,
    policies: Policies,
    name: str,
    line: int | None,
    *,
    file: str | None = None,
    at: Position | None = None,
    campaign: str | None = None,
    severity: Severity = Severity.ERROR,
) -> Diagnostic:
    line_, column = at if at is not None else (None, None)
    return Diagnostic(
        message,
        file,
        line_,
        column,
        campaign,
        severity,
        policy=name,
        policy_file=policies.file,
        policy_line=line,
    )


# -- required labels -----------------------------------------------------------------------------


def required_labels(manifests: Iterable[Manifest], policies: Policies) -> list[Diagnostic]:
    """A manifest without a required label: an error at its ``metadata`` line."""
    if not policies.required_labels:
        return []
    found = []
    for m in manifests:
        missing = [key for key in policies.required_labels if key not in m.labels]
        if missing:
            them = " and ".join(missing) + (" label" if len(missing) == 1 else " labels")
            message = (
                f"metadata.labels has no {them}: every campaign must carry "
                f"{', '.join(policies.required_labels)} "
                f"(requiredLabels, {policies.place(policies.required_line)})"
            )
            found.append(
                _verdict(
                    message,
                    policies,
                    REQUIRED,
                    policies.required_line,
                    file=m.file,
                    at=m.key_at("metadata"),
                    campaign=m.name,
                )
            )
    return found


# -- freezes -------------------------------------------------------------------------------------


def freezes(
    plan: Plan, manifests: Mapping[str, Manifest], now: datetime, policies: Policies
) -> list[Diagnostic]:
    """An operation a freeze in force at ``now`` holds: an error at the manifest's line that asks
    for it (a warning when the campaign is exempt). ``manifests`` may be empty: a saved plan's
    operations are placed at their files."""
    on = [f for f in policies.freezes if f.start <= now < f.end]
    found: list[Diagnostic] = []
    for op in plan.operations if on else ():
        action = frozen_as(op)
        for freeze in on:
            if action not in freeze.actions:
                continue
            if freeze.campaigns is not None and not freeze.campaigns.matches(op.labels):
                continue
            exempt = freeze.exempt is not None and freeze.exempt.matches(op.labels)
            found.append(_frozen(op, action, freeze, exempt, manifests.get(op.campaign), policies))
    return found


def _frozen(
    op: Operation,
    action: Action,
    freeze: Freeze,
    exempt: bool,
    m: Manifest | None,
    policies: Policies,
) -> Diagnostic:
    ends = schedule.describe_in(freeze.end, policies.timezone)
    place = policies.place(freeze.line)
    if exempt:
        assert freeze.exempt is not None
        message = (
            f"{action.value} during freeze {freeze.name} ({place}, until {ends}): allowed, as the "
            f"campaign is exempt ({freeze.exempt.describe()})"
        )
    else:
        message = f"frozen: {freeze.name} ({place}) allows no {action.value} until {ends}"
        if freeze.exempt is not None:
            message += f" (campaigns labelled {freeze.exempt.describe()} are exempt)"
    at = None
    if m is not None:
        field = _FROZEN_FIELD.get(op.action)
        if field is None:  # a change: the changed field that comes first in the file
            paths = [c.path for c in op.changes] or ["spec"]
            at = min(map(m.where, paths))
        else:
            at = m.where(field)
    return _verdict(
        message,
        policies,
        freeze.name,
        freeze.line,
        file=op.file,
        at=at,
        campaign=op.campaign,
        severity=Severity.WARNING if exempt else Severity.ERROR,
    )


# -- quiet hours ---------------------------------------------------------------------------------


def quiet_hours(
    plan: Plan, manifests: Mapping[str, Manifest], now: datetime, policies: Policies
) -> list[Diagnostic]:
    """A campaign the plan makes go live, on a listed channel, with a sending in the next year
    (or, sent on activation, now) inside the quiet hours of its own zone: an error at its
    schedule's time, naming the first such sending."""
    if not policies.quiet_hours:
        return []
    searched: dict[Any, datetime | None] = {}
    found: list[Diagnostic] = []
    for op in plan.operations:
        if goes_live(op) and op.spec is not None:
            found += _quiet(
                op.campaign, manifests.get(op.campaign), op.file, op.spec, now, policies, searched
            )
    return found


def _quiet(
    name: str,
    m: Manifest | None,
    file: str | None,
    spec: Spec,
    now: datetime,
    policies: Policies,
    searched: dict[Any, datetime | None],
) -> list[Diagnostic]:
    channel = spec.get("channel")
    rules = [q for q in policies.quiet_hours if channel in q.channels]
    if not rules:
        return []
    found = []
    timing = spec.get("schedule") or {}
    for q in rules:
        key = (repr(timing), q)
        if key not in searched:
            searched[key] = _first_quiet(spec, q, now)
        first = searched[key]
        if first is None:
            continue
        zone = schedule.zone_of(spec)
        when = schedule.describe_in(first, zone)
        sends = f"it sends on activation, now ({when})" if not timing else f"it sends {when}"
        message = (
            f"quiet hours: {q.name} ({policies.place(q.line)}) allows no {channel} from "
            f"{q.start:%H:%M} to {q.end:%H:%M} in the campaign's zone ({zone}), and {sends}"
        )
        at = m.where(_schedule_field(timing)) if m is not None else None
        found.append(_verdict(message, policies, q.name, q.line, file=file, at=at, campaign=name))
    return found


def _first_quiet(spec: Spec, q: QuietHours, now: datetime) -> datetime | None:
    """The first sending of ``spec`` in the next year inside ``q``, in the spec's own zone."""
    zone = ZoneInfo(schedule.zone_of(spec))
    if not spec.get("schedule"):  # a one-time campaign sent as it is activated: now
        return now if q.quiet(now.astimezone(zone).time()) else None
    for sending in schedule.between(spec, now, now + timedelta(days=QUIET_DAYS)):
        if q.quiet(sending.astimezone(zone).time()):
            return sending
    return None


def _schedule_field(timing: Mapping[str, Any]) -> str:
    """Where a schedule says when it sends: its ``at``, its ``cron``, its ``start``."""
    if "once" in timing:
        return "spec.schedule.once.at"
    recurring = timing.get("recurring")
    if not isinstance(recurring, Mapping):
        return "spec.schedule"
    for key in ("cron", "at", "start"):
        if key in recurring:
            return f"spec.schedule.recurring.{key}"
    return "spec.schedule.recurring"


# -- frequency caps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A day or a week (``first`` to ``last``, local dates in the policies' zone) in which one
    segment gets more sendings than a cap allows."""

    cap: FrequencyCap
    segment: str
    first: date
    last: date
    sendings: int
    campaigns: tuple[str, ...]  # sorted, distinct

    def describe(self) -> str:
        if self.first == self.last:
            return f"on {WEEKDAYS[self.first.weekday()]} {self.first}"
        return f"in the week of Mon {self.first} to Sun {self.last}"

    def said(self) -> str:
        """'segment newsletter gets 3 sendings on Mon 2026-11-30 (at most 2 a day): a, b'."""
        return (
            f"segment {self.segment} gets {self.sendings} sendings {self.describe()} (at most "
            f"{self.cap.max} a {self.cap.per}): {', '.join(self.campaigns)}"
        )


#: a campaign's sendings as caps count them: campaign, channel, segment, and the local date of
#: each sending in the policies' zone
Sending = tuple[str, str, str | None, Sequence[date]]


def over_cap(cap: FrequencyCap, sendings: Iterable[Sending]) -> list[Window]:
    """The windows over ``cap`` among ``sendings``, by segment then date: shared by plans and
    the calendar."""
    counted: dict[tuple[str, date], list[str]] = {}
    covered: dict[str, bool] = {}  # by segment: many campaigns share one
    for campaign, channel, segment, dates in sendings:
        if segment is None or channel not in cap.channels:
            continue
        if (covers := covered.get(segment)) is None:
            covers = covered[segment] = _covers(cap, segment)
        if covers:
            for day in dates:
                counted.setdefault((segment, _period(day, cap.per)), []).append(campaign)
    return [
        _window(cap, segment, first, names)
        for (segment, first), names in sorted(counted.items())
        if len(names) > cap.max
    ]


def _window(cap: FrequencyCap, segment: str, first: date, names: list[str]) -> Window:
    last = first + timedelta(days=6 if cap.per == "week" else 0)
    return Window(cap, segment, first, last, len(names), tuple(sorted(set(names))))


def _period(day: date, per: str) -> date:
    """The first day of the cap's period ``day`` is in: itself, or its week's Monday."""
    return day - timedelta(days=day.weekday()) if per == "week" else day


def _covers(cap: FrequencyCap, segment: str) -> bool:
    return any(fnmatch.fnmatchcase(segment, pattern) for pattern in cap.segments)


def frequency_caps(
    plan: Plan,
    manifests: Mapping[str, Manifest],
    state: RuntimeState,
    now: datetime,
    policies: Policies,
) -> list[Diagnostic]:
    """Windows of the next 28 days over a cap, counting every campaign live once the plan is
    applied (managed or not): an error on each campaign the plan makes go live among those that
    send in one, naming the first such window; a warning at the cap when the plan makes none of
    them go live."""
    if not policies.caps:
        return []
    touched = {op.campaign for op in plan.operations if goes_live(op)}
    zone = policies.zone
    end = now + timedelta(days=CAP_DAYS)
    known: dict[str, list[date]] = {}  # the local dates of sendings by schedule, which many share
    sendings: list[Sending] = []
    for name, spec in _live_after(plan, state).items():
        if not (timing := spec.get("schedule")):
            continue
        if (dates := known.get(key := repr(timing))) is None:
            moments = schedule.occurrences(spec, now, end)
            dates = known[key] = [moment.astimezone(zone).date() for moment in moments]
        sendings.append((name, spec["channel"], segment_of(spec), dates))
    found: list[Diagnostic] = []
    for cap in policies.caps:
        windows = over_cap(cap, sendings)
        by_campaign: dict[str, list[Window]] = {}
        untouched: dict[str, list[Window]] = {}
        for window in windows:
            going_live = [n for n in window.campaigns if n in touched]
            for name in going_live:
                by_campaign.setdefault(name, []).append(window)
            if not going_live:
                untouched.setdefault(window.segment, []).append(window)
        for name, mine in sorted(by_campaign.items()):
            m = manifests.get(name)
            op_file = m.file if m is not None else None
            at = m.where("spec.audience.segment") if m is not None else None
            message = f"frequency cap {cap.name} ({policies.place(cap.line)}): {mine[0].said()}"
            message += _more(mine)
            found.append(
                _verdict(message, policies, cap.name, cap.line, file=op_file, at=at, campaign=name)
            )
        for _, theirs in sorted(untouched.items()):
            message = (
                f"frequency cap {cap.name} is exceeded by campaigns this plan does not make go "
                f"live: {theirs[0].said()}{_more(theirs)}"
            )
            found.append(
                _verdict(
                    message,
                    policies,
                    cap.name,
                    cap.line,
                    file=policies.file,
                    at=Position(cap.line, 1),
                    severity=Severity.WARNING,
                )
            )
    return found


def _more(windows: Sequence[Window]) -> str:
    rest = len(windows) - 1
    if not rest:
        return ""
    unit = windows[0].cap.per
    return f"; and {rest} more {unit if rest == 1 else unit + 's'} over the cap"


def _live_after(plan: Plan, state: RuntimeState) -> dict[str, Spec]:
    """The live spec of every outbound campaign that sends once the plan is applied."""
    live = {
        name: c.live.spec
        for name, c in state.campaigns.items()
        if c.status in _LIVE and c.live is not None and c.channel not in INBOUND_CHANNELS
    }
    for op in plan.operations:
        if op.action is Action.STOP:
            live.pop(op.campaign, None)
        elif goes_live(op) and op.spec is not None and op.spec["channel"] not in INBOUND_CHANNELS:
            live[op.campaign] = op.spec
    return dict(sorted(live.items()))


# -- a change to the policies --------------------------------------------------------------------


def changes(before: Policies, after: Policies) -> tuple[FieldChange, ...]:
    """What a change to the project file changes of its policies, field by field: a named policy
    is shown by its name (``policies.freezes.peak-season.until``), not its place in a list."""
    return tuple(diff(_named(before.data), _named(after.data), "policies"))


def project_changes(before: Project, after: Project) -> tuple[FieldChange, ...]:
    """:func:`changes`, and what the change does to the rest of the project file: where plans go
    (``environments``), where messages go (``notifications``) and which of the job's variables
    the file may name (``allowedVariables``). A reviewer reads each of them first, as a change to
    the policies: they decide which runtime and URL the job's variables reach."""
    found = list(changes(before.policies, after.policies))
    for key in ("allowedVariables", "environments", "notifications"):
        old, new = before.data.get(key), after.data.get(key)
        if isinstance(old, Mapping) or isinstance(new, Mapping):
            found += diff(old or {}, new or {}, key)
        elif old != new:
            found.append(FieldChange(key, old, new))
    return tuple(found)


def _named(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, list) and all(isinstance(v, Mapping) and "name" in v for v in value):
            out[key] = {
                str(item["name"]): {k: v for k, v in item.items() if k != "name"} for item in value
            }
        else:
            out[key] = value
    return out
