"""Saved plans: their text is the standard library's indented JSON, to the byte, and their id is
the same however it was first asked for."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import render, wording
from reconciler.model import Action, canonical_json, spec_hash
from reconciler.plan import FieldChange, Operation, Plan, Reason, indented_json, loads

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities too: the standard library writes them
    | st.text()  # line breaks, quotes, control characters, non-ASCII
)
keys = st.text() | st.integers() | st.floats() | st.booleans() | st.none()
#: what JSON can hold and then some: tuples, and mappings whose keys are not strings
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.dictionaries(keys, inner, max_size=3)
    ),
    max_leaves=25,
)


def standard(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@given(values)
def test_indented_json_is_the_standard_librarys(value: Any) -> None:
    assert indented_json(value) == standard(value)


@given(values)
def test_canonical_json_is_sorted_compact_json(value: Any) -> None:
    try:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except TypeError:  # keys of different types cannot be sorted
        with pytest.raises(TypeError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    "value",
    [{}, [], (), {"a": {}}, {"a": []}, [[]], [{}], {"a": [{"b": {}}, [], 1.5]}, {1: {"x": [2]}}],
    ids=repr,
)
def test_empty_and_nested_containers(value: Any) -> None:
    assert indented_json(value) == standard(value)


def test_values_json_cannot_hold_are_refused_as_by_the_standard_library() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        indented_json({"a": [object()]})


def sample() -> Plan:
    spec = {"channel": "email", "content": {"subject": "Hi \u201cthere\u201d\n", "n": 1.5}}
    return Plan(
        runtime="memory://",
        runtime_id="r1",
        runtime_revision=3,
        operations=(
            Operation(
                campaign="a",
                action=Action.ACTIVATE,
                reason=Reason.NEW_LIVE,
                to_version=1,
                changes=(FieldChange("spec.channel", None, "email"),),
                spec=spec,
                spec_hash=spec_hash(spec),
                kind="one-time",
                channel="email",
                on_activation=True,
            ),
        ),
        unchanged=2,
    )


def test_dumps_is_the_standard_librarys_indented_json() -> None:
    plan = sample()
    assert render.plan_json(plan) == standard(wording.plan_document(plan)) + "\n"


def test_the_plan_id_is_the_same_however_it_is_first_asked_for() -> None:
    asked_first = sample().plan_id
    dumped_first = sample()
    text = render.plan_json(dumped_first)
    assert dumped_first.plan_id == asked_first
    assert json.loads(text)["plan_id"] == asked_first
    assert sample().to_json()["plan_id"] == asked_first
    assert loads(text).plan_id == asked_first  # and a saved plan reads back as itself
