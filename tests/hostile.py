"""Hostile strings, and every view's data carrying them in every field it has.

A pull request that anyone can open writes manifests, file names and (through the runtime) campaign
names, actors and messages; these are what such a writer would try. ``tests/test_render.py``
compares each format's view of them with golden files (``tests/golden/*-hostile-all*``);
``tests/test_escape.py`` checks them by property and through GitHub's own markdown renderer.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from reconciler import render
from reconciler.calendar import Calendar, Clash, Day, Entry, NotShown
from reconciler.cycles import Cycle, CycleOutcome, Trigger
from reconciler.errors import Diagnostic, Severity
from reconciler.executor import Ledger, LedgerEntry, Outcome
from reconciler.history import History
from reconciler.manifests import LoadResult
from reconciler.model import (
    Action,
    Campaign,
    CampaignStatus,
    Channel,
    Kind,
    Sending,
    SendingOutcome,
    Sendings,
    Status,
    Version,
)
from reconciler.plan import ACTION_ORDER, FieldChange, Operation, Plan, Reason
from reconciler.render_calendar import calendar_json, calendar_text
from reconciler.runtime.base import HistoryEntry
from reconciler.runtime.engine import Step

OSC8 = "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\"

#: each string once, in the order the golden files show them
STRINGS = (
    "</details><img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "<javascript:alert(1)>",
    "see http://evil.example/x or www.evil.example or me@evil.example",
    "```",
    "a ```` run",
    "a | b | c",
    "@everyone",
    "x\nevil.yaml:1:1: all good.yaml",
    "abc\n",
    OSC8,
    "bell\x07",
    "\x1b[31mred",
    "\x9b31mc1",
    "del\x7f",
    "\u202eexe.txt",
    "\u2066isolated\u2069",
    "line\u2028separator",
    "%0A::error::fake",
    "::warning::x",
    "a,b:c",
    "tab\tcr\r",
    "not utf-8 \udcff",
)

AT = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
STAMP = "2026-11-27T09:00:00.000Z"


def operation(i: int, h: str) -> Operation:
    """One operation per string, in every field an operation shows: name, file, reason, drift,
    sendings, content keys and values, labels."""
    return Operation(
        campaign=h,
        action=ACTION_ORDER[i % len(ACTION_ORDER)],
        reason=Reason.NEW_COPY,  # whose parameters name the source: a string from a manifest
        reason_params={"source": h, "state": "live", "drift_version": 1},
        file=h,
        from_version=1,
        to_version=2,
        changes=(
            FieldChange(f"spec.content.{h}", h, f"{h}!"),
            FieldChange(f"metadata.labels.{h}", None, h),
        ),
        drift=h,
        sendings_before=(AT,),
        next_sendings=(AT,),
        zone="Europe/Amsterdam",
        zone_before="Europe/Amsterdam",
    )


def diagnostics(strings: Sequence[str], severity: Severity) -> tuple[Diagnostic, ...]:
    return (
        *(Diagnostic(h, h, 3, 4, h, severity) for h in strings),
        *(Diagnostic(h, campaign=h, severity=severity) for h in strings),
        Diagnostic(strings[0], severity=severity),
    )


def sending(h: str) -> Sending:
    """A sending of campaign ``h`` (its times are the runtime's own: instants, not free text)."""
    return Sending(h, h, 1, STAMP, SendingOutcome.RUNNING, started=STAMP, ends=STAMP, reason=h)


def campaign(h: str) -> Campaign:
    live = Version(1, {"content": {h: h}}, "hash", h, h, h, STAMP, origin="console")
    return Campaign(
        name=h,
        channel=Channel.EMAIL,
        kind=Kind.RECURRING,
        status=Status.LIVE,
        live=live,
        draft=None,
        etag=h,
        copied_from=h,
        sending=sending(h),
    )


@dataclass(frozen=True)
class Views:
    """Every view's data with ``strings`` in each of its fields, and the views of it."""

    strings: Sequence[str]

    @functools.cached_property
    def plan(self) -> Plan:
        return Plan(
            runtime="memory://hostile",
            runtime_id="runtime-1",
            runtime_revision=7,
            operations=tuple(operation(i, h) for i, h in enumerate(self.strings)),
            unchanged=2,
            errors=diagnostics(self.strings, Severity.ERROR),
            warnings=diagnostics(self.strings, Severity.WARNING),
        )

    @functools.cached_property
    def clean(self) -> Plan:
        """The plan without errors, as a watch cycle or an apply shows it."""
        return replace(self.plan, errors=(), warnings=self.plan.warnings[:3])

    @functools.cached_property
    def ledger(self) -> Ledger:
        outcomes = [Outcome.DONE, Outcome.FAILED, Outcome.SKIPPED]
        return Ledger(
            self.clean,
            tuple(
                LedgerEntry(h, Action.ACTIVATE, outcomes[i % 3], h)
                for i, h in enumerate(self.strings)
            ),
        )

    @property
    def loaded(self) -> LoadResult:
        return LoadResult((), self.plan.errors + self.plan.warnings, files=2)

    @property
    def status(self) -> list[CampaignStatus]:
        return [CampaignStatus(campaign(h), AT, sending(h)) for h in self.strings]

    @property
    def history(self) -> History:
        entries = tuple(
            HistoryEntry(i, i, h, h, h, h, h, h, None, {"live": {"number": 1}}, h)
            for i, h in enumerate(self.strings)
        )
        changes = {
            i: (FieldChange(f"spec.content.{h}", h, {h: h}),) for i, h in enumerate(self.strings)
        }
        return History(entries, changes)

    @property
    def sendings(self) -> Sendings:
        items = tuple(sending(h) for h in self.strings)
        return Sendings(items, dict.fromkeys(self.strings, "Europe/Amsterdam"))

    @property
    def steps(self) -> list[Step]:
        return [Step(campaign(h), (sending(h),), (h,)) for h in self.strings]

    @property
    def cycles(self) -> list[Cycle]:
        first, error = self.strings[8], self.strings[-1]  # a line break; OSC 8 or worse
        return [
            Cycle(1, AT, Trigger.CHANGE, 2, CycleOutcome.INVALID, 0.01, self.plan, error=first),
            Cycle(2, AT, Trigger.RETRY, 0, CycleOutcome.LOCKED, 0.01, error=error, retry_in=1.0),
            Cycle(3, AT, Trigger.INTERVAL, 0, CycleOutcome.PLANNED, 0.01, plan=self.clean),
            Cycle(4, AT, Trigger.START, 0, CycleOutcome.FAILED, 0.01, self.clean, self.ledger),
        ]

    @property
    def calendar(self) -> Calendar:
        strings = tuple(self.strings)
        sendings = (Entry(AT, h, h, h, "draft" if i % 2 else "live") for i, h in enumerate(strings))
        clashes = (Clash(h, (h, strings[0]), 2) for h in strings)
        day = Day(AT.date(), tuple(sendings), tuple(clashes))
        not_shown = tuple(NotShown(h, h) for h in strings)
        return Calendar((day,), zone="UTC", not_shown=not_shown, truncated=strings)

    def text(self, view: str, color: bool = False) -> str:
        views: dict[str, Callable[[], str]] = {
            "plan": lambda: render.plan_text(self.plan, color=color),
            "ledger": lambda: render.ledger_text(self.ledger, color=color),
            "validate": lambda: render.validation_text(self.loaded),
            "status": lambda: render.status_text(self.status),
            "history": lambda: render.history_text(self.history),
            "sendings": lambda: render.sendings_text(self.sendings),
            "watch": lambda: "".join(render.cycle_text(c, color=color) for c in self.cycles),
            "engine steps": lambda: render.steps_text(self.steps),
            "calendar": lambda: calendar_text(self.calendar),
        }
        return views[view]()

    def json(self, view: str) -> str:
        views: dict[str, Callable[[], str]] = {
            "plan": lambda: render.plan_json(self.plan),
            "ledger": lambda: render.ledger_json(self.ledger),
            "validate": lambda: render.validation_json(self.loaded),
            "status": lambda: render.status_json(self.status),
            "history": lambda: render.history_json(self.history),
            "sendings": lambda: render.sendings_json(self.sendings),
            "watch": lambda: "".join(render.cycle_json(c) for c in self.cycles),
            "calendar": lambda: calendar_json(self.calendar),
        }
        return views[view]()

    def all_text(self, color: bool) -> str:
        """Every text view under a heading, as one golden file."""
        return "".join(f"== {name}\n{self.text(name, color)}" for name in TEXT_VIEWS)


TEXT_VIEWS = ("plan", "ledger", "validate", "status", "history", "sendings", "watch")
TEXT_VIEWS += ("engine steps", "calendar")
JSON_VIEWS = ("plan", "ledger", "validate", "status", "history", "sendings", "watch", "calendar")

HOSTILE = Views(STRINGS)
#: the same data with a plain string in place of each hostile one: the layout to compare with
PLAIN = Views([f"plain-{i}" for i in range(len(STRINGS))])
#: a plan id hashes the plan's UTF-8, which a lone surrogate does not have (plan.py): the JSON
#: views of plans take every string but that one
UTF8 = Views([h for h in STRINGS if not any("\ud800" <= c <= "\udfff" for c in h)])
PLAN = HOSTILE.plan


#: the golden files of the hostile views, for tests/test_render.py
CASES: dict[str, Callable[[], str]] = {
    "text-hostile-all.txt": lambda: HOSTILE.all_text(color=False),
    "text-hostile-all-color.txt": lambda: HOSTILE.all_text(color=True),
    "markdown-hostile-all.md": lambda: render.plan_markdown(PLAN),
    "github-hostile-all.txt": lambda: render.plan_github(PLAN),
}
