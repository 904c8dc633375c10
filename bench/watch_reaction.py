"""How fast `reconciler watch` reacts to an edit, with many manifests in the directory.

    python bench/watch_reaction.py [--manifests 1000] [--runs 5]

Run it with the interpreter that has reconciler installed (``.venv/bin/python``). It writes N
manifests (bench/run.py's: every kind and channel, in team folders) to a temporary directory,
starts ``reconciler watch --format json`` on them with a SQLite runtime, and waits for the first
(cold) cycle to apply them all. Then, ``--runs`` times, it changes the subject of one live weekly
email and measures the wall time from the write to

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import generate  # bench/run.py: the same realistic manifests  # noqa: E402


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
    folder.mkdir()
    editable = generate(folder, count)  # live weekly emails, each alone in its file
    if len(editable) < runs:
        raise SystemExit(f"--manifests {count} gives {len(editable)} editable campaigns, fewer")
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
        step = max(1, len(editable) // runs)
        for run in range(runs):
            path = editable[run * step]
            name, text = path.stem, path.read_text(encoding="utf-8")
            before = live_version(db, name)
            assert before is not None
            index = len(watch.lines)
            edited = text.replace('    subject: "', f'    subject: "[edit {run + 1}] ', 1)
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
