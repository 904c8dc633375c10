"""`reconciler runtime create -f FILE`: campaigns made as a console makes them, from manifests."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from backends import HTTP_ACTOR, backend_url, served
from factories import FakeClock
from reconciler.cli import cli
from reconciler.model import Status
from reconciler.runtime.registry import open_runtime

FILE = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: winter-copy
spec:
  state: live
  copyFrom: winter
  content: {subject: "Copy", body: "B"}
---
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: winter
spec:
  state: live
  channel: email
  audience: {segment: everyone}
  content: {subject: "Winter", body: "B"}
  schedule:
    recurring: {every: week, "on": [mon], at: "09:00"}
---
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: banner
spec:
  state: live
  run: stopped
  channel: web
  content: {title: "T", body: "B"}
---
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: idea
spec:
  state: draft
  channel: sms
  audience: {segment: vip}
  content: {text: "Hi"}
"""


@pytest.mark.parametrize("backend", ["sqlite", "http"], indirect=True)
def test_runtime_create_makes_console_campaigns_a_copy_after_its_source(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = backend_url(backend, tmp_path, label="console", clock=FakeClock())
    (tmp_path / "console.yaml").write_text(FILE)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["runtime", "create", "-f", "console.yaml", "--runtime", url])
    by = f"{HTTP_ACTOR} (for console)" if served(backend) else "console"
    assert (result.exit_code, result.output) == (
        0,
        f"made winter: live version 1, by {by}, not managed\n"
        f"made winter-copy: live version 1, a copy of winter, by {by}, not managed\n"
        f"made banner: stopped version 1, by {by}, not managed\n"
        f"made idea: draft version 1, by {by}, not managed\n",
    )
    with open_runtime(url) as rt:
        campaigns = rt.snapshot().campaigns
        history = [(e.campaign, e.operation, e.actor) for e in rt.history()]
    assert {n: (c.status, c.managed, c.copied_from) for n, c in campaigns.items()} == {
        "winter": (Status.LIVE, False, None),
        "winter-copy": (Status.LIVE, False, "winter"),
        "banner": (Status.STOPPED, False, None),
        "idea": (Status.DRAFT, False, None),
    }
    copy = campaigns["winter-copy"]
    assert copy.copy_base == campaigns["winter"].live.spec  # type: ignore[union-attr]
    assert copy.live is not None and copy.live.spec["content"] == {"subject": "Copy", "body": "B"}
    assert history == [
        ("winter", "activate", by),
        ("winter-copy", "copy", by),
        ("banner", "activate", by),
        ("banner", "stop", by),
        ("idea", "create", by),
    ]


BAD = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: once
spec:
  state: live
  run: stopped
  channel: email
  audience: {segment: everyone}
  content: {subject: "S", body: "B"}
---
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: never
spec:
  state: draft
  run: stopped
  channel: web
  content: {title: "T", body: "B"}
---
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: copy
spec:
  state: draft
  copyFrom: nowhere
---
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: taken
spec:
  state: draft
  channel: web
  content: {title: "T", body: "B"}
"""


def test_nothing_is_made_when_any_campaign_cannot_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/rt.db"
    (tmp_path / "taken.yaml").write_text(BAD.split("---\n")[-1])
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["runtime", "create", "-f", "taken.yaml", "--runtime", url]).exit_code
        == 0
    )
    (tmp_path / "bad.yaml").write_text(BAD)
    result = runner.invoke(cli, ["runtime", "create", "-f", "bad.yaml", "--runtime", url])
    assert (result.exit_code, result.output) == (
        1,
        "bad.yaml:7:8: only recurring and inbound campaigns can be stopped; remove run: stopped\n"
        "bad.yaml:18:8: a campaign is made stopped only once live (activated, then stopped): set "
        "state: live\n"
        "bad.yaml:28:13: copyFrom names 'nowhere', which does not exist\n"
        "bad.yaml:33:9: campaign 'taken' already exists in the runtime\n"
        "Nothing was made: 4 errors.\n",
    )
    with open_runtime(url) as rt:
        assert (rt.revision(), list(rt.snapshot().campaigns)) == (1, ["taken"])
    invalid = runner.invoke(cli, ["runtime", "create", "-f", "missing.yaml", "--runtime", url])
    assert (invalid.exit_code, invalid.output) == (
        1,
        "missing.yaml:1:1: no such file or directory\nNothing was made: 1 error.\n",
    )


def test_an_adoption_is_saved_reviewed_and_applied_like_any_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_RUNTIME", f"sqlite:///{tmp_path}/rt.db")
    monkeypatch.setenv("RECONCILER_NOW", "2026-11-27T12:00:00Z")
    monkeypatch.delenv("RECONCILER_PLAN_KEY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    (tmp_path / "console.yaml").write_text(FILE)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args))
        return result.exit_code, result.output

    assert run("runtime", "create", "-f", "console.yaml")[0] == 0
    assert run("import", "--all")[0] == 0
    code, markdown = run("plan", "--format", "markdown", "--target", "idea")
    assert code == 0
    assert markdown == (
        "### reconciler plan\n\n**1 to adopt; 0 unchanged, 3 left out by --target**\n\n"
        "#### Adopt (1)\n\n- `<=` `idea` v1 · `campaigns/imported/idea.yaml` · made outside the "
        "reconciler (by console), and the manifest matches it: the reconciler takes over its "
        "management; the campaign is untouched\n"
    )
    code, text = run("plan", "--out", "plan.json")
    assert (code, text.splitlines()[0]) == (0, "Plan: 4 to adopt; 0 unchanged.")
    assert text.splitlines()[2] == " <= adopt    banner       v1"
    code, applied = run("apply", "--plan", "plan.json")
    assert code == 0, applied
    assert applied.endswith("Apply: 4 done, 0 failed, 0 skipped.\n")
    assert run("plan", "--detailed-exitcode") == (0, "No changes. 4 unchanged.\n")
