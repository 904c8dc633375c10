"""``reconciler serve``: the service's app on uvicorn, on a socket of its own.

SIGTERM (and Ctrl-C) stops taking requests, lets those in flight finish (a batch commits, or was
never begun), ends the event streams, and returns: the command exits 0 (130 after Ctrl-C).
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

import uvicorn

from reconciler.errors import RuntimeURLError
from reconciler.project import NONE, Policies
from reconciler.runtime.base import Clock, Patience, utcnow
from reconciler.service.app import Service, build_app
from reconciler.signing import DEFAULT_MAX_AGE

DEFAULT_LISTEN = "127.0.0.1:8080"
#: how long a stop waits for requests in flight before it closes their connections
GRACE_SECONDS = 30


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) as a host and a port."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise RuntimeURLError(f"--listen {text!r:.80} is not HOST:PORT, like {DEFAULT_LISTEN}")
    return host, int(port)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # answers go out whole at once: asyncio sets this only on sockets it makes itself, and without
    # it a small answer on a kept-alive connection waits for the client's delayed ACK (~40 ms)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RuntimeURLError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, telling the service when a stop begins: its event streams end then,
    rather than hold the stop until the grace runs out."""

    def __init__(self, config: uvicorn.Config, service: Service) -> None:
        super().__init__(config)
        self.service = service

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.service.stopping.set()
        super().handle_exit(sig, frame)
        if sig == signal.SIGTERM and self._captured_signals[-1:] == [sig]:
            # uvicorn raises a captured signal again once it has stopped (the process then ends
            # by it, 143): a SIGTERM is the way a service is asked to stop, and that ends in 0
            self._captured_signals.pop()


def access_log() -> None:
    """The access log: one line of JSON per request on standard error."""
    logger = logging.getLogger("reconciler.service")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def server(
    runtime_url: str,
    sock: socket.socket,
    *,
    clock: Clock = utcnow,
    tls: tuple[str, str] | None = None,
    patience: Patience | None = None,
    max_age: timedelta = DEFAULT_MAX_AGE,
    policies: Policies = NONE,
) -> _Server:
    service = Service(runtime_url, clock, patience=patience, max_age=max_age, policies=policies)
    config = uvicorn.Config(
        build_app(service),
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
        lifespan="on",
        server_header=False,
    )
    return _Server(config, service)


def serve(
    runtime_url: str,
    listen: str,
    *,
    tls: tuple[str, str] | None = None,
    clock: Clock = utcnow,
    patience: Patience | None = None,
    max_age: timedelta = DEFAULT_MAX_AGE,
    started: Callable[[str], None] = lambda url: None,
    policies: Policies = NONE,
) -> None:
    """Serve until stopped. ``started`` is told the URL clients reach it at."""
    host, port = parse_listen(listen)
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    access_log()
    the_server = server(
        runtime_url,
        sock,
        clock=clock,
        tls=tls,
        patience=patience,
        max_age=max_age,
        policies=policies,
    )
    started(f"{'https' if tls else 'http'}://{shown}:{bound_port}")
    the_server.run(sockets=[sock])
