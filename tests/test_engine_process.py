"""`reconciler runtime run` as a real process and `reconciler apply` in the foreground, on one
runtime at the same time (a SQLite file, a PostgreSQL schema): they meet only through campaign
etags, and nothing is lost or corrupted.

For ten rounds, one after another, the ~50 manifests change as teams would change them:
subjects edited, recurring campaigns staged as drafts and stopped, inbound ones stopped and resumed,
one-time campaigns added (sent at once) and removed, and recurring campaigns added whose first
sending is due four seconds later, then edited and stopped while that sending may be running. Each
round is applied until it succeeds; an apply may fail only because the engine wrote a campaign
between plan and write (an etag conflict) or over the lock. Then the runtime is checked whole: plan
has nothing left to do, the history is gapless, every campaign holds exactly the versions it was
given, every due sending was sent once and none twice. The test counts rounds, not seconds (speed
is measured in ``bench/``): every wait has a deadline, but only to guard against a hang."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from factories import campaigns
from probes import SHARED_BACKENDS, Probe
from reconciler.model import Campaign, Status
from reconciler.runtime.base import timestamp
from reconciler.runtime.registry import open_runtime

pytestmark = pytest.mark.slow  # starts processes: `pytest -m "not slow"` leaves it out

CLI = (sys.executable, "-m", "reconciler")
ROUNDS = 10  # rounds applied, each until it succeeds
HANG = 300.0  # seconds: a bound that only a hang reaches, never a slow machine
MINUTELY = 10  # cron "* * * * *"
DAILY = 4  # daily from 2099 on: scheduled all along
INBOUND = 12
KEPT = 12  # the newest one-time and "soon" manifests kept; older ones are removed (orphans)
SOON_DELAY = 4  # seconds from a "soon" campaign's creation to its start, its first sending
ALLOWED_FAILURES = ("changed since it was planned", "locked")


class Repository:
    """The manifests of every round, and the distinct specs each campaign was given."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "campaigns"
        self.dir.mkdir()
        self.given: dict[str, list[str]] = defaultdict(list)
        self.flash: list[str] = []  # one-time, sent on activation
        self.soon: dict[str, str] = {}  # recurring campaign -> its start, its first slot
        self.stopped: set[str] = set()  # outbound campaigns told to stop: final
        self.round = 0

    def write(self, name: str, spec: dict[str, Any]) -> None:
        body = {k: v for k, v in spec.items() if k not in ("state", "run")}
        key = json.dumps(body, sort_keys=True)
        if key not in self.given[name]:
            self.given[name].append(key)
        document = {"apiVersion": "reconciler/v1", "kind": "Campaign", "metadata": {"name": name}}
        (self.dir / f"{name}.yaml").write_text(json.dumps({**document, "spec": spec}))

    def last_spec(self, name: str) -> dict[str, Any]:
        spec: dict[str, Any] = json.loads(self.given[name][-1])
        return spec

    def stop(self, name: str) -> None:
        """Stop without a spec change: a stopped outbound campaign's spec is frozen."""
        self.stopped.add(name)
        self.write(name, {"state": "live", "run": "stopped", **self.last_spec(name)})

    def next_round(self, state: Mapping[str, Campaign]) -> None:
        """Change the manifests as teams would between two merges; ``state`` is the runtime's."""
        r = self.round
        for i in range(MINUTELY):
            name = f"minutely-{i:02d}"
            if name in self.stopped:
                continue
            if i >= MINUTELY - 3 and r == 3 + i % 3:
                self.stop(name)
                continue
            self.write(
                name,
                {
                    "state": "draft" if r > 0 and (r + i) % 5 == 4 else "live",  # staged only
                    "channel": "email",
                    "audience": {"segment": "quick"},
                    "content": {"subject": f"Minutely {i} edit {(r + i) // 3}", "body": "Hi"},
                    "schedule": {"recurring": {"cron": "* * * * *"}, "timezone": "UTC"},
                },
            )
        for i in range(DAILY):
            self.write(
                f"daily-{i}",
                {
                    "state": "live",
                    "channel": "push",
                    "audience": {"segment": "quick"},
                    "content": {"title": f"Daily {i} edit {(r + i) // 4}", "body": "Hi"},
                    "schedule": {
                        "recurring": {
                            "every": "day",
                            "at": "09:00",
                            "start": "2099-01-01T00:00:00Z",
                        },
                        "timezone": "UTC",
                    },
                },
            )
        for i in range(INBOUND):
            name = f"banner-{i:02d}"
            if r > 0 and i % 3 == 0 and (r + i) % 4 == 1:  # stopped, then resumed next round
                self.write(name, {"state": "live", "run": "stopped", **self.last_spec(name)})
                continue
            self.write(
                name,
                {
                    "state": "live",
                    "channel": "in-app" if i % 2 else "content-card",
                    "content": {"title": f"Banner {i} edit {(r + i) // 2}", "body": "Hi"},
                },
            )
        for k in range(2):
            name = f"flash-{r:03d}-{k}"
            self.flash.append(name)
            self.write(
                name,
                {
                    "state": "live",
                    "channel": "sms",
                    "audience": {"segment": "quick"},
                    "content": {"text": f"Flash {r}.{k}"},
                },
            )
        # a recurring campaign whose first sending is due in four seconds and lasts five; later
        # rounds edit it (before, around, and during, that sending), and stop every other one,
        # likely while it sends
        name = f"soon-{r:03d}"
        now = datetime.now(UTC)
        moment = now + timedelta(seconds=SOON_DELAY)
        self.soon[name] = timestamp(datetime.fromtimestamp(math.ceil(moment.timestamp()), UTC))
        for age, older in enumerate(reversed(list(self.soon)[-8:])):
            if older in self.stopped:
                continue
            if age == 6 and int(older[-3:]) % 2 == 0:
                self.stop(older)
                continue
            if age == 0 or age % 2 == 1:
                self.write(
                    older,
                    {
                        "state": "live",
                        "channel": "email",
                        "audience": {"segment": "slow"},
                        "content": {"subject": f"Soon {older} edit {age}", "body": "Hi"},
                        "schedule": {
                            "recurring": {
                                "every": "day",
                                "start": self.soon[older].replace(".000", ""),
                            },
                            "timezone": "UTC",
                        },
                    },
                )
        for old in (*self.flash[:-KEPT], *list(self.soon)[:-KEPT]):
            (self.dir / f"{old}.yaml").unlink(missing_ok=True)  # an orphan: left alone
        self.round += 1


def reconciler(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def env(outside: Probe) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GITHUB_"))}
    return {**clean, "RECONCILER_ACTOR": "tester", "RECONCILER_RUNTIME": outside.url}


@pytest.mark.parametrize("backend", SHARED_BACKENDS, indirect=True)
def test_the_engine_and_apply_run_together_without_losing_or_corrupting_anything(
    tmp_path: Path, env: dict[str, str], outside: Probe
) -> None:
    url = env["RECONCILER_RUNTIME"]
    for segment, size in (("quick", 100), ("slow", 500)):  # 1 and 5 seconds at 100 per second
        assert reconciler(tmp_path, env, "runtime", "segment", segment, "--size", str(size))[0] == 0
    repo = Repository(tmp_path)
    repo.next_round(campaigns(url))
    err = tmp_path / "engine.err"
    with (tmp_path / "engine.out").open("w") as out, err.open("w") as errors:
        engine = subprocess.Popen(
            [*CLI, "runtime", "run", "--every", "0.2"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=errors,
            text=True,
        )
    try:
        deadline = time.monotonic() + HANG
        while repo.round < ROUNDS:
            code, output = reconciler(tmp_path, env, "apply")
            if code == 0:
                repo.next_round(campaigns(url))
            else:
                assert any(reason in output for reason in ALLOWED_FAILURES), output
            assert engine.poll() is None, err.read_text()
            assert time.monotonic() < deadline, f"hung: {repo.round} of {ROUNDS} rounds"

        deadline = time.monotonic() + HANG
        while (result := reconciler(tmp_path, env, "apply"))[0] != 0:
            assert any(reason in result[1] for reason in ALLOWED_FAILURES), result[1]
            assert time.monotonic() < deadline, f"apply never succeeded: {result[1]}"
        code, output = reconciler(tmp_path, env, "plan", "--detailed-exitcode")
        assert code == 0, output  # nothing left to do

        # the engine, still running, sends what is due: wait until it all has gone out
        deadline = time.monotonic() + HANG
        while pending := settling(campaigns(url), repo):
            assert time.monotonic() < deadline, f"still pending: {pending}"
            assert engine.poll() is None, err.read_text()
            time.sleep(0.1)

        engine.send_signal(signal.SIGTERM)
        assert engine.wait(timeout=HANG) == 0
        assert err.read_text() == ""
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
    check_runtime(outside, repo)


def settling(state: dict[str, Campaign], repo: Repository) -> list[str]:
    """Campaigns whose due sending has not gone out yet, or is still going."""
    return [
        name
        for name, c in sorted(state.items())
        if c.status is Status.STOPPING
        or (name in repo.flash and c.status is not Status.COMPLETED)
        or (name in repo.soon and c.status is not Status.STOPPED and c.cursor is None)
        or (name in repo.soon and c.sending is not None)
    ]


def check_runtime(outside: Probe, repo: Repository) -> None:
    with open_runtime(outside.url) as runtime:
        state = runtime.snapshot()
        history = runtime.history()
        sendings = runtime.sendings()

    # the history: one entry per write, revisions 1, 2, 3, ... in order, the last one current
    assert [e.seq for e in history] == sorted({e.seq for e in history})
    assert [e.revision for e in history] == list(range(1, len(history) + 1))
    assert state.revision == len(history)
    assert (outside.revision(), outside.count("history")) == (state.revision, len(history))
    assert {e.actor for e in history} == {"tester", "engine"}

    # every campaign given, holding exactly the versions it was given
    assert set(state.campaigns) == set(repo.given)
    versions = {name: c.versions for name, c in state.campaigns.items()}
    assert versions == {name: len(specs) for name, specs in repo.given.items()}
    for name in repo.stopped:
        assert state.campaigns[name].status is Status.STOPPED, name

    # sendings: unique ids, each started once, each with a version its campaign had
    ids = outside.sending_ids() or []
    assert len(ids) == len(set(ids)) == len(sendings)
    engine_writes = [e for e in history if e.actor == "engine" and e.after is not None]
    starts = Counter(
        e.after["sending"]["id"]
        for e in engine_writes
        if e.after and "send" in e.operation.removeprefix("engine: ").split(", ")
    )
    assert starts, "the engine started no sending"
    assert max(starts.values()) == 1
    assert set(starts) == {s.id for s in sendings if s.outcome.value != "skipped"}
    for e in engine_writes:  # a sending starts with the live version of its moment
        if "send" in e.operation.removeprefix("engine: ").split(", "):
            assert e.after is not None
            assert e.after["sending"]["version"] == e.after["live"]["number"], e
    for sending in sendings:
        assert 1 <= sending.version <= state.campaigns[sending.campaign].versions, sending
        assert sending.id == f"{sending.campaign}@{sending.scheduled}"
    for name in repo.flash:  # sent on activation, once
        assert [s.outcome.value for s in sendings if s.campaign == name] == ["sent"], name
    for name, start in repo.soon.items():  # sent at its start, once, unless stopped before it
        mine = [(s.scheduled, s.outcome.value) for s in sendings if s.campaign == name]
        assert mine in ([(start, "sent")], *([[]] if name in repo.stopped else [])), name
