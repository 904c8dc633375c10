"""The registry of runtimes by URL scheme: built-in schemes, and third-party backends found through
the ``reconciler.runtimes`` entry-point group, loaded only when their scheme is asked for.

The third-party backend is ``tests/plugin`` (a package with a ``pyproject.toml`` declaring its entry
point). It is made visible the way an installed distribution is: a ``.dist-info`` folder holding
its ``entry_points.txt`` in a folder on ``sys.path``, which ``importlib.metadata`` reads.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import RuntimeURLError, UnknownRuntimeError
from reconciler.model import Action
from reconciler.runtime import registry
from reconciler.runtime.base import Provenance, Write
from reconciler.runtime.registry import open_runtime

PLUGIN = Path(__file__).resolve().parent.parent / "plugin"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def install(site: Path, name: str, entry_points: dict[str, str]) -> None:
    """What pip leaves in site-packages for a distribution, as far as entry points go."""
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = [f"{scheme} = {target}" for scheme, target in entry_points.items()]
    (info / "entry_points.txt").write_text(f"[{registry.GROUP}]\n" + "\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path, as site-packages is; the plugin's code importable beside it."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.syspath_prepend(str(PLUGIN))
    yield folder
    sys.modules.pop("reconciler_echo", None)


def declared() -> dict[str, str]:
    """The entry points tests/plugin/pyproject.toml declares."""
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    found: dict[str, str] = project["entry-points"][registry.GROUP]
    return found


def activation(name: str) -> Write:
    spec = {
        "channel": "in-app",
        "content": {"title": "Hi", "body": "There"},
    }
    return Write(
        key=f"k/{name}",
        action=Action.ACTIVATE,
        campaign=name,
        expected_etag=None,
        provenance=Provenance("alice"),
        spec=spec,
    )


def test_a_third_party_backend_is_found_by_its_entry_point(site: Path) -> None:
    install(site, "reconciler-echo", declared())
    assert "echo" in registry.known()
    assert "reconciler_echo" not in sys.modules  # listed, not loaded: nothing is asked of it yet
    with open_runtime("echo://one", clock=lambda: NOW) as runtime:
        assert runtime.url == "echo://one"
        runtime.apply(activation("alpha"))
        assert runtime.snapshot().revision == 1
    assert sys.modules["reconciler_echo"].OPENED == ["echo://one"]
    with open_runtime("echo://one", clock=lambda: NOW) as again:  # the same named runtime
        assert set(again.snapshot().campaigns) == {"alpha"}


def test_an_unknown_scheme_lists_the_installed_backends_too(site: Path) -> None:
    install(site, "reconciler-echo", declared())
    with pytest.raises(UnknownRuntimeError) as caught:
        open_runtime("ftp://x")
    assert str(caught.value) == (
        "unknown runtime URL 'ftp://x'; known kinds: echo://..., http://HOST:PORT, https://HOST, "
        "memory://[NAME], "
        "postgresql://USER@HOST/DB, sqlite:///PATH"
    )
    assert "reconciler_echo" not in sys.modules


def test_a_built_in_scheme_cannot_be_taken_by_a_plugin(site: Path) -> None:
    install(site, "reconciler-hijack", {"sqlite": "reconciler_echo:open_echo"})
    assert registry.known()["sqlite"] == "sqlite:///PATH"
    with open_runtime("sqlite:///x.db") as runtime:
        assert type(runtime).__name__ == "Platform"
    assert "reconciler_echo" not in sys.modules


def test_a_backend_that_cannot_be_loaded_says_which_and_why(site: Path) -> None:
    install(site, "reconciler-broken", {"broken": "reconciler_missing_module:open"})
    with pytest.raises(RuntimeURLError) as caught:
        open_runtime("broken://x")
    assert str(caught.value) == (
        "the runtime backend for broken:// (reconciler_missing_module:open) cannot be loaded: "
        "ModuleNotFoundError: No module named 'reconciler_missing_module'"
    )
