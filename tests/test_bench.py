"""A smoke run of the benchmark suite (bench/run.py) at N = 200: it works, not how fast it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
