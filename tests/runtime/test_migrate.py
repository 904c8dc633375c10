"""`reconciler runtime migrate`: a runtime copied whole into an empty one, verified, under an
identity of its own; refused into one that is not empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from backends import STORE_BACKENDS, backend_url
from factories import EMAIL_YAML, PUSH_YAML, cli_environment
from reconciler.cli import cli
from reconciler.runtime.registry import open_runtime


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def everything(url: str) -> dict[str, object]:
    """What a runtime holds, as a reader sees it (not its identity)."""
    with open_runtime(url) as rt:
        return {
            "campaigns": {n: c.to_json() for n, c in rt.snapshot().campaigns.items()},
            "history": [e.to_json() for e in rt.history()],
            "sendings": [s.to_json() for s in rt.sendings()],
            "keys": sorted(rt.applied_keys("")),
            "revision": rt.snapshot().revision,
        }


@pytest.fixture
def used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local runtime that has seen some use: applies, a console edit, a tick, a segment."""
    url = f"sqlite:///{tmp_path}/local.db"
    cli_environment(monkeypatch, runtime=url)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "news.yaml").write_text(EMAIL_YAML.format(name="news", subject="A"))
    (tmp_path / "campaigns" / "deal.yaml").write_text(PUSH_YAML.format(name="deal", title="Deal"))
    assert run("apply").exit_code == 0
    (tmp_path / "campaigns" / "deal.yaml").write_text(PUSH_YAML.format(name="deal", title="New"))
    assert run("apply").exit_code == 0
    assert run("runtime", "edit", "deal", "--set", "content.body=Edited").exit_code == 0
    assert run("runtime", "segment", "hunters", "--size", "500").exit_code == 0
    assert run("runtime", "tick", "--now", "2026-11-27T12:00:05Z").exit_code == 0
    return url


@pytest.mark.parametrize("target", STORE_BACKENDS)
def test_a_runtime_is_copied_whole_and_the_copy_reads_back_the_same(
    used: str, target: str, tmp_path: Path
) -> None:
    copy = backend_url(target, tmp_path, label="copy", file="copy.db")
    result = run("runtime", "migrate", "--from", used, "--to", copy)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "copied 2 campaigns, 6 history entries, 2 sendings, 1 segment, 4 idempotency keys "
        "(revision 6)"
    )
    assert lines[1].startswith(f"from {used} to {copy}; the copy reads back the same (sha256:")
    assert everything(copy) == everything(used)
    with open_runtime(used) as source, open_runtime(copy) as copied:
        assert copied.runtime_id() not in (None, source.runtime_id())  # an identity of its own
    # the same manifests plan the same against the copy (the console edit's drift included)
    assert run("plan", "--runtime", copy).output == run("plan", "--runtime", used).output


def test_a_saved_plan_for_the_source_is_not_one_for_the_copy(used: str, tmp_path: Path) -> None:
    (tmp_path / "campaigns" / "news.yaml").write_text(EMAIL_YAML.format(name="news", subject="B"))
    assert run("plan", "--out", "plan.json").exit_code == 1  # one-time: refused, but saved
    copy = f"sqlite:///{tmp_path}/copy.db"
    assert run("runtime", "migrate", "--from", used, "--to", copy).exit_code == 0
    saved = json.loads(Path("plan.json").read_text())
    with open_runtime(used) as source:
        assert saved["runtime_id"] == source.runtime_id()
    with open_runtime(copy) as copied:
        assert saved["runtime_id"] != copied.runtime_id()


def test_a_runtime_is_copied_only_into_an_empty_one(used: str, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path}/other.db"
    assert run("runtime", "segment", "vip", "--size", "3", "--runtime", other).exit_code == 0
    before = everything(other)
    result = run("runtime", "migrate", "--from", used, "--to", other)
    assert (result.exit_code, result.output) == (
        1,
        f"error: runtime {other} is not empty (revision 0): a runtime is copied only into an "
        "empty one; nothing was copied\n",
    )
    assert everything(other) == before
    result = run("runtime", "migrate", "--from", used, "--to", used)
    assert result.exit_code == 1
    assert "is not empty (revision 6)" in result.output
