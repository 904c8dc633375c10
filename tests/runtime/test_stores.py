"""The store contract, under the platform: every store keeps rows in transactions that land whole
or not at all, and reads see the writes made before them in the same transaction. Run over every
backend (``backends.BACKENDS``), through the store the registry puts under each platform."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backends import STORE_BACKENDS, backend_url
from reconciler.errors import ConflictError
from reconciler.model import Action
from reconciler.runtime.base import HistoryEntry, LockInfo, LockOwner, Provenance, Write
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime
from reconciler.runtime.store import Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SPEC = {"channel": "in-app", "content": {"title": "Hi", "body": "There"}}
CI = LockOwner(owner="ci@runner-1:101", pid=101, host="runner-1", reason="apply campaigns")

#: the store's own rows: over every store (not a service in front of one); see conftest.py
BACKENDS_HERE = STORE_BACKENDS


@pytest.fixture
def platform(backend: str, tmp_path: Path) -> Iterator[Platform]:
    with open_runtime(backend_url(backend, tmp_path, label="stores"), clock=lambda: NOW) as rt:
        assert isinstance(rt, Platform)
        rt.apply(
            Write(
                key="k/alpha",
                action=Action.ACTIVATE,
                campaign="alpha",
                expected_etag=None,
                provenance=Provenance("alice"),
                spec=SPEC,
            )
        )
        yield rt


@pytest.fixture
def store(platform: Platform) -> Store:
    return platform.store


def rows(store: Store) -> tuple[object, ...]:
    with store.transaction(write=False) as tx:
        return (
            tx.revision(),
            tx.campaigns(),
            tx.history(),
            tx.applied_with_prefix(""),
            tx.lock(),
            tx.sendings(),
            tx.segments(),
        )


def test_a_transaction_that_raises_leaves_nothing(store: Store) -> None:
    before = rows(store)
    with pytest.raises(ConflictError), store.transaction(write=True) as tx:
        (alpha,) = tx.campaigns(["alpha"]).values()
        tx.put_campaigns([(alpha, alpha.etag)])
        entry = HistoryEntry(0, 2, "t", "bob", None, None, "edit", "alpha", None, None)
        tx.append_history([entry, entry])
        tx.put_applied([("k/beta", 2)])
        tx.put_lock(LockInfo(CI, "2026-06-01T12:00:00.000Z", "2026-06-01T12:05:00.000Z"))
        tx.set_segment("newsletter", 5)
        tx.set_revision(2)
        raise ConflictError("the platform refused it after all")
    assert rows(store) == before


def test_reads_see_the_writes_before_them_in_the_transaction(store: Store) -> None:
    with store.transaction(write=True) as tx:
        tx.set_revision(7)
        tx.set_segment("vip", 3)
        lock = LockInfo(CI, "2026-06-01T12:00:00.000Z", "2026-06-01T12:05:00.000Z")
        tx.put_lock(lock)
        entry = HistoryEntry(0, 7, "t", "bob", None, None, "edit", "alpha", None, None)
        tx.append_history([entry])
        assert (tx.revision(), tx.segments(), tx.lock()) == (7, {"vip": 3}, lock)
        assert [(e.seq, e.actor) for e in tx.history("alpha")] == [(1, "alice"), (2, "bob")]
        tx.put_lock(None)
        assert tx.lock() is None
    assert rows(store)[0] == 7


def test_campaigns_by_name_and_claim(store: Store) -> None:
    with store.transaction(write=True) as tx:
        assert list(tx.campaigns(["zeta", "alpha"])) == ["alpha"]
        assert tx.campaign_names() == ["alpha"]
        claimed = tx.claim("alpha")
        assert claimed is not None and claimed.etag == "1"
        assert tx.claim("zeta") is None
        assert tx.applied(["k/alpha", "k/zeta"]) == {"k/alpha"}


def test_history_is_read_a_page_at_a_time(backend: str, tmp_path: Path) -> None:
    url = backend_url(backend, tmp_path, label="page")
    with open_runtime(url, clock=lambda: NOW) as rt:
        assert isinstance(rt, Platform)
        for name in ("a", "b", "c", "d"):
            rt.apply(Write(f"k/{name}", Action.CREATE, name, None, Provenance("alice"), spec=SPEC))
        assert [e.campaign for e in rt.history(after=1, limit=2)] == ["b", "c"]
        assert [e.campaign for e in rt.history(after=3, limit=2)] == ["d"]
        assert [e.campaign for e in rt.history("c", limit=1)] == ["c"]
        assert rt.history(after=4, limit=2) == []
