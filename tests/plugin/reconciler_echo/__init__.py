"""``echo://NAME``: a third-party runtime backend for the registry's tests. It reuses the platform
and the memory store, as a real adapter reuses the platform over a store of its own."""

from __future__ import annotations

from reconciler.runtime.base import Clock, Patience, Runtime
from reconciler.runtime.memory import MemoryStore
from reconciler.runtime.platform import Platform

OPENED: list[str] = []  # the URLs opened, for the tests to see


class EchoStore(MemoryStore):
    def __init__(self, url: str) -> None:
        super().__init__("memory://echo-" + url.removeprefix("echo://"))
        self.url = url


def open_echo(url: str, clock: Clock, patience: Patience) -> Runtime:
    OPENED.append(url)
    return Platform(EchoStore(url), clock)
