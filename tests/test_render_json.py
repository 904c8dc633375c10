"""The JSON views' writer (orjson) against the standard library's, which wrote them before: the
same value always, the same bytes but for the floats listed in CHANGELOG.md, and the standard
library's own bytes wherever orjson would refuse or change a value."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import escape, render_json
from reconciler.model import canonical_json

#: strings as views get them: from manifests, file names and the runtime, hostile ones too
strings = st.text() | st.sampled_from(["", "é", "😀", "\x1b[31m", "\u202e", "\x7f", '"\\/', "\n"])
#: every float but NaN and the infinities, and often the ones orjson spells otherwise
floats = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [9.99e-10, 1e-9, -1e-7, 3.5e-6, 1e-5, 9.99e-5, 1e-4, 1e16, -1e22, 5e-324, -0.0, 0.1]
)
#: integers within orjson's 64 bits (beyond them the standard library writes them, as before)
integers = st.integers(min_value=-(2**63), max_value=2**64 - 1)
scalars = st.none() | st.booleans() | integers | floats | strings
#: what plans, ledgers, runtime state and calendars are made of: mappings with string keys,
#: lists, tuples (which both write as lists), and the scalars
plan_shaped = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(strings, inner, max_size=4)
    ),
    max_leaves=30,
)

#: a JSON string (skipped over: a number inside one is text) or a number with a fraction or an
#: exponent, which is where the two spell floats differently
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?')


def as_the_standard_library_spells_floats(document: str) -> str:
    """The byte differences, undone: orjson writes a float from 1e-9 to just under 1e-4 as
    ``0.00001`` and ``1.5e-7`` where the standard library writes ``1e-05`` and ``1.5e-07``. Any
    other difference is left in place, for the comparison to find."""

    def respelled(match: re.Match[str]) -> str:
        token = match.group()
        if token.startswith('"') or not any(c in token for c in ".eE"):
            return token
        value = float(token)
        return repr(value) if 1e-9 <= abs(value) < 1e-4 else token

    return _TOKEN.sub(respelled, document)


def stdlib_document(value: Any, ascii: bool = False) -> str:
    return escape.json_document(json.dumps(value, indent=2, ensure_ascii=ascii)) + "\n"


def stdlib_line(value: Any, ascii: bool = False) -> str:
    text = json.dumps(value, ensure_ascii=ascii, separators=(",", ":"))
    return escape.json_document(text) + "\n"


def same_value(a: str, b: str) -> bool:
    """Equal once read back (compared as canonical JSON: NaN is then equal to itself)."""
    return canonical_json(json.loads(a)) == canonical_json(json.loads(b))


@given(plan_shaped, st.booleans())
def test_a_document_is_the_standard_librarys_but_for_some_floats(value: Any, ascii: bool) -> None:
    ours, theirs = render_json.document(value, ascii=ascii), stdlib_document(value, ascii)
    assert same_value(ours, theirs)
    assert as_the_standard_library_spells_floats(ours) == theirs


@given(plan_shaped, st.booleans())
def test_a_line_is_the_standard_librarys_but_for_some_floats(value: Any, ascii: bool) -> None:
    ours, theirs = render_json.line(value, ascii=ascii), stdlib_line(value, ascii)
    assert "\n" not in ours[:-1]
    assert same_value(ours, theirs)
    assert as_the_standard_library_spells_floats(ours) == theirs


@pytest.mark.parametrize(
    ("value", "orjson_writes", "the_standard_library_writes"),
    [
        (1e-5, "0.00001", "1e-05"),
        (9.99e-5, "0.0000999", "9.99e-05"),
        (1e-7, "1e-7", "1e-07"),
        (-9.99e-10, "-9.99e-10", "-9.99e-10"),  # below 1e-9, the same again
        (1e-4, "0.0001", "0.0001"),
        (1e16, "1e+16", "1e+16"),
        (1.5, "1.5", "1.5"),
    ],
    ids=repr,
)
def test_the_floats_spelled_otherwise(
    value: float, orjson_writes: str, the_standard_library_writes: str
) -> None:
    assert render_json.line(value) == orjson_writes + "\n"
    assert json.dumps(value) == the_standard_library_writes


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"n": 2**64}, id="an integer beyond 64 bits"),
        pytest.param({"n": -(2**63) - 1}, id="a negative integer beyond 64 bits"),
        pytest.param({"a": {1: "x", None: [True]}}, id="keys that are not strings"),
        pytest.param({"file": "caf\udce9.yaml"}, id="a lone surrogate"),
        pytest.param({"a": [float("nan")]}, id="NaN"),
        pytest.param({"a": {"b": [1.5, float("-inf")]}}, id="an infinity"),
        pytest.param(json.loads("[" * 300 + "]" * 300), id="nesting deeper than orjson goes"),
    ],
)
def test_what_orjson_refuses_or_changes_the_standard_library_writes(value: Any) -> None:
    for ascii in (False, True):
        assert render_json.document(value, ascii=ascii) == stdlib_document(value, ascii)
        assert render_json.line(value, ascii=ascii) == stdlib_line(value, ascii)


def test_a_non_finite_float_keeps_its_value() -> None:
    """orjson would write NaN and the infinities as null: another value once read back."""
    read = json.loads(render_json.document({"x": [float("inf"), float("nan")]}))
    assert read["x"][0] == math.inf
    assert math.isnan(read["x"][1])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("é", '"\\u00e9"'),
        ("😀", '"\\ud83d\\ude00"'),  # past the BMP: its surrogate pair, as ensure_ascii writes it
        ("\u202e", '"\\u202e"'),
        ("\x7f", '"\\u007f"'),
    ],
    ids=repr,
)
def test_ascii_is_what_ensure_ascii_writes(value: str, expected: str) -> None:
    assert render_json.line(value, ascii=True) == expected + "\n"
    assert json.dumps(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"at": dt.date(2026, 12, 1)}, id="a date"),
        pytest.param({"a": object()}, id="an object"),
    ],
)
def test_values_json_cannot_hold_are_refused_as_by_the_standard_library(value: Any) -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        render_json.document(value)
