"""What every runtime-reading command shares: its options (the runtime, the actor, now), and
the manifests read through the parse cache."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from reconciler import (
    environments,
    manifests,
)
from reconciler.cache import DiskCache
from reconciler.runtime.base import (
    BUSY_SECONDS,
    DEFAULT_URL,
    Patience,
    Runtime,
    redacted,
)
from reconciler.runtime.registry import open_runtime


@dataclass(frozen=True)
class Options:
    """What every runtime-reading command shares."""

    runtime_url: str | None = None
    actor: str | None = None
    #: the moment taken as now by plans (next sendings) and the runtime (live or scheduled);
    #: None is the clock's time. Pinned, it makes output reproducible ($RECONCILER_NOW)
    now: datetime | None = None
    #: how long to wait while another process writes to the runtime, and how to say so
    patience: Patience = field(default_factory=Patience)
    #: the environment of the project file the runtime URL comes from (--env), with its overlay
    target: environments.Target | None = None

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)

    def open(self, url: str | None = None) -> Runtime:
        """The runtime, open: use it as a context manager, which closes it."""
        opened = url or self.runtime_url
        # a URL the repository chose; apply passes it explicitly
        if self.target is not None and opened == self.target.runtime_url:
            environments.check_token(self.target.runtime_url, self.target.name)
        return open_runtime(opened, clock=self.clock, patience=self.patience)

    def waiting(self, seconds: float) -> Options:
        """These options, waiting at least ``seconds`` (--lock-timeout) for another writer."""
        return replace(self, patience=replace(self.patience, seconds=max(seconds, BUSY_SECONDS)))


CACHE_DIR = Path(".reconciler") / "cache"


def _load(path: str | os.PathLike[str], cache: manifests.Cache | None) -> manifests.LoadResult:
    """Load the manifests, with the given cache, else the one on disk in the working directory."""
    if cache is not None:
        return manifests.load(path, cache)
    disk = DiskCache(CACHE_DIR)
    loaded = manifests.load(path, disk)
    disk.save()
    return loaded


def shown_url(url: str | None) -> str:
    """A runtime URL as messages show it: the default's when None, never with its password."""
    return redacted(url or DEFAULT_URL)
