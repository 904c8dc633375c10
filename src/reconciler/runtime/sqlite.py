"""The embedded runtime's store: one SQLite file in WAL mode, and all of its SQL.

The platform (``platform.py``) runs a batch of operations in one of this store's transactions:
each operation's campaign, history entry and idempotency key and the revision land together, so a
process killed at any instant leaves either all of a batch or none of it. One transaction (one
fsync) for many operations is what makes a large apply fast. The history table refuses updates and
deletes (triggers): append-only. Every statement is parameterised.

SQLite's errors leave this module translated: a file that cannot be opened or read (I/O) is
unavailable; a damaged file or value, a newer schema, a database that is not a runtime are refused
(retrying will not mend them); another writer past the command's patience is a LockedError.
"""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reconciler.errors import (
    ForbiddenError,
    LockedError,
    RuntimeBackendError,
    RuntimeStoreError,
    RuntimeUnavailable,
    RuntimeURLError,
)
from reconciler.model import Campaign, Sending, canonical_json
from reconciler.runtime.access import SigningKey, TokenInfo
from reconciler.runtime.base import (
    HistoryEntry,
    LockInfo,
    LockOwner,
    Patience,
    PublishedPlan,
    SessionInfo,
    redacted,
)
from reconciler.runtime.store import (
    EMPTY,
    HISTORY_COLUMNS,
    LOCK_COLUMNS,
    OPEN_ONLY,
    PUBLISHED_COLUMNS,
    PUBLISHED_QUERY,
    SESSION_COLUMNS,
    SESSION_QUERY,
    SIGNING_KEY_COLUMNS,
    TOKEN_COLUMNS,
    Damaged,
    Tx,
    alive_on_this_host,
    decoded,
    history_entry,
    history_row,
    lock_info,
    lock_row,
    published_plan,
    published_row,
    sending_row,
    session_info,
    session_row,
    signing_key,
    signing_key_row,
    token_info,
    token_row,
)

SCHEMA_VERSION = 5
#: how long a statement waits for another process's write before the runtime says it waits
NOTICE_SECONDS = 1.0
#: how often a change feed reads the revision while it waits for a change
POLL_SECONDS = 0.5
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
    name TEXT PRIMARY KEY, etag TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    revision INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    git_commit TEXT,
    plan_id TEXT,
    operation TEXT NOT NULL,
    campaign TEXT NOT NULL,
    before TEXT,
    after TEXT,
    file TEXT,
    dirty INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS history_by_campaign ON history (campaign, seq);
CREATE INDEX IF NOT EXISTS history_by_revision ON history (revision);
CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history
    BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TABLE IF NOT EXISTS sendings (
    id TEXT PRIMARY KEY, campaign TEXT NOT NULL, scheduled TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sendings_by_campaign ON sendings (campaign, scheduled);
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS applied (key TEXT PRIMARY KEY, revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, reason TEXT NOT NULL,
    acquired TEXT NOT NULL, expires TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, created TEXT NOT NULL, last_used TEXT,
    digest TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS signing_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    secret TEXT NOT NULL UNIQUE, created TEXT NOT NULL, retired TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY, token TEXT NOT NULL, csrf TEXT NOT NULL, created TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_token ON sessions (token);
CREATE TABLE IF NOT EXISTS published_plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id TEXT NOT NULL, ref TEXT, published_at TEXT NOT NULL, published_by TEXT NOT NULL,
    summary TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS published_plans_by_ref ON published_plans (ref, id);
"""


def _path_of(url: str) -> Path:
    # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy spells them
    rest = url.removeprefix("sqlite://")
    if not rest.startswith("/") or rest == "/":
        raise RuntimeURLError(
            f"invalid SQLite runtime URL {redacted(url)!r:.100}: expected sqlite:///PATH "
            "(relative) or sqlite:////PATH (absolute)"
        )
    return Path(rest[1:])


def _translated_error(url: str, exc: Exception) -> RuntimeBackendError:
    """sqlite3's errors, and stored values that cannot be read, as the runtime's errors naming
    it: one line, no traceback (the CLI escapes whatever damaged bytes it quotes)."""
    if isinstance(exc, Damaged):
        return RuntimeStoreError(
            f"runtime {url} is damaged: a stored value cannot be read ({exc!s:.200})"
        )
    return _kind_of(exc)(f"runtime {url}: {exc}")


def _kind_of(exc: Exception) -> type[RuntimeBackendError]:
    """Unavailable (the file cannot be opened, or read: I/O) or refused (anything retrying will
    not mend: a damaged file, a constraint, a read-only database)."""
    if isinstance(exc, PermissionError):
        return ForbiddenError
    if isinstance(exc, OSError):
        return RuntimeUnavailable
    message = str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        if "readonly" in message:
            return ForbiddenError
        if "unable to open" in message or "I/O" in message or _busy(exc):
            return RuntimeUnavailable
    return RuntimeStoreError


class SQLiteStore:
    """One runtime file, through one connection, opened when first needed. The store is used by
    one thread at a time (its connection may be handed to another, as a change feed's waiter)."""

    def __init__(self, url: str, patience: Patience | None = None) -> None:
        self.url = url
        self.path = _path_of(url)
        self._patience = patience or Patience()
        self._db: sqlite3.Connection | None = None
        self._writable = False

    @contextmanager
    def transaction(self, *, write: bool, create: bool = True) -> Iterator[Tx]:
        try:
            db = self._connect(write=write, create=write and create)
            if db is None:
                yield EMPTY
                return
            with self._writing(db) if write else _transaction(db, "BEGIN"):
                yield SQLiteTx(db)
        except (sqlite3.Error, Damaged) as exc:
            raise _translated_error(self.url, exc) from exc

    def holder_alive(self, holder: LockOwner, asking: LockOwner) -> bool:
        return alive_on_this_host(holder, asking)

    def wait_for_change(self, since: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            with self.transaction(write=False) as tx:
                if tx.revision() > since:
                    return

    # --- connection -----------------------------------------------------------------------------

    def _connect(self, *, write: bool = False, create: bool = False) -> sqlite3.Connection | None:
        """The connection, opened once: read-only for reading (a runtime in a read-only folder
        can be planned against), read-write for writing (``create``: making the file if need be).
        None when there is no runtime yet and it is not to be created."""
        if self._db is not None and (self._writable or not (write or create)):
            return self._db
        if not create and not self.path.exists():
            return None
        self.close()  # a read-only connection, now to write
        wait = self._waiting()
        for attempt in itertools.count():
            try:
                self._db = self._open(write or create, create)
            except sqlite3.OperationalError as exc:
                # Switching to WAL needs a moment alone with the file, and SQLite answers "locked"
                # at once, without its busy handler, while another process sets the file up.
                if not _busy(exc):
                    raise self._cannot_open(exc, write or create) from exc
                wait(exc)
                time.sleep(min(0.5, 0.01 * 2**attempt) * random.uniform(0.5, 1.0))
                continue
            except (sqlite3.Error, OSError) as exc:
                raise self._cannot_open(exc, write or create) from exc
            self._writable = self._db is not None and (write or create)
            return self._db
        raise AssertionError("unreachable")

    def _cannot_open(self, exc: Exception, write: bool) -> RuntimeBackendError:
        if write and not os.access(self.path.parent, os.W_OK):
            return ForbiddenError(
                f"cannot write to runtime {self.url}: its folder is read-only here "
                "(commands that only read it, like plan and status, work)"
            )
        return _kind_of(exc)(f"cannot open runtime {self.url}: {exc}")

    def _waiting(self) -> Callable[[sqlite3.OperationalError], None]:
        """What to do each time another process's write keeps this one waiting: say so once,
        after NOTICE_SECONDS, and give up when the patience runs out."""
        started = time.monotonic()
        told = False

        def wait(exc: sqlite3.OperationalError) -> None:
            nonlocal told
            waited = time.monotonic() - started
            if waited >= self._patience.seconds:
                raise LockedError(
                    f"runtime {self.url}: another process has been writing to it for "
                    f"{self._patience.seconds:g}s; nothing was written. Try again, or wait "
                    "longer with --lock-timeout SECONDS"
                ) from exc
            if not told and waited >= NOTICE_SECONDS and self._patience.waiting is not None:
                told = True
                self._patience.waiting(
                    f"waiting for another process to finish writing to runtime {self.url} "
                    f"(up to {self._patience.seconds:g}s)"
                )

        return wait

    def _open(self, write: bool, create: bool) -> sqlite3.Connection | None:
        if not write:
            db = self._open_read_only()
            found = _schema_version(db) if db is not None else None
            if db is None or found is None or found >= SCHEMA_VERSION:
                return db
            db.close()  # an older schema: upgraded as a write would, in its own transaction
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            self.path, timeout=NOTICE_SECONDS, isolation_level=None, check_same_thread=False
        )
        try:
            db.execute(f"PRAGMA busy_timeout={int(NOTICE_SECONDS * 1000)}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            tables = self._check(db)
            found = _schema_version(db)
            if (create and not tables) or (found is not None and found < SCHEMA_VERSION):
                with _transaction(db):
                    _create_schema(db)
            elif not tables:
                # an empty file: a first write killed before its schema committed leaves one
                db.close()
                return None
        except BaseException:
            db.close()
            raise
        return db

    def _open_read_only(self) -> sqlite3.Connection | None:
        """A connection that never writes. A WAL database needs its shared-memory file to be read;
        in a folder this process may not write to, with no writer at work (no WAL file), SQLite
        may read the file as it is (immutable) instead."""
        location = "file:" + quote(os.fspath(self.path.absolute()))
        db = sqlite3.connect(
            f"{location}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            try:
                db.execute(f"PRAGMA busy_timeout={int(NOTICE_SECONDS * 1000)}")
                tables = self._check(db)
            except sqlite3.OperationalError:
                wal = self.path.with_name(self.path.name + "-wal")
                if wal.exists() or os.access(self.path.parent, os.W_OK):
                    raise
                db.close()
                db = sqlite3.connect(
                    f"{location}?mode=ro&immutable=1", uri=True, check_same_thread=False
                )
                db.isolation_level = None
                tables = self._check(db)
            if not tables:  # an empty file: no runtime yet
                db.close()
                return None
        except BaseException:
            db.close()
            raise
        return db

    def _check(self, db: sqlite3.Connection) -> set[str]:
        """The tables of a runtime this reconciler can read; refuse any other database."""
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise RuntimeStoreError(
                f"{self.path} is an SQLite database but not a reconciler runtime "
                "(it holds other tables); choose another path"
            )
        found = _schema_version(db)
        if found is not None and found > SCHEMA_VERSION:
            raise RuntimeStoreError(
                f"runtime {self.url} was written by a newer reconciler (schema version "
                f"{found}; this one reads {SCHEMA_VERSION}); upgrade reconciler"
            )
        return tables

    @contextmanager
    def _writing(self, db: sqlite3.Connection) -> Iterator[None]:
        """A write transaction, once no other process writes: SQLite has one writer at a time."""
        wait = self._waiting()
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")  # waits NOTICE_SECONDS itself (busy_timeout)
                break
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                wait(exc)
        try:
            yield
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
            self._writable = False


# what each schema version adds to the one before it
MIGRATIONS = {
    2: (
        "ALTER TABLE history ADD COLUMN file TEXT",
        "ALTER TABLE history ADD COLUMN dirty INTEGER NOT NULL DEFAULT 0",
    ),
    3: (),  # sendings and segments: new tables, made by the schema itself
    4: (),  # tokens and signing keys, and the history by revision: made by the schema itself
    5: (),  # the dashboard's sessions and published plans: made by the schema itself
}


def _create_schema(db: sqlite3.Connection) -> None:
    found = _schema_version(db)
    if found is not None:  # an existing runtime: bring it up to this version
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                db.execute(statement)
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
    for statement in _statements(SCHEMA):
        db.execute(statement)
    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', '0')")
    db.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    )
    db.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('runtime_id', ?)", (uuid.uuid4().hex,)
    )


def _schema_version(db: sqlite3.Connection) -> int | None:
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return decoded(int, row[0], parse=False) if row else None


def _statements(script: str) -> Iterator[str]:
    """Split the schema script into statements (a trigger's body holds a ';' of its own)."""
    buffer = ""
    for line in script.strip().splitlines():
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            yield buffer
            buffer = ""


def _rows_in(db: sqlite3.Connection, query: str, values: Sequence[str]) -> list[Any]:
    """The rows of ``query``, whose ``IN ({})`` takes ``values``, 500 at a time (an SQLite
    before 3.32 takes at most 999 parameters)."""
    rows = []
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        rows += db.execute(query.format(", ".join("?" * len(chunk))), chunk).fetchall()
    return rows


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock this one needs ("database is locked", "... busy")."""
    return "locked" in str(exc) or "busy" in str(exc)


def _revision(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
    return decoded(int, row[0], parse=False) if row else 0


@contextmanager
def _transaction(db: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[None]:
    db.execute(begin)
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # a failed COMMIT may have rolled back already, or may not have
            db.execute("ROLLBACK")
        raise


class SQLiteTx:
    """The rows of one SQLite transaction: one statement (or one ``executemany``) per call."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def runtime_id(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'runtime_id'").fetchone()
        return row[0] if row else None

    def revision(self) -> int:
        return _revision(self._db)

    def set_revision(self, revision: int) -> None:
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'revision'", (str(revision),))

    def campaigns(self, names: Sequence[str] | None = None) -> dict[str, Campaign]:
        if names is None:
            rows = self._db.execute("SELECT data FROM campaigns ORDER BY name").fetchall()
        else:
            rows = _rows_in(self._db, "SELECT data FROM campaigns WHERE name IN ({})", names)
        found = (decoded(Campaign.from_json, r[0]) for r in rows)
        return {c.name: c for c in sorted(found, key=lambda c: c.name)}

    def campaign_names(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM campaigns ORDER BY name")]

    def claim(self, name: str) -> Campaign | None:
        # the transaction holds SQLite's one write lock: no other writer can have the row
        row = self._db.execute("SELECT data FROM campaigns WHERE name = ?", (name,)).fetchone()
        return decoded(Campaign.from_json, row[0]) if row else None

    def put_campaigns(self, rows: Sequence[tuple[Campaign, str | None]]) -> None:
        # BEGIN IMMEDIATE made this the only writer, and the platform checked each etag in it
        self._db.executemany(
            "INSERT INTO campaigns (name, etag, data) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET etag = excluded.etag, data = excluded.data",
            [(c.name, c.etag, canonical_json(c.to_json())) for c, _ in rows],
        )

    def applied(self, keys: Sequence[str]) -> set[str]:
        return {r[0] for r in _rows_in(self._db, "SELECT key FROM applied WHERE key IN ({})", keys)}

    def applied_with_prefix(self, prefix: str) -> frozenset[str]:
        # the keys in [prefix, prefix with its last character incremented): an index range scan
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\U0010ffff"
        rows = self._db.execute(
            "SELECT key FROM applied WHERE key >= ? AND key < ?", (prefix, upper)
        ).fetchall()
        return frozenset(r[0] for r in rows)

    def put_applied(self, keys: Sequence[tuple[str, int]]) -> None:
        self._db.executemany("INSERT INTO applied (key, revision) VALUES (?, ?)", keys)

    def history(
        self, campaign: str | None = None, after: int = 0, limit: int | None = None
    ) -> list[HistoryEntry]:
        query = f"SELECT seq, {HISTORY_COLUMNS} FROM history WHERE revision > ?"
        args: tuple[Any, ...] = (after,)
        if campaign is not None:
            query += " AND campaign = ?"
            args += (campaign,)
        query += " ORDER BY seq"
        if limit is not None:
            query, args = query + " LIMIT ?", (*args, limit)
        return [history_entry(r) for r in self._db.execute(query, args)]

    def append_history(self, entries: Sequence[HistoryEntry]) -> None:
        self._db.executemany(
            f"INSERT INTO history ({HISTORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [history_row(e) for e in entries],
        )

    def sendings(self, campaign: str | None = None) -> list[Sending]:
        query = "SELECT data FROM sendings"
        args: tuple[str, ...] = ()
        if campaign is not None:
            query, args = query + " WHERE campaign = ?", (campaign,)
        rows = self._db.execute(query + " ORDER BY scheduled, campaign", args).fetchall()
        return [decoded(Sending.from_json, r[0]) for r in rows]

    def put_sendings(self, sendings: Sequence[Sending]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO sendings (id, campaign, scheduled, data) VALUES (?, ?, ?, ?)",
            [sending_row(x) for x in sendings],
        )

    def segments(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._db.execute("SELECT name, size FROM segments")}

    def set_segment(self, name: str, size: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO segments (name, size) VALUES (?, ?)", (name, size))

    def lock(self) -> LockInfo | None:
        return lock_info(
            self._db.execute(f"SELECT {LOCK_COLUMNS} FROM lock WHERE id = 1").fetchone()
        )

    def put_lock(self, lock: LockInfo | None) -> None:
        if lock is None:
            self._db.execute("DELETE FROM lock WHERE id = 1")
            return
        self._db.execute(
            f"INSERT OR REPLACE INTO lock (id, {LOCK_COLUMNS}) VALUES (1, ?, ?, ?, ?, ?, ?)",
            lock_row(lock),
        )

    def tokens(self) -> list[tuple[TokenInfo, str]]:
        rows = self._db.execute(f"SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY name").fetchall()
        return [(token_info(r), r[4]) for r in rows]

    def token_by_digest(self, digest: str) -> TokenInfo | None:
        query = f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE digest = ?"
        row = self._db.execute(query, (digest,)).fetchone()
        return token_info(row) if row else None

    def put_token(self, token: TokenInfo, digest: str) -> None:
        self._db.execute(
            f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?)", token_row(token, digest)
        )

    def delete_token(self, name: str) -> bool:
        return self._db.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount > 0

    def touch_token(self, name: str, at: str) -> None:
        self._db.execute("UPDATE tokens SET last_used = ? WHERE name = ?", (at, name))

    def signing_keys(self) -> list[SigningKey]:
        query = f"SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY id DESC"
        return [signing_key(r) for r in self._db.execute(query)]

    def put_signing_key(self, key: SigningKey) -> None:
        self._db.execute(
            f"INSERT INTO signing_keys ({SIGNING_KEY_COLUMNS}) VALUES (?, ?, ?) "
            "ON CONFLICT (secret) DO UPDATE SET retired = excluded.retired",
            signing_key_row(key),
        )

    def session(self, digest: str) -> SessionInfo | None:
        row = self._db.execute(SESSION_QUERY.format("?"), (digest,)).fetchone()
        return session_info(row) if row else None

    def put_session(self, session: SessionInfo, digest: str) -> None:
        self._db.execute(
            f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            session_row(session, digest),
        )

    def delete_session(self, digest: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE digest = ?", (digest,))

    def delete_sessions(self, *, token: str | None = None, expired: str | None = None) -> None:
        self._db.execute("DELETE FROM sessions WHERE token = ? OR expires <= ?", (token, expired))

    def published_plans(
        self, limit: int | None = None, *, open_only: bool = True
    ) -> list[PublishedPlan]:
        query = PUBLISHED_QUERY + (OPEN_ONLY if open_only else "") + " ORDER BY p.id DESC LIMIT ?"
        rows = self._db.execute(query, (-1 if limit is None else limit,)).fetchall()
        return [published_plan(r) for r in rows]

    def published_plan(self, number: int) -> tuple[PublishedPlan, dict[str, Any]] | None:
        row = self._db.execute(
            f"SELECT id, {PUBLISHED_COLUMNS}, data FROM published_plans WHERE id = ?", (number,)
        ).fetchone()
        return (published_plan(row), decoded(dict, row[6])) if row else None

    def put_published_plan(self, plan: PublishedPlan, data: Mapping[str, Any]) -> int:
        cursor = self._db.execute(
            f"INSERT INTO published_plans ({PUBLISHED_COLUMNS}, data) VALUES (?, ?, ?, ?, ?, ?)",
            published_row(plan, data),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid
