"""What a store does: keep the runtime's rows, in transactions, and nothing else.

Every rule (what an operation does, etags, fencing, lock arbitration, the engine, the history and
the revision) lives once in ``platform.py``, which reads and writes rows through a :class:`Tx`.
A store opens transactions and moves rows in and out of them: it never decides anything, so a rule
cannot differ between stores (kopf's diffbase storages have the same shape: the logic in the base,
``fetch``/``store`` in each backend).

A write transaction is the unit of durability: all of its rows land, or none. A store that can
take row locks (PostgreSQL: ``SELECT ... FOR UPDATE``) takes them in :meth:`Tx.claim` and on the
revision row; one with a single writer at a time (SQLite, memory) needs nothing more.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

import orjson

from reconciler.model import Campaign, Sending, canonical_json
from reconciler.runtime.access import Role, SigningKey, TokenInfo
from reconciler.runtime.base import (
    HistoryEntry,
    LockInfo,
    LockOwner,
    PublishedPlan,
    SessionInfo,
)


class Tx(Protocol):
    """One transaction's rows. Reads see the writes made before them in the same transaction."""

    def runtime_id(self) -> str | None: ...

    def revision(self) -> int:
        """The revision of the last write committed (0 for a new runtime)."""

    def set_revision(self, revision: int) -> None: ...

    def campaigns(self, names: Sequence[str] | None = None) -> dict[str, Campaign]:
        """The campaigns named (every campaign when None) that exist, by name, in name order."""

    def campaign_names(self) -> list[str]:
        """Every campaign's name, in order."""

    def claim(self, name: str) -> Campaign | None:
        """One campaign, to be written in this transaction; None when it is not there, or when
        another transaction holds it (a store that can tell: PostgreSQL's ``SKIP LOCKED``, so
        engine workers on several machines advance disjoint campaigns)."""

    def put_campaigns(self, rows: Sequence[tuple[Campaign, str | None]]) -> None:
        """Write each campaign's row (its etag with it), in order, each with the etag its row has
        until then (None: there is no row yet).

        The platform has checked every etag against rows read in this transaction. A store whose
        write transactions exclude every other writer (SQLite, memory) needs no more; one that
        does not lock the rows it read checks the etag in the statement (``UPDATE ... WHERE etag
        = ...``) and raises :class:`~reconciler.errors.ConflictError` when a row moved.
        """

    def applied(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` were applied already."""

    def applied_with_prefix(self, prefix: str) -> frozenset[str]: ...

    def put_applied(self, keys: Sequence[tuple[str, int]]) -> None:
        """Record idempotency keys, each with the revision that applied it."""

    def history(
        self, campaign: str | None = None, after: int = 0, limit: int | None = None
    ) -> list[HistoryEntry]:
        """The history, oldest first; of one campaign when named; only the entries of revisions
        after ``after``; the first ``limit`` of them when given (a page)."""

    def append_history(self, entries: Sequence[HistoryEntry]) -> None:
        """Append entries in order; the store numbers them (``seq`` as given is ignored)."""

    def sendings(self, campaign: str | None = None) -> list[Sending]:
        """Sendings by slot, then campaign; of one campaign when named."""

    def put_sendings(self, sendings: Sequence[Sending]) -> None:
        """Insert or replace each sending, by id."""

    def segments(self) -> dict[str, int]: ...

    def set_segment(self, name: str, size: int) -> None: ...

    def lock(self) -> LockInfo | None:
        """The lock row: who holds the runtime's lock, since when, until when."""

    def put_lock(self, lock: LockInfo | None) -> None:
        """Replace the lock row (None: remove it)."""

    # tokens and signing keys are the service's, not campaign state: writing them moves no
    # revision, appends no history, and wakes no change feed

    def tokens(self) -> list[tuple[TokenInfo, str]]:
        """Every token with its digest, by name."""

    def token_by_digest(self, digest: str) -> TokenInfo | None: ...

    def put_token(self, token: TokenInfo, digest: str) -> None:
        """Add a token (the platform has checked that its name is free)."""

    def delete_token(self, name: str) -> bool:
        """Remove a token; whether there was one."""

    def touch_token(self, name: str, at: str) -> None:
        """Record that the token was used ``at`` (nothing, if it is gone). A store that takes
        turns between writers need not take one for this: it moves nothing else."""

    def signing_keys(self) -> list[SigningKey]:
        """Every plan signing key kept, newest first."""

    def put_signing_key(self, key: SigningKey) -> None:
        """Insert or replace a key, by its secret (retiring one is putting it again)."""

    # the dashboard's sessions and published plans are the service's too: as tokens, they move
    # no revision. A store that takes turns between writers need not take one for them

    def session(self, digest: str) -> SessionInfo | None:
        """The session whose secret has this digest, with the role of its token (expired or
        not: the platform tells); None when there is none, or its token is gone."""

    def put_session(self, session: SessionInfo, digest: str) -> None:
        """Add a session (its digest is new: 256 random bits)."""

    def delete_session(self, digest: str) -> None: ...

    def delete_sessions(self, *, token: str | None = None, expired: str | None = None) -> None:
        """Remove every session of the token named ``token``, or every one that expired at
        ``expired`` or before."""

    def published_plans(
        self, limit: int | None = None, *, open_only: bool = True
    ) -> list[PublishedPlan]:
        """Published plans, newest first, the first ``limit`` of them when given; ``open_only``:
        only the latest of each ref, and those without one."""

    def published_plan(self, number: int) -> tuple[PublishedPlan, dict[str, Any]] | None:
        """A published plan and its saved plan, by its id (None: no such plan)."""

    def put_published_plan(self, plan: PublishedPlan, data: Mapping[str, Any]) -> int:
        """Add a published plan with its saved plan; the store numbers it (its ``id`` as given
        is ignored, as a history entry's ``seq`` is): its id."""


class Store(Protocol):
    url: str

    def transaction(self, *, write: bool, create: bool = True) -> AbstractContextManager[Tx]:
        """A transaction, committed when the block ends, rolled back when it raises.

        A reading transaction sees one consistent state. A store that does not exist yet reads
        as empty (:data:`EMPTY`) and is made by the first writing transaction, unless ``create``
        is false (then that one reads as empty too, and must not write). The store's own errors
        leave it as :class:`~reconciler.errors.RuntimeBackendError`: unavailable or refused.
        """

    def holder_alive(self, holder: LockOwner, asking: LockOwner) -> bool:
        """Whether the lock's holder still runs, as far as ``asking`` can tell: a holder found
        dead has its lock taken over at once. :func:`alive_on_this_host` is the default; a store
        that ties the lock to its holder's session answers from the session."""

    def wait_for_change(self, since: int, timeout: float) -> None:
        """Return once the revision may have passed ``since``, or after ``timeout`` seconds
        (polling, or a notification where the store has them)."""

    def close(self) -> None: ...


class Damaged(Exception):
    """A stored value this reconciler cannot read: the store was damaged, or written by hand. Each
    store turns it into a refusal naming itself (retrying will not mend it)."""


T = TypeVar("T")


def decoded(build: Callable[[Any], T], stored: Any, *, parse: bool = True) -> T:
    """A stored value, read (JSON, when ``parse``) and built; what cannot be is Damaged. orjson
    reads it: a snapshot of 100,000 campaigns is 100,000 rows of JSON."""
    try:
        return build(orjson.loads(stored) if parse else stored)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Damaged(f"{type(exc).__name__}: {exc}") from exc


# --- rows as every SQL store keeps them: the columns, and the values in and out ---------------

#: the history table's columns, in the order :func:`history_row` gives and :func:`history_entry`
#: takes them (after ``seq``, which each store numbers its own way)
HISTORY_COLUMNS = (
    "revision, at, actor, git_commit, plan_id, operation, campaign, before, after, file, dirty"
)
#: the lock table's columns (beside its one ``id``), in the order of :func:`lock_row`
LOCK_COLUMNS = "owner, pid, host, reason, acquired, expires"


def history_row(e: HistoryEntry) -> tuple[Any, ...]:
    """An entry as HISTORY_COLUMNS hold it."""
    return (
        e.revision,
        e.at,
        e.actor,
        e.commit,
        e.plan_id,
        e.operation,
        e.campaign,
        canonical_json(e.before) if e.before is not None else None,
        canonical_json(e.after) if e.after is not None else None,
        e.file,
        e.dirty,
    )


def history_entry(row: Sequence[Any]) -> HistoryEntry:
    """An entry from ``seq`` and HISTORY_COLUMNS."""
    return HistoryEntry(
        seq=row[0],
        revision=row[1],
        at=row[2],
        actor=row[3],
        commit=row[4],
        plan_id=row[5],
        operation=row[6],
        campaign=row[7],
        before=decoded(dict, row[8]) if row[8] else None,
        after=decoded(dict, row[9]) if row[9] else None,
        file=row[10],
        dirty=bool(row[11]),
    )


def sending_row(x: Sending) -> tuple[str, str, str, str]:
    """A sending as a store keeps it: id, campaign, slot (to select and order by), the whole."""
    return (x.id, x.campaign, x.scheduled, canonical_json(x.to_json()))


def lock_row(lock: LockInfo) -> tuple[Any, ...]:
    """The lock as LOCK_COLUMNS hold it."""
    holder = lock.holder
    return (holder.owner, holder.pid, holder.host, holder.reason, lock.acquired, lock.expires)


def lock_info(row: Sequence[Any] | None) -> LockInfo | None:
    """The lock from LOCK_COLUMNS (None: no row, no lock)."""
    if row is None:
        return None
    holder = LockOwner(owner=row[0], pid=row[1], host=row[2], reason=row[3])
    return LockInfo(holder=holder, acquired=row[4], expires=row[5])


#: the tokens table's columns, in the order of :func:`token_row`
TOKEN_COLUMNS = "name, role, created, last_used, digest"
#: the signing keys table's columns, in the order of :func:`signing_key_row`
SIGNING_KEY_COLUMNS = "secret, created, retired"


def token_row(token: TokenInfo, digest: str) -> tuple[str, str, str, str | None, str]:
    """A token as TOKEN_COLUMNS hold it."""
    return (token.name, token.role.value, token.created, token.last_used, digest)


def token_info(row: Sequence[Any]) -> TokenInfo:
    """A token from the first four of TOKEN_COLUMNS."""
    return decoded(lambda r: TokenInfo(r[0], Role(r[1]), r[2], r[3]), row, parse=False)


def signing_key_row(key: SigningKey) -> tuple[str, str, str | None]:
    """A key as SIGNING_KEY_COLUMNS hold it."""
    return (key.secret, key.created, key.retired)


def signing_key(row: Sequence[Any]) -> SigningKey:
    """A key from SIGNING_KEY_COLUMNS."""
    return SigningKey(secret=row[0], created=row[1], retired=row[2])


#: the sessions table's columns, in the order of :func:`session_row`
SESSION_COLUMNS = "digest, token, csrf, created, expires"
#: what a session is read with: its columns and its token's role (a session whose token is gone
#: is not found), for :func:`session_info`; the digest is the only parameter
SESSION_QUERY = (
    "SELECT s.token, t.role, s.csrf, s.created, s.expires FROM sessions AS s "
    "JOIN tokens AS t ON t.name = s.token WHERE s.digest = {}"
)
#: the published plans table's columns (beside its ``id`` and ``data``), in the order of
#: :func:`published_row`
PUBLISHED_COLUMNS = "plan_id, ref, published_at, published_by, summary"
#: the published plans, newest first, and only the open ones when the WHERE clause is used: the
#: latest of each ref, and each without one
PUBLISHED_QUERY = f"SELECT id, {PUBLISHED_COLUMNS} FROM published_plans AS p"
OPEN_ONLY = (
    " WHERE p.ref IS NULL"
    " OR p.id = (SELECT max(q.id) FROM published_plans AS q WHERE q.ref = p.ref)"
)


def session_row(session: SessionInfo, digest: str) -> tuple[str, str, str, str, str]:
    """A session as SESSION_COLUMNS hold it (its role is its token's)."""
    return (digest, session.token, session.csrf, session.created, session.expires)


def session_info(row: Sequence[Any]) -> SessionInfo:
    """A session from SESSION_QUERY's row."""
    return decoded(lambda r: SessionInfo(r[0], Role(r[1]), r[2], r[3], r[4]), row, parse=False)


def published_row(plan: PublishedPlan, data: Mapping[str, Any]) -> tuple[Any, ...]:
    """A published plan as PUBLISHED_COLUMNS hold it, and its saved plan after them."""
    summary = canonical_json(dict(plan.summary))
    return (
        plan.plan_id,
        plan.ref,
        plan.published_at,
        plan.published_by,
        summary,
        canonical_json(data),
    )


def published_plan(row: Sequence[Any]) -> PublishedPlan:
    """A published plan from ``id`` and PUBLISHED_COLUMNS."""

    def build(r: Sequence[Any]) -> PublishedPlan:
        summary = orjson.loads(r[5])
        return PublishedPlan(
            int(r[0]), r[1], r[2], r[3], r[4], {str(k): int(v) for k, v in summary.items()}
        )

    return decoded(build, row, parse=False)


def alive_on_this_host(holder: LockOwner, asking: LockOwner) -> bool:
    """A holder on another host is taken to live (its pid means nothing here); on this host, it
    lives while its process does."""
    if holder.host != asking.host:
        return True
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class _Empty:
    """The rows of a runtime that does not exist yet: nothing. It is never written to."""

    def runtime_id(self) -> str | None:
        return None

    def revision(self) -> int:
        return 0

    def set_revision(self, revision: int) -> None:
        raise AssertionError("a runtime that does not exist is not written to")

    def campaigns(self, names: Sequence[str] | None = None) -> dict[str, Campaign]:
        return {}

    def campaign_names(self) -> list[str]:
        return []

    def claim(self, name: str) -> Campaign | None:
        return None

    def put_campaigns(self, rows: Sequence[tuple[Campaign, str | None]]) -> None:
        self.set_revision(0)

    def applied(self, keys: Sequence[str]) -> set[str]:
        return set()

    def applied_with_prefix(self, prefix: str) -> frozenset[str]:
        return frozenset()

    def put_applied(self, keys: Sequence[tuple[str, int]]) -> None:
        self.set_revision(0)

    def history(
        self, campaign: str | None = None, after: int = 0, limit: int | None = None
    ) -> list[HistoryEntry]:
        return []

    def append_history(self, entries: Sequence[HistoryEntry]) -> None:
        self.set_revision(0)

    def sendings(self, campaign: str | None = None) -> list[Sending]:
        return []

    def put_sendings(self, sendings: Sequence[Sending]) -> None:
        self.set_revision(0)

    def segments(self) -> dict[str, int]:
        return {}

    def set_segment(self, name: str, size: int) -> None:
        self.set_revision(0)

    def lock(self) -> LockInfo | None:
        return None

    def put_lock(self, lock: LockInfo | None) -> None:
        if lock is not None:
            self.set_revision(0)

    def tokens(self) -> list[tuple[TokenInfo, str]]:
        return []

    def token_by_digest(self, digest: str) -> TokenInfo | None:
        return None

    def put_token(self, token: TokenInfo, digest: str) -> None:
        self.set_revision(0)

    def delete_token(self, name: str) -> bool:
        return False

    def touch_token(self, name: str, at: str) -> None:
        pass  # no token to touch

    def signing_keys(self) -> list[SigningKey]:
        return []

    def put_signing_key(self, key: SigningKey) -> None:
        self.set_revision(0)

    def session(self, digest: str) -> SessionInfo | None:
        return None

    def put_session(self, session: SessionInfo, digest: str) -> None:
        self.set_revision(0)

    def delete_session(self, digest: str) -> None:
        pass  # no session to end

    def delete_sessions(self, *, token: str | None = None, expired: str | None = None) -> None:
        pass

    def published_plans(
        self, limit: int | None = None, *, open_only: bool = True
    ) -> list[PublishedPlan]:
        return []

    def published_plan(self, number: int) -> tuple[PublishedPlan, dict[str, Any]] | None:
        return None

    def put_published_plan(self, plan: PublishedPlan, data: Mapping[str, Any]) -> int:
        self.set_revision(0)
        return 0


#: the transaction of a store that does not exist yet
EMPTY: Tx = _Empty()
