"""Builders for manifests, specs and runtimes that tests share."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from reconciler.model import DesiredState, Manifest, Position, Run, spec_hash

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
