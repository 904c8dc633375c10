"""The commands that read and follow the runtime: status, history, watch and calendar."""

from __future__ import annotations

import math
import signal
import sys
from pathlib import Path
from typing import Any

import click

from reconciler import api, escape, render, views
from reconciler.cli.base import (
    EXIT_ERROR,
    _color,
    _env_option,
    _format_option,
    _options,
    _path_argument,
    _project_option,
    _runtime_option,
    _undelivered,
)
from reconciler.cycles import Cycle
from reconciler.watch import Watcher


@click.command()
@click.argument("name", required=False)
@_runtime_option
@_format_option(views.STATUS_VIEWS)
@_env_option
@_project_option
def status(
    name: str | None,
    runtime_url: str | None,
    fmt: str,
    environment: str | None,
    project_file: Path | None,
) -> None:
    """Show the runtime state of every campaign, or of NAME."""
    options = _options(runtime_url, None, environment, api.ProjectSource(project_file))
    campaigns = api.status(options, name)
    if name is not None and not campaigns:
        click.echo(f"error: no campaign named {escape.text(repr(name))} in the runtime", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(views.STATUS_VIEWS[fmt](campaigns, _color()), nl=False)


@click.command()
@click.argument("name", required=False)
@_runtime_option
@_format_option(views.HISTORY_VIEWS)
@click.option(
    "--since",
    metavar="DATE",
    help="Only entries from DATE on (2026-11-27, or 2026-11-27T09:00:00+01:00; UTC by default).",
)
def history(name: str | None, runtime_url: str | None, fmt: str, since: str | None) -> None:
    """Show the audit trail of writes to the runtime, newest first; of NAME's only, if given."""
    moment = api.parse_since(since) if since is not None else None
    entries = api.history(_options(runtime_url), name, moment)
    click.echo(views.HISTORY_VIEWS[fmt](entries, _color()), nl=False)


@click.command()
@_path_argument
@_runtime_option
@_format_option(views.WATCH_VIEWS)
@click.option("--dry-run", is_flag=True, help="Print the plan of each cycle; change nothing.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1, max=86400),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Reconcile this often even when no file changed, to catch changes made by others.",
)
@click.option("--prune", is_flag=True, help="Stop campaigns whose manifest was removed.")
@_project_option
@_env_option
def watch(
    path: Path,
    runtime_url: str | None,
    fmt: str,
    dry_run: bool,
    interval: float,
    prune: bool,
    project_file: Path | None,
    environment: str | None,
) -> None:
    """Keep the runtime in step with PATH: at start, on every change, and every interval.

    SIGINT or SIGTERM lets the batch in flight commit, releases the lock and exits 0.
    """
    if math.isnan(interval):
        raise click.UsageError("--interval takes a number of seconds")
    source = api.ProjectSource(project_file)
    watcher = Watcher(
        path,
        _options(runtime_url, None, environment, source, path),
        dry_run=dry_run,
        interval=interval,
        prune=prune,
        policy_source=source,
    )

    def shut_down(signum: int, frame: object) -> None:
        watcher.shut_down(signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, shut_down)
    view, color = views.WATCH_VIEWS[fmt], _color()
    notify = api.notifier(watcher.options, watcher.policy_source, path, environment)

    def report(cycle: Cycle) -> None:
        click.echo(view.cycle(cycle, color), nl=False)
        sys.stdout.flush()
        if not dry_run:
            _undelivered(notify(cycle))

    stopped = watcher.run(report)
    click.echo(view.stopped(stopped), nl=False)


@click.command("calendar")
@_path_argument
@_runtime_option
@click.option(
    "--from",
    "start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="DATE",
    help="First day, YYYY-MM-DD [default: today in --zone].",
)
@click.option("--days", type=click.IntRange(min=1, max=3660), default=14, show_default=True)
@click.option("--zone", default="UTC", show_default=True, help="The IANA zone days are counted in.")
@_format_option(views.CALENDAR_VIEWS)
@_project_option
@_env_option
def calendar_command(
    path: Path,
    runtime_url: str | None,
    start: Any,
    days: int,
    zone: str,
    fmt: str,
    project_file: Path | None,
    environment: str | None,
) -> None:
    """The sendings the manifests would produce, per day, with clashes (a segment twice a day)
    and the windows over a frequency cap of the project file.

    Copies are shown with their source's live spec: from its manifest, else from the runtime."""
    first = start.date() if start is not None else None
    source = api.ProjectSource(project_file)
    options = _options(runtime_url, None, environment, source, path)
    loaded, cal = api.calendar(path, options, first, days, zone, source)
    if cal is None:
        click.echo(render.validation_text(loaded), nl=False)
        sys.exit(EXIT_ERROR)
    click.echo(views.CALENDAR_VIEWS[fmt](cal, _color()), nl=False)
