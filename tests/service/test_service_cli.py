"""The commands through an http(s):// runtime, where it differs from a local one: tokens and roles
(401, 403 in one line), plans signed by the service, and the administrator's commands."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from factories import cli_environment
from reconciler.cli import cli
from reconciler.runtime.access import Role
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime
from serving import Served, call, in_thread, make_token

NOW = "2026-11-27T12:00:00Z"
WEEKLY = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: weekly
spec:
  state: live
  channel: email
  audience: {segment: subscribers}
  content: {subject: "Week", body: "Hello"}
  schedule:
    recurring: {every: week, on: [mon], at: "09:00"}
"""


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch, now=NOW)
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "weekly.yaml").write_text(WEEKLY)
    now = datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    with in_thread(f"sqlite:///{tmp_path}/served.db", lambda: now) as s:
        monkeypatch.setenv("RECONCILER_RUNTIME", s.url)
        monkeypatch.delenv("RECONCILER_TOKEN", raising=False)
        monkeypatch.delenv("RECONCILER_PLAN_KEY", raising=False)
        yield s


def run(*args: str, token: str | None = None) -> Result:
    env = {"RECONCILER_TOKEN": token} if token is not None else {}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_without_a_token_a_command_fails_in_one_line(served: Served) -> None:
    result = run("status")
    assert (result.exit_code, result.output) == (
        1,
        f"error: runtime {served.url}: 401 no token: send Authorization: Bearer TOKEN; "
        "set RECONCILER_TOKEN\n",
    )


def test_a_revoked_token_fails_in_one_line(served: Served) -> None:
    gone = make_token(served.store, "gone", Role.APPROVER)
    assert run("token", "revoke", "gone", token=served.admin).exit_code == 0
    result = run("status", token=gone)
    assert (result.exit_code, result.output) == (
        1,
        f"error: runtime {served.url}: 401 the token is not known here (revoked, or mistyped)\n",
    )


def test_a_viewer_plans_and_may_not_apply(served: Served) -> None:
    viewer = make_token(served.store, "pr-plan", Role.VIEWER)
    planned = run("plan", "--detailed-exitcode", token=viewer)
    assert planned.exit_code == 2
    assert planned.output.startswith("Plan: 1 to activate; 0 unchanged.\n")
    result = run("apply", token=viewer)
    assert (result.exit_code, result.output) == (
        1,
        f"error: runtime {served.url}: 403 token pr-plan has the viewer role; /api/v1/lock "
        "needs manager\n",
    )


def test_a_manager_may_take_the_lock_but_not_activate(served: Served) -> None:
    manager = make_token(served.store, "drafts", Role.MANAGER)
    result = run("apply", token=manager)
    assert (result.exit_code, result.output) == (
        1,
        f"error: runtime {served.url}: 403 activate weekly needs the approver role; token drafts "
        "has manager; nothing of the batch was written\n",
    )
    assert run("plan", "--detailed-exitcode", token=manager).exit_code == 2  # nothing written


def test_an_approver_applies_and_history_names_the_token_and_the_actor(served: Served) -> None:
    approver = make_token(served.store, "ci-apply", Role.APPROVER)
    result = run("apply", "--actor", "alice", token=approver)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("Apply: 1 done, 0 failed, 0 skipped.\n")
    history = json.loads(run("history", "--format", "json", token=approver).output)
    assert [(e["actor"], e["operation"]) for e in history["history"]] == [
        ("ci-apply (for alice)", "activate")
    ]
    again = run("plan", "--detailed-exitcode", token=approver)
    assert (again.exit_code, again.output) == (0, "No changes. 1 unchanged.\n")


def test_a_plan_saved_through_the_service_is_signed_and_applies(
    served: Served, tmp_path: Path
) -> None:
    approver = make_token(served.store, "ci-apply", Role.APPROVER)
    saved = run("plan", "--out", "plan.json", token=approver)
    assert saved.exit_code == 0
    signature = json.loads((tmp_path / "plan.json").read_text())["signature"]
    assert signature["algorithm"] == "hmac-sha256"
    assert re.fullmatch(r"[0-9a-f]{12}", signature["key_id"])
    applied = run("apply", "--plan", "plan.json", token=approver)
    assert applied.exit_code == 0, applied.output
    assert applied.output.endswith("Apply: 1 done, 0 failed, 0 skipped.\n")


def test_a_viewers_plan_is_saved_unsigned_and_the_service_will_not_apply_it(
    served: Served, tmp_path: Path
) -> None:
    viewer = make_token(served.store, "pr-plan", Role.VIEWER)
    approver = make_token(served.store, "ci-apply", Role.APPROVER)
    saved = CliRunner().invoke(
        cli, ["plan", "--out", "plan.json"], env={"RECONCILER_TOKEN": viewer}
    )
    assert saved.exit_code == 0
    assert saved.stderr == (
        f"warning: the plan is saved unsigned: runtime {served.url}: 403 token pr-plan has the "
        "viewer role; /api/v1/plans/sign needs approver\n"
    )
    assert "signature" not in json.loads((tmp_path / "plan.json").read_text())
    refused = run("apply", "--plan", "plan.json", token=approver)
    assert (refused.exit_code, refused.output) == (
        1,
        "error: plan.json: the plan is not signed, and this runtime service applies only plans "
        "it signed: make it with `plan --out` through the service, with a token whose role may "
        "apply it\n",
    )
    assert run("plan", "--detailed-exitcode", token=approver).exit_code == 2  # nothing applied


def test_a_signed_plan_altered_after_signing_is_refused(served: Served, tmp_path: Path) -> None:
    approver = make_token(served.store, "ci-apply", Role.APPROVER)
    assert run("plan", "--out", "plan.json", token=approver).exit_code == 0
    data = json.loads((tmp_path / "plan.json").read_text())
    data["commit"] = "forged"
    (tmp_path / "plan.json").write_text(json.dumps(data))
    refused = run("apply", "--plan", "plan.json", token=approver)
    assert (refused.exit_code, refused.output) == (
        1,
        "error: plan.json: its plan_id does not match its content; the plan was altered after it "
        "was made. Nothing was applied\n",
    )


def test_tokens_are_administered_through_the_service(served: Served) -> None:
    created = CliRunner().invoke(
        cli,
        ["token", "create", "pr-plan", "--role", "viewer"],
        env={"RECONCILER_TOKEN": served.admin},
    )
    assert created.exit_code == 0
    assert re.fullmatch(r"rcn_[A-Za-z0-9_-]{43}\n", created.stdout)
    listed = run("token", "list", "--format", "json", token=served.admin)
    names = [(t["name"], t["role"]) for t in json.loads(listed.output)["tokens"]]
    assert names == [("admin", "administrator"), ("pr-plan", "viewer")]
    assert created.stdout.strip() not in listed.output
    assert run("status", token=created.stdout.strip()).exit_code == 0
    assert run("token", "revoke", "pr-plan", token=served.admin).exit_code == 0
    assert run("status", token=created.stdout.strip()).exit_code == 1


def test_the_engine_segments_and_console_edits_through_the_service(served: Served) -> None:
    admin = served.admin
    assert run("apply", token=admin).exit_code == 0
    segment = run("runtime", "segment", "subscribers", "--size", "500", token=admin)
    assert (segment.exit_code, segment.output) == (0, "segment subscribers: 500 recipients\n")
    ticked = run("runtime", "tick", "--now", "2026-11-30T09:00:10Z", token=admin)
    assert (ticked.exit_code, ticked.output) == (
        0,
        "weekly: send (live) - running Mon 2026-11-30 09:00 UTC until "
        "Mon 2026-11-30 09:00:15 UTC\n",
    )
    sendings = json.loads(run("runtime", "sendings", "--format", "json", token=admin).output)
    assert [(x["campaign"], x["outcome"]) for x in sendings["sendings"]] == [("weekly", "running")]
    edited = run("runtime", "edit", "weekly", "--set", "content.subject=Hot", token=admin)
    assert (edited.exit_code, edited.output) == (
        0,
        "weekly: live version 2 written by console\n",
    )
    drift = run("plan", "--detailed-exitcode", token=admin)
    assert drift.exit_code == 2
    viewer = make_token(served.store, "watcher", Role.VIEWER)
    refused = run("runtime", "tick", token=viewer)
    assert (refused.exit_code, refused.output) == (
        1,
        f"error: runtime {served.url}: 403 token watcher has the viewer role; /api/v1/tick "
        "needs administrator\n",
    )


def test_an_import_through_a_service_that_holds_nothing_yet(served: Served) -> None:
    result = run("import", "--all", token=served.admin)
    assert (result.exit_code, result.output) == (
        0,
        "Nothing to import: every campaign in the runtime is managed.\n",
    )


# --- plans published to the dashboard -----------------------------------------------------------


def test_a_viewer_publishes_the_plan_it_shows(served: Served) -> None:
    viewer = make_token(served.store, "pr-plan", Role.VIEWER)
    shown = run("plan", "--format", "json", token=viewer)
    plan_id = json.loads(shown.stdout)["plan_id"]
    published = CliRunner().invoke(
        cli,
        ["plan", "--publish", "--ref", "pr-7@abc123", "--detailed-exitcode"],
        env={"RECONCILER_TOKEN": viewer},
    )
    assert (published.exit_code, published.stdout, published.stderr) == (
        2,
        run("plan", token=viewer).stdout,  # the plan, as shown without publishing it
        f"published plan {plan_id} as #1 (ref pr-7@abc123)\n",
    )
    assert published.stdout.startswith("Plan: 1 to activate; 0 unchanged.\n\n  + activate weekly")
    again = CliRunner().invoke(cli, ["plan", "--publish"], env={"RECONCILER_TOKEN": viewer})
    assert (again.exit_code, again.stderr) == (0, f"published plan {plan_id} as #2\n")
    listed = call(served.url, "GET", "/api/v1/plans", viewer).json()["plans"]
    assert [(p["id"], p["ref"], p["published_by"], p["plan_id"]) for p in listed] == [
        (2, None, "pr-plan", plan_id),
        (1, "pr-7@abc123", "pr-plan", plan_id),
    ]
    assert listed[1]["summary"]["activate"] == 1


def test_ref_without_publish_and_publish_with_all_envs_are_usage_errors(served: Served) -> None:
    usage = "Usage: cli plan [OPTIONS] [PATH]\nTry 'cli plan --help' for help.\n\nError: "
    alone = run("plan", "--ref", "pr-7", token=served.admin)
    assert (alone.exit_code, alone.output) == (
        1,
        usage + "--ref names what a published plan is of: give --publish too\n",
    )
    empty = run("plan", "--publish", "--ref", "", token=served.admin)
    assert (empty.exit_code, empty.output) == (
        1,
        usage + "--ref: give what the plan is of (it is empty)\n",
    )
    every = run("plan", "--all-envs", "--publish", token=served.admin)
    assert (every.exit_code, every.output) == (
        1,
        usage + "--all-envs makes a plan per environment: --publish publishes one\n",
    )
    assert call(served.url, "GET", "/api/v1/plans", served.admin).json() == {"plans": []}


def test_a_plan_is_published_to_the_embedded_runtime_by_its_actor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch, runtime=f"sqlite:///{tmp_path}/rt.db", now=NOW)
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "weekly.yaml").write_text(WEEKLY)
    published = CliRunner().invoke(cli, ["plan", "--publish", "--ref", "main"])
    assert published.exit_code == 0, published.output
    assert re.fullmatch(r"published plan plan-[0-9a-f]{16} as #1 \(ref main\)\n", published.stderr)
    with open_runtime(f"sqlite:///{tmp_path}/rt.db") as rt:
        assert isinstance(rt, Platform)
        (plan,) = rt.published_plans()
        assert (plan.ref, plan.published_by, plan.published_at) == (
            "main",
            "tester",
            "2026-11-27T12:00:00.000Z",
        )
