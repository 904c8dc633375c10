"""The command line, through click's runner: the exact text a user sees, and the exit codes."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from factories import EMAIL_YAML, cli_environment, git
from reconciler.cli import cli
from serving import in_thread

REPO = Path(__file__).resolve().parent.parent
#: the next sendings of the weekly campaign below, seen from RECONCILER_NOW
MONDAYS = "Mon 2026-11-30 09:00 UTC, Mon 2026-12-07 09:00 UTC, Mon 2026-12-14 09:00 UTC"

WEEKLY = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: weekly
spec:
  state: {state}
  run: {run}
  channel: email
  audience: {{segment: subscribers}}
  content: {{subject: "{subject}", body: "Hello"}}
  schedule:
    recurring: {{every: week, on: [mon], at: "09:00"}}
"""

ONCE = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: launch
spec:
  state: live
  channel: sms
  audience: {segment: everyone}
  content: {text: "We are live"}
"""


@pytest.fixture
def local_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with an empty campaigns/ folder and the embedded runtime, not made yet (the
    tests of what a new runtime file warns about)."""
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch)
    (tmp_path / "campaigns").mkdir()
    return tmp_path


@pytest.fixture(params=["local", "http"])
def repo(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A repository with an empty campaigns/ folder, its runtime the embedded one (``local``) or
    the same behind ``reconciler serve`` (``http``: a service on the pinned time, whose
    administrator's token is named as the tests' actor)."""
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch)
    (tmp_path / "campaigns").mkdir()
    if request.param == "local":
        yield tmp_path
        return
    now = datetime.fromisoformat(os.environ["RECONCILER_NOW"].replace("Z", "+00:00"))
    with in_thread(f"sqlite:///{tmp_path}/served.db", lambda: now, admin="tester") as served:
        monkeypatch.setenv("RECONCILER_RUNTIME", served.url)
        monkeypatch.setenv("RECONCILER_TOKEN", served.admin)
        yield tmp_path


def write(repo: Path, name: str, text: str) -> None:
    (repo / "campaigns" / name).write_text(text)


def weekly(state: str = "live", run: str = "running", subject: str = "Week") -> str:
    return WEEKLY.format(state=state, run=run, subject=subject)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_plan_apply_replan(local_repo: Path) -> None:
    write(local_repo, "weekly.yaml", weekly())
    write(local_repo, "launch.yaml", ONCE)
    result = run("plan")
    assert result.exit_code == 0
    assert result.output == (
        "Plan: 2 to activate; 0 unchanged, 1 warning.\n"
        "\n"
        "  + activate launch  v1\n"
        "      # new campaign; the manifest says live\n"
        "      # next sendings: on activation\n"
        '      + spec.audience.segment: "everyone"\n'
        '      + spec.channel: "sms"\n'
        '      + spec.content.text: "We are live"\n'
        "  + activate weekly  v1\n"
        "      # new campaign; the manifest says live\n"
        f"      # next sendings: {MONDAYS}\n"
        '      + spec.audience.segment: "subscribers"\n'
        '      + spec.channel: "email"\n'
        '      + spec.content.body: "Hello"\n'
        '      + spec.content.subject: "Week"\n'
        '      + spec.schedule.recurring.at: "09:00"\n'
        '      + spec.schedule.recurring.every: "week"\n'
        '      + spec.schedule.recurring.on: ["mon"]\n'
        "\n"
        "Warnings:\n"
        "  runtime sqlite:///.reconciler/runtime.db does not exist yet: planning against an "
        "empty runtime\n"
    )
    assert not (local_repo / ".reconciler" / "runtime.db").exists()  # plan changes nothing
    result = run("apply")
    assert result.exit_code == 0
    assert result.output.endswith(
        "  done    activate launch\n"
        "  done    activate weekly\n"
        "Apply: 2 done, 0 failed, 0 skipped.\n"
    )
    result = run("plan", "--detailed-exitcode")
    assert (result.exit_code, result.output) == (0, "No changes. 2 unchanged.\n")


def test_edit_replace_stop_and_detailed_exitcode(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly())
    assert run("apply").exit_code == 0
    write(repo, "weekly.yaml", weekly(subject="Weekly news"))
    result = run("plan", "--detailed-exitcode")
    assert (result.exit_code, result.output) == (
        2,
        "Plan: 1 to replace; 0 unchanged.\n"
        "\n"
        "-/+ replace  weekly  v1 -> v2\n"
        "      # spec changed; the new version replaces live version 1\n"
        f"      # next sendings: {MONDAYS}\n"
        '      ~ spec.content.subject: "Week" -> "Weekly news"\n',
    )
    assert run("apply").exit_code == 0
    write(repo, "weekly.yaml", weekly(subject="Weekly news", run="stopped"))
    result = run("apply")
    assert result.exit_code == 0
    assert result.output.startswith(
        "Plan: 1 to stop; 0 unchanged.\n"
        "\n"
        "  - stop     weekly  v2\n"
        "      # the manifest says run: stopped; the next sending, Mon 2026-11-30 09:00 UTC, is "
        "cancelled\n"
    )
    status = json.loads(run("status", "--format", "json").output)
    assert status["campaigns"][0] | {"etag": None, "live": None, "draft": None} == {
        "name": "weekly",
        "status": "stopped",
        "kind": "recurring",
        "channel": "email",
        "live_version": 2,
        "draft_version": None,
        "copied_from": None,
        "drift": None,
        "next_sending": None,
        "last_sending": None,
        "sending_in_progress": None,
        "managed": True,
        "etag": None,
        "live": None,
        "draft": None,
    }
    write(repo, "weekly.yaml", weekly(subject="Weekly news"))
    result = run("plan")
    assert result.exit_code == 1
    assert result.output == (
        "Nothing can be applied. 0 unchanged, 1 error.\n"
        "\n"
        "Errors:\n"
        "  campaigns/weekly.yaml:7:8: a stopped campaign cannot be restarted; "
        "duplicate it with copyFrom\n"
    )


def test_invalid_manifest_applies_nothing(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly())
    write(repo, "bad.yaml", weekly().replace("name: weekly", "name: other").replace(
        "state: live", "state: paused"))  # fmt: skip
    result = run("apply")
    assert result.exit_code == 1
    assert "campaigns/bad.yaml:6:10: spec.state: 'paused' is not one of ['draft', 'live']" in (
        result.output
    )
    assert result.output.startswith("Nothing can be applied. 0 unchanged, 1 error.\n\nErrors:\n")
    assert run("status").output == "No campaigns in the runtime.\n"


def test_validate(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly())
    assert (run("validate").exit_code, run("validate").output) == (
        0,
        "Valid: 1 campaign in 1 file.\n",
    )
    write(repo, "dup.yaml", weekly())
    result = run("validate")
    assert result.exit_code == 1
    assert result.output == (
        "campaigns/weekly.yaml:4:9: duplicate campaign name 'weekly': first defined at "
        "campaigns/dup.yaml:4:9\n"
        "Invalid: 1 error in 2 files.\n"
    )


def test_saved_plan_applies_once(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly())
    assert run("plan", "--out", "plan.json").exit_code == 0
    saved = json.loads((repo / "plan.json").read_text())
    assert [op["action"] for op in saved["operations"]] == ["activate"]
    assert saved["summary"]["activate"] == 1 and saved["runtime_revision"] == 0
    result = run("apply", "--plan", "plan.json")
    assert result.exit_code == 0, result.output
    # applied again (a CI job retried after its apply was killed once done): nothing is redone,
    # and it is no failure
    result = run("apply", "--plan", "plan.json")
    assert (result.exit_code, result.output) == (
        0,
        f"the saved plan {saved['plan_id']} was already applied (2026-11-27T12:00:00.000Z by "
        "tester); nothing was applied again\n",
    )


def test_saved_plan_is_refused_when_its_campaign_moved(repo: Path) -> None:
    write(repo, "launch.yaml", ONCE)
    assert run("apply").exit_code == 0
    write(repo, "weekly.yaml", weekly())
    assert run("plan", "--out", "plan.json").exit_code == 0
    write(repo, "weekly.yaml", weekly(subject="Another week"))
    assert run("apply").exit_code == 0
    result = run("apply", "--plan", "plan.json")
    assert (result.exit_code, result.output) == (
        1,
        "error: campaigns of this plan changed since it was made: weekly; nothing was applied. "
        "Plan again\n",
    )


def test_plan_json_has_the_design_fields(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly())
    body = json.loads(run("plan", "--format", "json").output)
    assert set(body) >= {
        "format_version", "runtime_revision", "summary", "operations", "errors", "warnings",
    }  # fmt: skip
    op = body["operations"][0]
    assert set(op) >= {
        "campaign", "action", "file", "reason", "from_version", "to_version", "changes",
    }  # fmt: skip
    assert op["file"] == "campaigns/weekly.yaml"
    assert op["changes"][0] == {
        "path": "spec.audience.segment",
        "before": None,
        "after": "subscribers",
    }


def test_markdown_plan(local_repo: Path) -> None:
    write(local_repo, "weekly.yaml", weekly())
    out = run("plan", "--format", "markdown").output
    assert out.startswith(
        "### reconciler plan\n\n**1 to activate; 0 unchanged; 1 warning**\n\n#### Activate (1)\n\n"
        "- `+` `weekly` v1 · `campaigns/weekly.yaml` · new campaign; the manifest says live · "
        f"next sendings: {MONDAYS}\n"
        "  <details><summary>7 fields changed</summary>\n"
    )


def test_history_and_status_of_an_absent_runtime(repo: Path) -> None:
    assert run("status").output == "No campaigns in the runtime.\n"
    assert run("history").output == "No history yet.\n"
    assert json.loads(run("status", "--format", "json").output) == {"campaigns": []}
    assert not (repo / ".reconciler" / "runtime.db").exists()
    write(repo, "weekly.yaml", weekly())
    run("apply")
    lines = run("history", "weekly").output.splitlines()
    assert lines[0].split() == [
        "REV", "AT", "ACTOR", "OPERATION", "CAMPAIGN", "VERSION", "COMMIT", "FILE",
    ]  # fmt: skip
    assert lines[1].split()[2:] == [
        "tester",
        "activate",
        "weekly",
        "v1",
        "-",
        "campaigns/weekly.yaml",
    ]


def test_unknown_runtime_scheme(repo: Path) -> None:
    result = run("status", "--runtime", "oracle://db/x")
    assert (result.exit_code, result.output) == (
        1,
        "error: unknown runtime URL 'oracle://db/x'; known kinds: http://HOST:PORT, https://HOST, "
        "memory://[NAME], "
        "postgresql://USER@HOST/DB, sqlite:///PATH\n",
    )


def test_an_unknown_runtime_url_is_named_without_its_password(repo: Path) -> None:
    result = run("plan", "--runtime", "mysql://deploy:s3cret@db.internal:3306/campaigns")
    assert (result.exit_code, result.output) == (
        1,
        "error: unknown runtime URL 'mysql://deploy:***@db.internal:3306/campaigns'; known kinds: "
        "http://HOST:PORT, https://HOST, memory://[NAME], postgresql://USER@HOST/DB, sqlite:///PATH\n",
    )


def test_usage_errors_exit_1_not_2(repo: Path) -> None:
    result = run("apply", "campaigns", "--plan", "x.json")
    assert result.exit_code == 1
    assert "--plan FILE applies a saved plan as it is: give no PATH, --prune or --target" in (
        result.output
    )


def test_missing_path(repo: Path) -> None:
    result = run("validate", "nowhere")
    assert result.exit_code == 1
    assert result.output == "nowhere:1:1: no such file or directory\nInvalid: 1 error in 0 files.\n"


def test_the_readme_quick_start_on_the_example_campaigns(local_repo: Path) -> None:
    shutil.rmtree(local_repo / "campaigns")
    shutil.copytree(REPO / "campaigns", local_repo / "campaigns")
    result = run("plan")
    assert result.exit_code == 0
    assert result.output.endswith(
        "Warnings:\n"
        "  runtime sqlite:///.reconciler/runtime.db does not exist yet: planning against an "
        "empty runtime\n"
        "\n"
        "Plan: 1 to create, 9 to activate, 1 to copy; 0 unchanged, 1 warning.\n"
    )
    assert run("apply").exit_code == 0
    assert run("plan").output == "No changes. 11 unchanged.\n"


def test_apply_records_the_commit_the_plan_was_made_from(repo: Path) -> None:
    git(repo, "init", "-q")
    write(repo, "weekly.yaml", weekly())
    git(repo, "add", "campaigns")
    git(repo, "commit", "-qm", "weekly")
    planned_at = git(repo, "rev-parse", "HEAD")
    assert run("plan", "--out", "plan.json").exit_code == 0
    write(repo, "launch.yaml", ONCE)
    git(repo, "add", "campaigns")
    git(repo, "commit", "-qm", "launch")  # HEAD moves on before the saved plan is applied
    assert run("apply", "--plan", "plan.json").exit_code == 0
    history = json.loads(run("history", "--format", "json").output)["history"]
    assert [(e["campaign"], e["commit"], e["actor"]) for e in history] == [
        ("weekly", planned_at, "tester")
    ]
    status = json.loads(run("status", "weekly", "--format", "json").output)
    assert status["campaigns"][0]["live"]["commit"] == planned_at


def test_a_plan_that_cannot_be_saved_is_an_error_not_a_traceback(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly())
    result = run("plan", "--out", "missing/plan.json")
    assert (result.exit_code, result.output) == (
        1,
        "error: cannot save the plan to missing/plan.json: No such file or directory\n",
    )


def test_prune_is_refused_where_it_would_stop_campaigns_by_mistake(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly())
    write(repo, "launch.yaml", ONCE.replace("channel: sms", "channel: sms\n  run: running"))
    assert run("apply").exit_code == 0
    # one file of the repository: the others are not orphans, and --prune is refused
    result = run("plan", "campaigns/launch.yaml")
    assert (result.exit_code, result.output) == (0, "No changes. 1 unchanged.\n")
    result = run("apply", "campaigns/launch.yaml", "--prune")
    assert (result.exit_code, result.output) == (
        1,
        "error: --prune needs the whole manifest directory: campaigns/launch.yaml is one file, "
        "and every campaign outside it would look removed\n",
    )
    (repo / "empty").mkdir()
    result = run("apply", "empty", "--prune")
    assert (result.exit_code, result.output) == (
        1,
        "error: --prune refused: there are no manifests under empty, so every campaign would be "
        "stopped; check the path\n",
    )
    assert [
        c["status"] for c in json.loads(run("status", "--format", "json").output)["campaigns"]
    ] == [
        "live",
        "live",
    ]


def test_validate_reports_copy_cycles(repo: Path) -> None:
    body = "apiVersion: reconciler/v1\nkind: Campaign\nmetadata: {{name: {0}}}\n"
    body += "spec:\n  state: live\n  copyFrom: {1}\n"
    write(repo, "a.yaml", body.format("a", "b"))
    write(repo, "b.yaml", body.format("b", "a"))
    write(repo, "c.yaml", body.format("c", "a"))
    result = run("validate")
    assert (result.exit_code, result.output) == (
        1,
        "campaigns/a.yaml:6:13: copyFrom forms a cycle: a -> b -> a; a copy needs a source that "
        "exists\n"
        "campaigns/b.yaml:6:13: copyFrom forms a cycle: b -> a -> b; a copy needs a source that "
        "exists\n"
        "Invalid: 2 errors in 3 files.\n",
    )


@pytest.mark.parametrize("args", [[], ["--bogus"], ["nosuch"], ["plan", "--bogus"]])
def test_command_line_mistakes_exit_1(repo: Path, args: list[str]) -> None:
    assert CliRunner().invoke(cli, args).exit_code == 1


def test_apply_takes_a_saved_plan_as_its_path_too(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly())
    assert run("plan", "--out", "plan.json").exit_code == 0
    result = run("apply", "plan.json")
    assert result.exit_code == 0
    assert result.output.endswith("Apply: 1 done, 0 failed, 0 skipped.\n")


def test_status_of_an_unknown_campaign_is_an_error(repo: Path) -> None:
    result = run("status", "nosuch")
    assert (result.exit_code, result.output) == (
        1,
        "error: no campaign named 'nosuch' in the runtime\n",
    )


def test_history_shows_the_version_each_operation_wrote_and_its_changes(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly())
    run("apply")
    write(repo, "weekly.yaml", weekly(state="draft", subject="Staged"))
    run("apply")
    write(repo, "weekly.yaml", weekly(subject="Staged\\u202e"))  # YAML's escape: U+202E
    run("apply")
    at, file = "2026-11-27T12:00:00.000Z", "campaigns/weekly.yaml"
    assert run("history").output == (  # newest first; each write's field changes, as plan shows
        "REV  AT                        ACTOR   OPERATION  CAMPAIGN  VERSION  COMMIT  FILE\n"
        f"3    {at}  tester  replace    weekly    v3       -       {file}\n"
        '      ~ spec.content.subject: "Week" -> "Staged\\u202e"\n'
        f"2    {at}  tester  update     weekly    v2       -       {file}\n"
        '      ~ spec.content.subject: "Week" -> "Staged"\n'
        f"1    {at}  tester  activate   weekly    v1       -       {file}\n"
        '      + spec.audience.segment: "subscribers"\n'
        '      + spec.channel: "email"\n'
        '      + spec.content.body: "Hello"\n'
        '      + spec.content.subject: "Week"\n'
        '      + spec.schedule.recurring.at: "09:00"\n'
        '      + spec.schedule.recurring.every: "week"\n'
        '      + spec.schedule.recurring.on: ["mon"]\n'
    )


def test_in_github_actions_plan_annotates_and_fills_the_step_summary(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = repo / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write(repo, "weekly.yaml", weekly(run="stopped"))
    result = run("plan")
    assert result.exit_code == 1
    assert result.output.startswith(
        "::error file=campaigns/weekly.yaml,line=7,col=8,title=reconciler::a new campaign cannot "
        "start stopped;"
    )
    text = summary.read_text()
    assert text.startswith("earlier step\n### ")  # appended, never overwritten
    assert "a new campaign cannot start stopped" in text
    # an explicit format wins over the automatic one, and writes no summary: a workflow that
    # plans in several formats shows its plan once
    assert run("plan", "--format", "text").output.startswith("Nothing can be applied.")
    assert run("plan", "--format", "markdown").output.startswith("### reconciler plan")
    assert run("plan", "--format", "json").exit_code == 1
    assert summary.read_text() == text


def test_apply_writes_its_plan_and_verdict_to_the_step_summary(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = repo / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    write(repo, "weekly.yaml", weekly())
    assert run("apply").exit_code == 0
    assert summary.read_text().endswith("\n**Apply: 1 done, 0 failed, 0 skipped.**\n\n")
    summary.unlink()
    write(repo, "weekly.yaml", weekly(run="stopped").replace("Week", "Changed"))
    write(repo, "launch.yaml", ONCE.replace("state: live", "state: live\n  run: stopped"))
    assert run("apply").exit_code == 1
    assert summary.read_text().endswith("\n**Nothing was applied: 1 error.**\n\n")


def test_apply_with_errors_ends_with_its_verdict(repo: Path) -> None:
    """CI logs were misread: the plan and its errors, then nothing to say nothing was applied."""
    write(repo, "weekly.yaml", weekly(run="stopped"))
    result = run("apply")
    assert result.exit_code == 1
    assert result.output.endswith(
        "a new campaign cannot start stopped; set run: running (or remove run), and stop it "
        "once it is live\n\nNothing was applied: 1 error.\n"
    )


def test_history_marks_uncommitted_manifests_and_filters_since(repo: Path) -> None:
    git(repo, "init", "-q")
    write(repo, "weekly.yaml", weekly())
    git(repo, "add", "campaigns")
    git(repo, "commit", "-qm", "weekly")
    head = git(repo, "rev-parse", "HEAD")
    write(repo, "launch.yaml", ONCE)  # not committed
    assert run("apply").exit_code == 0
    lines = run("history").output.splitlines()[1:]
    rows = [line.split() for line in lines if not line.startswith(" ")]  # not field changes
    assert [(r[4], r[6]) for r in rows] == [
        ("weekly", head[:12] + "-dirty"),
        ("launch", head[:12] + "-dirty"),
    ]
    assert run("history", "--since", "2999-01-01").output == (
        "No history since 2999-01-01T00:00:00.000Z (2 entries before).\n"
    )
    assert run("history", "--since", "2026-11-27T12:00:00Z").output.startswith("REV  AT")
    assert run("history", "nosuch", "--since", "2999-01-01").output == "No history yet.\n"
    result = run("history", "--since", "soon")
    assert result.exit_code == 1
    assert result.output.startswith("error: --since 'soon': expected a date or date-time")


def test_calendar_flags_two_campaigns_to_one_segment_on_one_day(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly())
    write(repo, "other.yaml", weekly().replace("name: weekly", "name: other"))
    result = run("calendar", "--from", "2026-11-30", "--days", "2")
    assert result.exit_code == 0
    assert result.output == (
        "Sendings 2026-11-30 to 2026-12-01, times in UTC\n"
        "Mon 2026-11-30\n"
        "  09:00  other   email  subscribers\n"
        "  09:00  weekly  email  subscribers\n"
        "  ! clash: segment subscribers gets 2 sendings: other, weekly\n"
        "Tue 2026-12-01\n"
        "  no sendings\n"
        "2 sendings, 1 clash\n"
    )


def test_calendar_of_invalid_manifests_shows_the_errors(repo: Path) -> None:
    write(repo, "weekly.yaml", weekly(state="paused"))
    result = run("calendar", "--days", "1")
    assert result.exit_code == 1
    assert result.output.startswith("campaigns/weekly.yaml:6:10: spec.state: 'paused' is not one")


def test_a_file_name_that_is_not_utf8_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name reached the parse cache and the output undecodable: validate and plan crashed."""
    cli_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "campaigns").mkdir()
    name = os.fsdecode(b"campaigns/a\xff\xfe.yaml")
    Path(name).write_text(EMAIL_YAML.format(name="odd-name", subject="Hi"))
    assert run("validate").output == "Valid: 1 campaign in 1 file.\n"
    result = run("plan", "--format", "json")
    assert result.exit_code == 0, result.output
    (operation,) = json.loads(result.output)["operations"]
    assert operation["file"] == "campaigns/a\\xff\\xfe.yaml"


ONE_TIME_SMS = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {{name: launch}}
spec:
  state: live
  channel: sms
  audience: {{segment: everyone}}
  content:
    text: "{text}"
  schedule:
    once: {{at: "{at}"}}
    timezone: Europe/Amsterdam
"""


def test_a_one_time_campaign_whose_sending_has_passed_is_refused_at_its_time(
    local_repo: Path,
) -> None:
    """It activated silently, was completed at the next tick with its sending skipped, and could
    never be edited again."""
    write(local_repo, "launch.yaml", ONE_TIME_SMS.format(text="Go", at="2026-11-27T08:00:00+01:00"))
    result = run("plan")
    assert (result.exit_code, result.output) == (
        1,
        "Nothing can be applied. 0 unchanged, 1 error, 1 warning.\n"
        "\n"
        "Warnings:\n"
        "  runtime sqlite:///.reconciler/runtime.db does not exist yet: planning against an "
        "empty runtime\n"
        "\n"
        "Errors:\n"
        "  campaigns/launch.yaml:11:16: its only sending, Fri 2026-11-27 08:00 CET, has passed "
        "(now is Fri 2026-11-27 13:00 CET): activated, it would send nothing and be completed. "
        "Set a future time, or remove schedule.once to send it on activation\n",
    )
    write(local_repo, "launch.yaml", ONE_TIME_SMS.format(text="Go", at="2026-11-27T18:00:00+01:00"))
    assert run("plan").output.startswith("Plan: 1 to activate; 0 unchanged, 1 warning.\n")


def test_a_refused_change_is_placed_at_the_changed_field(repo: Path) -> None:
    """It was placed at spec (the state line) and named no field: on GitHub the annotation fell
    outside the diff, and the reviewer never saw it by the changed line."""
    write(repo, "launch.yaml", ONE_TIME_SMS.format(text="Go", at="2026-11-28T09:00:00+01:00"))
    assert run("apply").exit_code == 0
    write(repo, "launch.yaml", ONE_TIME_SMS.format(text="Went", at="2026-11-28T09:00:00+01:00"))
    result = run("plan", "--format", "github")
    assert result.output == (
        "::error file=campaigns/launch.yaml,line=9,col=11,title=reconciler::spec.content.text "
        "changed: one-time campaigns cannot be modified once live; duplicate it with copyFrom\n"
        "Nothing can be applied. 0 unchanged, 1 error.\n"
    )


def test_empty_inputs_are_warned_about_with_their_place(repo: Path) -> None:
    """An empty manifest folder planned 'No changes. 0 unchanged.', and a mistyped runtime path
    planned everything as new, in silence."""
    result = run("plan", "--runtime", "sqlite:///nonexistent-dir/x.db")
    assert (result.exit_code, result.output) == (
        0,
        "No changes. 0 unchanged, 2 warnings.\n"
        "\n"
        "Warnings:\n"
        "  no manifests under campaigns/\n"
        "  runtime sqlite:///nonexistent-dir/x.db does not exist yet: planning against an empty "
        "runtime\n",
    )
    assert not (repo / "nonexistent-dir").exists()
    assert run("plan", "--format", "github", "--runtime", "memory://").output == (
        "::warning title=reconciler::no manifests under campaigns/\n"
        "No changes. 0 unchanged, 1 warning.\n"
    )
