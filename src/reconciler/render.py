"""Views of plans, ledgers, diagnostics and runtime state: text for people, JSON for programs,
workflow commands for CI, markdown for pull requests (in ``render_markdown``). Pure functions from
data to strings: whether to colour is the caller's decision, passed in as ``color``.

Every string in them may come from a pull request or the runtime, so escaping is not left to each
call site: a text view composes its lines from raw data and hands them to :func:`_lines`, which
escapes each part of each line (:func:`reconciler.escape.text`) and only then paints it; a JSON view
returns what :mod:`reconciler.render_json` writes. A view that forgot to escape would have no other
way to its output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reconciler import escape, render_json, schedule, wording
from reconciler.actions import FACTS
from reconciler.cycles import Cycle, CycleOutcome, Stopped
from reconciler.errors import Diagnostic
from reconciler.executor import Ledger, Outcome
from reconciler.history import History
from reconciler.manifests import LoadResult
from reconciler.model import Campaign, CampaignStatus, Sending, SendingOutcome, Sendings
from reconciler.plan import FieldChange, Plan
from reconciler.render_markdown import plan_markdown as plan_markdown
from reconciler.render_markdown import plans_markdown as plans_markdown
from reconciler.runtime.access import TokenInfo
from reconciler.runtime.base import HistoryEntry, LockInfo, redacted, timestamp
from reconciler.runtime.engine import Step
from reconciler.runtime.migrate import Copied
from reconciler.wording import plural, short, versions

if TYPE_CHECKING:  # the commands that make these import them: every other one starts faster
    from reconciler.console import Made
    from reconciler.importer import Imported

LONG = 20  # a text plan with a longer body ends with its summary again, where the reader is

# ANSI select graphic rendition codes; text views take ``color`` and never look at the terminal
BOLD, RED, GREEN, YELLOW = "1", "31", "32", "33"
CHANGE_COLORS = {"+": GREEN, "~": YELLOW, "-": RED}
OUTCOME_COLORS = {Outcome.DONE: GREEN, Outcome.FAILED: RED, Outcome.SKIPPED: YELLOW}


def paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color and text else text


#: a line of a text view: raw text, or raw parts each with the colour it is painted in (or None)
Line = str | tuple[tuple[str, str | None], ...]


def _lines(lines: Iterable[Line], color: bool = False) -> str:
    """The one way out of a text view: each line (or each part of it) escaped, then painted, so
    no string can bring a control character of its own and ours are the only colours. Escaping is
    idempotent: a view may escape a cell early to measure its width."""
    out = []
    for line in lines:
        if isinstance(line, str):
            out.append(escape.text(line))
        elif not color:  # nothing to paint: the line as one string, one call
            out.append(escape.text("".join([part for part, _ in line])))
        else:
            out.append(
                "".join(
                    paint(escape.text(part), code, color) if code else escape.text(part)
                    for part, code in line
                )
            )
    return "".join(f"{line}\n" for line in out)


def change_line(c: FieldChange) -> str:
    """'~ path: before -> after', raw: a key may hold anything, and :func:`_lines` escapes it."""
    if c.before is None:
        return f"+ {c.path}: {short(c.after)}"
    if c.after is None:
        return f"- {c.path}: {short(c.before)}"
    return f"~ {c.path}: {short(c.before)} -> {short(c.after)}"


def summary_line(plan: Plan) -> str:
    """'Plan: 1 to create, 9 to activate; 0 unchanged, 1 warning.', 'No changes. 11 unchanged.'"""
    said = wording.summary(plan)
    tail = ", ".join([*said.tail, *said.problems]) + "."
    if not said.actions:
        return f"{said.head}. {tail}"
    return "Plan: " + ", ".join(said.actions) + "; " + tail


def diagnostic_line(d: Diagnostic) -> str:
    if d.file is None:
        campaign = f"campaign {d.campaign}: " if d.campaign is not None else ""
        return campaign + wording.message(d)
    return f"{d.place}: {wording.message(d)}"


def plan_text(plan: Plan, *, color: bool = False) -> str:
    """The plan for a terminal: the summary first, then one entry per campaign with its field
    changes, then warnings and errors; a long plan repeats the summary as its last line."""
    body: list[Line] = []
    names = [escape.text(op.campaign) for op in plan.operations]  # escaped to measure them
    width = max(map(len, names), default=0)
    for op, name in zip(plan.operations, names, strict=True):
        facts = FACTS[op.action]
        rest = f"{'':<{8 - len(op.action.value)}} {name:<{width}}  {versions(op)}"
        head = (f"{facts.symbol} {op.action.value}", facts.colour)
        body.append(((f"{'':<{3 - len(facts.symbol)}}", None), head, (rest.rstrip(), None)))
        body.append(f"      # {wording.reason(op)}")
        if op.sendings_before:
            before = wording.sendings(op.sendings_before, op.zone_before)
            body.append(f"      # sendings before: {before}")
        if upcoming := wording.next_sendings(op):
            body.append(f"      # next sendings: {upcoming}")
        body.extend(
            (("      ", None), (text, CHANGE_COLORS[text[0]]))
            for text in map(change_line, op.changes)
        )
        if op.inherited:
            body.append((("      ", None), (f"+ {wording.inherited(op)}", GREEN)))
    for title, items, code in (("Warnings", plan.warnings, YELLOW), ("Errors", plan.errors, RED)):
        if items:
            body += [*([""] if body else []), ((f"{title}:", code),)]
            body += [(("  ", None), (diagnostic_line(d), code)) for d in items]
    summary: Line = ((summary_line(plan), BOLD),)
    first = _policy_lines(plan)
    if not body:
        return _lines([*first, summary], color)
    return _lines([*first, summary, "", *body, *(["", summary] if len(body) > LONG else [])], color)


def _policy_lines(plan: Plan) -> list[Line]:
    """A change to the policies, before anything else: a reviewer reads it first."""
    if not plan.policy_changes:
        return []
    heading = f"{wording.POLICY_CHANGES} ({plan.policy_file or 'the project file'}):"
    lines: list[Line] = [((heading, YELLOW),)]
    lines += [
        (("  ", None), (f"{sign} {text}", CHANGE_COLORS.get(sign)))
        for sign, text in wording.policy_changes(plan)
    ]
    return [*lines, ""]


def plan_github(plan: Plan, *, prefix: str = "") -> str:
    """GitHub Actions workflow commands: one annotation per error and warning, then the summary;
    each message after ``prefix`` (an environment's ``[staging] ``)."""
    lines = []
    if plan.policy_changes:  # first: a reviewer sees it before anything the policies judged
        fields = sorted({c.path for c in plan.policy_changes})
        said = ", ".join(fields[:5]) + (f" and {len(fields) - 5} more" if len(fields) > 5 else "")
        lines.append(
            _annotation(
                "warning",
                Diagnostic(f"{wording.POLICY_CHANGES.lower()}: {said}", plan.policy_file),
                prefix,
            )
        )
    lines += [_annotation("error", d, prefix) for d in plan.errors]
    lines += [_annotation("warning", d, prefix) for d in plan.warnings]
    return "\n".join([*lines, escape.text(prefix + summary_line(plan))]) + "\n"


def plans_text(plans: Mapping[str, Plan | str], *, color: bool = False) -> str:
    """Every environment's plan (``plan --all-envs``) under a line naming it, or why it has
    none."""
    out = []
    for name, body in plans.items():
        heading = _lines([((f"Environment {name}:", BOLD),)], color)
        if isinstance(body, Plan):
            out.append(heading + plan_text(body, color=color))
        else:
            out.append(heading + _lines([((f"error: {body}", RED),)], color))
    return "\n".join(out)


def plans_github(plans: Mapping[str, Plan | str]) -> str:
    """Every environment's annotations and summary, each message prefixed with its name."""
    out = []
    for name, body in plans.items():
        if isinstance(body, Plan):
            out.append(plan_github(body, prefix=f"[{name}] "))
        else:
            out.append(_annotation("error", Diagnostic(body), f"[{name}] ") + "\n")
    return "".join(out)


def plans_json(plans: Mapping[str, Plan | str]) -> str:
    """``{"environments": {NAME: the JSON plan, or {"error": why there is none}}}``."""
    return render_json.document(
        {
            "environments": {
                name: wording.plan_document(body) if isinstance(body, Plan) else {"error": body}
                for name, body in plans.items()
            }
        }
    )


def _annotation(command: str, d: Diagnostic, prefix: str = "") -> str:
    properties = []
    if d.file is not None:
        properties.append(f"file={escape.github_property(d.file)}")
        if d.line is not None:
            properties.append(f"line={d.line}")
            if d.column is not None:
                properties.append(f"col={d.column}")
    properties.append("title=reconciler")
    message = wording.message(d) if d.file is not None or d.campaign is None else diagnostic_line(d)
    return f"::{command} {','.join(properties)}::{escape.github_data(prefix + message)}"


def plan_json(plan: Plan) -> str:
    """The JSON plan, as `plan --format json` prints it and `plan --out` saves it."""
    return render_json.document(wording.plan_document(plan))


def ledger_text(ledger: Ledger, *, color: bool = False) -> str:
    """What an apply did, one line per operation; its tally last, as the run's final word."""
    lines: list[Line] = []
    for e in ledger.entries:
        note = e.message or ("already applied by an earlier run" if e.replayed else "")
        rest = f"{'':<{7 - len(e.outcome.value)}} {e.action.value:<8} {e.campaign}"
        outcome = (e.outcome.value, OUTCOME_COLORS[e.outcome])
        lines.append((("  ", None), outcome, (rest + (f": {note}" if note else ""), None)))
    lines.append(((verdict(ledger), BOLD),))
    return _lines(lines, color)


def already_applied_text(ledger: Ledger) -> str:
    """A saved plan an earlier run applied whole: when and by whom, and that nothing was redone."""
    before = ledger.already_applied
    when = f" ({before.at} by {before.actor})" if before and before.at is not None else ""
    done = f"the saved plan {ledger.plan.plan_id} was already applied{when}"
    return _lines([f"{done}; nothing was applied again"])


def verdict(ledger: Ledger) -> str:
    """An apply's last word: what it did, or that it did nothing and why."""
    if not ledger.plan.ok:
        return f"Nothing was applied: {plural(len(ledger.plan.errors), 'error')}."
    done, failed, skipped = (ledger.count(o) for o in Outcome)
    return f"Apply: {done} done, {failed} failed, {skipped} skipped."


def apply_text(ledger: Ledger, *, color: bool = False) -> str:
    """What `apply` prints: the plan, then what was done (a line per operation) and the verdict;
    an invalid plan applies nothing, and says so as its last line, where CI logs are read."""
    if ledger.already_applied is not None:
        return already_applied_text(ledger)
    text = plan_text(ledger.plan, color=color)
    if not ledger.plan.ok:
        return text + "\n" + _lines([((verdict(ledger), BOLD),)], color)
    return text + ("\n" + ledger_text(ledger, color=color) if ledger.entries else "")


def apply_markdown(ledger: Ledger) -> str:
    """An apply for GitHub's job summary: the plan as a pull request shows it, and the verdict."""
    if ledger.already_applied is not None:
        return escape.markdown(already_applied_text(ledger).rstrip("\n")) + "\n"
    return plan_markdown(ledger.plan) + "\n" + f"**{escape.markdown(verdict(ledger))}**\n"


def ledger_json(ledger: Ledger) -> str:
    done, failed, skipped = (ledger.count(o) for o in Outcome)
    before = ledger.already_applied
    body = {
        "plan": wording.plan_document(ledger.plan),
        #: a saved plan an earlier run applied whole: when and by whom; null otherwise
        "already_applied": (
            {"at": before.at, "actor": before.actor} if before is not None else None
        ),
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
    return render_json.document(body)


def validation_text(result: LoadResult) -> str:
    lines = [diagnostic_line(d) for d in result.diagnostics]
    files = plural(result.files, "file")
    if result.ok:
        lines.append(f"Valid: {plural(len(result.manifests), 'campaign')} in {files}.")
    else:
        errors = sum(1 for d in result.diagnostics if d.severity == "error")
        lines.append(f"Invalid: {plural(errors, 'error')} in {files}.")
    return _lines(lines)


def validation_json(result: LoadResult) -> str:
    body = {
        "valid": result.ok,
        "files": result.files,
        "campaigns": [m.name for m in result.manifests],
        "errors": [d.to_json() for d in result.diagnostics if d.severity == "error"],
        "warnings": [d.to_json() for d in result.diagnostics if d.severity == "warning"],
    }
    return render_json.document(body)


def campaign_json(row: CampaignStatus) -> dict[str, Any]:
    c = row.campaign
    return {
        "name": c.name,
        "status": c.status.value,
        "kind": c.kind.value,
        "channel": c.channel.value,
        "live_version": c.live.number if c.live else None,
        "draft_version": c.draft.number if c.draft else None,
        "copied_from": c.copied_from,
        "drift": _drift_json(c),
        "next_sending": timestamp(row.next_sending) if row.next_sending else None,
        "last_sending": row.last_sending.to_json() if row.last_sending else None,
        "sending_in_progress": c.sending.to_json() if c.sending else None,
        "managed": c.managed,
        "etag": c.etag,
        "live": c.live.to_json() if c.live else None,
        "draft": c.draft.to_json() if c.draft else None,
    }


def _drift_json(c: Campaign) -> dict[str, Any] | None:
    return {"version": c.live.number, "actor": c.live.actor} if c.drifted and c.live else None


def status_text(rows: Sequence[CampaignStatus]) -> str:
    if not rows:
        return "No campaigns in the runtime.\n"
    header: tuple[str, ...] = ("NAME", "STATUS", "KIND", "CHANNEL", "LIVE", "DRAFT", "COPIED FROM")
    header += ("DRIFT", "NEXT SENDING")
    lines = [
        (
            row.campaign.name,
            row.campaign.status.value + (" (sending)" if row.campaign.sending else ""),
            row.campaign.kind.value,
            row.campaign.channel.value,
            f"v{row.campaign.live.number}" if row.campaign.live else "-",
            f"v{row.campaign.draft.number}" if row.campaign.draft else "-",
            row.campaign.copied_from or "-",
            f"by {row.campaign.live.actor}" if row.campaign.drifted and row.campaign.live else "-",
            wording.when(row.next_sending, _zone(row.campaign)) if row.next_sending else "-",
        )
        for row in rows
    ]
    return _table([header, *lines])


def _zone(c: Campaign) -> str:
    """The zone a campaign's times are shown in: its live version's schedule's, else UTC."""
    return schedule.zone_of(c.live.spec) if c.live is not None else "UTC"


def status_json(rows: Sequence[CampaignStatus]) -> str:
    return render_json.document({"campaigns": [campaign_json(r) for r in rows]}, ascii=True)


def sendings_text(sendings: Sendings) -> str:
    """A table of sendings, their times in each campaign's zone, as a plan shows them."""
    if not sendings.items:
        return "No sendings yet.\n"
    header = ("CAMPAIGN", "SCHEDULED", "VERSION", "OUTCOME", "STARTED", "ENDS", "ID")
    lines = []
    for x in sendings.items:
        zone = sendings.zones.get(x.campaign, "UTC")
        started = wording.when(x.started, zone) if x.started else "-"
        ends = wording.when(x.ends, zone) if x.ends else "-"
        scheduled = wording.when(x.scheduled, zone)
        lines.append((x.campaign, scheduled, f"v{x.version}", x.outcome.value, started, ends, x.id))
    return _table([header, *lines])


def sendings_json(sendings: Sendings) -> str:
    return render_json.document({"sendings": [x.to_json() for x in sendings.items]}, ascii=True)


def history_text(history: History) -> str:
    """A table, newest first, with each entry's field changes under it (as a plan shows them)."""
    entries = history.entries
    if not entries and history.since is not None and history.earlier:
        before = plural(history.earlier, "entry", "entries")
        return _lines([f"No history since {history.since} ({before} before)."])
    if not entries:
        return "No history yet.\n"
    header = ("REV", "AT", "ACTOR", "OPERATION", "CAMPAIGN", "VERSION", "COMMIT", "FILE")
    rows = [
        (
            str(e.revision),
            e.at,
            e.actor,
            e.operation,
            e.campaign,
            _version_change(e),
            _commit(e),
            e.file or "-",
        )
        for e in entries
    ]
    head, *table = _table([header, *rows]).splitlines()
    lines: list[Line] = [head]
    for e, row in zip(entries, table, strict=True):
        lines.append(row)  # escaped already, and escaping again changes nothing
        lines.extend(f"      {change_line(c)}" for c in history.changes.get(e.seq, ()))
    return _lines(lines)


def _commit(e: HistoryEntry) -> str:
    """The commit, short; '-dirty' when the manifests had uncommitted changes (as git describe)."""
    if e.commit is None:
        return "-"
    return e.commit[:12] + ("-dirty" if e.dirty else "")


def _version_change(e: HistoryEntry) -> str:
    """The version an entry wrote: a staged or created draft, else the live one."""
    side = "draft" if e.operation in ("create", "update") else "live"
    version = (e.after or {}).get(side) or (e.after or {}).get("live")
    return f"v{version['number']}" if version else "-"


def history_json(history: History) -> str:
    return render_json.document({"history": [e.to_json() for e in history.entries]}, ascii=True)


def _table(rows: Iterable[Sequence[str]]) -> str:
    cells = [[escape.text(cell) for cell in row] for row in rows]  # escaped to measure them
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return _lines(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def cycle_text(cycle: Cycle, *, color: bool = False) -> str:
    """One line per cycle; the plan below it only when something was applied (or, with
    --dry-run, would be); errors below it when the manifests are invalid."""
    trigger = cycle.trigger.value
    if cycle.changed_files:
        trigger += f": {plural(cycle.changed_files, 'file')}"
    head = f"{timestamp(cycle.at)} cycle {cycle.number} ({trigger}): "
    plan, body = cycle.plan, ""
    if cycle.ledger is not None and cycle.outcome in (
        CycleOutcome.APPLIED, CycleOutcome.FAILED, CycleOutcome.STOPPED,
    ):  # fmt: skip
        done = cycle.ledger.count(Outcome.DONE)
        failed, skipped = cycle.ledger.count(Outcome.FAILED), cycle.ledger.count(Outcome.SKIPPED)
        total = plural(len(cycle.ledger.entries), "operation")
        head += f"{cycle.outcome.value} {done} of {total}"
        if cycle.outcome is not CycleOutcome.APPLIED:
            head += f" done, {failed} failed, {skipped} skipped"
        body = plan_text(cycle.ledger.plan, color=color) + "\n"
        body += ledger_text(cycle.ledger, color=color)
    elif cycle.outcome is CycleOutcome.PLANNED and plan is not None:
        head += "would apply: " + summary_line(plan)
        body = plan_text(plan, color=color)
    elif cycle.outcome is CycleOutcome.INVALID:
        errors = plan.errors if plan is not None else ()
        head += "invalid, nothing applied" + (f": {cycle.error}" if cycle.error else "")
        body = _lines(f"  {diagnostic_line(d)}" for d in errors)
    elif cycle.outcome in (CycleOutcome.LOCKED, CycleOutcome.UNREACHABLE):
        head += f"{cycle.outcome.value}: {cycle.error}; retrying in {cycle.retry_in or 0:.1f}s"
    elif cycle.outcome is CycleOutcome.REFUSED:
        head += f"refused, nothing applied: {cycle.error}"
    else:
        head += "in sync" + (f" ({plan.unchanged} campaigns)" if plan is not None else "")
    return _lines([f"{head} [{cycle.seconds * 1000:.0f} ms]"]) + body


def cycle_json(cycle: Cycle) -> str:
    """One line of JSON per cycle, for log pipelines."""
    body: dict[str, Any] = {
        "cycle": cycle.number,
        "at": timestamp(cycle.at),
        "trigger": cycle.trigger.value,
        "changed_files": cycle.changed_files,
        "outcome": cycle.outcome.value,
        "duration_ms": round(cycle.seconds * 1000, 1),
        "error": cycle.error,
        "retry_in": cycle.retry_in,
    }
    if cycle.plan is not None:
        body["summary"] = cycle.plan.summary()
        body["operations"] = [
            {"campaign": o.campaign, "action": o.action.value, "reason": wording.reason(o)}
            for o in cycle.plan.operations
        ]
        body["errors"] = [d.to_json() for d in cycle.plan.errors]
        body["warnings"] = [d.to_json() for d in cycle.plan.warnings]
    if cycle.ledger is not None:
        body["ledger"] = [
            {"campaign": e.campaign, "action": e.action.value, "outcome": e.outcome.value}
            for e in cycle.ledger.entries
        ]
    return render_json.line(body)


def stopped_text(stopped: Stopped) -> str:
    """The watch's last line: what stopped it, after how many cycles."""
    why = f" ({stopped.reason})" if stopped.reason else ""
    return _lines([f"watch stopped{why} after {plural(stopped.cycles, 'cycle')}"])


def stopped_json(stopped: Stopped) -> str:
    return render_json.line({"stopped": stopped.reason, "cycles": stopped.cycles}, ascii=True)


def steps_text(steps: Sequence[Step]) -> str:
    """What an engine tick did: one line per campaign it touched."""
    lines = []
    for step in steps:
        c = step.campaign
        done = ", ".join(step.events) if step.events else "skipped"
        sent = "; ".join(_sending_line(x, _zone(c)) for x in step.sendings)
        lines.append(f"{c.name}: {done} ({c.status.value})" + (f" - {sent}" if sent else ""))
    return _lines(lines)


def _sending_line(x: Sending, zone: str) -> str:
    """'running Tue 2026-12-01 09:00 CET until Tue 2026-12-01 09:01:40 CET', 'sent ...'."""
    running = x.ends and x.outcome is SendingOutcome.RUNNING
    until = f" until {wording.when(x.ends, zone)}" if x.ends and running else ""
    return f"{x.outcome.value} {wording.when(x.scheduled, zone)}{until}"


def migration_text(copied: Copied, source: str, target: str) -> str:
    """What `runtime migrate` copied, and that the copy reads back as the source."""
    counts = ", ".join(
        [
            plural(copied.campaigns, "campaign"),
            plural(copied.history, "history entry", "history entries"),
            plural(copied.sendings, "sending"),
            plural(copied.segments, "segment"),
            plural(copied.keys, "idempotency key"),
            # the runtime service's: said only when there are any (most runtimes have none)
            *([plural(copied.tokens, "token")] if copied.tokens else []),
            *([plural(copied.signing_keys, "signing key")] if copied.signing_keys else []),
            *([plural(copied.published_plans, "published plan")] if copied.published_plans else []),
        ]
    )
    return _lines(
        [
            f"copied {counts} (revision {copied.revision})",
            f"from {redacted(source)} to {redacted(target)}; the copy reads back the same "
            f"({copied.checksum[:19]}), under an identity of its own",
        ]
    )


def tokens_text(tokens: Sequence[TokenInfo]) -> str:
    if not tokens:
        return "No tokens.\n"
    header = ("NAME", "ROLE", "CREATED", "LAST USED")
    lines = [(t.name, t.role.value, t.created, t.last_used or "never") for t in tokens]
    return _table([header, *lines])


def tokens_json(tokens: Sequence[TokenInfo]) -> str:
    return render_json.document({"tokens": [t.to_json() for t in tokens]}, ascii=True)


def unlocked_text(broken: LockInfo | None) -> str:
    """What `runtime unlock` did."""
    if broken is None:
        return "the runtime was not locked\n"
    return _lines([f"broke the lock of {broken.describe()}"])


# --- runtime create and import -----------------------------------------------------------------


def created_text(made: Made) -> str:
    """What `runtime create` made, one line a campaign; or why it made nothing."""
    if not made.ok:
        lines = [diagnostic_line(d) for d in made.loaded.diagnostics]
        errors = sum(1 for d in made.loaded.diagnostics if d.severity == "error")
        return _lines([*lines, f"Nothing was made: {plural(errors, 'error')}."])
    out: list[str] = []
    for c in made.campaigns:
        version = c.live or c.draft
        number = f" version {version.number}" if version is not None else ""
        copy = f", a copy of {c.copied_from}" if c.copied_from else ""
        actor = version.actor if version is not None else "?"
        out.append(f"made {c.name}: {c.status.value}{number}{copy}, by {actor}, not managed")
    return _lines(out)


def imported_text(imported: Imported) -> str:
    """One line per file written (or skipped), then the errors and warnings, and a summary."""
    lines = [f"wrote {file}" for _, file in imported.written]
    lines += [f"warning: {diagnostic_line(d)}" for d in imported.warnings]
    lines += [f"error: {diagnostic_line(d)}" for d in imported.errors]
    if imported.errors:
        lines.append(f"Nothing was written: {plural(len(imported.errors), 'error')}.")
    elif not imported.written and not imported.skipped:
        lines.append("Nothing to import: every campaign in the runtime is managed.")
    else:
        skipped = f", {len(imported.skipped)} skipped" if imported.skipped else ""
        lines.append(
            f"Import: {plural(len(imported.written), 'manifest')} written{skipped}, from "
            f"{imported.runtime} at revision {imported.revision}."
        )
    return _lines(lines)


def imported_json(imported: Imported) -> str:
    body = {
        "runtime": imported.runtime,
        "revision": imported.revision,
        "written": [{"campaign": n, "file": f} for n, f in imported.written],
        "skipped": [{"campaign": n, "file": f} for n, f in imported.skipped],
        "errors": [d.to_json() for d in imported.errors],
        "warnings": [d.to_json() for d in imported.warnings],
    }
    return render_json.document(body)
