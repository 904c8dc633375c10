"""Where an apply comes from: the git commit of the manifests, whether they had uncommitted
changes, and who applies. Recorded on every version and every history entry."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reconciler.runtime.base import current_user


@dataclass(frozen=True)
class GitState:
    commit: str | None  # None: not in a git work tree (or git is not installed)
    dirty: bool  # the manifests differ from the commit (changed, added or deleted files)
    #: the files that differ, relative to the working directory, in git's order
    changed: tuple[str, ...] = ()


def git_state(path: Path) -> GitState:
    """The commit checked out where the manifests live, and whether they differ from it.

    Only the manifests count: a change elsewhere in the repository does not make what is applied
    differ from the commit.
    """
    folder = path if path.is_dir() else path.parent
    # the folder's own path in the work tree ("" at its top), and the commit
    found = (_git(folder, "rev-parse", "--show-prefix", "HEAD") or "").splitlines()
    if len(found) != 2:
        return GitState(None, False)
    prefix, commit = found
    scope = path.name if path.is_file() else "."
    status = _git(folder, "status", "--porcelain", "-z", "--untracked-files=all", "--", scope)
    changed = tuple(
        _shown(folder / name.removeprefix(prefix))
        for name in _porcelain_paths(status or "")
        if _manifest(name.removeprefix(prefix))
    )
    return GitState(commit or None, bool(changed), changed)


def _porcelain_paths(status: str) -> list[str]:
    """The paths of ``git status --porcelain -z`` (relative to the top of the work tree): ``XY
    path``, and for a rename or copy the old path in a field of its own after it (a renamed
    manifest is one gone from its old place, too)."""
    paths, fields = [], iter(status.split("\0"))
    for entry in fields:
        if len(entry) > 3:
            paths.append(entry[3:])
            if "R" in entry[:2] or "C" in entry[:2]:
                paths.extend(old for old in [next(fields, "")] if old)
    return paths


def _manifest(name: str) -> bool:
    """Whether a changed file is one the manifests are read from (``*.yaml``/``*.yml``, nothing
    hidden): the cache in ``.reconciler/``, a README or a plan file beside them do not count."""
    parts = PurePosixPath(name).parts
    return name.endswith((".yaml", ".yml")) and not any(p.startswith(".") for p in parts)


def _shown(path: Path) -> str:
    """``path`` as the user named the manifests' folder (relative, or absolute), tidied."""
    return os.path.normpath(path)


def work_tree_top(folder: Path) -> Path | None:
    """The top of the git work tree ``folder`` is in, or None outside one."""
    found = _git(folder, "rev-parse", "--show-toplevel")
    return Path(found.rstrip("\n")) if found else None


def origin(folder: Path) -> str | None:
    """The URL of the remote ``origin`` of the git repository ``folder`` is in, as configured
    (it may hold credentials: it is never shown as it is)."""
    found = _git(folder, "config", "--get", "remote.origin.url")
    return (found.strip() or None) if found else None


def file_at(ref: str, path: Path) -> tuple[str, bytes | None] | None:
    """The commit ``ref`` names in the repository ``path`` is in, and the bytes ``path`` has in
    it (None when the commit has no such file); None when ``ref`` names no commit there.

    ``ref`` comes from a command line, but may be anything: it is never read as an option."""
    if ref.startswith("-"):
        return None
    folder = path.parent
    commit = _git(
        folder, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
    )
    if not commit:
        return None
    commit = commit.strip()
    try:
        out = subprocess.run(
            ["git", "cat-file", "blob", f"{commit}:./{path.name}"],
            cwd=folder,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit, out.stdout if out.returncode == 0 else None


def _git(folder: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None  # unstripped: porcelain starts with spaces


def actor(explicit: str | None) -> str:
    """Who applies: --actor, else $RECONCILER_ACTOR, else $GITHUB_ACTOR, else the user name."""
    return (
        explicit
        or os.environ.get("RECONCILER_ACTOR")
        or os.environ.get("GITHUB_ACTOR")
        or current_user()
    )
