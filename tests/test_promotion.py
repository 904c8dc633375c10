"""Promotion: base hashes (a manifest's own spec, before an environment's overlay), carried by
operations, recorded by versions on every runtime backend, kept by saved plans; and the check that
a production plan makes live only what has been live in staging."""

from __future__ import annotations

import dataclasses
import json
import marshal
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from backends import BACKENDS, backend_url
from factories import INBOUND, RECURRING, manifest, with_subject
from reconciler import executor, manifests, planner, promotion, render
from reconciler.errors import Diagnostic, PlanError
from reconciler.executor import hold_lock
from reconciler.model import (
    Action,
    Manifest,
    RuntimeState,
    Version,
    base_hash,
    spec_hash,
)
from reconciler.plan import Plan, loads
from reconciler.runtime.base import HistoryEntry, LockOwner, Provenance, Runtime, Write
from reconciler.runtime.registry import open_runtime

BACKENDS_HERE = BACKENDS

OWNER = LockOwner(owner="tester@host:1", pid=1, host="elsewhere", reason="test")
#: what an environment's overlay makes of a manifest: another segment
PATCHED = {**RECURRING, "audience": {"segment": "production-newsletter"}}


def base_of(spec: dict[str, Any], copy_from: str | None = None) -> str:
    return spec_hash({"copyFrom": copy_from, "spec": spec})


def applied(runtime: Runtime, desired: Sequence[Manifest]) -> Plan:
    """Plan ``desired`` against ``runtime`` and apply it, as ``reconciler apply`` does."""
    the_plan = planner.plan(desired, runtime.snapshot(), orphans=False)
    assert the_plan.errors == ()
    with hold_lock(runtime, OWNER):
        ledger = executor.execute(runtime, the_plan, Provenance("ci-bot"), owner=OWNER)
    assert ledger.ok, ledger.entries
    return the_plan


def versions(runtime: Runtime) -> dict[str, tuple[str | None, str | None]]:
    """name -> (the live version's base hash, the draft's)"""
    return {
        name: (
            c.live.base_hash if c.live else None,
            c.draft.base_hash if c.draft else None,
        )
        for name, c in sorted(runtime.snapshot().campaigns.items())
    }


# --- base hashes ------------------------------------------------------------------------------


def test_the_base_hash_is_the_manifests_own_spec_and_copy_from() -> None:
    plain = manifest("digest", RECURRING)
    copy = manifest("digest-again", {"content": {"subject": "Again"}}, copy_from="digest")

    assert base_hash(plain) == base_of(RECURRING)
    assert base_hash(copy) == base_of({"content": {"subject": "Again"}}, "digest")
    # the same spec copied from elsewhere is another manifest
    assert base_hash(copy) != base_hash(copy._replace(copy_from="other"))
    # state and run are not part of it: a draft and its activation are one manifest
    assert base_hash(manifest("digest", RECURRING, state="draft")) == base_hash(plain)
    assert plain.base_hash == ""


def test_operations_carry_the_base_hash_of_the_manifest_before_its_overlay() -> None:
    plain = manifest("digest", RECURRING)
    copy = manifest("digest-again", {"content": {"subject": "Again"}}, copy_from="digest")
    # an overlay patched the segment: the spec written differs, the base hash is the manifest's
    patched = manifest("banner", INBOUND)._replace(
        spec={**INBOUND, "content": {"title": "Hi", "body": "Patched"}},
        base_hash=base_of(INBOUND),
    )
    draft = manifest("sketch", RECURRING, state="draft")

    the_plan = planner.plan([plain, copy, patched, draft], RuntimeState(0, {}))

    assert [(op.campaign, op.action, op.base_hash) for op in the_plan.operations] == [
        ("banner", Action.ACTIVATE, base_of(INBOUND)),
        ("digest", Action.ACTIVATE, base_of(RECURRING)),
        ("digest-again", Action.COPY, base_of({"content": {"subject": "Again"}}, "digest")),
        ("sketch", Action.CREATE, base_of(RECURRING)),
    ]
    assert the_plan.operations[0].spec == {
        **INBOUND,
        "content": {"title": "Hi", "body": "Patched"},
    }


def test_operations_that_write_no_spec_carry_no_base_hash(tmp_path: Path) -> None:
    with open_runtime(f"memory://promotion-{uuid.uuid4().hex}") as runtime:
        applied(runtime, [manifest("digest", RECURRING), manifest("banner", INBOUND)])
        the_plan = planner.plan(
            [manifest("digest", RECURRING, run="stopped")],
            runtime.snapshot(),
            prune=True,
        )
    assert [(op.campaign, op.action, op.base_hash) for op in the_plan.operations] == [
        ("banner", Action.STOP, None),
        ("digest", Action.STOP, None),
    ]


def test_the_parse_cache_keeps_a_manifests_base_hash() -> None:
    text = (
        b"apiVersion: reconciler/v1\nkind: Campaign\nmetadata: {name: digest}\n"
        b"spec: {state: live, channel: in-app, content: {title: Hi, body: There}}\n"
    )
    parsed = manifests._parse_file(text, "campaigns/digest.yaml")
    (plain,) = parsed.manifests
    patched = plain._replace(spec={**plain.spec, "channel": "web"}, base_hash=base_hash(plain))
    for m in (plain, patched):
        result = manifests.FileResult((m,), parsed.diagnostics, parsed.names)
        record = marshal.loads(marshal.dumps(result.record()))
        assert manifests.FileResult.from_record(record).manifests == (m,)
    assert plain.base_hash == ""


# --- versions record it, on every backend -------------------------------------------------------


@pytest.fixture
def runtime(backend: str, tmp_path: Path) -> Iterator[Runtime]:
    with open_runtime(backend_url(backend, tmp_path, label="promotion")) as opened:
        yield opened


def test_versions_record_the_base_hash_of_what_wrote_them(runtime: Runtime) -> None:
    copy_spec = {"content": {"subject": "Again"}}
    applied(
        runtime,
        [
            manifest("digest", RECURRING),
            manifest("sketch", RECURRING, state="draft"),
            manifest("digest-again", copy_spec, copy_from="digest"),
        ],
    )
    assert versions(runtime) == {
        "digest": (base_of(RECURRING), None),
        "digest-again": (base_of(copy_spec, "digest"), None),
        "sketch": (None, base_of(RECURRING)),
    }

    # an overlay's manifest: the patched spec goes live, recording the unpatched base hash
    overlaid = manifest("digest", RECURRING)._replace(spec=PATCHED, base_hash=base_of(RECURRING))
    applied(runtime, [overlaid])
    digest = runtime.snapshot().campaigns["digest"]
    assert digest.live is not None
    assert (digest.live.number, digest.live.spec, digest.live.base_hash) == (
        2,
        PATCHED,
        base_of(RECURRING),
    )
    # and the history's snapshots hold it too
    assert [
        (e.operation, (e.after or {})["live"]["base_hash"]) for e in runtime.history("digest")
    ] == [("activate", base_of(RECURRING)), ("replace", base_of(RECURRING))]


def test_a_version_held_already_keeps_its_own_base_hash(runtime: Runtime) -> None:
    applied(runtime, [manifest("digest", RECURRING)])
    changed = with_subject(RECURRING, "Changed")
    applied(runtime, [manifest("digest", changed, state="draft")])
    assert versions(runtime) == {"digest": (base_of(RECURRING), base_of(changed))}

    # the staged spec goes live from a manifest with another base (an overlay made it the same):
    # the draft version is promoted as it is
    same_spec = manifest("digest", changed)._replace(base_hash="sha256:" + "0" * 64)
    the_plan = applied(runtime, [same_spec])
    assert [(op.action, op.base_hash) for op in the_plan.operations] == [
        (Action.REPLACE, "sha256:" + "0" * 64)
    ]
    assert versions(runtime) == {"digest": (base_of(changed), None)}


def test_a_version_of_before_base_hashes_reads_as_none() -> None:
    made = Version(2, dict(INBOUND), spec_hash(INBOUND), None, None, "ci-bot", "2026-06-01T12:00Z")
    assert "base_hash" not in made.to_json()
    assert Version.from_json(made.to_json()) == made
    recorded = dataclasses.replace(made, base_hash=base_of(INBOUND))
    assert recorded.to_json()["base_hash"] == base_of(INBOUND)
    assert Version.from_json(recorded.to_json()) == recorded


# --- saved plans --------------------------------------------------------------------------------


def test_a_saved_plan_keeps_the_base_hashes(tmp_path: Path) -> None:
    with open_runtime(f"memory://promotion-{uuid.uuid4().hex}") as runtime:
        applied(runtime, [manifest("banner", INBOUND)])
        the_plan = planner.plan(
            [manifest("banner", INBOUND, run="stopped"), manifest("digest", RECURRING)],
            runtime.snapshot(),
        )
    saved = json.loads(render.plan_json(the_plan))
    assert [(op["campaign"], op.get("base_hash", "absent")) for op in saved["operations"]] == [
        ("banner", "absent"),
        ("digest", base_of(RECURRING)),
    ]

    read = loads(render.plan_json(the_plan))
    assert read == the_plan
    assert read.plan_id == the_plan.plan_id
    assert [op.base_hash for op in read.operations] == [None, base_of(RECURRING)]


def test_a_saved_plan_whose_stop_has_a_base_hash_is_refused() -> None:
    with open_runtime(f"memory://promotion-{uuid.uuid4().hex}") as runtime:
        applied(runtime, [manifest("banner", INBOUND)])
        the_plan = planner.plan([manifest("banner", INBOUND, run="stopped")], runtime.snapshot())
    saved = json.loads(render.plan_json(the_plan))
    saved["operations"][0]["base_hash"] = base_of(INBOUND)

    with pytest.raises(PlanError) as caught:
        loads(json.dumps(saved), "plan.json")
    assert str(caught.value) == (
        "plan.json: operation banner (stop): a stop writes no spec, and it has one; the plan was "
        "altered after it was made. Nothing was applied"
    )


# --- the check ----------------------------------------------------------------------------------


class Reads:
    """The source runtime, read through: what ``check`` asked of it."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.snapshots = 0
        self.histories: list[str | None] = []

    def snapshot(self) -> RuntimeState:
        self.snapshots += 1
        return self.runtime.snapshot()

    def history(self, campaign: str | None = None, after: int = 0) -> list[HistoryEntry]:
        self.histories.append(campaign)
        return self.runtime.history(campaign, after)


DIGEST_YAML = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: {name}
spec:
  channel: email
  state: {state}
  audience: {{segment: newsletter}}
  content: {{subject: {subject}, body: Body}}
  schedule:
    recurring: {{every: week, on: [mon], at: "09:00"}}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "campaigns").mkdir()
    return tmp_path / "campaigns"


def write(repo: Path, name: str, *, subject: str = "Hello", state: str = "live") -> None:
    text = DIGEST_YAML.format(name=name, subject=subject, state=state)
    (repo / f"{name}.yaml").write_text(text, encoding="utf-8")


def read(repo: Path) -> dict[str, Manifest]:
    loaded = manifests.load(repo)
    assert loaded.diagnostics == ()
    return {m.name: m for m in loaded.manifests}


@pytest.fixture
def staging() -> Iterator[Runtime]:
    with open_runtime(f"memory://staging-{uuid.uuid4().hex}") as runtime:
        yield runtime


def production_plan(desired: dict[str, Manifest], production: RuntimeState | None = None) -> Plan:
    return planner.plan(list(desired.values()), production or RuntimeState(0, {}))


def refused(name: str) -> str:
    return f"{name}: this version has not been live in staging; apply it there first"


def at_state(name: str, message: str) -> Diagnostic:
    """The error at ``spec.state`` of the campaign's file (line 7, its value at column 10)."""
    return Diagnostic(message, f"campaigns/{name}.yaml", 7, 10, campaign=name)


def test_a_version_live_in_the_source_now_goes_live(repo: Path, staging: Runtime) -> None:
    write(repo, "weekly-digest")
    desired = read(repo)
    applied(staging, list(desired.values()))
    the_plan = production_plan(desired)
    reads = Reads(staging)

    assert promotion.check(the_plan, desired, "production", "staging", reads) is the_plan
    assert (reads.snapshots, reads.histories) == (1, [])  # live now: no history needed


def test_a_version_live_in_the_source_before_and_replaced_since_goes_live(
    repo: Path, runtime: Runtime
) -> None:
    write(repo, "weekly-digest")
    first = read(repo)
    applied(runtime, list(first.values()))
    write(repo, "weekly-digest", subject="Changed")
    applied(runtime, list(read(repo).values()))
    the_plan = production_plan(first)  # production still gets the first one
    reads = Reads(runtime)

    assert promotion.check(the_plan, first, "production", "staging", reads) is the_plan
    assert (reads.snapshots, reads.histories) == (1, ["weekly-digest"])


def test_a_version_never_live_in_the_source_is_refused(repo: Path, staging: Runtime) -> None:
    write(repo, "weekly-digest", state="draft")
    applied(staging, list(read(repo).values()))  # a draft in staging: never live
    write(repo, "weekly-digest")
    desired = read(repo)
    reads = Reads(staging)

    checked = promotion.check(production_plan(desired), desired, "production", "staging", reads)

    assert checked.errors == (at_state("weekly-digest", refused("weekly-digest")),)
    assert [op.action for op in checked.operations] == [Action.ACTIVATE]
    assert (reads.snapshots, reads.histories) == (1, ["weekly-digest"])


def test_a_campaign_not_in_the_source_is_refused_without_reading_history(
    repo: Path, staging: Runtime
) -> None:
    write(repo, "weekly-digest")
    desired = read(repo)
    reads = Reads(staging)

    checked = promotion.check(production_plan(desired), desired, "production", "staging", reads)

    assert checked.errors == (at_state("weekly-digest", refused("weekly-digest")),)
    assert (reads.snapshots, reads.histories) == (1, [])


def test_a_replace_of_the_same_base_goes_live_whatever_the_overlay(
    repo: Path, staging: Runtime
) -> None:
    write(repo, "weekly-digest")
    write(repo, "flash-sale")
    first = read(repo)
    applied(staging, list(first.values()))
    with open_runtime(f"memory://production-{uuid.uuid4().hex}") as production:
        applied(production, list(first.values()))
        write(repo, "weekly-digest", subject="Changed")
        write(repo, "flash-sale", subject="Changed")
        applied(staging, [read(repo)["weekly-digest"]])  # only this change went through staging
        # production's overlay: another segment, the same base
        desired = {
            name: m._replace(
                spec={**m.spec, "audience": {"segment": "production"}}, base_hash=base_hash(m)
            )
            for name, m in read(repo).items()
        }
        the_plan = production_plan(desired, production.snapshot())

    assert [(op.campaign, op.action) for op in the_plan.operations] == [
        ("flash-sale", Action.REPLACE),
        ("weekly-digest", Action.REPLACE),
    ]
    checked = promotion.check(the_plan, desired, "production", "staging", staging)
    assert checked.errors == (at_state("flash-sale", refused("flash-sale")),)


def test_source_versions_made_before_base_hashes_say_to_apply_the_source_again(
    repo: Path, staging: Runtime
) -> None:
    write(repo, "weekly-digest")
    desired = read(repo)
    (op,) = production_plan(desired).operations
    # staging's version, written by a reconciler of before versions recorded their base spec
    staging.apply(
        Write("old", Action.ACTIVATE, "weekly-digest", None, Provenance("ci"), spec=op.spec)
    )

    checked = promotion.check(production_plan(desired), desired, "production", "staging", staging)

    assert [d.message for d in checked.errors] == [
        "weekly-digest: this version has not been live in staging; apply it there first "
        "(staging's versions of it were made before versions recorded their base spec: "
        "apply staging again)"
    ]


def test_a_version_made_in_a_console_gets_no_advice(repo: Path, staging: Runtime) -> None:
    write(repo, "weekly-digest")
    desired = read(repo)
    (op,) = production_plan(desired).operations
    made_by = Provenance("ana", origin="console")
    staging.apply(Write("console/1", Action.ACTIVATE, "weekly-digest", None, made_by, spec=op.spec))

    checked = promotion.check(production_plan(desired), desired, "production", "staging", staging)

    assert [d.message for d in checked.errors] == [refused("weekly-digest")]


def test_nothing_going_live_reads_nothing(repo: Path, staging: Runtime) -> None:
    write(repo, "weekly-digest", state="draft")
    desired = read(repo)
    the_plan = production_plan(desired)
    assert [op.action for op in the_plan.operations] == [Action.CREATE]
    reads = Reads(staging)

    assert promotion.check(the_plan, desired, "production", "staging", reads) is the_plan
    assert (reads.snapshots, reads.histories) == (0, [])


def test_a_copy_to_live_is_checked_and_a_copy_to_draft_is_not(repo: Path, staging: Runtime) -> None:
    write(repo, "weekly-digest")
    source = read(repo)
    applied(staging, list(source.values()))
    copies = {
        "to-live": manifest("to-live", {"content": {"subject": "Copy"}}, copy_from="weekly-digest"),
        "to-draft": manifest(
            "to-draft", {"content": {"subject": "Draft"}}, state="draft", copy_from="weekly-digest"
        ),
    }
    desired = {**source, **copies}
    the_plan = production_plan(desired)
    assert [(op.campaign, op.action, op.activate) for op in the_plan.operations] == [
        ("weekly-digest", Action.ACTIVATE, False),
        ("to-draft", Action.COPY, False),
        ("to-live", Action.COPY, True),
    ]
    reads = Reads(staging)

    checked = promotion.check(the_plan, desired, "production", "staging", reads)

    assert checked.errors == (
        Diagnostic(refused("to-live"), "campaigns/to-live.yaml", 1, 1, campaign="to-live"),
    )
    assert reads.histories == []  # weekly-digest is live there now; to-live was never there


def test_errors_are_sorted_as_the_planners_and_placed_by_file_without_a_manifest(
    repo: Path, staging: Runtime
) -> None:
    for name in ("b-digest", "a-digest"):
        write(repo, name)
    desired = read(repo)
    the_plan = production_plan(desired)
    earlier = Diagnostic("an error of the plan", "campaigns/b-digest.yaml", 3, 1)
    the_plan = dataclasses.replace(the_plan, errors=(earlier,))

    checked = promotion.check(
        the_plan, {"b-digest": desired["b-digest"]}, "production", "staging", staging
    )

    assert checked.errors == (
        Diagnostic(refused("a-digest"), "campaigns/a-digest.yaml", campaign="a-digest"),
        earlier,
        at_state("b-digest", refused("b-digest")),
    )


def test_a_resume_runs_again_what_ran_here_and_is_not_checked(staging: Runtime) -> None:
    banner = manifest("banner", INBOUND)
    with open_runtime(f"memory://production-{uuid.uuid4().hex}") as production:
        applied(production, [banner])
        applied(production, [manifest("banner", INBOUND, run="stopped")])
        the_plan = production_plan({"banner": banner}, production.snapshot())
    assert [op.action for op in the_plan.operations] == [Action.RESUME]
    reads = Reads(staging)

    assert promotion.check(the_plan, {"banner": banner}, "production", "staging", reads) is the_plan
    assert (reads.snapshots, reads.histories) == (0, [])
