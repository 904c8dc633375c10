"""A smoke run of the benchmark suite (bench/run.py) at N = 200: it works, not how fast it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes: `pytest -m "not slow"` leaves it out

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"
ROWS = (
    "floor: read + yaml.CSafeLoader",
    "validate (cold)",
    "plan, empty runtime, cold",
    "plan, empty runtime, warm",
    "plan, empty runtime, one file changed",
    "apply N activations, fresh SQLite (cold)",
    "apply N activations, fresh SQLite (warm)",
    "plan, full runtime, cold",
    "plan, full runtime, warm",
    "peak PSS of plan's process tree, sampled (empty / full runtime)",
)


def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    scratch = tmp_path / "tmp"  # the benchmark's temporary directories go here
    scratch.mkdir()
    done = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "200", "--runs", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = out.read_text(encoding="utf-8")
    for heading in ("## Machine", "## Figures", "## Growth", "- nproc:", "- PyYAML:"):
        assert heading in text
    rows = [line for line in text.splitlines() if line.startswith("| 200 |")]
    names = [line.split(" | ")[1] for line in rows]
    assert names[: len(ROWS) - 1] == list(ROWS[:-1])
    assert names[-2].startswith("peak RSS of plan (ru_maxrss, every plan run; the largest: ")
    assert names[-1] == ROWS[-1]
    assert len(names) == len(ROWS) + 1
    for line in rows[:9]:
        seconds, ratio = line.split(" | ")[2:4]
        assert float(seconds) > 0
        assert float(ratio) > 0
    assert "| 200 | floor: read + yaml.CSafeLoader | " in done.stdout  # the table is printed too
    assert list(scratch.iterdir()) == []  # the temporary directories are removed


PLANNER = BENCH.parent / "planner.py"


def test_planner_bench_smoke(tmp_path: Path) -> None:
    """bench/planner.py at N = 60: it times every step against both runtimes and writes the
    plans it measured."""
    generate = (  # bench/run.py's realistic manifests
        f"import sys; sys.path.insert(0, {str(BENCH.parent)!r}); import run; "
        "from pathlib import Path; run.generate(Path('campaigns'), 60)"
    )
    subprocess.run([sys.executable, "-c", generate], cwd=tmp_path, check=True, timeout=60)
    done = subprocess.run(
        [sys.executable, str(PLANNER), "campaigns", "--runs", "1", "--outputs", "out"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "60 manifests; median of 1 runs, wall / CPU"
    assert lines[1] == "empty runtime (60 operations):"
    assert lines[6] == "full runtime (0 operations):"
    assert [line.split()[0] for line in lines[2:6]] == [
        "plan",
        "plan_text",
        "plan_json",
        "markdown",
    ]
    assert (tmp_path / "out" / "empty.txt").read_text().startswith("Plan: ")
    assert (tmp_path / "out" / "full.txt").read_text() == "No changes. 60 unchanged.\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "empty.json", "empty.md", "empty.txt", "full.json", "full.md", "full.txt",
    ]  # fmt: skip


def test_profile_smoke(tmp_path: Path) -> None:
    """bench/profile.py at N = 200: the phases of a cold and a warm plan, and a cProfile."""
    out = tmp_path / "PROFILE.md"
    done = subprocess.run(
        [sys.executable, str(BENCH.parent / "profile.py"), "--n", "200", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = out.read_text(encoding="utf-8")
    for heading in ("## Cold plan, one process", "## Warm plan, N = 200", "## Warm plan under"):
        assert heading in text
    for phase in ("start-up and imports", "load the manifests", "plan (runtime snapshot"):
        assert text.count(f"| {phase}") == 2  # cold and warm
    assert "ncalls  tottime" in text


def test_service_bench_smoke(tmp_path: Path) -> None:
    """bench/service.py at N = 60: apply direct and over HTTP, plans by clients at once, and
    304 polls, each through a real `reconciler serve`; every figure's line is printed."""
    scratch = tmp_path / "tmp"  # the benchmark's temporary directory goes here
    scratch.mkdir()
    small = ["--n", "60", "--runs", "1", "--clients", "2", "--polls", "50"]
    done = subprocess.run(
        [sys.executable, str(BENCH.parent / "service.py"), *small],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("60 campaigns; 2 clients; ")
    assert lines[1].startswith("apply: 60 operations (")
    figures = [line.split(":")[0].strip() for line in lines if line.startswith("  ")]
    assert figures == [
        "apply, sqlite",
        "plan, 1 client alone",
        "plan, 2 clients at once",
        "plan, 2 clients, CPU",
        "poll, 304 unchanged",
        "poll, /healthz",
    ]
    assert " over HTTP " in lines[2]
    assert "target within 2x: " in lines[2]
    assert "target p99 under 20 ms: " in done.stdout
    assert list(scratch.iterdir()) == []  # the temporary directory is removed
