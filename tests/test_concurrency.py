"""Two ``reconciler apply`` processes started at once on the same runtime: the lock lets one apply
at a time, and whatever the interleaving every campaign is written exactly once. The end-to-end
cases run on every backend that processes share (a SQLite file, a PostgreSQL schema), the result
read from outside the reconciler too (``tests/probes.py``).

The end-to-end cases start both processes on an existing (empty) runtime. On a SQLite runtime file
that does not exist yet, two processes that create it at the same instant can fail with "database is
locked" (a few percent of simultaneous starts, in a stress loop); the last test of this file pins
that bug down deterministically.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from probes import SHARED_BACKENDS, Probe
from reconciler.runtime.base import LockOwner
from reconciler.runtime.registry import open_runtime

pytestmark = pytest.mark.slow  # starts processes: `pytest -m "not slow"` leaves it out

COUNT = 100
LOCKED = re.compile(
    r"^error: the runtime is locked by \S+:(?P<pid>\d+) \(apply (?P<path>\S+)\) since \S+, "
    r"expires \S+; try again, or wait for it with --lock-timeout SECONDS$"
)


def document(i: int) -> dict[str, Any]:
    name = f"c{i:03d}"
    if i % 3 == 0:
        spec: dict[str, Any] = {
            "state": "live",
            "channel": "in-app",
            "content": {"title": f"Title {i}", "body": "Body"},
        }
    else:
        spec = {
            "state": "draft" if i % 3 == 2 else "live",
            "channel": "email",
            "audience": {"segment": "everyone"},
            "content": {"subject": f"Subject {i}", "body": "Body"},
            "schedule": {"recurring": {"every": "day", "at": "08:30"}},
        }
    return {
        "apiVersion": "reconciler/v1",
        "kind": "Campaign",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("concurrency") / "campaigns"
    root.mkdir()
    for i in range(COUNT):
        text = yaml.safe_dump(document(i), sort_keys=False)
        (root / f"c{i:03d}.yaml").write_text(text, encoding="utf-8")
    return root


def existing_runtime(outside: Probe) -> str:
    """An empty runtime that already exists: its file or tables are there, no campaigns."""
    with open_runtime(outside.url) as runtime:
        owner = LockOwner.current("set up")
        assert runtime.acquire_lock(owner) is None
        runtime.release_lock(owner)
    assert (outside.revision(), outside.count("lock")) == (0, 0)
    return outside.url


def start_two(manifests: Path, cwd: Path, url: str, *extra: str) -> list[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    # the children import the reconciler this test imported, whatever their working directory
    source = str(Path(reconciler.__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "reconciler", "apply", str(manifests), "--runtime", url]
    return [
        subprocess.Popen(
            [*command, *extra],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]


def finish(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append((proc.returncode, out, err))
    return results


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1] if text.strip() else ""


APPLIED_ALL = f"Apply: {COUNT} done, 0 failed, 0 skipped."
NOTHING_TO_DO = f"No changes. {COUNT} unchanged."


def check_final_state(outside: Probe) -> None:
    with open_runtime(outside.url) as runtime:
        state, history = runtime.snapshot(), runtime.history()
    assert state.revision == COUNT
    assert sorted(state.campaigns) == [f"c{i:03d}" for i in range(COUNT)]
    assert {c.versions for c in state.campaigns.values()} == {1}
    statuses = Counter(c.status.value for c in state.campaigns.values())
    assert statuses == {"live": COUNT - COUNT // 3, "draft": COUNT // 3}
    assert len(history) == COUNT
    assert Counter(e.campaign for e in history) == {f"c{i:03d}": 1 for i in range(COUNT)}
    assert len({e.plan_id for e in history}) == 1  # one process applied everything
    assert outside.revision() == COUNT
    assert [outside.count(table) for table in ("campaigns", "history", "applied")] == [COUNT] * 3
    assert outside.count("lock") == 0


@pytest.mark.parametrize("backend", SHARED_BACKENDS, indirect=True)
@pytest.mark.parametrize("round_", [1, 2])
def test_without_a_lock_timeout_one_applies_and_the_other_is_turned_away_or_finds_nothing(
    manifests: Path, outside: Probe, tmp_path: Path, round_: int
) -> None:
    procs = start_two(manifests, tmp_path, existing_runtime(outside))
    results = finish(procs)

    winners = [
        i for i, (code, out, _) in enumerate(results) if code == 0 and last_line(out) == APPLIED_ALL
    ]
    assert len(winners) == 1, results
    winner = procs[winners[0]]
    code, out, err = results[1 - winners[0]]
    if code == 1:
        # turned away: the message names the holder, the winner, and nothing else is printed
        assert out == ""
        match = LOCKED.match(err.rstrip("\n"))
        assert match, err
        assert int(match["pid"]) == winner.pid
        assert match["path"] == str(manifests)
    else:
        # it came after the winner had finished: nothing left to do
        assert (code, last_line(out), err) == (0, NOTHING_TO_DO, "")
    assert "Traceback" not in results[0][2] + results[1][2]
    check_final_state(outside)


@pytest.mark.parametrize("backend", SHARED_BACKENDS, indirect=True)
def test_with_a_lock_timeout_both_succeed_one_after_the_other(
    manifests: Path, outside: Probe, tmp_path: Path
) -> None:
    url = existing_runtime(outside)
    results = finish(start_two(manifests, tmp_path, url, "--lock-timeout", "60"))
    assert [code for code, _, _ in results] == [0, 0], results
    assert sorted(last_line(out) for _, out, _ in results) == sorted([APPLIED_ALL, NOTHING_TO_DO])
    assert [err for _, _, err in results] == ["", ""]
    check_final_state(outside)


def test_opening_a_new_runtime_waits_for_a_concurrent_creator(tmp_path: Path) -> None:
    db = tmp_path / "rt.db"
    creator = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    creator.execute("BEGIN IMMEDIATE")  # another process is in the middle of creating the file
    done = threading.Timer(0.2, lambda: creator.execute("ROLLBACK"))
    done.start()
    runtime = open_runtime(f"sqlite:///{db}")
    try:
        assert runtime.acquire_lock(LockOwner.current("apply")) is None
    finally:
        done.join()
        creator.close()
        runtime.close()
