"""The parse cache on disk, under `.reconciler/`: a manifests.Cache that outlives the process.

Entries are keyed by a file's name and the SHA-256 of its bytes, inside a cache file whose name
carries the schema's hash and the reconciler's version: an edited file, a changed schema or another
version of the tool can never be served a stale result, they simply miss. A file whose stat is the
one recorded when it was read is not read again (see manifests.Cache for when a stat is trusted).

The cache is private to the working directory (`.reconciler/` is git-ignored) and written only by
this tool, with marshal (builtins only, the fastest to load); anything unreadable is ignored and
rebuilt. Entries not used by a run are dropped when it saves: one repository's worth at most.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path

import reconciler
from reconciler import manifests

FORMAT = 2


def _identity() -> str:
    """What every entry depends on besides the file itself."""
    schema = manifests.canonical_schema()
    parts = (FORMAT, marshal.version, reconciler.__version__, schema)
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]


class DiskCache(manifests.Cache):
    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.path = folder / f"manifests-{_identity()}.marshal"
        try:
            seen, entries = marshal.loads(self.path.read_bytes())
            if isinstance(seen, dict) and isinstance(entries, dict):
                self.seen, self.entries = seen, entries
        except (OSError, EOFError, ValueError, TypeError):
            pass

    def save(self) -> None:
        """Keep what this run used; write it whole or not at all. A failure only costs speed."""
        self.sweep()
        if not self.changed:
            return
        entries = {
            key: value.record() if isinstance(value, manifests.FileResult) else value
            for key, value in self.entries.items()
        }
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for old in self.path.parent.glob("manifests-*"):
                if old != self.path:
                    old.unlink(missing_ok=True)  # another schema or version: never read again
            partial.write_bytes(marshal.dumps((self.seen, entries)))
            partial.replace(self.path)
            self.changed = False
        except OSError:
            partial.unlink(missing_ok=True)
