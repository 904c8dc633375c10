"""What the schema accepts, the reconciler handles: no manifest that validates makes a command
crash (exit 3), and after a successful apply the plan is empty.

The manifests are drawn from the schema (``schema_strategies``), hostile text and edge-of-range
date-times included: `validate` and `plan` crashed on date-times in the year 10000 in UTC and on
leap seconds, which validated.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings

from factories import cli_environment
from reconciler.cli import cli
from schema_strategies import documents

EXAMPLES = 60


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 1), result.output  # 3 is a crash, with a traceback
    assert "Traceback" not in result.output
    return result


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(manifests=documents())
def test_what_the_schema_accepts_plans_applies_and_converges(
    manifests: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    for i, manifest in enumerate(manifests):
        text = yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False)
        (folder / f"m{i}.yaml").write_text(text, encoding="utf-8")
    cli_environment(monkeypatch, runtime=f"memory://accepted-{uuid.uuid4().hex}")
    monkeypatch.chdir(folder)
    validated = run("validate", ".")
    planned = run("plan", ".", "--format", "json")
    applied = run("apply", ".")
    event(f"validate {validated.exit_code}, plan {planned.exit_code}, apply {applied.exit_code}")
    if validated.exit_code == 1:  # only out-of-range values the schema's format admits
        assert (planned.exit_code, applied.exit_code) == (1, 1)
        return
    if applied.exit_code == 0:
        again = run("plan", ".", "--detailed-exitcode")
        assert again.exit_code == 0, again.output
        assert again.output.startswith("No changes."), again.output
