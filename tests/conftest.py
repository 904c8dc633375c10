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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``backend`` takes each of ``backends.BACKENDS``, or of a module's ``BACKENDS_HERE`` (the
    store-level suites), unless the test names its own (``parametrize(..., indirect=True)``)."""
    if "backend" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        if "backend" in str(mark.args[0]).replace(" ", "").split(","):
            return
    metafunc.parametrize(
        "backend", getattr(metafunc.module, "BACKENDS_HERE", BACKENDS), indirect=True
    )


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each runtime backend in turn (see ``pytest_generate_tests``); PostgreSQL's schemas made
    for the test are dropped after it, and the services started for it are stopped."""
    name = str(request.param)
    if name.endswith("postgresql"):
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
