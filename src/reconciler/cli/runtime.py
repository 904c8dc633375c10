"""The runtime group: acting on the runtime directly, as a campaign platform's console would."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from reconciler import api, escape, render, views
from reconciler.cli.base import (
    EXIT_ERROR,
    EXIT_OK,
    _color,
    _format_option,
    _options,
    _runtime_option,
)
from reconciler.runtime.engine import Step


@click.group()
def runtime() -> None:
    """Act on the runtime directly, as a campaign platform's console would."""


@runtime.command("edit")
@click.argument("name")
@click.option(
    "--set",
    "settings",
    multiple=True,
    required=True,
    metavar="PATH=VALUE",
    help="A field of the spec to change, like content.subject=Hi (JSON values allowed).",
)
@click.option("--actor", default="console", show_default=True, help="Who edits.")
@_runtime_option
def runtime_edit(name: str, settings: tuple[str, ...], actor: str, runtime_url: str | None) -> None:
    """Write a new live version of NAME from outside the reconciler: drift, for demos and tests."""
    campaign = api.edit(_options(runtime_url), name, settings, actor=actor)
    assert campaign.live is not None
    click.echo(escape.text(f"{name}: live version {campaign.live.number} written by {actor}"))


@runtime.command("create")
@click.option(
    "-f",
    "--file",
    "file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A manifest file: its campaigns are made (one or more YAML documents).",
)
@click.option("--actor", default="console", show_default=True, help="Who makes them.")
@_runtime_option
def runtime_create(file: Path, actor: str, runtime_url: str | None) -> None:
    """Make the campaigns of FILE as a campaign console would: not managed by the reconciler,
    draft or live per state, stopped per run (activated, then stopped), copies per copyFrom.
    For demos and tests of `import`; nothing is made if any of them cannot be."""
    made = api.create(_options(runtime_url), file, actor=actor)
    click.echo(render.created_text(made), nl=False)
    sys.exit(EXIT_OK if made.ok else EXIT_ERROR)


@runtime.command("tick")
@click.option(
    "--now",
    metavar="ISO-8601",
    help="Advance as if at this moment (deterministic, for tests and demos) [default: now].",
)
@_runtime_option
def runtime_tick(now: str | None, runtime_url: str | None) -> None:
    """Advance the engine once: start and finish sendings, go live, complete."""
    moment = api.parse_since(now, "--now") if now is not None else None
    steps = api.tick(_options(runtime_url), moment)
    click.echo(render.steps_text(steps), nl=False)


@runtime.command("run")
@click.option(
    "--every",
    type=click.FloatRange(min=0.05, max=60),  # the engine starts a slot up to a minute late
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="How often to tick.",
)
@_runtime_option
def runtime_run(every: float, runtime_url: str | None) -> None:
    """Run the engine until stopped (SIGINT or SIGTERM: the tick in progress completes, exit 0)."""
    stopping = threading.Event()

    def shut_down(signum: int, frame: object) -> None:
        stopping.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, shut_down)

    def report(steps: list[Step]) -> None:
        click.echo(render.steps_text(steps), nl=False)
        sys.stdout.flush()

    def unavailable(error: str, retry_in: float) -> None:
        click.echo(escape.text(f"{error}; retrying in {retry_in:.0f}s, and on"), err=True)

    api.run_engine(
        _options(runtime_url), stopping.is_set, report, every=every, unavailable=unavailable
    )


@runtime.command("segment")
@click.argument("name")
@click.option("--size", type=click.IntRange(min=0), required=True, help="Recipients in it.")
@_runtime_option
def runtime_segment(name: str, size: int, runtime_url: str | None) -> None:
    """Set how many recipients segment NAME has: a sending lasts size / throttle seconds."""
    api.set_segment(_options(runtime_url), name, size)
    click.echo(escape.text(f"segment {name}: {size} recipients"))


@runtime.command("migrate")
@click.option("--from", "source", required=True, metavar="URL", help="The runtime to copy.")
@click.option("--to", "target", required=True, metavar="URL", help="An empty runtime to copy into.")
def runtime_migrate(source: str, target: str) -> None:
    """Copy a runtime into an empty one (campaigns with every version, history, sendings,
    segments, idempotency keys), and verify the copy; the copy gets an identity of its own."""
    copied = api.migrate(_options(None), source, target)
    click.echo(render.migration_text(copied, source, target), nl=False)


@runtime.command("unlock")
@_runtime_option
def runtime_unlock(runtime_url: str | None) -> None:
    """Break the apply lock, whoever holds it (an administrator's: their next write is refused)."""
    broken = api.break_lock(_options(runtime_url))
    click.echo(render.unlocked_text(broken), nl=False)


@runtime.command("sendings")
@click.argument("name", required=False)
@_format_option(views.SENDINGS_VIEWS)
@_runtime_option
def runtime_sendings(name: str | None, fmt: str, runtime_url: str | None) -> None:
    """List sendings (oldest first), of NAME when given."""
    found = api.sendings(_options(runtime_url), name)
    click.echo(views.SENDINGS_VIEWS[fmt](found, _color()), nl=False)
