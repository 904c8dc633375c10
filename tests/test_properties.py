"""Properties over random manifest sets and random runtime histories.

- after a successful apply, planning again gives no changes;
- no plan ever contains a transition the lifecycle forbids;
- plans are deterministic: the order manifests are read in does not change a byte.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from factories import SPECS, manifest, with_subject
from reconciler import executor, planner, render
from reconciler.model import Manifest, RuntimeState, Status, Version, allowed, kind_of, spec_hash
from reconciler.plan import Plan
from reconciler.runtime.base import LockOwner, Provenance
from reconciler.runtime.memory import MemoryStore
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime

NAMES = ("a", "b", "c", "d", "e")
OWNER = LockOwner("prop@host:1", 1, "host", "property test")


#: between two applies, the outside world may complete a campaign or edit its live version
outside = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(["complete", "edit", "none"])), max_size=2
)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[list[Manifest], list[tuple[str, str]]]]:
    """Each campaign keeps its kind and source for the whole history (most changes of those are
    refused, which would starve the interesting transitions); state, run and content move."""
    kinds = {name: draw(st.sampled_from(sorted(SPECS))) for name in NAMES}
    sources = {name: draw(st.none() | st.none() | st.sampled_from(NAMES)) for name in NAMES}
    steps = []
    for _ in range(draw(st.integers(1, 8))):
        chosen = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
        wanted = []
        for name in sorted(chosen):
            spec = with_subject(SPECS[kinds[name]], draw(st.sampled_from(["s0", "s1"])))
            copy_from = sources[name]
            partial = {"content": spec["content"]} if copy_from and draw(st.booleans()) else spec
            wanted.append(
                manifest(
                    name,
                    partial,
                    state=draw(st.sampled_from(["draft", "live", "live"])),
                    run=draw(st.sampled_from(["running", "running", "stopped"])),
                    copy_from=copy_from,
                )
            )
        steps.append((wanted, draw(outside)))
    return steps


def check_plan(plan: Plan, state: RuntimeState, shuffled: list[Manifest]) -> None:
    for op in plan.operations:
        before = state.get(op.campaign)
        event(f"{op.action.value} from {before.status.value if before else 'absent'}")
        kind = before.kind if before else kind_of(op.spec or {})
        assert allowed(op.action, before.status if before else None, kind), op
    again = planner.plan(shuffled, state)
    assert render.plan_json(again) == render.plan_json(plan)


def apply_valid_part(runtime: Platform, wanted: list[Manifest]) -> None:
    """Apply what can be applied, as a user would after dropping the refused manifests."""
    state = runtime.snapshot()
    plan = planner.plan(wanted, state)
    check_plan(plan, state, list(reversed(wanted)))
    valid = wanted
    while plan.errors:
        refused = {d.campaign for d in plan.errors}
        valid = [m for m in valid if m.name not in refused]
        plan = planner.plan(valid, state)
        check_plan(plan, state, list(reversed(valid)))
    with executor.hold_lock(runtime, OWNER):
        ledger = executor.execute(runtime, plan, Provenance("prop"), owner=OWNER)
    assert ledger.ok, ledger.entries
    after = planner.plan(valid, runtime.snapshot())
    assert after.operations == (), after.operations
    assert after.errors == ()


def disturb(runtime: Platform, events: list[tuple[str, str]]) -> None:
    """Change campaigns behind the platform's back, as a console or a completion would."""
    assert isinstance(runtime.store, MemoryStore)
    store = runtime.store.rows
    for name, happening in events:
        campaign = store.campaigns.get(name)
        if campaign is None or campaign.live is None or happening == "none":
            continue
        if happening == "complete":
            store.campaigns[name] = replace(campaign, status=Status.COMPLETED, etag="x" + name)
        else:
            spec = with_subject(dict(campaign.live.spec), "edited outside")
            version = Version(
                campaign.versions + 1, spec, spec_hash(spec), None, None, "console-user",
                "2026-11-27T00:00:00Z", origin="console",
            )  # fmt: skip
            store.campaigns[name] = replace(
                campaign, live=version, versions=version.number, etag="y" + name
            )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=histories())
def test_apply_converges_and_plans_stay_inside_the_lifecycle(
    steps: list[tuple[list[Manifest], list[tuple[str, str]]]],
) -> None:
    runtime = open_runtime("memory://", clock=lambda: datetime(2026, 11, 27, tzinfo=UTC))
    assert isinstance(runtime, Platform)
    for wanted, events in steps:
        apply_valid_part(runtime, wanted)
        disturb(runtime, events)
