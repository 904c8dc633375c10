"""The runtime backends: one list drives every backend-parametrised test (the contract suite, the
executor, the engine). A backend added here (PostgreSQL) is tested by all of them at once.

The ``backend`` fixture (``conftest.py``) takes each name in turn; :func:`backend_url` makes a
fresh, empty runtime of it for one test.
"""

from __future__ import annotations

import uuid
from pathlib import Path

BACKENDS = ["memory", "sqlite"]


def backend_url(backend: str, folder: Path, *, label: str, file: str = "rt.db") -> str:
    """A new runtime of ``backend`` for one test: ``label`` names a memory runtime (shared by
    every opener of its URL), ``file`` the SQLite file in ``folder``."""
    if backend == "memory":
        return f"memory://{label}-{uuid.uuid4().hex}"
    if backend == "sqlite":
        return f"sqlite:///{folder}/{file}"
    raise AssertionError(f"no runtime URL for backend {backend!r}: add it to backend_url")
