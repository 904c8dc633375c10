"""`reconciler import`: manifests for the campaigns a console made, which the next plan adopts.

Each manifest is checked the way the plan will read it: loaded from disk with the project's loader,
then planned against the runtime with the campaign taken as managed, where the plan must be
empty (no operation, no error, no warning): the effective spec is the campaign's, and the lifecycle
finds nothing to do for the state and run written. Then for real: the plan adopts every campaign
and does nothing else, apply changes only their management, and the plan after it is empty.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import FakeClock
from reconciler import api, documents, emit, importer, manifests, planner
from reconciler.cli import cli
from reconciler.model import (
    Action,
    Campaign,
    Channel,
    Kind,
    RuntimeState,
    Status,
    Version,
    canonical_json,
    spec_hash,
)
from reconciler.runtime.base import Provenance, Write
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CONSOLE = Provenance("carol", origin="console")

EMAIL: dict[str, Any] = {
    "channel": "email",
    "audience": {"segment": "newsletter"},
    "content": {"subject": "Hello", "body": "Body"},
}
WEEKLY = {
    **EMAIL,
    "schedule": {
        "recurring": {"every": "week", "on": ["mon", "thu"], "at": "09:00"},
        "timezone": "Europe/Amsterdam",
    },
}
CRON = {
    "channel": "sms",
    "audience": {"segment": "vip"},
    "content": {"text": "yes"},
    "schedule": {"recurring": {"cron": "0 9 * * MON"}},
}
DAILY = {**EMAIL, "schedule": {"recurring": {"every": "day", "at": "09:00"}}}
ONCE_PAST = {**EMAIL, "schedule": {"once": {"at": "2026-06-01T13:00:00Z"}}}
ONCE_LATER = {**EMAIL, "schedule": {"once": {"at": "2026-12-01T09:00:00+01:00"}}}
BANNER = {
    "channel": "web",
    "content": {"title": "on", "body": "007"},
    "window": {"start": "2026-05-01T00:00:00Z", "end": "2026-09-01T00:00:00Z"},
    "throttle": {"perSecond": 10},
}
HOSTILE = {
    **EMAIL,
    "content": {
        "subject": "no",
        "body": "Line one\n  indented: yes\n\n# not a comment\n",
        "preheader": " 09:00 ",
        "footer": "null",
        "code": "0012",
        "tab": "a\tb\x07c\u2028d",
    },
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def url(clock: FakeClock) -> str:
    return f"memory://import-{uuid.uuid4().hex}"


def console(rt: Platform, clock: FakeClock) -> None:
    """Campaigns in every status a console leaves them in, over every channel kind and schedule."""
    rt.set_segment("newsletter", 360_000)  # an hour's sending at 100 a second
    rt.create("a-draft", EMAIL, live=False, actor="carol")
    rt.create("b-live", WEEKLY, live=True, actor="carol")
    rt.create("c-scheduled", ONCE_LATER, live=True, actor="carol")
    rt.create("d-cron", CRON, live=True, actor="carol")
    staged = rt.create("e-staged", WEEKLY, live=True, actor="carol")
    rt.apply(Write("k1", Action.UPDATE, "e-staged", staged.etag, CONSOLE, spec=DAILY))
    rt.create("f-stopped", BANNER, live=True, actor="carol", stopped=True)
    rt.create("g-hostile", HOSTILE, live=False, actor="carol")
    rt.create("h-completed", ONCE_PAST, live=True, actor="carol")
    stopping = rt.create("i-stopping", DAILY, live=True, actor="carol")
    # copies: of a console campaign (imported too), and of one that no manifest will hold
    copy = {**WEEKLY, "content": {"subject": "Copy", "body": "Body"}}
    rt.create("j-copy", copy, live=True, actor="carol", copied_from="b-live", copy_base=WEEKLY)
    rt.apply(Write("k2", Action.ACTIVATE, "z-managed", None, Provenance("alice"), spec=EMAIL))
    rt.apply(Write("k3", Action.COPY, "y-gone", None, Provenance("alice"), spec=EMAIL))
    rt.create(
        "k-orphan-copy", copy, live=False, actor="carol", copied_from="y-gone", copy_base=EMAIL
    )
    rt.tick(datetime(2026, 6, 2, 9, 0, tzinfo=UTC))  # h starts and i starts sending
    stopping = rt.snapshot().campaigns["i-stopping"]
    rt.apply(Write("k4", Action.STOP, "i-stopping", stopping.etag, CONSOLE))
    rt.tick(datetime(2026, 6, 2, 9, 30, tzinfo=UTC))  # h's sending ends: completed
    clock.now = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)


def statuses(url: str) -> dict[str, Status]:
    with open_runtime(url) as rt:
        return {n: c.status for n, c in rt.snapshot().campaigns.items()}


def adopted(state: RuntimeState) -> RuntimeState:
    """The runtime as it is once every campaign is adopted: managed, nothing else changed."""
    return replace(
        state, campaigns={n: replace(c, managed=True) for n, c in state.campaigns.items()}
    )


def run_import(url: str, root: Path, *names: str, **kw: Any) -> importer.Imported:
    return api.import_campaigns(
        api.Options(url, now=NOW), root / "campaigns", names, out=root / "campaigns/imported", **kw
    )


def test_an_import_of_every_status_is_adopted_and_nothing_else(
    url: str, clock: FakeClock, tmp_path: Path
) -> None:
    with open_runtime(url, clock=clock) as rt:
        assert isinstance(rt, Platform)
        console(rt, clock)
        state = rt.snapshot()
    assert {n: c.status for n, c in state.campaigns.items()} == {
        "a-draft": Status.DRAFT,
        "b-live": Status.LIVE,
        "c-scheduled": Status.SCHEDULED,
        "d-cron": Status.LIVE,
        "e-staged": Status.LIVE,
        "f-stopped": Status.STOPPED,
        "g-hostile": Status.DRAFT,
        "h-completed": Status.COMPLETED,
        "i-stopping": Status.STOPPING,
        "j-copy": Status.LIVE,
        "k-orphan-copy": Status.DRAFT,
        "y-gone": Status.DRAFT,
        "z-managed": Status.COMPLETED,
    }
    (tmp_path / "campaigns").mkdir()
    result = run_import(url, tmp_path, all=True)
    unmanaged = sorted(n for n, c in state.campaigns.items() if not c.managed)
    assert (result.errors, result.warnings, result.skipped) == ((), (), ())
    assert result.written == tuple(
        (n, str(tmp_path / f"campaigns/imported/{n}.yaml")) for n in unmanaged
    )
    # the same runtime gives the same bytes
    first = {p.name: p.read_bytes() for p in (tmp_path / "campaigns/imported").iterdir()}
    again = run_import(url, tmp_path / "again", all=True)
    assert again.ok
    assert {p.name: p.read_bytes() for p in (tmp_path / "again/campaigns/imported").iterdir()} == (
        first
    )
    loaded = manifests.load(tmp_path / "campaigns")
    assert loaded.ok and loaded.diagnostics == ()
    assert sorted(m.name for m in loaded.manifests) == unmanaged
    planned = planner.plan(loaded.manifests, adopted(state), orphans=False, now=clock.now)
    assert (planned.operations, planned.errors, planned.warnings) == ((), (), ())
    assert planned.unchanged == len(unmanaged)
    # the plan adopts them all, and does nothing else; once applied, there is nothing left to do
    options = api.Options(url, now=clock.now)
    plan = api.plan(tmp_path / "campaigns", options, cache=manifests.Cache())
    # the two the reconciler made have no manifest here: orphans, said so, left alone
    orphans = [
        "campaign 'y-gone' has no manifest; the draft is left as it is",
        "campaign 'z-managed' has no manifest; it is left as it is",
    ]
    assert (plan.errors, [d.message for d in plan.warnings]) == ((), orphans)
    assert [(op.campaign, op.action) for op in plan.operations] == [
        (n, Action.ADOPT) for n in unmanaged
    ]
    ledger = api.apply(tmp_path / "campaigns", options, cache=manifests.Cache())
    assert ledger.ok
    with open_runtime(url) as rt:
        after = rt.snapshot()
    assert after.campaigns == {
        n: replace(c, managed=True, etag=after.campaigns[n].etag)
        for n, c in state.campaigns.items()
    }
    replanned = api.plan(tmp_path / "campaigns", options, cache=manifests.Cache())
    assert (replanned.operations, replanned.errors) == ((), ())
    assert [d.message for d in replanned.warnings] == orphans
    assert replanned.unchanged == len(unmanaged)


def imported_text(url: str, clock: FakeClock, tmp_path: Path, name: str) -> str:
    with open_runtime(url, clock=clock) as rt:
        assert isinstance(rt, Platform)
        console(rt, clock)
    assert run_import(url, tmp_path, all=True).ok
    return (tmp_path / f"campaigns/imported/{name}.yaml").read_text()


HEADER = (
    "# Imported by `reconciler import` from runtime {url}\n"
    "# at revision 19 (2026-06-01T12:00:00.000Z): the campaign as the runtime held it then.\n"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "e-staged",
            """apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: e-staged
spec:
  state: draft
  channel: email
  audience:
    segment: newsletter
  content:
    subject: Hello
    body: Body
  schedule:
    recurring:
      every: day
      at: "09:00"
""",
        ),
        (
            "f-stopped",
            """apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: f-stopped
spec:
  state: live
  run: stopped
  channel: web
  content:
    title: "on"
    body: "007"
  window:
    start: "2026-05-01T00:00:00Z"
    end: "2026-09-01T00:00:00Z"
  throttle:
    perSecond: 10
""",
        ),
        (
            "g-hostile",
            """apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: g-hostile
spec:
  state: draft
  channel: email
  audience:
    segment: newsletter
  content:
    subject: "no"
    body: |
      Line one
        indented: yes

      # not a comment
    code: "0012"
    footer: "null"
    preheader: " 09:00 "
    tab: "a\\tb\\x07c\\u2028d"
""",
        ),
        (
            "h-completed",
            f"# {importer.COMPLETED}\n"
            """apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: h-completed
spec:
  state: live
  channel: email
  audience:
    segment: newsletter
  content:
    subject: Hello
    body: Body
  schedule:
    once:
      at: "2026-06-01T13:00:00Z"
""",
        ),
        (
            "j-copy",
            """apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: j-copy
spec:
  state: live
  content:
    subject: Copy
  copyFrom: b-live
""",
        ),
        (
            "k-orphan-copy",
            """apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: k-orphan-copy
spec:
  state: draft
  content:
    subject: Copy
  schedule:
    recurring:
      every: week
      "on": [mon, thu]
      at: "09:00"
    timezone: Europe/Amsterdam
  copyFrom: y-gone
""",
        ),
    ],
    ids=lambda x: x if "\n" not in x else "",
)
def test_a_manifest_says_what_the_runtime_holds_in_the_documented_key_order(
    url: str, clock: FakeClock, tmp_path: Path, name: str, expected: str
) -> None:
    assert imported_text(url, clock, tmp_path, name) == HEADER.format(url=url) + expected


def test_a_copy_whose_source_is_not_in_git_is_written_out_whole(
    url: str, clock: FakeClock, tmp_path: Path
) -> None:
    with open_runtime(url, clock=clock) as rt:
        assert isinstance(rt, Platform)
        console(rt, clock)
    assert run_import(url, tmp_path, "j-copy").ok
    text = (tmp_path / "campaigns/imported/j-copy.yaml").read_text()
    assert text == HEADER.format(url=url) + (
        """# a copy of b-live, which is not in git: its whole spec is written out
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: j-copy
spec:
  state: live
  channel: email
  audience:
    segment: newsletter
  content:
    subject: Copy
    body: Body
  schedule:
    recurring:
      every: week
      "on": [mon, thu]
      at: "09:00"
    timezone: Europe/Amsterdam
"""
    )


def make(url: str, clock: FakeClock) -> None:
    with open_runtime(url, clock=clock) as rt:
        assert isinstance(rt, Platform)
        rt.create("spring", EMAIL, live=False, actor="carol")
        rt.create("summer", WEEKLY, live=True, actor="carol")
        rt.apply(Write("k", Action.CREATE, "managed", None, Provenance("alice"), spec=EMAIL))


def test_named_campaigns_only_and_what_is_wrong_with_a_name(
    url: str, clock: FakeClock, tmp_path: Path
) -> None:
    make(url, clock)
    assert run_import(url, tmp_path, "summer").written == (
        ("summer", str(tmp_path / "campaigns/imported/summer.yaml")),
    )
    wrong = run_import(url, tmp_path, "managed", "nowhere", "Bad Name")
    assert [(d.campaign, d.message) for d in wrong.errors] == [
        (
            "Bad Name",
            "not a campaign name (1-63 characters a-z, 0-9 and '-'), so never a file name: "
            "rename the campaign in the runtime",
        ),
        (
            "managed",
            "managed by the reconciler already (its manifest is in git): there is nothing to "
            "import",
        ),
        ("nowhere", "not in the runtime"),
    ]
    assert wrong.written == ()


def test_an_existing_file_is_never_overwritten_without_force(
    url: str, clock: FakeClock, tmp_path: Path
) -> None:
    make(url, clock)
    target = tmp_path / "out/spring.yaml"
    target.parent.mkdir()
    target.write_text("mine\n")
    options = api.Options(url, now=NOW)
    refused = api.import_campaigns(
        options, tmp_path / "none", ["spring", "summer"], out=target.parent
    )
    assert [(d.file, d.message) for d in refused.errors] == [
        (str(target), f"{target} exists; it is never overwritten (--force replaces it)")
    ]
    assert (refused.written, target.read_text()) == ((), "mine\n")
    assert not (tmp_path / "out/summer.yaml").exists()  # an error writes nothing
    forced = api.import_campaigns(
        options, tmp_path / "none", ["spring"], out=target.parent, force=True
    )
    assert forced.written == (("spring", str(target)),)
    assert target.read_text().startswith("# Imported by `reconciler import`")


def test_a_campaign_with_a_manifest_is_skipped_with_a_warning(
    url: str, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(url, clock)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_NOW", "2026-06-01T12:00:00Z")
    runner = CliRunner()
    first = runner.invoke(cli, ["import", "spring", "--runtime", url])
    assert (first.exit_code, first.output) == (
        0,
        "wrote campaigns/imported/spring.yaml\n"
        f"Import: 1 manifest written, from {url} at revision 3.\n",
    )
    again = runner.invoke(cli, ["import", "--all", "--runtime", url])
    assert (again.exit_code, again.output) == (
        0,
        "wrote campaigns/imported/summer.yaml\n"
        "warning: campaign spring: not imported: its manifest is "
        "campaigns/imported/spring.yaml already\n"
        f"Import: 1 manifest written, 1 skipped, from {url} at revision 3.\n",
    )
    exists = runner.invoke(cli, ["import", "summer", "--runtime", url, "--path", "elsewhere"])
    assert (exists.exit_code, exists.output) == (
        1,
        "error: campaigns/imported/summer.yaml: campaigns/imported/summer.yaml exists; it is "
        "never overwritten (--force replaces it)\n"
        "Nothing was written: 1 error.\n",
    )
    usage = runner.invoke(cli, ["import", "--runtime", url])
    assert usage.exit_code == 1 and "name the campaigns to import, or give --all" in usage.output


def test_import_as_json(
    url: str, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make(url, clock)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["import", "--all", "--format", "json", "--runtime", url])
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "runtime": url,
        "revision": 3,
        "written": [
            {"campaign": "spring", "file": "campaigns/imported/spring.yaml"},
            {"campaign": "summer", "file": "campaigns/imported/summer.yaml"},
        ],
        "skipped": [],
        "errors": [],
        "warnings": [],
    }


def console_draft() -> Campaign:
    """A draft made in a console: what a header is written above."""
    version = Version(1, EMAIL, spec_hash(EMAIL), None, None, "carol", "t", origin="console")
    return Campaign(
        "x", Channel.EMAIL, Kind.ONE_TIME, Status.DRAFT, None, version, "1", 1, managed=False
    )


def test_the_header_names_the_runtime_without_its_password() -> None:
    source = importer.Source("postgresql://deploy:***@db/campaigns", 7, "2026-06-01T12:00:00.000Z")
    text = importer.manifest(console_draft(), source, set(), "x.yaml")
    assert text is not None
    assert text.splitlines()[:2] == [
        "# Imported by `reconciler import` from runtime postgresql://deploy:***@db/campaigns",
        "# at revision 7 (2026-06-01T12:00:00.000Z): the campaign as the runtime held it then.",
    ]


def test_a_stored_time_or_url_with_a_line_break_stays_in_its_comment() -> None:
    source = importer.Source("sqlite:///x\nkind: Evil", 7, "2026\nmetadata: {name: evil}")
    text = importer.manifest(console_draft(), source, set(), "x.yaml")
    assert text is not None
    assert text.splitlines()[:3] == [
        "# Imported by `reconciler import` from runtime sqlite:///x\\nkind: Evil",
        "# at revision 7 (2026\\nmetadata: {name: evil}): the campaign as the runtime held it "
        "then.",
        "apiVersion: reconciler/v1",
    ]


# --- the emitter: any value reads back as itself --------------------------------------------

scalars = (
    st.text()
    | st.sampled_from(["on", "yes", "No", "null", "~", "09:00", "0012", "1e3", "#", ": ", " x "])
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def read_back(value: Any) -> Any:
    """``value`` written into a manifest's content, read back by the project's loader."""
    document = {
        "apiVersion": "reconciler/v1",
        "kind": "Campaign",
        "metadata": {"name": "x"},
        "spec": {"state": "draft", **EMAIL, "content": {**EMAIL["content"], "extra": value}},
    }
    text = emit.document(document)
    found, problems, _ = documents.parse(text.encode(), "x.yaml")
    assert problems == (), (text, problems)
    return found[0].spec["content"]["extra"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_any_value_round_trips_exactly(value: Any) -> None:
    back = read_back(value)
    assert canonical_json(back) == canonical_json(value)


@pytest.mark.parametrize(
    "text",
    [
        "on", "yes", "no", "null", "~", "09:00", "007", "0x1f", "0o17", "1e3", ".5", "-1",
        "# x", "a: b", " lead", "trail ", "", "\x00", "\x1b[31m", "a\r\nb", "multi\nline\n",
        "two\n\n", "\n\nlead", "ends\\", '"', "'", "x" * 100_000, "tab\tin", "\u2028", "\ufeff",
        "- item", "[list]", "{map}", "&anchor", "*alias", "!tag", "|", ">", "%", "@", "`",
        "key:", "a #b", "  \n  ", "é日本\U0001f600", "\tDear customer,\nhello", "x\n\ty\n",
    ],
)  # fmt: skip
def test_hostile_text_round_trips_exactly(text: str) -> None:
    assert read_back(text) == text
    assert read_back({text: [text]}) == {text: [text]}


# --- the round trip, as a property ------------------------------------------------------------

CHANNELS = {
    "email": {"subject": "Hi", "body": "Body"},
    "sms": {"text": "Hi"},
    "push": {"title": "Hi", "body": "Body"},
    "in-app": {"title": "Hi", "body": "Body"},
    "web": {"title": "Hi", "body": "Body"},
}
OUTBOUND_SCHEDULES = [
    None,  # one-time, sent on activation
    {"once": {"at": "2026-12-01T09:00:00+01:00"}},
    {"recurring": {"every": "week", "on": ["mon"], "at": "09:00"}, "timezone": "Europe/Paris"},
    {"recurring": {"every": "day", "at": "07:30"}},
    {"recurring": {"cron": "0 9 * * 1-5"}},
]
WINDOWS = [None, {"start": "2026-07-01T00:00:00Z"}, {"start": "2026-05-01T00:00:00Z"}]


@st.composite
def console_campaigns(draw: st.DrawFn) -> tuple[dict[str, Any], str, str | None]:
    """A spec of any channel and schedule form, how a console leaves it (draft, activated, with
    a draft staged beside it, stopped), and the content text (any text) it carries."""
    channel = draw(st.sampled_from(sorted(CHANNELS)))
    text = draw(st.text(min_size=1, max_size=40))
    content = dict.fromkeys(CHANNELS[channel], text)
    spec: dict[str, Any] = {"channel": channel, "content": content}
    if channel in ("in-app", "web"):
        window = draw(st.sampled_from(WINDOWS))
        if window is not None:
            spec["window"] = window
    else:
        spec["audience"] = {"segment": draw(st.sampled_from(["all", "on", "0012"]))}
        schedule = draw(st.sampled_from(OUTBOUND_SCHEDULES))
        if schedule is not None:
            spec["schedule"] = schedule
    modifiable = channel in ("in-app", "web") or "recurring" in spec.get("schedule", {})
    states = ["draft", "live"] + (["staged", "stopped"] if modifiable else [])
    return spec, draw(st.sampled_from(states)), text


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(console_campaigns(), min_size=1, max_size=4))
def test_any_console_campaign_is_imported_then_adopted_and_nothing_else(
    tmp_path_factory: pytest.TempPathFactory, made: list[tuple[dict[str, Any], str, str]]
) -> None:
    root = tmp_path_factory.mktemp("round")
    (root / "campaigns").mkdir()
    url = f"memory://round-{uuid.uuid4().hex}"
    clock = FakeClock(NOW)
    with open_runtime(url, clock=clock) as rt:
        assert isinstance(rt, Platform)
        for i, (spec, state, _) in enumerate(made):
            name = f"c{i}"
            campaign = rt.create(
                name, spec, live=state != "draft", actor="carol", stopped=state == "stopped"
            )
            if state == "staged":
                staged = {**spec, "content": {k: v + "!" for k, v in spec["content"].items()}}
                rt.apply(Write(f"s{i}", Action.UPDATE, name, campaign.etag, CONSOLE, spec=staged))
        before = rt.snapshot()
    options = api.Options(url, now=NOW)
    imported = api.import_campaigns(
        options, root / "campaigns", all=True, out=root / "campaigns/imported"
    )
    assert imported.ok, imported.errors
    assert manifests.load(root / "campaigns").ok
    plan = api.plan(root / "campaigns", options, cache=manifests.Cache())
    assert (plan.errors, plan.warnings) == ((), ())
    assert [(op.campaign, op.action) for op in plan.operations] == [
        (f"c{i}", Action.ADOPT) for i in range(len(made))
    ]
    assert api.apply(root / "campaigns", options, cache=manifests.Cache()).ok
    with open_runtime(url) as rt:
        after = rt.snapshot()
    assert {n: replace(c, etag="") for n, c in after.campaigns.items()} == {
        n: replace(c, managed=True, etag="") for n, c in before.campaigns.items()
    }
    again = api.plan(root / "campaigns", options, cache=manifests.Cache())
    assert (again.operations, again.errors) == ((), ())
