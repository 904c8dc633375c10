"""Drift: an outside edit (`reconciler runtime edit`) shows in plan and status, and apply restores
the manifest where the lifecycle allows; `reconciler/self-heal: "false"` only reports it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from factories import cli_environment
from reconciler.cli import cli

DEAL = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: deal
{annotations}spec:
  state: live
  channel: push
  audience: {{segment: hunters}}
  content: {{title: "Deal of the day", body: "Today only"}}
  schedule:
    recurring: {{cron: "0 12 * * MON-FRI"}}
"""
LAUNCH = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: launch}
spec:
  state: live
  channel: sms
  audience: {segment: everyone}
  content: {text: "We are live"}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch)
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "deal.yaml").write_text(DEAL.format(annotations=""))
    (tmp_path / "campaigns" / "launch.yaml").write_text(LAUNCH)
    assert run("apply").exit_code == 0
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_an_outside_edit_is_drift_that_apply_restores(repo: Path) -> None:
    result = run("runtime", "edit", "deal", "--set", "content.title=Mega deal", "--actor", "alice")
    assert (result.exit_code, result.output) == (0, "deal: live version 2 written by alice\n")
    status = json.loads(run("status", "deal", "--format", "json").output)["campaigns"][0]
    assert status["drift"] == {"version": 2, "actor": "alice"}
    assert "by alice" in run("status").output
    result = run("plan", "--detailed-exitcode")
    assert (result.exit_code, result.output) == (
        2,
        "Plan: 1 to replace; 1 unchanged.\n"
        "\n"
        "-/+ replace  deal  v2 -> v3\n"
        "      # drift: live version 2 was written outside the reconciler by alice; the "
        "manifest's spec is restored\n"
        "      # next sendings: Mon 2026-11-30 12:00 UTC, Tue 2026-12-01 12:00 UTC, "
        "Wed 2026-12-02 12:00 UTC\n"
        '      ~ spec.content.title: "Mega deal" -> "Deal of the day"\n',
    )
    assert run("apply").exit_code == 0
    status = json.loads(run("status", "deal", "--format", "json").output)["campaigns"][0]
    assert (status["drift"], status["live_version"]) == (None, 3)
    assert status["live"]["spec"]["content"]["title"] == "Deal of the day"
    assert run("plan").output == "No changes. 2 unchanged.\n"


def test_drift_on_a_one_time_campaign_is_refused_with_who_made_it(repo: Path) -> None:
    run("runtime", "edit", "launch", "--set", "content.text=Changed in the console")
    result = run("apply")
    assert result.exit_code == 1
    assert result.output == (
        "Nothing can be applied. 1 unchanged, 1 error.\n"
        "\n"
        "Errors:\n"
        "  campaigns/launch.yaml:8:19: spec.content.text changed: live version 2 was changed "
        "outside the reconciler by console; one-time campaigns cannot be modified once live; "
        "duplicate it with copyFrom; or accept the outside change by setting the manifest to the "
        "live version\n"
        "\n"
        "Nothing was applied: 1 error.\n"
    )


def test_self_heal_false_reports_drift_only(repo: Path) -> None:
    annotations = '  annotations: {reconciler/self-heal: "false"}\n'
    (repo / "campaigns" / "deal.yaml").write_text(DEAL.format(annotations=annotations))
    run("runtime", "edit", "deal", "--set", "content.body=Edited", "--actor", "bob")
    result = run("apply")
    assert result.exit_code == 0
    assert result.output == (
        "No changes. 2 unchanged, 1 warning.\n"
        "\n"
        "Warnings:\n"
        "  campaigns/deal.yaml:5:16: drift: live version 2 was changed outside the reconciler "
        'by bob (spec.content.body); it is reported only, as reconciler/self-heal is "false"\n'
    )
    status = json.loads(run("status", "deal", "--format", "json").output)["campaigns"][0]
    assert status["drift"] == {"version": 2, "actor": "bob"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch", "--set", "a=b"], "error: no campaign named 'nosuch' with a live version"),
        (["deal", "--set", "content.title"], "error: --set 'content.title': expected PATH=VALUE"),
        (["deal", "--set", "throttle.perSecond=9999"], "error: the edited spec is not valid: "),
    ],
)
def test_runtime_edit_refuses_bad_input(repo: Path, args: list[str], message: str) -> None:
    result = run("runtime", "edit", *args)
    assert result.exit_code == 1
    assert result.output.startswith(message)
