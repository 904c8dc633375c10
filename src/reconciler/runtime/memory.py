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
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.model import Campaign, Sending
from reconciler.runtime.access import SigningKey, TokenInfo
from reconciler.runtime.base import HistoryEntry, LockInfo, LockOwner
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
