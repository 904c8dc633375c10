"""A shared runtime's store: PostgreSQL through psycopg 3, and all of its SQL.

The tables live in the schema the connection's ``search_path`` names (``public`` by default), so
one database can hold several runtimes (``?options=-csearch_path%3Dstaging``); no statement
qualifies a table. Every statement is parameterised.

Transactions. A read is ``REPEATABLE READ READ ONLY``: one snapshot, and nothing a role that may
only ``SELECT`` cannot do. A write is ``READ COMMITTED`` and, before anything but its campaign rows,
locks the revision row (``SELECT ... FOR UPDATE``): writers take turns on it, as SQLite's single
writer does, so each reads what the one before it committed. Campaign rows are locked before the
revision, always in name order (a batch's ``campaigns``, the engine's ``claim``), so two writers
never wait on each other in a circle; ``claim`` skips a row another transaction holds (``SKIP
LOCKED``): engine workers on several machines advance disjoint campaigns. Etags are checked in the
statement too (``UPDATE ... WHERE etag = ...``). A write that moves the revision ends with
``pg_notify``, which PostgreSQL delivers only if it commits: the change feed.

The apply lock. The row names its holder, for reporting; the holder's own connection also takes a
session advisory lock keyed by the schema and the owner. PostgreSQL frees it when that session
ends however it ends (the process killed, its machine gone), so :meth:`holder_alive` answers from
``pg_locks``, on any machine, and a dead holder's lock is taken over at once.

psycopg's errors leave this module translated: no connection, a connection lost, a deadlock or a
serialisation failure are unavailable (try again); a role that may not write is forbidden; a
damaged row, a newer schema, a schema that is no runtime are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from reconciler.errors import (
    ConflictError,
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

#: how long a command tries to reach the server before it says it cannot
CONNECT_TIMEOUT_SECONDS = 10
#: the change feed's channel (a schema other than public gets a channel of its own)
CHANNEL = "reconciler_changes"

# --- the schema: the current one, and the steps that bring an older one to it -------------------

SCHEMA_VERSION = 3
#: the oldest schema version this reconciler reads as it is (an older one is upgraded by a write)
READS_FROM = 1
#: the version that added the runtime service's tables: a runtime older than it has no tokens
#: and no signing keys, and is read as such
ACCESS_SINCE = 2
#: the version that added the dashboard's tables: a runtime older than it has no sessions and no
#: published plans, and is read as such
DASHBOARD_SINCE = 3

#: what version 2 added: the runtime service's tokens and plan signing keys, and the history by
#: revision (an event stream reads what happened after a revision)
ACCESS = (
    """CREATE TABLE tokens (
        name TEXT COLLATE "C" PRIMARY KEY, role TEXT NOT NULL, created TEXT NOT NULL,
        last_used TEXT, digest TEXT NOT NULL UNIQUE
    )""",
    """CREATE TABLE signing_keys (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        secret TEXT NOT NULL UNIQUE, created TEXT NOT NULL, retired TEXT
    )""",
    "CREATE INDEX history_by_revision ON history (revision)",
)

#: what version 3 added: the dashboard's sessions (each its secret's digest, its token's name)
#: and the plans published to it, each with its saved plan
DASHBOARD = (
    """CREATE TABLE sessions (
        digest TEXT PRIMARY KEY, token TEXT COLLATE "C" NOT NULL, csrf TEXT NOT NULL,
        created TEXT NOT NULL, expires TEXT NOT NULL
    )""",
    "CREATE INDEX sessions_by_token ON sessions (token)",
    """CREATE TABLE published_plans (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        plan_id TEXT NOT NULL, ref TEXT COLLATE "C", published_at TEXT NOT NULL,
        published_by TEXT NOT NULL, summary TEXT NOT NULL, data TEXT NOT NULL
    )""",
    "CREATE INDEX published_plans_by_ref ON published_plans (ref, id)",
)

#: the current schema, made whole in one transaction by a runtime's first write. Names sort by code
#: point (COLLATE "C"), as on SQLite: prefix scans of keys are index ranges, orders are the same.
SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    'CREATE TABLE campaigns (name TEXT COLLATE "C" PRIMARY KEY, etag TEXT NOT NULL, '
    "data TEXT NOT NULL)",
    """CREATE TABLE history (
        seq BIGINT PRIMARY KEY,
        revision BIGINT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        git_commit TEXT,
        plan_id TEXT,
        operation TEXT NOT NULL,
        campaign TEXT COLLATE "C" NOT NULL,
        before TEXT,
        after TEXT,
        file TEXT,
        dirty BOOLEAN NOT NULL DEFAULT FALSE
    )""",
    "CREATE INDEX history_by_campaign ON history (campaign, seq)",
    """CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'history is append-only'; END $$""",
    "CREATE TRIGGER history_no_change BEFORE UPDATE OR DELETE ON history "
    "FOR EACH ROW EXECUTE FUNCTION history_append_only()",
    "CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history "
    "FOR EACH STATEMENT EXECUTE FUNCTION history_append_only()",
    'CREATE TABLE sendings (id TEXT COLLATE "C" PRIMARY KEY, campaign TEXT COLLATE "C" NOT NULL, '
    'scheduled TEXT COLLATE "C" NOT NULL, data TEXT NOT NULL)',
    "CREATE INDEX sendings_by_campaign ON sendings (campaign, scheduled)",
    'CREATE TABLE segments (name TEXT COLLATE "C" PRIMARY KEY, size BIGINT NOT NULL)',
    'CREATE TABLE applied (key TEXT COLLATE "C" PRIMARY KEY, revision BIGINT NOT NULL)',
    """CREATE TABLE lock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, reason TEXT NOT NULL,
        acquired TEXT NOT NULL, expires TEXT NOT NULL
    )""",
    *ACCESS,
    *DASHBOARD,
)

#: version -> the statements that bring a runtime of the version before it to this one, run in
#: order, all in one transaction (procrastinate's migrations, one step per version). Version 1 is
#: the first: there is nothing to bring to it.
MIGRATIONS: dict[int, tuple[str, ...]] = {2: ACCESS, 3: DASHBOARD}


def _one_line(exc: BaseException) -> str:
    """libpq's messages run over several lines, with a FATAL: and a hint: the first, tidied."""
    text = str(exc).strip().splitlines()
    return " ".join(text[0].split()) if text else type(exc).__name__


def _advisory_key(schema: str, owner: str) -> int:
    """The advisory lock of one lock holder of one runtime (schema), as a signed 64-bit key."""
    digest = hashlib.blake2b(f"reconciler lock\0{schema}\0{owner}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _channel(schema: str) -> str:
    name = CHANNEL if schema == "public" else f"{CHANNEL}_{schema}"
    return name.encode()[:63].decode(errors="ignore")  # an identifier is at most 63 bytes


class PostgreSQLStore:
    """One runtime (a schema of a database) through one connection, opened when first needed,
    and one more, opened by the first wait for a change, that listens. Used by one thread at a
    time, as the SQLite store is (a change feed's waiter uses only the listening one)."""

    def __init__(self, url: str, patience: Patience | None = None) -> None:
        self.url = url
        self.shown = redacted(url)
        self._patience = patience or Patience()
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise RuntimeURLError(
                f"invalid PostgreSQL runtime URL {self.shown!r:.100}: {_one_line(exc)}"
            ) from exc
        self._password = str(params.get("password") or "")
        if self._patience.connect_seconds is not None:  # --connect-timeout: the command's say
            params["connect_timeout"] = max(1, round(self._patience.connect_seconds))
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        params.setdefault("application_name", "reconciler")
        self._user = str(params.get("user") or "")
        self._conninfo = make_conninfo("", **params)
        self._db: psycopg.Connection[Any] | None = None
        self._listener: psycopg.Connection[Any] | None = None
        self._schema = ""
        self._ready = False  # the schema was found current by a writing transaction
        #: the lock holders whose advisory lock this store's session holds: owner -> key
        self._held: dict[str, int] = {}

    # --- transactions ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self, *, write: bool, create: bool = True) -> Iterator[Tx]:
        try:
            db = self._connect()
            if write and not self._prepared(db, create):
                yield EMPTY
                return
            if write:
                db.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                # a writer waits for the one before it this long, then says so
                db.execute(
                    "SELECT set_config('lock_timeout', %s, true)",
                    (f"{int(self._patience.seconds * 1000)}ms",),
                )
            else:
                db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            version = SCHEMA_VERSION if write else self._readable(db)
            if version is None:
                db.execute("ROLLBACK")
                yield EMPTY
                return
            tx = PostgreSQLTx(self, db, write=write, version=version)
            try:
                yield tx
            except BaseException:
                self._rollback(db)
                tx.rolled_back()
                raise
            if tx.revised is not None:
                db.execute("SELECT pg_notify(%s, %s)", (_channel(self._schema), str(tx.revised)))
            db.execute("COMMIT")
            tx.committed()
        except (psycopg.Error, Damaged) as exc:
            raise self._translated(exc) from exc

    def holder_alive(self, holder: LockOwner, asking: LockOwner) -> bool:
        # a holder on this host whose process is gone is dead whatever its session says (its
        # session may be this one: a lock put for another owner through this store)
        if not alive_on_this_host(holder, asking):
            return False
        key = _advisory_key(self._schema, holder.owner)
        unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
        row = (
            self._connect()
            .execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = %s AND objid = %s AND objsubid = 1)",
                (unsigned >> 32, unsigned & 0xFFFF_FFFF),
            )
            .fetchone()
        )
        return bool(row and row[0])

    def wait_for_change(self, since: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        try:
            listener = self._listening()
            if _current_revision(listener) > since:  # written before this listened
                return
            while (remaining := deadline - time.monotonic()) > 0:
                for note in listener.notifies(timeout=remaining, stop_after=1):
                    if note.payload.isdigit() and int(note.payload) > since:
                        return
        except psycopg.Error as exc:
            if self._listener is not None and self._listener.closed:
                self._listener = None
            raise self._translated(exc) from exc

    def close(self) -> None:
        for db in (self._db, self._listener):
            if db is not None:
                db.close()  # the session's advisory locks go with it
        self._db = self._listener = None
        self._held.clear()
        self._ready = False

    # --- connections ----------------------------------------------------------------------------

    def _open(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise RuntimeUnavailable(
                f"cannot connect to runtime {self.shown}: {self._scrubbed(_one_line(exc))}"
            ) from exc

    def _connect(self) -> psycopg.Connection[Any]:
        if self._db is None or self._db.closed or self._db.broken:
            self._forget()
            self._db = self._open()
            row = self._db.execute("SELECT current_schema()").fetchone()
            self._schema = row[0] if row and row[0] else ""
        return self._db

    def _listening(self) -> psycopg.Connection[Any]:
        if self._listener is None or self._listener.closed or self._listener.broken:
            self._listener = self._open()
            row = self._listener.execute("SELECT current_schema()").fetchone()
            channel = _channel(row[0] if row and row[0] else "")
            self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        return self._listener

    def _forget(self) -> None:
        """The connection is gone, and with its session every advisory lock it held."""
        if self._db is not None:
            self._db.close()
        self._db = None
        self._held.clear()
        self._ready = False

    @staticmethod
    def _rollback(db: psycopg.Connection[Any]) -> None:
        with contextlib.suppress(psycopg.Error):  # gone: the server rolled back already
            db.execute("ROLLBACK")

    # --- the schema -----------------------------------------------------------------------------

    def _prepared(self, db: psycopg.Connection[Any], create: bool) -> bool:
        """Before the first write: make the schema, or bring it to this version, in one
        transaction, while no other process does (an advisory lock of the transaction). False
        when there is no runtime and it is not to be made."""
        if self._ready:
            return True
        db.execute("BEGIN")
        try:
            db.execute(
                "SELECT pg_advisory_xact_lock(hashtext('reconciler schema ' || %s))",
                (self._schema,),
            )
            found = self._version(db)
            if found is None and not create:
                db.execute("ROLLBACK")
                return False
            if found is None:
                if not self._schema:
                    raise RuntimeStoreError(
                        f"runtime {self.shown}: no schema to make it in (the connection's "
                        "search_path names no schema that exists)"
                    )
                for statement in SCHEMA:
                    db.execute(statement)
                db.cursor().executemany(
                    "INSERT INTO meta (key, value) VALUES (%s, %s)",
                    [
                        ("schema_version", str(SCHEMA_VERSION)),
                        ("revision", "0"),
                        ("runtime_id", uuid.uuid4().hex),
                    ],
                )
            elif found < SCHEMA_VERSION:
                for version in range(found + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS[version]:
                        db.execute(statement)
                db.execute(
                    "UPDATE meta SET value = %s WHERE key = 'schema_version'",
                    (str(SCHEMA_VERSION),),
                )
            db.execute("COMMIT")
        except BaseException:
            self._rollback(db)
            raise
        self._ready = True
        return True

    def _readable(self, db: psycopg.Connection[Any]) -> int | None:
        """The schema version of the runtime to read (in a reading transaction), None when there
        is none; refuse one that this reconciler cannot read as it is."""
        found = self._version(db)
        if found is not None and found < READS_FROM:
            raise RuntimeStoreError(
                f"runtime {self.shown} has schema version {found}, older than this reconciler "
                f"reads ({READS_FROM}); `reconciler apply` (or any command that writes to it) "
                "upgrades it"
            )
        return found

    def _version(self, db: psycopg.Connection[Any]) -> int | None:
        """The schema version of the runtime in the connection's schema; None when there is none.
        A newer one, or tables of someone else's, are refused."""
        row = db.execute(
            "SELECT to_regclass('meta') IS NOT NULL, to_regclass('campaigns') IS NOT NULL"
        ).fetchone()
        has_meta, has_campaigns = row if row else (False, False)
        if not has_meta:
            if has_campaigns:
                raise self._not_a_runtime()
            return None
        found = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if found is None:
            raise self._not_a_runtime()
        version = decoded(int, found[0], parse=False)
        if version > SCHEMA_VERSION:
            raise RuntimeStoreError(
                f"runtime {self.shown} was written by a newer reconciler (schema version "
                f"{version}; this one reads {SCHEMA_VERSION}); upgrade reconciler"
            )
        return version

    def _not_a_runtime(self) -> RuntimeStoreError:
        return RuntimeStoreError(
            f"the schema {self._schema} of {self.shown} holds tables that are not a reconciler "
            "runtime's; choose another schema (search_path)"
        )

    # --- errors ---------------------------------------------------------------------------------

    def _scrubbed(self, text: str) -> str:
        return text.replace(self._password, "***") if self._password else text

    def _translated(self, exc: Exception) -> RuntimeBackendError:
        """psycopg's errors, and rows that cannot be read, as the runtime's errors naming it (its
        password redacted): one line each."""
        if self._db is not None and (self._db.closed or self._db.broken):
            self._forget()
        if isinstance(exc, Damaged):
            return RuntimeStoreError(
                f"runtime {self.shown} is damaged: a stored value cannot be read ({exc!s:.200})"
            )
        line = self._scrubbed(_one_line(exc))
        if isinstance(exc, errors.InsufficientPrivilege):
            user = (self._db.info.user if self._db is not None else self._user) or "this role"
            return ForbiddenError(
                f"runtime {self.shown}: the role {user} may not write to it, only read it "
                f"(plan and status work); apply with a role that may write ({line})"
            )
        if isinstance(exc, errors.LockNotAvailable):
            return LockedError(
                f"runtime {self.shown}: another process has been writing to it for "
                f"{self._patience.seconds:g}s; nothing was written. Try again, or wait "
                "longer with --lock-timeout SECONDS"
            )
        if isinstance(exc, errors.SerializationFailure | errors.DeadlockDetected):
            return RuntimeUnavailable(
                f"runtime {self.shown}: {line}; nothing was written, try again"
            )
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return RuntimeUnavailable(f"runtime {self.shown} is unavailable: {line}")
        return RuntimeStoreError(f"runtime {self.shown}: {line}")


def _current_revision(db: psycopg.Connection[Any]) -> int:
    """The revision, outside any transaction (a runtime not made yet is at 0)."""
    row = db.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
    return decoded(int, row[0], parse=False) if row else 0


class PostgreSQLTx:
    """The rows of one PostgreSQL transaction: one statement (or one ``executemany``) per call."""

    def __init__(
        self, store: PostgreSQLStore, db: psycopg.Connection[Any], *, write: bool, version: int
    ) -> None:
        self._store = store
        self._db = db
        self._write = write
        #: whether the runtime has the service's tables (one read as it is may be older)
        self._access = version >= ACCESS_SINCE
        self._dashboard = version >= DASHBOARD_SINCE
        self._revision: int | None = None  # read, and in a write locked: writers take turns
        #: the revision this transaction wrote, announced when it commits
        self.revised: int | None = None
        self._taken: list[str] = []  # advisory locks taken here: released if it rolls back
        self._released: list[str] = []  # advisory locks to release once it commits

    def _turn(self) -> int:
        """The revision; in a write, locked first: from here on no other writer moves a row."""
        if self._revision is None:
            query = "SELECT value FROM meta WHERE key = 'revision'"
            row = self._db.execute(query + (" FOR UPDATE" if self._write else "")).fetchone()
            self._revision = decoded(int, row[0], parse=False) if row else 0
        return self._revision

    def runtime_id(self) -> str | None:
        self._turn()
        row = self._db.execute("SELECT value FROM meta WHERE key = 'runtime_id'").fetchone()
        return str(row[0]) if row else None

    def revision(self) -> int:
        return self._turn()

    def set_revision(self, revision: int) -> None:
        self._turn()
        self._db.execute("UPDATE meta SET value = %s WHERE key = 'revision'", (str(revision),))
        self._revision = self.revised = revision

    def campaigns(self, names: Sequence[str] | None = None) -> dict[str, Campaign]:
        # in a write, the rows are locked in name order before the revision (see the module)
        lock = " FOR UPDATE" if self._write else ""
        if names is None:
            rows = self._db.execute(f"SELECT data FROM campaigns ORDER BY name{lock}").fetchall()
        else:
            rows = self._db.execute(
                f"SELECT data FROM campaigns WHERE name = ANY(%b) ORDER BY name{lock}",
                (list(names),),
            ).fetchall()
        found = (decoded(Campaign.from_json, r[0]) for r in rows)
        return {c.name: c for c in sorted(found, key=lambda c: c.name)}

    def campaign_names(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM campaigns ORDER BY name")]

    def claim(self, name: str) -> Campaign | None:
        row = self._db.execute(
            "SELECT data FROM campaigns WHERE name = %s FOR UPDATE SKIP LOCKED", (name,)
        ).fetchone()
        return decoded(Campaign.from_json, row[0]) if row else None

    def put_campaigns(self, rows: Sequence[tuple[Campaign, str | None]]) -> None:
        """Two statements for a batch (new rows, moved rows), each row's etag checked in them."""
        self._turn()
        names = [campaign.name for campaign, _ in rows]
        if len(set(names)) < len(names):  # a campaign twice: each write sees the one before
            for row in rows:
                self._put_campaigns([row])
        else:
            self._put_campaigns(rows)

    def _put_campaigns(self, rows: Sequence[tuple[Campaign, str | None]]) -> None:
        written: set[str] = set()
        for new in (True, False):
            part = [(c, p) for c, p in rows if (p is None) is new]
            if not part:
                continue
            columns = [
                [c.name for c, _ in part],
                [c.etag for c, _ in part],
                [canonical_json(c.to_json()) for c, _ in part],
            ]
            if new:
                found = self._db.execute(
                    # %b: the arrays are sent binary, with no quoting of each element to do
                    "INSERT INTO campaigns (name, etag, data) "
                    "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[]) "
                    "ON CONFLICT (name) DO NOTHING RETURNING name",
                    columns,
                ).fetchall()
            else:
                found = self._db.execute(
                    "UPDATE campaigns AS c SET etag = v.etag, data = v.data "
                    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[]) "
                    "AS v(name, etag, data, previous) "
                    "WHERE c.name = v.name AND c.etag = v.previous RETURNING c.name",
                    [*columns, [p for _, p in part]],
                ).fetchall()
            written |= {r[0] for r in found}
        for campaign, previous in rows:
            if campaign.name not in written:
                was = f"etag {previous}" if previous else "absent"
                raise ConflictError(
                    f"campaign {campaign.name!r} changed while it was being written ({was} "
                    "when read); nothing was written. Plan again"
                )

    def applied(self, keys: Sequence[str]) -> set[str]:
        self._turn()
        rows = self._db.execute("SELECT key FROM applied WHERE key = ANY(%b)", (list(keys),))
        return {r[0] for r in rows}

    def applied_with_prefix(self, prefix: str) -> frozenset[str]:
        self._turn()
        # the keys in [prefix, prefix with its last character incremented): an index range scan
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\U0010ffff"
        rows = self._db.execute(
            "SELECT key FROM applied WHERE key >= %s AND key < %s", (prefix, upper)
        ).fetchall()
        return frozenset(r[0] for r in rows)

    def put_applied(self, keys: Sequence[tuple[str, int]]) -> None:
        self._turn()
        with self._db.cursor() as cursor:
            cursor.executemany("INSERT INTO applied (key, revision) VALUES (%s, %s)", list(keys))

    def history(
        self, campaign: str | None = None, after: int = 0, limit: int | None = None
    ) -> list[HistoryEntry]:
        self._turn()
        query = f"SELECT seq, {HISTORY_COLUMNS} FROM history WHERE revision > %s"
        args: tuple[Any, ...] = (after,)
        if campaign is not None:
            query, args = query + " AND campaign = %s", (*args, campaign)
        query += " ORDER BY seq"
        if limit is not None:
            query, args = query + " LIMIT %s", (*args, limit)
        return [history_entry(r) for r in self._db.execute(query, args)]

    def append_history(self, entries: Sequence[HistoryEntry]) -> None:
        self._turn()
        # numbered here, not by a sequence: writers take turns, and a rolled-back write leaves
        # no gap (a sequence's numbers are not given back)
        row = self._db.execute("SELECT coalesce(max(seq), 0) FROM history").fetchone()
        last = int(row[0]) if row else 0
        with self._db.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO history (seq, {HISTORY_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(last + n, *history_row(e)) for n, e in enumerate(entries, start=1)],
            )

    def sendings(self, campaign: str | None = None) -> list[Sending]:
        self._turn()
        query = "SELECT data FROM sendings"
        args: tuple[str, ...] = ()
        if campaign is not None:
            query, args = query + " WHERE campaign = %s", (campaign,)
        rows = self._db.execute(query + " ORDER BY scheduled, campaign", args).fetchall()
        return [decoded(Sending.from_json, r[0]) for r in rows]

    def put_sendings(self, sendings: Sequence[Sending]) -> None:
        self._turn()
        with self._db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO sendings (id, campaign, scheduled, data) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET campaign = excluded.campaign, "
                "scheduled = excluded.scheduled, data = excluded.data",
                [sending_row(x) for x in sendings],
            )

    def segments(self) -> dict[str, int]:
        self._turn()
        return {r[0]: r[1] for r in self._db.execute("SELECT name, size FROM segments")}

    def set_segment(self, name: str, size: int) -> None:
        self._turn()
        self._db.execute(
            "INSERT INTO segments (name, size) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET size = excluded.size",
            (name, size),
        )

    def lock(self) -> LockInfo | None:
        self._turn()
        return lock_info(
            self._db.execute(f"SELECT {LOCK_COLUMNS} FROM lock WHERE id = 1").fetchone()
        )

    def put_lock(self, lock: LockInfo | None) -> None:
        self._turn()
        held = self._store._held
        owner = lock.holder.owner if lock is not None else None
        # this session stops vouching for the holders it held for, once the row names another
        self._released = [o for o in held if o != owner]
        if lock is None:
            self._db.execute("DELETE FROM lock WHERE id = 1")
            return
        self._db.execute(
            f"INSERT INTO lock (id, {LOCK_COLUMNS}) VALUES (1, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, "
            "host = excluded.host, reason = excluded.reason, acquired = excluded.acquired, "
            "expires = excluded.expires",
            lock_row(lock),
        )
        if lock.holder.owner not in held:
            # taken now, not at commit: between the two, another process would find it free
            key = _advisory_key(self._store._schema, lock.holder.owner)
            row = self._db.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if row and row[0]:
                held[lock.holder.owner] = key
                self._taken.append(lock.holder.owner)

    def tokens(self) -> list[tuple[TokenInfo, str]]:
        if not self._access:
            return []
        self._turn()
        rows = self._db.execute(f"SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY name").fetchall()
        return [(token_info(r), r[4]) for r in rows]

    def token_by_digest(self, digest: str) -> TokenInfo | None:
        if not self._access:
            return None
        # no turn taken: authenticating reads one row, and must not wait for a batch to commit
        query = f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE digest = %s"
        row = self._db.execute(query, (digest,)).fetchone()
        return token_info(row) if row else None

    def put_token(self, token: TokenInfo, digest: str) -> None:
        self._turn()
        self._db.execute(
            f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
            token_row(token, digest),
        )

    def delete_token(self, name: str) -> bool:
        self._turn()
        return self._db.execute("DELETE FROM tokens WHERE name = %s", (name,)).rowcount > 0

    def touch_token(self, name: str, at: str) -> None:
        # no turn taken: the row moves nothing else, and a request must not wait for an apply
        self._db.execute("UPDATE tokens SET last_used = %s WHERE name = %s", (at, name))

    def signing_keys(self) -> list[SigningKey]:
        if not self._access:
            return []
        self._turn()
        query = f"SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY id DESC"
        return [signing_key(r) for r in self._db.execute(query)]

    def put_signing_key(self, key: SigningKey) -> None:
        self._turn()
        self._db.execute(
            f"INSERT INTO signing_keys ({SIGNING_KEY_COLUMNS}) VALUES (%s, %s, %s) "
            "ON CONFLICT (secret) DO UPDATE SET retired = excluded.retired",
            signing_key_row(key),
        )

    # sessions and published plans take no turn: they move nothing else, and signing in or
    # publishing must not wait for an apply's batch to commit

    def session(self, digest: str) -> SessionInfo | None:
        if not self._dashboard:
            return None
        row = self._db.execute(SESSION_QUERY.format("%s"), (digest,)).fetchone()
        return session_info(row) if row else None

    def put_session(self, session: SessionInfo, digest: str) -> None:
        self._db.execute(
            f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
            session_row(session, digest),
        )

    def delete_session(self, digest: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE digest = %s", (digest,))

    def delete_sessions(self, *, token: str | None = None, expired: str | None = None) -> None:
        self._db.execute("DELETE FROM sessions WHERE token = %s OR expires <= %s", (token, expired))

    def published_plans(
        self, limit: int | None = None, *, open_only: bool = True
    ) -> list[PublishedPlan]:
        if not self._dashboard:
            return []
        query = PUBLISHED_QUERY + (OPEN_ONLY if open_only else "") + " ORDER BY p.id DESC LIMIT %s"
        return [published_plan(r) for r in self._db.execute(query, (limit,)).fetchall()]

    def published_plan(self, number: int) -> tuple[PublishedPlan, dict[str, Any]] | None:
        if not self._dashboard:
            return None
        row = self._db.execute(
            f"SELECT id, {PUBLISHED_COLUMNS}, data FROM published_plans WHERE id = %s", (number,)
        ).fetchone()
        return (published_plan(row), decoded(dict, row[6])) if row else None

    def put_published_plan(self, plan: PublishedPlan, data: Mapping[str, Any]) -> int:
        row = self._db.execute(
            f"INSERT INTO published_plans ({PUBLISHED_COLUMNS}, data) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            published_row(plan, data),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def committed(self) -> None:
        self._unlock(self._released)

    def rolled_back(self) -> None:
        self._unlock(self._taken)

    def _unlock(self, owners: list[str]) -> None:
        held = self._store._held
        for owner in owners:
            key = held.pop(owner, None)
            if key is None or self._db.closed or self._db.broken:
                continue
            with contextlib.suppress(psycopg.Error):  # gone, and its advisory locks with it
                self._db.execute("SELECT pg_advisory_unlock(%s)", (key,))
