"""Provenance and audit: the commit, the file, uncommitted changes and the actor, on every version
and history entry; --require-clean; history newest first, by campaign and --since."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from factories import IN_APP_YAML, git
from reconciler import api, render
from reconciler.errors import PlanError
from reconciler.history import History
from reconciler.plan import FieldChange
from reconciler.runtime.registry import open_runtime
from reconciler.runtime.sqlite import SCHEMA_VERSION

DIGEST = IN_APP_YAML


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("RECONCILER_RUNTIME", "RECONCILER_ACTOR", "GITHUB_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "campaigns").mkdir()
    git(tmp_path, "init", "-q")
    return tmp_path


def put(repo: Path, name: str, title: str = "Hi") -> None:
    (repo / "campaigns" / f"{name}.yaml").write_text(DIGEST.format(name=name, title=title))


def commit(repo: Path) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")
    return git(repo, "rev-parse", "HEAD")


OPTIONS = api.Options(runtime_url="sqlite:///.reconciler/runtime.db", actor="ci-bot")


def test_versions_and_history_record_commit_file_dirty_and_actor(repo: Path) -> None:
    put(repo, "a")
    head = commit(repo)
    assert api.apply("campaigns", OPTIONS).ok
    put(repo, "b")  # not committed: the tree is dirty
    assert api.apply("campaigns", OPTIONS).ok
    [b_entry, a_entry] = api.history(OPTIONS).entries  # newest first
    assert (a_entry.campaign, a_entry.commit, a_entry.dirty, a_entry.actor, a_entry.file) == (
        "a", head, False, "ci-bot", "campaigns/a.yaml",
    )  # fmt: skip
    assert (b_entry.campaign, b_entry.commit, b_entry.dirty, b_entry.file) == (
        "b", head, True, "campaigns/b.yaml",
    )  # fmt: skip
    [a, b] = (row.campaign for row in api.status(OPTIONS))
    assert a.live is not None and b.live is not None
    assert (a.live.commit, a.live.dirty, a.live.actor, a.live.file) == (
        head, False, "ci-bot", "campaigns/a.yaml",
    )  # fmt: skip
    assert (b.live.commit, b.live.dirty) == (head, True)


def test_the_actor_comes_from_the_environment_in_order(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = api.Options(runtime_url=OPTIONS.runtime_url)
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    put(repo, "a")
    api.apply("campaigns", options)
    monkeypatch.setenv("RECONCILER_ACTOR", "release-bot")
    put(repo, "b")
    api.apply("campaigns", options)
    assert [e.actor for e in api.history(options).entries] == ["release-bot", "octocat"]


def test_require_clean_refuses_uncommitted_manifests(repo: Path) -> None:
    put(repo, "a")
    commit(repo)
    put(repo, "a", title="Edited, not committed")
    with pytest.raises(PlanError) as caught:
        api.apply("campaigns", OPTIONS, require_clean=True)
    assert str(caught.value) == (
        "--require-clean: campaigns have uncommitted changes (campaigns/a.yaml); commit them, so "
        "that the commit recorded holds what is applied"
    )
    assert api.status(OPTIONS) == []
    (repo / "campaigns" / "README.md").write_text("not a manifest\n")
    (repo / "campaigns" / ".cache.yaml").write_text("hidden: not read\n")
    commit(repo)
    (repo / "campaigns" / "README.md").write_text("changed, still not a manifest\n")
    assert api.apply("campaigns", OPTIONS, require_clean=True).ok


def test_require_clean_names_ten_uncommitted_files_at_most(repo: Path) -> None:
    put(repo, "a")
    commit(repo)
    (repo / "campaigns" / "a.yaml").unlink()
    for name in "bcdefghijklm":
        put(repo, name)
    with pytest.raises(PlanError) as caught:
        api.apply("campaigns", OPTIONS, require_clean=True)
    assert str(caught.value) == (
        "--require-clean: campaigns have uncommitted changes (campaigns/a.yaml, campaigns/b.yaml, "
        "campaigns/c.yaml, campaigns/d.yaml, campaigns/e.yaml, campaigns/f.yaml, "
        "campaigns/g.yaml, campaigns/h.yaml, campaigns/i.yaml, campaigns/j.yaml and 3 more); "
        "commit them, so that the commit recorded holds what is applied"
    )


def test_require_clean_refuses_a_saved_plan_made_from_a_dirty_tree(repo: Path) -> None:
    put(repo, "a")
    commit(repo)
    put(repo, "b")
    api.save_plan(api.plan("campaigns", OPTIONS), repo / "plan.json", render.plan_json)
    with pytest.raises(PlanError, match="the saved plan's manifests have uncommitted changes"):
        api.apply_saved(repo / "plan.json", OPTIONS, require_clean=True)


def test_require_clean_outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    (tmp_path / "campaigns").mkdir()
    put(tmp_path, "a")
    with pytest.raises(PlanError) as caught:
        api.apply("campaigns", OPTIONS, require_clean=True)
    assert str(caught.value) == (
        "--require-clean: campaigns are not in a git work tree, so no commit holds them"
    )


def test_history_is_newest_first_and_filters_by_campaign_and_since(repo: Path) -> None:
    put(repo, "a")
    api.apply("campaigns", OPTIONS)
    put(repo, "a", title="Two")
    put(repo, "b")
    api.apply("campaigns", OPTIONS)
    everything = api.history(OPTIONS)
    assert [(e.campaign, e.operation) for e in everything.entries] == [
        ("b", "activate"),
        ("a", "replace"),
        ("a", "activate"),
    ]
    assert (everything.since, everything.earlier) == (None, 0)
    assert [e.operation for e in api.history(OPTIONS, "a").entries] == ["replace", "activate"]
    second = datetime.fromisoformat(everything.entries[1].at.replace("Z", "+00:00"))
    assert [e.campaign for e in api.history(OPTIONS, since=second).entries] == ["b", "a"]
    assert api.history(OPTIONS, since=datetime(2999, 1, 1, tzinfo=UTC)) == History(
        (), {}, since="2999-01-01T00:00:00.000Z", earlier=3
    )
    [replaced] = api.history(OPTIONS, "a").entries[:1]
    assert everything.changes[replaced.seq] == (FieldChange("spec.content.title", "Hi", "Two"),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27", datetime(2026, 11, 27, tzinfo=UTC)),
        ("2026-11-27T09:30:00+01:00", datetime(2026, 11, 27, 8, 30, tzinfo=UTC)),
        ("2026-11-27T09:30:00Z", datetime(2026, 11, 27, 9, 30, tzinfo=UTC)),
    ],
)
def test_since_takes_dates_and_date_times(text: str, expected: datetime) -> None:
    assert api.parse_since(text) == expected


def test_since_refuses_anything_else() -> None:
    with pytest.raises(PlanError) as caught:
        api.parse_since("yesterday")
    assert str(caught.value) == (
        "--since 'yesterday': expected a date or date-time like 2026-11-27 or "
        "2026-11-27T09:00:00+01:00"
    )


def test_a_runtime_of_the_first_schema_is_brought_up_to_date(tmp_path: Path) -> None:
    db = tmp_path / "rt.db"
    old = sqlite3.connect(db)
    old.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE campaigns (name TEXT PRIMARY KEY, etag TEXT NOT NULL, data TEXT NOT NULL);
        CREATE TABLE history (seq INTEGER PRIMARY KEY AUTOINCREMENT, revision INTEGER NOT NULL,
            at TEXT NOT NULL, actor TEXT NOT NULL, git_commit TEXT, plan_id TEXT,
            operation TEXT NOT NULL, campaign TEXT NOT NULL, before TEXT, after TEXT);
        CREATE TABLE applied (key TEXT PRIMARY KEY, revision INTEGER NOT NULL);
        INSERT INTO meta VALUES ('revision', '1'), ('schema_version', '1'), ('runtime_id', 'x');
        INSERT INTO history (revision, at, actor, operation, campaign)
            VALUES (1, '2026-01-01T00:00:00.000Z', 'old', 'activate', 'legacy');
        """
    )
    old.close()
    runtime = open_runtime(f"sqlite:///{db}")
    [entry] = runtime.history()
    runtime.close()
    assert (entry.actor, entry.file, entry.dirty) == ("old", None, False)
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )


def test_require_clean_names_both_sides_of_a_rename(repo: Path) -> None:
    put(repo, "a")
    commit(repo)
    git(repo, "mv", "campaigns/a.yaml", "campaigns/renamed.yaml")
    with pytest.raises(PlanError) as caught:
        api.apply("campaigns", OPTIONS, require_clean=True)
    assert str(caught.value).startswith(
        "--require-clean: campaigns have uncommitted changes (campaigns/renamed.yaml, "
        "campaigns/a.yaml); "
    )
