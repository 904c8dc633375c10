"""Fixtures that several test modules share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import (
    BACKENDS,
    backend_url,
    drop_postgresql_schemas,
    require_postgresql,
    stop_services,
)
from probes import Probe, probe
from reconciler import manifests


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The manifest files parsed (not served by a cache), in order."""
    seen: list[str] = []
    real = manifests._parse_file

    def counting(data: bytes, display: str) -> manifests.FileResult:
        seen.append(display)
        return real(data, display)

    monkeypatch.setattr(manifests, "_parse_file", counting)
    return seen


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each runtime backend in turn (``backends.BACKENDS``); PostgreSQL's schemas made for the
    test are dropped after it."""
    name = str(request.param)
    if name == "postgresql":
        require_postgresql()
    yield name
    stop_services()
    drop_postgresql_schemas()


@pytest.fixture
def outside(backend: str, tmp_path: Path) -> Iterator[Probe]:
    """A new runtime of ``backend`` that processes share (its URL is ``.url``), read from outside
    the reconciler. Parametrise ``backend`` with ``probes.SHARED_BACKENDS``, ``indirect=True``."""
    reader = probe(backend, backend_url(backend, tmp_path, label="shared"))
    yield reader
    reader.close()
