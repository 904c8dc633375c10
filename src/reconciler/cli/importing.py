"""The command that adopts campaigns made outside the reconciler: import."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler import api, views
from reconciler.cli.base import (
    DEFAULT_PATH,
    EXIT_ERROR,
    EXIT_OK,
    _color,
    _format_option,
    _options,
    _runtime_option,
)


@click.command("import")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "everything", is_flag=True, help="Every campaign the runtime has unmanaged.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=api.IMPORT_DIR,
    show_default=True,
    help="Where to write NAME.yaml.",
)
@click.option("--force", is_flag=True, help="Overwrite a file that exists.")
@click.option(
    "--path",
    "path",
    type=click.Path(path_type=Path),
    default=DEFAULT_PATH,
    show_default=True,
    help="The manifests: a campaign that has one there is skipped.",
)
@_format_option(views.IMPORT_VIEWS)
@_runtime_option
def import_command(
    names: tuple[str, ...],
    everything: bool,
    out: Path,
    force: bool,
    path: Path,
    fmt: str,
    runtime_url: str | None,
) -> None:
    """Write a manifest for each campaign made outside the reconciler (NAME..., or --all):
    OUT/NAME.yaml, which the next plan adopts. Managed campaigns are never imported."""
    if not names and not everything:
        raise click.UsageError("name the campaigns to import, or give --all")
    imported = api.import_campaigns(
        _options(runtime_url), path, names, all=everything, out=out, force=force
    )
    click.echo(views.IMPORT_VIEWS[fmt](imported, _color()), nl=False)
    sys.exit(EXIT_OK if imported.ok else EXIT_ERROR)
