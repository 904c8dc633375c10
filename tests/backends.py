"""The runtime backends: one list drives every backend-parametrised test (the contract suite, the
executor, the engine). A backend added here is tested by all of them at once.

The ``backend`` fixture (``conftest.py``) takes each name in turn; :func:`backend_url` makes a
fresh, empty runtime of it for one test.

PostgreSQL's tests run against a real server, ``RECONCILER_TEST_POSTGRESQL`` (by default the one
the project's machines run), each runtime in a schema of its own, dropped after the test. A
developer without a server sees them skipped with the reason; ``.ci/run`` sets
``RECONCILER_REQUIRE_POSTGRESQL=1``, and then they fail instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from pathlib import Path

import pytest

from reconciler.runtime.base import Clock, redacted, utcnow

TOKEN_VARIABLE = "RECONCILER_TOKEN"

BACKENDS = ["memory", "sqlite", "postgresql", "http", "http+postgresql"]
#: the backends that are a store of this process, under the platform: what suites of the store's
#: own rows (its tables, its tokens, a migration between stores) run over
STORE_BACKENDS = ["memory", "sqlite", "postgresql"]

POSTGRESQL = os.environ.get("RECONCILER_TEST_POSTGRESQL", "postgresql://root@127.0.0.1:5432/test")

#: the schemas made for the running test, dropped when it ends
_schemas: list[str] = []


@functools.cache
def _postgresql_missing() -> str | None:
    """Why the PostgreSQL tests cannot run here; None when they can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed: pip install -e '.[test]'"
    try:
        psycopg.connect(POSTGRESQL, connect_timeout=5).close()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"no PostgreSQL server for the tests at {redacted(POSTGRESQL)} ({first})"
    return None


def require_postgresql() -> None:
    """Skip the test when there is no server to run it against, or fail it when CI requires one."""
    reason = _postgresql_missing()
    if reason is None:
        return
    if os.environ.get("RECONCILER_REQUIRE_POSTGRESQL") == "1":
        pytest.fail(f"{reason}; RECONCILER_REQUIRE_POSTGRESQL=1 requires it", pytrace=False)
    pytest.skip(f"{reason}; set RECONCILER_TEST_POSTGRESQL to a server's URL to run them")


def postgresql_admin(sql: str, *args: object) -> None:
    """Run one statement on the test server as its administrator (outside any runtime)."""
    import psycopg

    with psycopg.connect(POSTGRESQL, autocommit=True, connect_timeout=5) as db:
        db.execute(sql.encode(), args or None)  # type: ignore[arg-type]


def postgresql_url(schema: str | None = None) -> str:
    """A new, empty runtime on the test server: a schema of its own, named by search_path."""
    require_postgresql()
    schema = schema or f"t_{uuid.uuid4().hex}"
    postgresql_admin(f'CREATE SCHEMA "{schema}"')
    _schemas.append(schema)
    separator = "&" if "?" in POSTGRESQL else "?"
    return f"{POSTGRESQL}{separator}options=-csearch_path%3D{schema}"


def served(backend: str) -> bool:
    """Whether the backend is a runtime service in front of a store."""
    return backend.startswith("http")


def stop_services() -> None:
    while _services:
        _services.pop().close()
    os.environ.pop(TOKEN_VARIABLE, None)


def drop_postgresql_schemas() -> None:
    while _schemas:
        schema = _schemas.pop()
        postgresql_admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


#: the name of the token a test's clients of an ``http`` backend hold
HTTP_ACTOR = "alice"
#: the services started for the running test, stopped when it ends
_services: list[contextlib.ExitStack] = []


def backend_url(
    backend: str, folder: Path, *, label: str, file: str = "rt.db", clock: Clock = utcnow
) -> str:
    """A new runtime of ``backend`` for one test: ``label`` names a memory runtime (shared by
    every opener of its URL), ``file`` the SQLite file in ``folder``; PostgreSQL gets a schema;
    ``http`` is a service (``reconciler serve``, on its clock) over a SQLite file
    (``http+postgresql``: over a PostgreSQL schema); its administrator's token, named ``alice``
    (the actor the suites write as: the service records the token, and the actor its client
    claims when they differ), is the one the test's clients take from ``RECONCILER_TOKEN``."""
    if served(backend):
        from serving import in_thread

        store = postgresql_url() if backend == "http+postgresql" else f"sqlite:///{folder}/{file}"
        stack = contextlib.ExitStack()
        service = stack.enter_context(in_thread(store, clock, HTTP_ACTOR))
        _services.append(stack)
        os.environ[TOKEN_VARIABLE] = service.admin
        return service.url
    if backend == "memory":
        return f"memory://{label}-{uuid.uuid4().hex}"
    if backend == "sqlite":
        return f"sqlite:///{folder}/{file}"
    if backend == "postgresql":
        return postgresql_url()
    raise AssertionError(f"no runtime URL for backend {backend!r}: add it to backend_url")
