"""Manifests the schema accepts, generated from the schema itself (hypothesis strategies).

Each part of a manifest (a name, a text, a date-time, an audience, a schedule, a window, a throttle)
is drawn from its definition in ``schema/campaign.schema.json`` by :func:`from_schema`, which reads
the keywords the schema uses (``$ref``, ``type``, ``enum``, ``const``, ``pattern``, ``format``,
``minimum``/``maximum``, ``minLength``, ``items``/``minItems``/``uniqueItems``, ``properties``,
``required``, ``additionalProperties``, ``oneOf``). The rules across parts (which content a channel
needs, outbound or inbound timing, a cron with no ``every`` fields) are ``if``/``then`` branches
that a part-by-part draw cannot follow: :func:`documents` composes the parts per channel as those
branches say, and keeps what jsonschema accepts. A test of everything the schema lets through,
not of the examples someone thought of.
"""

from __future__ import annotations

import string
from datetime import datetime
from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from reconciler.validation import schema

SCHEMA = schema()
DEFS: dict[str, Any] = SCHEMA["$defs"]

#: any text a manifest may carry, hostile included: controls, bidi overrides, markup, YAML syntax
TEXT = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(
        [
            "</details><img src=x onerror=alert(1)>",
            "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
            "\x07\x1b[31mred\u202e",
            "x\nevil.yaml:1:1: all good",
            "``` ` `` ",
            "%0A::error::fake,:",
            "on",
            "yes",
            "09:00",
            "0123",
            "- [a]: {b}",
            "&anchor *alias",
        ]
    ),
)


def _date_times() -> st.SearchStrategy[str]:
    """RFC 3339 date-times with an offset, as ``format: date-time`` admits them: any local time
    from the year 1 to 9999 with any offset (so some fall outside those years in UTC), mostly
    near today, and now and then a leap second."""
    offsets = st.one_of(st.just(0), st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59))
    anywhen = st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
    )
    near = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1))

    def written(local: datetime, minutes: int, fraction: bool) -> str:
        sign, (hours, rest) = "+" if minutes >= 0 else "-", divmod(abs(minutes), 60)
        offset = "Z" if minutes == 0 else f"{sign}{hours:02d}:{rest:02d}"
        return local.isoformat(timespec="microseconds" if fraction else "seconds") + offset

    leap = st.sampled_from(["2026-12-31T23:59:60Z", "2026-06-30T23:59:60+02:00"])
    return st.one_of(
        st.builds(written, near, offsets, st.booleans()),
        st.builds(written, anywhen, offsets, st.booleans()),
        leap,
    )


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = DEFS[node["$ref"].removeprefix("#/$defs/")]
    return node


def from_schema(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of one definition of the schema (see the module's docstring for the keywords)."""
    node = _resolve(node)
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "oneOf" in node:
        return st.one_of([from_schema({**_without(node, "oneOf"), **b}) for b in node["oneOf"]])
    kind = node.get("type")
    if kind == "string":
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True)
        if node.get("format") == "date-time":
            return _date_times()
        return TEXT if node.get("minLength") else st.one_of(st.just(""), TEXT)
    if kind == "integer":
        return st.integers(node.get("minimum", -(2**40)), node.get("maximum", 2**40))
    if kind == "array":
        items = from_schema(node.get("items", {"type": "string"}))
        return st.lists(items, min_size=node.get("minItems", 0), max_size=5, unique=True)
    if kind == "object" or "properties" in node:
        return _objects(node)
    return st.one_of(TEXT, st.integers(), st.booleans(), st.none())


def _without(node: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != key}


def _objects(node: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = node.get("properties", {})
    required = set(node.get("required", ()))
    fields = {name: from_schema(sub) for name, sub in properties.items()}
    extra = (
        st.dictionaries(st.text(string.ascii_letters + "<>`|\n\x1b\u202e :", min_size=1), TEXT)
        if node.get("additionalProperties") is not False
        else st.just({})
    )

    @st.composite
    def draw(draw_: st.DrawFn) -> dict[str, Any]:
        out = {k: v for k, v in draw_(extra).items() if k not in properties}
        for name, strategy in fields.items():
            if name in required or draw_(st.booleans()):
                out[name] = draw_(strategy)
        return out

    return draw()


_VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker(formats=()))
OUTBOUND, INBOUND = ("email", "sms", "push"), ("in-app", "web", "code-based", "content-card")
_CONTENT = {"email": ("subject", "body"), "sms": ("text",)}


@st.composite
def spec(draw: st.DrawFn, copy_from: str | None = None) -> dict[str, Any]:
    """A manifest's ``spec``, its parts drawn from the schema, composed per channel."""
    channel = draw(st.sampled_from(OUTBOUND + INBOUND))
    content = draw(from_schema(DEFS["content"]))
    for key in _CONTENT.get(channel, ("title", "body")):
        content[key] = draw(from_schema(DEFS["text"]))
    out: dict[str, Any] = {
        "state": draw(st.sampled_from(["draft", "live"])),
        "channel": channel,
        "content": content,
    }
    if draw(st.booleans()):
        out["run"] = draw(st.sampled_from(["running", "stopped"]))
    if channel in OUTBOUND:
        out["audience"] = draw(from_schema(DEFS["audience"]))
        if draw(st.booleans()):
            out["schedule"] = draw(_schedules())
    elif draw(st.booleans()):
        out["window"] = draw(from_schema(DEFS["window"]))
    if draw(st.booleans()):
        out["throttle"] = draw(from_schema(DEFS["throttle"]))
    if copy_from is not None:
        out["copyFrom"] = copy_from
    return out


@st.composite
def _schedules(draw: st.DrawFn) -> dict[str, Any]:
    schedule: dict[str, Any] = {}
    if draw(st.booleans()):
        schedule["once"] = draw(from_schema(DEFS["once"]))
    else:
        recurring = draw(from_schema(DEFS["recurring"]))
        if "cron" in recurring:  # a cron expression is the whole schedule
            recurring = {k: v for k, v in recurring.items() if k not in ("interval", "on", "at")}
            recurring["cron"] = draw(st.sampled_from(["0 9 * * MON", "*/15 * * * *", "0 0 29 2 *"]))
        every = recurring.get("every")
        if every == "day":
            recurring.pop("on", None)
        elif every == "week" and "on" in recurring:
            recurring["on"] = draw(
                st.lists(st.sampled_from(["mon", "thu", "sun"]), min_size=1, unique=True)
            )
        elif every == "month" and "on" in recurring:
            recurring["on"] = draw(
                st.lists(st.integers(1, 31), min_size=1, max_size=3, unique=True)
            )
        schedule["recurring"] = recurring
    if draw(st.booleans()):
        schedule["timezone"] = draw(st.sampled_from(["UTC", "Europe/Amsterdam", "Pacific/Apia"]))
    return schedule


@st.composite
def documents(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One to three manifests the schema accepts, with distinct names; a later one may copy an
    earlier one."""
    names = draw(st.lists(from_schema(DEFS["name"]), min_size=1, max_size=3, unique=True))
    out = []
    for i, name in enumerate(names):
        source = names[0] if i and draw(st.booleans()) else None
        metadata: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            metadata["title"] = draw(TEXT)
        if draw(st.booleans()):
            metadata["labels"] = draw(st.dictionaries(TEXT, TEXT, max_size=2))
        document = {
            "apiVersion": "reconciler/v1",
            "kind": "Campaign",
            "metadata": metadata,
            "spec": draw(spec(source)),
        }
        if _VALIDATOR.is_valid(document):
            out.append(document)
    return out
