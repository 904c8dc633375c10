"""The schema compiled to code (the fast path) must judge every document as jsonschema does.

Only what the fast check rejects goes to jsonschema, which words the errors: a document the fast
check accepted wrongly would be let through unreported. Documents here are valid manifests of every
channel and kind, then mutated at random: keys dropped, values of the wrong type or out of range,
unknown keys, blocks that the channel or the schedule forbids.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import validation
from reconciler.validation import ecma_pattern

AT = "2026-12-01T09:00:00+01:00"
VALID: list[dict[str, Any]] = [
    {"channel": "email", "audience": {"segment": "s"}, "content": {"subject": "S", "body": "B"}},
    {
        "channel": "email",
        "audience": {"segment": "s"},
        "content": {"subject": "S", "template": "t"},
        "schedule": {"recurring": {"every": "week", "on": ["mon"], "at": "09:00"}},
    },
    {
        "channel": "sms",
        "audience": {"segment": "s"},
        "content": {"text": "T"},
        "schedule": {"once": {"at": AT}, "timezone": "Europe/Amsterdam"},
    },
    {
        "channel": "push",
        "audience": {"segment": "s"},
        "content": {"title": "T", "body": "B"},
        "schedule": {"recurring": {"cron": "0 9 * * 1", "start": AT}},
        "throttle": {"perSecond": 10},
    },
    {
        "channel": "email",
        "audience": {"segment": "s"},
        "content": {"subject": "S", "body": "B"},
        "schedule": {"recurring": {"every": "month", "on": [1, 15], "interval": 2, "at": "10:30"}},
    },
    {"channel": "in-app", "content": {"title": "T", "body": "B"}, "window": {"start": AT}},
    {"channel": "web", "content": {"title": "T", "body": "B"}},
    {"channel": "code-based", "content": {"title": "T", "body": "B"}},
    {"channel": "content-card", "content": {"title": "T", "body": "B"}},
]
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2001, 1.5, "", "x", "email", "in-app", "week", "day", "09:00", "25:00",
    "0 9 * * 1", AT, "2026-12-01", [], ["mon"], [0], [1, 1], {}, {"segment": "s"}, {"at": AT},
    {"every": "day"}, {"cron": "* * * * *"}, {"once": {"at": AT}}, {"title": "T", "body": "B"},
    "reconciler/v1", "Campaign", "live", "draft", "stopped", "a-b",
]  # fmt: skip
KEYS = [
    "channel", "audience", "content", "schedule", "window", "throttle", "segment", "subject",
    "body", "template", "text", "title", "once", "recurring", "timezone", "at", "every", "on",
    "interval", "cron", "start", "end", "perSecond", "state", "run", "copyFrom", "name",
    "labels", "annotations", "apiVersion", "kind", "metadata", "spec", "unknown",
]  # fmt: skip


def document(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "reconciler/v1",
        "kind": "Campaign",
        "metadata": {"name": "c", "labels": {"team": "t"}},
        "spec": {"state": "live", **spec},
    }


def paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``node``: mapping keys and list items."""
    found = [at]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*at, i))
    return found


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc = document(copy.deepcopy(draw(st.sampled_from(VALID))))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(paths(doc)))
        parent = doc
        for step in where[:-1]:
            parent = parent[step]
        change = draw(st.sampled_from(["drop", "replace", "add"]))
        if not where:
            continue
        last = where[-1]
        if change == "drop":
            del parent[last]
        elif change == "replace":
            parent[last] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        elif isinstance(parent[last], dict):
            parent[last][draw(st.sampled_from(KEYS))] = copy.deepcopy(
                draw(st.sampled_from(ODD_VALUES))
            )
    return doc


def jsonschema_errors(doc: dict[str, Any], which: int) -> list[str]:
    return [e.message for e in validation._validators()[which].iter_errors(doc)]


def fast_accepts(doc: dict[str, Any], which: int) -> bool:
    from fastjsonschema import JsonSchemaException

    try:
        validation._fast_check(which)(doc)
    except JsonSchemaException:
        return False
    return True


def test_the_valid_documents_are_valid() -> None:
    for spec in VALID:
        assert jsonschema_errors(document(spec), 0) == []
        assert fast_accepts(document(spec), 0)
        assert fast_accepts(spec, 1) and jsonschema_errors(spec, 1) == []


@settings(max_examples=600, deadline=None)
@given(documents())
def test_the_fast_check_agrees_with_jsonschema_on_documents(doc: dict[str, Any]) -> None:
    assert fast_accepts(doc, 0) == (jsonschema_errors(doc, 0) == []), jsonschema_errors(doc, 0)


@settings(max_examples=300, deadline=None)
@given(documents())
def test_the_fast_check_agrees_with_jsonschema_on_versioned_specs(doc: dict[str, Any]) -> None:
    spec = doc.get("spec")
    if isinstance(spec, dict):
        spec = {k: v for k, v in spec.items() if k not in ("state", "run", "copyFrom")}
    assert fast_accepts(spec, 1) == (jsonschema_errors(spec, 1) == []), jsonschema_errors(spec, 1)


@pytest.mark.parametrize(
    ("ecma", "python"),
    [
        ("^[a-z]+$", "^[a-z]+\\Z"),
        ("^(a$|b$)", "^(a\\Z|b\\Z)"),
        ("^[$]+$", "^[$]+\\Z"),
        ("^\\$+$", "^\\$+\\Z"),
        ("^[\\]$]$", "^[\\]$]\\Z"),
    ],
    ids=["end", "alternation", "class", "escaped", "escaped-bracket-in-class"],
)
def test_ecma_patterns_end_at_the_very_end_in_python(ecma: str, python: str) -> None:
    assert ecma_pattern(ecma) == python
