"""Saved plans that were forged or altered, and signed plans: apply --plan refuses what it cannot
trust, applying nothing, and says why.

A forger here does what anyone who can write the CI artifact can do: edit the JSON and recompute
every unkeyed hash in it (spec hashes, the summary, the plan id). Without a key such a plan is
applied (that is what an unsigned plan is: its checks catch mistakes, not attackers); with one,
it is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from factories import EMAIL_YAML, IN_APP_YAML, PUSH_YAML, cli_environment
from reconciler import api, executor, render, signing
from reconciler.cli import cli
from reconciler.errors import PlanError
from reconciler.model import RuntimeState, canonical_json, spec_hash
from reconciler.plan import loads
from reconciler.runtime.base import HistoryEntry, Provenance
from reconciler.runtime.registry import open_runtime

RUNTIME = "sqlite:///.reconciler/runtime.db"
KEY = "5d41402abc4b2a76b9719d911017c592" + "7e2c1a3f"  # 40 characters
OTHER_KEY = "0f" * 32
KEY_ID = signing.PlanKey.from_text(KEY).key_id
OTHER_KEY_ID = signing.PlanKey.from_text(OTHER_KEY).key_id
SIGNED = {"RECONCILER_PLAN_KEY": KEY}
ALTERED = "the plan was altered after it was made. Nothing was applied"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch, RUNTIME)
    for name in ("RECONCILER_PLAN_KEY", "RECONCILER_PLAN_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "campaigns").mkdir()
    return tmp_path


def write(name: str, text: str) -> None:
    Path("campaigns", f"{name}.yaml").write_text(text, encoding="utf-8")


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def state() -> tuple[RuntimeState, list[HistoryEntry]]:
    """Everything the runtime holds: a refused plan must leave it exactly so."""
    runtime = open_runtime(RUNTIME)
    try:
        return runtime.snapshot(), runtime.history()
    finally:
        runtime.close()


def runtime_id() -> str | None:
    runtime = open_runtime(RUNTIME)
    try:
        return runtime.runtime_id()
    finally:
        runtime.close()


def reseal(data: dict[str, Any], *, hashes: bool = True) -> None:
    """What a forger does after an edit: every spec hash (unless told not to) and the plan id made
    again (the id is an unkeyed hash of the rest). The signature, which needs the key, is left."""
    for op in data["operations"]:
        if hashes and op["spec"] is not None:
            op["spec_hash"] = spec_hash(op["spec"])
    body = {k: v for k, v in data.items() if k not in ("plan_id", "signature")}
    # the id is over the plan's data: each operation's reason in words is not part of it
    body["operations"] = [
        {k: v for k, v in op.items() if k != "reason"} for op in data["operations"]
    ]
    data["plan_id"] = "plan-" + hashlib.sha256(canonical_json(body).encode()).hexdigest()[:16]


def forge(
    edit: Callable[[dict[str, Any]], object], *, resealed: bool = True, hashes: bool = True
) -> None:
    saved = Path("plan.json")
    data = json.loads(saved.read_text(encoding="utf-8"))
    edit(data)
    if resealed:
        reseal(data, hashes=hashes)
    saved.write_text(json.dumps(data, indent=2), encoding="utf-8")


def sneaky_subject(data: dict[str, Any]) -> None:
    data["operations"][0]["spec"]["content"]["title"] = "Click here to claim your prize"


def injected(data: dict[str, Any]) -> None:
    """A campaign nobody reviewed, activated by the plan; the summary counts it, as a reviewer
    reading only the summary would otherwise notice."""
    spec = {"channel": "sms", "audience": {"segment": "everyone"}, "content": {"text": "Win!"}}
    data["operations"].append(
        {
            "campaign": "prize", "action": "activate", "reason_code": "new-live",
            "file": "campaigns/prize.yaml", "from_version": None, "to_version": 1, "changes": [],
            "etag": None, "manifest_hash": None, "spec_hash": None, "kind": "one-time",
            "channel": "sms", "spec": spec, "copied_from": None, "copy_base": None,
            "activate": False, "source_etag": None, "depends_on": [], "drift": None,
            "next_sendings": [], "sendings_before": [], "reason_params": {}, "zone": None,
            "inherited": 0,
            "zone_before": None, "on_activation": False,
        }
    )  # fmt: skip
    data["summary"]["activate"] += 1


def title_of(name: str) -> str:
    campaign = state()[0].campaigns[name]
    assert campaign.live is not None
    return str(campaign.live.spec["content"]["title"])


@pytest.fixture
def replace_plan(repo: Path) -> None:
    """A live weekly campaign, and plan.json replacing its subject, saved without a key."""
    write("weekly", PUSH_YAML.format(name="weekly", title="Week"))
    assert run("apply").exit_code == 0
    write("weekly", PUSH_YAML.format(name="weekly", title="Next week"))
    assert run("plan", "--out", "plan.json").exit_code == 0


@pytest.fixture
def signed_replace_plan(repo: Path) -> None:
    """The same, with plan.json signed with KEY at RECONCILER_NOW (2026-11-27T12:00:00Z)."""
    write("weekly", PUSH_YAML.format(name="weekly", title="Week"))
    assert run("apply").exit_code == 0
    write("weekly", PUSH_YAML.format(name="weekly", title="Next week"))
    assert run("plan", "--out", "plan.json", env=SIGNED).exit_code == 0


def refused(result: Result, message: str, before: tuple[RuntimeState, list[HistoryEntry]]) -> None:
    assert (result.exit_code, result.output) == (1, f"error: {message}\n")
    assert state() == before


# --- the forgeries of the issue -------------------------------------------------------------------


@pytest.mark.usefixtures("replace_plan")
def test_a_changed_spec_with_its_hash_left_is_refused() -> None:
    forge(sneaky_subject, hashes=False)  # the id made again, the spec hash left as it was
    before = state()
    refused(
        run("apply", "--plan", "plan.json"),
        f"plan.json: operation weekly (replace): its spec does not match its spec_hash; {ALTERED}",
        before,
    )
    assert title_of("weekly") == "Week"


@pytest.mark.usefixtures("replace_plan")
def test_a_changed_spec_resealed_whole_applies_without_a_key() -> None:
    """Expected, and documented: without a key, a plan is checked against mistakes only, and
    anyone who can write the artifact can make one that passes. That is what signing is for."""
    forge(sneaky_subject)
    result = run("apply", "--plan", "plan.json")
    assert result.exit_code == 0, result.output
    assert title_of("weekly") == "Click here to claim your prize"


@pytest.mark.usefixtures("signed_replace_plan")
def test_a_changed_spec_resealed_whole_is_refused_when_signed() -> None:
    forge(sneaky_subject)
    before = state()
    refused(
        run("apply", "--plan", "plan.json", env=SIGNED),
        "plan.json: its signature does not match its content; the plan was altered after it "
        "was signed. Nothing was applied",
        before,
    )


@pytest.mark.usefixtures("signed_replace_plan")
def test_an_injected_campaign_is_refused_when_signed() -> None:
    forge(injected)
    assert loads(Path("plan.json").read_text()).summary()["activate"] == 1  # it reads as whole
    before = state()
    refused(
        run("apply", "--plan", "plan.json", env=SIGNED),
        "plan.json: its signature does not match its content; the plan was altered after it "
        "was signed. Nothing was applied",
        before,
    )
    assert "prize" not in before[0].campaigns


@pytest.mark.usefixtures("signed_replace_plan")
def test_a_signing_time_moved_to_outlive_the_max_age_is_refused_as_altered() -> None:
    forge(lambda data: data["signature"].update(signed_at="2026-11-30T12:00:00.000Z"))
    before = state()
    refused(
        run("apply", "--plan", "plan.json", env=SIGNED | {"RECONCILER_NOW": "2026-11-30T12:00Z"}),
        "plan.json: its signature does not match its content; the plan was altered after it "
        "was signed. Nothing was applied",
        before,
    )


@pytest.mark.usefixtures("replace_plan")
def test_a_runtime_id_changed_to_another_runtimes_is_refused() -> None:
    elsewhere = "postgresql://app:s3cret@db.example:5432/campaigns"
    forge(lambda data: data.update(runtime=elsewhere, runtime_id="f" * 32))
    before = state()
    refused(
        run("apply", "--plan", "plan.json"),
        "the saved plan was made for another runtime, "
        f"postgresql://app:***@db.example:5432/campaigns (id {'f' * 32}), not for {RUNTIME} "
        f"(id {runtime_id()}); nothing was applied. Apply it with --runtime naming the runtime "
        "it was made for, or plan again",
        before,
    )


@pytest.mark.usefixtures("replace_plan")
def test_a_runtime_id_set_to_null_on_a_plan_for_a_runtime_in_use_is_refused() -> None:
    forge(lambda data: data.update(runtime_id=None))
    before = state()
    refused(
        run("apply", "--plan", "plan.json"),
        f"the saved plan was made for {RUNTIME} while that runtime did not exist yet, and the "
        f"runtime here ({RUNTIME}) has been written to since (revision 1); nothing was applied. "
        "Plan again",
        before,
    )


@pytest.mark.usefixtures("replace_plan")
def test_apply_never_connects_to_the_runtime_named_in_the_plan() -> None:
    """The plan's URL is shown, never used: apply writes to the runtime it is told to."""
    forge(lambda data: data.update(runtime="sqlite:///elsewhere.db"))
    assert run("apply", "--plan", "plan.json").exit_code == 0
    assert title_of("weekly") == "Next week"
    assert not Path("elsewhere.db").exists()


def test_a_plan_for_a_runtime_that_did_not_exist_is_refused_once_it_is_written_to(
    repo: Path,
) -> None:
    write("weekly", PUSH_YAML.format(name="weekly", title="Week"))
    assert run("plan", "--out", "plan.json").exit_code == 0
    assert json.loads(Path("plan.json").read_text())["runtime_id"] is None
    write("banner", IN_APP_YAML.format(name="banner", title="Hi"))
    assert run("apply", "campaigns/banner.yaml").exit_code == 0
    before = state()
    refused(
        run("apply", "--plan", "plan.json"),
        f"the saved plan was made for {RUNTIME} while that runtime did not exist yet, and the "
        f"runtime here ({RUNTIME}) has been written to since (revision 1); nothing was applied. "
        "Plan again",
        before,
    )


# --- signing --------------------------------------------------------------------------------------


def test_a_signed_plan_records_its_key_id_and_time_never_its_key(repo: Path) -> None:
    write("weekly", PUSH_YAML.format(name="weekly", title="Week"))
    result = run("plan", "--out", "plan.json", env=SIGNED)
    assert result.exit_code == 0
    text = Path("plan.json").read_text(encoding="utf-8")
    signature = json.loads(text)["signature"]
    assert set(signature) == {"algorithm", "key_id", "signed_at", "value"}
    assert signature["algorithm"] == "hmac-sha256"
    assert signature["key_id"] == KEY_ID and len(KEY_ID) == 12
    assert signature["signed_at"] == "2026-11-27T12:00:00.000Z"  # RECONCILER_NOW
    assert len(signature["value"]) == 64
    applied = run("apply", "--plan", "plan.json", "--format", "json", env=SIGNED)
    assert applied.exit_code == 0, applied.output
    assert state()[0].campaigns["weekly"].live is not None
    for shown in (text, result.output, applied.output, Path(".reconciler/runtime.db").read_bytes()):
        assert (KEY.encode() if isinstance(shown, bytes) else KEY) not in shown


@pytest.mark.usefixtures("replace_plan")
def test_an_unsigned_plan_is_refused_where_a_key_is_set() -> None:
    before = state()
    refused(
        run("apply", "--plan", "plan.json", env=SIGNED),
        "plan.json: the plan is not signed, and a plan key is set here (RECONCILER_PLAN_KEY), so "
        "only signed plans are applied; nothing was applied. Make the plan with `plan --out` "
        "where the key is set",
        before,
    )


@pytest.mark.usefixtures("signed_replace_plan")
def test_a_plan_signed_with_another_key_is_refused() -> None:
    before = state()
    refused(
        run("apply", "--plan", "plan.json", env={"RECONCILER_PLAN_KEY": OTHER_KEY}),
        f"plan.json: the plan was signed with another key (key {KEY_ID}; the key set here is "
        f"{OTHER_KEY_ID}); nothing was applied. Plan again with this key, or apply with the key "
        "it was signed with",
        before,
    )


@pytest.mark.usefixtures("signed_replace_plan")
def test_a_signed_plan_is_refused_where_no_key_is_set() -> None:
    """An apply job that lost its key is misconfigured: it fails closed, and says so."""
    before = state()
    refused(
        run("apply", "--plan", "plan.json"),
        f"plan.json: the plan is signed (key {KEY_ID}), but no plan key is set here "
        "(RECONCILER_PLAN_KEY), so its signature cannot be checked; nothing was applied. Give "
        "this job the key the plan was signed with",
        before,
    )


@pytest.mark.usefixtures("signed_replace_plan")
@pytest.mark.parametrize(
    ("now", "max_age", "age"),
    [
        ("2026-11-28T12:00:01Z", None, "1d 1s ago, and a signed plan is applied for 1d"),
        ("2026-11-27T13:31:00Z", "90m", "1h 31m ago, and a signed plan is applied for 1h 30m"),
        ("2026-11-27T12:01:00Z", "59", "1m ago, and a signed plan is applied for 59s"),
    ],
    ids=["default-24h", "90m", "seconds"],
)
def test_a_signed_plan_older_than_its_max_age_is_refused(
    now: str, max_age: str | None, age: str
) -> None:
    env = SIGNED | {"RECONCILER_NOW": now}
    if max_age is not None:
        env["RECONCILER_PLAN_MAX_AGE"] = max_age
    before = state()
    refused(
        run("apply", "--plan", "plan.json", env=env),
        f"plan.json: the plan was signed at 2026-11-27T12:00:00.000Z, {age} "
        "(RECONCILER_PLAN_MAX_AGE); nothing was applied. Plan again",
        before,
    )


@pytest.mark.usefixtures("signed_replace_plan")
@pytest.mark.parametrize(
    ("now", "max_age"),
    [("2026-11-28T12:00:00Z", None), ("2026-11-29T11:00:00Z", "2d"), ("2026-11-27T12:59Z", "3600")],
    ids=["24h-exactly", "2d", "3600"],
)
def test_a_signed_plan_within_its_max_age_applies(now: str, max_age: str | None) -> None:
    env = SIGNED | {"RECONCILER_NOW": now}
    if max_age is not None:
        env["RECONCILER_PLAN_MAX_AGE"] = max_age
    result = run("apply", "--plan", "plan.json", env=env)
    assert result.exit_code == 0, result.output
    assert title_of("weekly") == "Next week"


def test_a_plan_signed_in_the_future_is_refused(repo: Path) -> None:
    write("weekly", PUSH_YAML.format(name="weekly", title="Week"))
    later = SIGNED | {"RECONCILER_NOW": "2026-11-27T13:00:00Z"}
    assert run("plan", "--out", "plan.json", env=later).exit_code == 0
    before = state()
    refused(
        run("apply", "--plan", "plan.json", env=SIGNED),
        "plan.json: the plan was signed at 2026-11-27T13:00:00.000Z, 1h from now "
        "(2026-11-27T12:00:00.000Z); nothing was applied. Check the clocks of the jobs that plan "
        "and apply",
        before,
    )


def test_a_plan_signed_by_a_clock_a_little_ahead_applies(repo: Path) -> None:
    write("weekly", PUSH_YAML.format(name="weekly", title="Week"))
    ahead = SIGNED | {"RECONCILER_NOW": "2026-11-27T12:04:59Z"}
    assert run("plan", "--out", "plan.json", env=ahead).exit_code == 0
    assert run("apply", "--plan", "plan.json", env=SIGNED).exit_code == 0


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "short-but-secret",
            "RECONCILER_PLAN_KEY is 16 characters long; a plan key needs at least 32 random "
            "ones: make one with `openssl rand -hex 32`",
        ),
        (
            "  ",
            "RECONCILER_PLAN_KEY is set but empty (a secret this job does not have?); set it to "
            "a key of at least 32 random characters (`openssl rand -hex 32`), or unset it",
        ),
    ],
    ids=["short", "empty"],
)
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_short_key_is_refused_with_advice(
    repo: Path, key: str, message: str, command: str
) -> None:
    write("weekly", PUSH_YAML.format(name="weekly", title="Week"))
    if command == "apply":
        assert run("plan", "--out", "plan.json").exit_code == 0
    before = state()
    args = ["plan", "--out", "plan.json"] if command == "plan" else ["apply", "--plan", "plan.json"]
    refused(run(*args, env={"RECONCILER_PLAN_KEY": key}), message, before)
    assert Path("plan.json").exists() is (command == "apply")  # no plan was saved unsigned


@pytest.mark.usefixtures("replace_plan")
@pytest.mark.parametrize("value", ["soon", "0", "-5", "1w", "24 h", "9999999999"])
def test_a_bad_max_age_is_a_one_line_error(value: str) -> None:
    before = state()
    refused(
        run("apply", "--plan", "plan.json", env={"RECONCILER_PLAN_MAX_AGE": value}),
        f"RECONCILER_PLAN_MAX_AGE {value!r} is not a duration: give seconds (3600) or a number "
        "with s, m, h or d (90m, 24h, 2d)",
        before,
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        *[(None, 86400), ("", 86400), ("3600", 3600), ("45s", 45), ("90m", 5400)],
        *[("24h", 86400), ("2d", 172800), (" 2d ", 172800)],
    ],
)
def test_max_age_values(text: str | None, seconds: int) -> None:
    assert api.parse_max_age(text) == timedelta(seconds=seconds)


# --- applied before, applied in part -------------------------------------------------------------


@pytest.mark.usefixtures("signed_replace_plan")
def test_a_plan_applied_whole_before_exits_0_saying_when_and_by_whom() -> None:
    first = run("apply", "--plan", "plan.json", env=SIGNED | {"RECONCILER_ACTOR": "alice"})
    assert first.exit_code == 0, first.output
    plan_id = json.loads(Path("plan.json").read_text())["plan_id"]
    after = state()
    retry = SIGNED | {"RECONCILER_ACTOR": "ci-retry", "RECONCILER_NOW": "2026-11-27T12:10:00Z"}
    again = run("apply", "--plan", "plan.json", env=retry)
    assert (again.exit_code, again.output) == (
        0,
        f"the saved plan {plan_id} was already applied (2026-11-27T12:00:00.000Z by alice); "
        "nothing was applied again\n",
    )
    as_json = run("apply", "--plan", "plan.json", "--format", "json", env=retry)
    assert as_json.exit_code == 0
    body = json.loads(as_json.output)
    assert body["already_applied"] == {"at": "2026-11-27T12:00:00.000Z", "actor": "alice"}
    assert (body["ledger"], body["summary"]) == ([], {"done": 0, "failed": 0, "skipped": 0})
    assert body["plan"]["plan_id"] == plan_id
    assert state() == after


@pytest.mark.usefixtures("repo")
def test_a_plan_applied_now_says_so_in_json() -> None:
    write("weekly", PUSH_YAML.format(name="weekly", title="Week"))
    body = json.loads(run("apply", "--format", "json").output)
    assert body["already_applied"] is None


def test_a_signed_plan_applied_in_part_resumes(repo: Path) -> None:
    """An apply killed half way: the same signed plan, applied again, does the rest."""
    for name in ("alpha", "beta", "gamma"):
        write(name, PUSH_YAML.format(name=name, title=name.title()))
    options = api.Options(RUNTIME, "ci-bot", api.parse_since("2026-11-27T12:00:00Z"))
    key = api.plan_key(KEY)
    api.save_plan(
        api.plan("campaigns", options), "plan.json", render.plan_json, key=key, now=options.clock()
    )
    saved = api.load_plan("plan.json")
    runtime = options.open()
    try:
        runtime.apply(executor._write(saved.operations[0], saved, Provenance("ci-bot")))
    finally:
        runtime.close()
    ledger = api.apply_saved("plan.json", options, key=key)
    assert ledger.ok and ledger.already_applied is None
    assert [(e.campaign, e.replayed) for e in ledger.entries] == [
        ("alpha", True),
        ("beta", False),
        ("gamma", False),
    ]
    assert {e.plan_id for e in state()[1]} == {saved.plan_id}
    assert len(state()[1]) == 3


# --- what the plan says of itself -----------------------------------------------------------------


@pytest.mark.usefixtures("replace_plan")
def test_a_format_1_plan_is_refused() -> None:
    forge(lambda data: data.update(format_version=1), resealed=False)
    before = state()
    refused(
        run("apply", "--plan", "plan.json"),
        "plan.json: plan format 1 was made by an older reconciler (this one reads format 3); "
        "nothing was applied. Plan again",
        before,
    )


def stop_with_spec(data: dict[str, Any]) -> None:
    data["operations"][0]["action"] = "stop"
    data["summary"] |= {"replace": 0, "stop": 1}


def activate_flag(data: dict[str, Any]) -> None:
    data["operations"][0]["activate"] = True


def copied(data: dict[str, Any]) -> None:
    data["operations"][0]["copied_from"] = "weekly-2025"


def depends(data: dict[str, Any]) -> None:
    data["operations"][0]["depends_on"] = ["nobody"]


def miscounted(data: dict[str, Any]) -> None:
    data["summary"]["replace"] = 0


def twice(data: dict[str, Any]) -> None:
    data["operations"].append(dict(data["operations"][0]))
    data["summary"]["replace"] = 2


def no_spec(data: dict[str, Any]) -> None:
    data["operations"][0]["spec"] = None


def renamed(data: dict[str, Any]) -> None:
    """A name that would forge a line of the CI log, were it printed as it is."""
    data["operations"][0]["campaign"] = "weekly\nApply: 1 done"
    data["operations"][0]["spec"] = None


@pytest.mark.usefixtures("replace_plan")
@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (stop_with_spec, "operation weekly (stop): a stop writes no spec, and it has one"),
        (no_spec, "operation weekly (replace): a replace writes a spec, and it has none"),
        (renamed, "operation 'weekly\\nApply: 1 done' (replace): a replace writes a spec, and "
         "it has none"),
        (activate_flag, "operation weekly (replace): a replace does not activate, and it says "
         "activate"),
        (copied, "operation weekly (replace): a replace has no source, and it has copied_from, "
         "copy_base or source_etag"),
        (depends, "operation weekly (replace): it depends on 'nobody', which is neither a "
         "campaign of the plan nor its source"),
        (twice, "operation weekly (replace): the campaign has another operation before this one"),
        (miscounted, "its summary does not match its operations ('replace': 0 in the summary, "
         "1 counted)"),
    ],
    ids=["stop-with-spec", "replace-without-spec", "renamed", "activate", "copied-from",
         "depends-on", "twice", "summary"],
)  # fmt: skip
def test_a_resealed_plan_that_contradicts_itself_is_refused(
    edit: Callable[[dict[str, Any]], None], problem: str
) -> None:
    forge(edit)
    before = state()
    refused(run("apply", "--plan", "plan.json"), f"plan.json: {problem}; {ALTERED}", before)
    with pytest.raises(PlanError) as caught:
        loads(Path("plan.json").read_text(), "saved")
    assert str(caught.value) == f"saved: {problem}; {ALTERED}"


def test_every_operation_that_writes_a_spec_carries_its_hash(repo: Path) -> None:
    write("weekly", PUSH_YAML.format(name="weekly", title="Week"))
    write("banner", IN_APP_YAML.format(name="banner", title="Hi"))
    assert run("apply").exit_code == 0
    write("weekly", PUSH_YAML.format(name="weekly", title="Next week"))
    write(
        "banner",
        IN_APP_YAML.format(name="banner", title="Hi").replace("live", "live\n  run: stopped"),
    )
    write("launch", EMAIL_YAML.format(name="launch", subject="Hi"))
    assert run("plan", "--out", "plan.json").exit_code == 0
    operations = json.loads(Path("plan.json").read_text())["operations"]
    assert [(op["campaign"], op["action"]) for op in operations] == [
        ("banner", "stop"),
        ("launch", "activate"),
        ("weekly", "replace"),
    ]
    for op in operations:
        expected = spec_hash(op["spec"]) if op["spec"] is not None else None
        assert op["spec_hash"] == expected
        assert op["manifest_hash"].startswith("sha256:")  # the manifest document's, as before
    assert operations[0]["spec_hash"] is None


# --- the signing module, through the library -----------------------------------------------------


def test_a_key_shows_its_id_never_itself() -> None:
    key = signing.PlanKey.from_text(f"  {KEY}\n")  # as a secret file holds it: stripped
    assert key == signing.PlanKey.from_text(KEY)
    assert KEY not in repr(key) and KEY_ID in repr(key)


@pytest.mark.usefixtures("signed_replace_plan")
def test_a_signature_of_another_algorithm_is_refused() -> None:
    forge(lambda data: data["signature"].update(algorithm="hmac-sha1"))
    options = api.Options(RUNTIME, "ci-bot", api.parse_since("2026-11-27T12:00:00Z"))
    before = state()
    with pytest.raises(PlanError) as caught:
        api.apply_saved("plan.json", options, key=api.plan_key(KEY))
    assert str(caught.value) == (
        "plan.json: the plan is signed with hmac-sha1, not hmac-sha256; nothing was applied. "
        "Plan again"
    )
    assert state() == before


def test_a_signature_covers_the_plan_and_its_signing_time(repo: Path) -> None:
    write("weekly", PUSH_YAML.format(name="weekly", title="Week"))
    options = api.Options(RUNTIME, "ci-bot", api.parse_since("2026-11-27T12:00:00Z"))
    key = signing.PlanKey.from_text(KEY)
    plan = api.plan("campaigns", options)
    signed = signing.sign(plan, key, options.clock())
    assert signed == plan and signed.plan_id == plan.plan_id  # the signature is beside the plan
    assert signed.signature is not None
    now, day = options.clock(), timedelta(days=1)
    signing.verify(signed, key, now, day, "plan.json")  # as made: accepted
    later = dataclasses.replace(signed.signature, signed_at="2026-11-27T12:00:01.000Z")
    other_plan = dataclasses.replace(plan, unchanged=plan.unchanged + 1)
    for forged in (
        dataclasses.replace(plan, signature=later),
        dataclasses.replace(other_plan, signature=signed.signature),
    ):
        with pytest.raises(PlanError) as caught:
            signing.verify(forged, key, now, day, "plan.json")
        assert str(caught.value) == (
            "plan.json: its signature does not match its content; the plan was altered after "
            "it was signed. Nothing was applied"
        )
