"""A runtime read from outside, without the reconciler: what the tests that kill or race reconciler
processes check their runtime against. The same facts on every backend that processes can share:
the revision, how many rows a table holds, the lock holder's pid.

A read answers None while the runtime cannot be read (not made yet, or busy): a test polls it
while a process makes the runtime. SQLite is read through a read-only connection per read, which
never takes a writer's lock; PostgreSQL through one connection of the probe's own, in the schema
the runtime URL's ``search_path`` names, each statement its own transaction (it sees what has
been committed, never holds a lock between reads).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

#: the backends whose runtime several processes share (a memory runtime lives in one process)
SHARED_BACKENDS = ["sqlite", "postgresql"]

#: the tables whose rows the probe counts: nothing else is put into its SQL
TABLES = frozenset({"campaigns", "history", "applied", "lock", "sendings"})


class Probe:
    """The facts; each backend's probe says how it reads one value."""

    url: str

    def rows(self, query: str) -> list[tuple[Any, ...]] | None:
        """Every row, or None while the runtime cannot be read."""
        raise NotImplementedError

    def one(self, query: str) -> Any:
        """The first column of the first row, or None (no row, or the runtime cannot be read)."""
        rows = self.rows(query)
        return rows[0][0] if rows else None

    def close(self) -> None:
        """Let go of what the probe holds open."""

    def revision(self) -> int | None:
        value = self.one("SELECT value FROM meta WHERE key = 'revision'")
        return None if value is None else int(value)

    def count(self, table: str) -> int | None:
        assert table in TABLES, table
        value = self.one(f"SELECT COUNT(*) FROM {table}")
        return None if value is None else int(value)

    def holder_pid(self) -> int | None:
        value = self.one("SELECT pid FROM lock")
        return None if value is None else int(value)

    def sending_ids(self) -> list[str] | None:
        rows = self.rows("SELECT id FROM sendings")
        return None if rows is None else [str(r[0]) for r in rows]


class SQLiteProbe(Probe):
    def __init__(self, url: str) -> None:
        assert url.startswith("sqlite:////"), url
        self.url = url
        self.db = Path(url.removeprefix("sqlite:///"))

    def rows(self, query: str) -> list[tuple[Any, ...]] | None:
        try:
            con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=0.05)
        except sqlite3.Error:
            return None
        try:
            return con.execute(query).fetchall()
        except sqlite3.Error:
            return None
        finally:
            con.close()


class PostgreSQLProbe(Probe):
    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self._db = psycopg.connect(url, autocommit=True, connect_timeout=5)
        row = self._db.execute("SELECT current_schema()").fetchone()
        assert row and row[0] and row[0] != "public", f"{url}: a schema of the test's own"

    def rows(self, query: str) -> list[tuple[Any, ...]] | None:
        import psycopg

        try:
            return self._db.execute(query.encode()).fetchall()
        except psycopg.errors.UndefinedTable:  # the runtime is not made yet
            return None

    def pretend_holder_elsewhere(self) -> None:
        """Move the lock's holder to another host: its pid then means nothing to a process here,
        and only the session the holder locked the runtime with can tell whether it lives."""
        self._db.execute("UPDATE lock SET host = 'another-host.invalid'")

    def close(self) -> None:
        self._db.close()


def probe(backend: str, url: str) -> Probe:
    if backend == "sqlite":
        return SQLiteProbe(url)
    if backend == "postgresql":
        return PostgreSQLProbe(url)
    raise AssertionError(f"no probe for backend {backend!r}: add one to tests/probes.py")
