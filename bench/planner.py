"""What planning and rendering a plan cost in-process: no process start, no YAML, no runtime I/O.

    python bench/planner.py [CAMPAIGNS] [--runs 5] [--outputs DIR]

Run it with the interpreter that has reconciler installed (``.venv/bin/python``). CAMPAIGNS is a
manifest directory, for example one written by ``bench/run.py``'s ``generate`` (default
``campaigns``). The manifests are loaded once; then, against an empty runtime and against a full
one (every campaign applied, so that its live spec is its manifest's), it times, ``--runs`` times
each:

- ``planner.plan(manifests, state, now=...)``, with ``now`` pinned as in ``bench/run.py``;
- ``render.plan_text(plan)``;
- ``render.plan_json(plan)``, the JSON plan, on a fresh copy of the plan each time, so that its id
  (a hash of the whole plan) is made each time, as in a new process;
- ``render.plan_markdown(plan)``, the pull-request comment, cut to fit.

It prints the median wall time and the median CPU time of each (the CPU time is the steadier
figure on a machine that others share). A full garbage collection runs before each timed call, so
that every call starts from the same state. The full runtime is made by applying the empty
runtime's plan into a ``memory://`` runtime. With ``--outputs DIR`` the rendered plans are written
to DIR, to compare two trees byte for byte.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler import executor, manifests, planner, render
from reconciler.model import Manifest, RuntimeState
from reconciler.plan import Plan
from reconciler.runtime.base import LockOwner, Provenance
from reconciler.runtime.registry import open_runtime

NOW = datetime.fromisoformat("2026-11-27T12:00:00+00:00")


def timed(work: Callable[[], Any], runs: int) -> str:
    """'median wall / median CPU' in ms of ``runs`` calls of ``work``."""
    wall, cpu = [], []
    for _ in range(runs):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return f"{statistics.median(wall) * 1000:7.1f} / {statistics.median(cpu) * 1000:7.1f}"


def full_state(loaded: Sequence[Manifest]) -> RuntimeState:
    """The runtime once the whole repository is applied: every campaign exists, as its manifest."""
    runtime = open_runtime("memory://", clock=lambda: NOW)
    owner = LockOwner.current("bench/planner.py")
    with executor.hold_lock(runtime, owner):
        ledger = executor.execute(
            runtime,
            planner.plan(loaded, RuntimeState(0, {}), now=NOW),
            Provenance("bench"),
            owner=owner,
        )
    assert ledger.ok, "the repository does not apply cleanly"
    return runtime.snapshot()


def measure(label: str, loaded: Sequence[Manifest], state: RuntimeState, runs: int) -> Plan:
    plan = planner.plan(loaded, state, now=NOW)
    figures = {
        "plan": timed(lambda: planner.plan(loaded, state, now=NOW), runs),
        "plan_text": timed(lambda: render.plan_text(plan), runs),
        # dataclasses.replace makes a new plan (in microseconds), whose id is not known yet
        "plan_json": timed(lambda: render.plan_json(dataclasses.replace(plan)), runs),
        "markdown": timed(lambda: render.plan_markdown(plan), runs),
    }
    print(f"{label} ({len(plan.operations)} operations):")
    for name, figure in figures.items():
        print(f"  {name:<10} {figure} ms")
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("campaigns", nargs="?", default="campaigns")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--outputs", type=Path, help="write the rendered plans here")
    args = parser.parse_args()
    result = manifests.load(args.campaigns)
    assert result.ok, [str(d) for d in result.diagnostics[:3]]
    loaded = result.manifests
    states = {"empty": RuntimeState(0, {}), "full": full_state(loaded)}
    print(f"{len(loaded)} manifests; median of {args.runs} runs, wall / CPU")
    for label, state in states.items():
        plan = measure(f"{label} runtime", loaded, state, args.runs)
        if args.outputs is not None:
            args.outputs.mkdir(parents=True, exist_ok=True)
            (args.outputs / f"{label}.txt").write_text(render.plan_text(plan), encoding="utf-8")
            (args.outputs / f"{label}.json").write_text(render.plan_json(plan), encoding="utf-8")
            markdown = render.plan_markdown(plan)
            (args.outputs / f"{label}.md").write_text(markdown, encoding="utf-8")


if __name__ == "__main__":
    main()
