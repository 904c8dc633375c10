"""A content-addressed cache of parsed and validated manifest files, kept under `.reconciler/`.

A file's entry is keyed by its name and the SHA-256 of its bytes, inside a cache file whose name
carries the schema's hash and the reconciler's version: an edited file, a changed schema or another
version of the tool can never be served a stale result, they simply miss. Entries not used by a run
are dropped when it saves, so the cache holds one repository's worth at most.

The cache is private to the working directory (`.reconciler/` is git-ignored) and written only by
this tool; it is loaded with pickle, and anything unreadable is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import reconciler
from reconciler import manifests

Key = tuple[str, str]
FORMAT = 1


def _identity() -> str:
    """What every entry depends on besides the file itself."""
    schema = manifests.canonical_schema()
    return hashlib.sha256(f"{FORMAT}\0{reconciler.__version__}\0{schema}".encode()).hexdigest()[:16]


class DiskCache(MutableMapping[Key, manifests.FileResult]):
    def __init__(self, folder: Path) -> None:
        self.path = folder / f"manifests-{_identity()}.pickle"
        self._entries: dict[Key, manifests.FileResult] = {}
        self._used: set[Key] = set()
        self._dirty = False
        try:
            with self.path.open("rb") as handle:
                loaded = pickle.load(handle)
            if isinstance(loaded, dict):
                self._entries = loaded
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError):
            self._entries = {}

    def __getitem__(self, key: Key) -> manifests.FileResult:
        value = self._entries[key]
        self._used.add(key)
        return value

    def __setitem__(self, key: Key, value: manifests.FileResult) -> None:
        self._entries[key] = value
        self._used.add(key)
        self._dirty = True

    def __delitem__(self, key: Key) -> None:
        del self._entries[key]
        self._dirty = True

    def __iter__(self) -> Iterator[Key]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def save(self) -> None:
        """Keep what this run used; write it whole or not at all. A failure only costs speed."""
        kept = {k: v for k, v in self._entries.items() if k in self._used}
        if not self._dirty and len(kept) == len(self._entries):
            return
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for old in self.path.parent.glob("manifests-*.pickle"):
                if old != self.path:
                    old.unlink(missing_ok=True)  # another schema or version: never read again
            with partial.open("wb") as handle:
                pickle.dump(kept, handle, protocol=pickle.HIGHEST_PROTOCOL)
            partial.replace(self.path)
        except OSError:
            partial.unlink(missing_ok=True)
