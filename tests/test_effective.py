"""A manifest's effective spec: its own, or its copy base's with its own laid over it."""

from __future__ import annotations

from typing import Any

import pytest

from factories import RECURRING, manifest
from reconciler.effective import Resolver
from reconciler.model import (
    Campaign,
    Channel,
    Kind,
    Manifest,
    RuntimeState,
    Status,
    Version,
    spec_hash,
)

NL = {"audience": {"segment": "newsletter-nl"}}
FRIDAY = {
    **RECURRING,
    "schedule": {"recurring": {"every": "week", "on": ["fri"], "at": "09:00"}},
}


def in_runtime(name: str, spec: dict[str, Any] | None, **fields: Any) -> Campaign:
    live = None
    if spec is not None:
        live = Version(1, spec, spec_hash(spec), None, None, "tester", "2026-11-01T00:00:00Z")
    return Campaign(
        name=name,
        channel=Channel.EMAIL,
        kind=Kind.RECURRING,
        status=Status.LIVE if spec is not None else Status.DRAFT,
        live=live,
        draft=None,
        etag="e1",
        versions=1,
        **fields,
    )


def resolve(manifests: list[Manifest], *campaigns: Campaign) -> dict[str, Any]:
    state = RuntimeState(1, {c.name: c for c in campaigns})
    resolver = Resolver({m.name: m for m in manifests}, state)
    found = {}
    for m in manifests:
        spec, problem = resolver.effective(m)
        found[m.name] = problem if problem is not None else spec
    return found


def test_a_manifest_without_copy_from_is_its_own_spec() -> None:
    assert resolve([manifest("digest")]) == {"digest": RECURRING}


def test_a_new_copy_overlays_its_sources_manifest_not_the_runtimes_version() -> None:
    """The source is to be replaced by its manifest's spec (Friday): the copy starts from that."""
    found = resolve(
        [manifest("digest", FRIDAY), manifest("digest-nl", NL, copy_from="digest")],
        in_runtime("digest", RECURRING),
    )
    assert found["digest-nl"] == {**FRIDAY, **NL}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param({"state": "draft"}, RECURRING, id="draft-keeps-live"),
        pytest.param({"run": "stopped"}, RECURRING, id="stopped-keeps-live"),
    ],
)
def test_a_source_that_will_not_be_live_from_its_manifest_gives_its_runtime_version(
    source: dict[str, str], expected: dict[str, Any]
) -> None:
    found = resolve(
        [manifest("digest", FRIDAY, **source), manifest("digest-nl", NL, copy_from="digest")],
        in_runtime("digest", RECURRING),
    )
    assert found["digest-nl"] == {**expected, **NL}


def test_a_copy_of_a_campaign_only_the_runtime_holds() -> None:
    found = resolve([manifest("digest-nl", NL, copy_from="digest")], in_runtime("digest", FRIDAY))
    assert found == {"digest-nl": {**FRIDAY, **NL}}


def test_a_copy_in_the_runtime_overlays_its_copy_base_not_the_sources_live_spec() -> None:
    """Copying happened once: the source moved to Friday since, the copy did not."""
    copy = in_runtime("digest-nl", {**RECURRING, **NL}, copied_from="digest", copy_base=RECURRING)
    found = resolve(
        [manifest("digest", FRIDAY), manifest("digest-nl", NL, copy_from="digest")],
        in_runtime("digest", FRIDAY),
        copy,
    )
    assert found["digest-nl"] == {**RECURRING, **NL}


def test_a_copy_of_a_copy() -> None:
    found = resolve(
        [
            manifest("c", {"content": {"subject": "C"}}, copy_from="b"),
            manifest("b", NL, copy_from="a"),
            manifest("a"),
        ]
    )
    content = {"subject": "C", "body": "Body"}
    assert found["c"] == {**RECURRING, **NL, "content": content}


def test_a_long_chain_of_copies_needs_no_recursion() -> None:
    chain = [manifest("c0")] + [
        manifest(f"c{n}", {}, copy_from=f"c{n - 1}") for n in range(1, 3000)
    ]
    assert resolve(chain[::-1])["c2999"] == RECURRING


@pytest.mark.parametrize(
    ("manifests", "campaigns", "problem"),
    [
        pytest.param(
            [manifest("copy", {}, copy_from="gone")],
            [],
            "copyFrom names 'gone', which does not exist",
            id="missing",
        ),
        pytest.param(
            [manifest("copy", {}, copy_from="draft"), manifest("draft", state="draft")],
            [],
            "copyFrom names 'draft', which has never been live; only a campaign that has been "
            "live can be duplicated",
            id="draft-in-repo",
        ),
        pytest.param(
            [manifest("copy", {}, copy_from="draft")],
            [in_runtime("draft", None)],
            "copyFrom names 'draft', which has never been live; only a campaign that has been "
            "live can be duplicated",
            id="draft-in-runtime",
        ),
        pytest.param(
            [manifest("copy", {}, copy_from="mid"), manifest("mid", {}, copy_from="gone")],
            [],
            "copyFrom source 'mid' has errors; fix it first",
            id="source-unresolved",
        ),
        pytest.param(
            [manifest("a", {}, copy_from="b"), manifest("b", {}, copy_from="a")],
            [],
            "copyFrom source 'b' has errors; fix it first",
            id="cycle",
        ),
        pytest.param(
            [manifest("copy", {"channel": "sms"}, copy_from="digest"), manifest("digest")],
            [],
            "spec.content: 'text' is a required property (after copying from 'digest')",
            id="invalid-after-copying",
        ),
    ],
)
def test_what_cannot_be_resolved_says_why(
    manifests: list[Manifest], campaigns: list[Campaign], problem: str
) -> None:
    assert resolve(manifests, *campaigns)[manifests[0].name] == problem
