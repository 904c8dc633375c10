"""Overlays: one set of manifests, and the differences of each environment laid over them.

An environment of the project file may name an overlay: a folder of ``Patch`` documents
(``schema/patch.schema.json``), found and read as manifests are. A patch names one campaign
(``metadata.name``) or every campaign with some labels (``selector: {labels: ...}``), and holds part
of a spec, laid over the manifest's as ``copyFrom`` lays a manifest over its source: mappings merged
key by key, lists and scalars replaced (``state`` and ``run`` too).

- A manifest's ``metadata.environments`` limits the environments it exists in; naming one the
  project file does not have is an error.
- A patch that matches no campaign of the environment is an error at its line, as are two patches
  setting the same field of one campaign (at the second).
- The patched spec is checked as a whole manifest is; an error in a value a patch set is placed at
  the patch's line, any other at the manifest's.
- A patched manifest keeps the hash of its spec before the overlay (``Manifest.base_hash``): what
  promotion compares between environments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from reconciler import documents, manifests
from reconciler.errors import Diagnostic
from reconciler.model import (
    DesiredState,
    Manifest,
    Position,
    Run,
    base_hash,
    overlay,
    position_of,
    spec_hash,
)
from reconciler.validation import checker, clip, spec_problems

__all__ = ["Patch", "for_environment", "load"]

_WHAT = "a Patch (apiVersion: reconciler/v1, kind: Patch)"
_CONTROLS = ("state", "run")  # not part of the versioned spec: they say what to do with it


@dataclass(frozen=True)
class Patch:
    file: str
    position: Position  # where the document starts
    name: str | None  # the campaign it patches, or
    labels: Mapping[str, str] | None  # the labels of those it patches
    spec: Mapping[str, Any]
    positions: str  # as Manifest.positions
    hash: str

    def where(self, path: str) -> Position:
        return position_of(self.positions, path, self.position)

    def matches(self, m: Manifest) -> bool:
        if self.name is not None:
            return m.name == self.name
        assert self.labels is not None
        return all(m.labels.get(key) == value for key, value in self.labels.items())


def load(folder: Path) -> tuple[list[Patch], list[Diagnostic]]:
    """Every patch under ``folder`` (a folder that exists), in the order of their files, and what
    is wrong with them."""
    patches: list[Patch] = []
    problems: list[Diagnostic] = []
    for file, shown, problem in manifests.files(folder):
        if problem is not None:
            problems.append(Diagnostic(problem, shown, 1, 1))
            continue
        read = manifests.read_bytes(file, shown)
        if isinstance(read, Diagnostic):
            problems.append(read)
            continue
        found, wrong = documents.parse_mappings(read[0], shown, _WHAT)
        problems += wrong
        for root, data in found:
            patch = _patch(root, data, shown)
            if isinstance(patch, Patch):
                patches.append(patch)
            else:
                problems += patch
    return patches, problems


def _patch(root: Any, data: Any, shown: str) -> Patch | list[Diagnostic]:
    def at(where: tuple[str | int, ...], key: str | None, message: str) -> Diagnostic:
        line, column = documents.place(documents.locate(root, where, key))
        return Diagnostic(clip(message), shown, line, column)

    problems = [at(p.path, p.key, p.text()) for p in _check()(data)]
    if not problems and ("metadata" in data) == ("selector" in data):
        message = "a patch names one campaign (metadata.name) or a selector, not both or neither"
        problems.append(at((), None, message))
    if problems:
        return sorted(problems, key=Diagnostic.line_column)
    start = documents.place(root)
    return Patch(
        file=shown,
        position=Position(*start),
        name=(data.get("metadata") or {}).get("name"),
        labels=(data.get("selector") or {}).get("labels"),
        spec=data["spec"],
        positions=documents.positions(root),
        hash=spec_hash(data),
    )


@cache
def _check() -> Any:
    source = resources.files("reconciler") / "schema" / "patch.schema.json"
    return checker(json.loads(source.read_text(encoding="utf-8")))


def for_environment(
    loaded: Sequence[Manifest],
    patches: Sequence[Patch],
    environment: str,
    known: Sequence[str],
) -> tuple[list[Manifest], list[Diagnostic]]:
    """The manifests of ``environment`` (of the ``known`` ones), each with its patches laid over
    it; and every error, placed."""
    problems: list[Diagnostic] = []
    here: list[Manifest] = []
    for m in loaded:
        strangers = [e for e in m.environments or () if e not in known]
        for env in strangers:
            message = (
                f"metadata.environments: {env!r} is not an environment of the project file "
                f"(environments: {', '.join(known) or 'none'})"
            )
            problems.append(_at(m, "metadata.environments", message))
        if m.environments is None or environment in m.environments:
            here.append(m)
    used: set[int] = set()
    patched: list[Manifest] = []
    for m in here:
        mine = [(i, p) for i, p in enumerate(patches) if p.matches(m)]
        used.update(i for i, _ in mine)
        result = _patched(m, [p for _, p in mine], problems)
        if result is not None:
            patched.append(result)
    for i, p in enumerate(patches):
        if i not in used:
            whom = f"campaign {p.name!r}" if p.name is not None else "campaign with its labels"
            message = f"this patch matches nothing: there is no {whom} in environment {environment}"
            where = p.where("metadata" if p.name else "selector")
            problems.append(Diagnostic(message, p.file, *where))
    problems.sort(key=lambda d: (d.file or "", d.line_column(), d.message))
    return patched, problems


def _patched(m: Manifest, patches: Sequence[Patch], problems: list[Diagnostic]) -> Manifest | None:
    """``m`` with ``patches`` laid over it in order, or None (its errors in ``problems``)."""
    if not patches:
        return m
    set_by: dict[str, Patch] = {}
    found = len(problems)
    for p in patches:
        for path in _leaves(p.spec, "spec"):
            if path in set_by:
                first = set_by[path]
                message = (
                    f"{path} of {m.name} is set by two patches: {first.file}:"
                    f"{first.where(path).line} and this one"
                )
                problems.append(Diagnostic(message, p.file, *p.where(path), campaign=m.name))
            set_by[path] = p
    if len(problems) > found:
        return None
    spec: Mapping[str, Any] = m.spec
    state, run = m.state, m.run
    for p in patches:
        spec = overlay(spec, {k: v for k, v in p.spec.items() if k not in _CONTROLS})
        state = DesiredState(p.spec.get("state", state))
        run = Run(p.spec.get("run", run))
    if m.copy_from is None:  # a copy is checked once its source is laid under it (the planner)
        for problem in spec_problems(spec):
            path = ".".join(str(step) for step in problem.path)
            setter = next((p for set_path, p in set_by.items() if _under(path, set_path)), None)
            if setter is not None:
                problems.append(
                    Diagnostic(
                        clip(f"{problem.text()} (in {m.name}, as patched)"),
                        setter.file,
                        *setter.where(path),
                        campaign=m.name,
                    )
                )
            else:
                # the manifest alone is valid: say what made it wrong here
                by = ", ".join(f"{p.file}:{p.position.line}" for p in patches)
                problems.append(_at(m, path, clip(f"{problem.text()} (as patched by {by})")))
    if len(problems) > found:
        return None
    identity = spec_hash({"manifest": m.hash, "patches": [p.hash for p in patches]})
    return m._replace(spec=spec, state=state, run=run, hash=identity, base_hash=base_hash(m))


def _leaves(spec: Mapping[str, Any], path: str) -> Iterator[str]:
    """The fields a patch sets: mappings walked, anything else one field."""
    for key, value in spec.items():
        where = f"{path}.{key}"
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, where)
        else:
            yield where


def _under(path: str, field: str) -> bool:
    """Whether ``path`` is ``field`` or inside it, or holds it."""
    return path == field or path.startswith(field + ".") or field.startswith(path + ".")


def _at(m: Manifest, path: str, message: str) -> Diagnostic:
    where = m.where(path)
    return Diagnostic(message, m.file, where.line, where.column, campaign=m.name)
