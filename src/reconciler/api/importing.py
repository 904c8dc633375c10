"""Campaigns made outside the reconciler (as a console would), and their import into git."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import (
    manifests,
)
from reconciler.api.options import Options, _load
from reconciler.api.runtime_admin import _simulator
from reconciler.errors import (
    Diagnostic,
    PlanError,
    Severity,
)
from reconciler.runtime.base import (
    redacted,
)

if TYPE_CHECKING:  # imported by the two commands that use them: every other one starts faster
    from reconciler import console, importer


# --- campaigns made outside the reconciler, and their import into git ---------------------------


def create(
    options: Options, file: str | os.PathLike[str], *, actor: str | None = None
) -> console.Made:
    """Make the campaigns of a manifest file in the runtime as a campaign console would: not
    managed by the reconciler, drafts or activated per ``state``, stopped per ``run``, copies of
    their ``copyFrom``; recorded in history as made by ``actor`` (default ``console``). Nothing
    is made when any manifest is invalid or cannot be made."""
    from reconciler import console

    loaded = manifests.load(file)
    if not loaded.ok:
        return console.Made(loaded)
    with options.open() as runtime:
        sim = _simulator(runtime)
        todo, problems = console.creations(loaded.manifests, runtime.snapshot())
        if problems:
            return console.Made(replace(loaded, diagnostics=(*loaded.diagnostics, *problems)))
        made = [
            sim.create(
                c.manifest.name,
                c.spec,
                live=c.live,
                actor=actor or "console",
                copied_from=c.copied_from,
                copy_base=c.copy_base,
                stopped=c.stopped,
                title=c.manifest.title,
                labels=c.manifest.labels or None,
            )
            for c in todo
        ]
    return console.Made(loaded, tuple(made))


#: where `import` writes, unless told
IMPORT_DIR = Path("campaigns") / "imported"


def import_campaigns(
    options: Options,
    path: str | os.PathLike[str],
    names: Sequence[str] = (),
    all: bool = False,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> importer.Imported:
    """Write a manifest for each unmanaged campaign named (or every one, with ``all``) into
    ``out`` (default campaigns/imported/), ``NAME.yaml``: one the next plan adopts, and nothing
    else. Campaigns whose manifests are under ``path`` already are skipped; an existing file is
    never overwritten unless ``force``. Any error writes nothing."""
    from reconciler import importer

    folder = Path(out) if out is not None else IMPORT_DIR
    # no manifests yet: nothing is skipped, the first import makes the folder
    none = manifests.LoadResult((), (), 0)
    loaded = _load(path, None) if os.path.lexists(path) else none
    known = {m.name: m.file for m in loaded.manifests}
    with options.open() as runtime:
        state = runtime.snapshot()
        shown = redacted(runtime.url)
        entry = (
            next(
                (
                    e
                    for e in runtime.history(after=state.revision - 1)
                    if e.revision == state.revision
                ),
                None,
            )
            if state.revision > 0
            else None
        )
    result = importer.Imported(shown, state.revision)
    if not loaded.ok:
        found = tuple(d for d in loaded.diagnostics if d.severity is Severity.ERROR)
        return replace(result, errors=found)
    chosen = importer.select(state.campaigns, names, all, known)
    source = importer.Source(shown, state.revision, entry.at if entry is not None else None)
    in_git = {n for n, c in state.campaigns.items() if c.managed} | set(known)
    in_git |= {c.name for c in chosen.campaigns}
    errors = list(chosen.errors)
    texts: list[tuple[str, Path, str]] = []
    for c in chosen.campaigns:
        target = folder / f"{c.name}.yaml"
        text = importer.manifest(c, source, in_git, os.fspath(target))
        if text is None:
            errors.append(Diagnostic(f"no manifest reads back as campaign {c.name!r}: a bug"))
        elif len(text.encode()) > manifests.MAX_FILE_BYTES:
            errors.append(
                Diagnostic(
                    f"the manifest of {c.name} would be over 1 MiB, more than a manifest may be",
                    os.fspath(target),
                    campaign=c.name,
                )
            )
        elif os.path.lexists(target) and not force:
            errors.append(
                Diagnostic(
                    f"{os.fspath(target)} exists; it is never overwritten (--force replaces it)",
                    os.fspath(target),
                    campaign=c.name,
                )
            )
        else:
            texts.append((c.name, target, text))
    warnings = tuple(importer.skipped_warning(n, f) for n, f in chosen.skipped)
    result = replace(result, skipped=chosen.skipped, warnings=warnings)
    if errors:
        return replace(result, errors=tuple(errors))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for _, target, text in texts:
            partial = target.with_name(f".{target.name}.partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(target)
    except OSError as exc:
        raise PlanError(f"cannot write to {os.fspath(folder)}: {exc.strerror}") from exc
    return replace(result, written=tuple((n, os.fspath(t)) for n, t, _ in texts))
