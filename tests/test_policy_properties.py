"""The central property with policies, over random manifests, runtimes, moments and policies: a
plan that ``policies.check`` finds ok

- applies, and planning again from the same inputs gives no operations;
- leaves a runtime that breaks no policy it checked: no operation a freeze in force holds is in
  the history; no campaign that went live sends inside quiet hours of its channel in the next
  year; no day or week over a frequency cap holds a campaign that went live.

The oracle recounts from the runtime after the apply (its history, its live specs and
``schedule.occurrences``), without the functions under test.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from factories import manifest
from reconciler import executor, planner, policies, schedule
from reconciler.model import Action, Manifest, RuntimeState, Status
from reconciler.project import (
    DEFAULT_FREEZE_ACTIONS,
    Freeze,
    FrequencyCap,
    Policies,
    QuietHours,
    Selector,
)
from reconciler.runtime.base import HistoryEntry, LockOwner, Provenance
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime

NAMES = ("a", "b", "c", "d")
OWNER = LockOwner("policy-prop@host:1", 1, "host", "policy property test")
#: a Friday noon, a Friday night, the day before a spring-forward in Europe
NOWS = (
    datetime(2026, 11, 27, 12, tzinfo=UTC),
    datetime(2026, 11, 27, 22, 30, tzinfo=UTC),
    datetime(2027, 3, 27, 12, tzinfo=UTC),
)
OUTBOUND = ("email", "sms", "push")
CONTENT = {
    "email": {"subject": "s0", "body": "b"},
    "sms": {"text": "s0"},
    "push": {"title": "s0", "body": "b"},
    "in-app": {"title": "s0", "body": "b"},
}
SCHEDULES: tuple[dict[str, Any] | None, ...] = (
    None,  # sent on activation
    {"once": {"at": "2027-06-01T22:00:00+00:00"}},
    {"once": {"at": "2027-06-01T09:00:00+02:00"}, "timezone": "Europe/Amsterdam"},
    {"recurring": {"every": "day", "at": "09:00"}, "timezone": "Europe/Amsterdam"},
    {"recurring": {"every": "day", "at": "02:30"}, "timezone": "Europe/Amsterdam"},
    {"recurring": {"every": "week", "on": ["tue"], "at": "22:30"}},
    {"recurring": {"cron": "0 9,21 * * *"}, "timezone": "Europe/Amsterdam"},
)
SEGMENTS = ("s1", "s2", "vip-1")
LABELS: tuple[dict[str, str], ...] = (
    {},
    {"team": "growth"},
    {"team": "growth", "exempt": "yes"},
    {"team": "brand"},
)
RANGES = ((time(21), time(8)), (time(3), time(5)), (time(12), time(13)))
LIVE = (Status.LIVE, Status.SCHEDULED)


# -- generating ----------------------------------------------------------------------------------


@st.composite
def base_specs(draw: st.DrawFn) -> dict[str, Any]:
    """What a campaign keeps for the whole example: its channel, audience and schedule."""
    channel = draw(st.sampled_from([*OUTBOUND, "in-app"]))
    if channel == "in-app":
        return {"channel": channel, "content": CONTENT[channel]}
    spec: dict[str, Any] = {
        "channel": channel,
        "audience": {"segment": draw(st.sampled_from(SEGMENTS))},
        "content": CONTENT[channel],
    }
    plan = draw(st.sampled_from(SCHEDULES))
    if plan is not None:
        spec["schedule"] = plan
    return spec


def variant(spec: Mapping[str, Any], subject: str) -> dict[str, Any]:
    content = dict(spec["content"])
    key = "text" if "text" in content else "subject" if "subject" in content else "title"
    content[key] = subject
    return {**spec, "content": content}


@st.composite
def manifest_sets(
    draw: st.DrawFn,
    bases: Mapping[str, dict[str, Any]],
    sources: Mapping[str, str | None],
    min_size: int = 0,
) -> list[Manifest]:
    chosen = draw(
        st.lists(st.sampled_from(NAMES), unique=True, min_size=min_size, max_size=len(NAMES))
    )
    found = []
    for name in sorted(chosen):
        spec = variant(bases[name], draw(st.sampled_from(["s0", "s1"])))
        copy_from = sources[name]
        m = manifest(
            name,
            {"content": spec["content"]} if copy_from and draw(st.booleans()) else spec,
            state=draw(st.sampled_from(["draft", "live", "live"])),
            run=draw(st.sampled_from(["running"] * 5 + ["stopped"])),
            copy_from=copy_from,
        )
        found.append(m._replace(labels=draw(st.sampled_from(LABELS))))
    return found


def subsets(items: Sequence[Any]) -> st.SearchStrategy[frozenset[Any]]:
    return st.frozensets(st.sampled_from(items), min_size=1)


@st.composite
def freezes(draw: st.DrawFn, now: datetime, line: int) -> Freeze:
    start = now + draw(
        st.sampled_from([timedelta(days=-2), timedelta(seconds=-1), timedelta(0), timedelta(1)])
    )
    end = start + draw(st.sampled_from([timedelta(seconds=1), timedelta(days=1), timedelta(3)]))
    actions = draw(st.none() | subsets(list(Action)))
    return Freeze(
        f"freeze-{line}",
        line,
        start,
        end,
        DEFAULT_FREEZE_ACTIONS if actions is None else actions,
        campaigns=draw(st.sampled_from([None, Selector({"team": "growth"})])),
        exempt=draw(st.sampled_from([None, Selector({"exempt": "yes"})])),
    )


@st.composite
def policy_sets(draw: st.DrawFn, now: datetime) -> Policies:
    frozen = [draw(freezes(now, 10 + i)) for i in range(draw(st.integers(0, 2)))]
    quiet = [
        QuietHours(f"quiet-{i}", 20 + i, *draw(st.sampled_from(RANGES)), draw(subsets(OUTBOUND)))
        for i in range(draw(st.integers(0, 2)))
    ]
    caps = [
        FrequencyCap(
            f"cap-{i}",
            30 + i,
            draw(st.integers(1, 3)),
            draw(st.sampled_from(["day", "week"])),
            draw(subsets(OUTBOUND)),
            draw(st.sampled_from([("*",), ("s?",), ("vip-*",), ("s1", "vip-?")])),
        )
        for i in range(draw(st.integers(0, 2)))
    ]
    return Policies(
        "reconciler.yaml",
        draw(st.sampled_from(["UTC", "Europe/Amsterdam"])),
        tuple(frozen),
        tuple(quiet),
        tuple(caps),
        draw(st.sampled_from([(), ("team",)])),
        40,
    )


@dataclass
class Example:
    now: datetime
    before: list[Manifest]  # applied first, without policies: the runtime
    console: dict[str, Any] | None  # a live campaign made in a console, unmanaged
    after: list[Manifest]
    policies: Policies


@st.composite
def examples(draw: st.DrawFn) -> Example:
    now = draw(st.sampled_from(NOWS))
    bases = {name: draw(base_specs()) for name in NAMES}
    # each campaign keeps its kind and its source (an earlier name: no cycles) for the whole
    # example, as changes of those are refused and would starve the interesting plans
    sources = {
        name: draw(st.sampled_from([None, None, *NAMES[:i]])) for i, name in enumerate(NAMES)
    }
    console = draw(st.none() | base_specs())
    return Example(
        now,
        draw(manifest_sets(bases, sources)),
        console,
        draw(manifest_sets(bases, sources, min_size=1)),
        draw(policy_sets(now)),
    )


# -- applying ------------------------------------------------------------------------------------


def apply(runtime: Platform, plan: Any) -> None:
    with executor.hold_lock(runtime, OWNER):
        ledger = executor.execute(runtime, plan, Provenance("prop"), owner=OWNER)
    assert ledger.ok, ledger.entries


def judged_ok(
    wanted: list[Manifest], state: RuntimeState, now: datetime, rules: Policies
) -> tuple[list[Manifest], Any]:
    """The manifests a user keeps after dropping every campaign in error, and their plan: as a
    user who fixes a red pull request by taking the offending manifests out."""
    valid = wanted
    while True:
        plan = planner.plan(valid, state, now=now)
        checked = policies.check(plan, valid, state, now, rules)
        if checked.ok:
            return valid, checked
        refused = {d.campaign for d in checked.errors}
        assert None not in refused, checked.errors
        for d in checked.errors:
            event(f"refused: {d.policy or d.message[:50]}")
        valid = [m for m in valid if m.name not in refused]


# -- the oracle ----------------------------------------------------------------------------------


def seen_as(entry: HistoryEntry) -> str:
    """The action a freeze holds: a copy that ends as a draft is draft work, a create."""
    status = (entry.after or {}).get("status")
    return "create" if entry.operation == "copy" and status == "draft" else entry.operation


def went_live(entry: HistoryEntry) -> bool:
    status = (entry.after or {}).get("status")
    return entry.operation in ("activate", "replace", "resume") or (
        entry.operation == "copy" and status in ("live", "scheduled")
    )


def carries(labels: Mapping[str, str], selector: Selector | None) -> bool:
    return selector is not None and all(labels.get(k) == v for k, v in selector.labels.items())


def quiet_at(rule: QuietHours, wall: time) -> bool:
    """Whether a wall-clock time is in [from, until), which may cross midnight."""
    now = (wall.hour, wall.minute, wall.second, wall.microsecond)
    first, last = (rule.start.hour, rule.start.minute), (rule.end.hour, rule.end.minute)
    if first < last:
        return first <= now < last
    return now >= first or now < last


def window(moment: datetime, zone: ZoneInfo, per: str) -> date:
    local = moment.astimezone(zone).date()
    if per == "day":
        return local
    year, week, _ = local.isocalendar()
    return date.fromisocalendar(year, week, 1)


def check_no_violation(
    runtime: Platform, revision: int, wanted: Sequence[Manifest], now: datetime, rules: Policies
) -> None:
    written = runtime.history(after=revision)
    labels = {m.name: m.labels for m in wanted}
    live_now = {e.campaign for e in written if went_live(e)}
    for entry in written:
        event(f"applied {seen_as(entry)}")
        for f in rules.freezes:
            on = f.start <= now < f.end
            mine = labels.get(entry.campaign, {})
            held = seen_as(entry) in {a.value for a in f.actions} and (
                f.campaigns is None or carries(mine, f.campaigns)
            )
            assert not (on and held and not carries(mine, f.exempt)), (entry, f)
    campaigns = runtime.snapshot().campaigns
    for name in live_now:
        spec = campaigns[name].live.spec  # type: ignore[union-attr]
        zone = ZoneInfo(spec.get("schedule", {}).get("timezone", "UTC"))
        year = schedule.occurrences(spec, now, now + timedelta(days=366), limit=100_000)
        sends = year if spec.get("schedule") else [now]
        for rule in rules.quiet_hours:
            if spec["channel"] in rule.channels:
                quiet = [s for s in sends if quiet_at(rule, s.astimezone(zone).time())]
                assert quiet == [], (name, rule, quiet[:1])
    counted: list[tuple[datetime, str, str, str]] = []
    for name, c in campaigns.items():
        if c.status in LIVE and c.live is not None and c.channel.value in OUTBOUND:
            spec = c.live.spec
            for moment in schedule.occurrences(spec, now, now + timedelta(days=28)):
                counted.append((moment, name, spec["channel"], spec["audience"]["segment"]))
    for cap in rules.caps:
        windows: dict[tuple[str, date], list[str]] = {}
        for moment, name, channel, segment in counted:
            if channel in cap.channels and any(
                fnmatch.fnmatchcase(segment, p) for p in cap.segments
            ):
                windows.setdefault((segment, window(moment, rules.zone, cap.per)), []).append(name)
        for key, names in windows.items():
            if len(names) > cap.max:
                event("a window over a cap, of campaigns the plan did not make go live")
                assert not live_now & set(names), (cap, key, names)


# -- the property --------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(example=examples())
def test_an_apply_of_a_plan_the_policies_pass_breaks_none_of_them(example: Example) -> None:
    now = example.now
    runtime = open_runtime("memory://", clock=lambda: now)
    assert isinstance(runtime, Platform)
    _, plan = judged_ok(example.before, RuntimeState(0, {}), now, Policies())
    apply(runtime, plan)
    if example.console is not None:
        runtime.create("console", variant(example.console, "console"), live=True, actor="x")
    state = runtime.snapshot()
    wanted, plan = judged_ok(example.after, state, now, example.policies)
    event(f"{len(plan.operations)} operations, {len(plan.warnings)} warnings")
    apply(runtime, plan)
    assert planner.plan(wanted, runtime.snapshot(), now=now).operations == ()
    check_no_violation(runtime, state.revision, wanted, now, example.policies)
