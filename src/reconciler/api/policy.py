"""The project file and its policies: where it is, what judges a plan, and the environments it
names (each with its runtime and overlay)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler import (
    environments,
    manifests,
    overlays,
    policies,
    project,
    provenance,
)
from reconciler.api.options import Options
from reconciler.errors import (
    PlanError,
)
from reconciler.plan import FieldChange
from reconciler.project import Policies, Project


@dataclass(frozen=True)
class ProjectSource:
    """Where the policies come from: the project file (``--project``, else the one found from the
    manifests' folder) and, with ``policies_from``, that file as it is at a git commit
    (``--policies-from REF``: in CI, the base branch, so that a pull request cannot lift a freeze
    and use that in the same change)."""

    file: Path | None = None
    policies_from: str | None = None


def in_environment(
    options: Options,
    name: str,
    source: ProjectSource | None = None,
    manifests_at: str | os.PathLike[str] = ".",
) -> Options:
    """``options`` aimed at environment ``name`` of the project file: its runtime (from the
    variable it names) and its overlay."""
    found = read_project(source or ProjectSource(), manifests_at)
    if not found.ok:
        raise PlanError(f"--env {name}: {found.diagnostics[0]}")
    target = environments.resolve(found, name)
    return replace(options, runtime_url=target.runtime_url, target=target)


@dataclass(frozen=True)
class Judged:
    """The project file as read, the policies that judge the plan, and what the change makes of
    the policies (against ``policies_from``, else the commit checked out)."""

    project: Project
    policies: Policies
    changes: tuple[FieldChange, ...] = ()


def project_path(source: ProjectSource, manifests_at: str | os.PathLike[str] = ".") -> Path:
    """Where the project file of the manifests at ``manifests_at`` is, or would be."""
    if source.file is not None:
        return source.file
    folder = Path(manifests_at)
    return project.locate(folder if folder.is_dir() else folder.parent)


def read_project(source: ProjectSource, manifests_at: str | os.PathLike[str] = ".") -> Project:
    """The project file of the manifests at ``manifests_at``, as it is: what needs neither the
    policies of another commit nor what changed (an environment, the notifications)."""
    return project.read(project_path(source, manifests_at), required=source.file is not None)


def read_policies(source: ProjectSource, manifests_at: str | os.PathLike[str] = ".") -> Judged:
    """The project file (found from the manifests at ``manifests_at``), and the policies that
    judge a plan: those at ``policies_from`` when given, else its own. Its changes are told
    against ``policies_from``, else the commit checked out (none outside git)."""
    target = project_path(source, manifests_at)
    current = read_project(source, manifests_at)
    ref = source.policies_from
    base = project.at_ref(ref or "HEAD", target)
    if ref is not None:
        if base is None:
            where = provenance.work_tree_top(target.parent)
            raise PlanError(
                f"--policies-from {ref!r:.60}: no such commit in the git repository at {where}"
                if where is not None
                else f"--policies-from {ref!r:.60}: {project.shown(target.parent)} is not in a git "
                "work tree"
            )
        if not base.ok:
            raise PlanError(
                f"--policies-from {ref!r:.60}: the project file there is invalid "
                f"({base.diagnostics[0]}); its policies cannot judge this plan"
            )
    judged_by = base.policies if ref is not None and base is not None else current.policies
    if base is None or not current.ok or base.text == current.text:
        return Judged(current, judged_by)
    return Judged(current, judged_by, policies.project_changes(base, current))


def _in_environment(
    loaded: manifests.LoadResult, found: Project, target: environments.Target
) -> manifests.LoadResult:
    """The manifests of ``target``'s environment, its overlay laid over them."""
    patches, problems = overlays.load(target.overlay) if target.overlay else ([], [])
    chosen, wrong = overlays.for_environment(
        loaded.manifests, patches, target.name, sorted(found.environments)
    )
    return manifests.LoadResult(
        tuple(chosen), (*loaded.diagnostics, *problems, *wrong), loaded.files
    )
