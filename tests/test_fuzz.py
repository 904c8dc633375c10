"""Valid manifests, mutated as a hostile pull request would (bytes, structure, values, keys, file
names), through validate and plan in every output format: never a crash (exit 0 or 1, never 3),
every error placed at file:line:col, every output safe for where it goes.

Bounded: a fixed number of examples, each a handful of in-process commands (well under a minute).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import hostile
from factories import cli_environment
from reconciler import documents
from reconciler.cli import cli
from test_escape import RAW_ANY, _Elements, github_html

REPO = Path(__file__).resolve().parent.parent
#: the example manifests, read as the reconciler reads YAML (YAML 1.2 core: `on` is a string)
SEEDS = [
    document
    for path in sorted((REPO / "campaigns").rglob("*.yaml"))
    for document in yaml.load_all(path.read_text(), Loader=documents._Loader)
]
EXAMPLES = 200
NOW = "2026-11-27T12:00:00Z"

#: what a mutation may put where a value or a key was
VALUES = st.one_of(
    st.sampled_from(hostile.STRINGS),
    st.text(max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-23:59",
            "2026-12-31T23:59:60Z",
            "0001-01-01T00:00:00+00:01",
            "2026-11-27T12:00:00",
            [],
            {},
            ["mon", "mon"],
            {"every": "day"},
        ]
    ),
)
#: file names a pull request could add (every one ends in .yaml, so it is read)
NAMES = st.one_of(
    st.sampled_from(
        [
            "x\nevil.yaml:1:1: all good.yaml",
            "\x1b[31mred.yaml",
            "\u202egnp.yaml",
            "-rf.yaml",
            "a%0A::error::b.yaml",
            "e" * 240 + ".yaml",
        ]
    ),
    st.binary(min_size=1, max_size=12).map(
        lambda b: os.fsdecode(b"f" + b.replace(b"/", b"_").replace(b"\0", b"_") + b".yaml")
    ),
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document: mapping keys and list items, depth first."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*path, i))
    return found


def _replace(node: Any, path: tuple[Any, ...], make: Callable[[Any, Any], Any]) -> Any:
    """``node`` with the place at ``path`` made anew by ``make(parent, key)``."""
    if not path:
        return make(None, None)
    head, *rest = path
    copy = dict(node) if isinstance(node, dict) else list(node)
    if rest:
        copy[head] = _replace(node[head], tuple(rest), make)
    else:
        made = make(copy, head)
        if made is _DELETE:
            del copy[head]
        else:
            copy[head] = made
    return copy


_DELETE = object()


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A file name and the bytes of a valid example manifest, mutated up to twice in its
    structure and once in its bytes."""
    document = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(0, 2))):
        places = _paths(document)[1:]
        path = draw(st.sampled_from(places))
        kind = draw(st.sampled_from(["value", "key", "delete", "wrap"]))
        event(f"mutation: {kind}")
        if kind == "value":
            value = draw(VALUES)
            document = _replace(document, path, lambda parent, key, v=value: v)
        elif kind == "key" and isinstance(path[-1], str):
            new = draw(st.one_of(st.sampled_from(hostile.STRINGS), st.text(min_size=1)))
            parent_path, old = path[:-1], path[-1]

            def renamed(parent: Any, key: Any, old: Any = old, new: str = new) -> Any:
                return {(new if k == old else k): v for k, v in parent[key].items()}

            document = (
                {(new if k == old else k): v for k, v in document.items()}
                if not parent_path
                else _replace(document, parent_path, renamed)
            )
        elif kind == "delete":
            document = _replace(document, path, lambda parent, key: _DELETE)
        else:  # a value wrapped in a list or a mapping: the wrong type, one level down
            document = _replace(document, path, lambda parent, key: [parent[key]])
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode()
    edits = draw(st.lists(st.tuples(st.integers(0, len(text)), st.binary(max_size=4)), max_size=1))
    for at, inserted in edits:  # bytes: anything, NUL, invalid UTF-8 and YAML syntax included
        text = text[:at] + inserted + text[at:]
        event("mutation: bytes")
    return draw(NAMES), text


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 1), result.output  # 3 is a crash, with a traceback
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def runtime() -> str:
    """A runtime holding the examples, applied: mutations then plan updates and refusals too."""
    url = f"memory://fuzz-{uuid.uuid4().hex}"
    result = CliRunner().invoke(
        cli, ["apply", str(REPO / "campaigns"), "--runtime", url], env={"RECONCILER_NOW": NOW}
    )
    assert result.exit_code == 0, result.output
    return url


def placed(errors: list[dict[str, Any]]) -> None:
    for error in errors:
        assert None not in (error["file"], error["line"], error["column"]), error


def safe_text(text: str) -> None:
    assert not RAW_ANY.search(text.replace("\n", "")), text


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=mutated())
def test_mutated_manifests_never_crash_and_every_view_stays_safe(
    case: tuple[str, bytes], runtime: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, data = case
    folder = tmp_path / uuid.uuid4().hex / "campaigns"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(data)
    cli_environment(monkeypatch, runtime=runtime, now=NOW)
    monkeypatch.chdir(folder.parent)

    validated = run("validate", "--format", "json")
    report = json.loads(validated.output)
    placed(report["errors"])
    safe_text(run("validate").output)
    event(f"valid: {report['valid']}")

    as_json = run("plan", "--format", "json")
    plan = json.loads(as_json.output)
    placed(plan["errors"])
    assert as_json.exit_code == (1 if plan["errors"] else 0)
    safe_text(run("plan").output)
    for line in run("plan", "--format", "github").output.splitlines():
        assert re.fullmatch(r"::(error|warning) [^\r\n]*::[^\r\n]*|[^:\r\n][^\r\n]*", line), line
        safe_text(line)
    html = github_html(run("plan", "--format", "markdown").output)
    elements = _Elements()
    elements.feed(html)
    assert set(elements.tags) <= {"h3", "h4", "p", "strong", "ul", "li", "code"} | {
        "details", "summary", "pre", "blockquote",
    }  # fmt: skip
    assert {attribute for attribute, _ in elements.attributes} <= {"lang"}
