"""Where the time of a plan goes: phases, and a cProfile of the whole command (issue 6).

    python bench/profile.py [--n 10000] [--out bench/PROFILE.md]

Writes N manifests as bench/run.py does, then profiles, each in a fresh process with
``RECONCILER_NOW`` pinned and an empty SQLite runtime:

- a cold plan (no ``.reconciler/``) and a warm plan, timed phase by phase (start-up and imports,
  opening the parse cache, loading the manifests, saving the cache, planning, rendering), with
  ``RECONCILER_WORKERS=1`` for the cold one so that one process does all the work and the phases
  add up;
- the warm plan under cProfile, the functions that take the most time, by their own time and
  with what they call.

It prints the report and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # bench/run.py: the same manifests

PHASES = """\
import sys, time
T0 = time.perf_counter()
import gc, datetime as dt
gc.set_threshold(100_000, 50, 100)  # as the CLI does
from reconciler import api, manifests, render
from reconciler.cache import DiskCache
last = [T0]
def phase(name):
    now = time.perf_counter()
    print(f"{name}\\t{now - last[0]:.3f}")
    last[0] = now
phase("start-up and imports")
disk = DiskCache(api.CACHE_DIR); phase("open the parse cache")
loaded = manifests.load("campaigns", disk); phase("load the manifests")
disk.save(); phase("save the parse cache")
desired = api._Desired(loaded, True, False, (), None, False)
options = api.Options(runtime_url=sys.argv[1], now=dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC))
runtime = options.open()
plan = api._plan(desired, runtime, options)
runtime.close(); phase("plan (runtime snapshot included)")
text = render.plan_text(plan); phase("render the text")
"""


def phases(root: Path, db: str, env: dict[str, str]) -> list[tuple[str, float]]:
    out = subprocess.run(
        [sys.executable, "-c", PHASES, db], cwd=root, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return [
        (name, float(seconds))
        for name, seconds in (line.split("\t") for line in out.stdout.splitlines())
    ]


def profile(root: Path, db: str, env: dict[str, str]) -> str:
    stats = root / "plan.prof"
    subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "reconciler", "plan",
         "--runtime", db],
        cwd=root, env=env, stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    show = (
        "import pstats, io, sys\n"
        "out = io.StringIO()\n"
        "p = pstats.Stats(sys.argv[1], stream=out)\n"
        "p.strip_dirs().sort_stats('tottime').print_stats(25)\n"
        "print(out.getvalue())\n"
    )
    text = subprocess.run(
        [sys.executable, "-c", show, str(stats)], capture_output=True, text=True, check=True
    ).stdout
    keep = text[text.index("ncalls") :] if "ncalls" in text else text
    return keep.rstrip()


def table(rows: list[tuple[str, float]]) -> list[str]:
    total = sum(s for _, s in rows)
    lines = ["| phase | s | share |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {s:.3f} | {s / total:.0%} |" for name, s in rows]
    return [*lines, f"| total | {total:.3f} | |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "PROFILE.md")
    args = parser.parse_args()
    run.compile_package()
    root = Path(tempfile.mkdtemp(prefix="reconciler-profile-"))
    try:
        folder = root / "campaigns"
        folder.mkdir()
        run.generate(folder, args.n)
        (root / "floor.py").write_text(run.FLOOR, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GITHUB_"))}
        env.update(RECONCILER_NOW=run.NOW, NO_COLOR="1")
        db = f"sqlite:///{root / 'empty.db'}"
        started = time.perf_counter()
        subprocess.run([sys.executable, "floor.py", "campaigns"], cwd=root, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        floor = f"{time.perf_counter() - started:.2f}"
        cold = phases(root, db, {**env, "RECONCILER_WORKERS": "1"})
        warm = phases(root, db, env)
        profiled = profile(root, db, env)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = [
        "# Where the time of a plan goes",
        "",
        f"Made by `python bench/profile.py --n {args.n}` on the machine described in "
        "`bench/RESULTS.md`: one process each, an empty SQLite runtime, `RECONCILER_NOW` pinned. "
        f"The floor (read + libyaml parse of the same files) took {floor} s in this run.",
        "",
        f"## Cold plan, one process (`RECONCILER_WORKERS=1`), N = {args.n:,}",
        "",
        *table(cold),
        "",
        f"## Warm plan, N = {args.n:,}",
        "",
        *table(warm),
        "",
        "## Warm plan under cProfile, by own time (the profiler slows Python calls most)",
        "",
        "```",
        profiled,
        "```",
        "",
    ]
    text = "\n".join(report)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
