"""JSON-shaped data as YAML that reads back exactly, whatever YAML reads it.

Written by hand rather than with ``yaml.dump``: what a value looks like must be decided here,
once, not by an emitter's heuristics. A string is written plain only when no YAML (1.1 or 1.2, this
project's loader or another tool's) could take it for anything but that string: letters first, no
character that means something (``:``, ``#``, ``,``, brackets, quotes), none of the words that
YAML 1.1 reads as booleans or null. Anything else is double-quoted with escapes, or, when it has
several lines and nothing a literal block would change, written as a literal block (``|``), as a
person would. Mappings keep the order they are given in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: a string that every YAML reads as itself when written plain
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./@+()-]*( [A-Za-z0-9_./@+()-]+)*", re.ASCII)
#: plain words that YAML 1.1 (or 1.2) reads as booleans or null
_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
#: what a literal block cannot hold as it is: control characters (tab aside), and what YAML takes
#: for a line break or a byte order mark
_NOT_LITERAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\r]")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}
#: what a double-quoted scalar must escape: its own syntax, and anything not printable in YAML
_ESCAPED = re.compile('[\\\\"\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]')
#: YAML reads an implicit key of up to 1024 characters; a longer one is written as ``? key``
LONGEST_KEY = 1000
#: a list of short plain scalars is written on one line, as people write ``on: [mon, thu]``
FLOW_WIDTH = 60


def plain(text: str) -> bool:
    """Whether ``text`` may be written without quotes."""
    return _PLAIN.fullmatch(text) is not None and text.lower() not in _WORDS


def quoted(text: str) -> str:
    """``text`` as a double-quoted YAML scalar."""
    return '"' + _ESCAPED.sub(_escape, text) + '"'


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def scalar(value: Any) -> str:
    """A scalar on one line: null, a boolean, a number, or a string plain or quoted."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest round trip; JSON has no inf or nan
    if isinstance(value, str):
        return value if plain(value) else quoted(value)
    raise TypeError(f"not JSON-shaped data: {type(value).__name__}")


def _literal(text: str) -> bool:
    """Whether ``text`` reads well, and back exactly, as a literal block."""
    if "\n" not in text or _NOT_LITERAL.search(text) or text[0] in " \t\n":
        return False
    # a line of spaces only is read as empty: its spaces would be lost
    return all(line.strip(" ") or not line for line in text.split("\n"))


def _block(text: str, indent: int) -> list[str]:
    """``text`` as a literal block: its header (to follow ``key: ``) and its lines."""
    body = text.rstrip("\n")
    trailing = len(text) - len(body)
    chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
    pad = " " * indent
    lines = [pad + line if line else "" for line in body.split("\n")]
    return ["|" + chomp, *lines, *[""] * max(0, trailing - 1)]


def _flow(items: Sequence[Any]) -> str | None:
    """A list of plain scalars on one line, when it is one and short."""
    for x in items:
        if isinstance(x, (Mapping, list, tuple)) or (isinstance(x, str) and not plain(x)):
            return None
    text = "[" + ", ".join(scalar(x) for x in items) + "]"
    return text if len(text) <= FLOW_WIDTH else None


def _value(value: Any, indent: int) -> tuple[str, list[str]]:
    """A value after ``key:`` or ``-``: what goes on the same line, and the lines below it."""
    if isinstance(value, Mapping):
        if not value:
            return " {}", []
        return "", _mapping(value, indent)
    if isinstance(value, (list, tuple)):
        if not value:
            return " []", []
        flow = _flow(value)
        if flow is not None:
            return " " + flow, []
        return "", _sequence(value, indent)
    if isinstance(value, str) and _literal(value):
        head, *lines = _block(value, indent)
        return " " + head, lines
    return " " + scalar(value), []


def _mapping(mapping: Mapping[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise TypeError(f"mapping keys must be strings, not {type(key).__name__}")
        same, below = _value(value, indent + 2)
        written = scalar(key)
        if len(written) > LONGEST_KEY:  # past YAML's limit of an implicit key: an explicit one
            lines += [f"{pad}? {written}", f"{pad}:{same}"]
        else:
            lines.append(f"{pad}{written}:{same}")
        lines += below
    return lines


def _sequence(items: Sequence[Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if isinstance(item, (Mapping, list, tuple)) and item:
            # the item's lines are at indent + 2: its first one takes the dash
            inner = (
                _mapping(item, indent + 2)
                if isinstance(item, Mapping)
                else _sequence(item, indent + 2)
            )
            lines.append(f"{pad}- {inner[0][indent + 2 :]}")
            lines += inner[1:]
        else:
            same, below = _value(item, indent + 2)
            lines.append(f"{pad}-{same}")
            lines += below
    return lines


def document(data: Mapping[str, Any]) -> str:
    """A mapping as one YAML document, ending with a line break."""
    return "".join(line + "\n" for line in _mapping(data, 0))
