"""The English every view of a plan shares: an operation's reason from its code and parameters,
its sendings in the campaign's own zone, the command-line hints of diagnostics, and the summary.

The library's plan is data (``plan.Reason`` and its parameters, instants and a zone); this is where
it becomes words, once for the text, markdown, GitHub and JSON views alike. Command-line flags
(``--prune``, ``--target``) appear here and in the CLI only. Nothing here escapes: each view
escapes what it writes, for where it writes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from reconciler.actions import SUMMARY_ORDER
from reconciler.errors import Diagnostic, Hint
from reconciler.model import Kind, parse_moment
from reconciler.plan import Operation, Plan, Reason
from reconciler.schedule import describe_in

#: what the command line can do about a diagnostic, added to its message
HINTS: Mapping[Hint, str] = {Hint.PRUNE: " (plan with --prune to stop it)"}


def reason(op: Operation) -> str:
    """Why the operation is planned, in a sentence (with its drift, where there is one)."""
    p = op.reason_params
    text = _REASONS[op.reason](op, p)
    if op.adopt:
        text += "; the campaign was made outside the reconciler, which adopts it (reconciler/adopt)"
    if "drift_version" in p:
        text += (
            f"; live version {p['drift_version']} was changed outside the reconciler by {op.drift}"
        )
    return text


def _stop(op: Operation, p: Mapping[str, Any]) -> str:
    if op.kind == Kind.INBOUND.value:
        return "it stops being shown until it resumes"
    return cancellation(p, op.zone or "UTC") or "the next sending is cancelled"


def cancellation(p: Mapping[str, Any], zone: str) -> str | None:
    """What a stop cancels and lets finish, when the plan knows it (it was made with a now)."""
    if "cancels" not in p:
        return None
    text = (
        f"the next sending, {when(p['cancels'], zone)}, is cancelled"
        if p["cancels"] is not None
        else "no sending is left to cancel"
    )
    if p.get("in_progress") is not None:
        text = f"the sending of {when(p['in_progress'], zone)} is in progress and finishes; " + text
    return text


def _removed(op: Operation, p: Mapping[str, Any]) -> str:
    cancelled = cancellation(p, op.zone or "UTC")
    return "its manifest was removed; --prune stops it" + (f"; {cancelled}" if cancelled else "")


def _resumed(op: Operation, p: Mapping[str, Any]) -> str:
    text = "the manifest says run: running"
    if "staged" in p:
        text += f"; the spec change is staged as draft version {p['staged']}"
    if "replaces" in p:
        text += f"; version {p['replaces']} replaces live version {op.from_version}"
    if "discards" in p:
        text += f"; staged draft version {p['discards']} is discarded"
    return text


def _adopted(op: Operation, p: Mapping[str, Any]) -> str:
    return (
        f"made outside the reconciler (by {p['actor']}), and the manifest matches it: the "
        "reconciler takes over its management; the campaign is untouched"
    )


_REASONS = {
    Reason.NEW_DRAFT: lambda op, p: "new campaign; the manifest says draft",
    Reason.NEW_LIVE: lambda op, p: "new campaign; the manifest says live",
    Reason.DRAFT_GOES_LIVE: lambda op, p: "a draft that was never live; the manifest says live",
    Reason.NEW_COPY: lambda op, p: f"new copy of {p['source']}, to be {p['state']}",
    Reason.DRAFT_CHANGED: lambda op, p: "spec of the draft changed",
    Reason.CHANGE_STAGED: lambda op, p: (
        f"spec changed; staged as draft version {p['draft']} beside live version {p['live']}, "
        "which keeps running"
    ),
    Reason.SPEC_CHANGED: lambda op, p: (
        f"spec changed; the new version replaces live version {p['live']}"
    ),
    Reason.STAGED_REPLACES: lambda op, p: (
        f"the staged draft version {p['draft']} replaces live version {p['live']}"
    ),
    Reason.DRIFT_RESTORED: lambda op, p: (
        f"drift: live version {p['live']} was written outside the reconciler by {op.drift}; "
        "the manifest's spec is restored"
    ),
    Reason.LIVE_MATCHED: lambda op, p: (
        f"the manifest matches live version {p['live']} again; staged draft version "
        f"{p['draft']} is discarded"
    ),
    Reason.STOP_REQUESTED: lambda op, p: "the manifest says run: stopped; " + _stop(op, p),
    Reason.MANIFEST_REMOVED: _removed,
    Reason.RESUME_REQUESTED: _resumed,
    Reason.ADOPTED: _adopted,
}


def when(moment: datetime | str, zone: str) -> str:
    """A sending time as people read it, in the campaign's zone: 'Mon 2026-11-30 09:00 CET'."""
    return describe_in(parse_moment(moment) if isinstance(moment, str) else moment, zone)


def sendings(moments: Iterable[datetime], zone: str | None) -> str:
    return ", ".join(when(m, zone or "UTC") for m in moments)


def next_sendings(op: Operation) -> str:
    """The operation's next sendings, or '' when it leads to none known ahead."""
    if op.on_activation:
        return "on activation"
    return sendings(op.next_sendings, op.zone)


def inherited(op: Operation) -> str:
    """A copy's fields taken from its source as they are: '7 fields as in weekly-digest v3'."""
    source, version = op.reason_params.get("source"), op.reason_params.get("source_version")
    return f"{plural(op.inherited, 'field')} as in {source}" + (f" v{version}" if version else "")


def message(d: Diagnostic) -> str:
    """A diagnostic's message with what the command line can do about it."""
    return d.message + HINTS[d.hint] if d.hint is not None else d.message


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


VALUE_WIDTH = 70
#: what ``json.dumps(value, ensure_ascii=False, sort_keys=True)`` builds on every call, built once:
#: a plan shows tens of thousands of values
_ONE_LINE = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


#: how many changed fields of the policies a view lists before it counts the rest
SHOWN_POLICY_CHANGES = 20


#: the heading of a change to the policies, which every view of a plan shows first
POLICY_CHANGES = "This change edits the policies"


def policy_changes(plan: Plan) -> list[tuple[str, str]]:
    """What a change to the project file changes of the policies, as every view shows it first:
    (sign, "path: value") per field: "-" before, "+" after (a changed field has both), the last
    line counting what is not listed."""
    changes = plan.policy_changes
    lines: list[tuple[str, str]] = []
    for c in changes[:SHOWN_POLICY_CHANGES]:
        if c.before is not None:
            lines.append(("-", f"{c.path}: {short(c.before)}"))
        if c.after is not None:
            lines.append(("+", f"{c.path}: {short(c.after)}"))
    if len(changes) > SHOWN_POLICY_CHANGES:
        rest = len(changes) - SHOWN_POLICY_CHANGES
        lines.append((" ", f"and {plural(rest, 'more field', 'more fields')}"))
    return lines


def short(value: Any, width: int = VALUE_WIDTH) -> str:
    """A value as JSON on one line, cut to ``width`` characters."""
    # most values are strings: the encoder's own first step for them, without the call around it
    text = encode_basestring(value) if isinstance(value, str) else _ONE_LINE.encode(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def versions(op: Operation) -> str:
    """'v1', 'v2 -> v3': the versions an operation goes from and to."""
    if op.from_version is None:
        return f"v{op.to_version}" if op.to_version is not None else ""
    if op.to_version is None or op.to_version == op.from_version:
        return f"v{op.from_version}"
    return f"v{op.from_version} -> v{op.to_version}"


@dataclass(frozen=True)
class Summary:
    """What a plan's summary says, for each view to punctuate in its own way."""

    actions: tuple[str, ...]  # "2 to activate", in the summary's order
    head: str  # "No changes", "Nothing can be applied", or "" when there are actions
    tail: tuple[str, ...]  # "14 unchanged", "12 left out by --target"
    problems: tuple[str, ...]  # "1 error", "2 warnings"


def summary(plan: Plan) -> Summary:
    counts = plan.summary()
    actions = tuple(f"{counts[a.value]} to {a.value}" for a in SUMMARY_ORDER if counts[a.value])
    head = "" if actions else "Nothing can be applied" if plan.errors else "No changes"
    tail = [f"{plan.unchanged} unchanged"]
    if plan.left_out:
        tail.append(f"{plan.left_out} left out by --target")
    problems = [plural(len(plan.errors), "error")] if plan.errors else []
    problems += [plural(len(plan.warnings), "warning")] if plan.warnings else []
    return Summary(actions, head, tuple(tail), tuple(problems))


def plan_document(plan: Plan) -> dict[str, Any]:
    """The JSON plan: the plan's data with each operation's ``reason`` in words (which reading a
    saved plan ignores: the plan's id and signature are over its data), and its signature when it
    has one. A diagnostic's hint stays a code (``hint``): programs read JSON."""
    body = plan.to_json()
    body["operations"] = [
        # the reason where a reader looks for it, after what and where
        {"campaign": data["campaign"], "action": data["action"], "file": data["file"]}
        | {"reason": reason(op)}
        | data
        for op, data in zip(plan.operations, body["operations"], strict=True)
    ]
    if plan.signature is not None:
        body["signature"] = plan.signature.to_json()
    return body
