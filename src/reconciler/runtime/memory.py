"""An in-process store for tests: ``memory://`` is new and empty, ``memory://NAME`` is shared by
every opener of that name in the process.

Its transactions hold one mutex, so there is one writer (and reader) at a time, and keep an undo
log: a transaction that raises leaves nothing behind, as a database's would.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.model import Campaign, Sending, canonical_json
from reconciler.runtime.access import SigningKey, TokenInfo
from reconciler.runtime.base import (
    HistoryEntry,
    LockInfo,
    LockOwner,
    PublishedPlan,
    SessionInfo,
)
from reconciler.runtime.store import Tx, alive_on_this_host


@dataclass
class Rows:
    """Every row of one memory runtime."""

    runtime_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    revision: int = 0
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    applied: dict[str, int] = field(default_factory=dict)
    lock: LockInfo | None = None
    sendings: dict[str, Sending] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    #: name -> the token and its digest
    tokens: dict[str, tuple[TokenInfo, str]] = field(default_factory=dict)
    #: secret -> key
    signing_keys: dict[str, SigningKey] = field(default_factory=dict)
    #: digest -> session (its role as made: read, it is its token's)
    sessions: dict[str, SessionInfo] = field(default_factory=dict)
    #: the published plans in the order published (the id of each is its place, from 1), each
    #: with its saved plan as JSON text, as a database would keep it
    published: list[tuple[PublishedPlan, str]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)


_NAMED: dict[str, Rows] = {}
_MISSING: Any = object()


class MemoryTx:
    def __init__(self, rows: Rows, write: bool) -> None:
        self._rows = rows
        self._write = write
        self._undo: list[Callable[[], None]] = []
        self.wrote = False

    def rollback(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    def _writing(self) -> None:
        assert self._write, "a reading transaction does not write"
        self.wrote = True

    def _put(self, table: MutableMapping[str, Any], key: str, value: Any) -> None:
        self._writing()
        old = table.get(key, _MISSING)
        if old is _MISSING:
            self._undo.append(lambda: table.pop(key, None))
        else:
            self._undo.append(lambda: table.__setitem__(key, old))
        table[key] = value

    def _set(self, name: str, value: Any) -> None:
        self._writing()
        old = getattr(self._rows, name)
        self._undo.append(lambda: setattr(self._rows, name, old))
        setattr(self._rows, name, value)

    def runtime_id(self) -> str | None:
        return self._rows.runtime_id

    def revision(self) -> int:
        return self._rows.revision

    def set_revision(self, revision: int) -> None:
        self._set("revision", revision)

    def campaigns(self, names: Sequence[str] | None = None) -> dict[str, Campaign]:
        found = self._rows.campaigns
        wanted = sorted(found) if names is None else sorted(set(names) & found.keys())
        return {name: found[name] for name in wanted}

    def campaign_names(self) -> list[str]:
        return sorted(self._rows.campaigns)

    def claim(self, name: str) -> Campaign | None:
        return self._rows.campaigns.get(name)

    def put_campaigns(self, rows: Sequence[tuple[Campaign, str | None]]) -> None:
        # one writer at a time, and the platform checked each etag in this transaction
        for campaign, _ in rows:
            self._put(self._rows.campaigns, campaign.name, _copy(campaign))

    def applied(self, keys: Sequence[str]) -> set[str]:
        return {key for key in keys if key in self._rows.applied}

    def applied_with_prefix(self, prefix: str) -> frozenset[str]:
        return frozenset(k for k in self._rows.applied if k.startswith(prefix))

    def put_applied(self, keys: Sequence[tuple[str, int]]) -> None:
        for key, revision in keys:
            self._put(self._rows.applied, key, revision)

    def history(
        self, campaign: str | None = None, after: int = 0, limit: int | None = None
    ) -> list[HistoryEntry]:
        found = (
            e for e in self._rows.history if campaign in (None, e.campaign) and e.revision > after
        )
        return list(itertools.islice(found, limit))

    def append_history(self, entries: Sequence[HistoryEntry]) -> None:
        self._writing()
        history = self._rows.history
        size = len(history)
        self._undo.append(lambda: history.__delitem__(slice(size, None)))
        for entry in entries:
            history.append(replace(entry, seq=len(history) + 1))

    def sendings(self, campaign: str | None = None) -> list[Sending]:
        found = [s for s in self._rows.sendings.values() if campaign in (None, s.campaign)]
        return sorted(found, key=lambda s: (s.scheduled, s.campaign))

    def put_sendings(self, sendings: Sequence[Sending]) -> None:
        for sending in sendings:
            self._put(self._rows.sendings, sending.id, sending)

    def segments(self) -> dict[str, int]:
        return dict(self._rows.segments)

    def set_segment(self, name: str, size: int) -> None:
        self._put(self._rows.segments, name, size)

    def lock(self) -> LockInfo | None:
        return self._rows.lock

    def put_lock(self, lock: LockInfo | None) -> None:
        self._set("lock", lock)

    def tokens(self) -> list[tuple[TokenInfo, str]]:
        return [self._rows.tokens[name] for name in sorted(self._rows.tokens)]

    def token_by_digest(self, digest: str) -> TokenInfo | None:
        return next((t for t, d in self._rows.tokens.values() if d == digest), None)

    def put_token(self, token: TokenInfo, digest: str) -> None:
        self._put(self._rows.tokens, token.name, (token, digest))

    def delete_token(self, name: str) -> bool:
        found = self._rows.tokens.get(name)
        if found is None:
            return False
        self._writing()
        self._undo.append(lambda: self._rows.tokens.__setitem__(name, found))
        del self._rows.tokens[name]
        return True

    def touch_token(self, name: str, at: str) -> None:
        found = self._rows.tokens.get(name)
        if found is not None:
            token, digest = found
            self._put(self._rows.tokens, name, (replace(token, last_used=at), digest))

    def signing_keys(self) -> list[SigningKey]:
        return list(reversed(self._rows.signing_keys.values()))  # kept in the order made

    def put_signing_key(self, key: SigningKey) -> None:
        self._put(self._rows.signing_keys, key.secret, key)

    def session(self, digest: str) -> SessionInfo | None:
        found = self._rows.sessions.get(digest)
        token = self._rows.tokens.get(found.token) if found is not None else None
        if found is None or token is None:
            return None
        return replace(found, role=token[0].role)

    def put_session(self, session: SessionInfo, digest: str) -> None:
        self._put(self._rows.sessions, digest, session)

    def _delete(self, table: MutableMapping[str, Any], key: str) -> None:
        if key not in table:
            return
        self._writing()
        old = table.pop(key)
        self._undo.append(lambda: table.__setitem__(key, old))

    def delete_session(self, digest: str) -> None:
        self._delete(self._rows.sessions, digest)

    def delete_sessions(self, *, token: str | None = None, expired: str | None = None) -> None:
        for digest, s in list(self._rows.sessions.items()):
            if s.token == token or (expired is not None and s.expires <= expired):
                self._delete(self._rows.sessions, digest)

    def published_plans(
        self, limit: int | None = None, *, open_only: bool = True
    ) -> list[PublishedPlan]:
        plans = [plan for plan, _ in reversed(self._rows.published)]
        if open_only:
            latest: dict[str, int] = {}
            for plan in plans:
                if plan.ref is not None:
                    latest.setdefault(plan.ref, plan.id)
            plans = [p for p in plans if p.ref is None or latest[p.ref] == p.id]
        return plans[:limit]

    def published_plan(self, number: int) -> tuple[PublishedPlan, dict[str, Any]] | None:
        if not 1 <= number <= len(self._rows.published):
            return None
        plan, data = self._rows.published[number - 1]
        return plan, json.loads(data)

    def put_published_plan(self, plan: PublishedPlan, data: Mapping[str, Any]) -> int:
        self._writing()
        published = self._rows.published
        size = len(published)
        self._undo.append(lambda: published.__delitem__(slice(size, None)))
        published.append((replace(plan, id=size + 1), canonical_json(data)))
        return size + 1


class MemoryStore:
    def __init__(self, url: str) -> None:
        self.url = url
        name = url.removeprefix("memory://")
        self.rows = _NAMED.setdefault(name, Rows()) if name else Rows()

    @contextmanager
    def transaction(self, *, write: bool, create: bool = True) -> Iterator[Tx]:
        with self.rows.changed:
            tx = MemoryTx(self.rows, write)
            try:
                yield tx
            except BaseException:
                tx.rollback()
                raise
            if tx.wrote:
                self.rows.changed.notify_all()

    def holder_alive(self, holder: LockOwner, asking: LockOwner) -> bool:
        return alive_on_this_host(holder, asking)

    def wait_for_change(self, since: int, timeout: float) -> None:
        with self.rows.changed:
            self.rows.changed.wait_for(lambda: self.rows.revision > since, timeout)

    def close(self) -> None:
        pass


def _copy(campaign: Campaign) -> Campaign:
    """A copy sharing no spec with the caller, as a real store would hold it."""
    return Campaign.from_json(json.loads(json.dumps(campaign.to_json())))
