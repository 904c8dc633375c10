"""An environment of the project file, resolved: its runtime's URL, read from the environment
variable it names, its overlay folder, and where a token may be sent.

A pull request can edit the project file, so what it may make the reconciler read is narrow: an
environment names one variable (``runtime: ${STAGING_RUNTIME}``), whose value is set outside the
repository, and an error never shows that value (it may be a database URL with a password, or
any other variable's secret). A token (``RECONCILER_TOKEN``, ``--token-file``) is configured
outside the repository too, for one runtime: to a runtime an environment names, it is sent only
when ``RECONCILER_TOKEN_FOR``, set beside it, names that runtime's origin (scheme, host, port), so
that a change to the project file cannot send a production token to another server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.errors import PlanError, RuntimeURLError
from reconciler.project import Project
from reconciler.runtime.registry import known

__all__ = ["TOKEN_FOR", "Target", "check_token", "resolve"]

#: the origins (https://host:port, several separated by spaces or commas) the token is for, set
#: outside the repository beside the token: a production job that reads staging's service for
#: promotion names both
TOKEN_FOR = "RECONCILER_TOKEN_FOR"
_TOKENS = ("RECONCILER_TOKEN", "RECONCILER_TOKEN_FILE")


@dataclass(frozen=True)
class Target:
    """Where an environment's plans go."""

    name: str
    runtime_url: str
    overlay: Path | None  # a folder that exists
    promotion_from: str | None = None


def resolve(project: Project, name: str, environ: Mapping[str, str] = os.environ) -> Target:
    """Environment ``name`` of ``project``: its runtime's URL from its variable, and its overlay
    folder (relative to the project file); a PlanError that says what is missing."""
    if project.file is None:
        raise PlanError(
            f"--env {name}: there is no project file (reconciler.yaml) to define environments"
        )
    env = project.environments.get(name)
    if env is None:
        names = ", ".join(sorted(project.environments)) or "none"
        raise PlanError(
            f"--env {name!r:.60}: {project.file} has no such environment (environments: {names})"
        )
    where = f"environment {name} ({project.place(env.line)})"
    url = environ.get(env.runtime, "").strip()
    if not url:
        raise PlanError(f"{where}: its runtime is ${{{env.runtime}}}, which is not set")
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in known():
        kinds = ", ".join(f"{s}://" for s in known())
        raise PlanError(
            f"{where}: ${{{env.runtime}}} does not hold a runtime URL (one of {kinds}); its "
            "value is not shown"
        )
    overlay = None
    if env.overlay is not None:
        overlay = Path(project.file).parent / env.overlay
        if not overlay.is_dir():
            raise PlanError(f"{where}: its overlay {env.overlay!r:.100} is not a folder")
    return Target(name, url, overlay, env.promotion_from)


def check_token(url: str, environment: str, environ: Mapping[str, str] = os.environ) -> None:
    """Refuse to open ``url``, a runtime an environment names, when a token would be sent to it
    and ``RECONCILER_TOKEN_FOR`` does not name its origin."""
    if not url.startswith(("http://", "https://")):
        return
    if not any(environ.get(variable, "").strip() for variable in _TOKENS):
        return
    origin = _origin(url)
    allowed = environ.get(TOKEN_FOR, "").replace(",", " ").split()
    if not allowed:
        raise RuntimeURLError(
            f"environment {environment}: a token is sent to the runtime an environment names "
            f"only when {TOKEN_FOR}, set outside the repository beside the token, names its "
            f"origin ({origin}); nothing was sent"
        )
    origins = [_origin(each) for each in allowed]
    if origin not in origins:
        raise RuntimeURLError(
            f"environment {environment}: its runtime is {origin}, and the token is for "
            f"{', '.join(origins)} ({TOKEN_FOR}); nothing was sent"
        )


def _origin(url: str) -> str:
    """scheme://host:port, the port written out: what a token is bound to."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "an invalid URL"
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"
