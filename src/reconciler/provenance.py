"""Where an apply comes from: the git commit of the manifests, whether they had uncommitted
changes, and who applies. Recorded on every version and every history entry."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from reconciler.runtime.base import current_user


@dataclass(frozen=True)
class GitState:
    commit: str | None  # None: not in a git work tree (or git is not installed)
    dirty: bool  # the manifests differ from the commit (changed, added or deleted files)


def git_state(path: Path) -> GitState:
    """The commit checked out where the manifests live, and whether they differ from it.

    Only the manifests count: a change elsewhere in the repository does not make what is applied
    differ from the commit.
    """
    folder = path if path.is_dir() else path.parent
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return GitState(None, False)
    scope = path.name if path.is_file() else "."
    changes = _git(folder, "status", "--porcelain", "--untracked-files=all", "--", scope)
    return GitState(commit or None, bool(changes))


def _git(folder: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def actor(explicit: str | None) -> str:
    """Who applies: --actor, else $RECONCILER_ACTOR, else $GITHUB_ACTOR, else the user name."""
    return (
        explicit
        or os.environ.get("RECONCILER_ACTOR")
        or os.environ.get("GITHUB_ACTOR")
        or current_user()
    )
