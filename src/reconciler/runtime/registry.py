"""Runtimes by URL scheme: the built-in stores, and third-party backends.

The built-in schemes (``memory``, ``sqlite``, ``postgresql`` and its alias ``postgres``) are the
embedded platform over one of its stores; PostgreSQL's needs the ``postgresql`` extra (psycopg).
Any other scheme is looked up in the ``reconciler.runtimes`` entry-point group: a package declares

    [project.entry-points."reconciler.runtimes"]
    myscheme = "my_package.module:open_runtime"

where the callable takes ``(url, clock, patience)`` and returns a
:class:`~reconciler.runtime.base.Runtime`. A backend's module is imported only when its scheme is
asked for. The interface (``base.py``) does not import this module: backends depend on the
interface, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

from reconciler.errors import RuntimeURLError, UnknownRuntimeError
from reconciler.runtime.base import DEFAULT_URL, Clock, Patience, Runtime, redacted, utcnow
from reconciler.runtime.platform import Platform

GROUP = "reconciler.runtimes"

Opener = Callable[[str, Clock, Patience], Runtime]


def _memory(url: str, clock: Clock, patience: Patience) -> Runtime:
    from reconciler.runtime.memory import MemoryStore

    return Platform(MemoryStore(url), clock)


def _sqlite(url: str, clock: Clock, patience: Patience) -> Runtime:
    from reconciler.runtime.sqlite import SQLiteStore

    return Platform(SQLiteStore(url, patience), clock)


def _postgresql(url: str, clock: Clock, patience: Patience) -> Runtime:
    try:
        from reconciler.runtime.postgresql import PostgreSQLStore
    except ImportError as exc:
        if not (exc.name or "").startswith("psycopg"):
            raise
        raise RuntimeURLError(
            f"runtime {redacted(url)} needs the PostgreSQL driver, which is not installed: "
            "pip install 'reconciler[postgresql]'"
        ) from exc
    return Platform(PostgreSQLStore(url, patience), clock)


def _http(url: str, clock: Clock, patience: Patience) -> Runtime:
    try:
        from reconciler.runtime.http import open_http
    except ImportError as exc:
        if not (exc.name or "").startswith("httpx"):
            raise
        raise RuntimeURLError(
            f"runtime {redacted(url)} is reached over HTTP, and httpx is not installed: "
            "pip install 'reconciler[http]'"
        ) from exc

    return open_http(url, clock, patience)


#: scheme -> (an example URL for messages, the opener)
BUILT_IN: dict[str, tuple[str, Opener]] = {
    "memory": ("memory://[NAME]", _memory),
    "sqlite": ("sqlite:///PATH", _sqlite),
    "postgresql": ("postgresql://USER@HOST/DB", _postgresql),
    "http": ("http://HOST:PORT", _http),
    "https": ("https://HOST", _http),
}
#: another spelling of a built-in scheme, as libpq takes it (not listed apart in messages)
ALIASES = {"postgres": "postgresql"}


def _plugins() -> dict[str, EntryPoint]:
    """The third-party backends installed, by scheme (a built-in scheme is not theirs to take)."""
    taken = BUILT_IN.keys() | ALIASES.keys()
    return {ep.name: ep for ep in entry_points(group=GROUP) if ep.name not in taken}


def known() -> dict[str, str]:
    """Every scheme a runtime URL may have, with an example URL of it."""
    examples = {scheme: example for scheme, (example, _) in BUILT_IN.items()}
    examples |= {scheme: f"{scheme}://..." for scheme in _plugins()}
    return dict(sorted(examples.items()))


def opener(scheme: str) -> Opener | None:
    scheme = ALIASES.get(scheme, scheme)
    if scheme in BUILT_IN:
        return BUILT_IN[scheme][1]
    plugin = _plugins().get(scheme)
    if plugin is None:
        return None
    try:
        found = plugin.load()
    except Exception as exc:  # whatever a third-party module raises on import
        raise RuntimeURLError(
            f"the runtime backend for {scheme}:// ({plugin.value}) cannot be loaded: "
            f"{type(exc).__name__}: {exc!s:.200}"
        ) from exc
    if not callable(found):
        raise RuntimeURLError(
            f"the runtime backend for {scheme}:// ({plugin.value}) is not callable"
        )
    opened: Opener = found
    return opened


def open_runtime(
    url: str | None = None, clock: Clock = utcnow, patience: Patience | None = None
) -> Runtime:
    """Open the runtime at ``url``; by default the embedded SQLite runtime in the working dir.

    The runtime is a context manager: ``with open_runtime(url) as runtime: ...`` closes it."""
    url = url or DEFAULT_URL
    scheme, sep, _ = url.partition("://")
    found = opener(scheme) if sep else None
    if found is None:
        kinds = ", ".join(known().values())
        raise UnknownRuntimeError(
            f"unknown runtime URL {redacted(url)!r:.100}; known kinds: {kinds}"
        )
    return found(url, clock, patience or Patience())
