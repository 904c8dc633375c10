"""Escaping per output format: the functions themselves, then every view of hostile data
(``tests/hostile.py``) checked by property, the markdown through GitHub's own renderer, and the CLI
end to end on a manifest whose file name and content hold what a hostile pull request would write.

The exact output of each view of that data is pinned in golden files (``*-hostile-all*``, compared
in ``tests/test_render.py``); these tests say what must hold of any such output.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from click.testing import CliRunner
from cmarkgfm.cmark import Options

import hostile
from factories import cli_environment
from reconciler import api, escape, render
from reconciler.cli import cli
from reconciler.errors import RuntimeBackendError

#: what no text output may hold raw (besides its line breaks and our own colours)
RAW_ANY = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
OUR_COLOURS = re.compile("\x1b\\[[0-9;]*m")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain text: a, b | c <d> `e` @f", "plain text: a, b | c <d> `e` @f"),
        ("x\nevil.yaml:1:1: all good.yaml", "x\\nevil.yaml:1:1: all good.yaml"),
        (
            "cr\r tab\t nul\x00 bel\x07 esc\x1b[31m us\x1f",
            "cr\\r tab\\t nul\\x00 bel\\x07 esc\\x1b[31m us\\x1f",
        ),
        (hostile.OSC8, "\\x1b]8;;http://evil\\x1b\\click\\x1b]8;;\\x1b\\"),
        ("del\x7f c1\x80 csi\x9b31m \x9f", "del\\x7f c1\\x80 csi\\x9b31m \\x9f"),
        (
            "\u061c\u200e\u200f\u202a\u202e\u2066\u2069",
            "\\u061c\\u200e\\u200f\\u202a\\u202e\\u2066\\u2069",
        ),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("lone \udcff surrogate", "lone \\udcff surrogate"),
        ("é ü 日本 … \u200b \xa0", "é ü 日本 … \u200b \xa0"),  # printable, or harmless
    ],
    ids=["ordinary", "newline", "c0", "osc8", "c1", "bidi", "separators", "surrogate", "unicode"],
)
def test_text_shows_every_control_visibly(value: str, shown: str) -> None:
    assert escape.text(value) == shown
    assert escape.text(shown) == shown  # escaping twice is escaping once


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("the manifest says run: running", "the manifest says run: running"),
        (
            "</details><img src=x onerror=alert(1)>",
            "&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;",
        ),
        ("[click](javascript:alert(1))", "\\[click\\](javascript:alert(1))"),
        ("<javascript:alert(1)>", "&lt;javascript:alert(1)&gt;"),
        ("http://x HTTPS://y _ftp://z", "http\\://x HTTPS\\://y \\_ftp\\://z"),
        ("www.x.com mailto:a@b.c", "www\\.x.com mailto\\:a@&#8203;b.c"),
        ("`a` | *b* _c_ ~d~ \\ &amp;", "\\`a\\` \\| \\*b\\* \\_c\\_ \\~d\\~ \\\\ &amp;amp;"),
        ("@everyone", "@&#8203;everyone"),
        ("abc\n\x1b[31m", "abc\\\\n\\\\x1b\\[31m"),
    ],
    ids=[
        "ordinary",
        "html",
        "link",
        "autolink",
        "urls",
        "www-mail",
        "markup",
        "mention",
        "control",
    ],
)
def test_markdown_prose_is_literal(value: str, shown: str) -> None:
    assert escape.markdown(value) == shown


@pytest.mark.parametrize(
    ("value", "span"),
    [
        ("weekly-digest", "`weekly-digest`"),
        ("odd``name", "``` odd``name ```"),
        ("```", "```` ``` ````"),
        ("a\nb <i>", "`a\\nb <i>`"),
        ("", "`  `"),
    ],
    ids=["ordinary", "backticks", "fence", "newline", "empty"],
)
def test_a_code_span_cannot_be_closed_from_inside(value: str, span: str) -> None:
    assert escape.markdown_code(value) == span


def test_a_fence_is_longer_than_any_backtick_run_inside() -> None:
    assert escape.markdown_fence(["- a: 1"], "diff", "  ") == ["  ```diff", "  - a: 1", "  ```"]
    assert escape.markdown_fence(['+ k```: "````"', "x\ny"]) == [
        "`````",
        '+ k```: "````"',
        "x\\ny",
        "`````",
    ]


def test_github_escapes_as_the_actions_toolkit_after_the_text_escaping() -> None:
    assert escape.github_data("50% a,b:c\r\n\x1b") == "50%25 a,b:c\\r\\n\\x1b"
    assert escape.github_property("50% a,b:c\n") == "50%25 a%2Cb%3Ac\\n"


def test_json_documents_write_what_a_terminal_must_not_see_as_escapes() -> None:
    value = {"k\x9b": ["\u202e", "\x7f\u2028", "\udcff", "é\x1b"]}
    document = escape.json_document(json.dumps(value, ensure_ascii=False))
    assert document == '{"k\\u009b": ["\\u202e", "\\u007f\\u2028", "\\udcff", "é\\u001b"]}'
    assert json.loads(document) == value
    assert escape.json_document('{"a": "é"}') == '{"a": "é"}'


# -- every view of hostile data ------------------------------------------------------------------


@pytest.mark.parametrize("color", [False, True], ids=["plain", "colour"])
@pytest.mark.parametrize("view", hostile.TEXT_VIEWS)
def test_text_views_hold_no_raw_control_but_line_breaks_and_our_colours(
    view: str, color: bool
) -> None:
    out = hostile.HOSTILE.text(view, color)
    plain = OUR_COLOURS.sub("", out)
    assert not RAW_ANY.findall(plain.replace("\n", ""))
    assert plain == hostile.HOSTILE.text(view)  # the colours are ours, added after escaping
    out.encode("utf-8")  # no lone surrogate: printable on any UTF-8 terminal
    # no string broke a line or added one: the layout is that of plain strings
    assert out.count("\n") == hostile.PLAIN.text(view, color).count("\n")


def test_the_github_view_is_one_command_a_line() -> None:
    out = render.plan_github(hostile.PLAN)
    lines = out.splitlines()
    assert len(lines) == len(hostile.PLAN.errors) + len(hostile.PLAN.warnings) + 1
    for line in lines[:-1]:
        head = r"::(error|warning) (file=[^,:]*,line=3,col=4,)?title=reconciler::"
        assert re.match(head, line), line
    assert lines[-1].startswith("Plan: ")
    assert not RAW_ANY.findall(out.replace("\n", ""))
    out.encode("utf-8")


@pytest.mark.parametrize("view", hostile.JSON_VIEWS)
def test_json_views_parse_and_give_back_every_string(view: str) -> None:
    views = hostile.UTF8 if view in ("plan", "ledger") else hostile.HOSTILE
    out = views.json(view)
    out.encode("utf-8")  # strict: no lone surrogate written raw
    assert not RAW_ANY.findall(out.replace("\n", ""))
    lines = out.splitlines() if view == "watch" else [out]
    found: set[str] = set()
    for line in lines:
        _strings(json.loads(line), found)
    assert set(views.strings) <= found


def _strings(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            _strings(item, found)
    elif isinstance(value, list):
        for item in value:
            _strings(item, found)


class _Elements(HTMLParser):
    """The elements and attributes of an HTML fragment: what a browser would build of it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs


def github_html(markdown: str) -> str:
    """What GitHub's renderer makes of a comment before its sanitiser: raw HTML passed through."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def test_the_comment_gives_a_reviewer_no_element_or_link_from_hostile_text() -> None:
    html = github_html(render.plan_markdown(hostile.PLAN))
    for raw in ("<img", "<script", 'href="javascript:', "<a ", "<a>", "<iframe"):
        assert raw not in html
    parsed = _Elements()
    parsed.feed(html)
    tags = set(parsed.tags)
    assert tags <= {"h3", "h4", "p", "strong", "ul", "li", "code", "details", "summary", "pre"}
    assert {name for name, _ in parsed.attributes} <= {"lang"}  # <pre lang="diff">
    with_changes = sum(1 for op in hostile.PLAN.operations if op.changes)
    assert parsed.tags.count("details") == html.count("</details>") == with_changes
    assert html.count("<details>") == with_changes
    # every hostile string reaches the reviewer as text, shown as the text view shows it
    assert "&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "@\u200beveryone" in html and "see http://evil.example/x or www.evil.example" in html


def test_without_escaping_the_same_comment_would_break_out() -> None:
    """The check above can fail: the raw hostile text makes the elements it looks for."""
    html = github_html("- " + " ".join(hostile.STRINGS[1::-1]) + "\n")
    assert "<img" in html and "</details>" in html and 'href="javascript:' in html


# -- the command line, end to end ----------------------------------------------------------------

HOSTILE_FILE = "x\nevil.yaml:1:1: all good.yaml"
MANIFEST = """\
apiVersion: reconciler/v1
kind: Campaign
metadata: {name: hostile}
spec:
  state: draft
  channel: email
  audience: {segment: "seg\\e]8;;http://evil\\e\\\\click\\e]8;;\\e\\\\"}
  content:
    subject: "\\e[31mred\\a \\u202eexe.txt"
    body: "</details><img src=x onerror=alert(1)> @everyone"
    "</details><img src=x onerror=alert(1)>": "[click](javascript:alert(1))"
    "a```` key\\nx": "%0A::error::fake ```` \\x9b31m \\x7f"
"""


@pytest.fixture
def hostile_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch, runtime="memory://")
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / HOSTILE_FILE).write_text(MANIFEST, encoding="utf-8")
    return tmp_path


def _plan(fmt: str) -> str:
    result = CliRunner().invoke(cli, ["plan", "--format", fmt], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_plan_as_text_of_a_hostile_manifest(hostile_repo: Path) -> None:
    assert _plan("text") == (
        "Plan: 1 to create; 0 unchanged.\n"
        "\n"
        "  + create   hostile  v1\n"
        "      # new campaign; the manifest says draft\n"
        '      + spec.audience.segment: "seg\\u001b]8;;http://evil\\u001b\\\\click\\u001b]8;;\\u001b\\\\"\n'
        '      + spec.channel: "email"\n'
        "      + spec.content.</details><img src=x onerror=alert(1)>: "
        '"[click](javascript:alert(1))"\n'
        '      + spec.content.a```` key\\nx: "%0A::error::fake ```` \\x9b31m \\x7f"\n'
        '      + spec.content.body: "</details><img src=x onerror=alert(1)> @everyone"\n'
        '      + spec.content.subject: "\\u001b[31mred\\u0007 \\u202eexe.txt"\n'
    )


def test_plan_as_markdown_of_a_hostile_manifest(hostile_repo: Path) -> None:
    out = _plan("markdown")
    assert out == (
        "### reconciler plan\n"
        "\n"
        "**1 to create; 0 unchanged**\n"
        "\n"
        "#### Create (1)\n"
        "\n"
        "- `+` `hostile` v1 · `campaigns/x\\nevil.yaml:1:1: all good.yaml` · new campaign; the "
        "manifest says draft\n"
        "  <details><summary>6 fields changed</summary>\n"
        "\n"
        "  `````diff\n"
        '  + spec.audience.segment: "seg\\u001b]8;;http://evil\\u001b\\\\click\\u001b]8;;\\u001b\\\\"\n'
        '  + spec.channel: "email"\n'
        '  + spec.content.</details><img src=x onerror=alert(1)>: "[click](javascript:alert(1))"\n'
        '  + spec.content.a```` key\\nx: "%0A::error::fake ```` \\x9b31m \\x7f"\n'
        '  + spec.content.body: "</details><img src=x onerror=alert(1)> @everyone"\n'
        '  + spec.content.subject: "\\u001b[31mred\\u0007 \\u202eexe.txt"\n'
        "  `````\n"
        "\n"
        "  </details>\n"
    )
    html = github_html(out)
    assert "<img" not in html and "<a " not in html and html.count("</details>") == 1


def test_plan_for_github_of_a_hostile_manifest(hostile_repo: Path) -> None:
    assert _plan("github") == "Plan: 1 to create; 0 unchanged.\n"


def test_plan_as_json_of_a_hostile_manifest(hostile_repo: Path) -> None:
    out = _plan("json")
    assert not RAW_ANY.findall(out.replace("\n", ""))
    (operation,) = json.loads(out)["operations"]
    assert operation["file"] == f"campaigns/{HOSTILE_FILE}"
    changes = {c["path"]: c["after"] for c in operation["changes"]}
    assert changes["spec.content.</details><img src=x onerror=alert(1)>"] == (
        "[click](javascript:alert(1))"
    )
    assert changes["spec.content.a```` key\nx"] == "%0A::error::fake ```` \x9b31m \x7f"
    assert changes["spec.content.subject"] == "\x1b[31mred\x07 \u202eexe.txt"


def test_an_invalid_hostile_manifest_is_reported_on_one_line_per_error(hostile_repo: Path) -> None:
    bad = MANIFEST.replace("state: draft", 'state: "\\e[2J\\u202e"')
    (hostile_repo / "campaigns" / HOSTILE_FILE).write_text(bad, encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", "--format", "github"])
    assert result.exit_code == 1
    (line, summary) = result.stdout.splitlines()
    assert line.startswith(
        "::error file=campaigns/x\\nevil.yaml%3A1%3A1%3A all good.yaml,line=5,col=10,"
    )
    assert "\\x1b[2J\\u202e" in line and summary == "Nothing can be applied. 0 unchanged, 1 error."
    text = CliRunner().invoke(cli, ["validate"]).stdout
    assert text.startswith("campaigns/x\\nevil.yaml:1:1: all good.yaml:5:10: spec.state: ")
    assert not RAW_ANY.findall(text.replace("\n", ""))


@pytest.mark.parametrize(
    ("message", "line"),
    [
        ("the runtime is unreachable", "error: the runtime is unreachable\n"),
        (
            "bad row 'x\nerror: none\x1b]8;;http://evil\x1b\\' \udcff\u202e",
            "error: bad row 'x\\nerror: none\\x1b]8;;http://evil\\x1b\\' \\udcff\\u202e\n",
        ),
    ],
    ids=["ordinary", "hostile"],
)
def test_the_error_line_is_one_line_of_escaped_text(
    message: str, line: str, monkeypatch: pytest.MonkeyPatch, hostile_repo: Path
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeBackendError(message)

    monkeypatch.setattr(api, "plan", refuse)
    result = CliRunner().invoke(cli, ["plan"])
    assert result.exit_code == 1
    assert result.stderr == line


def test_a_bugs_traceback_is_escaped_line_by_line(
    monkeypatch: pytest.MonkeyPatch, hostile_repo: Path
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise ValueError(f"row {hostile.OSC8}\nerror: fine \u202e")

    monkeypatch.setattr(api, "plan", crash)
    result = CliRunner().invoke(cli, ["plan"])
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-3:] == [
        "ValueError: row \\x1b]8;;http://evil\\x1b\\click\\x1b]8;;\\x1b\\",
        "error: fine \\u202e",  # a traceback keeps a message's line breaks: each line escaped
        "reconciler hit a bug (the traceback above); please report it",
    ]
    assert not RAW_ANY.findall(result.stderr.replace("\n", ""))
