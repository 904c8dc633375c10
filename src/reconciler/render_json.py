"""The one way out of every JSON view: orjson writes it, :func:`reconciler.escape.json_document`
escapes what a terminal must not see raw.

A JSON plan of 10,000 campaigns is two million values; the standard library writes indented JSON
with its pure-Python encoder, and that was half of `plan --format json`'s time. orjson, with the
look for non-finite floats below, writes it in a fifth of that time, and the same bytes but for
the spelling of a few floats: from ``1e-9`` to just under ``1e-4`` the standard library writes
``1e-05``, ``1.5e-07``, orjson ``0.00001``, ``1.5e-7`` (the same numbers: ``json.loads`` reads
back equal values).

What orjson refuses or would change, the standard library writes, as before: integers beyond 64
bits, mappings with keys that are not strings, lone surrogates (a file name that is not UTF-8),
nesting deeper than 255 levels, and NaN and the infinities (orjson writes them as ``null``;
``json.loads`` reads back ``NaN`` and ``Infinity``, so the standard library's spelling keeps the
value). Hashes and signatures never come from here: they are made from
:func:`reconciler.model.canonical_json`, which stays the standard library's.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from reconciler import escape

__all__ = ["document", "line"]

#: datetimes and dataclasses refused as the standard library refuses them, not written by orjson
_REFUSE = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
#: the leaves most of a document is made of: nothing under them to look at for a float
_PLAIN = frozenset({str, int, bool, type(None)})
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def document(value: Any, *, ascii: bool = False) -> str:
    """``value`` as a JSON document indented by two spaces, and a line break. With ``ascii``,
    every other character is written as a ``\\uXXXX`` escape (as ``ensure_ascii`` does)."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | _REFUSE).decode()
    except orjson.JSONEncodeError:
        text = None
    if text is None or not _finite(value):
        text = json.dumps(value, indent=2, ensure_ascii=ascii)
    return escape.json_document(_ascii(text) if ascii else text) + "\n"


def line(value: Any, *, ascii: bool = False) -> str:
    """``value`` as JSON on one line with no spaces, for log pipelines, and a line break."""
    try:
        text = orjson.dumps(value, option=_REFUSE).decode()
    except orjson.JSONEncodeError:
        text = None
    if text is None or not _finite(value):
        text = json.dumps(value, ensure_ascii=ascii, separators=(",", ":"))
    return escape.json_document(_ascii(text) if ascii else text) + "\n"


def _finite(value: Any) -> bool:
    """Whether every float in ``value`` is finite. Called once orjson has written ``value``, so
    no deeper than orjson went; a walk that looks only under containers and at floats."""
    floats: list[float] = []
    _floats(value, floats)
    return all(map(math.isfinite, floats))


def _floats(value: Any, found: list[float]) -> None:
    if isinstance(value, dict):
        values: Any = value.values()
    elif isinstance(value, list | tuple):
        values = value
    else:
        if isinstance(value, float):
            found.append(value)
        return
    for item in values:
        if type(item) not in _PLAIN:
            _floats(item, found)


def _ascii(text: str) -> str:
    """What ``ensure_ascii`` writes: a character past ASCII as ``\\uXXXX``, past the Basic
    Multilingual Plane as its UTF-16 surrogate pair. They occur only inside strings."""
    return text if text.isascii() else _NON_ASCII.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"
