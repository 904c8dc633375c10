"""``reconciler serve`` as a process of its own: stopped with SIGTERM while a batch is in flight,
killed mid-apply and restarted, restarted under a running ``watch``, two replicas over one
PostgreSQL store, its access log, and the ``token`` commands and their refusals through it.

Every command is a real ``python -m reconciler`` process; the store is read directly (never through
the service under test) to say what was written."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backends import drop_postgresql_schemas, postgresql_url
from factories import EMAIL_YAML
from reconciler.model import Action
from reconciler.runtime import wire
from reconciler.runtime.access import Role
from reconciler.runtime.base import Applied, Provenance, Write
from reconciler.runtime.http import HTTPRuntime
from reconciler.runtime.registry import open_runtime
from serving import Process, call, make_token

pytestmark = pytest.mark.slow  # starts processes: `pytest -m "not slow"` leaves it out

CLI = (sys.executable, "-m", "reconciler")
SPEC = {
    "channel": "email",
    "audience": {"segment": "newsletter"},
    "content": {"subject": "Hello", "body": "Hello"},
}
WEEKLY = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: weekly}
spec:
  state: live
  channel: email
  audience: {segment: newsletter}
  content: {subject: Hello, body: Hello}
  schedule:
    recurring: {every: week, on: [mon], at: "09:00"}
"""
TOKEN = re.compile(r"rcn_[A-Za-z0-9_-]{43}")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[[str], Process]]:
    """A maker of ``reconciler serve`` processes over a store, each killed when the test ends."""
    made: list[Process] = []

    def make(store: str) -> Process:
        made.append(Process(store, tmp_path))
        return made[-1]

    yield make
    for process in made:
        process.kill()


def environment(token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "GITHUB_"))}
    env["RECONCILER_ACTOR"] = "tester"
    if token is not None:
        env["RECONCILER_TOKEN"] = token
    return env


def reconciler(
    cwd: Path, *args: str, token: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """One command, run to its end."""
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=environment(token),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_campaigns(folder: Path, count: int) -> list[str]:
    """``count`` live emails as manifests in ``folder/campaigns``; their names."""
    (folder / "campaigns").mkdir(exist_ok=True)
    names = [f"c-{i:04d}" for i in range(count)]
    for name in names:
        text = EMAIL_YAML.format(name=name, subject="Hello")
        (folder / "campaigns" / f"{name}.yaml").write_text(text)
    return names


def history_counts(store: str) -> Counter[str]:
    """How many history entries each campaign has, read from the store itself."""
    with open_runtime(store) as rt:
        return Counter(entry.campaign for entry in rt.history())


def create(name: str) -> Write:
    return Write(
        key=f"test/{name}/create",
        action=Action.CREATE,
        campaign=name,
        expected_etag=None,
        provenance=Provenance("tester"),
        spec=SPEC,
    )


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def wait_until(what: str, condition: Callable[[], bool], seconds: float) -> float:
    """How long ``condition`` took to hold; fails after ``seconds``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"{what}: not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


# --- stopping and killing ---------------------------------------------------------------------


def test_sigterm_lets_a_batch_in_flight_commit_then_exits_0(
    tmp_path: Path, services: Callable[[str], Process]
) -> None:
    path = tmp_path / "rt.db"
    store = f"sqlite:///{path}"
    service = services(store).start()
    assert call(service.url, "GET", "/api/v1/runtime", service.admin).status_code == 200
    writes = [create(f"c-{i:03d}") for i in range(300)]
    # another writer holds the store: the batch waits inside the service, in flight for sure
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    answers: list[list[Applied | Exception]] = []

    def send() -> None:
        with HTTPRuntime(service.url, token=service.admin) as rt:
            answers.append(list(rt.apply_batch(writes)))

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.5)
    assert sender.is_alive() and not answers
    assert service.proc is not None
    service.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert service.proc.poll() is None, "serve stopped with a batch in flight"
    blocker.execute("ROLLBACK")
    blocker.close()
    sender.join(timeout=30)
    assert service.proc.wait(timeout=30) == 0
    (results,) = answers
    assert [isinstance(r, Applied) and not r.replayed for r in results] == [True] * 300
    with open_runtime(store) as rt:
        assert rt.revision() == 300
        assert len(rt.snapshot().campaigns) == 300
    assert history_counts(store) == Counter({w.campaign: 1 for w in writes})

    # the same batch again, to the service restarted: every write replayed, nothing twice
    again = services(store).start()
    with HTTPRuntime(again.url, token=again.admin) as rt:
        replayed = rt.apply_batch(writes)
    assert [isinstance(r, Applied) and r.replayed for r in replayed] == [True] * 300
    with open_runtime(store) as rt:
        assert rt.revision() == 300
    assert history_counts(store) == Counter({w.campaign: 1 for w in writes})


def test_killed_mid_apply_and_restarted_the_apply_converges_nothing_twice(
    tmp_path: Path, services: Callable[[str], Process]
) -> None:
    store = f"sqlite:///{tmp_path / 'rt.db'}"
    names = write_campaigns(tmp_path, 600)
    service = services(store).start()
    port = port_of(service.url)
    with (tmp_path / "apply.out").open("w") as out, (tmp_path / "apply.err").open("w") as err:
        apply = subprocess.Popen(
            [*CLI, "apply", "--runtime", service.url],
            cwd=tmp_path,
            env=environment(service.admin),
            stdout=out,
            stderr=err,
        )
    with open_runtime(store) as rt:
        wait_until("the first batch", lambda: rt.revision() > 0, 30)
        service.kill()  # SIGKILL: no grace, a batch in flight rolls back with its connection
        killed_at = rt.revision()
    assert 0 < killed_at < len(names), "the apply was not cut short: kill it sooner"
    service.start(f"127.0.0.1:{port}")
    # the client retries what is transient with the same idempotency keys: the apply resumes
    assert apply.wait(timeout=60) == 0, (tmp_path / "apply.err").read_text()
    assert (
        (tmp_path / "apply.out")
        .read_text()
        .endswith(f"Apply: {len(names)} done, 0 failed, 0 skipped.\n")
    )
    assert history_counts(store) == Counter(dict.fromkeys(names, 1))
    with open_runtime(store) as rt:
        assert rt.revision() == len(names)
        assert len(rt.applied_keys("")) == len(names)

    rerun = reconciler(tmp_path, "apply", "--runtime", service.url, token=service.admin)
    assert (rerun.returncode, rerun.stdout, rerun.stderr) == (
        0,
        f"No changes. {len(names)} unchanged.\n",
        "",
    )
    plan = reconciler(
        tmp_path, "plan", "--detailed-exitcode", "--runtime", service.url, token=service.admin
    )
    assert (plan.returncode, plan.stderr) == (0, "")
    assert history_counts(store) == Counter(dict.fromkeys(names, 1))


def test_watch_keeps_going_across_a_restart_and_heals_a_console_edit(
    tmp_path: Path, services: Callable[[str], Process]
) -> None:
    store = f"sqlite:///{tmp_path / 'rt.db'}"
    name = "weekly"  # recurring: a one-time campaign's live version cannot be changed, nor healed
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "weekly.yaml").write_text(WEEKLY)
    service = services(store).start()
    port = port_of(service.url)
    with (tmp_path / "watch.out").open("w") as out, (tmp_path / "watch.err").open("w") as err:
        watch = subprocess.Popen(
            [*CLI, "watch", "--runtime", service.url, "--format", "json"],
            cwd=tmp_path,
            env=environment(service.admin),
            stdout=out,
            stderr=err,
        )
    try:

        def subject() -> str | None:
            with open_runtime(store) as rt:
                found = rt.snapshot().get(name)
            return (
                None
                if found is None or found.live is None
                else found.live.spec["content"]["subject"]
            )

        wait_until("the first apply", lambda: subject() == "Hello", 30)
        assert service.stop() == 0
        service.start(f"127.0.0.1:{port}")
        edit = reconciler(
            tmp_path,
            "runtime",
            "edit",
            name,
            "--set",
            "content.subject=Edited",
            "--runtime",
            service.url,
            token=service.admin,
        )
        assert (edit.returncode, edit.stdout, edit.stderr) == (
            0,
            f"{name}: live version 2 written by console\n",
            "",
        )
        # healed through the event stream once the service is back (how fast is the bench's to
        # measure, not a test's: a loaded machine may take seconds)
        wait_until("the heal", lambda: subject() == "Hello", 30)
        assert watch.poll() is None, "watch stopped"
        with open_runtime(store) as rt:
            assert [e.operation for e in rt.history(name)] == ["activate", "edit", "replace"]
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=30)
    lines = [json.loads(line) for line in (tmp_path / "watch.out").read_text().splitlines()]
    assert [(c["trigger"], c["outcome"]) for c in lines[:-1]] == [
        ("start", "applied"),
        ("runtime", "applied"),  # the edit, seen through the service come back
    ]
    assert lines[-1] == {"stopped": "SIGINT", "cycles": 2}


# --- two replicas, one store ---------------------------------------------------------------------


@pytest.fixture
def postgresql() -> Iterator[str]:
    url = postgresql_url()
    yield url
    drop_postgresql_schemas()


def first_event(url: str, token: str, after: int, ready: threading.Event) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "GET", f"{url}/api/v1/events?after={after}", headers=headers, timeout=20
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            ready.set()
            if line.startswith("data: "):
                found: dict[str, Any] = json.loads(line[6:])
                return found
    raise AssertionError("the stream ended without an event")


def test_a_write_through_one_replica_is_seen_by_the_other(
    postgresql: str, tmp_path: Path, services: Callable[[str], Process]
) -> None:
    one = services(postgresql).start()
    two = services(postgresql).start()
    assert port_of(one.url) != port_of(two.url)
    events: list[dict[str, Any]] = []
    listening = threading.Event()
    reader = threading.Thread(
        target=lambda: events.append(first_event(two.url, two.admin, 0, listening))
    )
    reader.start()
    assert listening.wait(10)
    with HTTPRuntime(one.url, token=one.admin) as rt:
        (applied,) = rt.apply_batch([create("shared")])
    assert isinstance(applied, Applied)
    reader.join(timeout=15)
    assert events == [{"revision": applied.revision, "campaign": "shared", "operation": "create"}]
    with HTTPRuntime(two.url, token=two.admin) as rt:
        seen = rt.snapshot()
    assert seen.revision == applied.revision
    assert list(seen.campaigns) == ["shared"]
    assert seen.campaigns["shared"].draft is not None
    assert seen.campaigns["shared"].draft.actor == f"{one.admin_name} (for tester)"


# --- the access log ---------------------------------------------------------------------------


def test_the_access_log_is_a_json_line_a_request_on_stderr_and_never_a_token(
    tmp_path: Path, services: Callable[[str], Process]
) -> None:
    store = f"sqlite:///{tmp_path / 'rt.db'}"
    viewer = make_token(store, "reader", Role.VIEWER)
    service = services(store).start()
    wrong = "rcn_" + "w" * 43
    batch = {"writes": [wire.write_json(create("logged"))]}
    sent: list[tuple[str, str, str | None, dict[str, Any]]] = [
        ("GET", "/healthz", None, {}),
        ("GET", "/api/v1/runtime", viewer, {}),
        # careless clients: the token in the query string too, or only there
        ("GET", f"/api/v1/snapshot?token={viewer}", viewer, {}),
        ("GET", f"/api/v1/history?access_token={viewer}", None, {}),
        ("GET", f"/api/v1/campaigns/{viewer}", viewer, {}),
        ("POST", "/api/v1/batches", viewer, {"json": batch}),
        ("GET", "/api/v1/runtime", wrong, {}),
    ]
    statuses = [call(service.url, m, p, t, **more).status_code for m, p, t, more in sent]
    assert statuses == [200, 200, 200, 401, 404, 403, 401]
    assert service.stop() == 0

    stderr = service.output()
    assert service.stdout.read_text() == ""
    first, *rest = stderr.splitlines()
    assert first == f"serving runtime {store} at {service.url}"
    logged = [json.loads(line) for line in rest]
    while logged and logged[0]["route"] == "/readyz":  # Process.start waiting for it
        logged.pop(0)
    assert all(
        set(entry) == {"time", "method", "path", "route", "status", "ms", "token", "client"}
        for entry in logged
    )
    assert [
        (e["method"], e["path"], e["route"], e["status"], e["token"], e["client"]) for e in logged
    ] == [
        ("GET", "/healthz", "/healthz", 200, None, "127.0.0.1"),
        ("GET", "/api/v1/runtime", "/api/v1/runtime", 200, "reader", "127.0.0.1"),
        ("GET", "/api/v1/snapshot", "/api/v1/snapshot", 200, "reader", "127.0.0.1"),
        ("GET", "/api/v1/history", "/api/v1/history", 401, None, "127.0.0.1"),
        ("GET", "/api/v1/campaigns/rcn_***", "unmatched", 404, None, "127.0.0.1"),
        ("POST", "/api/v1/batches", "/api/v1/batches", 403, "reader", "127.0.0.1"),
        ("GET", "/api/v1/runtime", "/api/v1/runtime", 401, None, "127.0.0.1"),
    ]
    everything = stderr + service.stdout.read_text()
    assert "rcn_" not in everything.replace("rcn_***", "")
    for secret in (viewer, service.admin, wrong):
        assert secret[-20:] not in everything


# --- tokens from the command line ---------------------------------------------------------------


def test_tokens_are_made_printed_alone_and_refused_in_one_line(
    tmp_path: Path, services: Callable[[str], Process]
) -> None:
    store = f"sqlite:///{tmp_path / 'rt.db'}"
    write_campaigns(tmp_path, 1)
    made = reconciler(
        tmp_path, "token", "create", "pr-check", "--role", "viewer", "--runtime", store
    )
    assert made.returncode == 0
    assert TOKEN.fullmatch(made.stdout.removesuffix("\n")) and made.stdout.count("\n") == 1
    assert made.stderr == (
        "token pr-check (viewer) created; it is shown once: keep it in a secret store\n"
    )
    viewer = made.stdout.strip()
    service = services(store).start()

    # through the service, with an administrator's token
    served = reconciler(
        tmp_path,
        "token",
        "create",
        "deployer",
        "--role",
        "approver",
        "--runtime",
        service.url,
        token=service.admin,
    )
    assert served.returncode == 0
    assert TOKEN.fullmatch(served.stdout.removesuffix("\n")) and served.stdout.count("\n") == 1
    assert served.stderr == (
        "token deployer (approver) created; it is shown once: keep it in a secret store\n"
    )
    deployer = served.stdout.strip()
    assert call(service.url, "GET", "/api/v1/runtime", deployer).status_code == 200
    with open_runtime(store) as rt:
        roles = {t.name: t.role for t in rt.tokens()}  # type: ignore[attr-defined]
    assert roles["pr-check"] is Role.VIEWER and roles["deployer"] is Role.APPROVER

    refusals = [
        (
            ("apply", "--runtime", service.url),
            viewer,
            f"error: runtime {service.url}: 403 token pr-check has the viewer role; "
            "/api/v1/lock needs manager\n",
        ),
        (
            ("apply", "--runtime", service.url),
            None,
            f"error: runtime {service.url}: 401 no token: send Authorization: Bearer TOKEN; "
            "set RECONCILER_TOKEN\n",
        ),
        (
            ("token", "create", "sneaky", "--role", "administrator", "--runtime", service.url),
            deployer,
            f"error: runtime {service.url}: 403 token deployer has the approver role; "
            "/api/v1/tokens needs administrator\n",
        ),
    ]
    for args, token, message in refusals:
        refused = reconciler(tmp_path, *args, token=token)
        assert (refused.returncode, refused.stdout, refused.stderr) == (1, "", message)
    with open_runtime(store) as rt:
        assert rt.revision() == 0
        assert "sneaky" not in {t.name for t in rt.tokens()}  # type: ignore[attr-defined]
