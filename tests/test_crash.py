"""A run of ``reconciler apply`` killed with SIGKILL at any instant is rerun and converges, with no
operation done twice.

The test applies 300 manifests in a subprocess, watches the runtime's revision from outside (a
probe: ``tests/probes.py``) and kills the process once it reaches an instant; then it reruns apply
to completion and checks every campaign, its version count and the history exactly. Each test runs
on every backend that processes share: a SQLite file, a PostgreSQL schema.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler as reconciler_package
from probes import SHARED_BACKENDS, PostgreSQLProbe, Probe
from reconciler import api, executor
from reconciler.runtime.registry import open_runtime

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
    pytest.mark.slow,  # starts processes: `pytest -m "not slow"` leaves it out
]

BASE = 288  # six kinds of campaign, 48 of each
COPIES = 12
TOTAL = BASE + COPIES

EMAIL = {
    "channel": "email",
    "audience": {"segment": "everyone"},
    "content": {"subject": "Hello", "body": "Body"},
}


def spec_for(i: int) -> tuple[dict[str, Any], str]:
    """Campaign i: its manifest spec, and the status it must end in."""
    subject = {"subject": f"Subject {i}", "body": f"Body {i}"}
    kind = i % 6
    if kind == 0:  # one-time, sent on activation
        return {**EMAIL, "state": "live", "content": subject}, "live"
    if kind == 1:  # one-time, far in the future
        schedule = {"once": {"at": "2099-01-01T09:00:00+01:00"}, "timezone": "Europe/Paris"}
        return {**EMAIL, "state": "live", "content": subject, "schedule": schedule}, "scheduled"
    if kind == 2:  # recurring by weekday
        schedule = {
            "recurring": {"every": "week", "on": ["mon", "thu"], "at": "09:00"},
            "timezone": "Europe/Amsterdam",
        }
        return {**EMAIL, "state": "live", "content": subject, "schedule": schedule}, "live"
    if kind == 3:  # recurring by cron, still a draft
        schedule = {"recurring": {"cron": "0 9 * * MON"}}
        return {**EMAIL, "state": "draft", "content": subject, "schedule": schedule}, "draft"
    if kind == 4:  # inbound, live
        content = {"title": f"Title {i}", "body": f"Body {i}"}
        return {"state": "live", "channel": "in-app", "content": content}, "live"
    content = {"title": f"Title {i}", "body": f"Body {i}"}  # inbound, draft
    return {"state": "draft", "channel": "content-card", "content": content}, "draft"


def _doc(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "reconciler/v1",
        "kind": "Campaign",
        "metadata": {"name": name},
        "spec": spec,
    }


# name -> (status, live version, draft version, versions, copied from)
Expected = dict[str, tuple[str, int | None, int | None, int, str | None]]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Expected]:
    root = tmp_path_factory.mktemp("crash") / "campaigns"
    expected: Expected = {}
    for i in range(BASE):
        name = f"c{i:03d}"
        spec, status = spec_for(i)
        path = root / f"team-{i % 7}" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(_doc(name, spec), sort_keys=False), encoding="utf-8")
        live = status != "draft"
        expected[name] = (status, 1 if live else None, None if live else 1, 1, None)
    copies = []
    for j in range(COPIES):
        name, source = f"copy-{j:02d}", f"c{6 * j * 4:03d}"  # copies of one-time live campaigns
        spec = {"state": "live", "copyFrom": source, "content": {"subject": f"Again {j}"}}
        copies.append(_doc(name, spec))
        expected[name] = ("live", 1, None, 1, source)
    (root / "copies.yaml").write_text(yaml.safe_dump_all(copies, sort_keys=False), encoding="utf-8")
    assert len(expected) == TOTAL
    return root, expected


def reconciler(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", *args]


def environment() -> dict[str, str]:
    """The children import the reconciler this test imported, whatever the working directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env["RECONCILER_ACTOR"] = "crash-test"
    source = str(Path(reconciler_package.__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    return env


def finish(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a child to its end, its output kept."""
    return subprocess.run(
        argv, cwd=cwd, env=environment(), capture_output=True, text=True, timeout=120
    )


def check_whole_operations(runtime: Probe) -> int:
    """The revision, which every table agrees with: each operation wholly there, or not at all."""
    revision = runtime.revision() or 0
    if revision:
        assert runtime.count("history") == revision
        assert runtime.count("applied") == revision
        assert runtime.count("campaigns") == revision
    return revision


# instant -> the condition the test waits for before it kills the process
INSTANTS: dict[str, Callable[[Probe], bool]] = {
    "at-start": lambda runtime: True,
    "locked-before-first-write": lambda runtime: bool(runtime.count("lock")),
    "revision-1": lambda runtime: (runtime.revision() or 0) >= 1,
    "revision-50": lambda runtime: (runtime.revision() or 0) >= 50,
    "revision-150": lambda runtime: (runtime.revision() or 0) >= 150,
    "revision-250": lambda runtime: (runtime.revision() or 0) >= 250,
}


@pytest.mark.parametrize("backend", SHARED_BACKENDS, indirect=True)
@pytest.mark.parametrize("instant", list(INSTANTS))
def test_a_killed_apply_is_rerun_and_converges(
    instant: str, repo: tuple[Path, Expected], outside: Probe, tmp_path: Path
) -> None:
    manifests, expected = repo
    url = outside.url
    command = reconciler("apply", str(manifests), "--runtime", url)

    victim = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reached = INSTANTS[instant]
    deadline = time.monotonic() + 60
    while victim.poll() is None and not reached(outside) and time.monotonic() < deadline:
        time.sleep(0.0005)
    finished = victim.poll() is not None
    if not finished:
        os.kill(victim.pid, signal.SIGKILL)
    code = victim.wait(timeout=30)
    killed_at = outside.revision() or 0
    held_by = outside.holder_pid()
    print(f"{instant}: stopped at revision {killed_at}, lock held by {held_by}, exit {code}")
    assert check_whole_operations(outside) == killed_at  # whatever the instant
    if finished or code == 0:
        warnings.warn(
            f"{instant}: apply finished (exit {code}) before it could be killed", stacklevel=1
        )
    else:
        assert code == -signal.SIGKILL
        if instant == "locked-before-first-write" and killed_at > 0:
            warnings.warn(f"{instant}: killed only at revision {killed_at}", stacklevel=1)

    if held_by is not None and not finished:
        assert held_by == victim.pid  # the dead process still "holds" the lock
        if isinstance(outside, PostgreSQLProbe):
            # as if it had run on another machine: not its pid, only its session (which died
            # with it) can tell the rerun that it is gone
            outside.pretend_holder_elsewhere()

    # the rerun takes over a dead holder's lock at once (no --lock-timeout) and does the rest
    rerun = finish(command, tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    last = rerun.stdout.rstrip("\n").splitlines()[-1]
    if killed_at < TOTAL:
        assert last == f"Apply: {TOTAL - killed_at} done, 0 failed, 0 skipped."
    else:
        assert last == f"No changes. {TOTAL} unchanged."
    assert "already applied" not in rerun.stdout
    check_converged(manifests, expected, outside, plans=2 if 0 < killed_at < TOTAL else 1)


def check_converged(manifests: Path, expected: Expected, runtime: Probe, *, plans: int) -> None:
    """Nothing left to plan, every campaign exactly once, every operation done once."""
    url = runtime.url
    plan = api.plan(manifests, api.Options(runtime_url=url))
    assert (plan.operations, plan.errors) == ((), ())
    assert plan.unchanged == TOTAL

    with open_runtime(url) as opened:
        state = opened.snapshot()
        history = opened.history()
    assert state.revision == TOTAL
    assert {
        name: (
            c.status.value,
            c.live.number if c.live else None,
            c.draft.number if c.draft else None,
            c.versions,
            c.copied_from,
        )
        for name, c in state.campaigns.items()
    } == expected
    assert check_whole_operations(runtime) == TOTAL
    assert len(history) == TOTAL
    assert Counter(e.campaign for e in history) == dict.fromkeys(expected, 1)
    assert [e.revision for e in history] == list(range(1, TOTAL + 1))
    assert {e.actor for e in history} == {"crash-test"}
    assert len({e.plan_id for e in history}) == plans

    # the lock is free afterwards
    assert runtime.count("lock") == 0


# The victim kills itself at the n-th statement that starts with a prefix, inside a batch's
# transaction, its rows written and not committed. Nothing of that batch may survive, and the run is
# rerun as before. A statement run for several rows (``executemany``) counts once per row, as
# SQLite's statement trace does: the victim dies before the n-th row, the ones before it written.
# SQLite's statements are traced on the store's connection; PostgreSQL's where psycopg's cursors
# run them (every statement of the store goes through one).
VICTIM = """
import os, signal, sys
from reconciler import cli

backend, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = 0


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def trace(statement):
    global seen
    if statement.startswith(prefix):
        seen += 1
        if seen == count:
            die()


if backend == "sqlite":
    from reconciler.runtime import sqlite

    opened = sqlite.SQLiteStore._open

    def traced_open(self, *args):
        db = opened(self, *args)
        if db is not None:
            db.set_trace_callback(trace)
        return db

    sqlite.SQLiteStore._open = traced_open
else:
    import psycopg

    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def traced_execute(self, query, *args, **kwargs):
        if isinstance(query, str):
            trace(query)
        return execute(self, query, *args, **kwargs)

    def traced_executemany(self, query, rows, *args, **kwargs):
        global seen
        rows = list(rows)
        if isinstance(query, str) and query.startswith(prefix):
            if seen + len(rows) >= count:
                before = rows[: count - seen - 1]
                if before:
                    executemany(self, query, before, *args, **kwargs)
                die()
            seen += len(rows)
        return executemany(self, query, rows, *args, **kwargs)

    psycopg.Cursor.execute = traced_execute
    psycopg.Cursor.executemany = traced_executemany

sys.argv[1:] = sys.argv[4:]
cli.main()
"""

# where the victim dies -> (statement prefix, its count, the most its revision may be then)
IN_A_BATCH = {
    # the first batch (executor.BATCH_FIRST operations) committed, the 120th row of the next not
    "history-row-120": ("INSERT INTO history", 120, 119),
    # the second batch wrote all its rows and is about to set the revision and commit
    "before-second-commit": ("UPDATE meta SET value", 2, executor.BATCH_FIRST),
}


@pytest.mark.parametrize("backend", SHARED_BACKENDS, indirect=True)
@pytest.mark.parametrize("saved", [False, True], ids=["fresh-plan", "saved-plan"])
@pytest.mark.parametrize("where", list(IN_A_BATCH))
def test_an_apply_killed_in_the_middle_of_a_batch_leaves_none_of_it_and_converges(
    where: str,
    saved: bool,
    backend: str,
    repo: tuple[Path, Expected],
    outside: Probe,
    tmp_path: Path,
) -> None:
    manifests, expected = repo
    url = outside.url
    target = [str(manifests)]
    if saved:
        made = finish(
            reconciler("plan", str(manifests), "--runtime", url, "--out", "plan.json"), tmp_path
        )
        assert made.returncode == 0, made.stderr
        target = ["--plan", "plan.json"]
    prefix, count, most = IN_A_BATCH[where]
    victim = finish(
        [
            *(sys.executable, "-c", VICTIM, backend, prefix, str(count)),
            *("apply", *target, "--runtime", url),
        ],
        tmp_path,
    )
    assert victim.returncode == -signal.SIGKILL, victim.stderr

    # whole batches only: the first, maybe more, none of the one the process died in
    killed_at = check_whole_operations(outside)
    assert executor.BATCH_FIRST <= killed_at <= most

    rerun = finish(reconciler("apply", *target, "--runtime", url), tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    lines = rerun.stdout.rstrip("\n").splitlines()
    replayed = [line for line in lines if line.endswith(": already applied by an earlier run")]
    if saved:  # the same plan: what was done is replayed by its keys, the rest done now
        assert len(replayed) == killed_at
        assert lines[-1] == f"Apply: {TOTAL} done, 0 failed, 0 skipped."
    else:  # a fresh plan no longer holds what was done
        assert replayed == []
        assert lines[-1] == f"Apply: {TOTAL - killed_at} done, 0 failed, 0 skipped."
    check_converged(manifests, expected, outside, plans=1 if saved else 2)
