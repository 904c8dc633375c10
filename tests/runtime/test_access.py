"""Roles, tokens and the service's plan signing keys: the rules as data (``access.py``), and the
platform's tokens and keys over every backend (``backends.BACKENDS``), read back from the raw rows
where a store keeps them. None of it is campaign state: no revision, no history, no change feed."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from backends import STORE_BACKENDS, backend_url, drop_postgresql_schemas, postgresql_url
from factories import FakeClock, cli_environment
from probes import probe
from reconciler import api, signing
from reconciler.cli import cli
from reconciler.errors import PlanError, RefusedError
from reconciler.model import Action
from reconciler.plan import Plan
from reconciler.runtime import postgresql, sqlite
from reconciler.runtime.access import (
    KEY_GRACE,
    PERMISSIONS,
    TOKEN_PREFIX,
    Capability,
    Role,
    SigningKey,
    TokenInfo,
    check_token_name,
    key_id,
    looks_like_token,
    new_token,
    required,
    required_role,
    token_digest,
)
from reconciler.runtime.base import (
    Administration,
    Authority,
    LockOwner,
    Provenance,
    Runtime,
    Write,
)
from reconciler.runtime.memory import MemoryStore
from reconciler.runtime.migrate import migrate
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STAMP = "2026-06-01T12:00:00.000Z"
TOKEN = re.compile(r"rcn_[A-Za-z0-9_-]{43}")
SPEC = {"channel": "in-app", "content": {"title": "Hi", "body": "There"}}
CI = LockOwner(owner="ci@runner-1:101", pid=101, host="runner-1", reason="apply campaigns")
DEV = LockOwner(owner="dev@laptop:202", pid=202, host="laptop", reason="apply plan.json")

V, M, A, ADMIN = Role.VIEWER, Role.MANAGER, Role.APPROVER, Role.ADMINISTRATOR

#: the store's own rows: over every store (not a service in front of one); see conftest.py
BACKENDS_HERE = STORE_BACKENDS


# --- the rules, as data -------------------------------------------------------------------------


def a_write(action: Action, *, activate: bool = False) -> Write:
    return Write(
        key="k",
        action=action,
        campaign="alpha",
        expected_etag=None,
        provenance=Provenance("alice"),
        activate=activate,
    )


#: DESIGN.md's table, write by write: (action, activate) -> the least role that may make it
WRITES = [
    (Action.CREATE, False, M),
    (Action.UPDATE, False, M),
    (Action.DISCARD, False, M),
    (Action.COPY, False, M),  # into a draft
    (Action.ADOPT, False, M),  # only who manages it changes
    (Action.COPY, True, A),  # to live
    (Action.ACTIVATE, False, A),
    (Action.ACTIVATE, True, A),
    (Action.REPLACE, False, A),
    (Action.STOP, False, A),
    (Action.RESUME, False, A),
    (Action.RESUME, True, A),
    (Action.EDIT, False, ADMIN),  # a console edit
]


@pytest.mark.parametrize(
    ("action", "activate", "role"),
    WRITES,
    ids=[f"{a.value}{'+activate' if act else ''}" for a, act, _ in WRITES],
)
def test_the_least_role_of_each_write(action: Action, activate: bool, role: Role) -> None:
    assert required_role(a_write(action, activate=activate)) is role


def test_every_action_has_a_role() -> None:
    assert {a for a, _, _ in WRITES} == set(Action)
    assert set(PERMISSIONS) == set(Action) | set(Capability)


@pytest.mark.parametrize(
    ("capability", "role"),
    [
        (Capability.READ, V),
        (Capability.PUBLISH, V),
        (Capability.LOCK, M),
        (Capability.SIGN, A),
        (Capability.ADMINISTER, ADMIN),
    ],
    ids=str,
)
def test_the_least_role_of_each_capability(capability: Capability, role: Role) -> None:
    assert required(capability) is role


def test_each_role_includes_the_ones_before_it() -> None:
    assert list(Role) == [V, M, A, ADMIN]
    assert [[r.includes(o) for o in Role] for r in Role] == [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, True],
    ]


def test_a_token_is_256_random_bits_behind_its_prefix() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(TOKEN.fullmatch(t) and looks_like_token(t) for t in tokens)
    assert TOKEN_PREFIX == "rcn_"


@pytest.mark.parametrize(
    "text",
    ["", "rcn_", "rcn_" + "a" * 42, "rcn_" + "a" * 44, "ghp_" + "a" * 43, "rcn_" + "a" * 42 + "="],
)
def test_what_is_not_a_token_is_told(text: str) -> None:
    assert not looks_like_token(text)


def test_a_token_is_kept_as_its_sha256() -> None:
    expected = "sha256:" + hashlib.sha256(b"rcn_secret").hexdigest()
    assert token_digest("rcn_secret") == expected


@pytest.mark.parametrize("name", ["ci", "a", "ci-bot-2", "x" * 63])
def test_a_token_name_like_a_campaign_name_is_taken(name: str) -> None:
    check_token_name(name)


@pytest.mark.parametrize("name", ["", "CI", "-ci", "ci-", "ci bot", "ci_bot", "x" * 64, "é"])
def test_any_other_token_name_is_refused_naming_the_pattern(name: str) -> None:
    with pytest.raises(RefusedError) as caught:
        check_token_name(name)
    assert str(caught.value) == (
        f"invalid token name {name!r:.80}: use 1-63 lower case letters, digits and inner hyphens "
        "([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)"
    )


def test_token_info_round_trips_through_json() -> None:
    info = TokenInfo("ci", Role.MANAGER, STAMP, None)
    assert info.to_json() == {"name": "ci", "role": "manager", "created": STAMP, "last_used": None}
    assert TokenInfo.from_json(info.to_json()) == info


def test_a_retired_key_verifies_as_long_as_a_plan_it_signed_is_applied() -> None:
    assert KEY_GRACE == signing.DEFAULT_MAX_AGE + signing.CLOCK_SKEW


def test_a_signing_key_has_the_id_a_plan_key_of_it_has_and_shows_only_that() -> None:
    key = SigningKey("ab" * 32, STAMP)
    assert key.key_id == signing.PlanKey.from_text(key.secret).key_id == key_id(b"ab" * 32)
    assert signing.PlanKey.of(key) == signing.PlanKey.from_text(key.secret)
    assert key.secret not in repr(key)
    assert repr(key) == f"SigningKey(key_id={key.key_id!r}, created={STAMP!r}, retired=None)"


# --- the platform's tokens, over every backend --------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rt(backend: str, tmp_path: Path, clock: FakeClock) -> Iterator[Platform]:
    """A runtime with one campaign written: a revision and a history to keep still."""
    with open_runtime(backend_url(backend, tmp_path, label="access"), clock=clock) as runtime:
        assert isinstance(runtime, Platform)
        activate(runtime, "alpha")
        yield runtime


def activate(runtime: Runtime, name: str, owner: LockOwner | None = None) -> None:
    runtime.apply(
        Write(
            key=f"k/{name}",
            action=Action.ACTIVATE,
            campaign=name,
            expected_etag=None,
            provenance=Provenance("alice"),
            spec=SPEC,
            lock_owner=owner.owner if owner else None,
        )
    )


def campaign_state(rt: Platform) -> tuple[object, ...]:
    return rt.revision(), rt.snapshot(), rt.history()


def raw_tokens(rt: Platform) -> list[tuple[Any, ...]]:
    """Every column of every token row, as the store keeps it."""
    if isinstance(rt.store, MemoryStore):
        return [(*t.to_json().values(), d) for t, d in rt.store.rows.tokens.values()]
    reader = probe("sqlite" if rt.url.startswith("sqlite") else "postgresql", rt.url)
    try:
        return reader.rows("SELECT name, role, created, last_used, digest FROM tokens") or []
    finally:
        reader.close()


def test_a_runtime_is_administered_by_its_platform(rt: Platform) -> None:
    assert isinstance(rt, Administration)
    assert isinstance(rt, Authority)


def test_a_token_is_made_once_and_only_its_digest_is_kept(rt: Platform) -> None:
    before = campaign_state(rt)
    secret = rt.create_token("ci-bot", Role.MANAGER)
    assert TOKEN.fullmatch(secret)
    assert rt.tokens() == [TokenInfo("ci-bot", Role.MANAGER, STAMP, None)]
    assert raw_tokens(rt) == [("ci-bot", "manager", STAMP, None, token_digest(secret))]
    assert campaign_state(rt) == before  # no revision, no history


def test_the_token_is_nowhere_in_the_sqlite_file(tmp_path: Path) -> None:
    with open_runtime(f"sqlite:///{tmp_path}/rt.db") as rt:
        assert isinstance(rt, Platform)
        secret = rt.create_token("ci", Role.VIEWER)
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in stored
    assert token_digest(secret).encode() in stored


def test_tokens_are_listed_by_name(rt: Platform) -> None:
    for name, role in [("zeta", V), ("alpha", ADMIN), ("mid", A)]:
        rt.create_token(name, role)
    assert [(t.name, t.role) for t in rt.tokens()] == [("alpha", ADMIN), ("mid", A), ("zeta", V)]


def test_a_name_in_use_is_refused(rt: Platform) -> None:
    rt.create_token("ci", Role.VIEWER)
    with pytest.raises(RefusedError) as caught:
        rt.create_token("ci", Role.ADMINISTRATOR)
    assert str(caught.value) == "token ci exists; revoke it first"
    assert rt.tokens() == [TokenInfo("ci", Role.VIEWER, STAMP, None)]


def test_an_invalid_name_is_refused_and_nothing_is_kept(rt: Platform) -> None:
    with pytest.raises(RefusedError, match="invalid token name 'CI'"):
        rt.create_token("CI", Role.VIEWER)
    assert rt.tokens() == []


def test_a_token_authenticates_until_it_is_revoked(rt: Platform) -> None:
    secret = rt.create_token("ci", Role.APPROVER)
    before = campaign_state(rt)
    assert rt.authenticate(secret) == TokenInfo("ci", Role.APPROVER, STAMP, STAMP)
    rt.revoke_token("ci")
    assert rt.authenticate(secret) is None
    assert rt.tokens() == []
    assert raw_tokens(rt) == []
    assert campaign_state(rt) == before


def test_a_name_revoked_may_be_given_again_with_a_new_token(rt: Platform) -> None:
    old = rt.create_token("ci", Role.VIEWER)
    rt.revoke_token("ci")
    new = rt.create_token("ci", Role.MANAGER)
    assert rt.authenticate(old) is None
    found = rt.authenticate(new)
    assert found is not None and found.role is Role.MANAGER


def test_revoking_an_unknown_token_is_refused(rt: Platform) -> None:
    with pytest.raises(RefusedError) as caught:
        rt.revoke_token("nobody")
    assert str(caught.value) == "no token named 'nobody'"


@pytest.mark.parametrize(
    "secret",
    ["", "rcn_" + "A" * 43, "not a token", "rcn_" + "A" * 43 + "\n"],
    ids=["empty", "unknown", "malformed", "newline"],
)
def test_what_is_no_token_authenticates_as_nobody(rt: Platform, secret: str) -> None:
    rt.create_token("ci", Role.VIEWER)
    assert rt.authenticate(secret) is None
    assert raw_tokens(rt)[0][3] is None  # last used: never


def test_the_last_use_is_written_at_most_once_a_minute(rt: Platform, clock: FakeClock) -> None:
    secret = rt.create_token("ci", Role.VIEWER)
    uses = []
    for seconds in (0, 30, 29.999, 0.001, 59):  # at 0, 30, 59.999, 60, 119 seconds
        clock.advance(seconds)
        found = rt.authenticate(secret)
        assert found is not None
        uses.append((found.last_used, raw_tokens(rt)[0][3]))
    minute = "2026-06-01T12:01:00.000Z"
    assert uses == [(STAMP, STAMP)] * 3 + [(minute, minute)] * 2


def test_a_runtime_that_does_not_exist_has_no_tokens_and_is_not_made(tmp_path: Path) -> None:
    with open_runtime(f"sqlite:///{tmp_path}/none.db") as rt:
        assert isinstance(rt, Platform)
        assert rt.tokens() == []
        assert rt.authenticate(new_token()) is None
        with pytest.raises(RefusedError, match="no token named 'ci'"):
            rt.revoke_token("ci")
        assert rt.break_lock() is None
    assert list(tmp_path.iterdir()) == []


def test_the_change_feed_is_not_woken_by_tokens_or_keys(rt: Platform) -> None:
    revision = rt.revision()
    secret = rt.create_token("ci", Role.VIEWER)
    rt.authenticate(secret)
    rt.rotate_signing_key()
    rt.revoke_token("ci")
    assert rt.changes(revision, timeout=0.2) == revision


@pytest.fixture
def postgresql_runtime() -> Iterator[str]:
    yield postgresql_url()
    drop_postgresql_schemas()


def admin(url: str, script: str) -> None:
    """Statements on the runtime's own schema, as the server's administrator."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(script.encode())


def test_postgresql_announces_no_token_or_key_write(
    postgresql_runtime: str, clock: FakeClock
) -> None:
    import psycopg

    url = postgresql_runtime
    with open_runtime(url, clock=clock) as rt, psycopg.connect(url, autocommit=True) as listener:
        assert isinstance(rt, Platform)
        activate(rt, "alpha")  # the schema made before listening
        listener.execute(f"LISTEN {postgresql._channel(postgresql_schema(url))}")
        secret = rt.create_token("ci", Role.VIEWER)
        rt.authenticate(secret)
        rt.signing_key()
        rt.rotate_signing_key()
        rt.revoke_token("ci")
        assert list(listener.notifies(timeout=0.5)) == []
        activate(rt, "beta")  # the control: a campaign write is announced
        assert [n.payload for n in listener.notifies(timeout=2, stop_after=1)] == ["2"]


def postgresql_schema(url: str) -> str:
    return url.rpartition("%3D")[2]


# --- the service's plan signing keys ------------------------------------------------------------


def signed(key: SigningKey, at: datetime) -> Plan:
    return signing.sign(
        Plan(runtime="memory://", runtime_id=None, runtime_revision=1), signing.PlanKey.of(key), at
    )


def test_the_signing_key_is_made_on_first_use_and_kept(rt: Platform) -> None:
    before = campaign_state(rt)
    key = rt.signing_key()
    assert re.fullmatch(r"[0-9a-f]{64}", key.secret)
    assert (key.created, key.retired) == (STAMP, None)
    assert rt.signing_key() == key
    assert rt.signing_keys() == [key]
    assert campaign_state(rt) == before


def test_a_rotation_keeps_the_previous_key_verifying_for_its_grace(
    rt: Platform, clock: FakeClock
) -> None:
    old = rt.signing_key()
    plan = signed(old, clock.now)
    clock.advance(60)
    new_id = rt.rotate_signing_key()
    new = rt.signing_key()
    assert new.key_id == new_id != old.key_id
    retired = replace(old, retired="2026-06-01T12:01:00.000Z")
    assert rt.signing_keys() == [new, retired]
    # the service verifies a plan with the key its signature names
    signing.verify_with_keys(plan, rt.signing_keys(), clock.now, KEY_GRACE, "plan")
    clock.advance(KEY_GRACE.total_seconds() - 1)
    assert rt.signing_keys() == [new, retired]
    clock.advance(1)
    assert rt.signing_keys() == [new]


def test_a_retired_key_verifies_only_what_it_signed_before_it_was_retired(
    rt: Platform, clock: FakeClock
) -> None:
    old = rt.signing_key()
    rt.rotate_signing_key()
    clock.advance(1)
    forged = signed(old, clock.now)  # with a key that leaked, after it was rotated away
    with pytest.raises(PlanError) as caught:
        signing.verify_with_keys(forged, rt.signing_keys(), clock.now, KEY_GRACE, "plan.json")
    assert str(caught.value) == (
        f"plan.json: the plan was signed at 2026-06-01T12:00:01.000Z with key {old.key_id}, "
        f"which was retired at {STAMP}; nothing was applied. Plan again"
    )


def test_a_plan_signed_with_a_key_the_service_never_had_is_refused(rt: Platform) -> None:
    current = rt.signing_key()
    stranger = SigningKey("cd" * 32, STAMP)
    with pytest.raises(PlanError) as caught:
        signing.verify_with_keys(
            signed(stranger, NOW), rt.signing_keys(), NOW, KEY_GRACE, "plan.json"
        )
    assert str(caught.value) == (
        f"plan.json: the plan was signed with another key (key {stranger.key_id}; the key set "
        f"here is {current.key_id}); nothing was applied. Plan again with this key, or apply "
        "with the key it was signed with"
    )
    with pytest.raises(PlanError, match="the runtime service has no plan signing key"):
        signing.verify_with_keys(signed(stranger, NOW), [], NOW, KEY_GRACE, "plan.json")


def test_a_rotation_before_any_key_makes_the_first(rt: Platform) -> None:
    key_id = rt.rotate_signing_key()
    assert [k.key_id for k in rt.signing_keys()] == [key_id]


def test_rotations_retire_every_key_but_the_newest(rt: Platform, clock: FakeClock) -> None:
    ids = []
    for _ in range(3):
        ids.append(rt.rotate_signing_key())
        clock.advance(1)
    keys = rt.signing_keys()
    assert [k.key_id for k in keys] == ids[::-1]
    assert [k.retired for k in keys] == [
        None,
        "2026-06-01T12:00:02.000Z",
        "2026-06-01T12:00:01.000Z",
    ]


# --- breaking the lock --------------------------------------------------------------------------


def test_breaking_the_lock_frees_it_and_fences_its_holder(rt: Platform) -> None:
    assert rt.acquire_lock(CI) is None
    before = campaign_state(rt)
    broken = rt.break_lock()
    assert broken is not None and broken.holder == CI
    assert campaign_state(rt) == before
    with pytest.raises(
        Exception, match=r"the runtime lock of ci@runner-1:101 was lost \(expired\)"
    ):
        activate(rt, "beta", owner=CI)
    assert rt.acquire_lock(DEV) is None  # free for the next one


def test_breaking_a_free_lock_breaks_nothing(rt: Platform) -> None:
    assert rt.break_lock() is None


# --- the history after a revision ---------------------------------------------------------------


def test_the_history_after_a_revision(rt: Platform) -> None:
    activate(rt, "beta")
    activate(rt, "gamma")
    assert [e.revision for e in rt.history()] == [1, 2, 3]
    assert [e.campaign for e in rt.history(after=1)] == ["beta", "gamma"]
    assert [e.campaign for e in rt.history("beta", after=1)] == ["beta"]
    assert rt.history("alpha", after=1) == []
    assert rt.history(after=3) == []


# --- copies and upgrades ------------------------------------------------------------------------


def test_a_migration_copies_tokens_and_keys(
    rt: Platform, backend: str, tmp_path: Path, clock: FakeClock
) -> None:
    secret = rt.create_token("ci", Role.MANAGER)
    old = rt.signing_key()
    rt.rotate_signing_key()
    with open_runtime(f"sqlite:///{tmp_path}/copy.db", clock=clock) as copy:
        assert isinstance(copy, Platform)
        copied = migrate(rt.store, copy.store)
        assert (copied.tokens, copied.signing_keys) == (1, 2)
        assert copy.authenticate(secret) == rt.authenticate(secret)
        assert copy.signing_keys() == rt.signing_keys()
        assert old in [replace(k, retired=None) for k in copy.signing_keys()]


def test_a_runtime_with_a_token_is_not_empty_for_a_migration(rt: Platform, tmp_path: Path) -> None:
    with open_runtime(f"sqlite:///{tmp_path}/target.db") as target:
        assert isinstance(target, Platform)
        target.create_token("ci", Role.VIEWER)
        with pytest.raises(RefusedError, match="is not empty"):
            migrate(rt.store, target.store)
        assert target.snapshot().campaigns == {}


def test_a_sqlite_runtime_of_version_3_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "rt.db"
    with open_runtime(f"sqlite:///{db}") as rt:
        activate(rt, "alpha")
    with closing(sqlite3.connect(db)) as old:  # as version 3 left it
        old.executescript(
            "DROP TABLE tokens; DROP TABLE signing_keys; DROP INDEX history_by_revision; "
            "DROP TABLE sessions; DROP TABLE published_plans; "
            "UPDATE meta SET value = '3' WHERE key = 'schema_version';"
        )
    with open_runtime(f"sqlite:///{db}") as rt:
        assert isinstance(rt, Platform)
        assert rt.tokens() == []
        secret = rt.create_token("ci", Role.VIEWER)
        assert rt.authenticate(secret) is not None
        assert [e.campaign for e in rt.history(after=0)] == ["alpha"]
    with closing(sqlite3.connect(db)) as check:
        version = check.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(sqlite.SCHEMA_VERSION),) == ("5",)


def test_a_postgresql_runtime_of_version_1_is_read_as_it_is_then_upgraded(
    postgresql_runtime: str,
) -> None:
    url = postgresql_runtime
    with open_runtime(url) as rt:
        activate(rt, "alpha")
    admin(  # as version 1 left it
        url,
        "DROP TABLE tokens; DROP TABLE signing_keys; DROP INDEX history_by_revision; "
        "DROP TABLE sessions; DROP TABLE published_plans; "
        "UPDATE meta SET value = '1' WHERE key = 'schema_version'",
    )
    reader = probe("postgresql", url)
    try:
        with open_runtime(url) as rt:
            assert isinstance(rt, Platform)
            assert (rt.tokens(), rt.signing_keys(), rt.authenticate(new_token())) == ([], [], None)
            assert reader.one("SELECT value FROM meta WHERE key = 'schema_version'") == "1"
            secret = rt.create_token("ci", Role.VIEWER)  # a write: the upgrade, then the row
            assert rt.authenticate(secret) is not None
        assert reader.one("SELECT value FROM meta WHERE key = 'schema_version'") == "3"
        assert postgresql.SCHEMA_VERSION == 3
    finally:
        reader.close()


# --- the command line ---------------------------------------------------------------------------


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    runtime = f"sqlite:///{tmp_path}/rt.db"
    cli_environment(monkeypatch, runtime=runtime, now="2026-06-01T12:00:00Z")
    return runtime


def test_token_create_prints_the_token_alone_and_says_so_on_stderr(url: str) -> None:
    result = run("token", "create", "ci-bot", "--role", "manager")
    assert result.exit_code == 0
    assert TOKEN.fullmatch(result.stdout.removesuffix("\n"))
    assert result.stderr == (
        "token ci-bot (manager) created; it is shown once: keep it in a secret store\n"
    )
    with open_runtime(url, clock=lambda: NOW) as rt:
        assert isinstance(rt, Platform)
        assert rt.authenticate(result.stdout.strip()) == TokenInfo("ci-bot", M, STAMP, STAMP)


def test_token_create_refuses_a_name_in_use_in_one_line(url: str) -> None:
    assert run("token", "create", "ci", "--role", "viewer").exit_code == 0
    result = run("token", "create", "ci", "--role", "administrator")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "error: token ci exists; revoke it first\n",
    )


def test_token_create_takes_only_the_four_roles(url: str) -> None:
    result = run("token", "create", "ci", "--role", "owner")
    assert result.exit_code == 1
    assert "'owner' is not one of 'viewer', 'manager', 'approver', 'administrator'" in (
        result.stderr
    )


def test_token_list_shows_no_secret(url: str) -> None:
    secret = run("token", "create", "web", "--role", "viewer").stdout.strip()
    run("token", "create", "ci", "--role", "approver")
    with open_runtime(url, clock=lambda: NOW + timedelta(hours=1)) as rt:
        assert isinstance(rt, Platform)
        rt.authenticate(secret)
    result = run("token", "list")
    assert (result.exit_code, result.stdout) == (
        0,
        "NAME  ROLE      CREATED                   LAST USED\n"
        "ci    approver  2026-06-01T12:00:00.000Z  never\n"
        "web   viewer    2026-06-01T12:00:00.000Z  2026-06-01T13:00:00.000Z\n",
    )
    result = run("token", "list", "--format", "json")
    assert result.exit_code == 0
    assert result.stdout == (
        "{\n"
        '  "tokens": [\n'
        '    {\n      "name": "ci",\n      "role": "approver",\n'
        f'      "created": "{STAMP}",\n      "last_used": null\n    }},\n'
        '    {\n      "name": "web",\n      "role": "viewer",\n'
        f'      "created": "{STAMP}",\n      "last_used": "2026-06-01T13:00:00.000Z"\n    }}\n'
        "  ]\n"
        "}\n"
    )
    assert secret not in result.stdout and "sha256" not in result.stdout


def test_token_list_of_none(url: str) -> None:
    assert run("token", "list").stdout == "No tokens.\n"


def test_token_revoke(url: str) -> None:
    run("token", "create", "ci", "--role", "viewer")
    result = run("token", "revoke", "ci")
    assert (result.exit_code, result.stdout) == (0, "token ci revoked\n")
    result = run("token", "revoke", "ci")
    assert (result.exit_code, result.stderr) == (1, "error: no token named 'ci'\n")


def test_token_rotate_key_prints_the_new_id_only(url: str) -> None:
    result = run("token", "rotate-key")
    assert result.exit_code == 0
    with open_runtime(url) as rt:
        assert isinstance(rt, Platform)
        key = rt.signing_key()
    assert result.stdout == f"{key.key_id}\n"
    assert key.secret not in result.output
    assert (
        result.stderr == "plan signing key rotated: the service signs plans with it from now on\n"
    )


def test_runtime_unlock_says_whose_lock_it_broke(url: str) -> None:
    with open_runtime(url) as rt:
        assert rt.acquire_lock(CI) is None
        held = rt.acquire_lock(DEV)
    assert held is not None
    result = run("runtime", "unlock")
    assert (result.exit_code, result.stdout) == (0, f"broke the lock of {held.describe()}\n")
    result = run("runtime", "unlock")
    assert (result.exit_code, result.stdout) == (0, "the runtime was not locked\n")


class Bare:
    """A third party's runtime, with campaigns and nothing else."""

    url = "thirdparty://user:secret@host"

    def __enter__(self) -> Bare:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.mark.parametrize(
    "command",
    [("token", "create", "ci", "--role", "viewer"), ("token", "list"), ("runtime", "unlock")],
)
def test_a_runtime_without_administration_is_told_in_one_line(
    url: str, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setattr(api.options, "open_runtime", lambda *args, **kwargs: Bare())
    result = run(*command)
    assert (result.exit_code, result.stderr) == (
        1,
        "error: runtime thirdparty://user:***@host has no tokens, signing keys or lock to break: "
        "only the stores' runtimes (sqlite, postgresql, memory) and the runtime service have "
        "them\n",
    )


def test_runtime_migrate_says_it_copied_tokens_and_keys(url: str, tmp_path: Path) -> None:
    run("token", "create", "ci", "--role", "viewer")
    run("token", "rotate-key")
    run("token", "rotate-key")
    copy = f"sqlite:///{tmp_path}/copy.db"
    result = run("runtime", "migrate", "--from", url, "--to", copy)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "copied 0 campaigns, 0 history entries, 0 sendings, 0 segments, 0 idempotency keys, "
        "1 token, 2 signing keys (revision 0)"
    )
    assert run("token", "list", "--runtime", copy).stdout == run("token", "list").stdout
