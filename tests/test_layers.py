"""The layering, checked: each module imports only the layers below it, the views sit below the
loop, and only the CLI talks to the terminal."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "reconciler"

# module -> the project modules it may import (the runtime package counts as one layer)
ALLOWED = {
    "cli": {"api", "views", "render", "cycles", "watch", "errors", "runtime", "escape"}
    | {"cli"},  # the package: its modules, by command group, over its shared base
    "api": {"executor", "planner", "manifests", "plan", "model", "provenance", "runtime"}
    | {"notify", "cycles"}
    | {"errors", "schedule", "calendar", "cache", "signing", "history", "validation", "service"}
    | {"console", "importer", "policies", "project", "environments", "overlays", "promotion"}
    | {"api"},  # the package: its modules, by concern, over each other and re-exported
    # the runtime service: over the runtime, checking plans and specs as apply and validate do
    "service": {"runtime", "model", "errors", "plan", "signing", "validation", "service"}
    | {"dashboard", "project"},  # the pages it serves beside the API, caps from a project file
    # the dashboard's pages: views of the runtime's data and of plans, worded as the CLI's views
    # word them; never the service that serves them
    "dashboard": {"dashboard", "model", "plan", "planner", "wording", "schedule", "calendar"}
    | {"history", "runtime", "escape", "render", "actions", "policies", "project"},
    "history": {"planner", "plan", "runtime"},
    "signing": {"plan", "model", "runtime", "errors"},
    "cache": {"manifests", "validation"},
    "provenance": {"runtime"},
    "views": {"render", "render_calendar", "calendar", "cycles", "executor", "history", "manifests"}
    | {
        "model",
        "plan",
        "runtime",
        "importer",
    },  # runtime: the data a view shows (tokens), as the model
    "render": {"render_markdown", "executor", "manifests", "plan", "model", "runtime", "errors"}
    | {"wording", "actions", "cycles", "escape", "history", "render_json", "schedule"}
    | {"console", "importer"},
    # runtime create (what a console makes of a file) and import (manifests of what it made)
    "console": {"model", "errors", "manifests", "validation"},
    "importer": {"model", "errors", "documents", "emit", "escape"},
    "emit": set(),
    "render_json": {"escape"},
    "watch": {"api", "manifests", "executor", "plan", "errors", "cycles", "runtime"},
    "cycles": {"executor", "plan"},  # what a watch reports: data, below the loop and its views
    # telling a team what a run did: from its ledger or cycle, to a URL named by a variable
    "notify": {"cycles", "errors", "escape", "executor", "plan", "project"},
    "render_markdown": {"plan", "model", "errors", "escape", "wording", "actions"},
    "executor": {"plan", "manifests", "model", "runtime", "errors", "validation"},
    # an environment of the project file: its runtime, overlay and token rule
    "environments": {"errors", "project", "runtime"},
    "overlays": {"documents", "manifests", "errors", "model", "validation"},
    # the project file, and the policies it holds, judging plans
    "project": {"documents", "provenance", "errors", "model", "validation"},
    "policies": {"schedule", "effective", "errors", "model", "plan", "planner", "project"},
    # an environment's plan judged against the runtime of the one it is promoted from
    "promotion": {"errors", "model", "plan", "planner", "runtime", "policies"},
    "planner": {"lifecycle", "manifests", "plan", "model", "errors", "schedule", "validation"},
    "plan": {"model", "errors", "actions"},
    "actions": {"model"},
    "wording": {"actions", "errors", "model", "plan", "schedule"},
    "lifecycle": {"model"},
    "manifests": {"model", "errors", "validation", "documents"},
    "documents": {"model", "errors", "validation"},
    "validation": {"model"},
    "runtime": {"model", "errors", "runtime", "schedule"},
    "schedule": {"model"},
    "render_calendar": {"calendar", "wording", "escape", "render_json"},
    "calendar": {"model", "schedule", "effective", "policies", "project"},
    "effective": {"model", "manifests", "validation"},
    "escape": set(),  # escaping for every output format: any view may use it
    "model": set(),
    "errors": set(),
}


def project_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            if node.module == "reconciler":
                names = [f"reconciler.{alias.name}" for alias in node.names]
        found |= {n.split(".")[1] for n in names if n.startswith("reconciler.")}
    return found


def layer_of(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


MODULES = sorted(p for p in SRC.rglob("*.py") if layer_of(p) in ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(SRC)) for p in MODULES])
def test_imports_follow_the_layers(path: Path) -> None:
    assert project_imports(path) <= ALLOWED[layer_of(path)]


#: the views, and the loop and the commands they must never reach, directly or through another
VIEWS = ("views", "render", "render_markdown", "render_calendar", "render_json", "wording")
LOOP = {"watch", "api", "cli"}


def reached_from(layer: str) -> set[str]:
    """Every layer ``layer`` imports, directly or through the layers it imports."""
    imports: dict[str, set[str]] = {}
    for path in MODULES:
        imports.setdefault(layer_of(path), set()).update(project_imports(path))
    reached, todo = set(), [layer]
    while todo:
        for found in imports.get(todo.pop(), set()) - reached:
            reached.add(found)
            todo.append(found)
    return reached


@pytest.mark.parametrize("view", VIEWS)
def test_views_sit_below_the_loop(view: str) -> None:
    """A view shows data; the loop (watch), the library's entry points (api) and the command line
    (cli) use views, never the other way round (issue 11)."""
    assert (SRC / f"{view}.py").is_file()
    assert not reached_from(view) & LOOP


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(SRC)) for p in MODULES])
def test_only_the_cli_talks_to_the_terminal(path: Path) -> None:
    if layer_of(path) == "cli":
        return
    tree = ast.parse(path.read_text())
    calls = {
        ast.unparse(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    }
    assert not calls & {"print", "input", "click.echo", "click.prompt", "sys.exit"}
    assert "click" not in {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }


def test_every_module_is_placed_in_a_layer() -> None:
    placed = {layer_of(p) for p in SRC.rglob("*.py")}
    assert placed - set(ALLOWED) == {"__init__", "__main__"}


# inside the runtime package: the interface names no backend (backends depend on it, never the
# other way round); the platform names no store; a store names no platform; only the registry
# composes them
RUNTIME_ALLOWED = {
    # under TYPE_CHECKING only: Step, the type of a tick's result; Role, TokenInfo and
    # SigningKey, the types of Administration's and Authority's
    "base": {"engine", "access"},
    "access": {"base"},  # the rules of roles and tokens: pure, over the interface's Write
    "transition": {"base"},
    "engine": {"base", "transition"},
    "store": {"base", "access"},
    "platform": {"base", "access", "engine", "store", "transition"},
    "memory": {"base", "access", "store"},
    "sqlite": {"base", "access", "store"},
    "postgresql": {"base", "access", "store"},
    "registry": {"base", "platform", "memory", "sqlite", "postgresql", "http"},
    # the runtime behind `reconciler serve`, over HTTP; its JSON, shared with the service
    "http": {"base", "access", "engine", "wire"},
    "wire": {"base", "engine"},
    "migrate": {"base", "store"},  # between two stores, through their transactions
}


def runtime_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            if node.module == "reconciler.runtime":
                names = [f"reconciler.runtime.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {n.split(".")[2] for n in names if n.startswith("reconciler.runtime.")}
    return found


RUNTIME = sorted((SRC / "runtime").glob("*.py"))


@pytest.mark.parametrize("path", RUNTIME, ids=[p.stem for p in RUNTIME])
def test_runtime_modules_import_one_way(path: Path) -> None:
    if path.stem == "__init__":
        assert runtime_imports(path) == set()
        return
    assert runtime_imports(path) <= RUNTIME_ALLOWED[path.stem]


def test_the_interface_does_not_import_its_backends_or_the_registry() -> None:
    imported = runtime_imports(SRC / "runtime" / "base.py")
    assert not imported & {"registry", "platform", "memory", "sqlite", "postgresql", "store"}
