"""What `reconciler import` costs, against what planning the same number of manifests costs.

    python bench/import_.py [--campaigns 1000] [--runs 5] [--scratch DIR]

Run it with the interpreter that has reconciler installed (``.venv/bin/python``). It makes
CAMPAIGNS campaigns in a fresh SQLite runtime as a console would (``Platform.create``: drafts, live
and scheduled ones over every channel and schedule form, stopped recurring and inbound ones, and
one copy in ten of a campaign made before it), then times, ``--runs`` times each, in-process:

- import: ``api.import_campaigns(..., all=True)``, the whole command but printing, each run into
  a new folder (a first import): the snapshot, the history entry of its revision, a manifest per
  campaign (a copy's read back with the project's loader), and the files written;
- plan: the plan after the import, of the manifests it wrote, cold (a fresh parse cache each run,
  so every file is read and parsed): the snapshot, the manifests loaded, and ``planner.plan``
  against the runtime with its campaigns taken as managed (as once adopted: nothing to do).

- import, all but writing the files: the snapshot, its revision's time, and every manifest made
  (the same calls ``import_campaigns`` makes);
- floor: creating files of the same bytes, in a new folder each run, with nothing else: what the
  machine's file system charges for the files import must write.

It prints the median wall and CPU time of each, and the ratio of the medians (the issue's target:
import under 2x plan), with and without the floor.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler import api, importer, manifests, planner
from reconciler.model import Spec
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BODY = "Hello {name},\n\nthis week: on, yes, 09:00 and 007 stay strings.\n"


def spec_of(i: int) -> tuple[Spec, bool, bool]:
    """The spec of campaign ``i``, whether it goes live, and whether it is stopped."""
    email = {
        "channel": "email",
        "audience": {"segment": f"segment-{i % 7}"},
        "content": {"subject": f"Subject {i}: news", "body": BODY.format(name=i)},
    }
    shape = i % 8
    if shape == 0:
        return email, False, False
    if shape == 1:
        return {**email, "schedule": {"once": {"at": "2027-03-01T09:00:00+01:00"}}}, True, False
    if shape in (2, 3):
        weekly = {"every": "week", "on": ["mon", "thu"], "at": "09:00"}
        spec = {**email, "schedule": {"recurring": weekly, "timezone": "Europe/Amsterdam"}}
        return spec, True, shape == 3
    if shape == 4:
        sms = {"channel": "sms", "audience": {"segment": "vip"}, "content": {"text": f"Hi {i}"}}
        return {**sms, "schedule": {"recurring": {"cron": "0 9 * * MON"}}}, True, False
    inbound = {"channel": "in-app", "content": {"title": f"Banner {i}", "body": "Take the tour"}}
    return inbound, shape != 7, shape == 6


def make(url: str, count: int) -> None:
    with open_runtime(url, clock=lambda: NOW) as rt:
        assert isinstance(rt, Platform)
        live: dict[str, Spec] = {}
        for i in range(count):
            name = f"console-{i:05d}"
            spec, goes_live, stopped = spec_of(i)
            source = next(reversed(live), None) if i % 10 == 9 else None
            if source is not None:
                base = live[source]
                copy = {**base, "content": {**base["content"], "title": f"Copy {i}"}}
                rt.create(name, copy, live=False, actor="bench", copied_from=source, copy_base=base)
                continue
            rt.create(name, spec, live=goes_live, actor="bench", stopped=stopped)
            if goes_live:
                live[name] = spec


def timed(work: Callable[[], Any], runs: int) -> tuple[float, float]:
    """The median wall and CPU seconds of ``runs`` calls of ``work``."""
    wall, cpu = [], []
    for _ in range(runs):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scratch", default=".", help="where to make the runtime and files")
    args = parser.parse_args()
    # in the working directory, not /tmp: creating a thousand files there costs more than all
    # of import on some machines (here, 0.6 s in /tmp against 0.03 s in the work tree)
    with tempfile.TemporaryDirectory(dir=args.scratch, prefix=".bench-import-") as scratch:
        root = Path(scratch)
        url = f"sqlite:///{root}/console.db"
        started = time.perf_counter()
        make(url, args.campaigns)
        print(f"made {args.campaigns} console campaigns in {time.perf_counter() - started:.1f} s")
        options = api.Options(url, now=NOW)
        runs = iter(range(args.runs))

        def run_import() -> None:
            # a first import each time: into a folder of its own, as into a repository
            out = root / "imports" / f"run-{next(runs)}"
            result = api.import_campaigns(options, root / "none", all=True, out=out)
            assert result.ok and len(result.written) == args.campaigns, result.errors[:3]

        def run_plan() -> None:
            # as the next plan will read them: the runtime's campaigns, taken as adopted
            with options.open() as runtime:
                state = runtime.snapshot()
            adopted = {n: replace(c, managed=True) for n, c in state.campaigns.items()}
            loaded = manifests.load(root / "imports" / "run-0", manifests.Cache())
            plan = planner.plan(loaded.manifests, replace(state, campaigns=adopted), now=NOW)
            assert plan.ok and not plan.operations and plan.unchanged == args.campaigns

        def in_memory() -> None:
            # the same work but the files: the snapshot, its revision's time, every manifest
            with options.open() as runtime:
                state = runtime.snapshot()
                entry = runtime.history(after=state.revision - 1)[-1]
            source = importer.Source(runtime.url, state.revision, entry.at)
            chosen = importer.select(state.campaigns, (), True, {})
            in_git = {c.name for c in chosen.campaigns}
            for c in chosen.campaigns:
                assert importer.manifest(c, source, in_git, f"{c.name}.yaml") is not None

        imported = timed(run_import, args.runs)
        computed = timed(in_memory, args.runs)
        planned = timed(run_plan, args.runs)
        texts = [p.read_bytes() for p in sorted((root / "imports" / "run-0").iterdir())]
        floors = iter(range(args.runs))

        def write_only() -> None:
            folder = root / "floor" / f"run-{next(floors)}"
            folder.mkdir(parents=True)
            for i, text in enumerate(texts):
                (folder / f"c{i}.yaml").write_bytes(text)

        floor = timed(write_only, args.runs)
    ratio = imported[0] / planned[0]
    verdict = "met" if ratio < 2 else "missed"
    alone = computed[0] / planned[0]
    print(f"{'measure':<44} {'wall s':>8} {'CPU s':>8}")
    rows = [
        (f"import --all, {args.campaigns} console campaigns", imported),
        ("import, all but writing the files", computed),
        (f"plan {args.campaigns} imported manifests, cold", planned),
        (f"floor: create {args.campaigns} files of those bytes", floor),
    ]
    for what, (wall, cpu) in rows:
        print(f"{what:<44} {wall:8.2f} {cpu:8.2f}")
    print(f"import / plan: {ratio:.2f}x (target: under 2x): {verdict}")
    print(f"import but the files / plan: {alone:.2f}x ({'met' if alone < 2 else 'missed'})")


if __name__ == "__main__":
    main()
