"""Versions record the manifest's title and labels, so that the runtime (and its dashboard) knows
what its campaigns are called: planned into each operation, carried by each write (over HTTP
too), kept on the version a write makes, over every backend (``backends.BACKENDS``). A version a
write reuses keeps its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import backend_url
from factories import campaigns
from reconciler import api, plan
from reconciler.model import Version
from reconciler.plan import Operation

NOW = "2026-11-27T12:00:00+00:00"


def manifest(spec_subject: str, *, state: str = "live", metadata: str = "") -> str:
    return f"""\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: weekly
{metadata}spec:
  state: {state}
  channel: email
  audience: {{segment: subscribers}}
  content: {{subject: "{spec_subject}", body: "Hello"}}
  schedule:
    recurring: {{every: week, on: [mon], at: "09:00"}}
"""


TITLED = '  title: "Weekly <digest> \\u202e"\n  labels: {team: growth, tier: "1"}\n'


@pytest.fixture
def applying(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    folder = tmp_path / "campaigns"
    folder.mkdir()
    return folder, backend_url(backend, tmp_path, label="titles")


def apply(folder: Path, url: str, text: str) -> None:
    (folder / "weekly.yaml").write_text(text)
    options = api.Options(runtime_url=url, actor="alice")
    ledger = api.apply(folder, options)
    assert ledger.ok and ledger.entries, ledger


def test_a_version_records_the_title_and_labels_of_its_manifest(
    applying: tuple[Path, str],
) -> None:
    folder, url = applying
    apply(folder, url, manifest("One", metadata=TITLED))
    live = campaigns(url)["weekly"].live
    assert live is not None
    assert (live.title, live.labels) == ("Weekly <digest> \u202e", {"team": "growth", "tier": "1"})
    assert live.to_json()["title"] == "Weekly <digest> \u202e"


def test_a_manifest_without_them_records_none(applying: tuple[Path, str]) -> None:
    folder, url = applying
    apply(folder, url, manifest("One"))
    live = campaigns(url)["weekly"].live
    assert live is not None
    assert (live.title, live.labels) == (None, None)
    assert {"title", "labels"}.isdisjoint(live.to_json())


def test_each_version_keeps_its_own_and_a_version_reused_keeps_its_own(
    applying: tuple[Path, str],
) -> None:
    folder, url = applying
    apply(folder, url, manifest("One", metadata='  title: "First"\n'))
    # staged as a draft version beside the live one, under a new title
    apply(folder, url, manifest("Two", state="draft", metadata='  title: "Second"\n'))
    staged = campaigns(url)["weekly"]
    assert staged.live is not None and staged.draft is not None
    assert (staged.live.title, staged.draft.title) == ("First", "Second")
    # the staged version goes live as it is: it keeps the title it was written with
    apply(folder, url, manifest("Two", metadata='  title: "Third"\n  labels: {team: x}\n'))
    promoted = campaigns(url)["weekly"].live
    assert promoted is not None
    assert (promoted.number, promoted.title, promoted.labels) == (2, "Second", None)


# --- the data, as JSON ------------------------------------------------------------------------


def test_a_version_of_before_titles_reads_as_none_and_round_trips() -> None:
    old = {
        "number": 1,
        "spec": {},
        "hash": "sha256:0",
        "commit": None,
        "file": None,
        "actor": "a",
        "applied_at": NOW,
    }
    version = Version.from_json(old)
    assert (version.title, version.labels) == (None, None)
    titled = Version.from_json({**old, "title": "T", "labels": {"a": "b"}})
    assert (titled.title, titled.labels) == ("T", {"a": "b"})
    assert Version.from_json(titled.to_json()) == titled
    assert Version.from_json({**old, "labels": {}}).to_json()["labels"] == {}


def test_an_operation_carries_the_title_in_a_saved_plan_only_when_it_has_one() -> None:
    op = Operation.from_json(
        {"campaign": "weekly", "action": "stop", "reason_code": "new-draft", "title": "T"}
    )
    assert op.title == "T" and op.to_json()["title"] == "T"
    untitled = Operation.from_json(
        {"campaign": "weekly", "action": "stop", "reason_code": "new-draft"}
    )
    assert untitled.title is None and "title" not in untitled.to_json()
    assert plan.SHAPE["properties"]["operations"]["items"]["properties"]["title"] == {
        "type": "string"
    }


def test_a_console_creation_records_the_title_and_labels_of_its_file(
    applying: tuple[Path, str],
) -> None:
    """``runtime create -f`` makes its campaigns as a console would, named as the file names
    them: the dashboard lists them by title before any manifest adopts them."""
    folder, url = applying
    file = folder.parent / "console.yaml"
    file.write_text(manifest("One", metadata=TITLED))
    made = api.create(api.Options(runtime_url=url), file, actor="carol")
    assert made.ok
    live = campaigns(url)["weekly"].live
    assert live is not None
    assert (live.title, live.labels, live.origin, live.actor) == (
        "Weekly <digest> \u202e",
        {"team": "growth", "tier": "1"},
        "console",
        "carol" if "http" not in url else "alice (for carol)",  # the token, for whom it acts
    )
