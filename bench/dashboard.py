"""What the dashboard's pages cost over HTTP, from a real ``reconciler serve``.

    python bench/dashboard.py [--campaigns 10000] [--calendar 1000] [--runs 15]

Run it with the interpreter that has reconciler installed (``.venv/bin/python``). It writes the
manifests every bench uses (``bench/run.py``'s ``generate``), applies them into a fresh SQLite
store (``--campaigns`` of them for the list, ``--calendar`` for the calendar, each its own store),
serves each store with ``reconciler serve`` on a loopback port (the clock pinned by
``RECONCILER_NOW``, so the calendar opens on the month the campaigns send in), signs in as a viewer
through the sign-in form, and times ``--runs`` requests of each page, a request being one
``GET`` answered whole (httpx, one kept-alive connection). The first request of the list, which
builds the service's list of campaigns from the store, is reported apart from the median of the
rest. The issue's targets: the first page of 10,000 campaigns under 300 ms, a month of 1,000
campaigns' calendar under a second.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import generate  # bench/run.py: the same manifests every bench uses

NOW = "2026-11-27T12:00:00Z"
LIST_TARGET = 0.300
CALENDAR_TARGET = 1.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env["RECONCILER_NOW"] = NOW
    return env


def reconciler(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"reconciler {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def prepared(folder: Path, count: int) -> tuple[str, float]:
    """A SQLite store with ``count`` generated campaigns applied; how long the apply took."""
    generate(folder / "campaigns", count)
    store = f"sqlite:///{folder / 'runtime.db'}"
    started = time.perf_counter()
    reconciler("apply", "campaigns", "--runtime", store, cwd=folder)
    return store, time.perf_counter() - started


@contextmanager
def serving(store: str, folder: Path) -> Iterator[str]:
    log = folder / "serve.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "serve", "--runtime", store,
             "--listen", "127.0.0.1:0"],
            cwd=folder, env=_env(), stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r" at (http://\S+)", log.read_text())):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"serve did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def signed_in(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    form = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None, form.text
    answer = client.post("/signin", data={"token": token, "csrf": csrf.group(1)})
    assert answer.status_code == 303, answer.text
    return client


def timed(client: httpx.Client, path: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
    return times


def verdict(seconds: float, target: float) -> str:
    return "met" if seconds < target else f"missed by {seconds / target:.1f}x"


def row(name: str, times: list[float], target: float) -> tuple[str, float, float, str]:
    median = statistics.median(times)
    return name, median, min(times), verdict(median, target)


def token(store: str, folder: Path) -> str:
    return reconciler("token", "create", "bench", "--role", "viewer", "--runtime", store,
                      cwd=folder).strip()  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--calendar", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    rows: list[tuple[str, float, float, str]] = []
    n = f"{args.campaigns:,}"
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        big = Path(tmp) / "list"
        big.mkdir()
        store, took = prepared(big, args.campaigns)
        print(f"applied {args.campaigns:,} campaigns in {took:.1f} s", file=sys.stderr)
        with serving(store, big) as url, closing(signed_in(url, token(store, big))) as client:
            first = timed(client, "/", 1)[0]
            rows.append(row(f"/ first page of {n}: the first request", [first], LIST_TARGET))
            for path, name in (
                ("/", f"/ first page of {n}"),
                ("/?q=campaign-00042&status=live", f"/ filtered by text and status, of {n}"),
                ("/?sort=next", f"/ sorted by next sending, of {n}"),
            ):
                rows.append(row(name, timed(client, path, args.runs), LIST_TARGET))
        small = Path(tmp) / "calendar"
        small.mkdir()
        store, took = prepared(small, args.calendar)
        print(f"applied {args.calendar:,} campaigns in {took:.1f} s", file=sys.stderr)
        with serving(store, small) as url, closing(signed_in(url, token(store, small))) as client:
            for path, name in (("/calendar?first=2026-12-01", "a month"),
                               ("/calendar?first=2026-12-07&view=week", "a week")):  # fmt: skip
                shown = client.get(path).text.count('<li class="ch-')
                assert shown, f"{path} shows no sendings"
                print(f"{path}: {shown} campaign-days shown", file=sys.stderr)
                times = timed(client, path, args.runs)
                rows.append(row(f"/calendar, {name} of {args.calendar:,}", times, CALENDAR_TARGET))
    print("| page | median ms | best ms | verdict |")
    print("| --- | ---: | ---: | --- |")
    for name, median, best, said in rows:
        print(f"| {name} | {median * 1000:.0f} | {best * 1000:.0f} | {said} |")


if __name__ == "__main__":
    main()
