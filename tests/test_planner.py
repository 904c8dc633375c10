"""The planner: exact plans for every action, refusal and warning of the design."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from factories import INBOUND, ONE_TIME, RECURRING, manifest, with_subject
from reconciler import executor, planner, render, wording
from reconciler.errors import Hint
from reconciler.lifecycle import Action
from reconciler.model import Manifest, Status, Version
from reconciler.plan import FieldChange, Plan
from reconciler.runtime.base import LockOwner, Provenance, Runtime, Write
from reconciler.runtime.registry import open_runtime

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OWNER = LockOwner("test@host:1", 1, "host", "test")


@pytest.fixture
def rt() -> Runtime:
    return open_runtime("memory://", clock=lambda: NOW)


def plan_of(rt: Runtime, manifests: Sequence[Manifest], prune: bool = False) -> Plan:
    return planner.plan(manifests, rt.snapshot(), prune=prune)


def converge(rt: Runtime, manifests: Sequence[Manifest], prune: bool = False) -> Plan:
    plan = plan_of(rt, manifests, prune)
    assert plan.errors == ()
    with executor.hold_lock(rt, OWNER):
        ledger = executor.execute(rt, plan, Provenance("tester"), owner=OWNER)
    assert ledger.ok
    return plan


def actions(plan: Plan) -> list[tuple[str, str, int | None, int | None]]:
    return [(o.campaign, o.action.value, o.from_version, o.to_version) for o in plan.operations]


def messages(plan: Plan) -> list[str]:
    return [f"{d.campaign}: {d.message}" for d in plan.errors]


def warnings(plan: Plan) -> list[str]:
    return [f"{d.campaign}: {d.message}" for d in plan.warnings]


def test_new_campaigns_are_created_or_activated_in_name_order(rt: Runtime) -> None:
    plan = plan_of(
        rt, [manifest("b-live"), manifest("a-draft", state="draft"), manifest("c", INBOUND)]
    )
    assert actions(plan) == [
        ("a-draft", "create", None, 1),
        ("b-live", "activate", None, 1),
        ("c", "activate", None, 1),
    ]
    assert plan.summary() == {
        "create": 1, "activate": 2, "copy": 0, "update": 0, "replace": 0, "discard": 0,
        "stop": 0, "resume": 0, "adopt": 0, "unchanged": 0, "errors": 0,
    }  # fmt: skip
    op = plan.operations[2]
    assert wording.reason(op) == "new campaign; the manifest says live"
    assert op.etag is None and op.spec == INBOUND and op.kind == "inbound"
    assert op.changes == (
        FieldChange("spec.channel", None, "in-app"),
        FieldChange("spec.content.body", None, "There"),
        FieldChange("spec.content.title", None, "Hi"),
    )


def test_after_apply_the_plan_is_empty(rt: Runtime) -> None:
    manifests = [manifest("a"), manifest("b", ONE_TIME), manifest("c", INBOUND, state="draft")]
    converge(rt, manifests)
    again = plan_of(rt, manifests)
    assert again.operations == () and again.unchanged == 3 and again.warnings == ()


def test_draft_is_updated_then_activated_with_its_version_promoted(rt: Runtime) -> None:
    converge(rt, [manifest("d", state="draft")])
    changed = with_subject(RECURRING, "New")
    plan = converge(rt, [manifest("d", changed, state="draft")])
    assert actions(plan) == [("d", "update", 1, 2)]
    assert wording.reason(plan.operations[0]) == "spec of the draft changed"
    assert plan.operations[0].changes == (FieldChange("spec.content.subject", "Hello", "New"),)
    plan = converge(rt, [manifest("d", changed)])
    assert actions(plan) == [("d", "activate", 2, 2)]
    campaign = rt.snapshot().campaigns["d"]
    assert (campaign.status, campaign.live and campaign.live.number, campaign.versions) == (
        Status.LIVE, 2, 2,
    )  # fmt: skip


def test_live_recurring_change_replaces_the_live_version(rt: Runtime) -> None:
    converge(rt, [manifest("r")])
    plan = plan_of(rt, [manifest("r", with_subject(RECURRING, "New"))])
    assert actions(plan) == [("r", "replace", 1, 2)]
    assert (
        wording.reason(plan.operations[0])
        == "spec changed; the new version replaces live version 1"
    )


def test_draft_state_on_a_live_campaign_stages_a_version_beside_it(rt: Runtime) -> None:
    converge(rt, [manifest("r")])
    staged = with_subject(RECURRING, "Staged")
    plan = converge(rt, [manifest("r", staged, state="draft")])
    assert actions(plan) == [("r", "update", 1, 2)]
    assert wording.reason(plan.operations[0]) == (
        "spec changed; staged as draft version 2 beside live version 1, which keeps running"
    )
    campaign = rt.snapshot().campaigns["r"]
    assert campaign.live is not None and campaign.draft is not None
    assert (campaign.live.number, campaign.draft.number) == (1, 2)
    # the staged draft is promoted by saying live: no new version number
    plan = converge(rt, [manifest("r", staged)])
    assert actions(plan) == [("r", "replace", 1, 2)]
    assert (
        wording.reason(plan.operations[0]) == "the staged draft version 2 replaces live version 1"
    )
    assert rt.snapshot().campaigns["r"].versions == 2


def test_staged_draft_is_discarded_when_the_manifest_matches_live_again(rt: Runtime) -> None:
    converge(rt, [manifest("r")])
    converge(rt, [manifest("r", with_subject(RECURRING, "Staged"), state="draft")])
    plan = converge(rt, [manifest("r")])
    assert actions(plan) == [("r", "discard", 2, 1)]
    assert wording.reason(plan.operations[0]) == (
        "the manifest matches live version 1 again; staged draft version 2 is discarded"
    )
    assert rt.snapshot().campaigns["r"].draft is None


def test_draft_state_on_an_unchanged_live_campaign_warns(rt: Runtime) -> None:
    converge(rt, [manifest("r")])
    plan = plan_of(rt, [manifest("r", state="draft")])
    assert plan.operations == () and plan.unchanged == 1
    assert warnings(plan) == [
        "r: the manifest says draft, but a campaign that has been live never goes back to draft; "
        "the live version is kept (set state: live to silence this)"
    ]


@pytest.mark.parametrize(
    ("spec", "run", "message"),
    [
        (
            with_subject(ONE_TIME, "New"),
            "running",
            "spec.content.subject changed: one-time campaigns cannot be modified once live; "
            "duplicate it with copyFrom",
        ),
        (
            ONE_TIME,
            "stopped",
            "only recurring and inbound campaigns can be stopped; "
            "a one-time campaign runs to completion",
        ),
        (
            {**ONE_TIME, "channel": "sms", "content": {"text": "hi"}},
            "running",
            "spec.channel, spec.content.body, spec.content.subject and 1 more changed: the "
            "channel of a campaign that has been live cannot change (email -> sms); duplicate it "
            "with copyFrom",
        ),
        (
            RECURRING,
            "running",
            "spec.schedule.once.at, spec.schedule.recurring.at, spec.schedule.recurring.every "
            "and 1 more changed: the kind of a campaign that has been live cannot change "
            "(one-time -> recurring); duplicate it with copyFrom",
        ),
    ],
    ids=["modify", "stop", "channel", "kind"],
)
def test_live_one_time_campaign_refusals(rt: Runtime, spec: dict, run: str, message: str) -> None:
    converge(rt, [manifest("o", ONE_TIME)])
    plan = plan_of(rt, [manifest("o", spec, run=run), manifest("other")])
    assert messages(plan) == [f"o: {message}"]
    assert actions(plan) == [("other", "activate", None, 1)]  # planned, never applied with errors


def test_stop_and_restart_rules(rt: Runtime) -> None:
    converge(rt, [manifest("r"), manifest("i", INBOUND)])
    stopped = [manifest("r", run="stopped"), manifest("i", INBOUND, run="stopped")]
    plan = converge(rt, stopped)
    assert actions(plan) == [("i", "stop", 1, 1), ("r", "stop", 1, 1)]
    assert [wording.reason(op) for op in plan.operations] == [
        "the manifest says run: stopped; it stops being shown until it resumes",
        "the manifest says run: stopped; the next sending is cancelled",
    ]
    assert plan_of(rt, stopped).operations == ()
    plan = plan_of(rt, [manifest("r"), manifest("i", INBOUND)])
    assert actions(plan) == [("i", "resume", 1, 1)]
    assert messages(plan) == [
        "r: a stopped campaign cannot be restarted; duplicate it with copyFrom"
    ]


def test_stop_with_a_spec_change_warns_that_the_change_is_not_applied(rt: Runtime) -> None:
    converge(rt, [manifest("r")])
    changed = [manifest("r", with_subject(RECURRING, "New"), run="stopped")]
    plan = converge(rt, changed)
    assert actions(plan) == [("r", "stop", 1, 1)]
    assert warnings(plan) == [
        "r: spec.content.subject changed: the campaign is being stopped; its spec change is not "
        "applied"
    ]
    again = plan_of(rt, changed)
    assert again.operations == () and again.errors == ()
    assert warnings(again) == [
        "r: spec.content.subject changed: a stopped outbound campaign cannot be modified; its "
        "spec change is not applied (duplicate it with copyFrom to send the new version)"
    ]


def test_resume_of_an_inbound_campaign_applies_its_changed_spec(rt: Runtime) -> None:
    converge(rt, [manifest("i", INBOUND, run="running")])
    converge(rt, [manifest("i", INBOUND, run="stopped")])
    changed = {**INBOUND, "content": {"title": "New", "body": "There"}}
    plan = plan_of(rt, [manifest("i", changed, run="stopped")])
    assert plan.operations == ()
    assert warnings(plan) == [
        "i: spec.content.title changed: the campaign is stopped; its spec change is applied when "
        "it resumes (run: running)"
    ]
    plan = converge(rt, [manifest("i", changed)])
    assert actions(plan) == [("i", "resume", 1, 2)]
    assert wording.reason(plan.operations[0]) == (
        "the manifest says run: running; version 2 replaces live version 1"
    )
    campaign = rt.snapshot().campaigns["i"]
    assert campaign.status is Status.LIVE and campaign.live is not None
    assert campaign.live.spec == changed


def test_resume_of_a_manifest_in_draft_stages_its_change_and_keeps_the_live_version(
    rt: Runtime,
) -> None:
    converge(rt, [manifest("i", INBOUND)])
    converge(rt, [manifest("i", INBOUND, run="stopped")])
    changed = {**INBOUND, "content": {"title": "New", "body": "There"}}
    plan = converge(rt, [manifest("i", changed, state="draft")])
    assert actions(plan) == [("i", "resume", 1, 1)]
    assert wording.reason(plan.operations[0]) == (
        "the manifest says run: running; the spec change is staged as draft version 2"
    )
    assert plan.operations[0].changes == (FieldChange("spec.content.title", "Hi", "New"),)
    campaign = rt.snapshot().campaigns["i"]
    assert campaign.live is not None and campaign.draft is not None
    assert (campaign.status, campaign.live.spec, campaign.draft.spec) == (
        Status.LIVE, INBOUND, changed,
    )  # fmt: skip
    assert plan_of(rt, [manifest("i", changed, state="draft")]).operations == ()


def test_resume_drops_a_draft_staged_before_the_stop(rt: Runtime) -> None:
    converge(rt, [manifest("i", INBOUND)])
    staged = {**INBOUND, "content": {"title": "Staged", "body": "There"}}
    converge(rt, [manifest("i", staged, state="draft")])
    converge(rt, [manifest("i", INBOUND, run="stopped")])
    assert rt.snapshot().campaigns["i"].draft is not None  # frozen while stopped
    plan = converge(rt, [manifest("i", INBOUND)])
    assert actions(plan) == [("i", "resume", 1, 1)]
    assert wording.reason(plan.operations[0]) == (
        "the manifest says run: running; staged draft version 2 is discarded"
    )
    campaign = rt.snapshot().campaigns["i"]
    assert (campaign.status, campaign.draft) == (Status.LIVE, None)
    assert plan_of(rt, [manifest("i", INBOUND)]).operations == ()


@pytest.mark.parametrize(
    ("state", "run", "message"),
    [
        ("live", "stopped", "a new campaign cannot start stopped; set run: running (or remove "
         "run), and stop it once it is live"),
        ("draft", "stopped", "a new campaign cannot start stopped; set run: running (or remove "
         "run), and stop it once it is live"),
    ],
)  # fmt: skip
def test_new_campaign_cannot_start_stopped(rt: Runtime, state: str, run: str, message: str) -> None:
    plan = plan_of(rt, [manifest("n", state=state, run=run)])
    assert messages(plan) == [f"n: {message}"]
    assert plan.errors[0].file == "campaigns/n.yaml"


def test_copy_of_a_campaign_activated_in_the_same_plan_comes_after_it(rt: Runtime) -> None:
    copy = manifest("a-copy", {"content": {"subject": "Copy", "body": "B"}}, copy_from="z-source")
    plan = plan_of(rt, [copy, manifest("z-source")])
    assert actions(plan) == [("z-source", "activate", None, 1), ("a-copy", "copy", None, 1)]
    op = plan.operations[1]
    assert op.depends_on == ("z-source",) and op.activate is True
    assert op.spec == {**RECURRING, "content": {"subject": "Copy", "body": "B"}}
    assert op.copy_base == RECURRING
    converge(rt, [copy, manifest("z-source")])
    campaign = rt.snapshot().campaigns["a-copy"]
    assert campaign.copied_from == "z-source" and campaign.status is Status.LIVE


def test_copying_happens_once(rt: Runtime) -> None:
    copy = manifest("copy", {"content": {"subject": "Copy", "body": "B"}}, copy_from="source")
    converge(rt, [manifest("source"), copy])
    # a later change of the source does not flow into the copy
    plan = plan_of(rt, [manifest("source", with_subject(RECURRING, "Changed")), copy])
    assert actions(plan) == [("source", "replace", 1, 2)]


@pytest.mark.parametrize(
    ("manifests", "message"),
    [
        (
            [manifest("c", {}, copy_from="ghost")],
            "c: copyFrom names 'ghost', which does not exist",
        ),
        (
            [manifest("c", {}, copy_from="d"), manifest("d", state="draft")],
            "c: copyFrom names 'd', which has never been live; only a campaign that has been live "
            "can be duplicated",
        ),
        (
            [manifest("c", {}, copy_from="c")],
            "c: copyFrom forms a cycle: c -> c; a copy needs a source that exists",
        ),
    ],
    ids=["unknown", "never-live", "self"],
)
def test_copy_refusals(rt: Runtime, manifests: list[Manifest], message: str) -> None:
    assert messages(plan_of(rt, manifests)) == [message]


def test_copy_from_on_a_campaign_that_exists_is_refused_unless_it_names_its_source(
    rt: Runtime,
) -> None:
    partial = {"content": {"subject": "Copy", "body": "B"}}
    converge(rt, [manifest("src"), manifest("other"), manifest("copy", partial, copy_from="src")])
    plan = plan_of(
        rt, [manifest("src"), manifest("other"), manifest("copy", partial, copy_from="other")]
    )
    assert messages(plan) == [
        "copy: copyFrom only applies when a campaign is created: 'copy' already exists as a copy "
        "of 'src'; set copyFrom: src, or remove copyFrom and write the whole spec"
    ]
    plan = plan_of(rt, [manifest("src", {}, copy_from="other"), manifest("other")])
    assert messages(plan) == [
        "src: copyFrom only applies when a campaign is created: 'src' already exists and is not "
        "a copy, or remove copyFrom and write the whole spec"
    ]


def test_copy_cycle_is_refused_for_every_member(rt: Runtime) -> None:
    plan = plan_of(rt, [manifest("a", {}, copy_from="b"), manifest("b", {}, copy_from="a")])
    assert messages(plan) == [
        "a: copyFrom forms a cycle: a -> b -> a; a copy needs a source that exists",
        "b: copyFrom forms a cycle: b -> a -> b; a copy needs a source that exists",
    ]


def test_copy_whose_merged_spec_is_incomplete_is_refused(rt: Runtime) -> None:
    converge(rt, [manifest("src", INBOUND)])
    plan = plan_of(
        rt, [manifest("src", INBOUND), manifest("c", {"channel": "sms"}, copy_from="src")]
    )
    assert messages(plan) == [
        "c: spec.content: 'text' is a required property (after copying from 'src')",
        "c: spec: 'audience' is a required property (after copying from 'src')",
    ]


def test_orphans_are_warned_about_or_stopped_with_prune(rt: Runtime) -> None:
    converge(rt, [manifest("r"), manifest("o", ONE_TIME), manifest("d", state="draft")])
    plan = plan_of(rt, [])
    assert plan.operations == ()
    assert [(d.message, d.hint) for d in plan.warnings] == [
        ("campaign 'd' has no manifest; the draft is left as it is", None),
        ("campaign 'o' has no manifest; it is left as it is", None),
        ("campaign 'r' has no manifest; it is left running", Hint.PRUNE),
    ]
    assert wording.message(plan.warnings[2]) == (
        "campaign 'r' has no manifest; it is left running (plan with --prune to stop it)"
    )
    plan = converge(rt, [], prune=True)
    assert actions(plan) == [("r", "stop", 1, 1)]
    assert wording.reason(plan.operations[0]) == "its manifest was removed; --prune stops it"
    assert [d.message for d in plan.warnings] == [
        "campaign 'd' has no manifest and cannot be stopped (a recurring campaign that is "
        "draft); it is left as it is",
        "campaign 'o' has no manifest and cannot be stopped (a one-time campaign that is live); "
        "it is left as it is",
    ]


def test_an_unmanaged_campaign_is_left_alone_and_adopted_by_a_manifest_that_matches(
    rt: Runtime,
) -> None:
    converge(rt, [manifest("x")])
    snapshot = rt.snapshot()
    foreign = replace(snapshot.campaigns["x"], managed=False)
    state = replace(snapshot, campaigns={"x": foreign})
    assert planner.plan([], state).warnings == ()
    assert not planner.plan([], state, prune=True).operations  # never pruned
    plan = planner.plan([manifest("x")], state)
    assert messages(plan) == []
    (op,) = plan.operations
    assert (op.action, op.from_version, op.to_version, op.spec, op.changes, op.adopt) == (
        Action.ADOPT, 1, 1, None, (), False,
    )  # fmt: skip
    assert wording.reason(op) == (
        "made outside the reconciler (by tester), and the manifest matches it: the reconciler "
        "takes over its management; the campaign is untouched"
    )


def test_a_manifest_that_differs_from_an_unmanaged_campaign_says_how_and_what_to_do(
    rt: Runtime,
) -> None:
    converge(rt, [manifest("x")])
    snapshot = rt.snapshot()
    state = replace(snapshot, campaigns={"x": replace(snapshot.campaigns["x"], managed=False)})
    changed = manifest("x", with_subject(RECURRING, "Other"))
    assert messages(planner.plan([changed], state)) == [
        "x: campaign 'x' was made outside the reconciler, and this manifest does not match it: "
        "its spec differs (spec.content.subject). `reconciler import x` writes the manifest "
        'that matches it; or annotate this one reconciler/adopt: "true" to adopt it and make '
        "the change"
    ]
    annotated = changed._replace(annotations={"reconciler/adopt": "true"})
    plan = planner.plan([annotated], state)
    assert [(op.action, op.adopt) for op in plan.operations] == [(Action.REPLACE, True)]
    assert wording.reason(plan.operations[0]).endswith(
        "; the campaign was made outside the reconciler, which adopts it (reconciler/adopt)"
    )


def test_drift_on_a_recurring_campaign_is_restored(rt: Runtime) -> None:
    converge(rt, [manifest("r")])
    edited = with_subject(RECURRING, "Edited in the console")
    _outside_edit(rt, "r", edited)
    plan = plan_of(rt, [manifest("r")])
    assert actions(plan) == [("r", "replace", 2, 3)]
    op = plan.operations[0]
    assert op.drift == "alice"
    assert wording.reason(op) == (
        "drift: live version 2 was written outside the reconciler by alice; "
        "the manifest's spec is restored"
    )
    assert op.changes == (FieldChange("spec.content.subject", "Edited in the console", "Hello"),)


def test_drift_on_a_one_time_campaign_is_refused_with_who_made_it(rt: Runtime) -> None:
    converge(rt, [manifest("o", ONE_TIME)])
    _outside_edit(rt, "o", with_subject(ONE_TIME, "Edited"))
    assert messages(plan_of(rt, [manifest("o", ONE_TIME)])) == [
        "o: spec.content.subject changed: live version 2 was changed outside the reconciler by "
        "alice; one-time campaigns cannot be modified once live; duplicate it with copyFrom; or "
        "accept the outside change by setting the manifest to the live version"
    ]


def _outside_edit(rt: Runtime, name: str, spec: dict) -> None:
    """A console edit: a new live version written by someone else, straight into the store."""
    campaign = rt.snapshot().campaigns[name]
    version = Version(
        number=campaign.versions + 1, spec=spec, hash=planner.spec_hash(spec), commit=None,
        file=None, actor="alice", applied_at="2026-11-27T12:00:00Z", origin="console",
    )  # fmt: skip
    store = rt.store.rows  # type: ignore[attr-defined]
    store.campaigns[name] = replace(campaign, live=version, versions=version.number, etag="x")


def test_completed_campaigns_refuse_changes(rt: Runtime) -> None:
    converge(rt, [manifest("o", ONE_TIME)])
    store = rt.store.rows  # type: ignore[attr-defined]
    store.campaigns["o"] = replace(store.campaigns["o"], status=Status.COMPLETED)
    assert plan_of(rt, [manifest("o", ONE_TIME)]).operations == ()
    assert messages(plan_of(rt, [manifest("o", with_subject(ONE_TIME, "x"))])) == [
        "o: spec.content.subject changed: a completed campaign cannot be changed; duplicate it "
        "with copyFrom"
    ]


def test_plans_are_deterministic_whatever_the_input_order(rt: Runtime) -> None:
    converge(rt, [manifest("a"), manifest("b", INBOUND)])
    manifests = [
        manifest("c", {}, copy_from="a"),
        manifest("a", with_subject(RECURRING, "x")),
        manifest("b", INBOUND, run="stopped"),
        manifest("d", ONE_TIME, state="draft"),
    ]
    first = plan_of(rt, manifests)
    second = plan_of(rt, list(reversed(manifests)))
    assert render.plan_json(first) == render.plan_json(second)
    assert first.plan_id == second.plan_id
    assert actions(first) == [
        ("a", "replace", 1, 2),
        ("b", "stop", 1, 1),
        ("c", "copy", None, 1),
        ("d", "create", None, 1),
    ]


def test_the_runtime_refuses_what_the_lifecycle_forbids(rt: Runtime) -> None:
    converge(rt, [manifest("o", ONE_TIME)])
    campaign = rt.snapshot().campaigns["o"]
    write = Write(
        key="k", action=Action.STOP, campaign="o", expected_etag=campaign.etag,
        provenance=Provenance("t"),
    )  # fmt: skip
    with pytest.raises(Exception, match="the runtime refuses to stop 'o': not allowed for a "
                       "one-time campaign that is live"):  # fmt: skip
        rt.apply(write)


def test_target_limits_the_plan_to_those_campaigns_and_their_copy_sources(rt: Runtime) -> None:
    converge(rt, [manifest("old")])
    partial = {"content": {"subject": "Copy", "body": "B"}}
    manifests = [
        manifest("source"),
        manifest("copy", partial, copy_from="source"),
        manifest("other"),
        manifest("old", with_subject(RECURRING, "changed")),
    ]
    plan = planner.plan(manifests, rt.snapshot(), targets=["copy"])
    assert actions(plan) == [("source", "activate", None, 1), ("copy", "copy", None, 1)]
    assert plan.targets == ("copy",)
    assert plan.left_out == 2
    assert [d.message for d in plan.warnings] == [
        "included, as sources of the copies the plan makes: source"
    ]


def test_target_naming_nothing_is_an_error_and_orphans_are_only_the_targeted(
    rt: Runtime,
) -> None:
    converge(rt, [manifest("gone"), manifest("kept")])
    plan = planner.plan([manifest("kept")], rt.snapshot(), prune=True, targets=["kept", "ghost"])
    assert messages(plan) == [
        "ghost: no manifest and no campaign is named 'ghost', which the plan was limited to"
    ]
    plan = planner.plan([manifest("kept")], rt.snapshot(), prune=True, targets=["gone"])
    assert actions(plan) == [("gone", "stop", 1, 1)]
    plan = planner.plan([manifest("kept")], rt.snapshot(), prune=True, targets=["kept"])
    assert plan.operations == ()


def test_a_new_campaigns_changes_are_every_field_in_path_order() -> None:
    spec = {
        "schedule": {"timezone": "UTC", "recurring": {"every": "week", "on": ["mon"]}},
        "channel": "email",
        "audience": {},
        "content": {"subject": None},
    }
    assert planner.diff({}, spec) == [
        FieldChange("spec.channel", None, "email"),
        FieldChange("spec.content.subject", None, None),
        FieldChange("spec.schedule.recurring.every", None, "week"),
        FieldChange("spec.schedule.recurring.on", None, ["mon"]),
        FieldChange("spec.schedule.timezone", None, "UTC"),
    ]
    assert planner.diff(spec, {}) == [
        FieldChange(c.path, c.after, None) for c in planner.diff({}, spec)
    ]


def weekly(zone: str, at: str = "09:00") -> dict[str, Any]:
    recurring = {"every": "week", "on": ["mon", "thu"], "at": at}
    return {**RECURRING, "schedule": {"recurring": recurring, "timezone": zone}}


def test_campaigns_sharing_a_schedule_each_get_the_sendings_of_their_own(rt: Runtime) -> None:
    converge(rt, [manifest("moved", weekly("Europe/Amsterdam"))])
    specs = {
        "amsterdam": weekly("Europe/Amsterdam"),
        "amsterdam-too": weekly("Europe/Amsterdam"),
        "later": weekly("Europe/Amsterdam", "10:00"),
        "moved": weekly("Asia/Tokyo"),
        "now": {k: v for k, v in ONE_TIME.items() if k != "schedule"},
        "tokyo": weekly("Asia/Tokyo"),
    }
    plan = planner.plan([manifest(n, s) for n, s in specs.items()], rt.snapshot(), now=NOW)
    amsterdam = ("Mon 2026-11-30 09:00 CET", "Thu 2026-12-03 09:00 CET", "Mon 2026-12-07 09:00 CET")
    tokyo = ("Mon 2026-11-30 09:00 JST", "Thu 2026-12-03 09:00 JST", "Mon 2026-12-07 09:00 JST")
    sendings = [
        (
            o.campaign,
            o.action.value,
            tuple(wording.next_sendings(o).split(", ")),
            tuple(filter(None, wording.sendings(o.sendings_before, o.zone_before).split(", "))),
        )
        for o in plan.operations
    ]
    assert sendings == [
        ("amsterdam", "activate", amsterdam, ()),
        ("amsterdam-too", "activate", amsterdam, ()),
        ("later", "activate", tuple(s.replace("09:00", "10:00") for s in amsterdam), ()),
        ("moved", "replace", tokyo, amsterdam),
        ("now", "activate", ("on activation",), ()),
        ("tokyo", "activate", tokyo, ()),
    ]


def test_fields_added_alike_by_many_campaigns_keep_each_their_own_value(rt: Runtime) -> None:
    values = {"a": True, "b": 1, "c": 1.0, "d": 0.0, "e": -0.0, "f": "1", "g": None, "h": 1}
    plan = planner.plan(
        [manifest(n, {**ONE_TIME, "content": {"x": v}}) for n, v in values.items()], rt.snapshot()
    )
    added = {
        o.campaign: next(c for c in o.changes if c.path == "spec.content.x")
        for o in plan.operations
    }
    written = {n: json.dumps(c.after) for n, c in added.items()}
    assert written == {
        "a": "true", "b": "1", "c": "1.0", "d": "0.0", "e": "-0.0", "f": '"1"', "g": "null",
        "h": "1",
    }  # fmt: skip
    assert added["b"] is added["h"]  # the same field and value: one change, shared


def test_a_stop_with_a_now_says_what_it_cancels_and_keeps_the_rest_of_its_reason(
    rt: Runtime,
) -> None:
    converge(rt, [manifest("r"), manifest("gone")])
    _outside_edit(rt, "r", with_subject(RECURRING, "Edited in the console"))
    stopped = manifest("r", run="stopped")
    plan = planner.plan([stopped], rt.snapshot(), prune=True, now=NOW)
    assert [(op.campaign, op.action.value, wording.reason(op)) for op in plan.operations] == [
        (
            "gone",
            "stop",
            "its manifest was removed; --prune stops it; "
            "the next sending, Mon 2026-11-30 09:00 UTC, is cancelled",
        ),
        (
            "r",
            "stop",
            "the manifest says run: stopped; the next sending, Mon 2026-11-30 09:00 UTC, is "
            "cancelled; live version 2 was changed outside the reconciler by alice",
        ),
    ]


def test_a_stopped_unmanaged_campaign_is_adopted_only_by_the_manifest_it_matches(
    rt: Runtime,
) -> None:
    converge(rt, [manifest("s", INBOUND)])
    converge(rt, [manifest("s", INBOUND, run="stopped")])
    snapshot = rt.snapshot()
    state = replace(snapshot, campaigns={"s": replace(snapshot.campaigns["s"], managed=False)})
    same = planner.plan([manifest("s", INBOUND, run="stopped")], state)
    assert [op.action for op in same.operations] == [Action.ADOPT]
    other = {**INBOUND, "content": {"title": "Else", "body": "There"}}
    differs = planner.plan([manifest("s", other, run="stopped")], state)
    assert differs.operations == ()
    assert messages(differs)[0].startswith(
        "s: campaign 's' was made outside the reconciler, and this manifest does not match it: "
        "its spec differs (spec.content.title)."
    )
