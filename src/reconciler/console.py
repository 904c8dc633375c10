"""What `reconciler runtime create` makes of a manifest file (pure): the campaigns a console
would make, in an order that makes a copy's source first, or the errors that stop it all.

A console makes what a manifest describes without the reconciler: the campaign is not managed,
and its copies are copies of what the source's live version holds. ``run: stopped`` is made by
activating, then stopping: a console can stop only a live recurring or inbound campaign, so it is
refused on a draft or a one-time campaign, with the lifecycle's reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.errors import Diagnostic
from reconciler.manifests import LoadResult
from reconciler.model import (
    Campaign,
    DesiredState,
    Kind,
    Manifest,
    Run,
    RuntimeState,
    Spec,
    kind_of,
    overlay,
)
from reconciler.validation import validate_spec

NEVER_LIVE_STOPPED = (
    "a campaign is made stopped only once live (activated, then stopped): set state: live"
)
ONE_TIME_STOPPED = "only recurring and inbound campaigns can be stopped; remove run: stopped"


@dataclass(frozen=True)
class Creation:
    """One campaign to make: its effective spec, and what it is a copy of (and its base)."""

    manifest: Manifest
    spec: Spec
    live: bool
    stopped: bool
    copied_from: str | None = None
    copy_base: Spec | None = None


def _at(m: Manifest, path: str, message: str) -> Diagnostic:
    where = m.where(path)
    return Diagnostic(message, m.file, where.line, where.column, m.name)


def creations(
    manifests: Sequence[Manifest], state: RuntimeState
) -> tuple[list[Creation], list[Diagnostic]]:
    """The campaigns to make, each after the one it copies; or what is wrong (then nothing is
    made)."""
    by_name = {m.name: m for m in manifests}
    made: dict[str, Creation] = {}
    errors: list[Diagnostic] = []
    done: list[Creation] = []

    def live_spec(source: str) -> Spec | None:
        if source in by_name:
            first = made.get(source) or visit(by_name[source])
            return first.spec if first is not None and first.live else None
        existing = state.get(source)
        return existing.live.spec if existing is not None and existing.live else None

    visiting: set[str] = set()

    def visit(m: Manifest) -> Creation | None:
        if m.name in made or m.name in visiting:  # a cycle: the loader has said so
            return made.get(m.name)
        visiting.add(m.name)
        base: Spec | None = None
        if m.copy_from is not None:
            if m.copy_from not in by_name and state.get(m.copy_from) is None:
                errors.append(
                    _at(m, "spec.copyFrom", f"copyFrom names {m.copy_from!r}, which does not exist")
                )
                return None
            base = live_spec(m.copy_from)
            if base is None:
                errors.append(
                    _at(
                        m,
                        "spec.copyFrom",
                        f"copyFrom names {m.copy_from!r}, which has never been live; only a "
                        "campaign that has been live can be duplicated",
                    )
                )
                return None
        spec = overlay(base, m.spec) if base is not None else dict(m.spec)
        problems = validate_spec(spec) if base is not None else []
        for problem in problems:
            message = f"{problem} (after copying from {m.copy_from!r})"
            errors.append(_at(m, "spec.copyFrom", message))
        if state.get(m.name) is not None:
            errors.append(
                _at(m, "metadata.name", f"campaign {m.name!r} already exists in the runtime")
            )
        live = m.state is DesiredState.LIVE
        stopped = m.run is Run.STOPPED
        if stopped and not live:
            errors.append(_at(m, "spec.run", NEVER_LIVE_STOPPED))
        elif stopped and not problems and kind_of(spec) is Kind.ONE_TIME:
            errors.append(_at(m, "spec.run", ONE_TIME_STOPPED))
        creation = Creation(m, spec, live, stopped, m.copy_from, base)
        made[m.name] = creation
        done.append(creation)
        return creation

    for m in manifests:
        visit(m)
    return (done if not errors else []), errors


@dataclass(frozen=True)
class Made:
    """What `runtime create` did: the file as read (with the errors that stopped it, if any),
    and the campaigns made, in the order made (a copy after its source)."""

    loaded: LoadResult
    campaigns: tuple[Campaign, ...] = ()

    @property
    def ok(self) -> bool:
        return self.loaded.ok
