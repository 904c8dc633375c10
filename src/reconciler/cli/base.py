"""The command line's shared parts: the one top-level handler and its exit codes, and the
options, arguments and helpers every command group uses."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler import api, escape
from reconciler.errors import ReconcilerError
from reconciler.runtime.base import Patience

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_PATH = "campaigns"
#: what a command does, besides saying it, when it ends with an expected error (ctx.meta)
ON_ERROR = "reconciler.on_error"
F = TypeVar("F", bound=Callable[..., Any])


def _exit_1(exc: click.UsageError) -> click.UsageError:
    """A command-line mistake exits 1: click's 2 means "changes" under --detailed-exitcode."""
    exc.exit_code = EXIT_ERROR  # type: ignore[misc]
    return exc


class _Group(click.Group):
    """One top-level handler: expected errors are one line and exit 1, bugs get a traceback."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _exit_1(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReconcilerError as exc:
            # the message may quote a file name or the runtime's bytes: one line, nothing raw
            click.echo(f"error: {escape.text(str(exc))}", err=True)
            if (failed := ctx.meta.get(ON_ERROR)) is not None:
                failed(exc)
            ctx.exit(EXIT_ERROR)
        except (KeyboardInterrupt, click.Abort):
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except click.UsageError as exc:
            raise _exit_1(exc) from None
        except (click.exceptions.Exit, click.ClickException):
            raise
        except Exception:
            trace = traceback.format_exc().splitlines()
            click.echo("".join(f"{escape.text(line)}\n" for line in trace), err=True, nl=False)
            click.echo("reconciler hit a bug (the traceback above); please report it", err=True)
            ctx.exit(EXIT_BUG)


def _runtime_option(f: F) -> F:
    def remember(ctx: click.Context, param: click.Parameter, value: float | None) -> None:
        ctx.meta["connect_timeout"] = value  # read by _options, as every command opens there

    connect = click.option(
        "--connect-timeout",
        type=click.FloatRange(min=1, max=3600),
        envvar="RECONCILER_CONNECT_TIMEOUT",
        metavar="SECONDS",
        expose_value=False,
        callback=remember,
        help="Give up reaching a runtime over the network after this long "
        "[env RECONCILER_CONNECT_TIMEOUT; default 10].",
    )

    def token_file(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:  # read by the http(s):// runtime where it opens (runtime/http.py)
            os.environ["RECONCILER_TOKEN_FILE"] = value

    token = click.option(
        "--token-file",
        type=click.Path(dir_okay=False),
        expose_value=False,
        callback=token_file,
        metavar="FILE",
        help="Read the token for an http(s):// runtime from FILE [default: $RECONCILER_TOKEN].",
    )
    return token(
        connect(
            click.option(
                "--runtime",
                "runtime_url",
                envvar="RECONCILER_RUNTIME",
                metavar="URL",
                help="Runtime URL [env RECONCILER_RUNTIME; default "
                "sqlite:///.reconciler/runtime.db].",
            )(f)
        )
    )


def _format_option(table: Mapping[str, object]) -> Callable[[F], F]:
    """--format, its choices the command's table of views (in ``views``)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(table)),
        default="text",
        show_default=True,
        help="Output format.",
    )


_path_argument = click.argument("path", default=DEFAULT_PATH, type=click.Path(path_type=Path))
_project_option = click.option(
    "--project",
    "project_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="RECONCILER_PROJECT",
    metavar="FILE",
    help="The project file: its policies and environments [env RECONCILER_PROJECT; default: "
    "reconciler.yaml in the manifests' folder or the nearest one above it, up to the top of the "
    "git work tree].",
)
_env_option = click.option(
    "--env",
    "environment",
    envvar="RECONCILER_ENV",
    metavar="NAME",
    help="An environment of the project file: its runtime (which --runtime may not name too) and "
    "its overlay [env RECONCILER_ENV].",
)
_policies_from_option = click.option(
    "--policies-from",
    metavar="REF",
    help="Judge the plan by the policies of the project file at this git commit (in CI, the base "
    "branch), not by the ones the change brings.",
)


def _targets(f: F) -> F:
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="NAME",
        help="Limit the run to this campaign (and what it is copied from); repeatable.",
    )(f)


def _now() -> datetime | None:
    """The moment taken as now, when $RECONCILER_NOW pins it."""
    now = os.environ.get("RECONCILER_NOW")
    return api.parse_since(now, "RECONCILER_NOW") if now else None


def _options(
    runtime_url: str | None,
    actor: str | None = None,
    environment: str | None = None,
    source: api.ProjectSource | None = None,
    path: Path = Path(DEFAULT_PATH),
) -> api.Options:
    """The runtime options of a command; with ``environment`` (--env), that environment's
    runtime, which takes precedence over $RECONCILER_RUNTIME, and with which --runtime is
    refused: the one would silently win over the other."""
    ctx = click.get_current_context()
    options = api.Options(
        runtime_url,
        actor,
        _now(),
        Patience(
            waiting=lambda message: click.echo(escape.text(message), err=True),
            connect_seconds=ctx.meta.get("connect_timeout"),
        ),
    )
    if environment is None:
        return options
    if ctx.get_parameter_source("runtime_url") is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--runtime and --env name a runtime each: give one of them")
    return api.in_environment(options, environment, source, path)


def _color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _undelivered(deliveries: list[api.Delivery]) -> None:
    """A notification not delivered is a warning: what the command did stands, as its exit."""
    for d in deliveries:
        if not d.delivered:
            message = f"warning: notification {d.name} ({d.place}) not delivered: {d.detail}"
            click.echo(escape.text(message), err=True)


def _publish_summary(markdown: str) -> None:
    """In GitHub Actions (GITHUB_STEP_SUMMARY set), the job's summary page gets ``markdown``
    too: from `plan --format github` and from `apply` only, so a workflow that plans in several
    formats shows its plan once."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
