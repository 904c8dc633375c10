"""The parse cache on disk, under `.reconciler/`: a manifests.Cache that outlives the process.

Entries are keyed by a file's name and the SHA-256 of its bytes, inside a folder whose name
carries the schema's hash, the reconciler's version and the Python version: an edited file, a
changed schema or another version of the tool can never be served a stale result, they simply
miss. A file whose stat is the one recorded when it was read is not read again (see
manifests.Cache for when a stat is trusted).

The folder holds SHARDS files, each for the manifest files whose names hash to it, so that a run
that read a few changed files rewrites a few small shards, not the whole cache. Each is written
whole or not at all; shards of different runs mix safely, every entry being checked by stat or
content. Beside them, the schema's validators compiled to code (fastjsonschema's source, as
Python bytecode), which a run that parses a few files would otherwise spend most of its time
making. The cache is private to the working directory (`.reconciler/` is git-ignored) and
written only by this tool, with marshal (builtins only, the fastest to load); anything unreadable
is ignored and rebuilt. Entries not used by a run are dropped when it saves.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import shutil
import sys
import zlib
from pathlib import Path
from typing import Any

import reconciler
from reconciler import manifests, validation

#: 5: positions of fields at every depth; 6: and of the top mappings' keys; 7: a manifest's
#: environments and base hash (fields more in its tuple)
FORMAT = 7
SHARDS = 64
VALIDATORS = "validators.marshal"  # the schema compiled to code, as validation.compiled() gives

#: a shard as it is on disk: (file -> (stat, digest)), and the keys of its entries
_Contents = tuple[dict[str, Any], set[tuple[str, str]]]


def _identity() -> str:
    """What every entry depends on besides the file itself."""
    schema = validation.canonical_schema()
    parts = (FORMAT, sys.implementation.cache_tag, reconciler.__version__, schema)
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:16]


def _shard(display: str) -> int:
    return zlib.crc32(display.encode()) % SHARDS


class DiskCache(manifests.Cache):
    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder / f"manifests-{_identity()}"
        self._on_disk: dict[int, _Contents] = {}
        for shard in range(SHARDS):
            try:
                seen, entries = marshal.loads((self.folder / f"{shard}.marshal").read_bytes())
                if not isinstance(seen, dict) or not isinstance(entries, dict):
                    continue
            except (OSError, EOFError, ValueError, TypeError):
                continue
            self.seen.update(seen)
            self.entries.update(entries)
            self._on_disk[shard] = (seen, set(entries))
        try:
            self._validators = marshal.loads((self.folder / VALIDATORS).read_bytes())
            validation.use_compiled(self._validators)
        except (OSError, EOFError, ValueError, TypeError, AttributeError):
            self._validators = {}

    def save(self) -> None:
        """Keep what this run used; rewrite the shards that changed. A failure only costs speed."""
        self.sweep()
        if not self.changed:
            return
        now: dict[int, _Contents] = {}
        for display, seen in self.seen.items():
            now.setdefault(_shard(display), ({}, set()))[0][display] = seen
        for key in self.entries:
            now.setdefault(_shard(key[0]), ({}, set()))[1].add(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in self.folder.parent.glob("manifests-*"):
                if old == self.folder:
                    continue
                if old.is_dir():  # another schema or version: never read again
                    shutil.rmtree(old)
                else:  # an older format
                    old.unlink()
            for shard in range(SHARDS):
                contents = now.get(shard)
                if contents != self._on_disk.get(shard):
                    self._write(shard, contents)
            if (compiled := validation.compiled()) != self._validators:
                _replace(self.folder / VALIDATORS, marshal.dumps(compiled))
                self._validators = compiled
        except OSError:
            return
        self._on_disk, self.changed = now, False

    def _write(self, shard: int, contents: _Contents | None) -> None:
        path = self.folder / f"{shard}.marshal"
        if contents is None:
            path.unlink(missing_ok=True)
            return
        seen, keys = contents
        entries = {}
        for key in keys:
            value = self.entries[key]
            entries[key] = value.record() if isinstance(value, manifests.FileResult) else value
        _replace(path, marshal.dumps((seen, entries)))


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
