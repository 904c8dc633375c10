"""How fast `reconciler watch` reacts to an edit, with many manifests in the directory.

    python bench/watch_reaction.py [--manifests 1000] [--runs 5]

Run it with the interpreter that has reconciler installed (``.venv/bin/python``). It writes N
manifests (a mix of channels and kinds, in team folders) to a temporary directory, starts
``reconciler watch --format json`` on them with a SQLite runtime, and waits for the first (cold)
cycle to apply them all. Then, ``--runs`` times, it changes the content of one live recurring
campaign and measures the wall time from the write to

- the runtime: the campaign's new live version, read from the SQLite file (read-only, every 10 ms);
- the report: the watch's JSON line for the cycle that applied it.

It prints the median and the max of each, the cold cycle, and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

POLL_SECONDS = 0.010
WATCH = (sys.executable, "-m", "reconciler", "watch", "campaigns")
TEAMS = ("growth", "content", "product", "web", "mobile", "loyalty", "crm")
ZONES = ("Europe/Amsterdam", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def manifest(i: int) -> tuple[str, str, bool]:
    """The i-th manifest: (name, YAML text, whether it is a live recurring campaign)."""
    kind = i % 10
    name = f"c{i:05d}"
    team = TEAMS[i % len(TEAMS)]
    zone = ZONES[i % len(ZONES)]
    head = (
        "apiVersion: reconciler/v1\nkind: Campaign\nmetadata:\n"
        f"  name: {name}\n  title: Campaign {i}\n  labels: {{team: {team}, wave: w{i % 4}}}\n"
        "spec:\n"
    )
    recurring = False
    if kind in (0, 1):  # weekly email newsletter
        recurring = True
        body = (
            f"  state: live\n  channel: email\n  audience: {{segment: newsletter-{i % 13}}}\n"
            f'  content:\n    subject: "Weekly news {i}"\n    template: digest-v{i % 5}\n'
            "  schedule:\n    recurring:\n      every: week\n"
            f"      on: [{WEEKDAYS[i % 7]}, {WEEKDAYS[(i + 3) % 7]}]\n"
            f'      at: "{8 + i % 10:02d}:{(i * 7) % 60:02d}"\n'
            f"    timezone: {zone}\n  throttle: {{perSecond: {100 + i % 1900}}}\n"
        )
    elif kind == 2:  # monthly email with a start and an end
        recurring = True
        body = (
            f"  state: live\n  channel: email\n  audience: {{segment: customers-{i % 7}}}\n"
            f'  content:\n    subject: "Monthly update {i}"\n    body: "Everything we shipped."\n'
            "  schedule:\n    recurring:\n      every: month\n"
            f'      on: [{1 + i % 28}]\n      at: "10:30"\n'
            "      start: 2027-01-01T00:00:00+01:00\n      end: 2027-12-31T23:59:59+01:00\n"
            f"    timezone: {zone}\n"
        )
    elif kind == 3:  # push on a cron
        recurring = True
        body = (
            f"  state: live\n  channel: push\n  audience: {{segment: app-users-{i % 11}}}\n"
            f'  content:\n    title: "Deal {i}"\n    body: "Today\'s deal is waiting."\n'
            f'  schedule:\n    recurring: {{cron: "{i % 60} 12 * * MON-FRI"}}\n'
            f"    timezone: {zone}\n"
        )
    elif kind == 4:  # one-time SMS
        body = (
            f"  state: live\n  channel: sms\n  audience: {{segment: sms-opted-in-{i % 5}}}\n"
            f'  content:\n    text: "Sale {i}: 20% off with code S{i}. Reply STOP to opt out."\n'
            f"  schedule:\n    once: {{at: 2027-0{1 + i % 9}-15T17:00:00+01:00}}\n"
            f"    timezone: {zone}\n"
        )
    elif kind == 5:  # one-time email sent on activation
        body = (
            f"  state: live\n  channel: email\n  audience: {{segment: buyers-{i % 9}}}\n"
            f'  content:\n    subject: "Thanks {i}"\n    body: "Thank you for your order."\n'
        )
    elif kind == 6:  # a draft being written
        body = (
            f"  state: draft\n  channel: push\n  audience: {{segment: eu-{i % 3}}}\n"
            f'  content:\n    title: "Coming soon {i}"\n    body: "Stay tuned."\n'
            f"  schedule:\n    once: {{at: 2027-02-0{1 + i % 9}T12:00:00+01:00}}\n"
        )
    else:  # inbound: in-app, web, code-based, content card
        channel = ("in-app", "web", "code-based", "content-card")[i % 4]
        body = (
            f"  state: live\n  channel: {channel}\n"
            f'  content:\n    title: "Offer {i}"\n    body: "Something for you."\n'
            f"    placement: slot-{i % 6}\n"
        )
        if channel == "content-card":
            body += "  window:\n    start: 2026-11-01T00:00:00Z\n    end: 2027-06-01T00:00:00Z\n"
    return name, head + body, recurring


class Watch:
    """The watch process and the arrival time of each JSON cycle line."""

    def __init__(self, cwd: Path, runtime_url: str) -> None:
        self.stderr_path = cwd / "watch.stderr"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GITHUB_"))}
        env["RECONCILER_ACTOR"] = "bench"
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [*WATCH, "--runtime", runtime_url, "--format", "json", "--interval", "3600"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.stderr_path.open("w"),
            text=True,
        )
        self.lines: list[tuple[float, dict[str, Any]]] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            arrived = time.perf_counter()
            with self.changed:
                self.lines.append((arrived, json.loads(line)))
                self.changed.notify_all()

    def line(self, index: int, timeout: float) -> tuple[float, dict[str, Any]]:
        """The index-th cycle line (from 0): when it arrived, and what it says."""
        deadline = time.perf_counter() + timeout
        with self.changed:
            while len(self.lines) <= index:
                if self.proc.poll() is not None:
                    raise SystemExit(
                        f"watch exited ({self.proc.returncode}) before cycle line {index + 1}:\n"
                        + self.stderr_path.read_text()
                    )
                if time.perf_counter() > deadline:
                    raise SystemExit(f"no cycle line {index + 1} within {timeout}s")
                self.changed.wait(timeout=0.1)
            return self.lines[index]

    def watching(self, folders: int, timeout: float = 10.0) -> None:
        """Until the process holds an inotify watch on each of ``folders`` folders (Linux)."""
        proc = Path(f"/proc/{self.proc.pid}")
        if not (proc / "fdinfo").is_dir():
            time.sleep(1.0)
            return
        deadline = time.perf_counter() + timeout
        while True:
            count = 0
            for fd in (proc / "fd").iterdir():
                try:
                    if str(fd.readlink()) == "anon_inode:inotify":
                        count += (proc / "fdinfo" / fd.name).read_text().count("inotify wd:")
                except OSError:
                    continue
            if count >= folders:
                return
            if time.perf_counter() > deadline:
                raise SystemExit(f"watch set up {count} of {folders} inotify watches in {timeout}s")
            time.sleep(0.01)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def live_version(db: sqlite3.Connection, name: str) -> int | None:
    row = db.execute(
        "SELECT json_extract(data, '$.live.number') FROM campaigns WHERE name = ?", (name,)
    ).fetchone()
    return row[0] if row else None


def bench(count: int, runs: int, root: Path) -> None:
    folder = root / "campaigns"
    recurring: list[tuple[str, Path, str]] = []
    for i in range(count):
        name, text, is_recurring = manifest(i)
        team = root / "campaigns" / TEAMS[i % len(TEAMS)]
        team.mkdir(parents=True, exist_ok=True)
        (team / f"{name}.yaml").write_text(text, encoding="utf-8")
        if is_recurring:
            recurring.append((name, team / f"{name}.yaml", text))
    if len(recurring) < runs:
        raise SystemExit(f"--manifests {count} gives {len(recurring)} recurring campaigns, fewer")
    db_path = root / "runtime.db"
    watch = Watch(root, f"sqlite:///{db_path}")
    try:
        arrived, first = watch.line(0, timeout=600)
        done = sum(1 for e in first.get("ledger", []) if e["outcome"] == "done")
        if first["outcome"] != "applied" or done != count:
            raise SystemExit(f"the first cycle did not apply all {count}: {first}")
        cold_wall = arrived - watch.started
        print(f"{count} manifests in {folder}")
        print(
            f"cold: first cycle {first['duration_ms'] / 1000:.2f} s as reported "
            f"({cold_wall:.2f} s from process start to its line, {done} operations)"
        )
        # measure from a watch that is watching: its inotify watches are set up (one per folder)
        watch.watching(folders=1 + len({p.parent for p in folder.rglob("*.yaml")}))
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
        to_runtime: list[float] = []
        to_line: list[float] = []
        step = max(1, len(recurring) // runs)
        for run in range(runs):
            name, path, text = recurring[run * step]
            before = live_version(db, name)
            assert before is not None
            index = len(watch.lines)
            field = "subject" if '    subject: "' in text else "title"
            edited = text.replace(f'    {field}: "', f'    {field}: "[edit {run + 1}] ', 1)
            assert edited != text
            start = time.perf_counter()
            path.write_text(edited, encoding="utf-8")
            deadline = start + 30
            while live_version(db, name) != before + 1:
                if time.perf_counter() > deadline:
                    raise SystemExit(f"{name} did not reach live version {before + 1} in 30 s")
                time.sleep(POLL_SECONDS)
            to_runtime.append(time.perf_counter() - start)
            arrived, cycle = watch.line(index, timeout=30)
            ops = [(o["campaign"], o["action"]) for o in cycle.get("operations", [])]
            if cycle["outcome"] != "applied" or ops != [(name, "replace")]:
                raise SystemExit(f"unexpected cycle for the edit of {name}: {cycle}")
            to_line.append(arrived - start)
            print(
                f"run {run + 1}: {name} v{before} -> v{before + 1}: runtime "
                f"{to_runtime[-1] * 1000:.0f} ms, cycle line {to_line[-1] * 1000:.0f} ms "
                f"(cycle {cycle['duration_ms']:.0f} ms as reported)"
            )
            time.sleep(0.3)  # let the watcher settle before the next edit
        db.close()
    finally:
        code = watch.stop()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"write -> runtime:    median {statistics.median(to_runtime) * 1000:.0f} ms, "
        f"max {max(to_runtime) * 1000:.0f} ms"
    )
    print(
        f"write -> cycle line: median {statistics.median(to_line) * 1000:.0f} ms, "
        f"max {max(to_line) * 1000:.0f} ms"
    )
    print(
        f"machine: nproc {usable}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}; "
        f"watch exited {code}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifests", type=int, default=1000, help="how many (default 1000)")
    parser.add_argument("--runs", type=int, default=5, help="how many edits (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.manifests < 10 or args.runs < 1:
        parser.error("--manifests must be at least 10 and --runs at least 1")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    root = Path(tempfile.mkdtemp(prefix="watch-reaction-"))
    try:
        bench(args.manifests, args.runs, root)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
