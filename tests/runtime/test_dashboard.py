"""What the dashboard keeps in the store, over every store (``backends.STORE_BACKENDS``): sessions
(only their digests kept; ended by expiry, by signing out and by revoking their token) and the plans
published to it (the latest of each ref open). None of it is campaign state: no revision, no
history, no change feed. Then migrations between stores and the schema steps that made the
tables."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backends import STORE_BACKENDS, backend_url, drop_postgresql_schemas, postgresql_url
from factories import FakeClock
from probes import probe
from reconciler import api
from reconciler.errors import ForbiddenError, RefusedError
from reconciler.model import Action
from reconciler.plan import Plan
from reconciler.runtime import sqlite
from reconciler.runtime.access import Role
from reconciler.runtime.base import Provenance, PublishedPlan, SessionInfo, Write
from reconciler.runtime.memory import MemoryStore
from reconciler.runtime.migrate import migrate
from reconciler.runtime.platform import Platform, session_digest
from reconciler.runtime.registry import open_runtime

STAMP = "2026-06-01T12:00:00.000Z"
LATER = "2026-06-02T00:00:00.000Z"  # twelve hours on
SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
SPEC = {"channel": "in-app", "content": {"title": "Hi", "body": "There"}}

#: the store's own rows: over every store (not a service in front of one); see conftest.py
BACKENDS_HERE = STORE_BACKENDS


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rt(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    """A runtime with one campaign written: a revision and a history to keep still."""
    with open_runtime(backend_url(backend, tmp_path, label="dashboard"), clock=clock) as runtime:
        assert isinstance(runtime, Platform)
        runtime.apply(
            Write("k/alpha", Action.ACTIVATE, "alpha", None, Provenance("alice"), spec=SPEC)
        )
        yield runtime


def campaign_state(rt: Platform) -> tuple[object, ...]:
    return rt.revision(), rt.snapshot(), rt.history()


def raw_sessions(rt: Platform) -> list[tuple[Any, ...]]:
    """Every column of every session row, as the store keeps it."""
    if isinstance(rt.store, MemoryStore):
        return sorted(
            (d, s.token, s.csrf, s.created, s.expires) for d, s in rt.store.rows.sessions.items()
        )
    reader = probe("sqlite" if rt.url.startswith("sqlite") else "postgresql", rt.url)
    try:
        query = "SELECT digest, token, csrf, created, expires FROM sessions ORDER BY digest"
        return [tuple(r) for r in reader.rows(query) or []]
    finally:
        reader.close()


# --- sessions -----------------------------------------------------------------------------------


def test_a_session_is_started_for_a_token_and_only_its_digest_is_kept(rt: Platform) -> None:
    rt.create_token("ann", Role.APPROVER)
    before = campaign_state(rt)
    secret, session = rt.start_session("ann")
    assert SECRET.fullmatch(secret) and SECRET.fullmatch(session.csrf)
    assert secret != session.csrf
    assert session == SessionInfo("ann", Role.APPROVER, session.csrf, STAMP, LATER)
    assert rt.session(secret) == session
    digest = "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
    assert session_digest(secret) == digest
    assert raw_sessions(rt) == [(digest, "ann", session.csrf, STAMP, LATER)]
    assert campaign_state(rt) == before  # no revision, no history


def test_each_session_is_its_own(rt: Platform) -> None:
    rt.create_token("ann", Role.VIEWER)
    first, one = rt.start_session("ann")
    second, other = rt.start_session("ann", lifetime=timedelta(minutes=5))
    assert first != second and one.csrf != other.csrf
    assert other.expires == "2026-06-01T12:05:00.000Z"
    assert (rt.session(first), rt.session(second)) == (one, other)


def test_a_session_of_a_token_that_does_not_exist_is_refused(rt: Platform) -> None:
    with pytest.raises(RefusedError) as caught:
        rt.start_session("nobody")
    assert str(caught.value) == "no token named 'nobody'"
    assert raw_sessions(rt) == []


@pytest.mark.parametrize(
    "secret",
    ["", "x", "A" * 43, "A" * 10_000, "\udcff"],
    ids=["empty", "short", "unknown", "long", "surrogate"],
)
def test_what_is_no_session_finds_none(rt: Platform, secret: str) -> None:
    rt.create_token("ann", Role.VIEWER)
    rt.start_session("ann")
    assert rt.session(secret) is None
    rt.end_session(secret)  # nothing to end
    assert len(raw_sessions(rt)) == 1


def test_a_session_expires_and_its_row_goes_when_it_is_met(rt: Platform, clock: FakeClock) -> None:
    rt.create_token("ann", Role.VIEWER)
    secret, session = rt.start_session("ann", lifetime=timedelta(minutes=1))
    clock.advance(59.999)
    assert rt.session(secret) == session
    clock.advance(0.001)  # at its expiry: over
    assert rt.session(secret) is None
    assert raw_sessions(rt) == []


def test_starting_a_session_removes_those_that_expired(rt: Platform, clock: FakeClock) -> None:
    rt.create_token("ann", Role.VIEWER)
    rt.start_session("ann", lifetime=timedelta(minutes=1))
    kept, _ = rt.start_session("ann", lifetime=timedelta(hours=1))
    clock.advance(120)
    secret, _ = rt.start_session("ann")
    assert sorted(r[0] for r in raw_sessions(rt)) == sorted(
        [session_digest(kept), session_digest(secret)]
    )


def test_signing_out_ends_the_session_alone(rt: Platform) -> None:
    rt.create_token("ann", Role.VIEWER)
    gone, _ = rt.start_session("ann")
    kept, session = rt.start_session("ann")
    rt.end_session(gone)
    assert (rt.session(gone), rt.session(kept)) == (None, session)
    rt.end_session(gone)  # again: nothing
    assert len(raw_sessions(rt)) == 1


def test_revoking_a_token_ends_its_sessions_and_no_other(rt: Platform) -> None:
    rt.create_token("ann", Role.VIEWER)
    rt.create_token("bob", Role.MANAGER)
    anns = [rt.start_session("ann")[0] for _ in range(2)]
    bobs, session = rt.start_session("bob")
    rt.revoke_token("ann")
    assert [rt.session(s) for s in anns] == [None, None]
    assert rt.session(bobs) == session
    assert [r[1] for r in raw_sessions(rt)] == ["bob"]
    rt.create_token("ann", Role.ADMINISTRATOR)  # the name given again: no session comes back
    assert [rt.session(s) for s in anns] == [None, None]


def test_a_session_whose_token_row_is_gone_is_no_session(rt: Platform) -> None:
    """The token is joined on every lookup: a token removed by any means ends its sessions."""
    rt.create_token("ann", Role.VIEWER)
    secret, _ = rt.start_session("ann")
    with rt.store.transaction(write=True) as tx:
        assert tx.delete_token("ann")  # as a store's row would go, without revoke_token
    assert rt.session(secret) is None


# --- published plans ----------------------------------------------------------------------------


def saved(revision: int, commit: str | None = None) -> dict[str, Any]:
    """A saved plan's JSON, a different one for each revision."""
    return Plan(
        runtime="memory://", runtime_id=None, runtime_revision=revision, commit=commit
    ).to_json()


def test_a_plan_is_published_with_its_saved_plan(rt: Platform) -> None:
    before = campaign_state(rt)
    data = saved(1, "abc")
    published = rt.publish_plan(data, "pr-7", "ann")
    summary = dict.fromkeys(["create", "activate", "update", "replace", "discard"], 0)
    assert published.id >= 1
    assert published == PublishedPlan(
        published.id, data["plan_id"], "pr-7", STAMP, "ann", published.summary
    )
    assert published.summary == data["summary"] and set(summary) <= set(published.summary)
    assert rt.published_plan(published.id) == (published, data)
    assert rt.published_plans() == [published]
    assert campaign_state(rt) == before


def test_the_open_plans_are_the_latest_of_each_ref_newest_first(
    rt: Platform, clock: FakeClock
) -> None:
    def publish(revision: int, ref: str | None) -> PublishedPlan:
        clock.advance(1)
        return rt.publish_plan(saved(revision), ref, "ci")

    first_of_7 = publish(1, "pr-7")
    alone = publish(2, None)
    of_8 = publish(3, "pr-8")
    latest_of_7 = publish(4, "pr-7")
    also_alone = publish(5, None)
    same_again = publish(4, None)  # the same plan, again, alone: a plan of its own
    assert [p.id for p in rt.published_plans()] == [
        same_again.id,
        also_alone.id,
        latest_of_7.id,
        of_8.id,
        alone.id,
    ]
    assert [p.id for p in rt.published_plans(limit=2)] == [same_again.id, also_alone.id]
    assert rt.published_plans(limit=0) == []
    # a plan superseded is still there, by its id
    found = rt.published_plan(first_of_7.id)
    assert found is not None and found[0] == first_of_7
    assert latest_of_7.published_at == "2026-06-01T12:00:04.000Z"


def test_the_same_plan_published_again_under_its_ref_is_the_one_kept(
    rt: Platform, clock: FakeClock
) -> None:
    """A client's retry (the service answered, the answer was lost) stores nothing twice; the
    plan published again after another one superseded it is the ref's latest again."""
    first = rt.publish_plan(saved(1), "pr-7", "ci")
    clock.advance(1)
    assert rt.publish_plan(saved(1), "pr-7", "ci") == first
    assert rt.published_plans() == [first]
    clock.advance(1)
    other = rt.publish_plan(saved(2), "pr-7", "ci")
    clock.advance(1)
    again = rt.publish_plan(saved(1), "pr-7", "ci")
    assert again.id not in (first.id, other.id)
    assert rt.published_plans() == [again]


@pytest.mark.parametrize("number", [0, -1, 99, 2**63, 2**70])
def test_a_plan_not_published_is_none(rt: Platform, number: int) -> None:
    rt.publish_plan(saved(1), None, "ci")
    assert rt.published_plan(number) is None


def test_a_runtime_not_made_yet_has_no_plans_and_no_sessions(backend: str, tmp_path: Path) -> None:
    with open_runtime(backend_url(backend, tmp_path, label="empty")) as empty:
        assert isinstance(empty, Platform)
        assert (empty.published_plans(), empty.published_plan(1), empty.session("x" * 43)) == (
            [],
            None,
            None,
        )
        empty.end_session("x" * 43)
        with pytest.raises(RefusedError, match="no token named 'ann'"):
            empty.start_session("ann")


# --- between stores, and schema versions --------------------------------------------------------


def test_a_migration_copies_published_plans_and_not_sessions(
    rt: Platform, tmp_path: Path, clock: FakeClock
) -> None:
    rt.create_token("ann", Role.VIEWER)
    secret, _ = rt.start_session("ann")
    plans = [rt.publish_plan(saved(n), ref, "ci") for n, ref in [(1, "a"), (2, "a"), (3, None)]]
    with open_runtime(f"sqlite:///{tmp_path}/copy.db", clock=clock) as copy:
        assert isinstance(copy, Platform)
        copied = migrate(rt.store, copy.store)
        assert copied.published_plans == 3
        assert copy.session(secret) is None
        assert copy.published_plans() == [plans[2], plans[1]]
        assert copy.published_plan(plans[0].id) == rt.published_plan(plans[0].id)


def test_a_runtime_with_a_published_plan_is_not_empty_for_a_migration(
    rt: Platform, tmp_path: Path
) -> None:
    with open_runtime(f"sqlite:///{tmp_path}/target.db") as target:
        assert isinstance(target, Platform)
        target.publish_plan(saved(1), None, "ci")
        with pytest.raises(RefusedError, match="is not empty"):
            migrate(rt.store, target.store)


def test_a_sqlite_runtime_of_version_4_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "rt.db"
    with open_runtime(f"sqlite:///{db}") as rt:
        assert isinstance(rt, Platform)
        rt.create_token("ann", Role.VIEWER)
    with closing(sqlite3.connect(db)) as old:  # as version 4 left it
        old.executescript(
            "DROP TABLE sessions; DROP TABLE published_plans; "
            "UPDATE meta SET value = '4' WHERE key = 'schema_version';"
        )
    with open_runtime(f"sqlite:///{db}") as rt:
        assert isinstance(rt, Platform)
        assert rt.published_plans() == []
        secret, session = rt.start_session("ann")
        assert rt.session(secret) == session
        assert rt.publish_plan(saved(1), None, "ci").id == 1
    with closing(sqlite3.connect(db)) as check:
        version = check.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(sqlite.SCHEMA_VERSION),) == ("5",)


@pytest.fixture
def postgresql_runtime() -> Iterator[str]:
    yield postgresql_url()
    drop_postgresql_schemas()


def test_a_postgresql_runtime_of_version_2_is_read_as_it_is_then_upgraded(
    postgresql_runtime: str,
) -> None:
    import psycopg

    url = postgresql_runtime
    with open_runtime(url) as rt:
        assert isinstance(rt, Platform)
        rt.create_token("ann", Role.VIEWER)
    with psycopg.connect(url, autocommit=True) as db:  # as version 2 left it
        db.execute(
            b"DROP TABLE sessions; DROP TABLE published_plans; "
            b"UPDATE meta SET value = '2' WHERE key = 'schema_version'"
        )
    reader = probe("postgresql", url)
    try:
        with open_runtime(url) as rt:
            assert isinstance(rt, Platform)
            assert (rt.published_plans(), rt.published_plan(1), rt.session("x" * 43)) == (
                [],
                None,
                None,
            )
            assert reader.one("SELECT value FROM meta WHERE key = 'schema_version'") == "2"
            secret, session = rt.start_session("ann")  # a write: the upgrade, then the row
            assert rt.session(secret) == session
        assert reader.one("SELECT value FROM meta WHERE key = 'schema_version'") == "3"
    finally:
        reader.close()


# --- publishing, from the library -------------------------------------------------------------


class Elsewhere:
    """A runtime that keeps no published plans (a plugin's, say): only what ``publish`` asks."""

    url = "acme://user:secret@campaigns.example"

    def __enter__(self) -> Elsewhere:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class ElsewhereOptions(api.Options):
    def open(self, url: str | None = None) -> Any:
        return Elsewhere()


def test_a_runtime_without_a_dashboard_refuses_to_publish_in_one_line() -> None:
    the_plan = Plan(runtime="acme://", runtime_id=None, runtime_revision=0)
    with pytest.raises(ForbiddenError) as caught:
        api.publish(ElsewhereOptions(), the_plan, "pr-1")
    assert str(caught.value) == (
        "runtime acme://user:***@campaigns.example has no dashboard to publish a plan to: only "
        "the runtime service and the stores it serves (sqlite, postgresql, memory) keep them"
    )


def test_the_embedded_platform_publishes_as_the_actor(backend: str, tmp_path: Path) -> None:
    url = backend_url(backend, tmp_path, label="publish")
    the_plan = Plan(runtime=url, runtime_id=None, runtime_revision=0)
    published = api.publish(api.Options(runtime_url=url, actor="carol"), the_plan, None)
    assert (published.id, published.ref, published.published_by) == (1, None, "carol")
    with open_runtime(url) as rt:
        assert isinstance(rt, Platform)
        assert rt.published_plan(1) == (published, the_plan.to_json())
