"""Escaping for every output format: one function per format, for every string that a manifest, a
file name, a plan file or the runtime supplies (names, keys, values, reasons, messages).

Those strings are hostile: a pull request anyone can open writes them. The views call these
functions on untrusted text and never write it any other way; each function leaves ordinary text
as it is, so ordinary output does not change.

- :func:`text`, for a terminal or a log: control characters, line and paragraph separators, the
  bidirectional controls and lone surrogates are shown as Python writes them (``\\x1b``, ``\\n``,
  ``\\u202e``), never raw: no escape sequence, no line break, no reordering reaches the reader.
  It never adds a character it would escape, so escaping twice is escaping once.
- :func:`markdown` (prose) and :func:`markdown_code` (a code span), for a pull-request comment:
  no HTML, no formatting, no link or autolink, no mention, one line.
- :func:`github_data` and :func:`github_property`, for GitHub workflow commands, as
  ``actions/toolkit`` (``packages/core/src/command.ts``) escapes them, after :func:`text`.
- :func:`json_document`, for JSON documents already dumped: what the terminal must not see raw is
  written as a ``\\uXXXX`` escape, so the document is valid UTF-8 and reads back the same strings.

This module imports nothing of the project: every view may use it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "github_data",
    "github_property",
    "json_document",
    "markdown",
    "markdown_code",
    "markdown_fence",
    "text",
]

#: Arabic letter mark, left-to-right and right-to-left marks, the embeddings and overrides, the
#: isolates: characters that reorder what a reader sees (CVE-2021-42574, "Trojan Source")
_BIDI = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: what a terminal must never receive raw: C0 controls, DEL, C1 controls (U+009B is a CSI on its
#: own), the bidirectional controls, the Unicode line and paragraph separators, and lone surrogates
#: (a file name that is not UTF-8, decoded with surrogateescape; they cannot even be encoded)
_UNSAFE = re.compile(rf"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def text(value: str) -> str:
    """Untrusted text for a terminal or a log, on one line, every invisible control made visible."""
    # isprintable() is false for every character escaped here (and for a few harmless ones, such
    # as a no-break space, that the pattern then leaves alone); twice as fast as the pattern
    return value if value.isprintable() else _UNSAFE.sub(_visible, value)


_MARKDOWN = str.maketrans(
    {
        **{c: "\\" + c for c in "\\`*_[]|~"},
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "@": "@&#8203;",  # a zero-width space after @: shown as written, notifies nobody
    }
)
#: GitHub links ``http://``, ``https://``, ``ftp://``, ``www.`` and e-mail addresses (``mailto:``,
#: ``xmpp:``) in plain text, wherever they start; a backslash before the ``:`` or ``.`` (an
#: escaped punctuation character, shown as itself) keeps the text from being a link
_AUTOLINK = re.compile(r"(?i)(?:https?|ftp|mailto|xmpp)(?=:)|www(?=\.)")


def markdown(value: str) -> str:
    """Untrusted text as literal markdown prose: no formatting, no HTML, no link, no mention.

    What :func:`text` shows visibly is shown visibly here too (its backslash escaped in turn)."""
    escaped = text(value).translate(_MARKDOWN)
    return _AUTOLINK.sub(r"\g<0>\\", escaped) if _AUTOLINK.search(escaped) else escaped


def _longest_backtick_run(value: str) -> int:
    return max(map(len, re.findall("`+", value))) if "`" in value else 0


def markdown_code(value: str) -> str:
    """Untrusted text as a code span (literal: no HTML, link or mention is recognised inside one)
    whose fence no backtick run inside it can close."""
    value = text(value)
    longest = _longest_backtick_run(value)
    fence, pad = "`" * (longest + 1), " " if longest or not value.strip() else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def markdown_fence(lines: Sequence[str], info: str = "", indent: str = "") -> list[str]:
    """Lines of untrusted text as a fenced code block that none of them can end: each is escaped
    with :func:`text` (one line each) and the fence is longer than any backtick run inside."""
    body = [text(line) for line in lines]
    # measured over the lines joined: a run across two lines only makes the fence longer
    fence = "`" * max(3, _longest_backtick_run("".join(body)) + 1)
    return [f"{indent}{fence}{info}", *(f"{indent}{line}" for line in body), f"{indent}{fence}"]


def github_data(value: str) -> str:
    """A workflow command's message (``escapeData``): no line break can end the command."""
    return text(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(value: str) -> str:
    """A workflow command's property value (``escapeProperty``): nor end the property list."""
    return github_data(value).replace(":", "%3A").replace(",", "%2C")


#: the characters of :data:`_UNSAFE` that orjson and ``json.dumps`` write raw (they escape C0
#: themselves; orjson refuses lone surrogates, which ``json.dumps`` writes raw)
_JSON_UNSAFE = re.compile(rf"[\x7f-\x9f{_BIDI}\u2028\u2029\ud800-\udfff]")


def json_document(document: str) -> str:
    """A JSON document (from orjson or ``json.dumps``) with what :func:`text` would escape written
    as ``\\uXXXX``. These characters occur only inside its strings, where the escape reads back as
    the same character: the document parses to the same value, and is valid UTF-8 to print."""
    if document.isascii() and "\x7f" not in document:  # the common case, checked in O(1) and memchr
        return document
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
