"""Views of plans, ledgers, diagnostics and runtime state: text for people, JSON for programs,
markdown for pull requests. Pure functions from data to strings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from reconciler.errors import Diagnostic
from reconciler.executor import Ledger, Outcome
from reconciler.manifests import LoadResult
from reconciler.model import Action, Campaign
from reconciler.plan import ACTION_ORDER, FieldChange, Operation, Plan
from reconciler.runtime.base import HistoryEntry

SYMBOLS = {
    Action.CREATE: "+",
    Action.ACTIVATE: "+",
    Action.COPY: "+",
    Action.UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.DISCARD: "-",
    Action.STOP: "-",
    Action.RESUME: "+",
}
VALUE_WIDTH = 70


def short(value: Any, width: int = VALUE_WIDTH) -> str:
    """A value as JSON on one line, cut to ``width`` characters."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def versions(op: Operation) -> str:
    if op.from_version is None:
        return f"v{op.to_version}" if op.to_version is not None else ""
    if op.to_version is None or op.to_version == op.from_version:
        return f"v{op.from_version}"
    return f"v{op.from_version} -> v{op.to_version}"


def change_line(c: FieldChange) -> str:
    if c.before is None:
        return f"+ {c.path}: {short(c.after)}"
    if c.after is None:
        return f"- {c.path}: {short(c.before)}"
    return f"~ {c.path}: {short(c.before)} -> {short(c.after)}"


def summary_line(plan: Plan) -> str:
    counts = plan.summary()
    parts = [f"{counts[a.value]} to {a.value}" for a in ACTION_ORDER if counts[a.value]]
    tail = [f"{plan.unchanged} unchanged"]
    if plan.errors:
        tail.append(_plural(len(plan.errors), "error"))
    if plan.warnings:
        tail.append(_plural(len(plan.warnings), "warning"))
    if not parts:
        head = "No changes." if not plan.errors else "Nothing can be applied."
        return f"{head} " + ", ".join(tail) + "."
    return "Plan: " + ", ".join(parts) + "; " + ", ".join(tail) + "."


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def diagnostic_line(d: Diagnostic) -> str:
    if d.file is None and d.campaign is not None:
        return f"campaign {d.campaign}: {d.message}"
    return str(d)


def plan_text(plan: Plan) -> str:
    lines: list[str] = []
    width = max((len(op.campaign) for op in plan.operations), default=0)
    for op in plan.operations:
        lines.append(
            f"{SYMBOLS[op.action]:>3} {op.action.value:<8} {op.campaign:<{width}}  "
            f"{versions(op)}".rstrip()
        )
        lines.append(f"      # {op.reason}")
        lines.extend(f"      {change_line(c)}" for c in op.changes)
    for title, items in (("Warnings", plan.warnings), ("Errors", plan.errors)):
        if items:
            lines += [*([""] if lines else []), f"{title}:"]
            lines += [f"  {diagnostic_line(d)}" for d in items]
    if lines:
        lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def plan_markdown(plan: Plan) -> str:
    out = ["### reconciler plan", "", f"**{summary_line(plan)}**", ""]
    if plan.operations:
        out += ["| | action | campaign | version | why |", "| --- | --- | --- | --- | --- |"]
        out += [
            f"| `{SYMBOLS[op.action]}` | {op.action.value} | `{op.campaign}` | {versions(op)} | "
            f"{_md(op.reason)} |"
            for op in plan.operations
        ]
        out.append("")
        for op in plan.operations:
            if not op.changes:
                continue
            out += [
                f"<details><summary>{op.action.value} <code>{op.campaign}</code>: "
                f"{_plural(len(op.changes), 'field')}</summary>",
                "",
                "```diff",
            ]
            for c in op.changes:
                if c.before is not None:
                    out.append(f"- {c.path}: {short(c.before)}")
                if c.after is not None:
                    out.append(f"+ {c.path}: {short(c.after)}")
            out += ["```", "", "</details>", ""]
    for title, items in (("Errors", plan.errors), ("Warnings", plan.warnings)):
        if items:
            out += [f"#### {title}", "", *(f"- `{_md(diagnostic_line(d))}`" for d in items), ""]
    return "\n".join(out).rstrip() + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def plan_json(plan: Plan) -> str:
    return plan.dumps()


def ledger_text(ledger: Ledger) -> str:
    lines = []
    for e in ledger.entries:
        note = e.message or ("already applied by an earlier run" if e.replayed else "")
        lines.append(
            f"  {e.outcome.value:<7} {e.action.value:<8} {e.campaign}"
            + (f": {note}" if note else "")
        )
    done, failed, skipped = (ledger.count(o) for o in Outcome)
    lines.append(f"Apply: {done} done, {failed} failed, {skipped} skipped.")
    return "\n".join(lines) + "\n"


def ledger_json(ledger: Ledger) -> str:
    done, failed, skipped = (ledger.count(o) for o in Outcome)
    body = {
        "plan": ledger.plan.to_json(),
        "ledger": [
            {
                "campaign": e.campaign,
                "action": e.action.value,
                "outcome": e.outcome.value,
                "message": e.message,
                "replayed": e.replayed,
            }
            for e in ledger.entries
        ],
        "summary": {"done": done, "failed": failed, "skipped": skipped},
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def validation_text(result: LoadResult) -> str:
    lines = [diagnostic_line(d) for d in result.diagnostics]
    files = _plural(result.files, "file")
    if result.ok:
        lines.append(f"Valid: {_plural(len(result.manifests), 'campaign')} in {files}.")
    else:
        errors = sum(1 for d in result.diagnostics if d.severity == "error")
        lines.append(f"Invalid: {_plural(errors, 'error')} in {files}.")
    return "\n".join(lines) + "\n"


def validation_json(result: LoadResult) -> str:
    body = {
        "valid": result.ok,
        "files": result.files,
        "campaigns": [m.name for m in result.manifests],
        "errors": [d.to_json() for d in result.diagnostics if d.severity == "error"],
        "warnings": [d.to_json() for d in result.diagnostics if d.severity == "warning"],
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def campaign_json(c: Campaign) -> dict[str, Any]:
    return {
        "name": c.name,
        "status": c.status.value,
        "kind": c.kind.value,
        "channel": c.channel.value,
        "live_version": c.live.number if c.live else None,
        "draft_version": c.draft.number if c.draft else None,
        "copied_from": c.copied_from,
        "managed": c.managed,
        "etag": c.etag,
        "live": c.live.to_json() if c.live else None,
        "draft": c.draft.to_json() if c.draft else None,
    }


def status_text(campaigns: Sequence[Campaign]) -> str:
    if not campaigns:
        return "No campaigns in the runtime.\n"
    header = ("NAME", "STATUS", "KIND", "CHANNEL", "LIVE", "DRAFT", "COPIED FROM")
    rows = [
        (
            c.name,
            c.status.value,
            c.kind.value,
            c.channel.value,
            f"v{c.live.number}" if c.live else "-",
            f"v{c.draft.number}" if c.draft else "-",
            c.copied_from or "-",
        )
        for c in campaigns
    ]
    return _table([header, *rows])


def status_json(campaigns: Sequence[Campaign]) -> str:
    return json.dumps({"campaigns": [campaign_json(c) for c in campaigns]}, indent=2) + "\n"


def history_text(entries: Sequence[HistoryEntry]) -> str:
    if not entries:
        return "No history yet.\n"
    header = ("REV", "AT", "ACTOR", "OPERATION", "CAMPAIGN", "VERSION", "COMMIT")
    rows = [
        (
            str(e.revision),
            e.at,
            e.actor,
            e.operation,
            e.campaign,
            _version_change(e),
            (e.commit or "-")[:12],
        )
        for e in entries
    ]
    return _table([header, *rows])


def _version_change(e: HistoryEntry) -> str:
    """The version an entry wrote: a staged or created draft, else the live one."""
    side = "draft" if e.operation in ("create", "update") else "live"
    version = (e.after or {}).get(side) or (e.after or {}).get("live")
    return f"v{version['number']}" if version else "-"


def history_json(entries: Sequence[HistoryEntry]) -> str:
    return json.dumps({"history": [e.to_json() for e in entries]}, indent=2) + "\n"


def _table(rows: Iterable[Sequence[str]]) -> str:
    rows = list(rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return (
        "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )
        + "\n"
    )
