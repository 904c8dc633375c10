"""What the runtime service costs: apply, plans and polls through ``reconciler serve`` (issue 13).

    python bench/service.py [--n 10000] [--runs 3] [--clients 8] [--polls 2000] [--postgresql URL]

Run it with the interpreter that has reconciler installed with its ``service`` extra (and
``postgresql`` for ``--postgresql``: ``.venv/bin/python``). ``--n`` campaigns are generated as
``bench/run.py`` does (every kind and channel, mostly live) and loaded once. Every service is a
real ``python -m reconciler serve`` process on a free loopback port, with an administrator token
made in its store before it starts; every runtime, served or not, has ``RECONCILER_NOW`` pinned.

1. apply: the empty runtime's plan applied, in-process, under the lock, as ``reconciler apply``
   does after its plan (no process start, no YAML: the same for both), into a fresh SQLite store
   directly (``sqlite:///``) and through a service over another fresh SQLite store
   (``http://``), ``--runs`` times, each into fresh stores; the medians are shown, and the
   median of the runs' ratios, whose target is HTTP within 2x of direct. With
   ``--postgresql URL`` the same again over PostgreSQL, a schema per store, dropped after.
2. plans: ``reconciler plan`` processes (a viewer's token in ``RECONCILER_TOKEN``, a warm
   manifest cache of their own) against the service over the full SQLite runtime: one alone
   (the median of three), then ``--clients`` at the same moment. The same plan against the
   store directly is shown for scale. Every plan must print ``No changes``.
3. polls: ``GET /api/v1/snapshot`` with ``If-None-Match`` of the current ETag, ``--polls`` times
   in a row on one kept-alive ``httpx.Client``, each answered 304: the 50th and 99th percentile
   latency (target: p99 under 20 ms); ``GET /healthz`` the same way, for the floor of a request
   that reads neither token nor store.

The machine is shared and has 2 cores, where the clients and the service compete: compare the
ratios within one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from reconciler import executor, manifests, planner
from reconciler.model import Manifest
from reconciler.runtime.access import Role
from reconciler.runtime.base import LockOwner, Provenance
from reconciler.runtime.http import HTTPRuntime
from reconciler.runtime.registry import open_runtime

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import generate  # bench/run.py: the same manifests every bench uses

NOW_TEXT = "2026-11-27T12:00:00Z"
NOW = datetime.fromisoformat(NOW_TEXT.replace("Z", "+00:00"))
TICKS = os.sysconf("SC_CLK_TCK")
SERVE = (sys.executable, "-m", "reconciler", "serve")
#: how ``reconciler serve`` may end on SIGTERM: 0 is what it promises; uvicorn (0.29 on) raises
#: the signal again once it has shut down gracefully, which ends the process by SIGTERM
STOPPED = (0, -signal.SIGTERM)


def seconds(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def make_token(store: str, name: str, role: Role) -> str:
    """A token made in the store directly, as ``reconciler token create`` does."""
    with open_runtime(store, clock=lambda: NOW) as runtime:
        return runtime.create_token(name, role)  # type: ignore[attr-defined, no-any-return]


class Service:
    """``python -m reconciler serve`` over ``store``, on a free loopback port."""

    def __init__(self, store: str, log: Path) -> None:
        tag = uuid.uuid4().hex[:8]  # a store may be served more than once
        self.admin = make_token(store, f"bench-admin-{tag}", Role.ADMINISTRATOR)
        self.viewer = make_token(store, f"bench-viewer-{tag}", Role.VIEWER)
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*SERVE, "--runtime", store, "--listen", "127.0.0.1:0"],
                stdout=out,
                stderr=out,
                env={**os.environ, "RECONCILER_NOW": NOW_TEXT},
            )
        deadline = time.monotonic() + 60
        while True:
            found = [line for line in self.output().splitlines() if " at http" in line]
            if found:
                self.url = found[0].rsplit(" at ", 1)[1].strip()
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"reconciler serve did not start:\n{self.output()}")
            time.sleep(0.05)
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"reconciler serve is not ready:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cpu(self) -> float:
        """User + system seconds the service has used so far, every thread of it."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise SystemExit("reconciler serve did not stop on SIGTERM") from None
            if code not in STOPPED:
                raise SystemExit(f"reconciler serve exited {code}:\n{self.output()[-2000:]}")


@contextmanager
def serving(store: str, log: Path) -> Iterator[Service]:
    service = Service(store, log)
    try:
        yield service
    finally:
        service.stop()


# --- 1. apply --------------------------------------------------------------------------------


def apply(runtime: Any, loaded: list[Manifest]) -> tuple[float, Counter[str]]:
    """The empty runtime's plan, applied under the lock: seconds, and the operations by action."""
    plan = planner.plan(loaded, runtime.snapshot(), now=NOW)
    owner = LockOwner.current("bench/service.py")
    assert runtime.acquire_lock(owner) is None, "the runtime is locked"
    try:
        took = seconds(lambda: executor.execute(runtime, plan, Provenance("bench"), owner=owner))
    finally:
        runtime.release_lock(owner)
    state = runtime.snapshot()
    assert len(state.campaigns) == len(loaded), (len(state.campaigns), len(loaded))
    return took, Counter(op.action.value for op in plan.operations)


#: one run of the apply figure: seconds direct, seconds over HTTP, the operations by action
Applied = tuple[float, float, Counter[str]]


def apply_both(direct: str, served: str, loaded: list[Manifest], work: Path) -> Applied:
    """Apply into ``direct`` in-process, and into ``served`` through a service over it."""
    with open_runtime(direct, clock=lambda: NOW) as runtime:
        direct_s, actions = apply(runtime, loaded)
    log = work / "apply.log"
    with serving(served, log) as service, HTTPRuntime(service.url, token=service.admin) as rt:
        http_s, _ = apply(rt, loaded)
    return direct_s, http_s, actions


# --- 2. plans --------------------------------------------------------------------------------


def plan_process(folder: Path, runtime: str, token: str | None, cwd: Path) -> float:
    """Seconds one ``reconciler plan`` process takes; it must find no changes."""
    env = {**os.environ, "RECONCILER_NOW": NOW_TEXT, "RECONCILER_TOKEN": token or ""}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", str(folder), "--runtime", runtime],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - start
    if done.returncode != 0 or not done.stdout.startswith("No changes."):
        raise SystemExit(f"plan failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr}")
    return took


def concurrent_plans(
    folder: Path, service: Service, cwds: list[Path]
) -> tuple[float, list[float], float, float]:
    """``len(cwds)`` plan processes started together: wall seconds for all, each one's seconds,
    the CPU seconds the clients used and the CPU seconds the service used meanwhile."""
    times: list[float] = [0.0] * len(cwds)
    failures: list[BaseException] = []

    def one(i: int) -> None:
        try:
            times[i] = plan_process(folder, service.url, service.viewer, cwds[i])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(cwds))]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    service_before = service.cpu()
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if failures:
        raise failures[0]
    clients_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, times, clients_cpu, service.cpu() - service_before


# --- 3. polls --------------------------------------------------------------------------------


def latencies(
    client: httpx.Client, path: str, headers: dict[str, str], count: int, status: int
) -> list[float]:
    """Milliseconds of ``count`` requests in a row (after a few untimed ones)."""
    found: list[float] = []
    for i in range(count + 20):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        took = (time.perf_counter() - start) * 1000
        assert response.status_code == status, (path, response.status_code, response.text[:200])
        if i >= 20:
            found.append(took)
    return found


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="campaigns [10000]")
    parser.add_argument("--clients", type=int, default=8, help="concurrent planners [8]")
    parser.add_argument("--runs", type=int, default=3, help="apply runs, the median kept [3]")
    parser.add_argument("--polls", type=int, default=2000, help="304 polls in a row [2000]")
    parser.add_argument(
        "--postgresql",
        metavar="URL",
        help="also apply over PostgreSQL (e.g. postgresql://root@127.0.0.1:5432/test)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        campaigns = work / "campaigns"
        generate(campaigns, args.n)
        loaded = list(manifests.load(campaigns).manifests)
        print(f"{len(loaded)} campaigns; {args.clients} clients; {os.cpu_count()} CPUs", flush=True)

        # 1. apply, each run into fresh stores: the last run's served store is kept for 2 and 3
        runs = [
            apply_both(
                f"sqlite:///{work}/direct-{i}.db", f"sqlite:///{work}/applied-{i}.db", loaded, work
            )
            for i in range(args.runs)
        ]
        actions = runs[0][2]
        shown = ", ".join(f"{count} {action}" for action, count in actions.most_common())
        print(
            f"apply: {sum(actions.values())} operations ({shown}); in-process, under the lock; "
            f"median of {args.runs} runs, each into fresh stores"
        )
        print_apply("sqlite", runs)
        if args.postgresql:
            print_apply("postgresql", postgresql(args.postgresql, loaded, work, args.runs))

        # 2 and 3 against a service over the full runtime: the SQLite store applied through HTTP
        store = f"sqlite:///{work}/applied-{args.runs - 1}.db"
        with serving(store, work / "served.log") as service:
            plans(campaigns, service, store, work, args.clients)
            polls(service, args.polls)
    # the service's log, had it failed, is gone with the directory: failures are raised above


def postgresql(url: str, loaded: list[Manifest], work: Path, runs: int) -> list[Applied]:
    """The apply figures over PostgreSQL: a schema per store and run, dropped after."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    names = [f"{schema}_{i}_{how}" for i in range(runs) for how in ("direct", "http")]
    on = f"{url}?options=-csearch_path%3D"
    with psycopg.connect(url, autocommit=True) as admin:
        for each in names:
            admin.execute(f'CREATE SCHEMA "{each}"')
        try:
            return [
                apply_both(on + names[2 * i], on + names[2 * i + 1], loaded, work)
                for i in range(runs)
            ]
        finally:
            for each in names:
                admin.execute(f'DROP SCHEMA "{each}" CASCADE')


def print_apply(store: str, runs: list[Applied]) -> None:
    direct = statistics.median(run[0] for run in runs)
    http = statistics.median(run[1] for run in runs)
    ratio = statistics.median(run[1] / run[0] for run in runs)
    print(
        f"  apply, {store + ':':<11} direct {direct:6.2f} s  over HTTP {http:6.2f} s  "
        f"({ratio:4.2f}x, the median of each run's ratio; target within 2x: "
        f"{verdict(ratio <= 2)})",
        flush=True,
    )


def plans(campaigns: Path, service: Service, store: str, work: Path, clients: int) -> None:
    cwds = [work / f"client-{i}" for i in range(clients)]
    cwds[0].mkdir()
    plan_process(campaigns, service.url, service.viewer, cwds[0])  # fills the manifest cache
    for cwd in cwds[1:]:
        shutil.copytree(cwds[0] / ".reconciler", cwd / ".reconciler")
    direct = statistics.median(plan_process(campaigns, store, None, cwds[0]) for _ in range(3))
    alone = statistics.median(
        plan_process(campaigns, service.url, service.viewer, cwds[0]) for _ in range(3)
    )
    wall, times, clients_cpu, service_cpu = concurrent_plans(campaigns, service, cwds)
    mean = statistics.mean(times)
    print("plan: `reconciler plan` processes, warm manifest cache, full runtime (No changes)")
    print(
        f"  plan, 1 client alone:  {alone:6.2f} s (median of 3; against the store directly "
        f"{direct:6.2f} s, {alone / direct:4.2f}x)"
    )
    print(
        f"  plan, {clients} clients at once: wall {wall:6.2f} s; per client mean {mean:6.2f} s "
        f"({mean / alone:4.2f}x alone), max {max(times):6.2f} s ({max(times) / alone:4.2f}x alone)"
    )
    print(
        f"  plan, {clients} clients, CPU:  clients {clients_cpu:6.2f} s, service "
        f"{service_cpu:6.2f} s ({service_cpu / clients:5.2f} s a plan); wall x CPUs "
        f"{wall * (os.cpu_count() or 1):6.2f} s",
        flush=True,
    )


def polls(service: Service, count: int) -> None:
    auth = {"Authorization": f"Bearer {service.viewer}"}
    with httpx.Client(base_url=service.url, timeout=30) as client:
        start = time.perf_counter()
        full = client.get("/api/v1/snapshot", headers=auth)
        full_ms = (time.perf_counter() - start) * 1000
        assert full.status_code == 200, full.text[:200]
        etag = full.headers["etag"]
        unchanged = {**auth, "If-None-Match": etag}
        cpu = service.cpu()
        snapshot = latencies(client, "/api/v1/snapshot", unchanged, count, 304)
        cpu = (service.cpu() - cpu) / (count + 20) * 1000
        health = latencies(client, "/healthz", {}, count, 200)
    p50, p99 = percentile(snapshot, 50), percentile(snapshot, 99)
    print(
        f"poll: GET /api/v1/snapshot, If-None-Match {etag}, {count} in a row on one connection "
        f"(the full snapshot, 200: {full_ms:.0f} ms, {len(full.content) / 2**20:.1f} MiB)"
    )
    print(
        f"  poll, 304 unchanged:  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {max(snapshot):6.2f} ms"
        f"  (service CPU {cpu:5.2f} ms a request; target p99 under 20 ms: {verdict(p99 < 20)})"
    )
    print(
        f"  poll, /healthz:       p50 {percentile(health, 50):6.2f} ms  "
        f"p99 {percentile(health, 99):6.2f} ms  max {max(health):6.2f} ms  (no token, no store)",
        flush=True,
    )


if __name__ == "__main__":
    main()
