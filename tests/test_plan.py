"""Saved plans: their text is the standard library's indented JSON, to the byte (but for a few
floats, see tests/test_render_json.py), and their id and signature, made from the standard library's
canonical JSON, are the same however the plan was first asked for, saved or read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import api, render, signing, wording
from reconciler.model import Action, canonical_json, spec_hash
from reconciler.plan import FieldChange, Operation, Plan, Reason, loads

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
def test_canonical_json_is_sorted_compact_json(value: Any) -> None:
    try:
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except TypeError:  # keys of different types cannot be sorted
        with pytest.raises(TypeError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def sample(content: dict[str, Any] | None = None) -> Plan:
    content = content or {"subject": "Hi \u201cthere\u201d\n", "n": 1.5}
    spec = {"channel": "email", "content": content}
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


#: floats that orjson spells otherwise than the standard library (``1e-07``, ``3.5e-05``), in a
#: spec that the plan id and the signature hash: they must read back as the same numbers
ODD = {"subject": "Caf\u00e9 \U0001f600", "n": 1e-7, "m": 3.5e-5, "big": 1e16, "tiny": 1e-300}


def test_the_id_of_a_plan_saved_and_loaded_again_is_the_same(tmp_path: Path) -> None:
    plan = sample(ODD)
    text = render.plan_json(plan)
    assert "1e-7" in text and "0.000035" in text  # written by orjson, as these floats are
    saved = tmp_path / "plan.json"
    api.save_plan(plan, saved, render.plan_json)
    loaded = api.load_plan(saved)
    assert loaded.plan_id == plan.plan_id == json.loads(text)["plan_id"]
    assert loaded.operations[0].spec == plan.operations[0].spec
    assert render.plan_json(loaded) == text  # and it is saved again as it was


def test_the_signature_of_a_plan_saved_and_loaded_again_still_verifies(tmp_path: Path) -> None:
    key = signing.PlanKey.from_text("k" * 64)
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    saved = tmp_path / "plan.json"
    api.save_plan(sample(ODD), saved, render.plan_json, key=key, now=now)
    loaded = api.load_plan(saved)
    assert loaded.signature is not None
    signing.verify(loaded, key, now, timedelta(hours=1), str(saved))  # raises if it did not
