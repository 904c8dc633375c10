"""`reconciler calendar` through click's runner: copies (of campaigns in the repository and of
campaigns only the runtime holds), the first day in the calendar's zone, and the zone said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from factories import cli_environment
from reconciler.cli import cli

DIGEST = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: digest}
spec:
  state: live
  channel: email
  audience: {segment: subscribers}
  content: {subject: "Week", body: "Hello"}
  schedule:
    recurring: {every: week, on: [mon, thu], at: "09:00"}
    timezone: Europe/Amsterdam
"""

#: a copy without a schedule of its own (the source's), to another segment
DIGEST_NL = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: digest-nl}
spec:
  state: live
  copyFrom: digest
  audience: {segment: subscribers-nl}
  content: {subject: "Week (NL)"}
"""

#: a copy with a schedule of its own (laid over the source's), to its source's segment: a clash
#: on Tuesday
DIGEST_EXTRA = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: digest-extra}
spec:
  state: live
  copyFrom: digest
  schedule:
    recurring: {every: week, on: [tue], at: "18:00"}
"""

LAUNCH = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: launch}
spec:
  state: live
  channel: sms
  audience: {segment: subscribers}
  content: {text: "We are live"}
  schedule:
    once: {at: "2026-12-01T12:00:00Z"}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch, runtime=f"sqlite:///{tmp_path / 'runtime.db'}")
    (tmp_path / "campaigns").mkdir()
    return tmp_path


def write(repo: Path, name: str, text: str) -> None:
    (repo / "campaigns" / name).write_text(text)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_copies_are_shown_with_their_sources_specs(repo: Path) -> None:
    """digest-nl sends on its source's days; digest-extra's one sending clashes with launch,
    a clash that only shows once copies are counted."""
    write(repo, "digest.yaml", DIGEST)
    write(repo, "digest-nl.yaml", DIGEST_NL)
    write(repo, "digest-extra.yaml", DIGEST_EXTRA)
    write(repo, "launch.yaml", LAUNCH)
    result = run("calendar", "--from", "2026-11-30", "--days", "2", "--zone", "Europe/Amsterdam")
    assert result.exit_code == 0
    assert result.output == (
        "Sendings 2026-11-30 to 2026-12-01, times in Europe/Amsterdam (CET)\n"
        "Mon 2026-11-30\n"
        "  09:00  digest        email  subscribers\n"
        "  09:00  digest-nl     email  subscribers-nl\n"
        "Tue 2026-12-01\n"
        "  13:00  launch        sms    subscribers\n"
        "  18:00  digest-extra  email  subscribers\n"
        "  ! clash: segment subscribers gets 2 sendings: digest-extra, launch\n"
        "4 sendings, 1 clash\n"
    )


def test_a_copy_of_a_campaign_only_the_runtime_holds(repo: Path) -> None:
    """The source's manifest is gone after it was applied: its live spec is read from the
    runtime, the one --runtime names; a runtime without it cannot resolve the copy."""
    write(repo, "digest.yaml", DIGEST)
    assert run("apply").exit_code == 0
    (repo / "campaigns" / "digest.yaml").unlink()
    write(repo, "digest-nl.yaml", DIGEST_NL)
    result = run("calendar", "--from", "2026-12-03", "--days", "1", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "zone": "UTC",
        "from": "2026-12-03",
        "to": "2026-12-03",
        "summary": {"sendings": 1, "clashes": 0},
        "days": [
            {
                "date": "2026-12-03",
                "weekday": "Thu",
                "sendings": [
                    {
                        "at": "2026-12-03T08:00:00+00:00",
                        "campaign": "digest-nl",
                        "channel": "email",
                        "segment": "subscribers-nl",
                        "state": "live",
                    }
                ],
                "clashes": [],
            }
        ],
        "capped": [],
        "not_shown": [],
        "truncated": [],
    }
    elsewhere = f"sqlite:///{repo / 'elsewhere.db'}"
    result = run("calendar", "--from", "2026-12-03", "--days", "1", "--runtime", elsewhere)
    assert result.exit_code == 0
    assert result.output == (
        "Sendings 2026-12-03 to 2026-12-03, times in UTC\n"
        "Thu 2026-12-03\n"
        "  no sendings\n"
        "0 sendings, 0 clashes\n"
        "not shown: digest-nl: copyFrom names 'digest', which does not exist\n"
    )
    assert not (repo / "elsewhere.db").exists()  # read only: a runtime that is not there is empty


def test_a_copy_whose_spec_is_invalid_once_copied_is_not_shown(repo: Path) -> None:
    """A schedule is laid over the source's key by key: once over recurring is both."""
    write(repo, "digest.yaml", DIGEST)
    write(
        repo,
        "digest-extra.yaml",
        DIGEST_EXTRA.replace(
            'recurring: {every: week, on: [tue], at: "18:00"}', 'once: {at: "2026-12-01T18:00:00Z"}'
        ),
    )
    result = run("calendar", "--from", "2026-12-01", "--days", "1")
    assert result.output == (
        "Sendings 2026-12-01 to 2026-12-01, times in UTC\n"
        "Tue 2026-12-01\n"
        "  no sendings\n"
        "0 sendings, 0 clashes\n"
        "not shown: digest-extra: spec.schedule: a schedule needs exactly one of 'once' or "
        "'recurring' (after copying from 'digest')\n"
    )


def test_a_copy_of_a_draft_is_not_shown(repo: Path) -> None:
    write(repo, "digest.yaml", DIGEST.replace("state: live", "state: draft"))
    write(repo, "digest-nl.yaml", DIGEST_NL)
    result = run("calendar", "--from", "2026-11-30", "--days", "1")
    assert result.output == (
        "Sendings 2026-11-30 to 2026-11-30, times in UTC\n"
        "Mon 2026-11-30\n"
        "  08:00  digest  email  subscribers  (draft)\n"
        "1 sending, 0 clashes\n"
        "not shown: digest-nl: copyFrom names 'digest', which has never been live; only a "
        "campaign that has been live can be duplicated\n"
    )


def test_without_from_the_calendar_starts_today_in_its_zone(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """23:30 UTC on the 27th is 12:30 on the 28th in Auckland: the UTC date lay in the past."""
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-27T23:30:00Z")
    write(repo, "launch.yaml", LAUNCH.replace("2026-12-01T12:00:00Z", "2026-11-28T09:00:00+13:00"))
    result = run("calendar", "--days", "1", "--zone", "Pacific/Auckland")
    assert result.exit_code == 0
    assert result.output == (
        "Sendings 2026-11-28 to 2026-11-28, times in Pacific/Auckland (NZDT)\n"
        "Sat 2026-11-28\n"
        "  09:00  launch  sms  subscribers\n"
        "1 sending, 0 clashes\n"
    )


def test_across_a_change_of_offset_every_time_says_its_abbreviation(repo: Path) -> None:
    """Amsterdam leaves summer time on 2026-10-25: one abbreviation in the heading would lie."""
    write(repo, "digest.yaml", DIGEST.replace("[mon, thu]", "[sat, sun, mon]"))
    result = run("calendar", "--from", "2026-10-24", "--days", "3", "--zone", "Europe/Amsterdam")
    assert result.output == (
        "Sendings 2026-10-24 to 2026-10-26, times in Europe/Amsterdam\n"
        "Sat 2026-10-24\n"
        "  09:00 CEST  digest  email  subscribers\n"
        "Sun 2026-10-25\n"
        "  09:00 CET   digest  email  subscribers\n"
        "Mon 2026-10-26\n"
        "  09:00 CET   digest  email  subscribers\n"
        "3 sendings, 0 clashes\n"
    )
    result = run("calendar", "--from", "2026-10-24", "--days", "1", "--format", "json")
    assert json.loads(result.output)["days"][0]["sendings"][0]["at"] == "2026-10-24T07:00:00+00:00"


def test_the_runtime_is_read_only_for_copies(repo: Path) -> None:
    """Without copies the calendar needs no runtime: it works offline, whatever --runtime says."""
    write(repo, "launch.yaml", LAUNCH)
    result = run("calendar", "--from", "2026-12-01", "--days", "1", "--runtime", "nope://x")
    assert (result.exit_code, result.output) == (
        0,
        "Sendings 2026-12-01 to 2026-12-01, times in UTC\n"
        "Tue 2026-12-01\n"
        "  12:00  launch  sms  subscribers\n"
        "1 sending, 0 clashes\n",
    )
    write(repo, "digest-nl.yaml", DIGEST_NL)
    result = run("calendar", "--from", "2026-12-01", "--days", "1", "--runtime", "nope://x")
    assert result.exit_code == 1
    assert result.output.startswith("error: unknown runtime URL 'nope://x'; known kinds: ")
