"""Environments (issue 16) through the command line: ``--env NAME`` (or ``RECONCILER_ENV``) takes
an environment's runtime, from the variable the project file names, and its overlay of patches;
``plan --all-envs`` plans them all. The exact text a user sees, the exit codes, and what apply
leaves in each environment's runtime.

Every test runs on Friday 2026-11-27 12:00 UTC, in a folder of its own with two SQLite runtimes,
``staging.db`` and ``production.db``, named by ``$STAGING_RUNTIME`` and ``$PRODUCTION_RUNTIME``,
and ``$RECONCILER_RUNTIME`` naming a third, ``default.db``, that ``--env`` must never touch. The
files are the module's constants, so that their lines are known.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from factories import campaigns, cli_environment, git
from reconciler import api, environments, render_markdown
from reconciler.cli import cli
from reconciler.errors import RuntimeURLError
from reconciler.model import Spec
from reconciler.plan import Plan

PROJECT = """\
apiVersion: reconciler/v1
kind: Project
allowedVariables: [STAGING_RUNTIME, PRODUCTION_RUNTIME]
environments:
  staging:
    runtime: ${STAGING_RUNTIME}
    overlay: environments/staging
  production:
    runtime: ${PRODUCTION_RUNTIME}
    overlay: environments/production
"""

#: line 9: segment; line 12: throttle
WEEKLY = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: weekly-digest
  labels: {team: growth}
spec:
  state: live
  channel: email
  audience: {segment: newsletter}
  content: {subject: "News", body: "Hello"}
  schedule: {recurring: {every: week, on: [mon], at: "09:00"}}
  throttle: {perSecond: 500}
"""

DEAL = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: daily-deal
  labels: {team: growth}
spec:
  state: draft
  channel: push
  audience: {segment: deal-hunters}
  content: {title: "Deal", body: "Today only"}
"""

#: metadata.environments at line 5, column 17
SMOKE = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: smoke-test
  environments: [staging]
spec:
  state: draft
  channel: sms
  audience: {segment: qa-phones}
  content: {text: "Smoke test"}
"""

#: a patch by selector (line 3), then one by name (line 9, its throttle at line 11)
STAGING_PATCHES = """\
apiVersion: reconciler/v1
kind: Patch
selector: {labels: {team: growth}}
spec:
  audience: {segment: staging-testers}
---
apiVersion: reconciler/v1
kind: Patch
metadata: {name: weekly-digest}
spec:
  throttle: {perSecond: 50}
"""

PRODUCTION_PATCHES = """\
apiVersion: reconciler/v1
kind: Patch
metadata: {name: weekly-digest}
spec:
  throttle: {perSecond: 1000}
"""


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def put(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def url(name: str) -> str:
    return f"sqlite:///{Path.cwd() / name}.db"


def specs(name: str) -> dict[str, tuple[str, int | None, Spec]]:
    """What the runtime ``name``.db holds: each campaign's status, live version, and the spec of
    its live (else its draft) version."""
    found = {}
    for key, c in campaigns(url(name)).items():
        version = c.live or c.draft
        assert version is not None
        found[key] = (c.status.value, c.live.number if c.live else None, version.spec)
    return found


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project file, three campaigns and two overlays; the runtimes not made yet."""
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch, runtime=f"sqlite:///{tmp_path}/default.db")
    for name in (
        "RECONCILER_ENV",
        "RECONCILER_TOKEN",
        "RECONCILER_TOKEN_FILE",
        "RECONCILER_PROJECT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(environments.TOKEN_FOR, raising=False)
    monkeypatch.setenv("STAGING_RUNTIME", f"sqlite:///{tmp_path}/staging.db")
    monkeypatch.setenv("PRODUCTION_RUNTIME", f"sqlite:///{tmp_path}/production.db")
    put("reconciler.yaml", PROJECT)
    put("campaigns/weekly-digest.yaml", WEEKLY)
    put("campaigns/daily-deal.yaml", DEAL)
    put("campaigns/smoke-test.yaml", SMOKE)
    put("environments/staging/patches.yaml", STAGING_PATCHES)
    put("environments/production/patches.yaml", PRODUCTION_PATCHES)
    return tmp_path


@pytest.fixture
def applied(project: Path) -> Path:
    """Both environments applied."""
    assert run("apply", "--env", "staging").exit_code == 0
    assert run("apply", "--env", "production").exit_code == 0
    return project


WEEKLY_SPEC: Spec = {
    "channel": "email",
    "audience": {"segment": "newsletter"},
    "content": {"subject": "News", "body": "Hello"},
    "schedule": {"recurring": {"every": "week", "on": ["mon"], "at": "09:00"}},
    "throttle": {"perSecond": 500},
}
DEAL_SPEC: Spec = {
    "channel": "push",
    "audience": {"segment": "deal-hunters"},
    "content": {"title": "Deal", "body": "Today only"},
}


STAGING_PLAN = """\
  + create   daily-deal     v1
      # new campaign; the manifest says draft
      + spec.audience.segment: "staging-testers"
      + spec.channel: "push"
      + spec.content.body: "Today only"
      + spec.content.title: "Deal"
  + create   smoke-test     v1
      # new campaign; the manifest says draft
      + spec.audience.segment: "qa-phones"
      + spec.channel: "sms"
      + spec.content.text: "Smoke test"
  + activate weekly-digest  v1
      # new campaign; the manifest says live
      # next sendings: Mon 2026-11-30 09:00 UTC, Mon 2026-12-07 09:00 UTC, Mon 2026-12-14 09:00 UTC
      + spec.audience.segment: "staging-testers"
      + spec.channel: "email"
      + spec.content.body: "Hello"
      + spec.content.subject: "News"
      + spec.schedule.recurring.at: "09:00"
      + spec.schedule.recurring.every: "week"
      + spec.schedule.recurring.on: ["mon"]
      + spec.throttle.perSecond: 50
"""

PRODUCTION_PLAN = """\
  + create   daily-deal     v1
      # new campaign; the manifest says draft
      + spec.audience.segment: "deal-hunters"
      + spec.channel: "push"
      + spec.content.body: "Today only"
      + spec.content.title: "Deal"
  + activate weekly-digest  v1
      # new campaign; the manifest says live
      # next sendings: Mon 2026-11-30 09:00 UTC, Mon 2026-12-07 09:00 UTC, Mon 2026-12-14 09:00 UTC
      + spec.audience.segment: "newsletter"
      + spec.channel: "email"
      + spec.content.body: "Hello"
      + spec.content.subject: "{subject}"
      + spec.schedule.recurring.at: "09:00"
      + spec.schedule.recurring.every: "week"
      + spec.schedule.recurring.on: ["mon"]
      + spec.throttle.perSecond: 1000
"""


def new_runtime(name: str) -> str:
    """The warning of a plan against runtime ``name``.db, not made yet."""
    return f"{url(name)} does not exist yet: planning against an empty runtime"


# -- --env: runtimes and overlays ----------------------------------------------------------------


def test_one_set_of_manifests_reaches_each_environment_with_its_overlay(project: Path) -> None:
    """The same manifests: staging gets its segment (a patch by labels) and throttle (a patch by
    name), production its throttle; the campaign limited to staging exists only there; the
    runtime of $RECONCILER_RUNTIME is never made."""
    summary = "Plan: 2 to create, 1 to activate; 0 unchanged."
    staging = run("apply", "--env", "staging")
    assert (staging.exit_code, staging.output) == (
        0,
        f"{summary}\n\n{STAGING_PLAN}\n{summary}\n\n"
        "  done    create   daily-deal\n"
        "  done    create   smoke-test\n"
        "  done    activate weekly-digest\n"
        "Apply: 3 done, 0 failed, 0 skipped.\n",
    )
    production = run("apply", "--env", "production")
    assert (production.exit_code, production.output) == (
        0,
        "Plan: 1 to create, 1 to activate; 0 unchanged.\n\n"
        + PRODUCTION_PLAN.format(subject="News")
        + "\n  done    create   daily-deal\n"
        "  done    activate weekly-digest\n"
        "Apply: 2 done, 0 failed, 0 skipped.\n",
    )
    smoke: Spec = {
        "channel": "sms",
        "audience": {"segment": "qa-phones"},
        "content": {"text": "Smoke test"},
    }
    assert specs("staging") == {
        "daily-deal": ("draft", None, {**DEAL_SPEC, "audience": {"segment": "staging-testers"}}),
        "smoke-test": ("draft", None, smoke),
        "weekly-digest": (
            "live",
            1,
            {
                **WEEKLY_SPEC,
                "audience": {"segment": "staging-testers"},
                "throttle": {"perSecond": 50},
            },
        ),
    }
    assert specs("production") == {
        "daily-deal": ("draft", None, DEAL_SPEC),
        "weekly-digest": ("live", 1, {**WEEKLY_SPEC, "throttle": {"perSecond": 1000}}),
    }
    assert not (project / "default.db").exists()
    for env, count in (("staging", 3), ("production", 2)):
        again = run("plan", "--env", env, "--detailed-exitcode")
        assert (again.exit_code, again.output) == (0, f"No changes. {count} unchanged.\n")


def test_reconciler_env_chooses_the_environment_and_env_overrides_reconciler_runtime(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_ENV", "staging")
    by_variable = run("plan")
    assert (by_variable.exit_code, by_variable.output) == (
        0,
        "Plan: 2 to create, 1 to activate; 0 unchanged, 1 warning.\n\n"
        f"{STAGING_PLAN}\n"
        f"Warnings:\n  runtime {new_runtime('staging')}\n\n"
        "Plan: 2 to create, 1 to activate; 0 unchanged, 1 warning.\n",
    )
    assert run("plan", "--env", "staging").output == by_variable.output
    applied = run("apply", "--env", "production")  # the option wins over the variable
    assert applied.exit_code == 0
    assert set(specs("production")) == {"daily-deal", "weekly-digest"}
    assert not (project / "staging.db").exists()
    assert not (project / "default.db").exists()  # $RECONCILER_RUNTIME: never touched


def test_without_env_nothing_changes(project: Path) -> None:
    """A project file with environments changes nothing for a command without --env: no overlay,
    every campaign (metadata.environments too), $RECONCILER_RUNTIME."""
    with_environments = run("plan")
    Path("reconciler.yaml").unlink()
    without = run("plan")
    assert (with_environments.exit_code, with_environments.output) == (0, without.output)
    summary = "Plan: 2 to create, 1 to activate; 0 unchanged, 1 warning."
    unpatched = STAGING_PLAN.replace('"staging-testers"', '"newsletter"', 1)
    unpatched = unpatched.replace('"newsletter"', '"deal-hunters"', 1)
    unpatched = unpatched.replace('"staging-testers"', '"newsletter"')
    unpatched = unpatched.replace("perSecond: 50", "perSecond: 500")
    assert without.output == (
        f"{summary}\n\n{unpatched}\nWarnings:\n  runtime {new_runtime('default')}\n\n{summary}\n"
    )


def test_runtime_with_env_is_refused(project: Path) -> None:
    for command in (["plan"], ["apply"], ["status"], ["calendar"], ["watch"]):
        result = run(*command, "--env", "staging", "--runtime", url("other"))
        assert (result.exit_code, result.output) == (
            1,
            f"Usage: cli {command[0]} [OPTIONS] {'[NAME]' if command == ['status'] else '[PATH]'}\n"
            f"Try 'cli {command[0]} --help' for help.\n\n"
            "Error: --runtime and --env name a runtime each: give one of them\n",
        )
    assert not [p.name for p in project.glob("*.db")]


@pytest.mark.parametrize(
    ("args", "unset", "message"),
    [
        (
            ["--env", "production"],
            "PRODUCTION_RUNTIME",
            "environment production (reconciler.yaml:8): its runtime is ${PRODUCTION_RUNTIME}, "
            "which is not set",
        ),
        (
            ["--env", "qa"],
            None,
            "--env 'qa': reconciler.yaml has no such environment (environments: production, "
            "staging)",
        ),
    ],
    ids=["unset-variable", "unknown-environment"],
)
def test_an_environment_that_cannot_be_reached(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    unset: str | None,
    message: str,
) -> None:
    if unset is not None:
        monkeypatch.delenv(unset)
    for command in ("plan", "apply", "status", "calendar"):
        result = run(command, *args)
        assert (result.exit_code, result.output) == (1, f"error: {message}\n")
    assert not [p.name for p in project.glob("*.db")]


def test_env_without_a_project_file(project: Path) -> None:
    Path("reconciler.yaml").unlink()
    result = run("plan", "--env", "staging")
    assert (result.exit_code, result.output) == (
        1,
        "error: --env staging: there is no project file (reconciler.yaml) to define environments\n",
    )


@pytest.mark.parametrize(
    "value",
    ["s3cr3t-Passw0rd-hunter2", "ftp://admin:s3cr3t-Passw0rd-hunter2@db.internal/x", " "],
    ids=["no-scheme", "unknown-scheme", "blank"],
)
def test_a_value_that_is_no_runtime_url_is_never_shown(
    project: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PRODUCTION_RUNTIME", value)
    expected = (
        "environment production (reconciler.yaml:8): ${PRODUCTION_RUNTIME} does not hold a "
        "runtime URL (one of http://, https://, memory://, postgresql://, sqlite://); its value "
        "is not shown"
        if value.strip()
        else "environment production (reconciler.yaml:8): its runtime is ${PRODUCTION_RUNTIME}, "
        "which is not set"
    )
    outputs = []
    for command in (["plan"], ["apply"], ["status"], ["calendar"]):
        result = run(*command, "--env", "production")
        assert (result.exit_code, result.output) == (1, f"error: {expected}\n")
        outputs.append(result.output)
    for fmt in ("text", "json", "markdown", "github"):
        outputs.append(run("plan", "--all-envs", "--format", fmt).output)
    assert all("hunter2" not in out for out in outputs)
    assert outputs[-1].endswith(f"::error title=reconciler::[production] {expected}\n")


# -- the project file ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "${HOME}",
            "${HOME}: a project file names only variables called RECONCILER_... or listed under "
            "allowedVariables",
        ),
        (
            "${RECONCILER_TOKEN}",
            "${RECONCILER_TOKEN} is a credential of the job that runs reconciler: never named",
        ),
        (
            "${RECONCILER_PLAN_KEY}",
            "${RECONCILER_PLAN_KEY} is a credential of the job that runs reconciler: never named",
        ),
    ],
    ids=["not-allowed", "token", "plan-key"],
)
def test_a_variable_the_project_file_may_not_name(
    project: Path, monkeypatch: pytest.MonkeyPatch, reference: str, message: str
) -> None:
    monkeypatch.setenv("RECONCILER_PLAN_KEY", "a-key-never-read-here")
    Path("reconciler.yaml").write_text(PROJECT.replace("${PRODUCTION_RUNTIME}", reference))
    where = f"reconciler.yaml:9:14: environments.production.runtime: {message}"
    for env in ("staging", "production"):
        result = run("plan", "--env", env)
        assert (result.exit_code, result.output) == (1, f"error: --env {env}: {where}\n")
    plain = run("plan")
    assert (plain.exit_code, plain.output) == (
        1,
        f"Nothing can be applied. 0 unchanged, 1 error.\n\nErrors:\n  {where}\n",
    )
    assert not [p.name for p in project.glob("*.db")]


def test_a_change_to_the_environments_is_shown_first(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "environments")
    assert run("apply", "--env", "staging").exit_code == 0
    Path("reconciler.yaml").write_text(
        PROJECT.replace("overlay: environments/production", "overlay: environments/staging")
    )
    text = run("plan", "--env", "staging", "--policies-from", "HEAD")
    assert (text.exit_code, text.output) == (
        0,
        "This change edits the policies (reconciler.yaml):\n"
        '  - environments.production.overlay: "environments/production"\n'
        '  + environments.production.overlay: "environments/staging"\n'
        "\n"
        "No changes. 3 unchanged.\n",
    )
    markdown = run("plan", "--env", "staging", "--policies-from", "HEAD", "--format", "markdown")
    assert markdown.output == (
        "### reconciler plan\n\n"
        "#### This change edits the policies (`reconciler.yaml`)\n\n"
        "```diff\n"
        '- environments.production.overlay: "environments/production"\n'
        '+ environments.production.overlay: "environments/staging"\n'
        "```\n\n"
        "**No changes; 3 unchanged**\n"
    )
    github = run("plan", "--env", "staging", "--policies-from", "HEAD", "--format", "github")
    assert github.output == (
        "::warning file=reconciler.yaml,title=reconciler::this change edits the policies: "
        "environments.production.overlay\n"
        "No changes. 3 unchanged.\n"
    )


# -- overlays and metadata.environments ----------------------------------------------------------


def errors_of(env: str, *lines: str) -> None:
    """``plan --env env`` fails with exactly these errors, and so does apply, which applies
    nothing."""
    count = f"{len(lines)} error" + ("s" if len(lines) > 1 else "")
    expected = f"Nothing can be applied. 0 unchanged, {count}.\n\nErrors:\n" + "".join(
        f"  {line}\n" for line in lines
    )
    planned = run("plan", "--env", env)
    assert (planned.exit_code, planned.output) == (1, expected)
    applied = run("apply", "--env", env)
    assert applied.exit_code == 1
    assert applied.output.startswith(expected)
    assert specs(env) == {}


def test_an_environment_a_manifest_names_that_the_project_file_has_not(project: Path) -> None:
    put("campaigns/smoke-test.yaml", SMOKE.replace("[staging]", "[staging, qa]"))
    errors_of(
        "production",
        "campaigns/smoke-test.yaml:5:17: metadata.environments: 'qa' is not an environment of "
        "the project file (environments: production, staging)",
    )


def test_two_patches_setting_one_field(project: Path) -> None:
    """Files are read in sorted order: the second patch is the one in patches.yaml."""
    put(
        "environments/staging/extra.yaml",
        PRODUCTION_PATCHES.replace("perSecond: 1000", "perSecond: 70"),
    )
    errors_of(
        "staging",
        "environments/staging/patches.yaml:11:25: spec.throttle.perSecond of weekly-digest is "
        "set by two patches: environments/staging/extra.yaml:5 and this one",
    )


def test_a_patch_that_matches_nothing(project: Path) -> None:
    """smoke-test exists only in staging: in production, a patch of it matches nothing."""
    put(
        "environments/production/nothing.yaml",
        "apiVersion: reconciler/v1\nkind: Patch\nmetadata: {name: smoke-test}\n"
        "spec:\n  content: {text: Hi}\n---\n"
        "apiVersion: reconciler/v1\nkind: Patch\nselector: {labels: {team: nobody}}\n"
        "spec:\n  throttle: {perSecond: 70}\n",
    )
    errors_of(
        "production",
        "environments/production/nothing.yaml:3:11: this patch matches nothing: there is no "
        "campaign 'smoke-test' in environment production",
        "environments/production/nothing.yaml:9:11: this patch matches nothing: there is no "
        "campaign with its labels in environment production",
    )


def test_an_invalid_value_a_patch_set_is_placed_at_the_patch(project: Path) -> None:
    put("environments/production/patches.yaml", PRODUCTION_PATCHES.replace("1000", "5000"))
    errors_of(
        "production",
        "environments/production/patches.yaml:5:25: spec.throttle.perSecond: 5000 is greater "
        "than the maximum of 2000 (in weekly-digest, as patched)",
    )


def test_an_invalid_value_the_patch_did_not_set_is_placed_at_the_manifest(project: Path) -> None:
    """The patch makes weekly-digest an SMS, whose content needs a text: the content is the
    manifest's, and the message names the patch that made it wrong."""
    put(
        "environments/production/patches.yaml",
        "apiVersion: reconciler/v1\nkind: Patch\nmetadata: {name: weekly-digest}\n"
        "spec:\n  channel: sms\n",
    )
    errors_of(
        "production",
        "campaigns/weekly-digest.yaml:10:12: spec.content: 'text' is a required property (as "
        "patched by environments/production/patches.yaml:1)",
    )
    assert run("validate").exit_code == 0  # the manifests alone are valid


# -- status, calendar and watch ------------------------------------------------------------------


def test_status_with_env(applied: Path) -> None:
    staging = run("status", "--env", "staging")
    assert (staging.exit_code, staging.output) == (
        0,
        "NAME           STATUS  KIND       CHANNEL  LIVE  DRAFT  COPIED FROM  DRIFT  NEXT SENDING\n"
        "daily-deal     draft   one-time   push     -     v1     -            -      -\n"
        "smoke-test     draft   one-time   sms      -     v1     -            -      -\n"
        "weekly-digest  live    recurring  email    v1    -      -            -      "
        "Mon 2026-11-30 09:00 UTC\n",
    )
    production = run("status", "--env", "production", "--format", "json")
    body: dict[str, Any] = json.loads(production.output)
    assert [(c["name"], c["status"]) for c in body["campaigns"]] == [
        ("daily-deal", "draft"),
        ("weekly-digest", "live"),
    ]
    default = run("status")
    assert (default.exit_code, default.output) == (0, "No campaigns in the runtime.\n")


@pytest.mark.parametrize(
    ("env", "segment"),
    [("staging", "staging-testers"), ("production", "newsletter")],
)
def test_calendar_with_env(applied: Path, env: str, segment: str) -> None:
    result = run("calendar", "--env", env, "--days", "4")
    assert (result.exit_code, result.output) == (
        0,
        "Sendings 2026-11-27 to 2026-11-30, times in UTC\n"
        "Fri 2026-11-27\n  no sendings\n"
        "Sat 2026-11-28\n  no sendings\n"
        "Sun 2026-11-29\n  no sendings\n"
        "Mon 2026-11-30\n"
        f"  09:00  weekly-digest  email  {segment}\n"
        "1 sending, 0 clashes\n",
    )


@pytest.fixture
def signals() -> Iterator[None]:
    """The handlers `watch` installs for SIGINT and SIGTERM, put back after the test."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_watch_with_env_runs_a_cycle_on_the_environment(project: Path, signals: None) -> None:
    """One cycle applies the staging overlay to staging's runtime; SIGTERM then stops it."""

    def stop_after_the_first_cycle() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if (project / "staging.db").exists() and len(specs("staging")) == 3:
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_after_the_first_cycle, daemon=True)
    stopper.start()
    result = run("watch", "--env", "staging", "--format", "json", "--interval", "60")
    stopper.join(timeout=30)
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert result.exit_code == 0
    assert [(c.get("cycle"), c.get("outcome")) for c in lines[:-1]] == [(1, "applied")]
    assert lines[-1]["stopped"] == "SIGTERM"
    assert specs("staging")["weekly-digest"][2]["throttle"] == {"perSecond": 50}
    assert not (project / "production.db").exists()
    assert not (project / "default.db").exists()


# -- the token rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "environ", "refusal"),
    [
        ("sqlite:///x.db", {"RECONCILER_TOKEN": "t"}, None),
        ("postgresql://u@db/x", {"RECONCILER_TOKEN": "t"}, None),
        ("https://rt.example.com", {}, None),
        ("https://rt.example.com", {"RECONCILER_TOKEN": " "}, None),
        (
            "https://rt.example.com",
            {"RECONCILER_TOKEN": "t"},
            "environment production: a token is sent to the runtime an environment names only "
            "when RECONCILER_TOKEN_FOR, set outside the repository beside the token, names its "
            "origin (https://rt.example.com:443); nothing was sent",
        ),
        (
            "http://rt.example.com:8080/",
            {"RECONCILER_TOKEN_FILE": "/run/token"},
            "environment production: a token is sent to the runtime an environment names only "
            "when RECONCILER_TOKEN_FOR, set outside the repository beside the token, names its "
            "origin (http://rt.example.com:8080); nothing was sent",
        ),
        (
            "https://RT.example.com/api",
            {"RECONCILER_TOKEN": "t", "RECONCILER_TOKEN_FOR": "https://rt.example.com:443"},
            None,
        ),
        (
            "https://rt.example.com",
            {"RECONCILER_TOKEN": "t", "RECONCILER_TOKEN_FOR": "https://rt.example.com"},
            None,
        ),
        (
            "https://evil.example.net",
            {"RECONCILER_TOKEN": "t", "RECONCILER_TOKEN_FOR": "https://rt.example.com"},
            "environment production: its runtime is https://evil.example.net:443, and the token "
            "is for https://rt.example.com:443 (RECONCILER_TOKEN_FOR); nothing was sent",
        ),
        (
            "http://rt.example.com",
            {"RECONCILER_TOKEN": "t", "RECONCILER_TOKEN_FOR": "https://rt.example.com"},
            "environment production: its runtime is http://rt.example.com:80, and the token "
            "is for https://rt.example.com:443 (RECONCILER_TOKEN_FOR); nothing was sent",
        ),
        (
            "https://rt.example.com:8443",
            {"RECONCILER_TOKEN": "t", "RECONCILER_TOKEN_FOR": "https://rt.example.com"},
            "environment production: its runtime is https://rt.example.com:8443, and the token "
            "is for https://rt.example.com:443 (RECONCILER_TOKEN_FOR); nothing was sent",
        ),
        (
            "https://staging.example.com",
            {
                "RECONCILER_TOKEN": "t",
                "RECONCILER_TOKEN_FOR": "https://rt.example.com, https://staging.example.com",
            },
            None,
        ),
        (
            "https://qa.example.com",
            {
                "RECONCILER_TOKEN": "t",
                "RECONCILER_TOKEN_FOR": "https://rt.example.com https://staging.example.com",
            },
            "environment production: its runtime is https://qa.example.com:443, and the token "
            "is for https://rt.example.com:443, https://staging.example.com:443 "
            "(RECONCILER_TOKEN_FOR); nothing was sent",
        ),
    ],
    ids=[
        "sqlite",
        "postgresql",
        "no-token",
        "blank-token",
        "token-not-bound",
        "token-file-not-bound",
        "bound-origin",
        "bound-default-port",
        "other-host",
        "other-scheme",
        "other-port",
        "one-of-several",
        "none-of-several",
    ],
)
def test_check_token(url: str, environ: dict[str, str], refusal: str | None) -> None:
    if refusal is None:
        environments.check_token(url, "production", environ)
        return
    with pytest.raises(RuntimeURLError) as caught:
        environments.check_token(url, "production", environ)
    assert str(caught.value) == refusal


def test_a_token_is_not_sent_to_a_runtime_it_is_not_bound_to(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens at the URL: each command refuses before it connects (a connection would
    fail with "cannot reach runtime"). Calendar reads no runtime without copies."""
    monkeypatch.setenv("PRODUCTION_RUNTIME", "https://127.0.0.1:9")
    monkeypatch.setenv("RECONCILER_TOKEN", "tok-s3cr3t")
    for command in ("plan", "apply", "status"):
        result = run(command, "--env", "production")
        assert (result.exit_code, result.output) == (
            1,
            "error: environment production: a token is sent to the runtime an environment names "
            "only when RECONCILER_TOKEN_FOR, set outside the repository beside the token, names "
            "its origin (https://127.0.0.1:9); nothing was sent\n",
        )


# -- plan --all-envs -----------------------------------------------------------------------------

UNSET = (
    "environment production (reconciler.yaml:8): its runtime is ${PRODUCTION_RUNTIME}, which is "
    "not set"
)
REPLACE_TEXT = """\
Plan: 1 to replace; 2 unchanged.

-/+ replace  weekly-digest  v1 -> v2
      # spec changed; the new version replaces live version 1
      # next sendings: Mon 2026-11-30 09:00 UTC, Mon 2026-12-07 09:00 UTC, Mon 2026-12-14 09:00 UTC
      ~ spec.content.subject: "News" -> "Weekly news"
"""


@pytest.fixture
def edited(project: Path) -> Path:
    """Staging applied, then weekly-digest's subject edited; production not applied yet."""
    assert run("apply", "--env", "staging").exit_code == 0
    put("campaigns/weekly-digest.yaml", WEEKLY.replace('"News"', '"Weekly news"'))
    return project


def test_all_envs_text(edited: Path) -> None:
    result = run("plan", "--all-envs", "--detailed-exitcode")
    summary = "Plan: 1 to create, 1 to activate; 0 unchanged, 1 warning."
    assert (result.exit_code, result.output) == (
        2,
        f"Environment staging:\n{REPLACE_TEXT}\n"
        f"Environment production:\n{summary}\n\n"
        + PRODUCTION_PLAN.format(subject="Weekly news")
        + f"\nWarnings:\n  runtime {new_runtime('production')}\n",
    )
    assert not (edited / "production.db").exists()  # a plan: nothing made
    assert not (edited / "default.db").exists()


def test_all_envs_an_environment_that_cannot_be_planned_fails_alone(
    edited: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_ENV", "production")  # given way to, as to --env
    monkeypatch.delenv("PRODUCTION_RUNTIME")
    result = run("plan", "--all-envs", "--detailed-exitcode")
    assert (result.exit_code, result.output) == (
        1,
        f"Environment staging:\n{REPLACE_TEXT}\nEnvironment production:\nerror: {UNSET}\n",
    )


def test_all_envs_without_changes(applied: Path) -> None:
    result = run("plan", "--all-envs", "--detailed-exitcode")
    assert (result.exit_code, result.output) == (
        0,
        "Environment staging:\nNo changes. 3 unchanged.\n\n"
        "Environment production:\nNo changes. 2 unchanged.\n",
    )


def test_all_envs_markdown(edited: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODUCTION_RUNTIME")
    result = run("plan", "--all-envs", "--format", "markdown")
    assert (result.exit_code, result.output) == (
        1,
        "### reconciler plan: staging\n\n"
        "**1 to replace; 2 unchanged**\n\n"
        "#### Replace (1)\n\n"
        "- `-/+` `weekly-digest` v1 -> v2 · `campaigns/weekly-digest.yaml` · spec changed; the "
        "new version replaces live version 1 · next sendings: Mon 2026-11-30 09:00 UTC, "
        "Mon 2026-12-07 09:00 UTC, Mon 2026-12-14 09:00 UTC\n"
        "  <details><summary>1 field changed</summary>\n\n"
        "  ```diff\n"
        '  - spec.content.subject: "News"\n'
        '  + spec.content.subject: "Weekly news"\n'
        "  ```\n\n"
        "  </details>\n\n"
        "### reconciler plan: production\n\n"
        "**error**: environment production (reconciler.yaml:8): its runtime is "
        "${PRODUCTION\\_RUNTIME}, which is not set\n",
    )


def test_all_envs_github(edited: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each annotation and summary says its environment; the job summary gets the markdown."""
    put("environments/production/patches.yaml", PRODUCTION_PATCHES.replace("1000", "5000"))
    summary_file = edited / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # github is the default format there
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    result = run("plan", "--all-envs")
    assert (result.exit_code, result.output) == (
        1,
        "[staging] Plan: 1 to replace; 2 unchanged.\n"
        "::error file=environments/production/patches.yaml,line=5,col=25,title=reconciler::"
        "[production] spec.throttle.perSecond: 5000 is greater than the maximum of 2000 (in "
        "weekly-digest, as patched)\n"
        "[production] Nothing can be applied. 0 unchanged, 1 error.\n",
    )
    markdown = run("plan", "--all-envs", "--format", "markdown").output
    assert summary_file.read_text() == markdown + "\n"


def test_all_envs_json(edited: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    staging = json.loads(run("plan", "--env", "staging", "--format", "json").output)
    monkeypatch.delenv("PRODUCTION_RUNTIME")
    result = run("plan", "--all-envs", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.output) == {
        "environments": {"staging": staging, "production": {"error": UNSET}}
    }
    assert list(json.loads(result.output)["environments"]) == ["staging", "production"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "staging"], "--all-envs plans every environment: give no --env"),
        (["--runtime", "sqlite:///x.db"], "--all-envs plans every environment: give no --runtime"),
        (["--out", "plan.json"], "--all-envs makes a plan per environment: --out saves one plan"),
    ],
    ids=["env", "runtime", "out"],
)
def test_all_envs_usage_errors(project: Path, args: list[str], message: str) -> None:
    result = run("plan", "--all-envs", *args)
    assert (result.exit_code, result.output) == (
        1,
        f"Usage: cli plan [OPTIONS] [PATH]\nTry 'cli plan --help' for help.\n\nError: {message}\n",
    )
    assert not (project / "plan.json").exists()


@pytest.mark.parametrize(
    ("project_file", "message"),
    [
        (None, "--all-envs: there is no project file (reconciler.yaml) to define them"),
        (
            "apiVersion: reconciler/v1\nkind: Project\n",
            "--all-envs: reconciler.yaml defines no environments",
        ),
        (
            PROJECT.replace("${PRODUCTION_RUNTIME}", "${HOME}"),
            "--all-envs: reconciler.yaml:9:14: environments.production.runtime: ${HOME}: a "
            "project file names only variables called RECONCILER_... or listed under "
            "allowedVariables",
        ),
    ],
    ids=["no-project-file", "no-environments", "invalid-project-file"],
)
def test_all_envs_needs_environments(project: Path, project_file: str | None, message: str) -> None:
    if project_file is None:
        Path("reconciler.yaml").unlink()
    else:
        Path("reconciler.yaml").write_text(project_file)
    result = run("plan", "--all-envs")
    assert (result.exit_code, result.output) == (1, f"error: {message}\n")


def test_all_envs_markdown_shares_the_comment_limit(edited: Path) -> None:
    """Staging's short section is whole; production, long, gets the rest of the limit, more than
    half of it, and says it was shortened."""
    for i in range(40):
        put(
            f"campaigns/more-{i:02}.yaml",
            SMOKE.replace("smoke-test", f"more-{i:02}").replace("[staging]", "[production]"),
        )
    plans = api.plan_all("campaigns", api.Options(now=datetime(2026, 11, 27, 12, tzinfo=UTC)))
    staging, production = plans["staging"], plans["production"]
    assert isinstance(staging, Plan) and isinstance(production, Plan)
    hint = render_markdown.FULL_PLANS_HINT
    first = render_markdown.plan_markdown(
        staging, title="reconciler plan: staging", full_plan_hint=hint
    )
    whole = render_markdown.plan_markdown(
        production, title="reconciler plan: production", full_plan_hint=hint
    )
    limit = len(first) + 1 + len(whole) - 500
    assert len(first) < limit // 2 < len(whole)
    second = render_markdown.plan_markdown(
        production,
        limit=limit - len(first) - 1,
        title="reconciler plan: production",
        full_plan_hint=hint,
    )
    assert "> Shortened to fit a comment" in second
    assert render_markdown.plans_markdown(plans, limit=limit) == f"{first}\n{second}"
    assert len(render_markdown.plans_markdown(plans, limit=200)) <= 200


# -- the README's section -------------------------------------------------------------------------

_README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
DRAFT = _README[_README.index("## Environments\n") : _README.index("## Adopting existing")]


def test_the_readme_environments_section(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its project file and patches are the files of a working project (each block's first line
    names its file), and its console block is what the commands print."""
    blocks = re.findall(r"```yaml\n# (\S+)\n(.*?)```", DRAFT, flags=re.S)
    assert [name for name, _ in blocks] == [
        "reconciler.yaml",
        "environments/staging/patches.yaml",
    ]
    for name, text in blocks:
        put(name, text)
    monkeypatch.delenv("PRODUCTION_RUNTIME")
    (console,) = re.findall(r"```console\n(.*?)```", DRAFT, flags=re.S)
    for command, expected in re.findall(r"^\$ reconciler (.*)\n((?:[^$].*\n)*)", console, re.M):
        result = run(*command.split())
        assert (result.exit_code, result.output) == (1, expected)
    assert run("apply", "--env", "staging").exit_code == 0
    weekly = specs("staging")["weekly-digest"][2]
    assert (weekly["audience"], weekly["throttle"]) == (
        {"segment": "staging-testers"},
        {"perSecond": 50},
    )
    (quoted,) = re.findall(r'"(environment production: a token .*?)"', DRAFT, flags=re.S)
    monkeypatch.setenv("PRODUCTION_RUNTIME", "https://campaigns.example.com")
    monkeypatch.setenv("RECONCILER_TOKEN", "t")
    result = run("plan", "--env", "production")
    assert (result.exit_code, result.output) == (1, f"error: {' '.join(quoted.split())}\n")
