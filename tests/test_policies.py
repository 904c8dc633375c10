"""The policies, one table per kind, as pure functions of hand-built plans, manifests and runtime
states: freezes, quiet hours, frequency caps, required labels, and what a change to them changes.

Every verdict is compared whole: its message, where it is (file, line, column), the campaign, the
severity and the policy it names with that policy's line in the project file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler import documents, executor, planner, policies, project
from reconciler.errors import Diagnostic, Severity
from reconciler.model import Manifest, RuntimeState
from reconciler.plan import FieldChange
from reconciler.project import Policies
from reconciler.runtime.base import LockOwner, Provenance
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime

HEAD = "apiVersion: reconciler/v1\nkind: Project\npolicies:\n"
PROJECT = "reconciler.yaml"
OWNER = LockOwner("policies@host:1", 1, "host", "policy tests")
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)  # a Friday
CONTENT = {
    "email": "{subject: Hi, body: Hello}",
    "sms": "{text: Hi}",
    "push": "{title: Hi, body: Hello}",
}
NOTHING: list[Diagnostic] = []


def policies_of(body: str) -> Policies:
    found = project.parse((HEAD + body).encode(), PROJECT)
    assert found.diagnostics == ()
    return found.policies


def campaign(
    name: str,
    schedule: str = "",
    *,
    state: str = "live",
    run: str = "running",
    channel: str = "email",
    segment: str = "newsletter",
    labels: str = "{team: growth}",
    subject: str = "Hi",
    copy_from: str | None = None,
) -> Manifest:
    """A manifest read from its YAML text. Its lines: metadata 3, labels 5, spec.state 7, run 8,
    channel 9, audience 10, content 11, schedule from 12 (its first key on 13), then copyFrom."""
    content = CONTENT[channel].replace("Hi", subject)
    text = (
        "apiVersion: reconciler/v1\nkind: Campaign\nmetadata:\n"
        f"  name: {name}\n  labels: {labels}\n"
        f"spec:\n  state: {state}\n  run: {run}\n  channel: {channel}\n"
        f"  audience: {{segment: {segment}}}\n  content: {content}\n"
    )
    if schedule:
        text += "  schedule:\n" + "".join(f"    {line}\n" for line in schedule.split("\n"))
    if copy_from:
        text += f"  copyFrom: {copy_from}\n"
    found, problems, _ = documents.parse(text.encode(), f"campaigns/{name}.yaml")
    assert problems == ()
    (manifest,) = found
    return manifest


def applied(
    manifests: Sequence[Manifest],
    now: datetime = NOW,
    unmanaged: Sequence[Manifest] = (),
) -> RuntimeState:
    """The runtime once ``manifests`` are applied at ``now``; ``unmanaged`` made live in a
    console."""
    runtime = open_runtime("memory://", clock=lambda: now)
    assert isinstance(runtime, Platform)
    plan = planner.plan(manifests, RuntimeState(0, {}), now=now)
    assert plan.errors == ()
    with executor.hold_lock(runtime, OWNER):
        ledger = executor.execute(runtime, plan, Provenance("tests"), owner=OWNER)
    assert ledger.ok
    for m in unmanaged:
        runtime.create(m.name, dict(m.spec), live=True, actor="console-user")
    return runtime.snapshot()


def verdict(
    message: str,
    policy: str,
    policy_line: int | None,
    *,
    file: str | None = None,
    at: tuple[int, int] | None = None,
    campaign: str | None = None,
    severity: Severity = Severity.ERROR,
) -> Diagnostic:
    line, column = at if at is not None else (None, None)
    return Diagnostic(
        message, file, line, column, campaign, severity, None, policy, PROJECT, policy_line
    )


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


# -- freezes -------------------------------------------------------------------------------------

PEAK = """\
  timezone: Europe/Amsterdam
  freezes:
    - name: peak-season
      from: 2026-11-26T00:00:00-05:00
      until: 2026-12-02T00:00:00-05:00
      campaigns: {labels: {team: growth}}
      exempt: {labels: {freeze-exempt: "true"}}
"""
ENDS = "until Wed 2026-12-02 06:00 CET"
WEEKLY = 'recurring: {every: week, on: [mon], at: "09:00"}'
A = campaign("a", WEEKLY)
SOURCE = campaign("src", WEEKLY)


def frozen(action: str, campaign_: str, place: tuple[int, int] | None, **kw: Any) -> Diagnostic:
    exempt = " (campaigns labelled freeze-exempt: true are exempt)"
    return verdict(
        f"frozen: peak-season ({PROJECT}:6) allows no {action} {ENDS}{kw.pop('tail', exempt)}",
        "peak-season",
        6,
        file=f"campaigns/{campaign_}.yaml",
        at=place,
        campaign=campaign_,
        **kw,
    )


FREEZES = [
    pytest.param(PEAK, "2026-11-26T04:59:59+00:00", [], [A], NOTHING, id="before from: free"),
    pytest.param(
        PEAK, "2026-11-26T05:00:00+00:00", [], [A], [frozen("activate", "a", (7, 10))],
        id="at from: frozen, at spec.state",
    ),
    pytest.param(
        PEAK, "2026-12-02T04:59:59+00:00", [], [A], [frozen("activate", "a", (7, 10))],
        id="just before until: frozen",
    ),
    pytest.param(PEAK, "2026-12-02T05:00:00+00:00", [], [A], NOTHING, id="at until: free"),
    pytest.param(
        PEAK, "2026-11-27T12:00:00+00:00", [], [campaign("a", WEEKLY, state="draft")], NOTHING,
        id="a create is draft work: free",
    ),
    pytest.param(
        PEAK, "2026-11-27T12:00:00+00:00", [SOURCE],
        [SOURCE, campaign("a", WEEKLY, state="draft", copy_from="src")], NOTHING,
        id="a copy into a draft is a create, not a copy: free",
    ),
    pytest.param(
        PEAK.replace("      campaigns:", "      actions: [create]\n      campaigns:"),
        "2026-11-27T12:00:00+00:00", [SOURCE],
        [SOURCE, campaign("a", WEEKLY, state="draft", copy_from="src")],
        [frozen("create", "a", (14, 13))],
        id="a copy into a draft, creates frozen: frozen as a create, at spec.copyFrom",
    ),
    pytest.param(
        PEAK, "2026-11-27T12:00:00+00:00", [SOURCE],
        [SOURCE, campaign("a", WEEKLY, copy_from="src")], [frozen("copy", "a", (14, 13))],
        id="a copy to live: frozen, at spec.copyFrom",
    ),
    pytest.param(
        PEAK, "2026-11-27T12:00:00+00:00", [A],
        [campaign("a", WEEKLY, subject="Changed")], [frozen("replace", "a", (11, 22))],
        id="a replace: at the first changed field",
    ),
    pytest.param(
        PEAK, "2026-11-27T12:00:00+00:00", [A], [campaign("a", WEEKLY, run="stopped")], NOTHING,
        id="a stop is not frozen unless listed",
    ),
    pytest.param(
        PEAK.replace("      campaigns:", "      actions: [stop]\n      campaigns:"),
        "2026-11-27T12:00:00+00:00", [A], [campaign("a", WEEKLY, run="stopped")],
        [frozen("stop", "a", (8, 8))],
        id="a stop listed: frozen, at spec.run",
    ),
    pytest.param(
        PEAK, "2026-11-27T12:00:00+00:00", [], [campaign("a", WEEKLY, labels="{team: brand}")],
        NOTHING,
        id="a campaign the selector does not match: free",
    ),
    pytest.param(
        PEAK, "2026-11-27T12:00:00+00:00", [],
        [campaign("a", WEEKLY, labels="{team: growth, freeze-exempt: 'true'}")],
        [
            verdict(
                f"activate during freeze peak-season ({PROJECT}:6, {ENDS}): allowed, as the "
                "campaign is exempt (freeze-exempt: true)",
                "peak-season",
                6,
                file="campaigns/a.yaml",
                at=(7, 10),
                campaign="a",
                severity=Severity.WARNING,
            )
        ],
        id="an exempt campaign: a warning",
    ),
    pytest.param(
        PEAK.replace('      exempt: {labels: {freeze-exempt: "true"}}\n', "").replace(
            "      campaigns: {labels: {team: growth}}\n", ""
        ),
        "2026-11-27T12:00:00+00:00", [], [campaign("a", WEEKLY, labels="{x: y}")],
        [frozen("activate", "a", (7, 10), tail="")],
        id="no selector: every campaign, and no exemption to mention",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "now", "before", "after", "expected"), FREEZES)
def test_freezes(
    body: str,
    now: str,
    before: list[Manifest],
    after: list[Manifest],
    expected: list[Diagnostic],
) -> None:
    found = policies_of(body)
    moment = at(now)
    plan = planner.plan(after, applied(before, moment), now=moment)
    assert plan.errors == ()
    assert policies.freezes(plan, {m.name: m for m in after}, moment, found) == expected


def test_a_freeze_without_the_manifests_places_the_verdict_at_the_operations_file() -> None:
    """A saved plan applied later: its operations are checked without their manifests."""
    plan = planner.plan([A], RuntimeState(0, {}), now=NOW)
    found = policies.freezes(plan, {}, NOW, policies_of(PEAK))
    assert found == [frozen("activate", "a", None)]


# -- quiet hours ---------------------------------------------------------------------------------

NIGHT = """\
  quietHours:
    - name: night
      channels: [sms]
      from: "21:00"
      until: "08:00"
"""
EARLY = """\
  quietHours:
    - name: early
      from: "03:00"
      until: "05:00"
"""
AMSTERDAM = "timezone: Europe/Amsterdam"


def quiet(
    name: str, sends: str, place: tuple[int, int], *, policy: str = "night", line: int = 5
) -> Diagnostic:
    hours, channel, zone = {
        "night": ("21:00 to 08:00", "sms", "Europe/Amsterdam"),
        "utc-night": ("21:00 to 08:00", "sms", "UTC"),
        "early": ("03:00 to 05:00", "email", "Europe/Amsterdam"),
    }[policy]
    return verdict(
        f"quiet hours: {policy.removeprefix('utc-')} ({PROJECT}:{line}) allows no {channel} from "
        f"{hours} in the campaign's zone ({zone}), and {sends}",
        policy.removeprefix("utc-"),
        line,
        file=f"campaigns/{name}.yaml",
        at=place,
        campaign=name,
    )


QUIET = [
    pytest.param(
        NIGHT, "2026-11-27T06:00:00+00:00",
        campaign("a", f'recurring: {{cron: "0 12,22 * * *"}}\n{AMSTERDAM}', channel="sms"),
        [quiet("a", "it sends Fri 2026-11-27 22:00 CET", (13, 23))],
        id="cron: the first quiet sending named (not 12:00 before it), at the cron",
    ),
    pytest.param(
        NIGHT, "2026-11-27T12:00:00+00:00",
        campaign("a", f'recurring: {{every: day, at: "07:30"}}\n{AMSTERDAM}', channel="sms"),
        [quiet("a", "it sends Sat 2026-11-28 07:30 CET", (13, 33))],
        id="every day at 07:30: quiet until 08:00, at the at",
    ),
    pytest.param(
        NIGHT, "2026-11-27T12:00:00+00:00",
        campaign("a", f'recurring: {{every: day, at: "08:00"}}\n{AMSTERDAM}', channel="sms"),
        NOTHING,
        id="every day at 08:00: until is not quiet",
    ),
    pytest.param(
        NIGHT, "2026-11-27T12:00:00+00:00",
        campaign("a", "once: {at: 2026-12-01T23:00:00+01:00}", channel="sms"),
        [quiet("a", "it sends Tue 2026-12-01 22:00 UTC", (13, 16), policy="utc-night")],
        id="once, in the campaign's zone (UTC without a timezone), at once.at",
    ),
    pytest.param(
        NIGHT, "2026-11-27T12:00:00+00:00",
        campaign("a", "once: {at: 2026-12-01T12:00:00+01:00}", channel="sms"),
        NOTHING,
        id="once at noon: not quiet",
    ),
    pytest.param(
        NIGHT, "2026-11-27T12:00:00+00:00",
        campaign("a", f'recurring: {{every: day, at: "23:00"}}\n{AMSTERDAM}', channel="email"),
        NOTHING,
        id="a channel not listed",
    ),
    pytest.param(
        NIGHT, "2026-11-27T22:30:00+00:00", campaign("a", channel="sms"),
        [
            quiet(
                "a", "it sends on activation, now (Fri 2026-11-27 22:30 UTC)", (7, 3),
                policy="utc-night",
            )
        ],
        id="no schedule: sent on activation, now, at night",
    ),
    pytest.param(
        NIGHT, "2026-11-27T12:00:00+00:00", campaign("a", channel="sms"), NOTHING,
        id="no schedule: sent on activation, now, at noon",
    ),
    pytest.param(
        NIGHT, "2026-11-27T12:00:00+00:00",
        campaign(
            "a", f'recurring: {{every: day, at: "23:00"}}\n{AMSTERDAM}', channel="sms",
            state="draft",
        ),
        NOTHING,
        id="a draft sends nothing",
    ),
    pytest.param(
        EARLY, "2027-03-27T12:00:00+00:00",
        campaign("a", f'recurring: {{every: day, at: "02:30"}}\n{AMSTERDAM}'),
        [quiet("a", "it sends Sun 2027-03-28 03:00 CEST", (13, 33), policy="early", line=5)],
        id="DST gap: 02:30 does not exist on 2027-03-28, sent at 03:00, inside 03:00-05:00",
    ),
    pytest.param(
        EARLY, "2027-03-28T12:00:00+00:00",
        campaign(
            "a",
            'recurring: {every: day, at: "02:30", end: "2027-10-01T00:00:00Z"}\n' + AMSTERDAM,
        ),
        NOTHING,
        id="after the DST day: 02:30 every day is never quiet",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "now", "manifest", "expected"), QUIET)
def test_quiet_hours(body: str, now: str, manifest: Manifest, expected: list[Diagnostic]) -> None:
    moment = at(now)
    plan = planner.plan([manifest], RuntimeState(0, {}), now=moment)
    assert plan.errors == ()
    found = policies.quiet_hours(plan, {manifest.name: manifest}, moment, policies_of(body))
    assert found == expected


def test_quiet_hours_judge_a_replace_by_its_new_schedule() -> None:
    before = campaign("a", f'recurring: {{every: day, at: "12:00"}}\n{AMSTERDAM}', channel="sms")
    after = campaign("a", f'recurring: {{every: day, at: "22:00"}}\n{AMSTERDAM}', channel="sms")
    plan = planner.plan([after], applied([before]), now=NOW)
    assert [op.action.value for op in plan.operations] == ["replace"]
    found = policies.quiet_hours(plan, {"a": after}, NOW, policies_of(NIGHT))
    assert found == [quiet("a", "it sends Fri 2026-11-27 22:00 CET", (13, 33))]


# -- frequency caps ------------------------------------------------------------------------------

DAILY = """\
  timezone: Europe/Amsterdam
  frequencyCaps:
    - name: one-a-day
      channels: [email]
      segments: ["news*", "vip-?"]
      max: 1
      per: day
"""
WEEK = DAILY.replace("one-a-day", "one-a-week").replace("per: day", "per: week")


def once(name: str, moment: str, **kw: Any) -> Manifest:
    return campaign(name, f"once: {{at: {moment}}}", **kw)


def capped(
    name: str,
    said: str,
    *,
    cap: str = "one-a-day",
    segment_at: tuple[int, int] = (10, 23),
) -> Diagnostic:
    return verdict(
        f"frequency cap {cap} ({PROJECT}:6): {said}",
        cap,
        6,
        file=f"campaigns/{name}.yaml",
        at=segment_at,
        campaign=name,
    )


TUE_1 = "2026-12-01T09:00:00+01:00"
TUE_2 = "2026-12-01T18:00:00+01:00"
TWO_ON_TUESDAY = "segment newsletter gets 2 sendings on Tue 2026-12-01 (at most 1 a day): a, b"

CAPS = [
    pytest.param(
        DAILY, [], [], [once("a", TUE_1), once("b", TUE_2)],
        [capped("a", TWO_ON_TUESDAY), capped("b", TWO_ON_TUESDAY)],
        id="day: an error on each campaign going live",
    ),
    pytest.param(
        DAILY, [], [], [once("a", TUE_1), once("b", "2026-12-02T09:00:00+01:00")], NOTHING,
        id="day: one a day",
    ),
    pytest.param(
        DAILY, [], [],
        [once("a", "2026-12-01T23:30:00+00:00"), once("b", "2026-12-02T08:00:00+01:00")],
        [
            capped(
                name,
                "segment newsletter gets 2 sendings on Wed 2026-12-02 (at most 1 a day): a, b",
            )
            for name in "ab"
        ],
        id="day: in the policies' zone (two UTC days, one Amsterdam day)",
    ),
    pytest.param(
        DAILY.replace("  timezone: Europe/Amsterdam\n", ""), [], [],
        [once("a", "2026-12-01T23:30:00+00:00"), once("b", "2026-12-02T08:00:00+01:00")],
        NOTHING,
        id="day: in UTC without a timezone",
    ),
    pytest.param(
        DAILY, [], [],
        [
            campaign("a", f'recurring: {{every: day, at: "09:00"}}\n{AMSTERDAM}'),
            campaign("b", f'recurring: {{every: day, at: "10:00"}}\n{AMSTERDAM}'),
        ],
        [
            capped(
                name,
                "segment newsletter gets 2 sendings on Sat 2026-11-28 (at most 1 a day): a, b; "
                "and 27 more days over the cap",
            )
            for name in "ab"
        ],
        id="day: the first window named, the 27 others counted, over 28 days",
    ),
    pytest.param(
        WEEK, [], [], [once("a", "2026-11-30T09:00:00+01:00"),
         once("b", "2026-12-06T20:00:00+01:00")],
        [
            capped(
                name,
                "segment newsletter gets 2 sendings in the week of Mon 2026-11-30 to Sun "
                "2026-12-06 (at most 1 a week): a, b",
                cap="one-a-week",
            )
            for name in "ab"
        ],
        id="week: Monday to Sunday, across a month",
    ),
    pytest.param(
        WEEK, [], [], [once("a", "2026-11-29T22:00:00+01:00"),
         once("b", "2026-11-30T09:00:00+01:00")],
        NOTHING,
        id="week: Sunday and Monday are two weeks",
    ),
    pytest.param(
        DAILY, [], [],
        [once("a", TUE_1, segment="vip-1"), once("b", TUE_2, segment="vip-1")],
        [
            capped(
                name,
                "segment vip-1 gets 2 sendings on Tue 2026-12-01 (at most 1 a day): a, b",
            )
            for name in "ab"
        ],
        id="segments: '?' matches one character",
    ),
    pytest.param(
        DAILY, [], [],
        [once("a", TUE_1, segment="vip-12"), once("b", TUE_2, segment="vip-12")], NOTHING,
        id="segments: '?' matches no more",
    ),
    pytest.param(
        DAILY, [], [],
        [once("a", TUE_1, segment="newsletter"), once("b", TUE_2, segment="news-flash")], NOTHING,
        id="segments: each segment counted apart",
    ),
    pytest.param(
        DAILY, [], [],
        [once("a", TUE_1, channel="sms"), once("b", TUE_2, channel="sms")], NOTHING,
        id="a channel not listed",
    ),
    pytest.param(
        DAILY, [once("a", TUE_1)], [], [once("a", TUE_1), once("b", TUE_2)],
        [capped("b", TWO_ON_TUESDAY)],
        id="a campaign live and not touched is counted; only the going-live one is in error",
    ),
    pytest.param(
        DAILY, [campaign("a", WEEKLY.replace("mon", "tue"))], [],
        [campaign("a", WEEKLY.replace("mon", "tue"), run="stopped"), once("b", TUE_2)],
        NOTHING,
        id="a stop takes a campaign out of the count",
    ),
    pytest.param(
        DAILY, [campaign("a", WEEKLY.replace("mon", "tue"))], [],
        [campaign("a", WEEKLY.replace("mon", "tue")), once("b", TUE_2)],
        [capped("b", TWO_ON_TUESDAY)],
        id="the same campaign not stopped: counted",
    ),
    pytest.param(
        DAILY, [], [once("a", TUE_1)], [once("b", TUE_2)],
        [capped("b", TWO_ON_TUESDAY)],
        id="an unmanaged live campaign is counted",
    ),
    pytest.param(
        DAILY, [once("a", TUE_1), once("b", TUE_2)], [],
        [once("a", TUE_1), once("b", TUE_2)],
        [
            verdict(
                "frequency cap one-a-day is exceeded by campaigns this plan does not make go "
                f"live: {TWO_ON_TUESDAY}",
                "one-a-day",
                6,
                file=PROJECT,
                at=(6, 1),
                severity=Severity.WARNING,
            )
        ],
        id="over the cap, none going live: a warning at the cap",
    ),
    pytest.param(
        DAILY, [], [], [once("a", TUE_1), once("b", TUE_2, state="draft")], NOTHING,
        id="a draft is not counted",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "before", "unmanaged", "after", "expected"), CAPS)
def test_frequency_caps(
    body: str,
    before: list[Manifest],
    unmanaged: list[Manifest],
    after: list[Manifest],
    expected: list[Diagnostic],
) -> None:
    state = applied(before, NOW, unmanaged)
    plan = planner.plan(after, state, now=NOW)
    assert plan.errors == ()
    found = policies.frequency_caps(plan, {m.name: m for m in after}, state, NOW, policies_of(body))
    assert found == expected


# -- required labels -----------------------------------------------------------------------------

REQUIRED = "  requiredLabels: [team, owner]\n"


def missing(name: str, them: str, place: tuple[int, int]) -> Diagnostic:
    return verdict(
        f"metadata.labels has no {them}: every campaign must carry team, owner "
        f"(requiredLabels, {PROJECT}:4)",
        "requiredLabels",
        4,
        file=f"campaigns/{name}.yaml",
        at=place,
        campaign=name,
    )


LABELS = [
    pytest.param([campaign("a", labels="{team: growth, owner: ana}")], NOTHING, id="both"),
    pytest.param(
        [campaign("a", labels="{team: growth}")],
        [missing("a", "owner label", (3, 1))],
        id="one missing: at the metadata line",
    ),
    pytest.param(
        [campaign("a", labels="{other: x}")],
        [missing("a", "team and owner labels", (3, 1))],
        id="both missing, named in the policy's order",
    ),
    pytest.param(
        [campaign("a", labels="{team: '', owner: ''}")],
        NOTHING,
        id="empty values are labels",
    ),
]


@pytest.mark.parametrize(("manifests", "expected"), LABELS)
def test_required_labels(manifests: list[Manifest], expected: list[Diagnostic]) -> None:
    assert policies.required_labels(manifests, policies_of(REQUIRED)) == expected


def test_required_labels_of_a_flow_metadata_are_at_its_key() -> None:
    text = (
        "apiVersion: reconciler/v1\nkind: Campaign\n\nmetadata: {name: a}\n"
        "spec: {state: draft, channel: in-app, content: {title: Hi, body: There}}\n"
    )
    (manifest,), _, _ = documents.parse(text.encode(), "campaigns/a.yaml")
    found = policies.required_labels([manifest], policies_of(REQUIRED))
    assert found == [missing("a", "team and owner labels", (4, 1))]


def test_no_required_labels_ask_nothing() -> None:
    assert policies.required_labels([campaign("a", labels="{}")], policies_of("  {}\n")) == []


# -- a change to the policies --------------------------------------------------------------------

BEFORE = """\
  timezone: Europe/Amsterdam
  freezes:
    - name: peak-season
      from: 2026-11-26T00:00:00-05:00
      until: 2026-12-02T00:00:00-05:00
  quietHours:
    - {name: night, from: "21:00", until: "08:00"}
  requiredLabels: [team]
"""

CHANGES = [
    pytest.param(BEFORE, BEFORE, (), id="no change"),
    pytest.param(
        BEFORE,
        BEFORE.replace("until: 2026-12-02", "until: 2026-11-27"),
        (
            FieldChange(
                "policies.freezes.peak-season.until",
                "2026-12-02T00:00:00-05:00",
                "2026-11-27T00:00:00-05:00",
            ),
        ),
        id="a freeze shortened: by its name",
    ),
    pytest.param(
        BEFORE,
        BEFORE.replace("    - {name: night", "    - {name: early, from: '03:00', until: '05:00'}\n"
                       "    - {name: night"),
        (
            FieldChange("policies.quietHours.early.from", None, "03:00"),
            FieldChange("policies.quietHours.early.until", None, "05:00"),
        ),
        id="quiet hours added before another: the other unchanged",
    ),
    pytest.param(
        BEFORE,
        BEFORE.replace("  quietHours:\n    - {name: night, from: \"21:00\", until: \"08:00\"}\n",
                       ""),
        (
            FieldChange("policies.quietHours.night.from", "21:00", None),
            FieldChange("policies.quietHours.night.until", "08:00", None),
        ),
        id="quiet hours removed",
    ),
    pytest.param(
        BEFORE,
        BEFORE.replace("[team]", "[team, owner]").replace("Europe/Amsterdam", "UTC"),
        (
            FieldChange("policies.requiredLabels", ["team"], ["team", "owner"]),
            FieldChange("policies.timezone", "Europe/Amsterdam", "UTC"),
        ),
        id="a list of labels compared whole, a zone changed",
    ),
    pytest.param(
        "  {}\n",
        "  requiredLabels: [team]\n",
        (FieldChange("policies.requiredLabels", None, ["team"]),),
        id="from no policies",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("before", "after", "expected"), CHANGES)
def test_changes_name_policies_by_their_names(
    before: str, after: str, expected: tuple[FieldChange, ...]
) -> None:
    assert policies.changes(policies_of(before), policies_of(after)) == expected


# -- all of them ---------------------------------------------------------------------------------


def test_check_adds_every_verdict_to_the_plan_in_order() -> None:
    body = PEAK + REQUIRED + NIGHT.replace("channels: [sms]", "channels: [email]")
    body += DAILY.removeprefix("  timezone: Europe/Amsterdam\n")
    found = policies_of(body)
    manifests = [
        campaign("a", f'recurring: {{every: day, at: "22:00"}}\n{AMSTERDAM}'),
        campaign("b", f'recurring: {{every: day, at: "09:00"}}\n{AMSTERDAM}'),
    ]
    plan = planner.plan(manifests, RuntimeState(0, {}), now=NOW)
    checked = policies.check(plan, manifests, RuntimeState(0, {}), NOW, found)
    assert checked.operations == plan.operations
    assert [(d.file, d.line, d.column, d.policy) for d in checked.errors] == [
        ("campaigns/a.yaml", 3, 1, "requiredLabels"),
        ("campaigns/a.yaml", 7, 10, "peak-season"),
        ("campaigns/a.yaml", 10, 23, "one-a-day"),
        ("campaigns/a.yaml", 13, 33, "night"),
        ("campaigns/b.yaml", 3, 1, "requiredLabels"),
        ("campaigns/b.yaml", 7, 10, "peak-season"),
        ("campaigns/b.yaml", 10, 23, "one-a-day"),
    ]
    assert checked.warnings == ()
    assert not checked.ok
    assert policies.check(plan, manifests, RuntimeState(0, {}), NOW, Policies()) is plan
