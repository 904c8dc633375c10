"""`reconciler watch` as a real process on a temporary directory and a SQLite runtime.

Each cycle is read from the process's stdout as a line of JSON (`--format json`); the runtime is
polled directly. Every wait has a deadline and fails with what was seen so far."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from factories import IN_APP_YAML, PUSH_YAML, campaigns
from reconciler.model import RECONCILER
from reconciler.runtime.registry import open_runtime

pytestmark = pytest.mark.slow  # starts processes: `pytest -m "not slow"` leaves it out

CLI = (sys.executable, "-m", "reconciler")
RECURRING = PUSH_YAML
INBOUND = IN_APP_YAML
BROKEN = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: broken}
spec:
  state: live
  channel: in-app
  content: {title: "Hello", body: "There"
"""


class Watch:
    """One `reconciler watch --format json` process, its cycles as they come, and its stderr."""

    def __init__(self, cwd: Path, url: str, *args: str, name: str = "watch") -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GITHUB_"))}
        env["RECONCILER_ACTOR"] = "tester"
        self.stderr_path = cwd / f"{name}.stderr"
        self.cycles: list[dict[str, Any]] = []
        self.closing: dict[str, Any] | None = None  # the last line, when watch stopped
        self.arrived: list[float] = []  # time.monotonic() of each cycle line
        self._lock = threading.Lock()
        with self.stderr_path.open("w") as stderr:
            self.proc = subprocess.Popen(
                [*CLI, "watch", "campaigns", "--runtime", url, "--format", "json", *args],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.monotonic()
            cycle = json.loads(line)
            with self._lock:
                if self.closing is not None:
                    raise AssertionError(f"a line after the closing one: {line}")
                if "stopped" in cycle:
                    self.closing = cycle
                    continue
                self.cycles.append(cycle)
                self.arrived.append(now)

    def seen(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.cycles)

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_for(
        self, what: str, condition: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Until ``condition(cycles so far)``; fail if the process ends, or on the deadline, which
        only guards against a hang: these tests count what happened, never how fast."""
        deadline = time.monotonic() + timeout
        while True:
            cycles = self.seen()
            if condition(cycles):
                return cycles
            if self.proc.poll() is not None:
                self._reader.join(timeout=1)
                if condition(self.seen()):
                    return self.seen()
                raise AssertionError(
                    f"watch exited ({self.proc.returncode}) while waiting for {what}; "
                    f"cycles: {self.seen()}; stderr: {self.stderr()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; cycles: {cycles}; "
                    f"stderr: {self.stderr()}"
                )
            time.sleep(0.01)

    def started(self) -> list[dict[str, Any]]:
        return self.wait_for("the start cycle", lambda cycles: len(cycles) >= 1, timeout=10)

    def ready(self, folder: Path) -> list[dict[str, Any]]:
        """The start cycle is reported and every folder under ``folder`` is being watched.

        Until 61628f2 watching began only after the start cycle, and a file written right after
        the start line could go unseen (test_a_file_written_during_the_start_cycle_is_not_missed
        in test_watch.py pins that down); waiting for the process's inotify watches as well keeps
        these tests from racing the set-up of the watches, whatever its order.
        """
        cycles = self.started()
        folders = 1 + sum(1 for p in folder.rglob("*") if p.is_dir())
        if not Path(f"/proc/{self.proc.pid}/fdinfo").is_dir():  # not Linux: give it time
            time.sleep(1.0)
            return cycles
        deadline = time.monotonic() + 30  # a hang guard
        while inotify_watches(self.proc.pid) < folders:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"watch set up no inotify watch; stderr: {self.stderr()}")
            time.sleep(0.01)
        return cycles

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> tuple[int, float]:
        """Send ``signum``; the exit code and how long the process took to exit."""
        sent = time.monotonic()
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"watch did not exit within {timeout}s of signal {signum}; stderr: {self.stderr()}"
            ) from None
        took = time.monotonic() - sent
        self._reader.join(timeout=2)
        return code, took

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def inotify_watches(pid: int) -> int:
    """How many inotify watches the process holds (from /proc/PID/fdinfo)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if str(fd.readlink()) == "anon_inode:inotify":
                count += Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().count("inotify wd:")
        except OSError:  # the fd closed meanwhile
            continue
    return count


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "campaigns").mkdir()
    return tmp_path


@pytest.fixture
def url(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'runtime.db'}"


@pytest.fixture
def start(workdir: Path, url: str) -> Iterator[Callable[..., Watch]]:
    """Start watch processes; each is killed at teardown if the test left it running."""
    started: list[Watch] = []

    def starter(*args: str, name: str = "watch") -> Watch:
        watch = Watch(workdir, url, *args, name=name)
        started.append(watch)
        return watch

    yield starter
    for watch in started:
        watch.kill()


def put(path: Path, text: str) -> None:
    """Write whole or not at all (a hidden file renamed into place), as editors save: a cycle
    that reads the folder meanwhile never sees a half-written manifest."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


def write(
    workdir: Path,
    name: str,
    template: str = RECURRING,
    title: str = "Deal",
    *,
    atomic: bool = True,
) -> None:
    path = workdir / "campaigns" / f"{name}.yaml"
    text = template.format(name=name, title=title)
    if atomic:
        put(path, text)
    else:
        path.write_text(text)


def live(url: str) -> dict[str, int]:
    return {n: c.live.number for n, c in campaigns(url).items() if c.live is not None}


def poll(what: str, condition: Callable[[], bool], timeout: float, every: float = 0.02) -> float:
    """Until ``condition()``; the seconds it took. Fails on the deadline."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - began


def lock_rows(workdir: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{workdir / 'runtime.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT owner, reason FROM lock").fetchall()
    finally:
        db.close()


def applied(cycles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in cycles if c["outcome"] == "applied"]


def test_a_new_manifest_goes_live_on_its_change_cycle(
    workdir: Path, url: str, start: Callable[..., Watch]
) -> None:
    write(workdir, "deal")
    watch = start()
    first = watch.ready(workdir / "campaigns")[0]
    assert (first["cycle"], first["trigger"], first["outcome"]) == (1, "start", "applied")
    assert live(url) == {"deal": 1}
    write(workdir, "banner", INBOUND)
    # woken by the change, not by the interval (60 s; the bound only guards against a hang)
    cycles = watch.wait_for("the change cycle", lambda cycles: len(cycles) >= 2, timeout=30)
    assert cycles[1]["trigger"] == "change" and cycles[1]["changed_files"] == 1
    assert cycles[1]["ledger"] == [{"campaign": "banner", "action": "activate", "outcome": "done"}]
    assert live(url) == {"deal": 1, "banner": 1}


def test_an_edit_to_a_live_recurring_campaign_is_a_replace(
    workdir: Path, url: str, start: Callable[..., Watch]
) -> None:
    write(workdir, "deal", title="Deal of the day")
    watch = start()
    watch.ready(workdir / "campaigns")
    write(workdir, "deal", title="Deal of the week")
    poll("live version 2", lambda: live(url).get("deal") == 2, timeout=5)
    deal = campaigns(url)["deal"]
    assert deal.live is not None and deal.live.spec["content"]["title"] == "Deal of the week"
    assert deal.draft is None and deal.versions == 2
    cycles = watch.wait_for("the change cycle", lambda cycles: len(applied(cycles)) >= 2)
    assert applied(cycles)[1]["operations"][0]["action"] == "replace"
    assert applied(cycles)[1]["ledger"] == [
        {"campaign": "deal", "action": "replace", "outcome": "done"}
    ]


def test_a_broken_file_is_reported_and_the_loop_recovers(
    workdir: Path, url: str, start: Callable[..., Watch]
) -> None:
    write(workdir, "deal")
    watch = start()
    watch.ready(workdir / "campaigns")
    put(workdir / "campaigns" / "broken.yaml", BROKEN)
    write(workdir, "banner", INBOUND)  # valid, but nothing applies while a file is broken
    cycles = watch.wait_for(
        "an invalid cycle", lambda cycles: any(c["outcome"] == "invalid" for c in cycles)
    )
    invalid = next(c for c in cycles if c["outcome"] == "invalid")
    assert invalid["errors"] and {e["file"] for e in invalid["errors"]} == {"campaigns/broken.yaml"}
    assert invalid["errors"][0]["message"].startswith("invalid YAML")
    assert invalid["ledger"] == [] and invalid["summary"]["errors"] == 1
    time.sleep(0.3)
    assert watch.proc.poll() is None, watch.stderr()
    assert live(url) == {"deal": 1}
    put(workdir / "campaigns" / "broken.yaml", BROKEN.replace('"There"', '"There"}'))
    poll("the fixed file to apply", lambda: len(live(url)) == 3, timeout=5)
    assert live(url) == {"banner": 1, "broken": 1, "deal": 1}
    assert watch.wait_for("the applied cycle", lambda c: c[-1]["outcome"] == "applied")


def test_an_outside_edit_is_healed_as_the_watch_sees_the_runtime_move(
    workdir: Path, url: str, start: Callable[..., Watch]
) -> None:
    write(workdir, "deal", title="Deal of the day")
    watch = start("--interval", "600")  # not by the interval: by the runtime's change feed
    watch.ready(workdir / "campaigns")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    edit = subprocess.run(
        [*CLI, "runtime", "edit", "deal", "--set", "content.title=Mega deal", "--runtime", url],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert (edit.returncode, edit.stdout) == (0, "deal: live version 2 written by console\n")
    poll("the heal", lambda: live(url).get("deal") == 3, timeout=30)  # a bound against a hang
    deal = campaigns(url)["deal"]
    assert deal.live is not None
    assert deal.live.spec["content"]["title"] == "Deal of the day"
    assert (deal.live.origin, deal.live.actor) == (RECONCILER, "tester")
    cycles = watch.wait_for("the heal cycle", lambda cycles: len(applied(cycles)) >= 2)
    heal = applied(cycles)[1]
    assert heal["trigger"] == "runtime" and heal["changed_files"] == 0
    assert [(o["campaign"], o["action"]) for o in heal["operations"]] == [("deal", "replace")]
    assert "console" in heal["operations"][0]["reason"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_exits_0_with_the_lock_released(
    workdir: Path, start: Callable[..., Watch], signum: int
) -> None:
    write(workdir, "deal")
    watch = start()
    watch.ready(workdir / "campaigns")
    code, _ = watch.stop(signum)
    assert code == 0, watch.stderr()
    assert lock_rows(workdir) == []
    assert watch.stderr() == ""
    assert watch.closing == {"stopped": signal.Signals(signum).name, "cycles": 1}


def test_in_text_the_last_line_says_what_stopped_watch(workdir: Path, url: str) -> None:
    write(workdir, "deal")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GITHUB_"))}
    proc = subprocess.Popen(
        [*CLI, "watch", "campaigns", "--runtime", url],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the start cycle: the signal handlers are in place
        assert " cycle 1 (start): applied 1 of 1 operation" in first
        proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=60)  # a bound against a hang only
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, stderr) == (0, "")
    assert (first + rest).splitlines()[-1] == "watch stopped (SIGINT) after 1 cycle"


def test_sigterm_during_an_apply_finishes_cleanly(
    workdir: Path, url: str, start: Callable[..., Watch]
) -> None:
    count = 300
    for i in range(count):
        write(workdir, f"c{i:03d}", INBOUND if i % 2 else RECURRING, title=f"Title {i}")
    watch = start()
    poll("the first writes", lambda: len(live(url)) > 0, timeout=15, every=0.005)
    code, _ = watch.stop(signal.SIGTERM)
    assert (code, watch.stderr()) == (0, "")
    assert watch.closing == {"stopped": "SIGTERM", "cycles": 1}
    assert lock_rows(workdir) == []
    [cycle] = watch.seen()
    outcomes = Counter(e["outcome"] for e in cycle["ledger"])
    assert set(outcomes) <= {"done", "skipped"} and outcomes.total() == count
    assert len(live(url)) == outcomes["done"]  # every operation done is whole, none half-done


def test_a_burst_of_200_writes_gives_few_cycles(
    workdir: Path, url: str, start: Callable[..., Watch]
) -> None:
    write(workdir, "deal")
    watch = start()
    watch.ready(workdir / "campaigns")
    for i in range(200):
        # plain writes, as git makes them: a cycle may catch a file half-written, and then
        # reports it invalid; the next change cycle sees it whole
        name, template = f"b{i:03d}", INBOUND if i % 3 else RECURRING
        write(workdir, name, template, title=f"Burst {i}", atomic=False)
    poll("all 200 live", lambda: len(live(url)) == 201, timeout=20, every=0.05)
    # the aftermath: once all is live, one more second with nothing new reported
    quiet_since, reported = time.monotonic(), len(watch.seen())
    deadline = quiet_since + 10
    while time.monotonic() - quiet_since < 1.0:
        assert time.monotonic() < deadline, f"cycles keep coming: {watch.seen()[-3:]}"
        if len(watch.seen()) != reported:
            quiet_since, reported = time.monotonic(), len(watch.seen())
        time.sleep(0.05)
    changes = [c for c in watch.seen() if c["trigger"] == "change"]
    assert 1 <= len(changes) <= 5, [(c["changed_files"], c["outcome"]) for c in changes]
    assert changes[-1]["outcome"] == "applied", changes
    assert sum(c["changed_files"] for c in changes) >= 200
    assert set(live(url).values()) == {1}


def test_two_watchers_on_one_runtime_never_apply_the_same_thing_twice(
    workdir: Path, url: str, start: Callable[..., Watch]
) -> None:
    for i in range(20):
        write(workdir, f"a{i:03d}", INBOUND if i % 2 else RECURRING)
    watches = [start(name="one"), start(name="two")]
    for watch in watches:
        watch.ready(workdir / "campaigns")
    for batch in range(10):  # a directory that changes for a few seconds
        time.sleep(0.3)
        for i in range(10):
            write(workdir, f"b{batch}{i}", INBOUND if i % 2 else RECURRING)
    names = {f"a{i:03d}" for i in range(20)} | {f"b{b}{i}" for b in range(10) for i in range(10)}
    poll("all 120 live", lambda: set(live(url)) == names, timeout=20, every=0.05)
    time.sleep(0.5)  # both settle
    for watch in watches:
        assert watch.proc.poll() is None, watch.stderr()
        assert watch.seen(), "each watcher reported at least its start cycle"
    for watch in watches:
        code, _ = watch.stop()
        assert (code, watch.stderr()) == (0, "")
    state = campaigns(url)
    versions = {n: (c.versions, c.live.number if c.live else None) for n, c in state.items()}
    assert versions == dict.fromkeys(names, (1, 1))
    runtime = open_runtime(url)
    try:
        history = runtime.history()
    finally:
        runtime.close()
    assert Counter(e.campaign for e in history) == Counter(names)
    assert lock_rows(workdir) == []
    outcomes = Counter(c["outcome"] for w in watches for c in w.seen())
    assert set(outcomes) <= {"applied", "in sync", "locked", "unreachable"}, outcomes


def test_a_missing_folder_is_waited_for_not_a_crash(
    workdir: Path, url: str, start: Callable[..., Watch]
) -> None:
    (workdir / "campaigns").rmdir()
    watch = start()
    first = watch.started()[0]
    assert first["outcome"] == "invalid"
    assert [e["message"] for e in first["errors"]] == ["no such file or directory"]
    time.sleep(0.5)  # it keeps polling for the folder
    assert watch.proc.poll() is None, watch.stderr()
    staging = workdir / "staging"
    staging.mkdir()
    (staging / "deal.yaml").write_text(RECURRING.format(name="deal", title="Deal"))
    staging.rename(workdir / "campaigns")  # the folder appears with its manifest
    poll("deal to go live once the folder exists", lambda: "deal" in live(url), timeout=5)
    code, _ = watch.stop()
    assert (code, watch.stderr()) == (0, "")
