"""Campaign runtimes: one small interface, backends chosen by URL."""

from reconciler.runtime.base import (
    DEFAULT_URL,
    Applied,
    HistoryEntry,
    LockInfo,
    LockOwner,
    Provenance,
    Runtime,
    Write,
    open_runtime,
)

__all__ = [
    "DEFAULT_URL",
    "Applied",
    "HistoryEntry",
    "LockInfo",
    "LockOwner",
    "Provenance",
    "Runtime",
    "Write",
    "open_runtime",
]
