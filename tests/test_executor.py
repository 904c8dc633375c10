"""Apply, through the library (``reconciler.api``): convergence, the ledger of a failed run, saved
plans (applied, refused as stale, never twice, resumed after an interruption, refused when edited)
and the runtime lock."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from backends import STORE_BACKENDS, backend_url
from reconciler import api, executor, render
from reconciler.errors import LockedError, PlanError, ReconcilerError, StalePlanError
from reconciler.executor import AppliedBefore, Ledger, Outcome, hold_lock
from reconciler.model import Action, spec_hash
from reconciler.plan import Operation, Plan, Reason, loads
from reconciler.runtime.base import (
    Applied,
    LockInfo,
    LockOwner,
    Provenance,
    Runtime,
    Write,
)
from reconciler.runtime.registry import open_runtime

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OWNER = LockOwner(owner="tester@host:1", pid=1, host="elsewhere", reason="test")

EMAIL = {
    "channel": "email",
    "audience": {"segment": "newsletter"},
    "content": {"subject": "Hello", "body": "Body"},
}
RECURRING = {
    **EMAIL,
    "schedule": {
        "recurring": {"every": "week", "on": ["mon", "thu"], "at": "09:00"},
        "timezone": "Europe/Amsterdam",
    },
}
INBOUND = {"channel": "in-app", "content": {"title": "Hi", "body": "There"}}

#: each command here pins its own time (RECONCILER_NOW), which a runtime service does not take
#: from its clients (its clock is its own): the http backend runs the contract suite, and the
#: commands over it are tested in tests/service/test_service_cli.py
BACKENDS_HERE = STORE_BACKENDS


def with_content(spec: dict[str, Any], **content: str) -> dict[str, Any]:
    return {**spec, "content": {**spec["content"], **content}}


def document(
    name: str,
    spec: dict[str, Any] | None = None,
    *,
    state: str = "live",
    run: str | None = None,
    copy_from: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"state": state}
    if run is not None:
        body["run"] = run
    if copy_from is not None:
        body["copyFrom"] = copy_from
    body.update(spec or {})
    return {
        "apiVersion": "reconciler/v1",
        "kind": "Campaign",
        "metadata": {"name": name},
        "spec": body,
    }


class Repo:
    """A manifest directory ``campaigns/`` in the working directory, one file per campaign."""

    def __init__(self, root: Path) -> None:
        self.root = root / "campaigns"
        self.root.mkdir()

    def put(self, name: str, spec: dict[str, Any] | None = None, **kw: Any) -> None:
        text = yaml.safe_dump(document(name, spec, **kw), sort_keys=False)
        (self.root / f"{name}.yaml").write_text(text, encoding="utf-8")

    def remove(self, name: str) -> None:
        (self.root / f"{name}.yaml").unlink()

    def raw(self, name: str, text: str) -> None:
        (self.root / f"{name}.yaml").write_text(text, encoding="utf-8")

    @property
    def path(self) -> str:
        return "campaigns"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_RUNTIME", raising=False)
    return Repo(tmp_path)


@pytest.fixture
def url(backend: str, tmp_path: Path) -> str:
    return backend_url(backend, tmp_path, label="executor")


@pytest.fixture
def options(url: str) -> api.Options:
    return api.Options(runtime_url=url, actor="ci-bot")


@pytest.fixture
def rt(url: str) -> Iterator[Runtime]:
    runtime = open_runtime(url, clock=lambda: NOW)
    yield runtime
    runtime.close()


def entries(ledger: Ledger) -> list[tuple[str, str, str, str, bool]]:
    return [
        (e.campaign, e.action.value, e.outcome.value, e.message, e.replayed) for e in ledger.entries
    ]


def done(*pairs: tuple[str, str], replayed: bool = False) -> list[tuple[str, str, str, str, bool]]:
    return [(name, action, "done", "", replayed) for name, action in pairs]


def table(rt: Runtime) -> dict[str, tuple[str, int | None, int | None, int, str | None]]:
    """name -> (status, live version, draft version, versions written, copied from)"""
    return {
        name: (
            c.status.value,
            c.live.number if c.live else None,
            c.draft.number if c.draft else None,
            c.versions,
            c.copied_from,
        )
        for name, c in sorted(rt.snapshot().campaigns.items())
    }


def ops(plan: Plan) -> list[tuple[str, str, int | None, int | None]]:
    return [(o.campaign, o.action.value, o.from_version, o.to_version) for o in plan.operations]


def unrelated_write(rt: Runtime, name: str = "outsider") -> None:
    """Someone else writes to the runtime: a campaign the manifests do not know."""
    rt.apply(
        Write(
            key=f"console/{name}",
            action=Action.ACTIVATE,
            campaign=name,
            expected_etag=None,
            provenance=Provenance("console-user", origin="console"),
            spec=INBOUND,
        )
    )


def save(plan: Plan, where: Path) -> Path:
    where.write_text(render.plan_json(plan), encoding="utf-8")
    return where


# --- apply converges ----------------------------------------------------------------------------


def test_apply_then_plan_again_has_no_operations(
    repo: Repo, options: api.Options, rt: Runtime
) -> None:
    repo.put("digest", RECURRING)
    repo.put("blast", EMAIL)
    repo.put("banner", INBOUND)
    repo.put("sketch", RECURRING, state="draft")
    repo.put("blast-again", {"content": {"subject": "Again"}}, copy_from="blast")

    ledger = api.apply(repo.path, options)
    assert ledger.ok
    assert entries(ledger) == done(
        ("banner", "activate"),
        ("blast", "activate"),
        ("blast-again", "copy"),
        ("digest", "activate"),
        ("sketch", "create"),
    )
    assert table(rt) == {
        "banner": ("live", 1, None, 1, None),
        "blast": ("live", 1, None, 1, None),
        "blast-again": ("live", 1, None, 1, "blast"),
        "digest": ("live", 1, None, 1, None),
        "sketch": ("draft", None, 1, 1, None),
    }
    again = api.plan(repo.path, options)
    assert (again.operations, again.errors, again.warnings, again.unchanged) == ((), (), (), 5)
    copy = rt.snapshot().campaigns["blast-again"]
    assert copy.live is not None
    assert copy.live.spec["content"] == {"subject": "Again", "body": "Body"}
    assert copy.copy_base == EMAIL

    # every action, then plan again: nothing left to do each time
    repo.put("digest", with_content(RECURRING, subject="Two"))
    repo.put("sketch", RECURRING)
    repo.put("banner", INBOUND, run="stopped")
    ledger = api.apply(repo.path, options)
    assert entries(ledger) == done(
        ("banner", "stop"), ("digest", "replace"), ("sketch", "activate")
    )
    assert api.plan(repo.path, options).operations == ()

    repo.put("digest", with_content(RECURRING, subject="Three"), state="draft")
    repo.put("banner", INBOUND)
    ledger = api.apply(repo.path, options)
    assert entries(ledger) == done(("banner", "resume"), ("digest", "update"))
    assert api.plan(repo.path, options).operations == ()
    assert table(rt)["digest"] == ("live", 2, 3, 3, None)  # staged beside live version 2

    repo.put("digest", with_content(RECURRING, subject="Three"))
    ledger = api.apply(repo.path, options)
    assert entries(ledger) == done(("digest", "replace"))
    assert api.plan(repo.path, options).operations == ()

    assert table(rt) == {
        "banner": ("live", 1, None, 1, None),
        "blast": ("live", 1, None, 1, None),
        "blast-again": ("live", 1, None, 1, "blast"),
        "digest": ("live", 3, None, 3, None),  # the staged draft 3 was promoted, no number 4
        "sketch": ("live", 1, None, 1, None),  # the draft was promoted, no number 2
    }
    assert len(rt.history()) == 5 + 3 + 2 + 1
    assert {e.actor for e in rt.history()} == {"ci-bot"}


def test_a_plan_with_errors_applies_nothing(repo: Repo, options: api.Options, rt: Runtime) -> None:
    repo.put("digest", RECURRING)
    repo.put("banner", INBOUND)
    repo.raw(
        "broken",
        "apiVersion: reconciler/v1\n"
        "kind: Campaign\n"
        "metadata: {name: broken}\n"
        "spec:\n"
        "  channel: in-app\n"
        "  state: paused\n"
        "  content: {title: Hi, body: There}\n",
    )
    ledger = api.apply(repo.path, options)
    assert ledger.entries == ()
    assert not ledger.ok
    assert [str(d) for d in ledger.plan.errors] == [
        "campaigns/broken.yaml:6:10: spec.state: 'paused' is not one of ['draft', 'live']"
    ]
    assert ledger.plan.operations == ()
    assert rt.snapshot().revision == 0
    assert dict(rt.snapshot().campaigns) == {}
    assert rt.history() == []


def test_a_lifecycle_refusal_applies_nothing_either(
    repo: Repo, options: api.Options, rt: Runtime
) -> None:
    repo.put("digest", RECURRING)
    repo.put("halted", RECURRING, run="stopped")  # a new campaign cannot start stopped
    ledger = api.apply(repo.path, options)
    assert ledger.entries == ()
    assert not ledger.ok
    assert [(d.campaign, d.message) for d in ledger.plan.errors] == [
        (
            "halted",
            "a new campaign cannot start stopped; set run: running (or remove run), "
            "and stop it once it is live",
        )
    ]
    assert rt.snapshot().revision == 0
    assert rt.history() == []


# --- failures and the ledger --------------------------------------------------------------------


@pytest.fixture
def chain(repo: Repo, options: api.Options, rt: Runtime) -> Plan:
    """alpha; beta copies alpha; delta copies beta; gamma is unrelated. alpha's operation will
    fail: someone creates alpha between plan and apply."""
    repo.put("alpha", EMAIL)
    repo.put("beta", {"content": {"subject": "Beta"}}, copy_from="alpha")
    repo.put("delta", {"content": {"subject": "Delta"}}, copy_from="beta")
    repo.put("gamma", INBOUND)
    plan = api.plan(repo.path, options)
    assert ops(plan) == [
        ("alpha", "activate", None, 1),
        ("beta", "copy", None, 1),
        ("delta", "copy", None, 1),
        ("gamma", "activate", None, 1),
    ]
    rt.apply(
        Write(
            key="console/alpha",
            action=Action.CREATE,
            campaign="alpha",
            expected_etag=None,
            provenance=Provenance("console-user", origin="console"),
            spec=EMAIL,
        )
    )
    return plan


ALPHA_CONFLICT = "campaign 'alpha' changed since it was planned (etag absent, now 1); plan again"


def test_a_failed_operation_stops_the_run(chain: Plan, rt: Runtime) -> None:
    with executor.hold_lock(rt, OWNER):
        ledger = executor.execute(rt, chain, Provenance("ci-bot"), owner=OWNER)
    assert entries(ledger) == [
        ("alpha", "activate", "failed", ALPHA_CONFLICT, False),
        ("beta", "copy", "skipped", "not attempted: an earlier operation failed", False),
        ("delta", "copy", "skipped", "not attempted: an earlier operation failed", False),
        ("gamma", "activate", "skipped", "not attempted: an earlier operation failed", False),
    ]
    assert not ledger.ok
    assert [ledger.count(o) for o in Outcome] == [0, 1, 3]
    assert table(rt) == {"alpha": ("draft", None, 1, 1, None)}  # only the outside write
    assert rt.snapshot().revision == 1


def test_keep_going_skips_only_what_depends_on_the_failure(chain: Plan, rt: Runtime) -> None:
    with executor.hold_lock(rt, OWNER):
        ledger = executor.execute(rt, chain, Provenance("ci-bot"), owner=OWNER, keep_going=True)
    assert entries(ledger) == [
        ("alpha", "activate", "failed", ALPHA_CONFLICT, False),
        ("beta", "copy", "skipped", "depends on alpha, which failed", False),
        ("delta", "copy", "skipped", "depends on beta, which was skipped", False),
        ("gamma", "activate", "done", "", False),
    ]
    assert not ledger.ok
    assert [ledger.count(o) for o in Outcome] == [1, 1, 2]
    assert table(rt) == {
        "alpha": ("draft", None, 1, 1, None),
        "gamma": ("live", 1, None, 1, None),
    }
    assert rt.snapshot().revision == 2


def test_an_operation_with_a_wrong_etag_fails_and_changes_nothing(
    repo: Repo, options: api.Options, rt: Runtime
) -> None:
    repo.put("digest", RECURRING)
    repo.put("weekly", RECURRING)
    assert api.apply(repo.path, options).ok
    repo.put("digest", with_content(RECURRING, subject="Two"))
    repo.put("weekly", with_content(RECURRING, subject="Two"))
    plan = api.plan(repo.path, options)
    assert ops(plan) == [("digest", "replace", 1, 2), ("weekly", "replace", 1, 2)]
    forged = dataclasses.replace(
        plan, operations=(dataclasses.replace(plan.operations[0], etag="41"), plan.operations[1])
    )
    before = rt.history()
    with executor.hold_lock(rt, OWNER):
        ledger = executor.execute(rt, forged, Provenance("ci-bot"), owner=OWNER, keep_going=True)
    assert entries(ledger) == [
        (
            "digest",
            "replace",
            "failed",
            "campaign 'digest' changed since it was planned (etag 41, now 1); plan again",
            False,
        ),
        ("weekly", "replace", "done", "", False),
    ]
    assert table(rt) == {
        "digest": ("live", 1, None, 1, None),
        "weekly": ("live", 2, None, 2, None),
    }
    assert rt.history()[: len(before)] == before
    assert len(rt.history()) == len(before) + 1


def test_an_operation_the_runtime_refuses_fails(
    repo: Repo, options: api.Options, rt: Runtime
) -> None:
    repo.put("blast", EMAIL)
    assert api.apply(repo.path, options).ok
    blast = rt.snapshot().campaigns["blast"]
    plan = api.plan(repo.path, options)
    stop = dataclasses.replace(
        plan,
        operations=(
            Operation(
                campaign="blast", action=Action.STOP, reason=Reason.STOP_REQUESTED, etag=blast.etag
            ),
        ),
    )
    with executor.hold_lock(rt, OWNER):
        ledger = executor.execute(rt, stop, Provenance("ci-bot"), owner=OWNER)
    assert entries(ledger) == [
        (
            "blast",
            "stop",
            "failed",
            "the runtime refuses to stop 'blast': not allowed for a one-time campaign that is live",
            False,
        )
    ]
    assert rt.snapshot().campaigns["blast"] == blast


# --- saved plans --------------------------------------------------------------------------------


def test_a_saved_plan_applies_when_nothing_moved(
    repo: Repo, options: api.Options, rt: Runtime, tmp_path: Path
) -> None:
    repo.put("digest", RECURRING)
    repo.put("banner", INBOUND, state="draft")
    plan = api.plan(repo.path, options)
    saved = save(plan, tmp_path / "plan.json")
    assert rt.snapshot().revision == 0  # planning wrote nothing
    # the runtime is named as for every command: never taken from the plan
    ledger = api.apply_saved(saved, dataclasses.replace(options, actor="reviewer"))
    assert ledger.ok
    assert ledger.plan == plan
    assert ledger.plan.plan_id == plan.plan_id
    assert entries(ledger) == done(("banner", "create"), ("digest", "activate"))
    assert [(e.plan_id, e.actor, e.campaign) for e in rt.history()] == [
        (plan.plan_id, "reviewer", "banner"),
        (plan.plan_id, "reviewer", "digest"),
    ]
    assert rt.applied_keys(plan.plan_id + "/") == {
        f"{plan.plan_id}/banner/create",
        f"{plan.plan_id}/digest/activate",
    }
    assert api.plan(repo.path, options).operations == ()


def test_a_saved_plan_still_applies_after_unrelated_campaigns_changed(
    repo: Repo, options: api.Options, rt: Runtime, tmp_path: Path
) -> None:
    unrelated_write(rt, "earlier")  # the runtime exists (a plan for none applies only to none)
    repo.put("digest", RECURRING)
    repo.put("banner", INBOUND)
    saved = save(api.plan(repo.path, options), tmp_path / "plan.json")
    unrelated_write(rt)  # another pull request merged meanwhile: not this plan's business
    ledger = api.apply_saved(saved, options)
    assert [(e.campaign, e.outcome) for e in ledger.entries] == [
        ("banner", Outcome.DONE),
        ("digest", Outcome.DONE),
    ]
    assert set(rt.snapshot().campaigns) == {"banner", "digest", "earlier", "outsider"}


def test_a_saved_plan_is_refused_whole_when_its_own_campaigns_moved(
    repo: Repo, options: api.Options, rt: Runtime, tmp_path: Path
) -> None:
    repo.put("digest", RECURRING)
    repo.put("banner", INBOUND)
    repo.put("zeta", INBOUND)
    assert api.apply(repo.path, options).ok
    repo.put("digest", with_content(RECURRING, subject="New digest"))
    repo.put("zeta", with_content(INBOUND, title="New zeta"))
    saved = save(api.plan(repo.path, options), tmp_path / "plan.json")
    unrelated_write(rt, "banner-console")
    repo.put("zeta", with_content(INBOUND, title="Newer zeta"))
    assert api.apply(repo.path, options).ok  # zeta moves under the saved plan
    before = (rt.snapshot(), rt.history())
    with pytest.raises(StalePlanError) as caught:
        api.apply_saved(saved, options)
    assert str(caught.value) == (
        "campaigns of this plan changed since it was made: digest, zeta; nothing was applied. "
        "Plan again"
    )
    assert (rt.snapshot(), rt.history()) == before


def test_a_saved_copy_is_refused_when_its_source_moved(
    repo: Repo, options: api.Options, rt: Runtime, tmp_path: Path
) -> None:
    repo.put("digest", RECURRING)
    assert api.apply(repo.path, options).ok
    repo.put("digest-copy", {"content": RECURRING["content"]}, copy_from="digest")
    saved = save(api.plan(repo.path, options), tmp_path / "plan.json")
    repo.put("digest", with_content(RECURRING, subject="Changed source"))
    repo.remove("digest-copy")
    assert api.apply(repo.path, options).ok
    with pytest.raises(StalePlanError) as caught:
        api.apply_saved(saved, options)
    assert str(caught.value) == (
        "campaigns of this plan changed since it was made: digest (the source of digest-copy); "
        "nothing was applied. Plan again"
    )


def test_a_saved_plan_is_never_applied_twice(
    repo: Repo, options: api.Options, rt: Runtime, tmp_path: Path
) -> None:
    repo.put("digest", RECURRING)
    repo.put("banner", INBOUND)
    plan = api.plan(repo.path, options)
    saved = save(plan, tmp_path / "plan.json")
    assert api.apply_saved(saved, options).ok
    after = (rt.snapshot(), rt.history())
    again = api.apply_saved(saved, dataclasses.replace(options, actor="retry"))
    # a retried CI job: applied before, so it succeeds, doing nothing, and says when and by whom
    assert again.ok
    assert again.entries == ()
    assert again.already_applied == AppliedBefore(after[1][-1].at, "ci-bot")
    assert (rt.snapshot(), rt.history()) == after


def test_a_saved_plan_with_errors_is_refused(
    repo: Repo, options: api.Options, rt: Runtime, tmp_path: Path
) -> None:
    repo.put("digest", RECURRING)
    repo.put("halted", RECURRING, run="stopped")
    saved = save(api.plan(repo.path, options), tmp_path / "plan.json")
    with pytest.raises(StalePlanError) as caught:
        api.apply_saved(saved, options)
    assert str(caught.value) == (
        "the saved plan has errors, so nothing of it can be applied; fix them and plan again"
    )
    assert rt.snapshot().revision == 0


def test_a_saved_plan_is_refused_by_another_runtime(
    repo: Repo, options: api.Options, rt: Runtime, tmp_path: Path
) -> None:
    repo.put("digest", RECURRING)
    unrelated_write(rt)  # the runtime exists, and has an id
    saved = save(api.plan(repo.path, options), tmp_path / "plan.json")
    other = f"sqlite:///{tmp_path}/other.db"
    with pytest.raises(StalePlanError) as caught:
        api.apply_saved(saved, api.Options(runtime_url=other))
    other_rt = open_runtime(other)  # made by the refused apply's lock: it has an id now
    assert str(caught.value) == (
        f"the saved plan was made for another runtime, {options.runtime_url} (id "
        f"{rt.runtime_id()}), not for {other} (id {other_rt.runtime_id()}); nothing was applied. "
        "Apply it with --runtime naming the runtime it was made for, or plan again"
    )
    assert other_rt.snapshot().revision == 0
    other_rt.close()
    assert set(rt.snapshot().campaigns) == {"outsider"}


ALTERED = "the plan was altered after it was made. Nothing was applied"
EDITED = "plan.json: its plan_id does not match its content; " + ALTERED
SPEC_EDITED = (
    "plan.json: operation digest (activate): its spec does not match its spec_hash; " + ALTERED
)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("reason_code", EDITED),
        ("spec", SPEC_EDITED),  # its own hash says so before the plan's id does
        ("etag", EDITED),
        ("runtime_revision", EDITED),
        ("summary", EDITED),  # unchanged cannot be counted again: the id covers it
    ],
)
def test_a_plan_edited_by_hand_is_refused(
    repo: Repo, options: api.Options, rt: Runtime, tmp_path: Path, field: str, message: str
) -> None:
    repo.put("digest", RECURRING)
    plan = api.plan(repo.path, options)
    data = json.loads(render.plan_json(plan))
    if field == "reason_code":
        data["operations"][0]["reason_code"] = "spec-changed"
    elif field == "spec":
        data["operations"][0]["spec"]["content"]["subject"] = "Sneaky"
    elif field == "etag":
        data["operations"][0]["etag"] = "1"
    elif field == "runtime_revision":
        data["runtime_revision"] = 7
    else:
        data["summary"]["unchanged"] = 3
    text = json.dumps(data, indent=2)
    with pytest.raises(PlanError) as caught:
        loads(text, "plan.json")
    assert str(caught.value) == message
    edited = tmp_path / "edited.json"
    edited.write_text(text, encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        api.apply_saved(edited, options)
    assert str(caught.value) == message.replace("plan.json", str(edited))
    assert rt.snapshot().revision == 0


def test_a_saved_plan_round_trips_unedited(repo: Repo, options: api.Options) -> None:
    repo.put("digest", RECURRING)
    repo.put("copy", {"content": {"subject": "Copy"}}, copy_from="digest")
    plan = api.plan(repo.path, options)
    again = loads(render.plan_json(plan))
    assert again == plan
    assert again.plan_id == plan.plan_id
    assert render.plan_json(again) == render.plan_json(plan)


# --- an interrupted saved plan resumes ----------------------------------------------------------

FINAL = {
    "banner": ("live", 1, 2, 2, None),  # change staged as draft 2 beside live 1
    "digest": ("live", 2, None, 2, None),
    "fresh": ("live", 1, None, 1, None),
    "idea": ("draft", None, 1, 1, None),
    "sketch": ("live", 1, None, 1, None),  # the draft was promoted: still version 1
}


@pytest.fixture
def five(repo: Repo, options: api.Options, rt: Runtime) -> Plan:
    """A plan of five operations, one of each kind of write, against an applied repository."""
    repo.put("digest", RECURRING)
    repo.put("sketch", RECURRING, state="draft")
    repo.put("banner", INBOUND)
    assert api.apply(repo.path, options).ok
    repo.put("digest", with_content(RECURRING, subject="Two"))
    repo.put("sketch", RECURRING)
    repo.put("banner", with_content(INBOUND, title="Staged"), state="draft")
    repo.put("fresh", EMAIL)
    repo.put("idea", INBOUND, state="draft")
    plan = api.plan(repo.path, options)
    assert ops(plan) == [
        ("banner", "update", 1, 2),
        ("digest", "replace", 1, 2),
        ("fresh", "activate", None, 1),
        ("idea", "create", None, 1),
        ("sketch", "activate", 1, 1),
    ]
    return plan


def interrupt(rt: Runtime, plan: Plan, k: int) -> None:
    """What a run of ``plan`` killed after its k-th operation leaves behind."""
    for op in plan.operations[:k]:
        applied = rt.apply(executor._write(op, plan, Provenance("ci-bot")))
        assert not applied.replayed


@pytest.mark.parametrize("k", [1, 2, 4])
def test_an_interrupted_saved_plan_resumes_and_does_nothing_twice(
    five: Plan, options: api.Options, rt: Runtime, tmp_path: Path, k: int
) -> None:
    saved = save(five, tmp_path / "plan.json")
    interrupt(rt, five, k)
    assert rt.snapshot().revision == 3 + k
    ledger = api.apply_saved(saved, options)
    assert ledger.ok
    names = [(o.campaign, o.action.value) for o in five.operations]
    assert entries(ledger) == done(*names[:k], replayed=True) + done(*names[k:])
    assert table(rt) == FINAL
    assert rt.snapshot().revision == 3 + 5
    history = rt.history()
    assert len(history) == 3 + 5
    assert [e.campaign for e in history[3:]] == [name for name, _ in names]
    assert all(e.plan_id == five.plan_id for e in history[3:])
    assert rt.applied_keys(five.plan_id + "/") == {o.key(five.plan_id) for o in five.operations}
    again = api.apply_saved(saved, options)
    assert (again.ok, again.entries) == (True, ())
    assert again.already_applied == AppliedBefore(history[-1].at, "ci-bot")
    assert len(rt.history()) == 3 + 5


@pytest.mark.parametrize("k", [1, 4])
def test_after_an_interrupted_run_a_fresh_apply_does_only_the_rest(
    five: Plan, repo: Repo, options: api.Options, rt: Runtime, k: int
) -> None:
    interrupt(rt, five, k)
    ledger = api.apply(repo.path, options)
    assert ledger.ok
    names = [(o.campaign, o.action.value) for o in five.operations]
    assert entries(ledger) == done(*names[k:])
    assert table(rt) == FINAL
    assert len(rt.history()) == 3 + 5
    assert api.plan(repo.path, options).operations == ()


def test_an_interrupted_saved_plan_resumes_after_unrelated_writes(
    five: Plan, options: api.Options, rt: Runtime, tmp_path: Path
) -> None:
    saved = save(five, tmp_path / "plan.json")
    interrupt(rt, five, 2)
    unrelated_write(rt)
    ledger = api.apply_saved(saved, options)
    assert [e.replayed for e in ledger.entries] == [True, True, False, False, False]
    assert ledger.ok
    assert rt.snapshot().revision == 3 + 5 + 1


# --- the lock -----------------------------------------------------------------------------------

HOLDER = LockOwner(owner="ci@runner-1:101", pid=101, host="runner-1", reason="apply campaigns")
HELD = (
    "the runtime is locked by ci@runner-1:101 (apply campaigns) since 2026-06-01T12:00:00.000Z, "
    "expires 2026-06-01T12:05:00.000Z"
)


class Ticks:
    """A fake monotonic clock and sleep: sleeping advances the clock; a hook runs on each sleep."""

    def __init__(self, on_sleep: Any = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))


@pytest.fixture
def locked(rt: Runtime) -> Runtime:
    assert rt.acquire_lock(HOLDER) is None
    return rt


def test_hold_lock_without_a_timeout_fails_at_once_naming_the_holder(locked: Runtime) -> None:
    ticks = Ticks()
    with (
        pytest.raises(LockedError) as caught,
        hold_lock(locked, OWNER, timeout=0, sleep=ticks.sleep, clock=ticks.clock),
    ):
        pytest.fail("the block must not run")
    assert str(caught.value) == (HELD + "; try again, or wait for it with --lock-timeout SECONDS")
    assert ticks.sleeps == []


def test_hold_lock_waits_for_the_holder_to_release(locked: Runtime) -> None:
    def release_on_third(n: int) -> None:
        if n == 3:
            locked.release_lock(HOLDER)

    ticks = Ticks(release_on_third)
    with hold_lock(locked, OWNER, timeout=10, poll=0.5, sleep=ticks.sleep, clock=ticks.clock):
        assert ticks.sleeps == [0.5, 0.5, 0.5]
        held = locked.acquire_lock(HOLDER)
        assert held is not None
        assert held.holder == OWNER
    assert locked.acquire_lock(HOLDER) is None  # released on the way out


def test_hold_lock_gives_up_after_the_timeout(locked: Runtime) -> None:
    ticks = Ticks()
    with (
        pytest.raises(LockedError) as caught,
        hold_lock(locked, OWNER, timeout=2, poll=0.5, sleep=ticks.sleep, clock=ticks.clock),
    ):
        pytest.fail("the block must not run")
    assert str(caught.value) == HELD + "; still locked after waiting 2s"
    assert ticks.sleeps == [0.5, 0.5, 0.5, 0.5]


def test_hold_lock_releases_when_the_block_fails(rt: Runtime) -> None:
    with pytest.raises(RuntimeError, match="boom"), hold_lock(rt, OWNER):
        raise RuntimeError("boom")
    assert rt.acquire_lock(HOLDER) is None


def test_apply_fails_on_a_held_lock_and_applies_nothing(
    repo: Repo, options: api.Options, url: str
) -> None:
    real = open_runtime(url)  # api.apply reads the lock's expiry with the real clock
    assert real.acquire_lock(HOLDER) is None
    repo.put("digest", RECURRING)
    with pytest.raises(LockedError) as caught:
        api.apply(repo.path, options)
    assert str(caught.value).startswith(
        "the runtime is locked by ci@runner-1:101 (apply campaigns) since "
    )
    assert str(caught.value).endswith("; try again, or wait for it with --lock-timeout SECONDS")
    assert real.snapshot().revision == 0
    assert real.history() == []
    held = real.acquire_lock(OWNER)
    assert held is not None
    assert held.holder == HOLDER  # the failed apply did not release someone else's lock
    real.close()


def test_apply_releases_its_lock(repo: Repo, options: api.Options, rt: Runtime) -> None:
    repo.put("digest", RECURRING)
    assert api.apply(repo.path, options).ok
    assert rt.acquire_lock(HOLDER) is None


def resealed(body: dict[str, Any]) -> str:
    """A saved plan edited by hand, its spec hashes and its id recomputed, as a forger would:
    only the checks of what it says (the spec's validity, the runtime) can stop it."""
    plan = Plan(
        runtime=body["runtime"],
        runtime_id=body["runtime_id"],
        runtime_revision=body["runtime_revision"],
        operations=tuple(
            dataclasses.replace(op, spec_hash=spec_hash(op.spec) if op.spec is not None else None)
            for op in map(Operation.from_json, body["operations"])
        ),
        commit=body["commit"],
        dirty=body["dirty"],
        targets=tuple(body["targets"]),
        unchanged=body["summary"]["unchanged"],
    )
    return render.plan_json(plan)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda body: body.update(runtime_revision="7"),
            "not a valid saved plan: runtime_revision: '7' is not of type 'integer'",
        ),
        (
            lambda body: body["operations"][0].update(action="delete"),
            "not a valid saved plan: operations/0/action: 'delete' is not one of",
        ),
        (lambda body: body.pop("operations"), "'operations' is a required property"),
    ],
    ids=["revision-type", "action", "missing"],
)
def test_a_malformed_saved_plan_is_refused_with_its_place(
    tmp_path: Path, edit: Any, message: str
) -> None:
    body = {
        "format_version": 3, "runtime": "memory://", "runtime_id": None, "runtime_revision": 0,
        "summary": {"unchanged": 0}, "errors": [], "warnings": [],
        "operations": [{"campaign": "x", "action": "stop", "reason_code": "stop-requested"}],
    }  # fmt: skip
    edit(body)
    with pytest.raises(PlanError, match=re.escape(message)):
        loads(json.dumps(body), "plan.json")


def test_an_edited_spec_in_a_resealed_saved_plan_is_refused(tmp_path: Path) -> None:
    manifests_dir = tmp_path / "campaigns"
    manifests_dir.mkdir()
    (manifests_dir / "a.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Campaign\nmetadata: {name: a}\n"
        "spec: {state: live, channel: sms, audience: {segment: s}, content: {text: hi}}\n"
    )
    options = api.Options(f"sqlite:///{tmp_path}/rt.db")
    body = api.plan(manifests_dir, options).to_json()
    body["operations"][0]["spec"]["channel"] = "fax"
    saved = tmp_path / "plan.json"
    saved.write_text(resealed(body))
    with pytest.raises(PlanError) as caught:
        api.apply_saved(saved, options)
    assert str(caught.value) == (
        "the saved plan's spec for a is not valid (spec.channel: 'fax' is not one of ['email', "
        "'sms', 'push', 'in-app', 'web', 'code-based', 'content-card']); nothing was applied. "
        "Plan again"
    )
    assert api.status(options) == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://app:s3cret@db.example:5432/campaigns",
            "postgresql://app:***@db.example:5432/campaigns",
        ),
        ("postgresql://db.example/campaigns", "postgresql://db.example/campaigns"),
        ("sqlite:///.reconciler/runtime.db", "sqlite:///.reconciler/runtime.db"),
    ],
)
def test_runtime_urls_are_redacted_before_they_reach_a_plan(url: str, shown: str) -> None:
    from reconciler.runtime.base import redacted

    assert redacted(url) == shown


# --- batches ------------------------------------------------------------------------------------


@pytest.fixture
def batches(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The campaigns of each batch the executor sends to ``rt``, in order."""
    sent: list[list[str]] = []
    real = rt.apply_batch

    def spy(writes: Sequence[Write]) -> list[Applied | ReconcilerError]:
        sent.append([w.campaign for w in writes])
        return real(writes)

    monkeypatch.setattr(rt, "apply_batch", spy)
    return sent


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executor, "BATCH_FIRST", 2)
    monkeypatch.setattr(executor, "BATCH_MAX", 2)


def run(rt: Runtime, plan: Plan, **kw: Any) -> Ledger:
    with executor.hold_lock(rt, OWNER):
        return executor.execute(rt, plan, Provenance("ci-bot"), owner=OWNER, **kw)


@pytest.fixture
def c3_fails(repo: Repo, options: api.Options, rt: Runtime) -> Plan:
    """Five activations, c1 to c5; c3's fails: someone creates c3 between plan and apply."""
    for i in range(1, 6):
        repo.put(f"c{i}", INBOUND if i % 2 else EMAIL)
    plan = api.plan(repo.path, options)
    assert ops(plan) == [(f"c{i}", "activate", None, 1) for i in range(1, 6)]
    unrelated_write(rt, "c3")
    return plan


C3_CONFLICT = "campaign 'c3' changed since it was planned (etag absent, now 1); plan again"
EARLIER = "not attempted: an earlier operation failed"


def test_a_failure_in_the_middle_of_a_batch_ends_the_run_there(
    c3_fails: Plan, rt: Runtime, batches: list[list[str]]
) -> None:
    ledger = run(rt, c3_fails)
    assert entries(ledger) == [
        *done(("c1", "activate"), ("c2", "activate")),
        ("c3", "activate", "failed", C3_CONFLICT, False),
        ("c4", "activate", "skipped", EARLIER, False),
        ("c5", "activate", "skipped", EARLIER, False),
    ]
    assert batches == [["c1", "c2", "c3", "c4", "c5"]]  # one batch: c4 and c5 never written
    assert table(rt) == {
        "c1": ("live", 1, None, 1, None),
        "c2": ("live", 1, None, 1, None),
        "c3": ("live", 1, None, 1, None),  # the outsider's
    }
    assert [(e.revision, e.campaign) for e in rt.history()] == [(1, "c3"), (2, "c1"), (3, "c2")]


def test_with_keep_going_a_failure_in_a_batch_ends_it_and_the_rest_follows(
    c3_fails: Plan, rt: Runtime, batches: list[list[str]]
) -> None:
    ledger = run(rt, c3_fails, keep_going=True)
    assert entries(ledger) == [
        *done(("c1", "activate"), ("c2", "activate")),
        ("c3", "activate", "failed", C3_CONFLICT, False),
        *done(("c4", "activate"), ("c5", "activate")),
    ]
    assert batches == [["c1", "c2", "c3", "c4", "c5"], ["c4", "c5"]]
    assert [(e.revision, e.campaign) for e in rt.history()] == [
        (1, "c3"),
        (2, "c1"),
        (3, "c2"),
        (4, "c4"),
        (5, "c5"),
    ]


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize("keep_going", [False, True])
def test_the_ledger_does_not_depend_on_where_batches_end(
    c3_fails: Plan, rt: Runtime, batches: list[list[str]], keep_going: bool
) -> None:
    ledger = run(rt, c3_fails, keep_going=keep_going)
    rest = ["done"] * 2 if keep_going else ["skipped"] * 2
    assert [e.outcome.value for e in ledger.entries] == ["done", "done", "failed", *rest]
    assert batches == [["c1", "c2"], ["c3", "c4"], *([["c4", "c5"]] if keep_going else [])]


@pytest.fixture
def with_copy(repo: Repo, options: api.Options) -> Plan:
    """alpha; beta; beta-copy copies beta; gamma: four operations, one batch."""
    repo.put("alpha", EMAIL)
    repo.put("beta", EMAIL)
    repo.put("beta-copy", {"content": {"subject": "Again"}}, copy_from="beta")
    repo.put("gamma", INBOUND)
    plan = api.plan(repo.path, options)
    assert [(o.campaign, o.action.value, o.depends_on) for o in plan.operations] == [
        ("alpha", "activate", ()),
        ("beta", "activate", ()),
        ("beta-copy", "copy", ("beta",)),
        ("gamma", "activate", ()),
    ]
    return plan


def test_a_copy_is_written_in_the_batch_of_its_source(
    with_copy: Plan, rt: Runtime, batches: list[list[str]]
) -> None:
    ledger = run(rt, with_copy)
    assert ledger.ok
    assert batches == [["alpha", "beta", "beta-copy", "gamma"]]
    assert table(rt)["beta-copy"] == ("live", 1, None, 1, "beta")


BETA_CONFLICT = "campaign 'beta' changed since it was planned (etag absent, now 1); plan again"


def test_a_copy_whose_source_fails_in_the_same_batch_is_not_attempted(
    with_copy: Plan, rt: Runtime, batches: list[list[str]]
) -> None:
    unrelated_write(rt, "beta")
    batches.clear()
    ledger = run(rt, with_copy)
    assert entries(ledger) == [
        *done(("alpha", "activate")),
        ("beta", "activate", "failed", BETA_CONFLICT, False),
        ("beta-copy", "copy", "skipped", EARLIER, False),
        ("gamma", "activate", "skipped", EARLIER, False),
    ]
    assert batches == [["alpha", "beta", "beta-copy", "gamma"]]
    assert [e.campaign for e in rt.history()] == ["beta", "alpha"]


def test_with_keep_going_a_copy_whose_source_fails_in_the_same_batch_is_skipped(
    with_copy: Plan, rt: Runtime, batches: list[list[str]]
) -> None:
    unrelated_write(rt, "beta")
    batches.clear()
    ledger = run(rt, with_copy, keep_going=True)
    assert entries(ledger) == [
        *done(("alpha", "activate")),
        ("beta", "activate", "failed", BETA_CONFLICT, False),
        ("beta-copy", "copy", "skipped", "depends on beta, which failed", False),
        *done(("gamma", "activate")),
    ]
    assert batches == [["alpha", "beta", "beta-copy", "gamma"], ["gamma"]]
    assert "beta-copy" not in rt.snapshot().campaigns
    assert [e.campaign for e in rt.history()] == ["beta", "alpha", "gamma"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # a trigger makes the database fail
def test_a_batch_the_backend_fails_on_is_done_again_one_by_one(
    repo: Repo, options: api.Options, rt: Runtime, url: str, batches: list[list[str]]
) -> None:
    """The batch is rolled back whole; one at a time, the failure lands on its operation."""
    for i in range(1, 5):
        repo.put(f"c{i}", INBOUND)
    plan = api.plan(repo.path, options)
    with executor.hold_lock(rt, OWNER):  # makes the file and its tables
        pass
    with closing(sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)) as db:
        db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON history WHEN NEW.campaign = 'c3' "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    ledger = run(rt, plan, keep_going=True)
    assert entries(ledger) == [
        *done(("c1", "activate"), ("c2", "activate")),
        ("c3", "activate", "failed", f"runtime {url}: boom", False),
        *done(("c4", "activate")),
    ]
    assert batches[:2] == [["c1", "c2", "c3", "c4"], ["c1"]]
    assert [e.campaign for e in rt.history()] == ["c1", "c2", "c4"]  # each once


@pytest.mark.usefixtures("small_batches")
def test_stop_lets_the_batch_in_flight_commit_and_skips_the_rest(
    repo: Repo, options: api.Options, rt: Runtime, batches: list[list[str]]
) -> None:
    for i in range(1, 6):
        repo.put(f"c{i}", INBOUND)
    plan = api.plan(repo.path, options)
    ledger = run(rt, plan, stop=lambda: len(batches) == 1)  # a signal during the first batch
    assert entries(ledger) == [
        *done(("c1", "activate"), ("c2", "activate")),
        *[(f"c{i}", "activate", "skipped", "not attempted: stopping", False) for i in (3, 4, 5)],
    ]
    assert sorted(rt.snapshot().campaigns) == ["c1", "c2"]


@pytest.mark.usefixtures("small_batches")
def test_the_lock_is_renewed_between_batches_and_a_lost_lock_stops_the_run(
    repo: Repo,
    options: api.Options,
    rt: Runtime,
    batches: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for i in range(1, 6):
        repo.put(f"c{i}", INBOUND)
    plan = api.plan(repo.path, options)
    monkeypatch.setattr(executor, "HEARTBEAT_SECONDS", -1.0)  # renew before every batch
    renewals: list[int] = []
    real = rt.acquire_lock

    def acquire(owner: LockOwner, ttl: float = 300.0) -> LockInfo | None:
        renewals.append(len(batches))
        if len(batches) == 2:  # someone took the lock over after the second batch
            rt.release_lock(OWNER)
            assert real(HOLDER) is None
        return real(owner, ttl)

    monkeypatch.setattr(rt, "acquire_lock", acquire)
    with pytest.raises(LockedError, match=r"^the runtime lock was lost to ci@runner-1:101 "):
        executor.execute(rt, plan, Provenance("ci-bot"), owner=OWNER)
    assert renewals == [0, 1, 2]
    assert sorted(rt.snapshot().campaigns) == ["c1", "c2", "c3", "c4"]


def test_history_and_state_are_the_same_batched_or_one_by_one(
    repo: Repo, backend: str, url: str, rt: Runtime, tmp_path: Path
) -> None:
    """Each step is planned against the batched runtime and applied to both."""
    other = backend_url(backend, tmp_path, label="single", file="single.db")
    single = open_runtime(other, clock=lambda: NOW)
    options = api.Options(runtime_url=url, actor="ci-bot", now=NOW)
    provenance = Provenance("ci-bot", "c0ffee")
    steps: list[Callable[[], None]] = [
        lambda: (
            repo.put("digest", RECURRING),
            repo.put("sketch", RECURRING, state="draft"),
            repo.put("banner", INBOUND),
            repo.put("blast", EMAIL),
            repo.put("blast-again", {"content": {"subject": "Again"}}, copy_from="blast"),
        ),
        lambda: (
            repo.put("digest", with_content(RECURRING, subject="Two")),
            repo.put("sketch", RECURRING),
            repo.put("banner", with_content(INBOUND, title="Staged"), state="draft"),
            repo.put("fresh", EMAIL),
        ),
        lambda: (repo.put("banner", INBOUND, run="stopped"), repo.remove("fresh")),
    ]
    try:
        for step in steps:
            step()
            plan = api.plan(repo.path, options)
            assert plan.operations
            with executor.hold_lock(rt, OWNER):
                ledger = executor.execute(rt, plan, provenance, owner=OWNER)
            assert ledger.ok
            for op in plan.operations:
                single.apply(executor._write(op, plan, provenance))
            assert rt.snapshot() == single.snapshot()
            assert rt.history() == single.history()
    finally:
        single.close()
    assert len(rt.history()) == 5 + 4 + 1


@pytest.mark.usefixtures("small_batches")
def test_a_saved_plan_half_applied_replays_its_batch_and_does_the_rest(
    five: Plan, rt: Runtime, batches: list[list[str]]
) -> None:
    writes = [executor._write(op, five, Provenance("ci-bot")) for op in five.operations]
    first = rt.apply_batch(writes[:3])  # what a run killed after a batch of three leaves behind
    assert [r.revision for r in first if isinstance(r, Applied)] == [4, 5, 6]
    saved = loads(render.plan_json(five))
    assert executor.check_saved(saved, rt, rt.snapshot()) == {w.key for w in writes[:3]}
    batches.clear()
    ledger = run(rt, saved)
    names = [(o.campaign, o.action.value) for o in five.operations]
    assert entries(ledger) == done(*names[:3], replayed=True) + done(*names[3:])
    assert batches == [["banner", "digest"], ["fresh", "idea"], ["sketch"]]
    assert table(rt) == FINAL
    history = rt.history()
    assert [e.campaign for e in history[3:]] == [name for name, _ in names]
    assert [e.revision for e in history] == list(range(1, 9))


@pytest.mark.parametrize(
    ("size", "done", "seconds", "expected"),
    [
        (50, 50, 0.01, 200),  # fast: grows fourfold at most
        (200, 200, 0.02, 500),  # to BATCH_MAX at most
        (500, 500, 2.0, 125),  # slow: about BATCH_SECONDS of work
        (500, 3, 0.001, 500),  # ended early by a failure: the pace still counts
        (4, 1, 10.0, 1),  # never below one
        (1, 1, 0.0, 4),  # a clock that did not move
    ],
)
def test_the_next_batch_is_sized_by_the_pace_of_the_last(
    size: int, done: int, seconds: float, expected: int
) -> None:
    assert executor._next_size(size, done, seconds) == expected
