"""The watch loop in-process (no subprocess): what one cycle concludes, backoff, what `run` reports,
the parse cache, a stop before the apply, and the text and JSON views of a cycle.

`tests/test_watch_process.py` runs `reconciler watch` as a real process."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from factories import IN_APP_YAML, PUSH_YAML
from reconciler import api, render, watch
from reconciler.cycles import Cycle, CycleOutcome, Stopped, Trigger
from reconciler.errors import (
    ConflictError,
    LockedError,
    ReconcilerError,
    RuntimeStoreError,
    RuntimeUnavailable,
)
from reconciler.executor import Outcome
from reconciler.model import Action
from reconciler.render import cycle_json, cycle_text
from reconciler.runtime.base import Applied, LockOwner, Write
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime
from reconciler.watch import Watcher

DEAL = PUSH_YAML.replace("{name}", "deal")
BANNER = IN_APP_YAML.replace("{title}", "Hello")
BROKEN = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: broken}
spec:
  state: paused
  channel: in-app
  content: {title: "Hello", body: "There"}
"""
REQUIRE_TEAM = """\
apiVersion: reconciler/v1
kind: Project
policies:
  requiredLabels: [team]
"""
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
OTHER = LockOwner(owner="someone-else@ci:1", pid=os.getpid(), host=socket.gethostname(), reason="x")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_ACTOR", "tester")
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "deal.yaml").write_text(DEAL.format(title="Deal of the day"))
    (tmp_path / "campaigns" / "banner.yaml").write_text(BANNER.format(name="banner"))
    return tmp_path


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runtime.db'}"


def watcher(url: str, **settings: Any) -> Watcher:
    return Watcher(Path("campaigns"), api.Options(url), **settings)


def live(url: str) -> dict[str, int]:
    """Each campaign's live version number."""
    runtime = open_runtime(url)
    try:
        state = runtime.snapshot()
    finally:
        runtime.close()
    return {n: c.live.number for n, c in state.campaigns.items() if c.live is not None}


@contextmanager
def locked(url: str) -> Iterator[None]:
    """The runtime lock held by another (live) owner for the block."""
    runtime = open_runtime(url)
    try:
        assert runtime.acquire_lock(OTHER) is None
        yield
        runtime.release_lock(OTHER)
    finally:
        runtime.close()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def put(path: Path, text: str) -> None:
    """Write whole (a hidden file renamed into place): the loop never reads half a manifest."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


@contextmanager
def running(w: Watcher) -> Iterator[list[Cycle]]:
    """``w.run`` in a thread, collecting what it reports; stopped (and joined) on the way out."""
    reported: list[Cycle] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            w.run(reported.append)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield reported
    finally:
        w.stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive(), "run() did not return within 10 s of stop"
    if failure:
        raise failure[0]


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short ticks and backoff, so that a run of many tries takes a fraction of a second."""
    monkeypatch.setattr(watch, "TICK_MS", 20)
    monkeypatch.setattr(watch, "STEP_MS", 10)
    monkeypatch.setattr(watch, "DEBOUNCE_MS", 50)
    monkeypatch.setattr(watch, "BACKOFF_FIRST", 0.005)


# -- one cycle -----------------------------------------------------------------------------------


def test_a_first_cycle_applies_and_the_next_is_in_sync(repo: Path, url: str) -> None:
    w = watcher(url)
    cycle = w.reconcile(Trigger.START)
    assert (cycle.number, cycle.trigger, cycle.outcome) == (1, Trigger.START, CycleOutcome.APPLIED)
    assert cycle.ledger is not None and cycle.plan is cycle.ledger.plan
    assert [(e.campaign, e.action, e.outcome) for e in cycle.ledger.entries] == [
        ("banner", Action.ACTIVATE, Outcome.DONE),
        ("deal", Action.ACTIVATE, Outcome.DONE),
    ]
    assert (cycle.error, cycle.retry_in) == (None, None)
    assert live(url) == {"banner": 1, "deal": 1}
    again = w.reconcile(Trigger.INTERVAL)
    assert (again.number, again.outcome) == (2, CycleOutcome.IN_SYNC)
    assert again.ledger is not None and again.ledger.entries == ()
    assert again.plan is not None and again.plan.unchanged == 2


def test_an_edit_is_applied_as_a_replace(repo: Path, url: str) -> None:
    w = watcher(url)
    w.reconcile(Trigger.START)
    (repo / "campaigns" / "deal.yaml").write_text(DEAL.format(title="Deal of the week"))
    cycle = w.reconcile(Trigger.CHANGE, 1)
    assert (cycle.outcome, cycle.changed_files) == (CycleOutcome.APPLIED, 1)
    assert cycle.ledger is not None
    assert [(e.campaign, e.action) for e in cycle.ledger.entries] == [("deal", Action.REPLACE)]
    assert live(url) == {"banner": 1, "deal": 2}


def test_dry_run_plans_and_changes_nothing(repo: Path, url: str) -> None:
    w = watcher(url, dry_run=True)
    cycle = w.reconcile(Trigger.START)
    assert (cycle.outcome, cycle.ledger) == (CycleOutcome.PLANNED, None)
    assert cycle.plan is not None
    assert [(o.campaign, o.action) for o in cycle.plan.operations] == [
        ("banner", Action.ACTIVATE),
        ("deal", Action.ACTIVATE),
    ]
    assert live(url) == {}
    assert w.reconcile(Trigger.INTERVAL).outcome is CycleOutcome.PLANNED  # still nothing done
    assert live(url) == {}


def test_dry_run_in_sync(repo: Path, url: str) -> None:
    watcher(url).reconcile(Trigger.START)
    cycle = watcher(url, dry_run=True).reconcile(Trigger.START)
    assert (cycle.outcome, cycle.ledger) == (CycleOutcome.IN_SYNC, None)


def test_a_broken_file_applies_nothing_and_a_fix_applies(repo: Path, url: str) -> None:
    w = watcher(url)
    w.reconcile(Trigger.START)
    (repo / "campaigns" / "broken.yaml").write_text(BROKEN)
    (repo / "campaigns" / "fresh.yaml").write_text(BANNER.format(name="fresh"))  # valid, waits
    cycle = w.reconcile(Trigger.CHANGE, 2)
    assert cycle.outcome is CycleOutcome.INVALID
    assert cycle.plan is not None and cycle.ledger is not None and cycle.ledger.entries == ()
    assert [(d.file, d.line, d.column) for d in cycle.plan.errors] == [
        ("campaigns/broken.yaml", 5, 10)
    ]
    assert cycle.plan.errors[0].message.startswith("spec.state: 'paused' is not one of")
    assert live(url) == {"banner": 1, "deal": 1}  # not even the valid new file
    (repo / "campaigns" / "broken.yaml").write_text(BROKEN.replace("paused", "live"))
    fixed = w.reconcile(Trigger.CHANGE, 1)
    assert fixed.outcome is CycleOutcome.APPLIED
    assert live(url) == {"banner": 1, "broken": 1, "deal": 1, "fresh": 1}


def test_a_refused_prune_is_invalid_with_the_reason(repo: Path, url: str) -> None:
    w = watcher(url, prune=True)
    w.reconcile(Trigger.START)
    for file in (repo / "campaigns").iterdir():
        file.unlink()
    cycle = w.reconcile(Trigger.CHANGE, 2)
    assert (cycle.outcome, cycle.plan) == (CycleOutcome.INVALID, None)
    assert cycle.error is not None and cycle.error.startswith("--prune refused: there are no ")
    assert live(url) == {"banner": 1, "deal": 1}


def test_a_runtime_locked_by_another_owner(repo: Path, url: str) -> None:
    w = watcher(url)
    with locked(url):
        cycle = w.reconcile(Trigger.START)
    assert cycle.outcome is CycleOutcome.LOCKED
    assert (cycle.plan, cycle.ledger) == (None, None)
    assert cycle.error is not None
    assert cycle.error.startswith("the runtime is locked by someone-else@ci:1 (x) since ")
    assert cycle.retry_in is not None and 0.5 <= cycle.retry_in <= 1.0
    assert live(url) == {}
    assert w.reconcile(Trigger.RETRY).outcome is CycleOutcome.APPLIED  # once released


def test_an_unreachable_runtime(repo: Path) -> None:
    (repo / "plain-file").write_text("not a directory")
    w = watcher(f"sqlite:///{repo / 'plain-file' / 'runtime.db'}")
    cycle = w.reconcile(Trigger.START)
    assert cycle.outcome is CycleOutcome.UNREACHABLE
    assert cycle.error is not None and cycle.error.startswith("cannot open runtime sqlite:///")
    assert cycle.retry_in is not None and 0.5 <= cycle.retry_in <= 1.0


def test_a_refusing_runtime_is_reported_as_refused_and_not_retried(
    repo: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that refuses (here: damaged) will refuse again: no backoff, no "unreachable"."""
    w = watcher(url)
    with locked(url):
        assert w.reconcile(Trigger.START).outcome is CycleOutcome.LOCKED  # one failure counted
    damaged = RuntimeStoreError(f"runtime {url} is damaged: a stored value cannot be read (x)")

    def apply(*args: Any, **kwargs: Any) -> Any:
        raise damaged

    monkeypatch.setattr(api, "apply", apply)
    cycle = w.reconcile(Trigger.INTERVAL)
    assert (cycle.outcome, cycle.error, cycle.retry_in) == (
        CycleOutcome.REFUSED,
        str(damaged),
        None,
    )
    assert w.failures == 0  # the next unavailable runtime backs off from the first step
    assert (
        cycle_text(cycle)
        .split(" ", 1)[1]
        .startswith(f"cycle 2 (interval): refused, nothing applied: runtime {url} is damaged")
    )
    assert json.loads(cycle_json(cycle))["outcome"] == "refused"


def test_backoff_grows_is_capped_jittered_and_resets(repo: Path, url: str) -> None:
    w = watcher(url)
    with locked(url):
        waits = [w.reconcile(Trigger.RETRY).retry_in for _ in range(10)]
    ceilings = [min(60.0, 2.0 ** (k - 1)) for k in range(1, 11)]
    assert ceilings[-3:] == [60.0, 60.0, 60.0]
    for k, (wait, ceiling) in enumerate(zip(waits, ceilings, strict=True), start=1):
        assert wait is not None and ceiling / 2 <= wait <= ceiling, (k, wait)
    ratios = {
        round(wait / ceiling, 6) for wait, ceiling in zip(waits, ceilings, strict=True) if wait
    }
    assert len(ratios) > 1  # jittered, not always the same fraction of the ceiling
    assert w.reconcile(Trigger.RETRY).outcome is CycleOutcome.APPLIED
    with locked(url):
        after = w.reconcile(Trigger.RETRY)
    assert after.retry_in is not None and 0.5 <= after.retry_in <= 1.0  # back to the first step


# -- the loop ------------------------------------------------------------------------------------


def test_run_reports_a_lock_once_however_many_tries(
    repo: Path, url: str, fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = watcher(url, interval=0.05)
    tries: list[CycleOutcome] = []
    real = w.reconcile

    def counted(trigger: Trigger, changed: int = 0) -> Cycle:
        cycle = real(trigger, changed)
        tries.append(cycle.outcome)
        return cycle

    monkeypatch.setattr(w, "reconcile", counted)
    runtime = open_runtime(url)
    assert runtime.acquire_lock(OTHER) is None
    try:
        with running(w) as reported:
            wait_until(lambda: len(tries) >= 5, "five tries on the locked runtime")
            runtime.release_lock(OTHER)
            wait_until(lambda: CycleOutcome.APPLIED in tries, "the apply once released")
            wait_until(lambda: len(reported) >= 4, "a few in-sync cycles after it")
    finally:
        runtime.release_lock(OTHER)
        runtime.close()
    outcomes = [c.outcome for c in reported]
    assert tries[:5] == [CycleOutcome.LOCKED] * 5
    assert outcomes[:2] == [CycleOutcome.LOCKED, CycleOutcome.APPLIED], outcomes
    assert set(outcomes[2:]) == {CycleOutcome.IN_SYNC}
    assert [c.trigger for c in reported[:2]] == [Trigger.START, Trigger.RETRY]
    assert reported[2].trigger is Trigger.INTERVAL
    assert [c.number for c in reported[:2]] == [1, tries.index(CycleOutcome.APPLIED) + 1]
    assert live(url) == {"banner": 1, "deal": 1}


def test_run_reports_each_change_of_failure(
    repo: Path, url: str, fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    script: list[Exception] = [
        LockedError("locked 1"),
        LockedError("locked 2"),
        RuntimeUnavailable("down 1"),
        RuntimeUnavailable("down 2"),
        RuntimeUnavailable("down 3"),
        LockedError("locked 3"),
    ]
    real = api.apply

    def apply(*args: Any, **kwargs: Any) -> Any:
        if script:
            raise script.pop(0)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "apply", apply)
    w = watcher(url, interval=30)
    with running(w) as reported:
        wait_until(lambda: len(reported) >= 4, "four reports")
        time.sleep(0.2)  # nothing more comes: an in-sync project on a long interval is quiet
    assert [(c.outcome, c.error) for c in reported] == [
        (CycleOutcome.LOCKED, "locked 1"),
        (CycleOutcome.UNREACHABLE, "down 1"),
        (CycleOutcome.LOCKED, "locked 3"),
        (CycleOutcome.APPLIED, None),
    ]
    assert [c.number for c in reported] == [1, 3, 6, 7]


def test_a_console_edit_is_healed_before_the_interval(repo: Path, url: str, fast: None) -> None:
    """Drift was healed at the next --interval only: the watch follows the runtime's revision
    between cycles, and a write by someone else starts a cycle."""
    w = watcher(url, interval=300)
    with running(w) as reported:
        wait_until(lambda: len(reported) == 1, "the start cycle")
        api.edit(api.Options(url), "deal", ["content.body=Edited in the console"], actor="bob")
        wait_until(lambda: len(reported) == 2, "a cycle for the runtime's change")
    healed = reported[1]
    assert (healed.trigger, healed.outcome) == (Trigger.RUNTIME, CycleOutcome.APPLIED)
    assert healed.plan is not None
    assert [(o.campaign, o.action.value, o.drift) for o in healed.plan.operations] == [
        ("deal", "replace", "bob")
    ]


def test_a_change_wakes_the_loop_before_the_interval(repo: Path, url: str, fast: None) -> None:
    w = watcher(url, interval=30)
    with running(w) as reported:
        wait_until(lambda: len(reported) == 1, "the start cycle")
        put(repo / "campaigns" / "deal.yaml", DEAL.format(title="Deal of the week"))
        wait_until(lambda: len(reported) == 2, "a cycle for the change")
    change = reported[1]
    assert (change.trigger, change.changed_files, change.outcome) == (
        Trigger.CHANGE,
        1,
        CycleOutcome.APPLIED,
    )
    assert live(url) == {"banner": 1, "deal": 2}


def test_a_change_to_the_policies_wakes_the_loop(repo: Path, url: str, fast: None) -> None:
    """The project file is at the repository's root, outside the watched folder: it is looked at
    as often as the runtime's revision, and a change to it is judged at once."""
    w = watcher(url, interval=300)
    with running(w) as reported:
        wait_until(lambda: len(reported) == 1, "the start cycle")
        put(repo / "reconciler.yaml", REQUIRE_TEAM)
        wait_until(lambda: len(reported) == 2, "a cycle for the policies")
    judged = reported[1]
    assert (judged.trigger, judged.changed_files, judged.outcome) == (
        Trigger.CHANGE,
        1,
        CycleOutcome.INVALID,
    )
    assert judged.plan is not None
    assert [str(d) for d in judged.plan.errors] == [
        f"campaigns/{name}.yaml:3:1: metadata.labels has no team label: every campaign must "
        "carry team (requiredLabels, reconciler.yaml:4)"
        for name in ("banner", "deal")
    ]


def test_an_edit_by_sed_i_is_one_changed_file(repo: Path, url: str, fast: None) -> None:
    """``sed -i`` writes a temporary file beside the manifest and renames it over it."""
    w = watcher(url, interval=30)
    with running(w) as reported:
        wait_until(lambda: len(reported) == 1, "the start cycle")
        temporary = repo / "campaigns" / "sedAbC123"
        temporary.write_text(DEAL.format(title="Deal of the week"))
        temporary.replace(repo / "campaigns" / "deal.yaml")
        wait_until(lambda: len(reported) == 2, "a cycle for the change")
    assert (reported[1].trigger, reported[1].changed_files) == (Trigger.CHANGE, 1)
    assert cycle_text(reported[1]).split(" (", 1)[1].startswith("change: 1 file): applied 1 of")


def test_hidden_and_other_files_do_not_wake_the_loop(repo: Path, url: str, fast: None) -> None:
    w = watcher(url, interval=30)
    with running(w) as reported:
        wait_until(lambda: len(reported) == 1, "the start cycle")
        (repo / "campaigns" / "notes.txt").write_text("hello")
        (repo / "campaigns" / ".draft.yaml").write_text(BANNER.format(name="hidden"))
        (repo / "campaigns" / ".git").mkdir()
        (repo / "campaigns" / ".git" / "x.yaml").write_text(BANNER.format(name="git"))
        time.sleep(0.5)
        assert len(reported) == 1
        (repo / "campaigns" / "sub").mkdir()
        time.sleep(0.2)  # the new folder is watched before a file lands in it
        put(repo / "campaigns" / "sub" / "more.yml", BANNER.format(name="more"))
        wait_until(lambda: "more" in live(url), "a cycle for the .yml file")
    assert live(url) == {"banner": 1, "deal": 1, "more": 1}


def test_a_file_written_during_the_start_cycle_is_not_missed(
    repo: Path, url: str, fast: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files are being watched before the start cycle reads them (not from its end on)."""
    real = api.apply
    calls: list[int] = []

    def apply(*args: Any, **kwargs: Any) -> Any:
        ledger = real(*args, **kwargs)  # the files are read: a new one comes in meanwhile
        if not calls:
            put(repo / "campaigns" / "late.yaml", BANNER.format(name="late"))
        calls.append(1)
        return ledger

    monkeypatch.setattr(api, "apply", apply)
    w = watcher(url, interval=30)
    with running(w):
        wait_until(lambda: "late" in live(url), "the late file applied (interval: 30 s)", 20)


def test_a_folder_of_manifests_moved_in_wakes_the_loop(repo: Path, url: str, fast: None) -> None:
    staging = repo / "staging"
    staging.mkdir()
    (staging / "team.yaml").write_text(BANNER.format(name="team"))
    w = watcher(url, interval=30)
    with running(w) as reported:
        wait_until(lambda: len(reported) == 1, "the start cycle")
        staging.rename(repo / "campaigns" / "team")
        wait_until(
            lambda: len(reported) == 2, "a cycle for the folder moved in (interval: 30 s)", 20
        )
    assert "team" in live(url)


def test_a_folder_of_manifests_moved_out_wakes_the_loop(repo: Path, url: str, fast: None) -> None:
    (repo / "campaigns" / "team").mkdir()
    (repo / "campaigns" / "team" / "team.yaml").write_text(BANNER.format(name="team"))
    w = watcher(url, interval=30)
    with running(w) as reported:
        wait_until(lambda: len(reported) == 1, "the start cycle")
        (repo / "campaigns" / "team").rename(repo / "elsewhere")
        wait_until(lambda: len(reported) == 2, "a cycle for the folder moved out")
    gone = reported[1]
    assert (gone.trigger, gone.outcome) == (Trigger.CHANGE, CycleOutcome.IN_SYNC)
    assert gone.changed_files == 1  # gone, but it held manifests: it counts
    assert gone.plan is not None
    assert [d.campaign for d in gone.plan.warnings] == ["team"]  # an orphan, reported
    assert live(url) == {"banner": 1, "deal": 1, "team": 1}  # never deleted


def test_a_manifest_folder_made_again_is_watched_again(repo: Path, url: str, fast: None) -> None:
    w = watcher(url, interval=30)
    with running(w) as reported:
        wait_until(lambda: len(reported) == 1, "the start cycle")
        shutil.rmtree(repo / "campaigns")
        wait_until(
            lambda: any(c.outcome is CycleOutcome.INVALID for c in reported), "the removal seen"
        )
        (repo / "campaigns").mkdir()
        time.sleep(0.3)
        put(repo / "campaigns" / "again.yaml", BANNER.format(name="again"))
        wait_until(lambda: "again" in live(url), "the new folder's file (interval: 30 s)", 20)


# -- the parse cache -----------------------------------------------------------------------------


def test_unchanged_files_are_not_parsed_again(repo: Path, url: str, parses: list[str]) -> None:
    w = watcher(url)
    w.reconcile(Trigger.START)
    assert parses == ["campaigns/banner.yaml", "campaigns/deal.yaml"]
    parses.clear()
    assert w.reconcile(Trigger.INTERVAL).outcome is CycleOutcome.IN_SYNC
    assert parses == []
    deal = repo / "campaigns" / "deal.yaml"
    deal.write_text(DEAL.format(title="Deal of the week"))
    assert w.reconcile(Trigger.CHANGE, 1).outcome is CycleOutcome.APPLIED
    assert parses == ["campaigns/deal.yaml"]
    parses.clear()
    deal.touch()  # a new mtime, the same bytes
    assert w.reconcile(Trigger.CHANGE, 1).outcome is CycleOutcome.IN_SYNC
    assert parses == []
    deal.write_text(DEAL.format(title="Deal of the day"))  # back to bytes seen before
    assert w.reconcile(Trigger.CHANGE, 1).outcome is CycleOutcome.APPLIED
    assert parses == ["campaigns/deal.yaml"]  # versions a cycle did not use are not kept
    assert live(url) == {"banner": 1, "deal": 3}
    assert sorted(key[0] for key in w.cache) == ["campaigns/banner.yaml", "campaigns/deal.yaml"]


def test_a_dry_run_watcher_uses_the_cache_too(repo: Path, url: str, parses: list[str]) -> None:
    w = watcher(url, dry_run=True)
    w.reconcile(Trigger.START)
    w.reconcile(Trigger.INTERVAL)
    assert parses == ["campaigns/banner.yaml", "campaigns/deal.yaml"]


# -- stopping ------------------------------------------------------------------------------------


def test_stop_before_the_apply_skips_every_operation(repo: Path, url: str) -> None:
    w = watcher(url)
    w.stop.set()
    cycle = w.reconcile(Trigger.START)
    assert cycle.ledger is not None and cycle.ledger.plan.has_changes
    assert [(e.campaign, e.outcome, e.message) for e in cycle.ledger.entries] == [
        ("banner", Outcome.SKIPPED, "not attempted: stopping"),
        ("deal", Outcome.SKIPPED, "not attempted: stopping"),
    ]
    assert cycle.outcome not in (CycleOutcome.APPLIED, CycleOutcome.IN_SYNC)
    assert live(url) == {}
    runtime = open_runtime(url)
    try:
        assert runtime.acquire_lock(OTHER) is None  # the lock was released
    finally:
        runtime.close()


def test_run_returns_at_once_when_stopped_before_it_starts(repo: Path, url: str) -> None:
    w = watcher(url)
    w.stop.set()
    reported: list[Cycle] = []
    assert w.run(reported.append) == Stopped(None, 0)
    assert reported == [] and w.cycles == 0


def test_run_says_what_stopped_it_after_how_many_cycles(repo: Path, url: str) -> None:
    w = watcher(url, interval=30)
    stopped: list[Stopped] = []
    thread = threading.Thread(target=lambda: stopped.append(w.run(lambda cycle: None)))
    thread.start()
    wait_until(lambda: w.cycles == 1, "the start cycle")
    w.shut_down("SIGTERM")
    w.shut_down("SIGINT")  # a second signal while stopping: the first one stopped it
    thread.join(timeout=30)
    assert stopped == [Stopped("SIGTERM", 1)]
    assert render.stopped_text(stopped[0]) == "watch stopped (SIGTERM) after 1 cycle\n"
    # one line, with no spaces, as every cycle's line is
    assert render.stopped_json(stopped[0]) == '{"stopped":"SIGTERM","cycles":1}\n'
    assert render.stopped_text(Stopped(None, 3)) == "watch stopped after 3 cycles\n"


# -- views ---------------------------------------------------------------------------------------


def cycles_of_every_outcome(
    repo: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> dict[CycleOutcome, Cycle]:
    cycles: dict[CycleOutcome, Cycle] = {}
    cycles[CycleOutcome.PLANNED] = watcher(url, dry_run=True).reconcile(Trigger.START)
    w = watcher(url)
    cycles[CycleOutcome.APPLIED] = w.reconcile(Trigger.START)
    cycles[CycleOutcome.IN_SYNC] = w.reconcile(Trigger.INTERVAL)
    (repo / "campaigns" / "broken.yaml").write_text(BROKEN)
    cycles[CycleOutcome.INVALID] = w.reconcile(Trigger.CHANGE, 3)
    (repo / "campaigns" / "broken.yaml").unlink()
    with locked(url):
        cycles[CycleOutcome.LOCKED] = w.reconcile(Trigger.RETRY)
    (repo / "campaigns" / "deal.yaml").write_text(DEAL.format(title="Deal of the week"))
    (repo / "campaigns" / "more.yaml").write_text(BANNER.format(name="more"))
    with monkeypatch.context() as patch:
        real = Platform.apply_batch

        def apply_batch(self: Platform, writes: Sequence[Write]) -> list[Applied | ReconcilerError]:
            at = next((i for i, w in enumerate(writes) if w.campaign == "deal"), None)
            if at is None:
                return real(self, writes)
            # a refusal ends the batch: what comes before it lands, nothing after it is attempted
            return [*real(self, writes[:at]), ConflictError("deal was changed meanwhile")]

        patch.setattr(Platform, "apply_batch", apply_batch)
        cycles[CycleOutcome.FAILED] = w.reconcile(Trigger.CHANGE, 2)
    (repo / "plain-file").write_text("")
    down = watcher(f"sqlite:///{repo / 'plain-file' / 'x.db'}")
    cycles[CycleOutcome.UNREACHABLE] = down.reconcile(Trigger.START)
    assert {o: c.outcome for o, c in cycles.items()} == {o: o for o in cycles}
    return cycles


def test_cycle_text_first_lines(repo: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cycles = cycles_of_every_outcome(repo, url, monkeypatch)
    heads = {o: cycle_text(c).split("\n", 1)[0] for o, c in cycles.items()}
    ms = r" \[\d+ ms\]"
    expected = {
        # a dry run against a runtime that does not exist yet says so
        CycleOutcome.PLANNED: r"cycle 1 \(start\): would apply: Plan: 2 to activate; 0 unchanged, "
        r"1 warning\.",
        CycleOutcome.APPLIED: r"cycle 1 \(start\): applied 2 of 2 operations",
        CycleOutcome.IN_SYNC: r"cycle 2 \(interval\): in sync \(2 campaigns\)",
        CycleOutcome.INVALID: r"cycle 3 \(change: 3 files\): invalid, nothing applied",
        CycleOutcome.LOCKED: r"cycle 4 \(retry\): locked: the runtime is locked by "
        r"someone-else@ci:1 \(x\) since \S+, expires \S+; retrying in \d\.\ds",
        CycleOutcome.FAILED: r"cycle 5 \(change: 2 files\): failed 0 of 2 operations done, "
        r"1 failed, 1 skipped",
        CycleOutcome.UNREACHABLE: r"cycle 1 \(start\): unreachable: cannot open runtime "
        r"sqlite:///\S+/plain-file/x\.db: .+; retrying in \d\.\ds",
    }
    for outcome, pattern in expected.items():
        assert re.fullmatch(TIMESTAMP + " " + pattern + ms, heads[outcome]), heads[outcome]


def test_cycle_text_bodies(repo: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cycles = cycles_of_every_outcome(repo, url, monkeypatch)
    texts = {o: cycle_text(c) for o, c in cycles.items()}
    for quiet in (CycleOutcome.IN_SYNC, CycleOutcome.LOCKED, CycleOutcome.UNREACHABLE):
        assert texts[quiet].count("\n") == 1 and texts[quiet].endswith("\n")  # one line
    assert texts[CycleOutcome.INVALID].split("\n", 1)[1] == (
        "  campaigns/broken.yaml:5:10: spec.state: 'paused' is not one of ['draft', 'live']\n"
    )
    applied = texts[CycleOutcome.APPLIED].split("\n", 1)[1]
    assert applied.startswith("Plan: 2 to activate; 0 unchanged.\n")
    assert "  done    activate banner\n" in applied
    assert applied.endswith("Apply: 2 done, 0 failed, 0 skipped.\n")
    planned = texts[CycleOutcome.PLANNED].split("\n", 1)[1]
    assert planned.startswith("Plan: 2 to activate; 0 unchanged, 1 warning.\n")
    assert "done" not in planned
    assert planned.endswith("does not exist yet: planning against an empty runtime\n")
    assert (
        "skipped  replace  deal" in texts[CycleOutcome.FAILED]
        or "skipped" in (texts[CycleOutcome.FAILED])
    )
    assert "\x1b[" not in "".join(texts.values())
    assert "\x1b[" in cycle_text(cycles[CycleOutcome.APPLIED], color=True)


def test_cycle_json_is_one_line_with_the_fields(
    repo: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cycles = cycles_of_every_outcome(repo, url, monkeypatch)
    for outcome, cycle in cycles.items():
        line = cycle_json(cycle)
        assert line.endswith("\n") and line.count("\n") == 1, outcome
        body = json.loads(line)
        assert re.fullmatch(TIMESTAMP, body["at"])
        assert body["outcome"] == outcome.value
        assert body["cycle"] == cycle.number and body["trigger"] == cycle.trigger.value
        assert body["changed_files"] == cycle.changed_files
        assert isinstance(body["duration_ms"], float | int) and body["duration_ms"] >= 0
        assert body["error"] == cycle.error and body["retry_in"] == cycle.retry_in
        assert ("summary" in body) == (cycle.plan is not None)
        assert ("ledger" in body) == (cycle.ledger is not None)
    applied = json.loads(cycle_json(cycles[CycleOutcome.APPLIED]))
    assert applied["summary"]["activate"] == 2 and applied["errors"] == []
    assert applied["operations"][0] == {
        "campaign": "banner",
        "action": "activate",
        "reason": applied["operations"][0]["reason"],
    }
    assert applied["ledger"] == [
        {"campaign": "banner", "action": "activate", "outcome": "done"},
        {"campaign": "deal", "action": "activate", "outcome": "done"},
    ]
    invalid = json.loads(cycle_json(cycles[CycleOutcome.INVALID]))
    assert [(e["file"], e["line"], e["column"]) for e in invalid["errors"]] == [
        ("campaigns/broken.yaml", 5, 10)
    ]
    assert invalid["ledger"] == [] and invalid["operations"] == []
    locked_ = json.loads(cycle_json(cycles[CycleOutcome.LOCKED]))
    assert locked_["error"].startswith("the runtime is locked by someone-else@ci:1")
    assert 0.5 <= locked_["retry_in"] <= 1.0
    assert "summary" not in locked_
    planned = json.loads(cycle_json(cycles[CycleOutcome.PLANNED]))
    assert "ledger" not in planned and planned["summary"]["activate"] == 2
