"""The command line: parse, make one library call, render, choose the exit code. Nothing else."""

from __future__ import annotations

import gc

import click

from reconciler.cli.base import (
    DEFAULT_PATH,
    EXIT_BUG,
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ON_ERROR,
    _Group,
)
from reconciler.cli.importing import import_command
from reconciler.cli.plans import apply, plan, validate
from reconciler.cli.reading import calendar_command, history, status, watch
from reconciler.cli.runtime import runtime
from reconciler.cli.service import serve, token

__all__ = [
    "DEFAULT_PATH",
    "EXIT_BUG",
    "EXIT_CHANGES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "ON_ERROR",
    "cli",
    "main",
]


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reconciler")
def cli() -> None:
    """Reconcile marketing campaigns declared as YAML manifests with a campaign runtime."""


# each command group's module defines its commands; the top-level group gathers them here
for command in (validate, plan, apply, status, history, watch, calendar_command, import_command):
    cli.add_command(command)
for group in (serve, runtime, token):
    cli.add_command(group)


def main() -> None:
    # A run builds tens of thousands of small, acyclic objects (one manifest and one operation per
    # campaign) and lives for seconds: with the default thresholds the cycle collector would walk
    # them all again and again. Collect less often, as mypy does.
    gc.set_threshold(100_000, 50, 100)
    cli(prog_name="reconciler")
