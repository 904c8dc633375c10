"""Manifests for the campaigns a console made: what `reconciler import` writes (pure).

Each manifest states what the runtime holds, so that the next plan only adopts the campaign: its
effective spec (a copy's base overlaid with the manifest's spec) is the campaign's, and its state
and run are those the lifecycle finds nothing to do for:

- never live: ``state: draft`` with the draft's spec;
- live or scheduled: ``state: live`` with the live spec, or, with a draft staged beside it,
  ``state: draft`` with the draft's spec (which is what a manifest means by that);
- stopping or stopped: the live spec and ``run: stopped`` (its spec is frozen: a staged draft is
  left out, and the manifest says so); completed: the live spec, and a comment saying so.

A copy keeps ``copyFrom`` when its source is in git too (managed, imported in the same run, or
in the manifests), with only the fields that differ from the spec it was copied from; else its
whole spec is written out. A copy's manifest is read back with the project's own loader before it
is kept: what is written validates and means exactly the campaign, or the whole spec is written.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import documents, emit, escape
from reconciler.errors import Diagnostic, Severity
from reconciler.model import Campaign, Spec, Status, canonical_json, overlay

NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
#: the order of a manifest's keys, as the README documents them; others follow, sorted
ORDER: Mapping[str, tuple[str, ...]] = {
    "": ("apiVersion", "kind", "metadata", "spec"),
    "metadata": ("name", "title", "labels", "annotations"),
    "spec": (
        "state",
        "run",
        "channel",
        "audience",
        "content",
        "schedule",
        "window",
        "throttle",
        "copyFrom",
    ),
    "spec.audience": ("segment",),
    "spec.content": ("subject", "title", "text", "body", "template"),
    "spec.schedule": ("once", "recurring", "timezone"),
    "spec.schedule.once": ("at",),
    "spec.schedule.recurring": ("every", "interval", "on", "at", "start", "end", "cron"),
    "spec.window": ("start", "end"),
    "spec.throttle": ("perSecond",),
}
COMPLETED = "completed: it ran to its end and cannot change; kept as a source of copies (copyFrom)"


@dataclass(frozen=True)
class Source:
    """Where the manifests come from: the runtime, its revision and that revision's time."""

    runtime: str  # redacted
    revision: int
    at: str | None


@dataclass(frozen=True)
class Written:
    campaign: str
    text: str


def ordered(value: Any, path: str = "") -> Any:
    """``value`` with every mapping's keys in the documented order (others after, sorted)."""
    if isinstance(value, Mapping):
        known = ORDER.get(path, ())
        keys = [k for k in known if k in value] + sorted(k for k in value if k not in known)
        return {k: ordered(value[k], f"{path}.{k}".lstrip(".")) for k in keys}
    if isinstance(value, (list, tuple)):
        return [ordered(x, path) for x in value]
    return value


def difference(base: Spec, spec: Spec) -> dict[str, Any] | None:
    """The least mapping that, overlaid on ``base``, gives ``spec``; None when there is none (an
    overlay never removes a key)."""
    top: dict[str, Any] = {}
    for key, value in spec.items():
        below = base.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping) and value:
            inner = difference(below, value)
            if inner is None:
                return None
            if inner:
                top[key] = inner
        elif key not in base or below != value or type(below) is not type(value):
            top[key] = value
    return top if canonical_json(overlay(base, top)) == canonical_json(spec) else None


def _comment(text: str) -> str:
    """A comment line of a manifest: whatever ``text`` holds (a runtime's URL, a stored time, a
    campaign's name), escaped as every text view escapes it, so it stays one comment line."""
    return "# " + escape.text(text)


def _header(source: Source) -> list[str]:
    when = f" ({source.at})" if source.at else ""
    return [
        _comment(f"Imported by `reconciler import` from runtime {source.runtime}"),
        _comment(f"at revision {source.revision}{when}: the campaign as the runtime held it then."),
    ]


def _state(c: Campaign) -> tuple[str, str | None, Spec, list[str]]:
    """The manifest's state, run, spec, and what to say about them, for campaign ``c``."""
    if c.live is None:
        assert c.draft is not None
        return "draft", None, c.draft.spec, []
    if c.status in (Status.STOPPING, Status.STOPPED):
        left_out = "is left out: a stopped campaign's spec is frozen"
        notes = [f"the staged draft version {c.draft.number} {left_out}"] if c.draft else []
        return "live", "stopped", c.live.spec, notes
    if c.status is Status.COMPLETED:
        return "live", None, c.live.spec, [COMPLETED]
    if c.draft is not None:
        return "draft", None, c.draft.spec, []
    return "live", None, c.live.spec, []


def _document(
    c: Campaign, spec: Spec, state: str, run: str | None, copy_from: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"state": state, **({"run": run} if run else {}), **spec}
    if copy_from is not None:
        body["copyFrom"] = copy_from
    document: dict[str, Any] = ordered(
        {
            "apiVersion": "reconciler/v1",
            "kind": "Campaign",
            "metadata": {"name": c.name},
            "spec": body,
        }
    )
    return document


def _means(text: str, file: str, c: Campaign, spec: Spec) -> bool:
    """Whether ``text`` reads back, with the project's loader, as a valid manifest whose
    effective spec is ``spec``."""
    manifests, problems, _ = documents.parse(text.encode(), file)
    if problems or len(manifests) != 1:
        return False
    (m,) = manifests
    effective = overlay(c.copy_base or {}, m.spec) if m.copy_from else dict(m.spec)
    return m.name == c.name and canonical_json(effective) == canonical_json(spec)


def manifest(c: Campaign, source: Source, in_git: Collection[str], file: str) -> str | None:
    """The manifest of campaign ``c``; None when none reads back as it (a bug to report).

    ``in_git``: the campaigns whose manifests are (or will be) in git, which a copy's source
    must be among for the copy to keep ``copyFrom``.
    """
    state, run, spec, notes = _state(c)
    attempts: list[tuple[Spec, str | None, list[str]]] = []
    if c.copied_from is not None and c.copy_base is not None and c.copied_from in in_git:
        top = difference(c.copy_base, spec)
        if top is not None:
            attempts.append((top, c.copied_from, []))
    said = (
        [f"a copy of {c.copied_from}, which is not in git: its whole spec is written out"]
        if c.copied_from is not None
        else []
    )
    attempts.append((spec, None, said))
    for body, copy_from, more in attempts:
        lines = _header(source) + [_comment(n) for n in (*notes, *more)]
        text = "\n".join(lines) + "\n" + emit.document(_document(c, body, state, run, copy_from))
        # a whole spec is one the runtime validated, written by an emitter whose output reads
        # back exactly (its property tests); a copy's part of one is read back to be sure
        if copy_from is None or _means(text, file, c, spec):
            return text
    return None


@dataclass(frozen=True)
class Selection:
    """Which campaigns to import, and what is wrong with the request."""

    campaigns: tuple[Campaign, ...]
    skipped: tuple[tuple[str, str], ...]  # (campaign, the file whose manifest names it)
    errors: tuple[Diagnostic, ...]


def select(
    campaigns: Mapping[str, Campaign],
    names: Sequence[str],
    everything: bool,
    known: Mapping[str, str],
) -> Selection:
    """The unmanaged campaigns to import: those named, or all with ``everything``; a managed or
    missing one named is an error, one whose name is no campaign name too (it would be a file
    name), and one that has a manifest (in ``known``, name -> file) is skipped."""
    errors: list[Diagnostic] = []
    wanted = dict.fromkeys(names)
    if everything:
        wanted |= dict.fromkeys(n for n, c in sorted(campaigns.items()) if not c.managed)
    chosen: list[Campaign] = []
    skipped: list[tuple[str, str]] = []
    for name in sorted(wanted):
        c = campaigns.get(name)
        if not NAME.fullmatch(name):
            errors.append(
                Diagnostic(
                    "not a campaign name (1-63 characters a-z, 0-9 and '-'), so never a file "
                    "name: rename the campaign in the runtime",
                    campaign=name,
                )
            )
        elif c is None:
            errors.append(Diagnostic("not in the runtime", campaign=name))
        elif c.managed:
            errors.append(
                Diagnostic(
                    "managed by the reconciler already (its manifest is in git): there is "
                    "nothing to import",
                    campaign=name,
                )
            )
        elif name in known:
            skipped.append((name, known[name]))
        else:
            chosen.append(c)
    return Selection(tuple(chosen), tuple(skipped), tuple(errors))


def skipped_warning(name: str, file: str) -> Diagnostic:
    return Diagnostic(
        f"not imported: its manifest is {file} already",
        campaign=name,
        severity=Severity.WARNING,
    )


@dataclass(frozen=True)
class Imported:
    """What `import` did: the files it wrote (or would have), those it skipped, and why not."""

    runtime: str  # redacted
    revision: int
    written: tuple[tuple[str, str], ...] = ()  # (campaign, file)
    skipped: tuple[tuple[str, str], ...] = ()  # (campaign, the manifest that names it)
    errors: tuple[Diagnostic, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors
