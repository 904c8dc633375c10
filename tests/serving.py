"""The runtime service for tests: a real ``reconciler serve`` on a free loopback port.

:func:`in_thread` runs the service's own server (the code ``reconciler serve`` runs, uvicorn
included) in a thread of the test's process, so that it can share the test's clock: the contract
suite and the CLI tests reach it through ``http://`` like any client. :func:`process` starts the
command itself, for the tests that kill, stop or restart it.

Each gets an administrator token made directly in its store, before it serves.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from reconciler.runtime.access import Role
from reconciler.runtime.base import Clock, utcnow
from reconciler.runtime.registry import open_runtime
from reconciler.service.server import bind, server


@dataclass
class Served:
    url: str  # where clients reach it
    store: str  # the store it serves
    admin: str  # an administrator's token


def make_token(store: str, name: str, role: Role) -> str:
    with open_runtime(store) as rt:
        return rt.create_token(name, role)  # type: ignore[attr-defined, no-any-return]


@contextlib.contextmanager
def in_thread(
    store: str,
    clock: Clock = utcnow,
    admin: str = "admin",
    tls: tuple[str, str] | None = None,
) -> Iterator[Served]:
    """The service over ``store``, on ``clock``; its administrator's token is named ``admin``;
    https with ``tls`` (a certificate and its key)."""
    secret = make_token(store, admin, Role.ADMINISTRATOR)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    the_server = server(store, sock, clock=clock, tls=tls)
    thread = threading.Thread(
        target=the_server.run, kwargs={"sockets": [sock]}, name="serve", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not the_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.01)
    try:
        # a certificate names a host: localhost's
        where = f"https://localhost:{port}" if tls else f"http://127.0.0.1:{port}"
        yield Served(where, store, secret)
    finally:
        the_server.service.stopping.set()
        the_server.should_exit = True
        thread.join(timeout=30)
        sock.close()


class Process:
    """``reconciler serve`` as a process of its own."""

    def __init__(self, store: str, tmp: Path, env: dict[str, str] | None = None) -> None:
        self.store = store
        self.admin_name = f"admin-{os.getpid()}-{id(self)}"[:60]
        self.admin = make_token(store, self.admin_name, Role.ADMINISTRATOR)
        self.log = tmp / f"serve-{id(self)}.log"  # its standard error
        self.stdout = tmp / f"serve-{id(self)}.stdout"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, listen: str = "127.0.0.1:0") -> Process:
        err = self.log.open("ab")
        out = self.stdout.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "serve",
                "--runtime",
                self.store,
                "--listen",
                listen,
            ],
            stdout=out,
            stderr=err,
            env=self.env,
        )
        out.close()  # the child holds its own
        err.close()
        deadline = time.monotonic() + 30
        while True:
            text = self.log.read_text(errors="replace")
            found = [line for line in text.splitlines() if " at http" in line]
            if found:
                self.url = found[-1].rsplit(" at ", 1)[1].strip()
                break
            assert self.proc.poll() is None, f"serve exited: {text}"
            assert time.monotonic() < deadline, f"serve did not start: {text}"
            time.sleep(0.05)
        wait_ready(self.url)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} is not ready"
        time.sleep(0.05)


def call(
    url: str, method: str, path: str, token: str | None = None, **kwargs: Any
) -> httpx.Response:
    """One request, as a client of any kind might send it."""
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, url + path, headers=headers, timeout=30, **kwargs)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
