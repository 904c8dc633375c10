"""What only the embedded SQLite runtime promises: a WAL-mode file, an append-only history enforced
by the database, a lock seen across connections, read-only commands that create nothing, and
clear errors for bad files and bad URLs. (Dead lock holders are taken over by every backend: the
contract suite.)"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from factories import cli_environment
from reconciler.cli import cli
from reconciler.errors import (
    RuntimeBackendError,
    RuntimeRefused,
    RuntimeStoreError,
    RuntimeUnavailable,
)
from reconciler.model import Action, Status
from reconciler.runtime.base import (
    DEFAULT_URL,
    Applied,
    LockOwner,
    Provenance,
    Runtime,
    Write,
)
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime
from reconciler.runtime.sqlite import SQLiteStore

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SPEC = {
    "channel": "email",
    "audience": {"segment": "newsletter"},
    "content": {"subject": "Hello", "body": "Body"},
    "schedule": {"recurring": {"every": "week", "on": ["mon"], "at": "09:00"}},
}


def fixed() -> datetime:
    return NOW


def activation(name: str, plan_id: str = "plan-1", key: str | None = None) -> Write:
    return Write(
        key=key or f"{plan_id}/{name}/activate",
        action=Action.ACTIVATE,
        campaign=name,
        expected_etag=None,
        provenance=Provenance("alice"),
        plan_id=plan_id,
        spec=SPEC,
    )


def activate(rt: Runtime, name: str = "alpha", key: str | None = None) -> None:
    rt.apply(activation(name, key=key))


def open_sqlite(path: Path) -> Platform:
    rt = open_runtime(f"sqlite:///{path}", clock=fixed)
    assert isinstance(rt, Platform)
    assert isinstance(rt.store, SQLiteStore)
    return rt


def connection(rt: Platform) -> sqlite3.Connection:
    assert isinstance(rt.store, SQLiteStore)
    assert rt.store._db is not None
    return rt.store._db


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "rt.db"


@pytest.fixture
def rt(db_path: Path) -> Iterator[Platform]:
    runtime = open_sqlite(db_path)
    yield runtime
    runtime.close()


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# --- the file -----------------------------------------------------------------------------------


def test_an_absolute_url_has_four_slashes_and_the_file_is_where_it_says(
    rt: Platform, db_path: Path
) -> None:
    assert rt.url == f"sqlite:///{db_path}"
    assert rt.url.startswith("sqlite:////")
    activate(rt)
    assert db_path.is_file()


def test_the_database_is_in_wal_mode(rt: Platform, db_path: Path) -> None:
    activate(rt)
    with raw(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_state_survives_closing_and_reopening(rt: Platform, db_path: Path) -> None:
    activate(rt)
    snap, ident, history = rt.snapshot(), rt.runtime_id(), rt.history()
    rt.close()
    again = open_sqlite(db_path)
    try:
        assert again.snapshot() == snap
        assert again.runtime_id() == ident
        assert again.history() == history
        assert again.applied_keys("plan-1/") == {"plan-1/alpha/activate"}
    finally:
        again.close()


def test_the_history_table_refuses_update_and_delete(rt: Platform, db_path: Path) -> None:
    activate(rt)
    activate(rt, "beta")
    before = rt.history()
    with raw(db_path) as db:
        with pytest.raises(sqlite3.DatabaseError, match="history is append-only"):
            db.execute("UPDATE history SET actor = 'mallory'")
        with pytest.raises(sqlite3.DatabaseError, match="history is append-only"):
            db.execute("DELETE FROM history WHERE seq = 1")
        with pytest.raises(sqlite3.DatabaseError, match="history is append-only"):
            db.execute("DELETE FROM history")
        assert db.execute("SELECT COUNT(*) FROM history").fetchone() == (2,)
    assert rt.history() == before


def test_one_write_is_one_row_everywhere(rt: Platform, db_path: Path) -> None:
    activate(rt)
    activate(rt, "beta")
    activate(rt, "beta")  # replayed: nothing written
    with raw(db_path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone() == ("2",)
        assert db.execute("SELECT name, etag FROM campaigns ORDER BY name").fetchall() == [
            ("alpha", "1"),
            ("beta", "2"),
        ]
        assert db.execute("SELECT key, revision FROM applied ORDER BY revision").fetchall() == [
            ("plan-1/alpha/activate", 1),
            ("plan-1/beta/activate", 2),
        ]
        assert db.execute("SELECT revision, campaign FROM history ORDER BY seq").fetchall() == [
            (1, "alpha"),
            (2, "beta"),
        ]


def activations(*names: str) -> list[Write]:
    return [activation(name, "plan-2") for name in names]


def test_a_batch_is_one_transaction_reading_each_kind_of_row_once(rt: Platform) -> None:
    activate(rt)  # the file, the schema and the connection are there
    statements: list[str] = []
    connection(rt).set_trace_callback(statements.append)
    try:
        results = rt.apply_batch(activations(*(f"c{i}" for i in range(1, 8))))
    finally:
        connection(rt).set_trace_callback(None)
    assert [r.revision for r in results if isinstance(r, Applied)] == list(range(2, 9))

    def count(prefix: str) -> int:
        return sum(s.startswith(prefix) for s in statements)

    assert (count("BEGIN IMMEDIATE"), count("COMMIT")) == (1, 1)
    assert count("SELECT") == 4  # the batch's campaigns and keys, the lock, the revision
    assert [
        count("INSERT INTO campaigns"),
        count("INSERT INTO history"),
        count("INSERT INTO applied"),
        count("UPDATE meta"),
    ] == [7, 7, 7, 1]
    assert len(statements) == 2 + 4 + 3 * 7 + 1


def test_a_batch_the_database_fails_on_leaves_nothing_of_it(rt: Platform, db_path: Path) -> None:
    activate(rt)
    with raw(db_path) as db:
        db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON history WHEN NEW.campaign = 'c3' "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    before = (rt.snapshot(), rt.history(), rt.applied_keys(""))
    with pytest.raises(RuntimeBackendError) as caught:
        rt.apply_batch(activations("c1", "c2", "c3", "c4"))  # c1 and c2 were written, then undone
    assert str(caught.value) == f"runtime {rt.url}: boom"
    assert (rt.snapshot(), rt.history(), rt.applied_keys("")) == before
    with raw(db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM campaigns").fetchone() == (1,)
    assert [r.revision for r in rt.apply_batch(activations("c1")) if isinstance(r, Applied)] == [2]


# --- read-only commands create nothing ----------------------------------------------------------


def test_reading_a_runtime_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "rt.db"
    rt = open_sqlite(path)
    snap = rt.snapshot()
    assert (snap.revision, dict(snap.campaigns)) == (0, {})
    assert rt.history() == []
    assert rt.history("alpha") == []
    assert rt.runtime_id() is None
    assert rt.applied_keys("") == frozenset()
    rt.release_lock(LockOwner.current("nothing"))
    rt.close()
    assert list(tmp_path.iterdir()) == []


def test_the_first_write_creates_the_folder_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "rt.db"
    rt = open_sqlite(path)
    activate(rt)
    assert path.is_file()
    assert rt.runtime_id() is not None
    assert rt.snapshot().campaigns["alpha"].status is Status.LIVE
    rt.close()


def test_the_lock_creates_the_runtime(tmp_path: Path) -> None:
    path = tmp_path / "rt.db"
    rt = open_sqlite(path)
    assert rt.acquire_lock(LockOwner.current("apply")) is None
    assert path.is_file()
    assert rt.runtime_id() is not None
    assert rt.snapshot().revision == 0
    rt.close()


def test_a_relative_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rt = open_runtime("sqlite:///sub/rt.db", clock=fixed)
    activate(rt)
    rt.close()
    assert (tmp_path / "sub" / "rt.db").is_file()


def test_the_default_runtime_is_under_dot_reconciler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_URL == "sqlite:///.reconciler/runtime.db"
    rt = open_runtime(clock=fixed)
    assert rt.url == DEFAULT_URL
    assert rt.snapshot().revision == 0
    assert not (tmp_path / ".reconciler").exists()
    activate(rt)
    rt.close()
    assert (tmp_path / ".reconciler" / "runtime.db").is_file()


def test_a_file_left_by_a_first_apply_killed_before_its_schema_reads_as_empty(
    db_path: Path,
) -> None:
    # what Platform._connect(create=True) has done when it is killed before its first commit
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    rt = open_sqlite(db_path)
    try:
        snap = rt.snapshot()
        assert (snap.revision, dict(snap.campaigns)) == (0, {})
        assert rt.history() == []
        assert rt.runtime_id() is None
        assert rt.applied_keys("") == frozenset()
    finally:
        rt.close()
    # and the next apply sets the runtime up in it and writes as usual
    rt = open_sqlite(db_path)
    try:
        activate(rt)
        assert rt.snapshot().revision == 1
        assert rt.runtime_id() is not None
    finally:
        rt.close()


# --- bad files and bad URLs ---------------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_a_backend_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    rt = open_sqlite(db_path)
    expected = f"cannot open runtime sqlite:///{db_path}: file is not a database"
    calls: dict[str, Callable[[], object]] = {
        "snapshot": rt.snapshot,
        "history": rt.history,
        "runtime_id": rt.runtime_id,
        "applied_keys": lambda: rt.applied_keys(""),
        "acquire_lock": lambda: rt.acquire_lock(LockOwner.current("apply")),
        "apply": lambda: activate(rt),
    }
    for name, call in calls.items():
        with pytest.raises(RuntimeBackendError) as caught:
            call()
        assert str(caught.value) == expected, name
        assert isinstance(caught.value.__cause__, sqlite3.DatabaseError), name
    rt.close()
    assert db_path.read_bytes().startswith(b"this is not a database")


def test_a_folder_in_place_of_the_file_is_a_backend_error(db_path: Path) -> None:
    db_path.mkdir()
    rt = open_sqlite(db_path)
    with pytest.raises(RuntimeBackendError, match=r"^cannot open runtime sqlite:///"):
        rt.acquire_lock(LockOwner.current("apply"))


def test_what_cannot_be_opened_is_unavailable_and_what_is_damaged_is_refused(
    tmp_path: Path,
) -> None:
    """Unavailable (retry later, as watch does) apart from refused (retrying will not mend it)."""
    (tmp_path / "plain-file").write_text("")
    unreachable = open_sqlite(tmp_path / "plain-file" / "rt.db")
    with pytest.raises(RuntimeUnavailable, match=r"^cannot open runtime sqlite:///"):
        unreachable.acquire_lock(LockOwner.current("apply"))
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    junk = open_sqlite(tmp_path / "junk.db")
    with pytest.raises(RuntimeStoreError) as caught:
        junk.snapshot()
    assert isinstance(caught.value, RuntimeRefused)
    damaged = open_sqlite(tmp_path / "damaged.db")
    activate(damaged)
    with raw(tmp_path / "damaged.db") as db:
        db.execute("UPDATE campaigns SET data = '{}'")
    with pytest.raises(RuntimeStoreError, match=r" is damaged: a stored value cannot be read "):
        damaged.snapshot()
    for runtime in (unreachable, junk, damaged):
        runtime.close()


@pytest.mark.parametrize("url", ["sqlite://relative", "sqlite://", "sqlite:///"])
def test_a_bad_sqlite_url_is_a_backend_error(url: str) -> None:
    with pytest.raises(RuntimeBackendError) as caught:
        open_runtime(url)
    assert str(caught.value) == (
        f"invalid SQLite runtime URL {url!r}: expected sqlite:///PATH "
        "(relative) or sqlite:////PATH (absolute)"
    )


# --- the lock across processes ------------------------------------------------------------------


def test_the_lock_is_seen_by_another_connection(db_path: Path) -> None:
    first, second = open_sqlite(db_path), open_sqlite(db_path)
    try:
        holder = LockOwner(owner="a@h:1", pid=1, host="elsewhere", reason="apply")
        assert first.acquire_lock(holder) is None
        held = second.acquire_lock(LockOwner.current("apply"))
        assert held is not None
        assert held.holder == holder
        first.release_lock(holder)
        assert second.acquire_lock(LockOwner.current("apply")) is None
    finally:
        first.close()
        second.close()


def test_a_write_is_seen_by_another_connection(db_path: Path) -> None:
    first, second = open_sqlite(db_path), open_sqlite(db_path)
    try:
        assert second.snapshot().revision == 0
        activate(first)
        assert second.snapshot().revision == 1
        assert set(second.snapshot().campaigns) == {"alpha"}
        assert second.runtime_id() == first.runtime_id()
    finally:
        first.close()
        second.close()


# --- a runtime others write to, or in a folder this process may not write to -------------------

MANIFEST = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: weekly}
spec:
  state: live
  channel: email
  audience: {segment: newsletter}
  content: {subject: Week, body: Hi}
  schedule:
    recurring: {every: week, on: [mon], at: "09:00"}
"""


@pytest.fixture
def applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A runtime under tmp_path/state with the manifest in tmp_path/campaigns applied: its URL."""
    cli_environment(monkeypatch, runtime=f"sqlite:///{tmp_path}/state/runtime.db")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "weekly.yaml").write_text(MANIFEST)
    assert CliRunner().invoke(cli, ["apply"]).exit_code == 0
    return f"sqlite:///{tmp_path}/state/runtime.db"


def in_read_only_folder(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`reconciler ARGS` with ``folder`` mounted read-only, in a mount namespace of its own."""
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", folder, sys.executable, "-m",
         "reconciler", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.slow  # starts processes
def test_reading_commands_work_on_a_runtime_in_a_read_only_folder(
    applied: str, tmp_path: Path
) -> None:
    """`plan` failed with 'attempt to write a readonly database': reading opens read-only."""
    probe = in_read_only_folder(tmp_path / "state", "validate", "campaigns")
    if probe.returncode != 0 and "mount" in probe.stderr:
        pytest.skip(f"this machine gives no mount namespace to test in: {probe.stderr.strip()}")
    plan = in_read_only_folder(tmp_path / "state", "plan", "--runtime", applied)
    assert (plan.returncode, plan.stdout, plan.stderr) == (0, "No changes. 1 unchanged.\n", "")
    status = in_read_only_folder(tmp_path / "state", "status", "--runtime", applied)
    assert status.returncode == 0 and status.stdout.splitlines()[1].startswith("weekly  live")
    (tmp_path / "campaigns" / "weekly.yaml").write_text(MANIFEST.replace("Week", "Weekly"))
    apply = in_read_only_folder(tmp_path / "state", "apply", "--runtime", applied)
    assert (apply.returncode, apply.stdout) == (1, "")
    assert apply.stderr == (
        f"error: cannot write to runtime {applied}: its folder is read-only here (commands "
        "that only read it, like plan and status, work)\n"
    )


def held_write_lock(url: str) -> sqlite3.Connection:
    """Another process's write in progress: the database's write lock, held."""
    other = sqlite3.connect(
        url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    return other


@pytest.mark.slow  # waits for real seconds, as a user would
def test_apply_says_what_it_waits_for_while_another_process_writes(applied: str) -> None:
    other = held_write_lock(applied)
    threading.Timer(1.5, other.rollback).start()
    result = CliRunner().invoke(cli, ["apply"])
    assert (result.exit_code, result.stdout) == (0, "No changes. 1 unchanged.\n")
    assert result.stderr == (
        f"waiting for another process to finish writing to runtime {applied} (up to 10s)\n"
    )


@pytest.mark.slow  # waits for real seconds, as a user would
def test_apply_gives_up_on_another_writer_after_the_lock_timeout(
    applied: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = held_write_lock(applied)
    try:
        result = CliRunner().invoke(cli, ["apply", "--lock-timeout", "12"])
    finally:
        other.rollback()
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"waiting for another process to finish writing to runtime {applied} (up to 12s)\n"
        f"error: runtime {applied}: another process has been writing to it for 12s; nothing "
        "was written. Try again, or wait longer with --lock-timeout SECONDS\n"
    )


CONTROL_BYTES = 'UPDATE campaigns SET data = \'{"name": "x\x1b]8;;http://e\x07\x1b[31m\''
MISSING_FIELD = "UPDATE campaigns SET data = '{\"name\": 5}'"
META = "UPDATE meta SET value = '3\x1b[31mX' WHERE key = 'schema_version'"


@pytest.mark.parametrize(
    ("command", "statement", "problem"),
    [
        *(
            (command, CONTROL_BYTES, "JSONDecodeError: unexpected control character in string: "
             "line 1 column 12 (char 11)")
            for command in ("plan", "status")
        ),
        *((command, MISSING_FIELD, "KeyError: 'channel'") for command in ("plan", "status")),
        *(
            (command, META, "ValueError: invalid literal for int() with base 10: '3\\x1b[31mX'")
            for command in ("plan", "status", "history")
        ),
    ],
)  # fmt: skip
def test_a_damaged_runtime_is_one_escaped_line_not_a_crash(
    applied: str, command: str, statement: str, problem: str
) -> None:
    damaged = sqlite3.connect(applied.removeprefix("sqlite:///"))
    damaged.execute(statement)
    damaged.commit()
    damaged.close()
    result = CliRunner().invoke(cli, [command])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: runtime {applied} is damaged: a stored value cannot be read ({problem})\n"
    )
