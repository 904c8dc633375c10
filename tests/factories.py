"""Builders for manifests, specs and runtimes that tests share."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.model import Campaign, DesiredState, Manifest, Position, Run, spec_hash
from reconciler.runtime.registry import open_runtime

EMAIL = {
    "channel": "email",
    "audience": {"segment": "newsletter"},
    "content": {"subject": "Hello", "body": "Body"},
}
ONE_TIME = {**EMAIL, "schedule": {"once": {"at": "2026-01-01T09:00:00+00:00"}}}
RECURRING = {
    **EMAIL,
    "schedule": {"recurring": {"every": "week", "on": ["mon"], "at": "09:00"}},
}
INBOUND = {"channel": "in-app", "content": {"title": "Hi", "body": "There"}}
SPECS = {"one-time": ONE_TIME, "recurring": RECURRING, "inbound": INBOUND}

#: manifest files, to fill in with str.format: a one-time email, a recurring push, an in-app one
EMAIL_YAML = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: {name}
spec:
  state: live
  channel: email
  audience: {{segment: newsletter}}
  content: {{subject: {subject}, body: Hello}}
"""
PUSH_YAML = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {{name: {name}}}
spec:
  state: live
  channel: push
  audience: {{segment: hunters}}
  content: {{title: "{title}", body: "Today only"}}
  schedule:
    recurring: {{cron: "0 12 * * MON-FRI"}}
"""
IN_APP_YAML = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {{name: {name}}}
spec:
  state: live
  channel: in-app
  content: {{title: "{title}", body: "There"}}
"""


def cli_environment(
    monkeypatch: pytest.MonkeyPatch,
    runtime: str = "sqlite:///.reconciler/runtime.db",
    now: str | None = "2026-11-27T12:00:00Z",
) -> None:
    """What a CLI test runs in: a runtime, an actor, a pinned now (or the clock's), no CI."""
    monkeypatch.setenv("RECONCILER_RUNTIME", runtime)
    monkeypatch.setenv("RECONCILER_ACTOR", "tester")
    if now is None:
        monkeypatch.delenv("RECONCILER_NOW", raising=False)
    else:
        monkeypatch.setenv("RECONCILER_NOW", now)
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_ACTOR"):
        monkeypatch.delenv(name, raising=False)


def manifest(
    name: str,
    spec: dict[str, Any] | None = None,
    *,
    state: str = "live",
    run: str = "running",
    copy_from: str | None = None,
    file: str | None = None,
) -> Manifest:
    body = dict(RECURRING if spec is None else spec)
    return Manifest(
        name=name,
        file=file or f"campaigns/{name}.yaml",
        position=Position(1, 1),
        state=DesiredState(state),
        run=Run(run),
        spec=body,
        copy_from=copy_from,
        hash=spec_hash({"name": name, "state": state, "run": run, "spec": body, "copy": copy_from}),
    )


def with_subject(spec: dict[str, Any], subject: str) -> dict[str, Any]:
    return {**spec, "content": {**spec["content"], "subject": subject}}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` as a fixed test author; its output, stripped."""
    out = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.strip()


def campaigns(url: str) -> dict[str, Campaign]:
    """What the runtime at ``url`` holds, read through a connection of its own."""
    runtime = open_runtime(url)
    try:
        return dict(runtime.snapshot().campaigns)
    finally:
        runtime.close()


class FakeClock:
    """A runtime's clock that moves only when told to (June 1st 2026, noon UTC, to begin with)."""

    def __init__(self, now: datetime = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
