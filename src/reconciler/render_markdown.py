"""The pull-request view of a plan: markdown that a reviewer reads, and that always fits a comment.

Everything a campaign, a manifest or the runtime supplies (names, files, keys, reasons, messages,
values) is escaped by :mod:`reconciler.escape` before it reaches the comment: prose with
``escape.markdown``, names and files as code spans with ``escape.markdown_code``, field changes in a
code block with ``escape.markdown_fence``. Nothing can close a code span or the ``<details>`` of an
operation, start HTML, a link or an autolink, or mention (and so notify) someone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciler import escape, wording
from reconciler.actions import FACTS, RISK_ORDER
from reconciler.errors import Diagnostic
from reconciler.model import Action
from reconciler.plan import Operation, Plan
from reconciler.wording import plural, short, versions

FULL_PLAN_HINT = (
    "the full plan is in the JSON plan (`reconciler plan --format json`), uploaded as a CI artifact"
)


def markdown_summary(plan: Plan) -> str:
    """'2 to activate, 1 to replace, 1 to stop; 14 unchanged; 1 error, 2 warnings'."""
    said = wording.summary(plan)
    tail = "; ".join([", ".join(said.actions) or said.head, ", ".join(said.tail)])
    return tail + ("; " + ", ".join(said.problems) if said.problems else "")


@dataclass(frozen=True)
class _Entry:
    line: str
    details: str  # "" when the operation changes no field


@dataclass(frozen=True)
class _Cut:
    """How much of the plan the comment shows. The full plan, until that does not fit."""

    #: per group, how many operations (from the first) show their <details>; absent: all
    details: Mapping[Action, int] = field(default_factory=dict)
    #: per group, how many operation lines are shown before the rest is counted; absent: all
    shown: Mapping[Action, int] = field(default_factory=dict)
    errors: int | None = None  # how many errors are listed; None: all
    warnings: int | None = None


#: GitHub's comment limit is 65,536 characters; the rest is headroom for what CI wraps around the
#: plan (a marker to find the comment again, a footer)
COMMENT_LIMIT = 65_536 - 536


def plan_markdown(
    plan: Plan,
    *,
    limit: int = COMMENT_LIMIT,
    full_plan_hint: str = FULL_PLAN_HINT,
    title: str = "reconciler plan",
) -> str:
    """The plan as a pull-request comment of at most ``limit`` characters, under ``title``
    (markdown written by the caller).

    A heading and the summary, then errors (an errored plan applies nothing, so they come first),
    the operations grouped by risk (riskiest first, each with its field changes in a collapsible
    ``<details>``), then warnings.

    When the whole does not fit, it is shortened step by step, measured after each, until it fits:

    1. ``<details>`` are dropped group by group, least risky group first (create, discard, update,
       copy, activate, resume, replace, stop), so the riskiest changes keep their field-level diffs
       longest; within a group from its last operation backwards, and only as far as needed;
    2. the operation lines of the least risky groups are folded into a count ("… and 312 more
       activations"), from create upwards to replace, in the same way: a group only as far as
       needed, the next one only once the group before is folded whole. Stops are never folded here;
    3. warnings, then errors, are cut to as many as fit, with a count of the rest;
    4. only then stops, and as a last resort (a limit smaller than the summary) the text itself.

    Whenever anything was left out, a note under the summary says what, and ``full_plan_hint``
    (markdown written by the caller, inserted as it is) says where the full plan is.
    """
    groups = {a: [_entry(op) for op in plan.operations if op.action is a] for a in RISK_ORDER}
    errors = [_diagnostic(d) for d in plan.errors]
    warnings = [_diagnostic(d) for d in plan.warnings]
    summary = _policy_section(plan) + f"**{escape.markdown(markdown_summary(plan))}**"

    def compose(cut: _Cut) -> str:
        return _compose(title, summary, groups, errors, warnings, cut, limit, full_plan_hint)

    def fits(cut: _Cut) -> bool:
        return len(compose(cut)) <= limit

    cut = _Cut()
    if fits(cut):
        return compose(cut)
    steps: list[tuple[int, Callable[[_Cut, int], _Cut]]] = [
        (len(groups[a]), _hide_details(a))
        for a in reversed(RISK_ORDER)
        if any(e.details for e in groups[a])
    ]
    steps += [(len(groups[a]), _fold(a)) for a in reversed(RISK_ORDER) if a is not Action.STOP]
    steps += [
        (len(warnings), lambda c, k: replace(c, warnings=k)),
        (len(errors), lambda c, k: replace(c, errors=k)),
        (len(groups[Action.STOP]), _fold(Action.STOP)),
    ]
    for count, make in steps:
        if count:
            cut, done = _most(cut, make, count, fits)
            if done:
                return compose(cut)
    text = compose(cut)
    return (text[: max(limit - 2, 0)] + "…\n")[:limit]


#: where the full plans of ``plan --all-envs`` are
FULL_PLANS_HINT = (
    "the full plans are in the JSON plans (`reconciler plan --all-envs --format json`), uploaded "
    "as a CI artifact"
)


def plans_markdown(plans: Mapping[str, Plan | str], *, limit: int = COMMENT_LIMIT) -> str:
    """The plan of every environment (or why it has none) as one comment of at most ``limit``
    characters: a section each, in order, under "reconciler plan: NAME".

    The sections share the limit: the shortest are given theirs first, whole when they fit an
    equal share of what is left, and what a section does not use goes to the longer ones, so a
    small staging plan never shortens a large production one more than it must."""
    left = limit - (len(plans) - 1)  # the blank line between two sections

    def section(name: str, share: int) -> str:
        title = f"reconciler plan: {escape.markdown(name)}"
        body = plans[name]
        if isinstance(body, Plan):
            return plan_markdown(body, limit=share, full_plan_hint=FULL_PLANS_HINT, title=title)
        text = f"### {title}\n\n**error**: {escape.markdown(body)}\n"
        return text if len(text) <= share else (text[: max(share - 2, 0)] + "…\n")[:share]

    whole = {name: section(name, max(left, 0)) for name in plans}
    shown: dict[str, str] = {}
    for i, name in enumerate(sorted(plans, key=lambda n: len(whole[n]))):
        share = max(left, 0) // (len(plans) - i)
        shown[name] = whole[name] if len(whole[name]) <= share else section(name, share)
        left -= len(shown[name])
    return "\n".join(shown[name] for name in plans)


def _policy_section(plan: Plan) -> str:
    """A change to the policies, first, its fields in a diff block; "" when there is none."""
    if not plan.policy_changes:
        return ""
    file = escape.markdown_code(plan.policy_file or "the project file")
    lines = [f"#### {wording.POLICY_CHANGES} ({file})", ""]
    changes = [f"{sign} {text}" for sign, text in wording.policy_changes(plan)]
    lines += escape.markdown_fence(changes, "diff")
    return "\n".join(lines) + "\n\n"


def _hide_details(action: Action) -> Callable[[_Cut, int], _Cut]:
    return lambda c, k: replace(c, details={**c.details, action: k})


def _fold(action: Action) -> Callable[[_Cut, int], _Cut]:
    return lambda c, k: replace(c, shown={**c.shown, action: k})


def _most(
    cut: _Cut, make: Callable[[_Cut, int], _Cut], count: int, fits: Callable[[_Cut], bool]
) -> tuple[_Cut, bool]:
    """The cut showing as many of ``count`` items as fit, and whether that fits at all."""
    if not fits(make(cut, 0)):
        return make(cut, 0), False
    low, high = 0, count - 1  # showing all of them is what did not fit
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(make(cut, middle)) else (low, middle - 1)
    return make(cut, low), True


def _compose(
    title: str,
    summary: str,
    groups: Mapping[Action, Sequence[_Entry]],
    errors: Sequence[str],
    warnings: Sequence[str],
    cut: _Cut,
    limit: int,
    hint: str,
) -> str:
    out = [f"### {title}", "", summary, ""]
    left_out = _left_out(groups, errors, warnings, cut)
    if left_out:
        end = "" if hint.endswith((".", "!", "?")) else "."
        out += [f"> Shortened to fit a comment ({limit} characters): {left_out}; {hint}{end}", ""]
    if errors:
        out += [f"#### Errors ({len(errors)})", "", "Nothing can be applied until they are fixed."]
        out += ["", *_some(errors, cut.errors, "error", "errors"), ""]
    for action, entries in groups.items():
        if not entries:
            continue
        out += [f"#### {action.value.capitalize()} ({len(entries)})", ""]
        shown = cut.shown.get(action, len(entries))
        with_details = cut.details.get(action, len(entries))
        for i, entry in enumerate(entries[:shown]):
            out.append(entry.line)
            if entry.details and i < with_details:
                out += [entry.details, ""]
        if shown < len(entries):
            facts = FACTS[action]
            out.append(_count_line(len(entries) - shown, shown, facts.noun, facts.nouns))
        if out[-1]:
            out.append("")
    if warnings:
        out += [f"#### Warnings ({len(warnings)})", ""]
        out += [*_some(warnings, cut.warnings, "warning", "warnings"), ""]
    return "\n".join(out).rstrip() + "\n"


def _some(lines: Sequence[str], keep: int | None, noun: str, nouns: str) -> list[str]:
    if keep is None or keep >= len(lines):
        return list(lines)
    return [*lines[:keep], _count_line(len(lines) - keep, keep, noun, nouns)]


def _count_line(rest: int, shown: int, noun: str, nouns: str) -> str:
    """'… and 312 more activations' under the lines shown; '… 40 creations' when none is."""
    words = noun if rest == 1 else nouns
    return f"- … and {rest} more {words}" if shown else f"- … {rest} {words}"


def _left_out(
    groups: Mapping[Action, Sequence[_Entry]],
    errors: Sequence[str],
    warnings: Sequence[str],
    cut: _Cut,
) -> str:
    """What the cut leaves out, in words; empty when it shows everything."""
    hidden = sum(
        bool(e.details) for a, es in groups.items() for e in es[cut.details.get(a, len(es)) :]
    )
    folded = sum(len(es) - cut.shown.get(a, len(es)) for a, es in groups.items())
    parts = [f"field changes of {plural(hidden, 'operation')} not shown"] if hidden else []
    parts += [f"{plural(folded, 'operation')} only counted"] if folded else []
    for items, keep, noun in ((warnings, cut.warnings, "warning"), (errors, cut.errors, "error")):
        if keep is not None and keep < len(items):
            parts.append(f"{plural(len(items) - keep, noun)} left out")
    return ", ".join(parts)


def _entry(op: Operation) -> _Entry:
    head = f"`{FACTS[op.action].symbol}` {escape.markdown_code(op.campaign)}"
    parts = [f"{head} {versions(op)}".rstrip()]
    if op.drift is not None:  # the reason says what it means; this makes it hard to miss
        parts.append(f"**drift** by {escape.markdown(op.drift)}")
    if op.file is not None:
        parts.append(escape.markdown_code(op.file))
    parts.append(escape.markdown(wording.reason(op)))
    if op.sendings_before:
        before = wording.sendings(op.sendings_before, op.zone_before)
        parts.append("sendings before: " + escape.markdown(before))
    if upcoming := wording.next_sendings(op):
        parts.append("next sendings: " + escape.markdown(upcoming))
    return _Entry("- " + " · ".join(parts), _details(op))


def _details(op: Operation) -> str:
    """The field-level before/after, collapsed, indented into the operation's list item; a copy's
    against its source, the fields it takes as they are counted."""
    changes = op.changes
    if not changes and not op.inherited:
        return ""
    summary = f"{plural(len(changes), 'field')} changed"
    if op.inherited:
        total = plural(len(changes) + op.inherited, "field")
        summary = f"{len(changes)} of {total} differ from the source"
    diff = []
    for c in changes:
        if c.before is not None:
            diff.append(f"- {c.path}: {short(c.before)}")
        if c.after is not None:
            diff.append(f"+ {c.path}: {short(c.after)}")
    if op.inherited:
        diff.append(f"  {wording.inherited(op)}")
    # A fenced block rather than an HTML-escaped <pre>: GitHub colours a ```diff block's removed
    # and added lines, which a <pre> would not. Inside a fence nothing is HTML, a link or a
    # mention; the fence is longer than any backtick run in it, each key and value is escaped
    # onto its line alike, and every line starts with "- ", "+ " or two spaces and a count: no
    # key or value can end it.
    lines = [f"  <details><summary>{summary}</summary>", ""]
    lines += [*escape.markdown_fence(diff, "diff", indent="  "), "", "  </details>"]
    return "\n".join(lines)


def _diagnostic(d: Diagnostic) -> str:
    message = escape.markdown(wording.message(d))
    if d.file is not None:
        return f"- {escape.markdown_code(d.place)}: {message}"
    if d.campaign is not None:
        return f"- campaign {escape.markdown_code(d.campaign)}: {message}"
    return f"- {message}"
