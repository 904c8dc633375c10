"""One manifest file's bytes -> its campaigns, or errors placed at line:col. Loads libyaml.

Parsing uses libyaml (``yaml.CSafeLoader``'s parser) with YAML-1.2-core-like implicit types: only
``true``/``false`` are booleans (``on``, ``yes``, ``off`` stay strings), there are no timestamps
and no sexagesimal numbers (``9:00`` stays the string ``"9:00"``).

A document's node graph becomes data in one of two ways. The common case (no anchors, a file
under 50 KB, nothing unusual) is converted by one walk that checks as it goes. Anything else
(an alias, an explicit tag, a duplicate key, a merge key, deep nesting) is inspected first, without
expanding aliases: only plain YAML tags, string keys, no duplicate keys, and a bounded size after
alias expansion (an alias bomb is refused without being expanded); then it is constructed. Both
give the same data for the same input; only the second words the errors.
"""

from __future__ import annotations

import codecs
import math
import re
from sys import intern
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler import validation
from reconciler.errors import Diagnostic
from reconciler.model import DesiredState, Manifest, Position, Run, spec_hash
from reconciler.validation import MAX_SHOWN, Path_, clip, document_problems, plain, show

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

__all__ = [
    "Parsed",
    "locate",
    "parse",
    "parse_mapping",
    "parse_mappings",
    "place",
    "positions",
    "prepare",
]

MAX_NODES = 100_000  # per document, after alias expansion
MAX_DEPTH = 64  # nesting levels per document
MAX_DIGITS = 100
FAST_CHARACTERS = MAX_NODES // 2  # a text this short cannot hold MAX_NODES nodes without aliases

#: what a file holds: its campaigns, its errors, and every document's metadata.name with its place
Parsed = tuple[tuple[Manifest, ...], tuple[Diagnostic, ...], tuple[tuple[str, int, int], ...]]

_Y = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_Y + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _Y + "seq", _Y + "map"

# YAML 1.2 core schema, minus .inf/.nan (not JSON): everything else is a string.
_CORE = {
    _NULL: (re.compile(r"~|null|Null|NULL|"), ["~", "n", "N", ""]),
    _BOOL: (re.compile(r"true|True|TRUE|false|False|FALSE"), list("tTfF")),
    _INT: (re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"), list("-+0123456789")),
    _FLOAT: (
        re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"),
        list("-+.0123456789"),
    ),
}
_TAGS_FOR = {ScalarNode: (_STR, _INT, _FLOAT, _BOOL, _NULL), SequenceNode: (_SEQ,)}
_TOO_LARGE = f"document too large: over {MAX_NODES} nodes after alias expansion"
_EMPTY = "empty document: expected a Campaign manifest"
_KIND_WORDS = {_STR: "a string", _INT: "an integer", _FLOAT: "a number", _BOOL: "a boolean"}

#: a plain scalar's first character -> the implicit types it may have, in the order tried
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _tag, (_regex, _first) in _CORE.items():  # order matters: int is tried before float
    for _char in _first:
        _IMPLICIT.setdefault(_char, []).append((_tag, re.compile(rf"(?:{_regex.pattern})\Z")))


class _Loader(_SafeLoader):
    """The safe loader with YAML-1.2-core implicit types instead of YAML 1.1's.

    libyaml calls ``resolve`` for every node: this one does in a dictionary lookup what PyYAML's
    general resolver does with lists, and there are no path resolvers to descend into.
    """

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if implicit[0]:  # plain: its text decides
                for tag, regex in _IMPLICIT.get(value[:1], ()):
                    if regex.match(value):
                        return tag
            return _STR
        return _SEQ if kind is SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


def _construct(loader: _Loader, node: ScalarNode) -> bool | int | float | None:
    """YAML 1.2 core values: ``010`` is ten (not eight), ``0o17`` octal, ``0x1f`` hexadecimal."""
    return _scalar(node.tag, str(loader.construct_scalar(node)))


def _scalar(tag: str, text: str) -> bool | int | float | None:
    if tag == _BOOL:
        return text.lower() == "true"
    if tag == _FLOAT:
        return float(text)
    if tag == _NULL:
        return None
    return int(text[2:], 8 if text[1] == "o" else 16) if text[:2] in ("0o", "0x") else int(text)


for _tag in (_INT, _FLOAT, _BOOL):
    _Loader.add_constructor(_tag, _construct)


class _Refused(Exception):
    def __init__(self, message: str, node: Node) -> None:
        super().__init__(message)
        self.message, self.node = message, node


class _Unusual(Exception):
    """Something the quick walk leaves to the careful path, which words what is wrong."""


def prepare() -> None:
    """Get ready to parse (the schema compiled), e.g. before forking processes that parse."""
    validation.prepare()


def parse(data: bytes, display: str) -> Parsed:
    """Every document of one file, as campaigns or as errors."""
    text = _decode(data, display)
    if isinstance(text, Diagnostic):
        return (), (text,), ()
    manifests: list[Manifest] = []
    diagnostics: list[Diagnostic] = []
    names: list[tuple[str, int, int]] = []
    loader = _Loader(text)
    quick = len(text) < FAST_CHARACTERS and "&" not in text  # no anchor, so no alias either
    documents = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() said there is one
            documents += 1
            manifest, problems = _document(loader, node, display, names, quick)
            diagnostics.extend(problems)
            if manifest is not None:
                manifests.append(manifest)
    except yaml.MarkedYAMLError as exc:
        diagnostics.append(_yaml_error(exc, display, text))
    except yaml.reader.ReaderError as exc:
        line, column = _byte_place(text.encode("utf-8"), exc.position)
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
        message = f"invalid YAML: unacceptable character #x{char:04x}: {exc.reason}"
        diagnostics.append(Diagnostic(message, display, line, column))
    except yaml.YAMLError as exc:  # pragma: no cover - every libyaml error carries a mark
        diagnostics.append(Diagnostic(clip(f"invalid YAML: {exc}"), display))
    finally:
        loader.dispose()
    if documents == 0 and not diagnostics:
        diagnostics.append(Diagnostic(_EMPTY, display, 1, 1))
    return tuple(manifests), tuple(diagnostics), tuple(names)


def parse_mappings(
    data: bytes, display: str, what: str
) -> tuple[list[tuple[Node, Any]], list[Diagnostic]]:
    """Every document of a file that holds mappings (``what`` names one: "a Patch"), checked as
    a manifest is, each as (its node, its data); and what is wrong, at its place."""
    text = _decode(data, display)
    if isinstance(text, Diagnostic):
        return [], [text]
    found: list[tuple[Node, Any]] = []
    problems: list[Diagnostic] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            root = loader.get_node()
            assert root is not None  # check_node() said there is one
            checked = _mapping(loader, root, display, what)
            if isinstance(checked, Diagnostic):
                problems.append(checked)
            else:
                found.append(checked)
    except yaml.MarkedYAMLError as exc:
        problems.append(_yaml_error(exc, display, text))
    except yaml.reader.ReaderError as exc:
        line, column = _byte_place(text.encode("utf-8"), exc.position)
        problems.append(Diagnostic(f"invalid YAML: {exc.reason}", display, line, column))
    except yaml.YAMLError as exc:  # pragma: no cover - every libyaml error carries a mark
        problems.append(Diagnostic(clip(f"invalid YAML: {exc}"), display))
    finally:
        loader.dispose()
    if not found and not problems:
        problems.append(Diagnostic(f"empty file: expected {what}", display, 1, 1))
    return found, problems


def parse_mapping(data: bytes, display: str, what: str) -> tuple[Node, Any] | Diagnostic:
    """A file that holds one YAML mapping (``what`` names it: "a Project file"), checked as a
    manifest is (only plain YAML data, no duplicate keys, no alias bomb), as (its node, its data):
    the node places the errors found in the data (:func:`locate`). Or the first thing wrong."""
    text = _decode(data, display)
    if isinstance(text, Diagnostic):
        return text
    loader = _Loader(text)
    try:
        return _single_mapping(loader, text, display, what)
    finally:
        loader.dispose()


def _single_mapping(
    loader: _Loader, text: str, display: str, what: str
) -> tuple[Node, Any] | Diagnostic:
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        if exc.context == "expected a single document in the stream":
            mark = exc.problem_mark
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
            return Diagnostic(f"a second document: {what} holds one", display, line, column)
        return _yaml_error(exc, display, text)
    except yaml.reader.ReaderError as exc:
        line, column = _byte_place(text.encode("utf-8"), exc.position)
        return Diagnostic(f"invalid YAML: {exc.reason}", display, line, column)
    except yaml.YAMLError as exc:  # pragma: no cover - every libyaml error carries a mark
        return Diagnostic(clip(f"invalid YAML: {exc}"), display)
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL and root.value == ""):
        return Diagnostic(f"empty file: expected {what}", display, 1, 1)
    return _mapping(loader, root, display, what)


def _mapping(loader: _Loader, root: Node, display: str, what: str) -> tuple[Node, Any] | Diagnostic:
    """One document that must be a mapping: checked (tags, keys, size), then constructed."""
    if not isinstance(root, MappingNode):
        return Diagnostic(f"expected a mapping ({what})", display, *place(root))
    try:
        issues = _inspect(root)
    except _Refused as refused:
        return Diagnostic(refused.message, display, *place(refused.node))
    if issues:
        node, message = min(issues, key=lambda issue: place(issue[0]))
        return Diagnostic(clip(message), display, *place(node))
    try:
        return root, plain(loader.construct_document(root))
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:  # pragma: no cover
        return Diagnostic(f"cannot construct document: {exc}", display, *place(root))


# -- bytes and YAML errors -----------------------------------------------------------------------


def _decode(data: bytes, display: str) -> str | Diagnostic:
    data = data.removeprefix(codecs.BOM_UTF8)
    if (nul := data.find(b"\0")) >= 0:
        binary = "binary file (contains a NUL byte), not a YAML manifest"
        return Diagnostic(binary, display, *_byte_place(data, nul))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text: invalid byte 0x{data[exc.start]:02x}"
        return Diagnostic(message, display, *_byte_place(data, exc.start))


def _byte_place(data: bytes, offset: int) -> tuple[int, int]:
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _yaml_error(exc: yaml.MarkedYAMLError, display: str, text: str) -> Diagnostic:
    mark, context = exc.problem_mark or exc.context_mark, exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    message = f"invalid YAML: {exc.problem or exc.context}"
    lines = text.split("\n")
    if mark is not None and lines[min(mark.line, len(lines) - 1)][mark.column :][:1] == "\t":
        message = "invalid YAML: a tab character where YAML expects spaces (indent with spaces)"
    elif exc.problem and exc.context and context is not None:
        same = mark is not None and (context.line, context.column) == (mark.line, mark.column)
        where = "" if same else f" started at {context.line + 1}:{context.column + 1}"
        message += f" ({exc.context}{where})"
    return Diagnostic(clip(message), display, line, column)


# -- one document --------------------------------------------------------------------------------


def _document(
    loader: _Loader, root: Node, display: str, names: list[tuple[str, int, int]], quick: bool
) -> tuple[Manifest | None, list[Diagnostic]]:
    def at(node: Node, message: str, campaign: str | None = None) -> Diagnostic:
        line, column = place(node)
        return Diagnostic(clip(message), display, line, column, campaign)

    if not isinstance(root, MappingNode):
        if isinstance(root, ScalarNode) and root.tag == _NULL and root.value == "":
            return None, [at(root, _EMPTY)]
        got = _KIND_WORDS.get(root.tag, f"a value tagged {_show_tag(root.tag)}")
        got = "a list" if isinstance(root, SequenceNode) else "null" if root.tag == _NULL else got
        return None, [at(root, f"expected a mapping (a Campaign manifest), got {got}")]
    try:
        data = _data(root, 0) if quick else None
    except _Unusual:
        data = None
    if data is None:
        try:
            issues = _inspect(root)
        except _Refused as refused:
            return None, [at(refused.node, refused.message)]
        if issues:
            return None, sorted(
                (at(node, message) for node, message in issues), key=Diagnostic.line_column
            )
        try:
            data = plain(loader.construct_document(root))
        except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:  # pragma: no cover
            return None, [at(root, f"cannot construct document: {exc}")]

    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    campaign = name if isinstance(name, str) and len(name) <= 63 else None
    problems = document_problems(data)
    diagnostics = [at(locate(root, p.path, p.key), p.text(), campaign) for p in problems]
    if isinstance(name, str):
        names.append((name, *place(locate(root, ("metadata", "name")))))
    diagnostics.sort(key=Diagnostic.line_column)
    spec = data.get("spec")
    if diagnostics or not isinstance(spec, dict) or not isinstance(metadata, dict):
        return None, diagnostics
    assert isinstance(name, str)
    line, column = place(root)
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    manifest = Manifest(
        name=name,
        file=display,
        position=Position(line, column),
        state=DesiredState(spec["state"]),
        run=Run(spec.get("run", Run.RUNNING.value)),
        spec={k: v for k, v in spec.items() if k not in ("state", "run", "copyFrom")},
        copy_from=spec.get("copyFrom"),
        title=metadata.get("title"),
        labels=labels,
        annotations=annotations,
        environments=tuple(metadata["environments"]) if "environments" in metadata else None,
        positions=positions(root),
        hash=spec_hash(data),
    )
    return manifest, []


def _data(node: Node, depth: int) -> Any:
    """The quick walk: plain data from a node graph without aliases, or _Unusual. Keys are
    interned: the same few names in every manifest are then one string in memory and caches."""
    kind = node.__class__
    tag = node.tag
    if kind is ScalarNode:
        if tag == _STR:
            return node.value
        value = node.value
        if tag not in _CORE or len(value) > MAX_DIGITS or not _CORE[tag][0].fullmatch(value):
            raise _Unusual
        result = _scalar(tag, value)
        if tag == _FLOAT and not math.isfinite(result):  # type: ignore[arg-type]
            raise _Unusual
        return result
    if depth >= MAX_DEPTH - 2:
        raise _Unusual
    if kind is MappingNode and tag == _MAP:
        mapping: dict[str, Any] = {}
        for key, value in node.value:
            text = key.value
            if (
                key.__class__ is not ScalarNode
                or key.tag != _STR
                or text in mapping
                or (text == "<<" and not key.style)
            ):
                raise _Unusual
            mapping[intern(text)] = _data(value, depth + 1)
        return mapping
    if kind is SequenceNode and tag == _SEQ:
        return [_data(item, depth + 1) for item in node.value]
    raise _Unusual


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _inspect(root: Node) -> list[tuple[Node, str]]:
    """Check a node graph before constructing it: size after alias expansion (memoised by node
    identity, so an alias bomb costs a few hundred steps), depth, recursion, tags and keys."""
    issues: list[tuple[Node, str]] = []
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, depth)
    open_: set[int] = set()  # nodes on the current path: meeting one again is a recursive alias
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        children = _children(node)
        if done:
            open_.discard(id(node))
            size, depth = 1, 0
            for child in children:
                below = measured[id(child)]
                size, depth = size + below[0], max(depth, below[1])
            if size > MAX_NODES:
                raise _Refused(_TOO_LARGE, root)
            if depth >= MAX_DEPTH:
                raise _Refused(f"document nested deeper than {MAX_DEPTH} levels", root)
            measured[id(node)] = (size, depth + 1)
            continue
        if id(node) in measured:
            continue
        if len(measured) > MAX_NODES:  # distinct nodes alone are too many
            raise _Refused(_TOO_LARGE, root)
        open_.add(id(node))
        stack.append((node, True))
        issues.extend(_node_issues(node))
        for child in reversed(children):
            if id(child) in measured:
                continue
            if isinstance(child, ScalarNode):  # a leaf: checked at once, no second visit
                issues.extend(_node_issues(child))
                measured[id(child)] = (1, 1)
            elif id(child) in open_:
                raise _Refused("recursive alias: a node that contains itself", child)
            else:
                stack.append((child, False))
    return issues


def _node_issues(node: Node) -> list[tuple[Node, str]]:
    tag = node.tag
    if tag == _STR and isinstance(node, ScalarNode):
        return []
    if tag not in _TAGS_FOR.get(type(node), (_MAP,)):
        known = tag in (_STR, _INT, _FLOAT, _BOOL, _NULL, _SEQ, _MAP)
        what = "cannot be used here" if known else "is not allowed (only plain YAML data)"
        return [(node, f"tag {_show_tag(tag)} {what}")]
    issues: list[tuple[Node, str]] = []
    if isinstance(node, ScalarNode):
        value = str(node.value)
        if len(value) > MAX_DIGITS and tag in (_INT, _FLOAT):
            issues.append((node, f"number {show(value)} has too many digits"))
        elif not _CORE[tag][0].fullmatch(value):
            issues.append((node, f"{show(value)} is not a valid {_show_tag(tag)}"))
        elif tag == _FLOAT and not math.isfinite(float(value)):
            issues.append((node, f"number {show(value)} is out of range"))
    elif isinstance(node, MappingNode):
        seen: dict[str, Node] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag != _STR:
                if key.tag in (_INT, _FLOAT, _BOOL, _NULL, _SEQ, _MAP):  # others: a tag issue
                    got = {_NULL: "null", _SEQ: "a list", _MAP: "a mapping"}
                    kind = _KIND_WORDS.get(key.tag) or got[key.tag]
                    issues.append(
                        (key, f"mapping keys must be strings, got {kind} (quote the key)")
                    )
            elif key.value == "<<" and not key.style:  # plain, not quoted
                issues.append((key, "YAML merge keys ('<<') are not supported: write the keys out"))
            elif key.value in seen:
                line, column = place(seen[key.value])
                message = f"duplicate key {show(key.value)} (first at {line}:{column})"
                issues.append((key, message))
            else:
                seen[key.value] = key
    return issues


def locate(root: Node, path: Path_, key: str | None = None) -> Node:
    """The node at ``path`` (or the deepest one that exists); with ``key``, that key's node."""
    node = root
    for step in path:
        found = _child(node, step)
        if found is None:
            return node
        node = found[1]
    found = _child(node, key) if key is not None else None
    return found[0] if found is not None else node


def _child(node: Node, step: str | int) -> tuple[Node, Node] | None:
    """(key node, value node) of a mapping entry, or (list node, item node)."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == step:
                return key, value
    elif isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node, node.value[step]
    return None


def positions(root: MappingNode) -> str:
    """Where each field is ("spec", "spec.run", "spec.content.text"), packed as
    Manifest.positions: what the planner points at when it refuses a change; for a mapping at the
    top (``metadata``, ``spec``), its key's place too, as ``"metadata:"``. Mappings are walked
    to every depth, lists are not (a list is one value). A key holding a space or a line break,
    which the packing cannot hold, is left out with what is under it: it is pointed at by its
    parent. A node met again through an alias is not walked again."""
    lines = [""]
    seen: set[int] = set()
    pending: list[tuple[str, MappingNode]] = [("", root)]
    while pending:
        prefix, node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for key, value in node.value:
            name = key.value
            if not isinstance(name, str) or not name or " " in name or "\n" in name:
                continue
            path = prefix + name
            mark = value.start_mark
            lines.append(f"{path} {mark.line + 1} {mark.column + 1}")
            if value.__class__ is MappingNode:
                pending.append((path + ".", value))
                if not prefix:  # "metadata:" and "spec:" themselves (see Manifest.key_at)
                    lines.append(f"{path}: {key.start_mark.line + 1} {key.start_mark.column + 1}")
    lines.append("")
    return "\n".join(lines)


def place(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _show_tag(tag: str) -> str:
    return clip("!!" + tag[len(_Y) :] if tag.startswith(_Y) else tag, MAX_SHOWN)
