"""Is a manifest's data valid: the JSON Schema, and the few rules a schema cannot express.

``schema/campaign.schema.json`` is the contract. A valid manifest, the common case, is checked by
the schema compiled to code (fastjsonschema: a few microseconds); only what it rejects goes through
jsonschema, which words and places every error. The rules a schema cannot express (real cron
expressions and time zones, start before end) are checked after it. The libraries are imported
when first needed: a run served from the cache never loads them.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from reconciler.model import date_time_problem, instant

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, ValidationError

__all__ = [
    "Problem",
    "canonical_schema",
    "checker",
    "document_problems",
    "known_zone",
    "schema",
    "spec_problems",
    "validate_spec",
    "worded",
]

SCHEMA_ID = "https://reconciler.dev/schema/campaign.schema.json"
MAX_SHOWN = 60  # longest rendering of a user value inside a message
MAX_MESSAGE = 300

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: Path_  # where, as a path into the document
    message: str
    key: str | None = None  # an unexpected property: placed at this key of the mapping at `path`

    def text(self) -> str:
        where = dotted(self.path)
        return f"{where}: {self.message}" if where else self.message


@cache
def schema() -> dict[str, Any]:
    """The packaged JSON Schema (loaded once; do not mutate)."""
    source = resources.files("reconciler") / "schema" / "campaign.schema.json"
    loaded: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return loaded


@cache
def _python_schema() -> dict[str, Any]:
    r"""The schema with its patterns meaning in Python what they mean in JSON Schema.

    JSON Schema patterns are ECMA-262 regular expressions, whose ``$`` (without the multiline
    flag) matches only at the very end. Python's ``$`` also matches before a final line break:
    ``^[a-z0-9-]+$`` would take ``"abc\n"`` as a campaign name. Both validators are given this
    copy, with every ``$`` outside a character class written ``\Z``.
    """
    converted: dict[str, Any] = _converted(schema())
    return converted


def _converted(node: Any) -> Any:
    if isinstance(node, list):
        return [_converted(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "pattern" and isinstance(value, str):
            out[key] = ecma_pattern(value)
        elif key == "patternProperties" and isinstance(value, dict):
            out[key] = {ecma_pattern(k): _converted(v) for k, v in value.items()}
        elif key in ("properties", "$defs"):  # names, not keywords
            out[key] = {name: _converted(sub) for name, sub in value.items()}
        elif key == "errorMessage":  # words for people, keyed by keyword: no pattern in them
            out[key] = value
        else:
            out[key] = _converted(value)
    return out


def python_patterns(schema: Any) -> Any:
    """A JSON Schema (any, the API's too) with its patterns meaning in Python what they mean in
    JSON Schema (see :func:`_python_schema`)."""
    return _converted(schema)


def ecma_pattern(pattern: str) -> str:
    r"""An ECMA-262 pattern as a Python one: ``$`` outside a character class becomes ``\Z``."""
    out, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            char = "\\Z"
        out.append(char)
    return "".join(out)


@cache
def canonical_schema() -> str:
    """The schema as one canonical string: part of what a cached validation depends on."""
    return json.dumps(schema(), sort_keys=True, separators=(",", ":"))


def prepare() -> None:
    """Compile the schema and list the time zones now, rather than on the first manifest."""
    _fast_check(0)
    _zones()


def document_problems(document: Mapping[str, Any]) -> list[Problem]:
    """Everything wrong with a whole manifest document (plain data), in no particular order."""
    problems = _schema_problems(0, document, ())
    spec = document.get("spec")
    if isinstance(spec, dict):
        problems += _semantic_problems(spec, ("spec",), {p.path for p in problems})
    return problems


def validate_spec(spec: Mapping[str, Any]) -> list[str]:
    """Check a complete versioned spec (no state/run/copyFrom), e.g. after a copyFrom overlay."""
    return [p.text() for p in spec_problems(spec)]


def spec_problems(spec: Mapping[str, Any]) -> list[Problem]:
    """:func:`validate_spec`'s problems, each with its path (from ``spec``): to be placed."""
    instance = plain(spec)
    problems = _schema_problems(1, instance, ("spec",))
    return problems + _semantic_problems(instance, ("spec",), {p.path for p in problems})


# -- the schema ----------------------------------------------------------------------------------


def parse_datetime(value: object) -> dt.datetime | None:
    """A manifest date-time (see ``model.instant``), or None."""
    if not isinstance(value, str):
        return None
    try:
        return instant(value)
    except ValueError:
        return None


def _date_time(value: object) -> bool:
    return date_time_problem(value) is None


@cache
def _validators() -> tuple[Draft202012Validator, Draft202012Validator]:
    """jsonschema's validators, which word and place errors: whole documents, and complete
    versioned specs."""
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource

    checker = FormatChecker(formats=())
    checker.checks("date-time")(_date_time)
    python = _python_schema()
    registry: Registry[Any] = Registry().with_resource(SCHEMA_ID, Resource.from_contents(python))
    document = Draft202012Validator(python, format_checker=checker, registry=registry)
    versioned = {"$ref": f"{SCHEMA_ID}#/$defs/versionedSpec"}
    spec = Draft202012Validator(versioned, format_checker=checker, registry=registry)
    return document, spec


#: the validators compiled to code, by which (0: documents, 1: versioned specs), as marshalled code
#: objects: given by a cache (use_compiled) or compiled in this process (compiled)
_COMPILED: dict[int, bytes] = {}


def compiled() -> dict[int, bytes]:
    """The compiled validators this process has, for a cache to keep (see use_compiled)."""
    return dict(_COMPILED)


def use_compiled(code: dict[int, bytes]) -> None:
    """Validators compiled by an earlier process of the same schema, reconciler, fastjsonschema
    and Python versions (the caller's cache key guarantees it): generating one takes 0.1 s."""
    _COMPILED.update((which, code[which]) for which in (0, 1) if isinstance(code.get(which), bytes))


@cache
def _fast_check(which: int) -> Callable[[Any], Any]:
    """The schema compiled to code (fastjsonschema): ``which`` 0 checks whole documents, 1 versioned
    specs. The tests keep it in agreement with jsonschema."""
    import marshal

    import fastjsonschema

    if (code := _COMPILED.get(which)) is not None:
        namespace: dict[str, Any] = {}
        exec(marshal.loads(code), namespace)  # code generated from our own schema
        if namespace.get("VERSION") == fastjsonschema.VERSION:  # else made by another version
            return _root(namespace)
    # no defaults: checking must not change the data; no messages (detailed_exceptions): a
    # rejected document is worded by jsonschema, and building messages nobody reads doubles the
    # cost of every failing `if` and halves the code to compile
    python = _python_schema()
    definition = python if which == 0 else {"$defs": python["$defs"], "$ref": _VERSIONED}
    source = fastjsonschema.compile_to_code(
        _terse(definition),
        handlers={"https": lambda uri: _terse(python)},  # never the network
        # our date-time check, not fastjsonschema's regex: what validates is what can be computed
        formats={"date-time": _date_time},
        use_default=False,
        detailed_exceptions=False,
    )
    compiled = compile(source, f"<schema check {which}>", "exec")
    _COMPILED[which] = marshal.dumps(compiled)
    namespace = {}
    exec(compiled, namespace)
    return _root(namespace)


def _terse(node: Any) -> Any:
    """A fresh copy of a schema (compiling rewrites it), with ``const: x`` written ``enum: [x]``,
    which means the same: fastjsonschema without detailed exceptions cannot compile ``const``."""
    if isinstance(node, list):
        return [_terse(item) for item in node]
    if not isinstance(node, dict):
        return node
    terse: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs", "patternProperties", "dependentSchemas"):
            terse[key] = {name: _terse(sub) for name, sub in value.items()}  # names, not keywords
        elif key == "const":
            terse["enum"] = [copy.deepcopy(value)]
        elif key in ("enum", "default", "examples", "errorMessage", "description", "title"):
            terse[key] = copy.deepcopy(value)
        else:
            terse[key] = _terse(value)
    return terse


def _root(namespace: dict[str, Any]) -> Callable[[Any], Any]:
    """The validator for the whole schema: fastjsonschema defines it first."""
    root = next(name for name in namespace if name.startswith("validate"))
    return functools.partial(namespace[root], custom_formats={"date-time": _date_time})


_VERSIONED = "#/$defs/versionedSpec"


def _schema_problems(which: int, instance: Any, base: Path_) -> list[Problem]:
    """``which``: 0 for a whole document, 1 for a versioned spec."""
    check = _fast_check(which)
    from fastjsonschema import JsonSchemaException  # loaded by the compiled check already

    try:
        check(instance)
    except JsonSchemaException:
        pass  # find out exactly what is wrong, and where, below
    else:
        return []
    return worded(_validators()[which], instance, base)


def checker(definition: Mapping[str, Any]) -> Callable[[Any], list[Problem]]:
    """A check of another schema (``definition``, without references outside itself) done as the
    manifests' is: compiled to code for the common, valid case; jsonschema words and places only
    what that rejects."""
    import fastjsonschema

    python = python_patterns(definition)
    fast = fastjsonschema.compile(_terse(python), use_default=False, detailed_exceptions=False)

    def check(instance: Any) -> list[Problem]:
        try:
            fast(instance)
        except fastjsonschema.JsonSchemaException:
            from jsonschema import Draft202012Validator

            return worded(Draft202012Validator(python), instance)
        return []

    return check


def worded(validator: Draft202012Validator, instance: Any, base: Path_ = ()) -> list[Problem]:
    """Every error of ``validator`` (jsonschema's) in ``instance``, worded and placed: a key that
    is not known with the one it most likely misspells, a custom ``errorMessage``, long values
    cut short."""
    errors = list(validator.iter_errors(instance))
    wanted: dict[Path_, set[str]] = {}  # the keys each mapping is missing, by its path
    for error in errors:
        wanted.setdefault(tuple(error.absolute_path), set()).update(_missing(error))
    problems: list[Problem] = []
    meant: dict[Path_, set[str]] = {}  # the missing keys that a typo accounts for
    for error in errors:
        path = (*base, *error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            missing = wanted.get(tuple(error.absolute_path), set())
            for key in error.instance:
                if key not in known:
                    absent = [name for name in known if name not in error.instance]
                    guess = _guess(key, sorted(missing)) or _guess(key, absent)
                    if guess in missing:
                        meant.setdefault(tuple(error.absolute_path), set()).add(guess)
                    problems.append(Problem(path, _unexpected(key, guess), key=key))
    for error in errors:
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            continue
        missing = _missing(error)
        if missing & meant.get(tuple(error.absolute_path), set()):
            continue  # a typo's other half: the key is there, misspelled, and said so
        problems.append(Problem((*base, *error.absolute_path), _message(error)))
    return problems


def _unexpected(key: object, guess: str | None) -> str:
    if guess is None:
        return f"Additional properties are not allowed ({show(key)} was unexpected)"
    return f"{show(key)} is not a known property; did you mean {show(guess)}?"


def _guess(key: object, names: list[str]) -> str | None:
    """The one of ``names`` that ``key`` is most likely a misspelling of, if any is close."""
    if not isinstance(key, str) or not names:
        return None
    import difflib

    close = difflib.get_close_matches(key, names, n=1)
    return close[0] if close else None


def _missing(error: ValidationError) -> set[str]:
    """The keys whose absence ``error`` is about, at its own mapping: a ``required`` error, or a
    ``oneOf``/``anyOf`` none of whose ``required`` branches is met."""
    if not isinstance(error.instance, dict):
        return set()
    if error.validator == "required" and isinstance(error.validator_value, list):
        return {
            name
            for name in error.validator_value
            if isinstance(name, str)
            and name not in error.instance
            and error.message == f"{name!r} is a required property"
        }
    if error.validator in ("oneOf", "anyOf") and error.context:
        branches = [e for e in error.context if not e.relative_path]
        if all(e.validator == "required" for e in branches):
            return set().union(*(_missing(e) for e in branches))
    return set()


def _message(error: ValidationError) -> str:
    if error.validator == "format" and error.validator_value == "date-time":
        return date_time_problem(error.instance) or error.message
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if isinstance(custom, dict) and isinstance(custom.get(str(error.validator)), str):
        return str(custom[str(error.validator)]).replace("{value}", show(error.instance))
    message, shown = error.message, repr(error.instance)
    return message.replace(shown, show(error.instance)) if len(shown) > MAX_SHOWN else message


# -- beyond the schema ---------------------------------------------------------------------------


def _semantic_problems(spec: Mapping[str, Any], base: Path_, skip: set[Path_]) -> list[Problem]:
    """The rules the schema cannot express: real cron expressions and time zones, start < end."""
    problems: list[Problem] = []
    schedule = spec.get("schedule")
    schedule = schedule if isinstance(schedule, dict) else {}
    zone = schedule.get("timezone")
    if isinstance(zone, str) and zone not in _zones():
        message = f"{show(zone)} is not a known IANA time zone (like 'Europe/Amsterdam')"
        problems.append(Problem((*base, "schedule", "timezone"), message))
    recurring = schedule.get("recurring")
    recurring = recurring if isinstance(recurring, dict) else {}
    cron = recurring.get("cron")
    if isinstance(cron, str) and (reason := _cron_problem(cron)):
        message = f"{show(cron)} is not a valid cron expression: {reason}"
        problems.append(Problem((*base, "schedule", "recurring", "cron"), message))
    window = spec.get("window")
    for where, span in ((("schedule", "recurring"), recurring), (("window",), window)):
        if isinstance(span, dict):
            start, end = parse_datetime(span.get("start")), parse_datetime(span.get("end"))
            if start and end and start >= end:
                message = f"end {span['end']} is not after start {span['start']}"
                problems.append(Problem((*base, *where, "end"), message))
    return [p for p in problems if p.path not in skip]


@cache
def _cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a cron expression, or None (remembered: repositories share a
    handful of expressions)."""
    fields = expression.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    import cronsim

    try:
        cronsim.CronSim(expression, dt.datetime(2000, 1, 1))
    except Exception as exc:  # cronsim.CronSimError, or anything odd input makes it raise
        return str(exc).lower() or type(exc).__name__
    return None


def known_zone(name: object) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows."""
    return isinstance(name, str) and name in _zones()


@cache
def _zones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


# -- small helpers -------------------------------------------------------------------------------


def dotted(path: Path_) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else str(step)
    return text


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(value: object) -> str:
    """``repr(value)``, cut to MAX_SHOWN characters: user data never floods a message."""
    return clip(repr(value), MAX_SHOWN)


def plain(value: Any) -> Any:
    """A deep copy as plain JSON types (dicts and lists), sharing nothing."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
