"""The views of a plan, compared byte for byte with golden files in tests/golden/.

The plans are built by hand from ``Plan``, ``Operation``, ``FieldChange`` and ``Diagnostic``: no
manifests, no runtime, so the output depends on the renderers alone. When a view changes on
purpose, regenerate the golden files and review their diff like any other change:

    RECONCILER_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hostile
from reconciler import render, render_markdown
from reconciler.errors import Diagnostic, Severity
from reconciler.escape import markdown as md_text
from reconciler.executor import Ledger, LedgerEntry, Outcome
from reconciler.model import Action
from reconciler.plan import FieldChange, Operation, Plan, Reason

GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("RECONCILER_REGENERATE_GOLDEN") == "1"
HINT = (
    "the full plan is in the JSON plan (`reconciler plan --format json`), uploaded as a CI artifact"
)
ESC = "\x1b"


def op(
    action: Action,
    campaign: str,
    reason: Reason | tuple[Reason, dict[str, Any]],
    versions: tuple[int | None, int | None] = (None, 1),
    changes: Sequence[FieldChange] = (),
    *,
    file: str | None = "",
    drift: str | None = None,
) -> Operation:
    code, params = reason if isinstance(reason, tuple) else (reason, {})
    return Operation(
        campaign=campaign,
        action=action,
        reason=code,
        reason_params=params,
        file=f"campaigns/{campaign}.yaml" if file == "" else file,
        from_version=versions[0],
        to_version=versions[1],
        changes=tuple(changes),
        drift=drift,
    )


def plan(
    *operations: Operation,
    unchanged: int = 0,
    errors: Sequence[Diagnostic] = (),
    warnings: Sequence[Diagnostic] = (),
) -> Plan:
    return Plan(
        runtime="memory://golden",
        runtime_id="runtime-1",
        runtime_revision=7,
        operations=operations,
        unchanged=unchanged,
        errors=tuple(errors),
        warnings=tuple(warnings),
    )


def created(spec: dict[str, Any], path: str = "spec") -> list[FieldChange]:
    """The changes that make ``spec`` out of nothing, listed as the planner lists them."""
    out: list[FieldChange] = []
    for key, value in sorted(spec.items()):
        if isinstance(value, dict):
            out += created(value, f"{path}.{key}")
        else:
            out.append(FieldChange(f"{path}.{key}", None, value))
    return out


def warning(
    message: str, file: str | None = None, line: int | None = None, **kw: Any
) -> Diagnostic:
    return Diagnostic(message, file, line, severity=Severity.WARNING, **kw)


EMAIL = {
    "channel": "email",
    "audience": {"segment": "newsletter-subscribers"},
    "content": {"subject": "Black Friday: 30% off everything", "body": "Our biggest sale."},
    "schedule": {"once": {"at": "2026-11-27T08:00:00+01:00"}},
}
DIGEST = "campaigns/newsletters/weekly-digest.yaml"

TYPICAL = plan(
    op(
        Action.RESUME,
        "app-rating-prompt",
        Reason.RESUME_REQUESTED,
        (1, 1),
        file="campaigns/onsite/in-app.yaml",
    ),
    op(
        Action.ACTIVATE,
        "black-friday-email",
        Reason.NEW_LIVE,
        changes=created(EMAIL),
        file="campaigns/promotions/black-friday.yaml",
    ),
    op(
        Action.DISCARD,
        "loyalty-sms",
        (Reason.LIVE_MATCHED, {"draft": 3, "live": 2}),
        (3, 2),
        [FieldChange("spec.content.text", "Double points all weekend", "Double points today")],
    ),
    op(
        Action.STOP,
        "old-banner",
        Reason.MANIFEST_REMOVED,
        (2, 2),
        file=None,
    ),
    op(
        Action.CREATE,
        "spring-sale",
        Reason.NEW_DRAFT,
        changes=created(
            {"channel": "sms", "audience": {"segment": "vip"}, "content": {"text": "Soon"}}
        ),
    ),
    op(
        Action.STOP,
        "summer-recap",
        Reason.STOP_REQUESTED,
        (4, 4),
    ),
    op(
        Action.REPLACE,
        "weekly-digest",
        (Reason.DRIFT_RESTORED, {"live": 1}),
        (1, 2),
        [
            FieldChange(
                "spec.content.subject", "This week: a console edit", "This week at Northwind"
            ),
            FieldChange("spec.schedule.recurring.on", ["mon"], ["mon", "thu"]),
            FieldChange("spec.throttle.perSecond", 500, None),
        ],
        file=DIGEST,
        drift="jane.doe",
    ),
    op(
        Action.COPY,
        "weekly-digest-2027",
        (Reason.NEW_COPY, {"source": "weekly-digest", "state": "live"}),
        changes=created(
            {
                "channel": "email",
                "audience": {"segment": "newsletter-subscribers"},
                "content": {"subject": "This week at Northwind", "template": "digest-v5"},
            }
        ),
        file="campaigns/newsletters/weekly-digest-2027.yaml",
    ),
    op(
        Action.UPDATE,
        "winter-sale",
        (Reason.CHANGE_STAGED, {"draft": 2, "live": 1}),
        (1, 2),
        [
            FieldChange(
                "spec.content.body",
                "Up to 50% off winter gear.",
                "Up to 60% off winter gear, boots, coats, gloves, scarves and everything else "
                "in the shop until Sunday.",
            )
        ],
        file="campaigns/promotions/winter-sale.yaml",
    ),
    unchanged=14,
    warnings=[
        warning(
            "the manifest says draft, but a campaign that has been live never goes back to "
            "draft; the live version is kept (set state: live to silence this)",
            "campaigns/promotions/flash.yaml",
            6,
            column=10,
            campaign="flash-sale",
        ),
        warning(
            "campaign 'summer-2025' has no manifest; it is left running (plan with --prune to "
            "stop it)",
            campaign="summer-2025",
        ),
    ],
)

ERRORS_ONLY = plan(
    unchanged=10,
    errors=[
        Diagnostic(
            "a stopped campaign cannot be restarted; duplicate it with copyFrom",
            DIGEST,
            9,
            8,
            "weekly-digest",
        ),
        Diagnostic("spec.state: 'paused' is not one of ['draft', 'live']", "campaigns/bad.yaml", 6),
        Diagnostic("copyFrom names 'gone', which is not in the runtime", campaign="copy-of-gone"),
    ],
)

# what a manifest or the runtime could hold to break a comment's layout, or a workflow command
HOSTILE = plan(
    op(
        Action.REPLACE,
        "weekly-digest",
        (
            Reason.NEW_COPY,
            {
                "source": "<img src=x onerror=alert(1)> | `code` **bold** [link](https://x) @team",
                "state": "live",
            },
        ),
        (1, 2),
        [
            FieldChange("spec.content.body", "plain", "```\n</details><script>alert(1)</script>"),
            FieldChange("spec.content.a\n```\n<b>key", None, "x"),
        ],
        file="campaigns/we`ird | <b>name</b>.yaml",
        drift="@console <admin>",
    ),
    op(Action.STOP, "odd``name", Reason.STOP_REQUESTED, (1, 1), file=None),
    errors=[
        Diagnostic("50% done\r\nline two: a, b", "campaigns/a:b,c.yaml", 3, 4, "weekly-digest"),
        Diagnostic("value '<script>' is not allowed | `x`", "campaigns/x.yaml", 2),
        Diagnostic("no file, 100% sure\nreally", campaign="lost"),
        Diagnostic("no file, no campaign"),
    ],
    warnings=[
        warning("mind the @org/everyone mention", "campaigns/x.yaml", 7, column=1),
        warning("orphaned: left running", campaign="old,one"),
    ],
)


def many(action: Action, count: int, prefix: str, reason: Reason) -> list[Operation]:
    return [op(action, f"{prefix}-{i:04d}", reason, changes=created(EMAIL)) for i in range(count)]


STOPS = [
    op(
        Action.STOP,
        f"stopped-{i}",
        Reason.STOP_REQUESTED,
        (3, 3),
    )
    for i in range(5)
]
OVERSIZED = plan(
    *many(Action.ACTIVATE, 3000, "launch", Reason.NEW_LIVE),
    *STOPS,
    unchanged=120,
    errors=[
        Diagnostic(
            f"spec.throttle.perSecond: {3000 + i} is greater than 2000",
            f"campaigns/e{i}.yaml",
            12,
            5,
        )
        for i in range(25)
    ],
    warnings=[
        warning(
            f"campaign 'orphan-{i}' has no manifest; it is left as it is", campaign=f"orphan-{i}"
        )
        for i in range(3)
    ],
)


def ledger(color: bool) -> str:
    entries = (
        LedgerEntry("black-friday-email", Action.ACTIVATE, Outcome.DONE),
        LedgerEntry("weekly-digest", Action.REPLACE, Outcome.DONE, replayed=True),
        LedgerEntry("winter-sale", Action.UPDATE, Outcome.FAILED, "the runtime refused: locked"),
        LedgerEntry("weekly-digest-2027", Action.COPY, Outcome.SKIPPED, "depends on weekly-digest"),
    )
    return render.ledger_text(Ledger(TYPICAL, entries), color=color)


CASES: dict[str, Callable[[], str]] = {
    "markdown-typical.md": lambda: render.plan_markdown(TYPICAL),
    "markdown-empty.md": lambda: render.plan_markdown(plan(unchanged=14)),
    "markdown-errors-only.md": lambda: render.plan_markdown(ERRORS_ONLY),
    "markdown-hostile.md": lambda: render.plan_markdown(HOSTILE),
    "markdown-oversized.md": lambda: render.plan_markdown(OVERSIZED),
    "github-typical.txt": lambda: render.plan_github(TYPICAL),
    "github-errors-only.txt": lambda: render.plan_github(ERRORS_ONLY),
    "github-hostile.txt": lambda: render.plan_github(HOSTILE),
    "github-empty.txt": lambda: render.plan_github(plan(unchanged=3)),
    "text-typical.txt": lambda: render.plan_text(TYPICAL),
    "text-typical-color.txt": lambda: render.plan_text(TYPICAL, color=True),
    "text-errors-only.txt": lambda: render.plan_text(ERRORS_ONLY),
    "text-errors-only-color.txt": lambda: render.plan_text(ERRORS_ONLY, color=True),
    "ledger.txt": lambda: ledger(color=False),
    "ledger-color.txt": lambda: ledger(color=True),
    **hostile.CASES,  # every view, every field, every hostile string
}


@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_golden(name: str) -> None:
    text = CASES[name]()
    path = GOLDEN / name
    if REGENERATE:
        path.write_bytes(text.encode())
    assert path.exists(), f"no {path}: run RECONCILER_REGENERATE_GOLDEN=1 pytest {__file__}"
    assert text == path.read_bytes().decode(), f"{name} changed; see this module's docstring"


def test_every_golden_file_belongs_to_a_case() -> None:
    assert {p.name for p in GOLDEN.iterdir()} == set(CASES) | {".gitattributes"}


def test_the_oversized_plan_fits_and_keeps_the_summary_stops_and_errors() -> None:
    out = render.plan_markdown(OVERSIZED, limit=65536)
    assert len(out) <= 65536
    assert out.startswith(
        "### reconciler plan\n\n"
        "**3000 to activate, 5 to stop; 120 unchanged; 25 errors, 3 warnings**\n"
    )
    assert all(f"`stopped-{i}` v3" in out for i in range(5))
    assert all(d.message in out for d in OVERSIZED.errors)
    assert re.search(r"\n- … and \d+ more activations\n", out)
    assert HINT in out
    assert "<details>" not in out


MIXED = plan(
    *many(Action.ACTIVATE, 40, "launch", Reason.NEW_LIVE),
    *many(Action.CREATE, 40, "draft", Reason.NEW_DRAFT),
    *STOPS,
    TYPICAL.operations[6],  # the replace, with drift
    errors=ERRORS_ONLY.errors,
    warnings=TYPICAL.warnings,
)
FULL = render.plan_markdown(MIXED, limit=10**9)


@pytest.mark.parametrize(
    "share", [0, 0.002, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99, 1], ids=str
)
def test_shortening_drops_details_then_folds_the_least_risky_first(share: float) -> None:
    limit = int(len(FULL) * share)
    out = render.plan_markdown(MIXED, limit=limit)
    assert len(out) <= limit
    if limit == len(FULL):
        assert out == FULL and "Shortened" not in out
        return
    if not out.endswith("\n") or out.endswith("…\n"):  # below even the shortest form: cut
        assert limit < 1000
        return
    assert out.startswith("### reconciler plan\n\n**40 to create, 40 to activate, 1 to replace")
    assert "Shortened to fit a comment" in out and HINT in out

    def shown(prefix: str) -> int:
        return out.count(f"- `{'-' if prefix == 'stopped' else '+'}` `{prefix}-")

    def diffs(prefix: str) -> int:
        return len(re.findall(f"`{prefix}-[0-9]+` [^\n]*\n  <details>", out))

    if diffs("draft"):  # the details of creations go first
        assert diffs("launch") == 40
    if shown("draft") < 40:  # then lines are folded, once no details are left
        assert "<details>" not in out
    if shown("launch") < 40:  # activations only once every creation is folded
        assert "- … 40 creations" in out
    if "warnings left out" in out:  # then warnings, once every line but the stops is folded
        assert "- … 40 activations" in out and "- … 1 replacement" in out
    if "errors left out" in out:  # then errors, once no warning is left
        assert "- … 2 warnings" in out
    else:
        assert all(md_text(d.message) in out for d in MIXED.errors)
    if shown("stopped") < 5:  # stops last, once no error is left
        assert "- … 3 errors" in out


def test_the_riskiest_keep_their_details_longest() -> None:
    full = render.plan_markdown(TYPICAL)
    out = render.plan_markdown(TYPICAL, limit=len(full) - 1)
    sections = {s.split(" ")[0]: s for s in out.split("\n#### ")[1:]}
    with_details = ["Replace", "Activate", "Copy", "Update", "Discard", "Create"]
    kept = [name for name in with_details if "<details>" in sections[name]]
    assert kept == with_details[: len(kept)]  # what is kept is the riskiest, in order
    assert "Replace" in kept and "Create" not in kept
    assert all(f"`{o.campaign}`" in out for o in TYPICAL.operations)  # no line folded
    assert "field changes of " in out and HINT in out


def test_errors_are_cut_with_a_count_when_even_they_do_not_fit() -> None:
    errors = [Diagnostic(f"error number {i}", f"campaigns/e{i}.yaml", i + 1) for i in range(200)]
    out = render.plan_markdown(plan(*STOPS, errors=errors), limit=3000)
    assert len(out) <= 3000
    assert out.startswith("### reconciler plan\n\n**5 to stop; 0 unchanged; 200 errors**\n")
    assert all(f"`stopped-{i}`" in out for i in range(5))
    assert re.search(r"\n- … and \d+ more errors\n", out)
    assert re.search(r"\d+ errors left out; " + re.escape(HINT), out)


@pytest.mark.parametrize("limit", [0, 1, 2, 20, 60, 200])
def test_no_limit_is_too_small_to_hold(limit: int) -> None:
    assert len(render.plan_markdown(OVERSIZED, limit=limit)) <= limit


def test_the_hint_is_the_callers_and_only_shown_when_something_was_left_out() -> None:
    assert "artifact" not in render.plan_markdown(TYPICAL, full_plan_hint="see the artifact")
    out = render.plan_markdown(TYPICAL, limit=1000, full_plan_hint="see the `plan` artifact")
    assert "; see the `plan` artifact.\n" in out


def test_user_values_cannot_break_the_comment() -> None:
    out = render.plan_markdown(HOSTILE)
    assert "&lt;img src=x onerror=alert(1)&gt; \\| \\`code\\`" in out
    assert "@&#8203;team" in out  # shown as written, notifies nobody
    assert "`` campaigns/we`ird | <b>name</b>.yaml ``" in out  # a code span: literal, no HTML
    assert '  + spec.content.a\\n```\\n<b>key: "x"\n' in out  # inside the diff, on one line


def test_github_escapes_data_and_properties() -> None:
    error = Diagnostic("50% done\r\nnext: a, b", "dir:x,y.yaml", 3, 4)
    assert render.plan_github(plan(errors=[error])) == (
        "::error file=dir%3Ax%2Cy.yaml,line=3,col=4,title=reconciler::50%25 done\\r\\nnext: a, b\n"
        "Nothing can be applied. 0 unchanged, 1 error.\n"
    )


def entries(count: int, changes: int = 0) -> Plan:
    """A plan whose text body is ``2 * count + changes`` lines long."""
    first = op(
        Action.CREATE, "c0", Reason.NEW_DRAFT, changes=created({f"k{i}": i for i in range(changes)})
    )
    return plan(first, *(op(Action.CREATE, f"c{i}", Reason.NEW_DRAFT) for i in range(1, count)))


def test_the_summary_comes_first_and_again_last_when_the_body_is_long() -> None:
    short, long = render.plan_text(entries(10)), render.plan_text(entries(10, changes=1))
    assert short.splitlines()[0] == "Plan: 10 to create; 0 unchanged." != short.splitlines()[-1]
    assert len(short.splitlines()) == 2 + 20
    assert long.splitlines()[0] == long.splitlines()[-1] == "Plan: 10 to create; 0 unchanged."
    assert long.splitlines()[-2] == ""
    assert render.plan_text(plan(unchanged=11)) == "No changes. 11 unchanged.\n"


@pytest.mark.parametrize(
    "view",
    [
        lambda color: render.plan_text(TYPICAL, color=color),
        lambda color: render.plan_text(HOSTILE, color=color),
        lambda color: ledger(color),
    ],
    ids=["plan", "hostile", "ledger"],
)
def test_colour_only_when_asked(view: Callable[[bool], str]) -> None:
    assert ESC not in view(False)
    coloured = view(True)
    assert ESC in coloured
    assert re.sub("\x1b\\[[0-9;]*m", "", coloured) == view(False)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    ),
    st.integers(1, 80),
)
def test_a_value_is_its_json_on_one_line_cut_to_width(value: Any, width: int) -> None:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    assert render_markdown.short(value, width) == (
        text if len(text) <= width else text[: width - 1] + "…"
    )
