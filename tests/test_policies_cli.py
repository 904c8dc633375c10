"""Policies in ``reconciler.yaml`` through the command line (issue 15): freezes, quiet hours,
frequency caps and required labels, ``--policies-from``, ``validate``, bad project files and
hostile strings; the exact text a user sees, the exit codes, and what apply leaves in the runtime.

Every test runs on Friday 2026-11-27 12:00 UTC (13:00 in Amsterdam) unless it pins another now.
The campaigns are written by :func:`campaign`, always with the same layout, so that their lines are
known: ``metadata`` at 3:1, ``state`` at 7:10, ``run`` at 8:8, ``audience.segment`` at 10:23 and
the schedule's ``at`` (or ``cron``) on line 14 or 15.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from factories import cli_environment, git
from reconciler.cli import cli

#: what each channel's content needs
CONTENT = {
    "email": '{subject: "News", body: "Hello"}',
    "sms": '{text: "Hello"}',
    "push": '{title: "News", body: "Hello"}',
}


def daily(at: str = "09:00", zone: str = "Europe/Amsterdam") -> str:
    """Every day at ``at`` (line 15, column 11) in ``zone``."""
    return f'    recurring:\n      every: day\n      at: "{at}"\n    timezone: {zone}\n'


def once(at: str) -> str:
    """Once, at the instant ``at`` (line 14, column 11)."""
    return f'    once:\n      at: "{at}"\n    timezone: Europe/Amsterdam\n'


def cron(expression: str, zone: str = "Europe/Amsterdam") -> str:
    """A cron schedule (line 14, column 13)."""
    return f'    recurring:\n      cron: "{expression}"\n    timezone: {zone}\n'


def campaign(
    name: str,
    *,
    state: str = "live",
    run: str = "running",
    channel: str = "email",
    segment: str = "subscribers",
    labels: str = "{team: growth}",
    schedule: str = daily(),
) -> str:
    """A manifest, its lines always where the module's docstring says."""
    return (
        "apiVersion: reconciler/v1\n"
        "kind: Campaign\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"  labels: {labels}\n"
        "spec:\n"
        f"  state: {state}\n"
        f"  run: {run}\n"
        f"  channel: {channel}\n"
        f"  audience: {{segment: {segment}}}\n"
        f"  content: {CONTENT[channel]}\n"
        + (f"  schedule:\n{schedule}" if schedule else "")  # none: sent on activation
    )


def write(name: str, text: str) -> None:
    Path("campaigns", f"{name}.yaml").write_text(text)


def write_policies(policies: str) -> None:
    """``reconciler.yaml`` with these ``policies:`` (indented by two; they start at line 4)."""
    Path("reconciler.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Project\npolicies:\n" + policies
    )


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def at(now: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run what follows at another time."""
    monkeypatch.setenv("RECONCILER_NOW", now)


def runtime_campaigns() -> list[tuple[str, str, int | None, int | None]]:
    """What the runtime holds: each campaign's name, status, live and draft versions."""
    body: dict[str, Any] = json.loads(run("status", "--format", "json").output)
    return [
        (c["name"], c["status"], c["live_version"], c["draft_version"]) for c in body["campaigns"]
    ]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty campaigns/ folder and an empty embedded runtime, already made (so that plans do
    not warn that it does not exist yet), on the pinned now."""
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch, runtime="sqlite:///runtime.db")
    Path("campaigns").mkdir()
    assert run("apply").exit_code == 0
    return tmp_path


# -- freezes -------------------------------------------------------------------------------------

#: 00:00 in New York: 06:00 in Amsterdam. The freeze is at reconciler.yaml:6
PEAK_SEASON = """\
  timezone: Europe/Amsterdam
  freezes:
    - name: peak-season
      from: 2026-11-26T00:00:00-05:00
      until: 2026-12-02T00:00:00-05:00
"""
FROZEN = "frozen: peak-season (reconciler.yaml:6) allows no activate until Wed 2026-12-02 06:00 CET"
#: how the text plan shows the activation of campaign("digest")
DIGEST_ACTIVATED = (
    "  + activate digest  v1\n"
    "      # new campaign; the manifest says live\n"
    "      # next sendings: Sat 2026-11-28 09:00 CET, Sun 2026-11-29 09:00 CET, "
    "Mon 2026-11-30 09:00 CET\n"
    '      + spec.audience.segment: "subscribers"\n'
    '      + spec.channel: "email"\n'
    '      + spec.content.body: "Hello"\n'
    '      + spec.content.subject: "News"\n'
    '      + spec.schedule.recurring.at: "09:00"\n'
    '      + spec.schedule.recurring.every: "day"\n'
    '      + spec.schedule.timezone: "Europe/Amsterdam"\n'
)
NOW, BEFORE_THE_FREEZE = "2026-11-27T12:00:00Z", "2026-11-20T12:00:00Z"


def test_an_activation_during_a_freeze_is_an_error_at_its_state_line_and_applies_nothing(
    repo: Path,
) -> None:
    write_policies(PEAK_SEASON)
    write("digest", campaign("digest"))
    result = run("plan")
    assert (result.exit_code, result.output) == (
        1,
        "Plan: 1 to activate; 0 unchanged, 1 error.\n"
        "\n"
        f"{DIGEST_ACTIVATED}"
        "\n"
        "Errors:\n"
        f"  campaigns/digest.yaml:7:10: {FROZEN}\n",
    )
    result = run("apply")
    assert result.exit_code == 1
    assert result.output.endswith(
        f"Errors:\n  campaigns/digest.yaml:7:10: {FROZEN}\n\nNothing was applied: 1 error.\n"
    )
    assert runtime_campaigns() == []


@pytest.mark.parametrize(
    ("now", "frozen"),
    [
        ("2026-11-26T04:59:59Z", False),
        ("2026-11-26T05:00:00Z", True),
        ("2026-12-02T04:59:59Z", True),
        ("2026-12-02T05:00:00Z", False),
    ],
    ids=["a second before from", "at from", "a second before until", "at until"],
)
def test_a_freeze_holds_from_its_from_up_to_but_not_at_its_until(
    repo: Path, monkeypatch: pytest.MonkeyPatch, now: str, frozen: bool
) -> None:
    write_policies(PEAK_SEASON)
    write("digest", campaign("digest"))
    at(now, monkeypatch)
    result = run("plan", "--format", "github")
    if frozen:
        assert (result.exit_code, result.output) == (
            1,
            "::error file=campaigns/digest.yaml,line=7,col=10,title=reconciler::"
            f"{FROZEN}\n"
            "Plan: 1 to activate; 0 unchanged, 1 error.\n",
        )
    else:
        assert (result.exit_code, result.output) == (0, "Plan: 1 to activate; 0 unchanged.\n")


@pytest.mark.parametrize(
    ("zone", "now", "ends"),
    [
        ("Europe/Amsterdam", "2026-11-27T23:30:00Z", "Sun 2026-11-29 00:00 CET"),
        ("Europe/Amsterdam", "2026-11-28T23:30:00Z", None),
        ("UTC", "2026-11-27T23:30:00Z", None),
        ("UTC", "2026-11-28T23:30:00Z", "Sun 2026-11-29 00:00 UTC"),
    ],
    ids=["Amsterdam, Sat 00:30 there", "Amsterdam, Sun 00:30 there", "UTC, Fri", "UTC, Sat"],
)
def test_freeze_bounds_without_an_offset_are_read_in_the_policies_timezone(
    repo: Path, monkeypatch: pytest.MonkeyPatch, zone: str, now: str, ends: str | None
) -> None:
    """A freeze of Saturday 2026-11-28: midnight in Amsterdam is 23:00 UTC the day before."""
    write_policies(
        f"  timezone: {zone}\n"
        "  freezes:\n"
        "    - name: weekend\n"
        "      from: 2026-11-28T00:00:00\n"
        "      until: 2026-11-29T00:00:00\n"
    )
    write("digest", campaign("digest"))
    at(now, monkeypatch)
    result = run("plan", "--format", "github")
    if ends is None:
        assert (result.exit_code, result.output) == (0, "Plan: 1 to activate; 0 unchanged.\n")
    else:
        assert (result.exit_code, result.output) == (
            1,
            "::error file=campaigns/digest.yaml,line=7,col=10,title=reconciler::frozen: weekend "
            f"(reconciler.yaml:6) allows no activate until {ends}\n"
            "Plan: 1 to activate; 0 unchanged, 1 error.\n",
        )


def test_a_freeze_limited_by_labels_holds_only_those_campaigns_and_warns_about_exempt_ones(
    repo: Path,
) -> None:
    write_policies(
        PEAK_SEASON
        + "      campaigns: {labels: {team: growth}}\n"
        + '      exempt: {labels: {freeze-exempt: "true"}}\n'
    )
    write("growth", campaign("growth"))
    write("retention", campaign("retention", labels="{team: retention}"))
    write("urgent", campaign("urgent", labels='{team: growth, freeze-exempt: "true"}'))
    exempt = (
        "::warning file=campaigns/urgent.yaml,line=7,col=10,title=reconciler::activate during "
        "freeze peak-season (reconciler.yaml:6, until Wed 2026-12-02 06:00 CET): allowed, as the "
        "campaign is exempt (freeze-exempt: true)\n"
    )
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        "::error file=campaigns/growth.yaml,line=7,col=10,title=reconciler::frozen: peak-season "
        "(reconciler.yaml:6) allows no activate until Wed 2026-12-02 06:00 CET (campaigns "
        "labelled freeze-exempt: true are exempt)\n"
        f"{exempt}"
        "Plan: 3 to activate; 0 unchanged, 1 error, 1 warning.\n",
    )
    assert run("apply").exit_code == 1
    assert runtime_campaigns() == []
    Path("campaigns/growth.yaml").unlink()
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        0,
        f"{exempt}Plan: 2 to activate; 0 unchanged, 1 warning.\n",
    )
    assert run("apply").exit_code == 0
    assert runtime_campaigns() == [("retention", "live", 1, None), ("urgent", "live", 1, None)]


@pytest.mark.parametrize(
    ("actions", "frozen"),
    [("", False), ("      actions: [stop]\n", True)],
    ids=["default", "listed"],
)
def test_a_stop_is_frozen_only_when_the_freeze_lists_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch, actions: str, frozen: bool
) -> None:
    at(BEFORE_THE_FREEZE, monkeypatch)
    write_policies(PEAK_SEASON + actions)
    write("digest", campaign("digest"))
    assert run("apply").exit_code == 0
    at(NOW, monkeypatch)
    write("digest", campaign("digest", run="stopped"))
    result = run("plan", "--format", "github")
    if frozen:
        assert (result.exit_code, result.output) == (
            1,
            "::error file=campaigns/digest.yaml,line=8,col=8,title=reconciler::frozen: "
            "peak-season (reconciler.yaml:6) allows no stop until Wed 2026-12-02 06:00 CET\n"
            "Plan: 1 to stop; 0 unchanged, 1 error.\n",
        )
        assert run("apply").exit_code == 1
        assert runtime_campaigns() == [("digest", "live", 1, None)]
    else:
        assert (result.exit_code, result.output) == (0, "Plan: 1 to stop; 0 unchanged.\n")
        assert run("apply").exit_code == 0
        assert runtime_campaigns() == [("digest", "stopped", 1, None)]


def test_a_replace_during_a_freeze_is_an_error_at_the_line_it_changes(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(BEFORE_THE_FREEZE, monkeypatch)
    write_policies(PEAK_SEASON)
    write("digest", campaign("digest"))
    assert run("apply").exit_code == 0
    at(NOW, monkeypatch)
    write("digest", campaign("digest", schedule=daily("10:00")))
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        "::error file=campaigns/digest.yaml,line=15,col=11,title=reconciler::frozen: peak-season "
        "(reconciler.yaml:6) allows no replace until Wed 2026-12-02 06:00 CET\n"
        "Plan: 1 to replace; 0 unchanged, 1 error.\n",
    )
    assert run("apply").exit_code == 1
    assert runtime_campaigns() == [("digest", "live", 1, None)]


def copy_of(source: str, name: str, state: str) -> str:
    return (
        "apiVersion: reconciler/v1\n"
        "kind: Campaign\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  labels: {team: growth}\n"
        "spec:\n"
        f"  state: {state}\n"
        f"  copyFrom: {source}\n"
    )


def test_draft_work_is_not_frozen_by_the_default_actions(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Create, update, discard and a copy into a draft go on during a freeze; a copy to live
    does not."""
    at(BEFORE_THE_FREEZE, monkeypatch)
    write_policies(PEAK_SEASON)
    write("digest", campaign("digest"))
    write("sketch", campaign("sketch", state="draft"))
    write("staged", campaign("staged"))
    assert run("apply").exit_code == 0
    write("staged", campaign("staged", state="draft", segment="vip"))
    assert run("apply").exit_code == 0
    assert runtime_campaigns() == [
        ("digest", "live", 1, None),
        ("sketch", "draft", None, 1),
        ("staged", "live", 1, 2),
    ]
    at(NOW, monkeypatch)
    write("newbie", campaign("newbie", state="draft"))  # create
    write("sketch", campaign("sketch", state="draft", segment="vip"))  # update
    write("staged", campaign("staged"))  # discard: the manifest is the live version again
    write("digest-copy", copy_of("digest", "digest-copy", "draft"))  # copy into a draft
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        0,
        "Plan: 1 to create, 1 to copy, 1 to update, 1 to discard; 1 unchanged.\n",
    )
    assert run("apply").exit_code == 0
    assert runtime_campaigns() == [
        ("digest", "live", 1, None),
        ("digest-copy", "draft", None, 1),
        ("newbie", "draft", None, 1),
        ("sketch", "draft", None, 2),
        ("staged", "live", 1, None),
    ]
    write("digest-live-copy", copy_of("digest", "digest-live-copy", "live"))
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        "::error file=campaigns/digest-live-copy.yaml,line=8,col=13,title=reconciler::frozen: "
        "peak-season (reconciler.yaml:6) allows no copy until Wed 2026-12-02 06:00 CET\n"
        "Plan: 1 to copy; 5 unchanged, 1 error.\n",
    )


def test_a_plan_saved_before_a_freeze_is_refused_when_applied_during_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policies(PEAK_SEASON)
    write("digest", campaign("digest"))
    at(BEFORE_THE_FREEZE, monkeypatch)
    result = run("plan", "--out", "plan.json", "--format", "github")
    assert (result.exit_code, result.output) == (0, "Plan: 1 to activate; 0 unchanged.\n")
    at(NOW, monkeypatch)
    result = run("apply", "--plan", "plan.json")
    assert result.exit_code == 1
    assert result.output.endswith(
        "Errors:\n"
        f"  campaigns/digest.yaml: {FROZEN}\n"  # a saved plan has no manifest lines to name
        "\n"
        "Nothing was applied: 1 error.\n"
    )
    assert runtime_campaigns() == []


# -- --policies-from: a change to the policies is judged by the base branch's ---------------------

LIFTED = (
    "This change edits the policies (reconciler.yaml):\n"
    '  - policies.freezes.peak-season.from: "2026-11-26T00:00:00-05:00"\n'
    '  - policies.freezes.peak-season.until: "2026-12-02T00:00:00-05:00"\n'
)


@pytest.fixture
def committed(repo: Path) -> str:
    """A git repository whose main branch has the peak-season freeze: its commit."""
    git(repo, "init", "-q", "-b", "main")
    write_policies(PEAK_SEASON)
    git(repo, "add", "reconciler.yaml")
    git(repo, "commit", "-qm", "peak season")
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def lifted(repo: Path, committed: str) -> str:
    """A branch ``lift`` checked out, whose one commit removes the freeze of main and activates
    digest: the base commit."""
    git(repo, "checkout", "-qb", "lift")
    write_policies("  timezone: Europe/Amsterdam\n")
    write("digest", campaign("digest"))
    git(repo, "add", "reconciler.yaml", "campaigns")
    git(repo, "commit", "-qm", "lift the freeze, and go live")
    return committed


def test_policies_from_the_base_branch_hold_a_change_that_lifts_a_freeze_to_go_live(
    lifted: str,
) -> None:
    result = run("plan", "--policies-from", "main")
    assert (result.exit_code, result.output) == (
        1,
        f"{LIFTED}"
        "\n"
        "Plan: 1 to activate; 0 unchanged, 1 error.\n"
        "\n"
        f"{DIGEST_ACTIVATED}"
        "\n"
        "Errors:\n"
        f"  campaigns/digest.yaml:7:10: frozen: peak-season (reconciler.yaml@main:6) "
        "allows no activate until Wed 2026-12-02 06:00 CET\n",
    )
    result = run("apply", "--policies-from", "main")
    assert result.exit_code == 1
    assert result.output.startswith(LIFTED)
    assert result.output.endswith("Nothing was applied: 1 error.\n")
    assert runtime_campaigns() == []
    # without it the branch's own policies judge it, and they are its last commit's: no change
    result = run("plan")
    assert (result.exit_code, result.output) == (
        0,
        f"Plan: 1 to activate; 0 unchanged.\n\n{DIGEST_ACTIVATED}",
    )


def test_a_policy_change_comes_first_in_markdown_github_and_json(lifted: str) -> None:
    frozen = (
        "frozen: peak-season (reconciler.yaml@main:6) allows no activate until "
        "Wed 2026-12-02 06:00 CET"
    )
    result = run("plan", "--policies-from", "main", "--format", "markdown")
    assert result.exit_code == 1
    assert result.output.startswith(
        "### reconciler plan\n"
        "\n"
        "#### This change edits the policies (`reconciler.yaml`)\n"
        "\n"
        "```diff\n"
        '- policies.freezes.peak-season.from: "2026-11-26T00:00:00-05:00"\n'
        '- policies.freezes.peak-season.until: "2026-12-02T00:00:00-05:00"\n'
        "```\n"
        "\n"
        "**1 to activate; 0 unchanged; 1 error**\n"
        "\n"
        "#### Errors (1)\n"
        "\n"
        "Nothing can be applied until they are fixed.\n"
        "\n"
        # the @ of reconciler.yaml@main mentions nobody
        "- `campaigns/digest.yaml:7:10`: frozen: peak-season (reconciler.yaml@&#8203;"
        "main:6) allows no activate until Wed 2026-12-02 06:00 CET\n"
        "\n"
        "#### Activate (1)\n"
    )
    result = run("plan", "--policies-from", "main", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        "::warning file=reconciler.yaml,title=reconciler::this change edits the policies: "
        "policies.freezes.peak-season.from, policies.freezes.peak-season.until\n"
        f"::error file=campaigns/digest.yaml,line=7,col=10,title=reconciler::{frozen}\n"
        "Plan: 1 to activate; 0 unchanged, 1 error.\n",
    )
    result = run("plan", "--policies-from", "main", "--format", "json")
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert (body["policy_file"], body["policy_changes"], body["errors"]) == (
        "reconciler.yaml",
        [
            {
                "path": "policies.freezes.peak-season.from",
                "before": "2026-11-26T00:00:00-05:00",
                "after": None,
            },
            {
                "path": "policies.freezes.peak-season.until",
                "before": "2026-12-02T00:00:00-05:00",
                "after": None,
            },
        ],
        [
            {
                "file": "campaigns/digest.yaml",
                "line": 7,
                "column": 10,
                "campaign": "digest",
                "message": frozen,
                "policy": "peak-season",
                "policy_file": "reconciler.yaml@main",
                "policy_line": 6,
            }
        ],
    )


def test_an_uncommitted_change_to_the_policies_is_shown_first_against_the_checked_out_commit(
    committed: str,
) -> None:
    write_policies("  timezone: Europe/Amsterdam\n")
    write("digest", campaign("digest"))
    result = run("plan")
    assert (result.exit_code, result.output) == (
        0,
        f"{LIFTED}\nPlan: 1 to activate; 0 unchanged.\n\n{DIGEST_ACTIVATED}",
    )
    result = run("plan", "--policies-from", "HEAD", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        "::warning file=reconciler.yaml,title=reconciler::this change edits the policies: "
        "policies.freezes.peak-season.from, policies.freezes.peak-season.until\n"
        "::error file=campaigns/digest.yaml,line=7,col=10,title=reconciler::frozen: peak-season "
        "(reconciler.yaml@HEAD:6) allows no activate until Wed 2026-12-02 06:00 CET\n"
        "Plan: 1 to activate; 0 unchanged, 1 error.\n",
    )
    write_policies(PEAK_SEASON.replace("2026-12-02", "2026-12-09"))  # a freeze made longer
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        "::warning file=reconciler.yaml,title=reconciler::this change edits the policies: "
        "policies.freezes.peak-season.until\n"
        "::error file=campaigns/digest.yaml,line=7,col=10,title=reconciler::frozen: peak-season "
        "(reconciler.yaml:6) allows no activate until Wed 2026-12-09 06:00 CET\n"
        "Plan: 1 to activate; 0 unchanged, 1 error.\n",
    )
    assert run("plan").output.startswith(
        "This change edits the policies (reconciler.yaml):\n"
        '  - policies.freezes.peak-season.until: "2026-12-02T00:00:00-05:00"\n'
        '  + policies.freezes.peak-season.until: "2026-12-09T00:00:00-05:00"\n'
        "\n"
        "Plan: 1 to activate; 0 unchanged, 1 error.\n"
    )


def test_policies_from_a_ref_that_names_no_commit_is_one_error_line(
    repo: Path, lifted: str
) -> None:
    result = run("plan", "--policies-from", "no-such-branch")
    assert (result.exit_code, result.output) == (
        1,
        f"error: --policies-from 'no-such-branch': no such commit in the git repository at "
        f"{repo.resolve()}\n",
    )
    assert run("apply", "--policies-from", "no-such-branch").output == result.output
    assert runtime_campaigns() == []


# -- quiet hours ---------------------------------------------------------------------------------

#: at reconciler.yaml:5
NO_SMS_AT_NIGHT = """\
  quietHours:
    - name: no-sms-at-night
      channels: [sms, push]
      from: "21:00"
      until: "08:00"
"""


def quiet(file: str, place: str, channel: str, zone: str, sends: str, policy: int = 5) -> str:
    """The annotation of a sending in the quiet hours of NO_SMS_AT_NIGHT (at ``policy``)."""
    return (
        f"::error file=campaigns/{file}.yaml,{place},title=reconciler::quiet hours: "
        f"no-sms-at-night (reconciler.yaml:{policy}) allows no {channel} from 21:00 to 08:00 in "
        f"the campaign's zone ({zone}), and it sends {sends}\n"
    )


@pytest.mark.parametrize(
    ("channel", "schedule", "place", "sends"),
    [
        ("sms", daily("22:00"), "line=15,col=11", "Fri 2026-11-27 22:00 CET"),
        ("push", cron("30 6 * * MON"), "line=14,col=13", "Mon 2026-11-30 06:30 CET"),
        ("sms", once("2026-12-24T23:00:00+01:00"), "line=14,col=11", "Thu 2026-12-24 23:00 CET"),
    ],
    ids=["at", "cron", "once"],
)
def test_a_sending_in_quiet_hours_is_an_error_at_the_schedules_time_naming_the_first(
    repo: Path, channel: str, schedule: str, place: str, sends: str
) -> None:
    write_policies(NO_SMS_AT_NIGHT)
    write("night", campaign("night", channel=channel, schedule=schedule))
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        quiet("night", place, channel, "Europe/Amsterdam", sends)
        + "Plan: 1 to activate; 0 unchanged, 1 error.\n",
    )
    assert run("apply").exit_code == 1
    assert runtime_campaigns() == []


@pytest.mark.parametrize(
    ("time", "sends"),
    [
        ("20:59", None),
        ("21:00", "Fri 2026-11-27 21:00 CET"),
        ("23:59", "Fri 2026-11-27 23:59 CET"),
        ("00:00", "Sat 2026-11-28 00:00 CET"),
        ("07:59", "Sat 2026-11-28 07:59 CET"),
        ("08:00", None),
    ],
)
def test_quiet_hours_that_cross_midnight_hold_from_their_from_up_to_their_until(
    repo: Path, time: str, sends: str | None
) -> None:
    write_policies(NO_SMS_AT_NIGHT)
    write("night", campaign("night", channel="sms", schedule=daily(time)))
    result = run("plan", "--format", "github")
    if sends is None:
        assert (result.exit_code, result.output) == (0, "Plan: 1 to activate; 0 unchanged.\n")
    else:
        assert (result.exit_code, result.output) == (
            1,
            quiet("night", "line=15,col=11", "sms", "Europe/Amsterdam", sends)
            + "Plan: 1 to activate; 0 unchanged, 1 error.\n",
        )


NEW_YORK = "Fri 2026-11-27 22:00 EST"


def test_quiet_hours_are_those_of_each_campaigns_own_zone_and_channels(repo: Path) -> None:
    """22:00 in New York is 04:00 in Amsterdam: quiet in New York, whatever the policies' zone;
    an email is not on the listed channels."""
    write_policies("  timezone: Europe/Amsterdam\n" + NO_SMS_AT_NIGHT)  # now at line 6
    write(
        "new-york",
        campaign("new-york", channel="sms", schedule=daily("22:00", zone="America/New_York")),
    )
    write("tokyo", campaign("tokyo", channel="sms", schedule=daily("12:00", zone="Asia/Tokyo")))
    write("mail", campaign("mail", channel="email", schedule=daily("22:00")))
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        quiet("new-york", "line=15,col=11", "sms", "America/New_York", NEW_YORK, policy=6)
        + "Plan: 3 to activate; 0 unchanged, 1 error.\n",
    )


def test_a_campaign_sent_on_activation_in_quiet_hours_is_an_error_now(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policies(NO_SMS_AT_NIGHT)
    write("now", campaign("now", channel="sms", schedule=""))
    at("2026-11-27T22:30:00Z", monkeypatch)
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        quiet("now", "line=7,col=3", "sms", "UTC", "on activation, now (Fri 2026-11-27 22:30 UTC)")
        + "Plan: 1 to activate; 0 unchanged, 1 error.\n",
    )
    at("2026-11-27T20:30:00Z", monkeypatch)
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (0, "Plan: 1 to activate; 0 unchanged.\n")


@pytest.mark.parametrize(
    ("zone", "sends"),
    [("Europe/Amsterdam", "Sun 2027-03-28 03:00 CEST"), ("Asia/Tokyo", None)],
    ids=["spring forward", "no daylight saving"],
)
def test_a_sending_moved_by_spring_forward_into_quiet_hours_is_an_error(
    repo: Path, monkeypatch: pytest.MonkeyPatch, zone: str, sends: str | None
) -> None:
    """02:30 does not exist in Amsterdam on 2027-03-28: that day's sending is at 03:00 CEST, the
    moment of the change, inside quiet hours from 03:00 to 05:00; every other day it is at 02:30."""
    at("2027-03-01T12:00:00Z", monkeypatch)
    write_policies(
        '  quietHours:\n    - name: early-morning\n      from: "03:00"\n      until: "05:00"\n'
    )
    write("early", campaign("early", schedule=daily("02:30", zone=zone)))
    result = run("plan", "--format", "github")
    if sends is None:
        assert (result.exit_code, result.output) == (0, "Plan: 1 to activate; 0 unchanged.\n")
    else:
        assert (result.exit_code, result.output) == (
            1,
            "::error file=campaigns/early.yaml,line=15,col=11,title=reconciler::quiet hours: "
            "early-morning (reconciler.yaml:5) allows no email from 03:00 to 05:00 in the "
            f"campaign's zone ({zone}), and it sends {sends}\n"
            "Plan: 1 to activate; 0 unchanged, 1 error.\n",
        )
        # every other day it sends at 02:30, before the quiet hours
        assert (
            "      # next sendings: Tue 2027-03-02 02:30 CET, Wed 2027-03-03 02:30 CET, "
            "Thu 2027-03-04 02:30 CET\n"
        ) in run("plan").output


# -- frequency caps ------------------------------------------------------------------------------

#: at reconciler.yaml:6
TWO_EMAILS_A_DAY = """\
  timezone: Europe/Amsterdam
  frequencyCaps:
    - name: two-emails-a-day
      channels: [email]
      max: 2
      per: day
"""
#: one email a day to subscribers, and two more (with teaser, one more on another day)
BUSY_TUESDAY = {
    "morning": daily("09:00"),
    "launch": once("2026-12-01T12:00:00+01:00"),
    "reminder": once("2026-12-01T18:00:00+01:00"),
    "teaser": once("2026-12-03T18:00:00+01:00"),
}
THREE_ON_TUESDAY = (
    "segment subscribers gets 3 sendings on Tue 2026-12-01 (at most 2 a day): launch, morning, "
    "reminder"
)


def capped(file: str, said: str, cap: str = "two-emails-a-day") -> str:
    """The annotation of a window over ``cap`` (at reconciler.yaml:6) at ``file``'s segment."""
    return (
        f"::error file=campaigns/{file}.yaml,line=10,col=23,title=reconciler::frequency cap "
        f"{cap} (reconciler.yaml:6): {said}\n"
    )


def test_a_third_email_a_day_is_an_error_on_each_campaign_the_plan_activates_that_sends_then(
    repo: Path,
) -> None:
    write_policies(TWO_EMAILS_A_DAY)
    for name, schedule in BUSY_TUESDAY.items():
        write(name, campaign(name, schedule=schedule))
    write("vip-launch", campaign("vip-launch", segment="vip", schedule=BUSY_TUESDAY["launch"]))
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        capped("launch", THREE_ON_TUESDAY)
        + capped("morning", THREE_ON_TUESDAY)
        + capped("reminder", THREE_ON_TUESDAY)
        + "Plan: 5 to activate; 0 unchanged, 3 errors.\n",
    )
    assert run("apply").exit_code == 1
    assert runtime_campaigns() == []


def test_a_cap_holds_only_the_campaigns_the_plan_makes_go_live(repo: Path) -> None:
    write_policies(TWO_EMAILS_A_DAY)
    for name in ("morning", "launch"):
        write(name, campaign(name, schedule=BUSY_TUESDAY[name]))
    assert run("apply").exit_code == 0  # two on Tuesday: at the cap, not over it
    write("reminder", campaign("reminder", schedule=BUSY_TUESDAY["reminder"]))
    result = run("plan", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        capped("reminder", THREE_ON_TUESDAY) + "Plan: 1 to activate; 2 unchanged, 1 error.\n",
    )
    assert run("apply").exit_code == 1
    assert runtime_campaigns() == [("launch", "scheduled", 1, None), ("morning", "live", 1, None)]


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "UTC"])
def test_a_weekly_cap_counts_monday_to_sunday_across_a_month_in_the_policies_timezone(
    repo: Path, zone: str
) -> None:
    """Sunday 23:30 UTC is Monday 00:30 in Amsterdam: in the week of Mon 2026-11-30 to Sun
    2026-12-06 there, in the week before in UTC."""
    write_policies(
        f"  timezone: {zone}\n"
        "  frequencyCaps:\n"
        "    - name: two-a-week\n"
        "      max: 2\n"
        "      per: week\n"
    )
    write("sunday-night", campaign("sunday-night", schedule=once("2026-11-29T23:30:00Z")))
    write("tuesday", campaign("tuesday", schedule=once("2026-12-01T10:00:00+01:00")))
    write("sunday", campaign("sunday", schedule=once("2026-12-06T23:30:00+01:00")))
    result = run("plan", "--format", "github")
    if zone == "UTC":
        assert (result.exit_code, result.output) == (0, "Plan: 3 to activate; 0 unchanged.\n")
        return
    said = (
        "segment subscribers gets 3 sendings in the week of Mon 2026-11-30 to Sun 2026-12-06 "
        "(at most 2 a week): sunday, sunday-night, tuesday"
    )
    assert (result.exit_code, result.output) == (
        1,
        capped("sunday-night", said, "two-a-week")
        + capped("sunday", said, "two-a-week")
        + capped("tuesday", said, "two-a-week")
        + "Plan: 3 to activate; 0 unchanged, 3 errors.\n",
    )


@pytest.fixture
def over_the_cap(repo: Path) -> Path:
    """Three emails to subscribers on Tuesday, applied before the cap of two a day was written."""
    for name in ("morning", "launch", "reminder"):
        write(name, campaign(name, schedule=BUSY_TUESDAY[name]))
    assert run("apply").exit_code == 0
    write_policies(TWO_EMAILS_A_DAY)
    return repo


def test_a_cap_exceeded_by_campaigns_the_plan_does_not_touch_is_a_warning(
    over_the_cap: Path,
) -> None:
    result = run("plan")
    assert (result.exit_code, result.output) == (
        0,
        "No changes. 3 unchanged, 1 warning.\n"
        "\n"
        "Warnings:\n"
        "  reconciler.yaml:6:1: frequency cap two-emails-a-day is exceeded by campaigns this plan "
        f"does not make go live: {THREE_ON_TUESDAY}\n",
    )


def test_the_calendar_marks_a_window_over_a_cap(over_the_cap: Path) -> None:
    result = run("calendar", "--from", "2026-11-30", "--days", "3", "--zone", "Europe/Amsterdam")
    assert (result.exit_code, result.output) == (
        0,
        "Sendings 2026-11-30 to 2026-12-02, times in Europe/Amsterdam (CET)\n"
        "Mon 2026-11-30\n"
        "  09:00  morning   email  subscribers\n"
        "Tue 2026-12-01\n"
        "  09:00  morning   email  subscribers\n"
        "  12:00  launch    email  subscribers\n"
        "  18:00  reminder  email  subscribers\n"
        "  ! clash: segment subscribers gets 3 sendings: launch, morning, reminder\n"
        f"  ! over cap two-emails-a-day: {THREE_ON_TUESDAY}\n"
        "Wed 2026-12-02\n"
        "  09:00  morning   email  subscribers\n"
        "5 sendings, 1 clash, 1 window over a frequency cap\n",
    )
    result = run("calendar", "--from", "2026-11-30", "--days", "3", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)["capped"] == [
        {
            "policy": "two-emails-a-day",
            "segment": "subscribers",
            "from": "2026-12-01",
            "to": "2026-12-01",
            "per": "day",
            "max": 2,
            "sendings": 3,
            "campaigns": ["launch", "morning", "reminder"],
        }
    ]


# -- required labels, and what validate checks ---------------------------------------------------


def test_a_manifest_without_a_required_label_is_an_error_at_its_metadata_line(repo: Path) -> None:
    write_policies("  requiredLabels: [team, owner]\n")
    write("digest", campaign("digest", labels="{team: growth, owner: ana}"))
    write("orphan", campaign("orphan", labels="{owner: ana}"))
    write("stray", campaign("stray", labels="{}"))
    missing = (
        "campaigns/orphan.yaml:3:1: metadata.labels has no team label: every campaign must "
        "carry team, owner (requiredLabels, reconciler.yaml:4)\n"
        "campaigns/stray.yaml:3:1: metadata.labels has no team and owner labels: every "
        "campaign must carry team, owner (requiredLabels, reconciler.yaml:4)\n"
    )
    result = run("validate")
    assert (result.exit_code, result.output) == (1, f"{missing}Invalid: 2 errors in 3 files.\n")
    result = run("apply")
    assert result.exit_code == 1
    assert result.output.endswith(
        "Errors:\n"
        + "".join(f"  {line}\n" for line in missing.splitlines())
        + "\n"
        + "Plan: 3 to activate; 0 unchanged, 2 errors.\n"  # a long plan ends with its summary too
        + "\n"
        + "Nothing was applied: 2 errors.\n"
    )
    assert runtime_campaigns() == []


def test_validate_checks_the_policies_that_need_no_runtime(repo: Path) -> None:
    """Required labels, and quiet hours of what is live and running; not the freeze in force, nor
    the cap that three emails on Tuesday exceed: those need the runtime, and plan checks them."""
    write_policies(
        PEAK_SEASON
        + NO_SMS_AT_NIGHT
        + "  frequencyCaps:\n    - name: two-a-day\n      max: 2\n      per: day\n"
        + "  requiredLabels: [team]\n"
    )
    for name in ("morning", "launch", "reminder"):
        write(name, campaign(name, schedule=BUSY_TUESDAY[name]))
    write("night", campaign("night", channel="sms", schedule=daily("22:00")))
    write(
        "night-draft",
        campaign("night-draft", state="draft", channel="sms", schedule=daily("22:00")),
    )
    write(
        "night-stopped",
        campaign("night-stopped", run="stopped", channel="sms", schedule=daily("22:00")),
    )
    write("unlabelled", campaign("unlabelled", labels="{owner: ana}"))
    result = run("validate")
    assert (result.exit_code, result.output) == (
        1,
        "campaigns/night.yaml:15:11: quiet hours: no-sms-at-night (reconciler.yaml:10) allows no "
        "sms from 21:00 to 08:00 in the campaign's zone (Europe/Amsterdam), and it sends "
        "Fri 2026-11-27 22:00 CET\n"
        "campaigns/unlabelled.yaml:3:1: metadata.labels has no team label: every campaign must "
        "carry team (requiredLabels, reconciler.yaml:18)\n"
        "Invalid: 2 errors in 7 files.\n",
    )
    Path("campaigns/night.yaml").unlink()
    Path("campaigns/unlabelled.yaml").unlink()
    assert run("validate").output == "Valid: 5 campaigns in 5 files.\n"


# -- bad project files ---------------------------------------------------------------------------

HEAD = "apiVersion: reconciler/v1\nkind: Project\n"
#: a billion laughs: nine times nine times... nodes from a few lines
ALIAS_BOMB = (
    HEAD
    + "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{key}: &{key} [{', '.join([f'*{previous}'] * 9)}]\n"
        for previous, key in zip("abcdef", "bcdefg", strict=True)
    )
)
FREEZE_X = "  freezes:\n    - name: x\n      from: 2026-11-26T00:00:00Z\n"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            HEAD + "policies: {freezes: [\n",
            "reconciler.yaml:4:1: invalid YAML: did not find expected node content (while parsing "
            "a flow node)",
        ),
        (
            HEAD + "policies: !!python/object:os.system {}\n",
            "reconciler.yaml:3:11: tag !!python/object:os.system is not allowed (only plain YAML "
            "data)",
        ),
        (
            HEAD + "policies: {}\npolicies: {}\n",
            "reconciler.yaml:4:1: duplicate key 'policies' (first at 3:1)",
        ),
        (
            ALIAS_BOMB,
            "reconciler.yaml:1:1: document too large: over 100000 nodes after alias expansion",
        ),
        (
            b"\x00\x01binary\xff",
            "reconciler.yaml:1:1: binary file (contains a NUL byte), not a YAML manifest",
        ),
        (
            HEAD + "policies:\n  frequencyCaps:\n    - {name: two, max: two, per: day}\n",
            "reconciler.yaml:5:24: policies.frequencyCaps[0].max: 'two' is not of type 'integer'",
        ),
        (
            HEAD + "policies:\n" + FREEZE_X + "      untill: 2026-12-02T00:00:00Z\n",
            "reconciler.yaml:7:7: policies.freezes[0]: 'untill' is not a known property; did you "
            "mean 'until'?",
        ),
        (
            HEAD + "polices: {}\n",
            "reconciler.yaml:3:1: 'polices' is not a known property; did you mean 'policies'?",
        ),
        (
            HEAD + "policies:\n  timezone: Europe/Amsterdm\n",
            "reconciler.yaml:4:13: policies.timezone: 'Europe/Amsterdm' is not a known IANA time "
            "zone (like 'Europe/Amsterdam')",
        ),
        (
            HEAD + "policies:\n" + FREEZE_X + "      until: 2026-11-25T00:00:00Z\n",
            "reconciler.yaml:7:14: policies.freezes[0].until: 2026-11-25T00:00:00Z is not after "
            "from (2026-11-26T00:00:00Z)",
        ),
        (
            HEAD
            + "policies:\n"
            + FREEZE_X
            + "      until: 2026-11-27T00:00:00Z\n"
            + "  quietHours:\n    - {name: x, from: '21:00', until: '08:00'}\n",
            "reconciler.yaml:9:14: policies.quietHours[0].name: 'x' is the name of "
            "policies.freezes[0] already: a name is one policy's",
        ),
        (
            HEAD + "---\n" + HEAD,
            "reconciler.yaml:3:1: a second document: a Project file (apiVersion: reconciler/v1, "
            "kind: Project) holds one",
        ),
    ],
    ids=[
        "malformed YAML",
        "unsafe tag",
        "duplicate key",
        "alias bomb",
        "binary",
        "wrong type",
        "unknown key",
        "unknown top-level key",
        "unknown time zone",
        "until before from",
        "a policy name used twice",
        "a second document",
    ],
)
def test_a_bad_project_file_is_an_error_at_its_place_and_applies_nothing(
    repo: Path, content: str | bytes, error: str
) -> None:
    if isinstance(content, bytes):
        Path("reconciler.yaml").write_bytes(content)
    else:
        Path("reconciler.yaml").write_text(content)
    write("digest", campaign("digest"))
    result = run("validate")
    assert (result.exit_code, result.output) == (1, f"{error}\nInvalid: 1 error in 1 file.\n")
    result = run("apply")
    assert (result.exit_code, result.output) == (
        1,
        "Nothing can be applied. 0 unchanged, 1 error.\n"
        "\n"
        "Errors:\n"
        f"  {error}\n"
        "\n"
        "Nothing was applied: 1 error.\n",
    )
    assert runtime_campaigns() == []


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        pytest.param(
            lambda outside: Path("reconciler.yaml").symlink_to(outside),
            "a symbolic link that leads outside the repository; the project file must be in it",
            id="a link out of the repository",
        ),
        pytest.param(
            lambda outside: os.mkfifo("reconciler.yaml"),
            "not a file",
            id="a named pipe",
        ),
    ],
)
def test_a_project_file_that_is_no_file_of_the_repository_is_not_read(
    repo: Path, tmp_path_factory: pytest.TempPathFactory, make: Any, problem: str
) -> None:
    """A pull request can make reconciler.yaml a link to a secret of the machine that plans it,
    whose words the errors would quote; or a pipe, which would never end."""
    outside = tmp_path_factory.mktemp("secrets") / "token.yaml"
    outside.write_text("apiVersion: reconciler/v1\nkind: Project\nsecret: hunter2\n")
    make(outside)
    write("digest", campaign("digest"))
    result = run("validate")
    assert (result.exit_code, result.output) == (
        1,
        f"reconciler.yaml: {problem}\nInvalid: 1 error in 1 file.\n",
    )
    assert "hunter2" not in run("plan").output
    assert run("apply").exit_code == 1
    assert runtime_campaigns() == []


def test_a_project_file_named_with_project_must_exist(repo: Path) -> None:
    write("digest", campaign("digest"))
    result = run("apply", "--project", "policies/reconciler.yaml")
    assert (result.exit_code, result.output) == (
        1,
        "Nothing can be applied. 0 unchanged, 1 error.\n"
        "\n"
        "Errors:\n"
        "  policies/reconciler.yaml: no such project file\n"
        "\n"
        "Nothing was applied: 1 error.\n",
    )
    assert runtime_campaigns() == []
    Path("policies").mkdir()
    Path("policies/reconciler.yaml").write_text(HEAD + "policies:\n" + PEAK_SEASON)
    result = run("plan", "--project", "policies/reconciler.yaml", "--format", "github")
    assert (result.exit_code, result.output) == (
        1,
        "::error file=campaigns/digest.yaml,line=7,col=10,title=reconciler::frozen: peak-season "
        "(policies/reconciler.yaml:6) allows no activate until Wed 2026-12-02 06:00 CET\n"
        "Plan: 1 to activate; 0 unchanged, 1 error.\n",
    )


# -- hostile strings -----------------------------------------------------------------------------

#: what a pull request could put in a label value, a segment or a time zone (tests/hostile.py):
#: a terminal escape, a line break that forges a line of output, a bidi override, markup
HOSTILE = "\x1b[31mred\nevil.yaml:1:1: ok \u202eexe <b>@everyone</b>"
#: as the terminal shows it, and as markdown does
IN_TEXT = "\\x1b[31mred\\nevil.yaml:1:1: ok \\u202eexe <b>@everyone</b>"
#: a value in a field change, as JSON writes it
IN_JSON = '"\\u001b[31mred\\nevil.yaml:1:1: ok \\u202eexe <b>@everyone</b>"'
IN_MARKDOWN = (
    "\\\\x1b\\[31mred\\\\nevil.yaml:1:1: ok \\\\u202eexe &lt;b&gt;@&#8203;everyone&lt;/b&gt;"
)


def yaml_string(value: str) -> str:
    """``value`` as a double-quoted YAML scalar (JSON's escapes are YAML's)."""
    return json.dumps(value)


def test_a_hostile_label_value_in_a_freeze_selector_is_shown_escaped(repo: Path) -> None:
    write_policies(
        PEAK_SEASON + f"      exempt: {{labels: {{approved-by: {yaml_string(HOSTILE)}}}}}\n"
    )
    write("digest", campaign("digest"))
    frozen = f"{FROZEN} (campaigns labelled approved-by: {{}} are exempt)"
    result = run("plan")
    assert result.exit_code == 1
    assert result.output.endswith(
        f"Errors:\n  campaigns/digest.yaml:7:10: {frozen.format(IN_TEXT)}\n"
    )
    result = run("plan", "--format", "markdown")
    assert f"- `campaigns/digest.yaml:7:10`: {frozen.format(IN_MARKDOWN)}\n" in result.output
    result = run("plan", "--format", "github")
    assert result.output == (
        "::error file=campaigns/digest.yaml,line=7,col=10,title=reconciler::"
        f"{frozen.format(IN_TEXT)}\n"
        "Plan: 1 to activate; 0 unchanged, 1 error.\n"
    )
    # the campaign that carries the label is exempt, and is shown the same way
    write("digest", campaign("digest", labels=f"{{approved-by: {yaml_string(HOSTILE)}}}"))
    result = run("plan", "--format", "github")
    assert result.output == (
        "::warning file=campaigns/digest.yaml,line=7,col=10,title=reconciler::activate during "
        "freeze peak-season (reconciler.yaml:6, until Wed 2026-12-02 06:00 CET): allowed, as the "
        f"campaign is exempt (approved-by: {IN_TEXT})\n"
        "Plan: 1 to activate; 0 unchanged, 1 warning.\n"
    )


def test_a_hostile_segment_is_shown_escaped_in_a_cap_violation(repo: Path) -> None:
    segment = yaml_string(HOSTILE)
    write_policies(
        f"  frequencyCaps:\n    - name: one-a-day\n      segments: [{segment}]\n"
        "      max: 1\n      per: day\n"
    )
    write("digest", campaign("digest", segment=segment))
    write("other", campaign("other", segment=segment))
    said = (
        "frequency cap one-a-day (reconciler.yaml:5): segment {} gets 2 sendings on Sat "
        "2026-11-28 (at most 1 a day): digest, other; and 27 more days over the cap"
    )
    result = run("plan")
    assert result.exit_code == 1
    assert result.output.endswith(
        "Errors:\n"
        f"  campaigns/digest.yaml:10:23: {said.format(IN_TEXT)}\n"
        f"  campaigns/other.yaml:10:23: {said.format(IN_TEXT)}\n"
        "\n"
        "Plan: 2 to activate; 0 unchanged, 2 errors.\n"
    )
    result = run("plan", "--format", "markdown")
    assert (
        f"- `campaigns/digest.yaml:10:23`: {said.format(IN_MARKDOWN)}\n"
        f"- `campaigns/other.yaml:10:23`: {said.format(IN_MARKDOWN)}\n"
    ) in result.output


def test_a_hostile_time_zone_is_shown_escaped(repo: Path) -> None:
    write_policies(f"  timezone: {yaml_string(HOSTILE)}\n")
    result = run("validate")
    assert (result.exit_code, result.output) == (
        1,
        f"reconciler.yaml:4:13: policies.timezone: '{IN_TEXT}' is not a known IANA time zone (like "
        "'Europe/Amsterdam')\n"
        "Invalid: 1 error in 0 files.\n",
    )


def test_a_hostile_label_value_in_a_policy_change_is_shown_escaped(committed: str) -> None:
    write_policies(PEAK_SEASON + f"      campaigns: {{labels: {{team: {yaml_string(HOSTILE)}}}}}\n")
    result = run("plan")
    assert (result.exit_code, result.output) == (
        0,
        "This change edits the policies (reconciler.yaml):\n"
        f"  + policies.freezes.peak-season.campaigns.labels.team: {IN_JSON}\n"
        "\n"
        "No changes. 0 unchanged, 1 warning.\n"
        "\n"
        "Warnings:\n"
        "  no manifests under campaigns/\n",
    )
    result = run("plan", "--format", "markdown")
    assert result.output.startswith(
        "### reconciler plan\n"
        "\n"
        "#### This change edits the policies (`reconciler.yaml`)\n"
        "\n"
        "```diff\n"
        f"+ policies.freezes.peak-season.campaigns.labels.team: {IN_JSON}\n"
        "```\n"
    )


def test_policies_from_outside_git_is_one_error_line(repo: Path) -> None:
    result = run("plan", "--policies-from", "main")
    assert (result.exit_code, result.output) == (
        1,
        "error: --policies-from 'main': . is not in a git work tree\n",
    )
