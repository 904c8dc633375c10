"""What only the PostgreSQL store does, against the real server (``backends.POSTGRESQL``): the lock
tied to its holder's session, SKIP LOCKED claims, the append-only history in the database, the
schema in search_path and its versions, a read-only role, and the one-line errors of a server that
cannot be reached. The contract, store, executor and engine suites run over it too."""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from backends import drop_postgresql_schemas, postgresql_admin, postgresql_url
from factories import cli_environment
from reconciler import executor
from reconciler.cli import cli
from reconciler.errors import (
    ConflictError,
    RuntimeStoreError,
    RuntimeUnavailable,
    RuntimeURLError,
)
from reconciler.model import Action, SendingOutcome
from reconciler.runtime import postgresql
from reconciler.runtime.base import LockOwner, Provenance, Write, redacted
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SPEC = {"channel": "in-app", "content": {"title": "Hi", "body": "There"}}
DAILY = {
    "channel": "email",
    "audience": {"segment": "newsletter"},
    "content": {"subject": "Hello", "body": "Body"},
    "schedule": {"recurring": {"every": "day", "at": "09:00"}},
}
#: what libpq says of a session the server ended: its last word, or, when that was not read first,
#: the closed socket
LOST = (
    "(terminating connection due to administrator command"
    "|consuming input failed: server closed the connection unexpectedly)"
)
FAR = LockOwner(owner="ci@runner-1:101", pid=101, host="runner-1", reason="apply campaigns")
NEAR = LockOwner(owner="dev@laptop:202", pid=202, host="laptop", reason="apply plan.json")


@pytest.fixture
def url() -> Iterator[str]:
    yield postgresql_url()
    drop_postgresql_schemas()


def opened(url: str) -> Platform:
    runtime = open_runtime(url, clock=lambda: NOW)
    assert isinstance(runtime, Platform)
    return runtime


def activate(rt: Platform, name: str, spec: dict[str, object] = SPEC) -> None:
    rt.apply(
        Write(
            key=f"k/{name}",
            action=Action.ACTIVATE,
            campaign=name,
            expected_etag=None,
            provenance=Provenance("alice"),
            spec=spec,
        )
    )


def admin(url: str, statement: str, *args: object) -> list[tuple[object, ...]]:
    """One statement on the runtime's own schema, as the server's administrator."""
    with psycopg.connect(url, autocommit=True) as db:
        cursor = db.execute(statement.encode(), args or None)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def schema_of(url: str) -> str:
    return url.rpartition("%3D")[2]


# --- the lock, tied to its holder's session ------------------------------------------------------


def test_a_holder_whose_session_ended_loses_the_lock_at_once(url: str) -> None:
    holder, other = opened(url), opened(url)
    with other:
        assert holder.acquire_lock(FAR) is None
        held = other.acquire_lock(NEAR)  # alive: its session holds the advisory lock
        assert held is not None and held.holder == FAR
        holder.close()  # the process died, or its machine: PostgreSQL ends the session
        assert other.acquire_lock(NEAR) is None  # not expired, but taken over at once
        assert other.acquire_lock(FAR) is not None


def test_releasing_the_lock_frees_the_session_lock_too(url: str) -> None:
    with opened(url) as holder, opened(url) as other:
        assert holder.acquire_lock(FAR) is None
        assert holder.acquire_lock(FAR) is None  # a heartbeat takes no second session lock
        holder.release_lock(FAR)
        assert other.acquire_lock(NEAR) is None
        key = postgresql._advisory_key(schema_of(url), FAR.owner)
        (row,) = admin(
            url,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
            (key & 0xFFFF_FFFF_FFFF_FFFF) & 0xFFFF_FFFF,
        )
        assert row == (0,)


# --- the engine's workers claim disjoint campaigns -----------------------------------------------


def test_a_claimed_campaign_is_skipped_by_another_transaction(url: str) -> None:
    with opened(url) as one, opened(url) as two:
        activate(one, "alpha")
        activate(one, "beta")
        with one.store.transaction(write=True) as mine:
            claimed = mine.claim("alpha")
            assert claimed is not None and claimed.name == "alpha"
            with two.store.transaction(write=True) as theirs:
                assert theirs.claim("alpha") is None  # held: skipped, not waited for
                other = theirs.claim("beta")
                assert other is not None and other.name == "beta"


def test_two_engines_ticking_one_runtime_send_every_slot_once(url: str) -> None:
    with opened(url) as setup:
        setup.set_segment("newsletter", 1)
        for n in range(12):
            activate(setup, f"c{n:02}", DAILY)
    engines = [opened(url), opened(url)]
    start = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
    moments = [start + timedelta(days=d, seconds=s) for d in range(3) for s in (0, 1)]
    failures: list[BaseException] = []
    # engines tick at the same moments, as workers reading one clock do: what one of them holds
    # when the other comes to it, the holder advances
    together = threading.Barrier(len(engines), timeout=60)

    def run(engine: Platform) -> None:
        try:
            for moment in moments:
                together.wait()
                engine.tick(moment)
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)
            together.abort()

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.close()
    assert failures == []
    with opened(url) as rt:
        sendings = rt.sendings()
    assert len({s.id for s in sendings}) == len(sendings) == 36  # 12 campaigns x 3 days
    assert {s.outcome for s in sendings} == {SendingOutcome.SENT}


# --- etags in the statement ---------------------------------------------------------------------


def test_a_campaign_made_by_another_writer_since_it_was_read_is_a_conflict(url: str) -> None:
    with opened(url) as one, opened(url) as two:
        activate(one, "alpha")
        beta = replace(one.snapshot().campaigns["alpha"], name="beta", etag="2")
        with pytest.raises(ConflictError) as caught, two.store.transaction(write=True) as tx:
            assert tx.campaigns(["beta"]) == {}  # read: not there, and no row to lock
            activate(one, "beta")  # another writer makes it, and commits
            tx.put_campaigns([(beta, None)])
        assert str(caught.value) == (
            "campaign 'beta' changed while it was being written (absent when read); nothing "
            "was written. Plan again"
        )
        assert two.snapshot().campaigns["beta"].etag == "2"


def test_an_update_whose_etag_moved_is_a_conflict_and_writes_nothing(url: str) -> None:
    with opened(url) as rt:
        activate(rt, "alpha")
        before = rt.snapshot()
        alpha = replace(before.campaigns["alpha"], etag="9")
        with pytest.raises(ConflictError) as caught, rt.store.transaction(write=True) as tx:
            tx.set_revision(9)
            tx.put_campaigns([(alpha, "7")])
        assert str(caught.value) == (
            "campaign 'alpha' changed while it was being written (etag 7 when read); nothing "
            "was written. Plan again"
        )
        assert rt.snapshot() == before


# --- the database keeps the rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["UPDATE history SET actor = 'mallory'", "DELETE FROM history", "TRUNCATE history"],
    ids=["update", "delete", "truncate"],
)
def test_the_history_is_append_only_in_the_database(url: str, statement: str) -> None:
    with opened(url) as rt:
        activate(rt, "alpha")
    with pytest.raises(psycopg.errors.RaiseException, match=r"^history is append-only"):
        admin(url, statement)
    with opened(url) as rt:
        assert [e.actor for e in rt.history()] == ["alice"]


def test_the_tables_live_in_the_schema_search_path_names(url: str) -> None:
    with opened(url) as rt:
        assert rt.snapshot().revision == 0
        assert admin(url, "SELECT to_regclass('meta')") == [(None,)]  # a read makes nothing
        activate(rt, "alpha")
    rows = admin(
        url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
        "ORDER BY table_name",
        schema_of(url),
    )
    assert [r[0] for r in rows] == [
        "applied",
        "campaigns",
        "history",
        "lock",
        "meta",
        "published_plans",
        "segments",
        "sendings",
        "sessions",
        "signing_keys",
        "tokens",
    ]
    meta = dict(admin(url, "SELECT key, value FROM meta"))  # type: ignore[arg-type]
    assert (meta["schema_version"], meta["revision"], len(meta["runtime_id"])) == ("3", "1", 32)


def test_a_damaged_row_is_refused(url: str) -> None:
    with opened(url) as rt:
        activate(rt, "alpha")
    admin(url, "UPDATE campaigns SET data = '{' WHERE name = 'alpha'")
    with opened(url) as rt, pytest.raises(RuntimeStoreError) as caught:
        rt.snapshot()
    assert str(caught.value) == (
        f"runtime {url} is damaged: a stored value cannot be read (JSONDecodeError: unexpected "
        "end of data: line 1 column 2 (char 1))"
    )


# --- schema versions ----------------------------------------------------------------------------


def test_a_runtime_of_a_newer_schema_is_refused(url: str) -> None:
    with opened(url) as rt:
        activate(rt, "alpha")
    admin(url, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    message = (
        f"runtime {url} was written by a newer reconciler (schema version 99; this one reads 3); "
        "upgrade reconciler"
    )
    with opened(url) as rt:
        with pytest.raises(RuntimeStoreError) as caught:
            rt.snapshot()
        assert str(caught.value) == message
        with pytest.raises(RuntimeStoreError) as caught:
            activate(rt, "beta")
        assert str(caught.value) == message


def test_an_older_schema_is_read_as_it_is_and_upgraded_by_the_first_write(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with opened(url) as rt:
        activate(rt, "alpha")
    monkeypatch.setattr(postgresql, "SCHEMA_VERSION", 4)
    monkeypatch.setitem(postgresql.MIGRATIONS, 4, ("ALTER TABLE segments ADD COLUMN note TEXT",))
    with opened(url) as rt:
        assert list(rt.snapshot().campaigns) == ["alpha"]  # read as it is
        assert admin(url, "SELECT value FROM meta WHERE key = 'schema_version'") == [("3",)]
        activate(rt, "beta")
    assert admin(url, "SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]
    assert admin(url, "SELECT note FROM segments") == []  # the step ran


def test_a_schema_too_old_to_read_says_what_upgrades_it(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with opened(url) as rt:
        activate(rt, "alpha")
    monkeypatch.setattr(postgresql, "SCHEMA_VERSION", 4)
    monkeypatch.setattr(postgresql, "READS_FROM", 4)
    monkeypatch.setitem(postgresql.MIGRATIONS, 4, ())
    with opened(url) as rt, pytest.raises(RuntimeStoreError) as caught:
        rt.snapshot()
    assert str(caught.value) == (
        f"runtime {url} has schema version 3, older than this reconciler reads (4); "
        "`reconciler apply` (or any command that writes to it) upgrades it"
    )


# --- faults -------------------------------------------------------------------------------------


def test_a_connection_lost_mid_transaction_is_unavailable_and_writes_nothing(url: str) -> None:
    with opened(url) as rt:
        activate(rt, "alpha")
        store = rt.store
        assert isinstance(store, postgresql.PostgreSQLStore)
        with pytest.raises(RuntimeUnavailable) as caught, store.transaction(write=True) as tx:
            tx.set_revision(9)
            tx.set_segment("vip", 3)
            admin(url, "SELECT pg_terminate_backend(%s)", store._connect().info.backend_pid)
            tx.segments()
        assert re.fullmatch(f"runtime {re.escape(url)} is unavailable: {LOST}", str(caught.value))
        assert (rt.revision(), rt.segments()) == (1, {})  # nothing; and it reconnects


def test_without_psycopg_the_message_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "reconciler.runtime.postgresql")
    with pytest.raises(RuntimeURLError) as caught:
        open_runtime("postgresql://deploy:s3cret@db/campaigns")
    assert str(caught.value) == (
        "runtime postgresql://deploy:***@db/campaigns needs the PostgreSQL driver, which is not "
        "installed: pip install 'reconciler[postgresql]'"
    )


# --- through the command line --------------------------------------------------------------------

ONCE = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: launch
spec:
  state: live
  channel: sms
  audience: {segment: everyone}
  content: {text: "We are live"}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch)
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "launch.yaml").write_text(ONCE)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def role(url: str) -> Iterator[str]:
    """A role that may use the runtime's schema; the test grants it what it may do there."""
    name = f"r_{uuid.uuid4().hex[:12]}"
    postgresql_admin(f"CREATE ROLE {name} LOGIN")
    postgresql_admin(f'GRANT USAGE ON SCHEMA "{schema_of(url)}" TO {name}')
    yield name
    drop_postgresql_schemas()
    postgresql_admin(f"DROP OWNED BY {name}")
    postgresql_admin(f"DROP ROLE {name}")


reader = pytest.fixture(role, name="reader")
writer = pytest.fixture(role, name="writer")


def test_a_writer_role_with_the_readme_s_grants_applies(repo: Path, url: str, writer: str) -> None:
    assert run("apply", "--runtime", url).exit_code == 0  # the owner makes the tables
    postgresql_admin(
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema_of(url)}" '
        f"TO {writer}"
    )
    (repo / "campaigns" / "later.yaml").write_text(ONCE.replace("launch", "later"))
    as_writer = url.replace("postgresql://root@", f"postgresql://{writer}@")
    applied = run("apply", "--runtime", as_writer)
    assert (applied.exit_code, applied.output.splitlines()[-1]) == (
        0,
        "Apply: 1 done, 0 failed, 0 skipped.",
    )
    assert run("plan", "--runtime", as_writer, "--detailed-exitcode").exit_code == 0


def test_a_read_only_role_plans_and_reads_but_may_not_apply(
    repo: Path, url: str, reader: str
) -> None:
    assert run("apply", "--runtime", url).exit_code == 0
    postgresql_admin(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema_of(url)}" TO {reader}')
    (repo / "campaigns" / "later.yaml").write_text(ONCE.replace("launch", "later"))
    as_reader = url.replace("postgresql://root@", f"postgresql://{reader}:s3cret@")
    shown = redacted(as_reader)
    planned = run("plan", "--runtime", as_reader)
    assert (planned.exit_code, planned.output.splitlines()[0]) == (
        0,
        "Plan: 1 to activate; 1 unchanged.",
    )
    status = run("status", "--runtime", as_reader)
    assert status.exit_code == 0 and "launch" in status.output
    applied = run("apply", "--runtime", as_reader)
    assert (applied.exit_code, applied.output) == (
        1,
        f"error: runtime {shown}: the role {reader} may not write to it, only read it (plan "
        "and status work); apply with a role that may write (permission denied for table meta)\n",
    )
    history = run("history", "--runtime", url, "--format", "json").output
    assert len(json.loads(history)["history"]) == 1  # nothing was written by the reader


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (
            "postgresql://root:s3cret@127.0.0.1:1/test",
            'connection failed: connection to server at "127.0.0.1", port 1 failed: '
            "Connection refused",
        ),
        (
            "postgresql://root:s3cret@127.0.0.1:5432/no_such_database",
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
            'FATAL: database "no_such_database" does not exist',
        ),
        (
            # the test server trusts every password: an unknown role is its refused login
            "postgresql://nobody_here:s3cret@127.0.0.1:5432/test",
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
            'FATAL: role "nobody_here" does not exist',
        ),
    ],
    ids=["refused", "missing-database", "refused-login"],
)
def test_a_server_that_cannot_be_reached_is_one_line(repo: Path, target: str, reason: str) -> None:
    result = run("status", "--runtime", target)
    assert (result.exit_code, result.output) == (
        1,
        f"error: cannot connect to runtime {redacted(target)}: {reason}\n",
    )
    assert "s3cret" not in result.output


def test_a_server_that_never_answers_is_given_up_on_after_the_connect_timeout(
    repo: Path,
) -> None:
    """A server that takes the connection and never answers (a hung proxy, a frozen host): the
    command gives up after --connect-timeout, in one line, instead of hanging."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        target = f"postgresql://root:s3cret@127.0.0.1:{port}/test"
        result = run("status", "--runtime", target, "--connect-timeout", "1")
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot connect to runtime {redacted(target)}: ")
    assert "timeout expired" in result.output and result.output.count("\n") == 1
    assert "s3cret" not in result.output


@pytest.mark.slow
def test_an_apply_whose_connection_is_terminated_fails_in_one_line_and_a_rerun_converges(
    repo: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(20):
        (repo / "campaigns" / f"c{n:02}.yaml").write_text(ONCE.replace("launch", f"c{n:02}"))
    monkeypatch.setattr(executor, "BATCH_FIRST", 5)
    monkeypatch.setattr(executor, "BATCH_MAX", 5)
    real = postgresql.PostgreSQLTx.append_history
    batches: list[int] = []

    def terminated_in_the_third_batch(tx: postgresql.PostgreSQLTx, entries: Any) -> None:
        real(tx, entries)
        batches.append(len(entries))
        if len(batches) >= 3:  # its rows written, not committed: the server ends the session
            admin(url, "SELECT pg_terminate_backend(%s)", tx._db.info.backend_pid)

    monkeypatch.setattr(postgresql.PostgreSQLTx, "append_history", terminated_in_the_third_batch)
    failed = run("apply", "--runtime", url)
    # the batch fails whole, is retried one operation at a time, and the first of those fails
    lines = failed.output.splitlines()
    assert (failed.exit_code, lines[-1]) == (1, "Apply: 10 done, 1 failed, 10 skipped.")
    (failure,) = [line for line in lines if line.startswith("  failed")]
    shown = f"  failed  activate c10: runtime {re.escape(url)} is unavailable: {LOST}"
    assert re.fullmatch(shown, failure)
    assert admin(url, "SELECT count(*) FROM campaigns") == [(10,)]  # two batches, not half one
    monkeypatch.setattr(postgresql.PostgreSQLTx, "append_history", real)
    assert run("apply", "--runtime", url).exit_code == 0
    rows = admin(url, "SELECT campaign, count(*) FROM history GROUP BY campaign ORDER BY 1")
    names = [f"c{n:02}" for n in range(20)] + ["launch"]
    assert rows == [(name, 1) for name in names]  # every operation done once
    assert admin(url, "SELECT count(*) FROM applied") == [(21,)]


# --- the change feed ----------------------------------------------------------------------------


def test_every_write_is_announced_on_the_runtime_s_channel(url: str) -> None:
    with opened(url) as rt:
        activate(rt, "alpha")
        with psycopg.connect(url, autocommit=True) as listener:
            channel = f"reconciler_changes_{schema_of(url)}"
            listener.execute(f'LISTEN "{channel}"'.encode())
            alpha = rt.snapshot().campaigns["alpha"]
            edited = {**SPEC, "content": {"title": "Edited", "body": "There"}}
            rt.edit("alpha", edited, alpha.etag, "marketing")  # a console edit
            notes = [(n.channel, n.payload) for n in listener.notifies(timeout=60, stop_after=1)]
    assert notes == [(channel, "2")]


def test_a_console_edit_wakes_a_waiter_on_another_machine(url: str) -> None:
    with opened(url) as rt:
        activate(rt, "alpha")
    with opened(url) as waiter, opened(url) as console:
        seen: list[int] = []
        thread = threading.Thread(target=lambda: seen.append(waiter.changes(1, timeout=600)))
        thread.start()
        alpha = console.snapshot().campaigns["alpha"]
        console.edit("alpha", {**SPEC, "channel": "in-app"}, alpha.etag, "marketing")
        thread.join(timeout=600)
    assert seen == [2]
