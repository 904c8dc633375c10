"""Read the desired state: find manifest files, parse YAML, validate, place every error at line:col.

Parsing uses libyaml (``yaml.CSafeLoader``) with YAML-1.2-core-like implicit types: only
``true``/``false`` are booleans (``on``, ``yes``, ``off`` stay strings), there are no timestamps
and no sexagesimal numbers (``9:00`` stays the string ``"9:00"``). Before a document is
constructed its node graph is inspected: only plain YAML tags, string keys, no duplicate keys,
and a bounded size after alias expansion (an alias bomb is refused without being expanded).
``schema/campaign.schema.json`` is the contract; the few rules a schema cannot express (cron,
time zones, start before end) are checked here after it.
"""

from __future__ import annotations

import codecs
import copy
import datetime as dt
import hashlib
import json
import math
import os
import re
import zoneinfo
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import cronsim
import fastjsonschema
import yaml
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Diagnostic, Severity
from reconciler.model import DesiredState, Manifest, Position, Run, spec_hash

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

__all__ = [
    "Cache",
    "FileResult",
    "LoadResult",
    "copy_cycle",
    "cycle_message",
    "find_files",
    "load",
    "schema",
    "validate_spec",
]

SCHEMA_ID = "https://reconciler.dev/schema/campaign.schema.json"
MAX_FILE_BYTES = 1024 * 1024  # a manifest file larger than this is refused unread
MAX_NODES = 100_000  # per document, after alias expansion
MAX_DEPTH = 64  # nesting levels per document
MAX_SHOWN = 60  # longest rendering of a user value inside a message
MAX_MESSAGE = 300
MAX_DIGITS = 100

Path_ = tuple[str | int, ...]
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


class _Loader(_SafeLoader):
    """The safe loader with YAML-1.2-core implicit types instead of YAML 1.1's."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}  # noqa: RUF012


for _tag, (_regex, _first) in _CORE.items():  # order matters: int is tried before float
    _Loader.add_implicit_resolver(_tag, re.compile(rf"^(?:{_regex.pattern})$"), _first)


def _construct(loader: _Loader, node: ScalarNode) -> bool | int | float:
    """YAML 1.2 core values: ``010`` is ten (not eight), ``0o17`` octal, ``0x1f`` hexadecimal."""
    text = str(loader.construct_scalar(node))
    if node.tag == _BOOL:
        return text.lower() == "true"
    if node.tag == _FLOAT:
        return float(text)
    return int(text[2:], 8 if text[1] == "o" else 16) if text[:2] in ("0o", "0x") else int(text)


for _tag in (_INT, _FLOAT, _BOOL):
    _Loader.add_constructor(_tag, _construct)


@dataclass(frozen=True)
class LoadResult:
    manifests: tuple[Manifest, ...]
    diagnostics: tuple[Diagnostic, ...]
    files: int  # how many files were read

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


@dataclass(frozen=True)
class _Problem:
    path: Path_  # where, as a path into the document
    message: str
    key: str | None = None  # an unexpected property: placed at this key of the mapping at `path`

    def text(self) -> str:
        where = _dotted(self.path)
        return f"{where}: {self.message}" if where else self.message


class _Refused(Exception):
    def __init__(self, message: str, node: Node) -> None:
        super().__init__(message)
        self.message, self.node = message, node


# -- public API ----------------------------------------------------------------------------------


@cache
def canonical_schema() -> str:
    """The schema as one canonical string: part of what a cached validation depends on."""
    return json.dumps(schema(), sort_keys=True, separators=(",", ":"))


@cache
def schema() -> dict[str, Any]:
    """The packaged JSON Schema (loaded once; do not mutate)."""
    source = resources.files("reconciler") / "schema" / "campaign.schema.json"
    loaded: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return loaded


def find_files(root: Path) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` under ``root``, recursively, sorted; hidden names skipped."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = Path(folder, name)
            if not name.startswith(".") and name.endswith((".yaml", ".yml")) and path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).parts)


@dataclass(frozen=True)
class FileResult:
    """What one file holds, judged on its own: the unit a cache keeps, keyed by its content."""

    manifests: tuple[Manifest, ...]
    diagnostics: tuple[Diagnostic, ...]
    #: every document's metadata.name with its place, valid or not: names must be unique
    names: tuple[tuple[str, int, int], ...] = ()


#: (file as displayed, sha256 of its bytes) -> what it holds. Any mutable mapping will do: a dict
#: for a long-running process such as watch, something persistent for repeated runs.
Cache = MutableMapping[tuple[str, str], FileResult]


def load(path: str | os.PathLike[str], cache: Cache | None = None) -> LoadResult:
    """Read every manifest under ``path`` (a directory, recursively, or one file).

    With ``cache``, a file whose bytes are unchanged is not parsed again.
    """
    root = Path(path)
    if not root.exists():
        return LoadResult((), (Diagnostic("no such file or directory", file=_display(root)),), 0)
    if not root.is_dir() and not root.is_file():
        return LoadResult((), (Diagnostic("not a regular file", file=_display(root)),), 0)
    files = find_files(root) if root.is_dir() else [root]
    results: list[FileResult | None] = []
    todo: list[tuple[int, tuple[str, str], bytes]] = []  # read, not in the cache: to parse
    for file in files:
        display = _display(file)
        data = _read_bytes(file, display)
        if isinstance(data, Diagnostic):
            results.append(FileResult((), (data,)))
            continue
        key = (display, hashlib.sha256(data).hexdigest())
        known = cache.get(key) if cache is not None else None
        results.append(known)
        if known is None:
            todo.append((len(results) - 1, key, data))
    for index, key, data in todo:
        parsed = _parse_file(data, key[0])
        results[index] = parsed
        if cache is not None:
            cache[key] = parsed
    manifests, diagnostics = _across_files([r for r in results if r is not None])
    return LoadResult(tuple(manifests), tuple(diagnostics), len(files))


def _across_files(results: list[FileResult]) -> tuple[list[Manifest], list[Diagnostic]]:
    """The checks that need every file: unique names, and copyFrom without cycles."""
    first: dict[str, str] = {}
    manifests: list[Manifest] = []
    diagnostics: list[Diagnostic] = []
    for result in results:
        repeated: set[tuple[int, int]] = set()
        found = list(result.diagnostics)
        file = result.manifests[0].file if result.manifests else None
        file = file or (result.diagnostics[0].file if result.diagnostics else None)
        for name, line, column in result.names:
            if name in first:
                message = f"duplicate campaign name {_show(name)}: first defined at {first[name]}"
                found.append(Diagnostic(_clip(message), file, line, column, name))
                repeated.add((line, column))
            else:
                first[name] = f"{file}:{line}:{column}"
        for m in result.manifests:
            at = m.where("metadata.name")
            if (at.line, at.column) not in repeated:
                manifests.append(m)
        diagnostics.extend(sorted(found, key=_line_column) if repeated else found)
    sources = {m.name: m.copy_from for m in manifests if m.copy_from is not None}
    for m in manifests:
        chain = copy_cycle(m.name, sources)
        if chain is not None and chain[0] == chain[-1]:  # a member of the cycle, not a copy of one
            at = m.where("spec.copyFrom")
            diagnostics.append(Diagnostic(cycle_message(chain), m.file, at.line, at.column, m.name))
    return manifests, diagnostics


def copy_cycle(name: str, sources: Mapping[str, str]) -> list[str] | None:
    """The copyFrom chain from ``name`` when it runs in a circle (``[a, b, a]``), else None."""
    chain = [name]
    while (source := sources.get(chain[-1])) is not None:
        chain.append(source)
        if source in chain[:-1]:
            return chain
    return None


def cycle_message(chain: list[str]) -> str:
    return "copyFrom forms a cycle: " + " -> ".join(chain) + "; a copy needs a source that exists"


def validate_spec(spec: Mapping[str, Any]) -> list[str]:
    """Check a complete versioned spec (no state/run/copyFrom), e.g. after a copyFrom overlay."""
    instance = _plain(spec)
    problems = _schema_problems(_validators()[1], instance, ("spec",))
    problems += _semantic_problems(instance, ("spec",), {p.path for p in problems})
    return [p.text() for p in problems]


# -- files ---------------------------------------------------------------------------------------


def _display(path: Path) -> str:
    """The file as a person would name it: relative to the working directory when under it."""
    # strings, not pathlib: this runs for every file of every plan
    absolute, cwd = os.path.abspath(path), os.getcwd()  # noqa: PTH100, PTH109
    if absolute.startswith(cwd + os.sep):
        return absolute[len(cwd) + 1 :].replace(os.sep, "/")
    return str(path)


def _parse_file(data: bytes, display: str) -> FileResult:
    text = _decode(data, display)
    if isinstance(text, Diagnostic):
        return FileResult((), (text,))
    manifests: list[Manifest] = []
    diagnostics: list[Diagnostic] = []
    names: list[tuple[str, int, int]] = []
    loader = _Loader(text)
    documents = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() said there is one
            documents += 1
            manifest, problems = _document(loader, node, display, names)
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
        diagnostics.append(Diagnostic(_clip(f"invalid YAML: {exc}"), display))
    finally:
        loader.dispose()
    if documents == 0 and not diagnostics:
        diagnostics.append(Diagnostic(_EMPTY, display, 1, 1))
    return FileResult(tuple(manifests), tuple(diagnostics), tuple(names))


def _read_bytes(path: Path, display: str) -> bytes | Diagnostic:
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = b"" if size > MAX_FILE_BYTES else handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return Diagnostic(f"cannot read file: {exc.strerror or exc}", display)
    size = max(size, len(data))
    if size > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES} bytes (1 MiB)"
        return Diagnostic(f"file too large: {size} bytes, over the limit of {limit}", display)
    return data


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
    return Diagnostic(_clip(message), display, line, column)


# -- one document --------------------------------------------------------------------------------


def _document(
    loader: _Loader, root: Node, display: str, names: list[tuple[str, int, int]]
) -> tuple[Manifest | None, list[Diagnostic]]:
    def at(node: Node, message: str, campaign: str | None = None) -> Diagnostic:
        line, column = _place(node)
        return Diagnostic(_clip(message), display, line, column, campaign)

    if not isinstance(root, MappingNode):
        if isinstance(root, ScalarNode) and root.tag == _NULL and root.value == "":
            return None, [at(root, _EMPTY)]
        got = _KIND_WORDS.get(root.tag, f"a value tagged {_show_tag(root.tag)}")
        got = "a list" if isinstance(root, SequenceNode) else "null" if root.tag == _NULL else got
        return None, [at(root, f"expected a mapping (a Campaign manifest), got {got}")]
    try:
        issues = _inspect(root)
    except _Refused as refused:
        return None, [at(refused.node, refused.message)]
    if issues:
        return None, sorted((at(node, message) for node, message in issues), key=_line_column)
    try:
        data = loader.construct_document(root)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:  # pragma: no cover
        return None, [at(root, f"cannot construct document: {exc}")]

    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    campaign = name if isinstance(name, str) and len(name) <= 63 else None
    problems = _schema_problems(_validators()[0], data, ())
    spec = data.get("spec")
    if isinstance(spec, dict):
        problems += _semantic_problems(spec, ("spec",), {p.path for p in problems})
    diagnostics = [at(_locate(root, p.path, p.key), p.text(), campaign) for p in problems]
    if isinstance(name, str):
        names.append((name, *_place(_locate(root, ("metadata", "name")))))
    diagnostics.sort(key=_line_column)
    if diagnostics or not isinstance(spec, dict) or not isinstance(metadata, dict):
        return None, diagnostics
    assert isinstance(name, str)
    document = _plain(data)
    line, column = _place(root)
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    manifest = Manifest(
        name=name,
        file=display,
        position=Position(line, column),
        state=DesiredState(spec["state"]),
        run=Run(spec.get("run", Run.RUNNING.value)),
        spec={k: v for k, v in document["spec"].items() if k not in ("state", "run", "copyFrom")},
        copy_from=spec.get("copyFrom"),
        title=metadata.get("title"),
        labels=dict(labels),
        annotations=dict(annotations),
        positions=_positions(root),
        hash=spec_hash(document),
    )
    return manifest, []


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
            issues.append((node, f"number {_show(value)} has too many digits"))
        elif not _CORE[tag][0].fullmatch(value):
            issues.append((node, f"{_show(value)} is not a valid {_show_tag(tag)}"))
        elif tag == _FLOAT and not math.isfinite(float(value)):
            issues.append((node, f"number {_show(value)} is out of range"))
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
                line, column = _place(seen[key.value])
                message = f"duplicate key {_show(key.value)} (first at {line}:{column})"
                issues.append((key, message))
            else:
                seen[key.value] = key
    return issues


def _locate(root: Node, path: Path_, key: str | None = None) -> Node:
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


def _positions(root: Node) -> dict[str, Position]:
    """Where the top-level sections and their fields are ("spec", "spec.run"): what the planner
    points at when it refuses something. Kept small: manifests are many, and cached."""
    positions: dict[str, Position] = {}
    for key, section in root.value if isinstance(root, MappingNode) else ():
        positions[str(key.value)] = Position(*_place(section))
        for field_key, value in section.value if isinstance(section, MappingNode) else ():
            positions[f"{key.value}.{field_key.value}"] = Position(*_place(value))
    return positions


# -- validation ----------------------------------------------------------------------------------


def _parse_datetime(value: object) -> dt.datetime | None:
    """An RFC 3339 date-time with an offset, or None."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.ASCII)


@cache
def _validators() -> tuple[Draft202012Validator, Draft202012Validator]:
    """The compiled validators: whole documents, and complete versioned specs."""
    checker = FormatChecker(formats=())
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(_parse_datetime(v)))
    registry: Registry[Any] = Registry().with_resource(SCHEMA_ID, Resource.from_contents(schema()))
    document = Draft202012Validator(schema(), format_checker=checker, registry=registry)
    versioned = {"$ref": f"{SCHEMA_ID}#/$defs/versionedSpec"}
    spec = Draft202012Validator(versioned, format_checker=checker, registry=registry)
    return document, spec


@cache
def _fast_checks() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The schema compiled to code (fastjsonschema): a valid manifest, the common case, costs a
    few microseconds instead of jsonschema's milliseconds. Only what it rejects goes through
    jsonschema, which places and words every error; the two are kept in agreement by tests."""
    formats = {"date-time": lambda v: not isinstance(v, str) or bool(_parse_datetime(v))}

    def compiled(definition: dict[str, Any]) -> Callable[[Any], Any]:
        # a copy: compiling rewrites the schema; no defaults: checking must not change the data
        return fastjsonschema.compile(
            copy.deepcopy(definition),
            handlers={"https": lambda uri: copy.deepcopy(schema())},  # never the network
            formats=formats,
            use_default=False,
        )

    versioned = {"$defs": schema()["$defs"], "$ref": "#/$defs/versionedSpec"}
    return compiled(schema()), compiled(versioned)


def _schema_problems(validator: Draft202012Validator, instance: Any, base: Path_) -> list[_Problem]:
    fast = _fast_checks()[0 if validator is _validators()[0] else 1]
    try:
        fast(instance)
    except fastjsonschema.JsonSchemaException:
        pass  # find out exactly what is wrong, and where, below
    else:
        return []
    problems: list[_Problem] = []
    for error in validator.iter_errors(instance):
        path = (*base, *error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            for key in error.instance:
                if key not in known:
                    message = f"Additional properties are not allowed ({_show(key)} was unexpected)"
                    problems.append(_Problem(path, message, key=key))
            continue
        problems.append(_Problem(path, _message(error)))
    return problems


def _message(error: ValidationError) -> str:
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if isinstance(custom, dict) and isinstance(custom.get(str(error.validator)), str):
        return str(custom[str(error.validator)]).replace("{value}", _show(error.instance))
    message, shown = error.message, repr(error.instance)
    return message.replace(shown, _show(error.instance)) if len(shown) > MAX_SHOWN else message


def _semantic_problems(spec: Mapping[str, Any], base: Path_, skip: set[Path_]) -> list[_Problem]:
    """The rules the schema cannot express: real cron expressions and time zones, start < end."""
    problems: list[_Problem] = []
    schedule = spec.get("schedule")
    schedule = schedule if isinstance(schedule, dict) else {}
    zone = schedule.get("timezone")
    if isinstance(zone, str) and zone not in _zones():
        message = f"{_show(zone)} is not a known IANA time zone (like 'Europe/Amsterdam')"
        problems.append(_Problem((*base, "schedule", "timezone"), message))
    recurring = schedule.get("recurring")
    recurring = recurring if isinstance(recurring, dict) else {}
    cron = recurring.get("cron")
    if isinstance(cron, str) and (reason := _cron_problem(cron)):
        message = f"{_show(cron)} is not a valid cron expression: {reason}"
        problems.append(_Problem((*base, "schedule", "recurring", "cron"), message))
    window = spec.get("window")
    for where, span in ((("schedule", "recurring"), recurring), (("window",), window)):
        if isinstance(span, dict):
            start, end = _parse_datetime(span.get("start")), _parse_datetime(span.get("end"))
            if start and end and start >= end:
                message = f"end {span['end']} is not after start {span['start']}"
                problems.append(_Problem((*base, *where, "end"), message))
    return [p for p in problems if p.path not in skip]


def _cron_problem(expression: str) -> str | None:
    fields = expression.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    try:
        cronsim.CronSim(expression, dt.datetime(2000, 1, 1))
    except Exception as exc:  # cronsim.CronSimError, or anything odd input makes it raise
        return str(exc).lower() or type(exc).__name__
    return None


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


# -- small helpers -------------------------------------------------------------------------------


def _line_column(diagnostic: Diagnostic) -> tuple[int, int]:
    return diagnostic.line or 0, diagnostic.column or 0


def _place(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _dotted(path: Path_) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else str(step)
    return text


def _clip(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value: object) -> str:
    """``repr(value)``, cut to MAX_SHOWN characters: user data never floods a message."""
    return _clip(repr(value), MAX_SHOWN)


def _show_tag(tag: str) -> str:
    return _clip("!!" + tag[len(_Y) :] if tag.startswith(_Y) else tag, MAX_SHOWN)


def _plain(value: Any) -> Any:
    """A deep copy as plain JSON types (dicts and lists), sharing nothing."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
