"""The runtime service: serve, and the token group (its tokens and plan signing key)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler import api, escape, views
from reconciler.cli.base import (
    _color,
    _format_option,
    _options,
    _runtime_option,
)
from reconciler.runtime.access import Role


@click.command()
@_runtime_option
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    envvar="RECONCILER_LISTEN",
    metavar="HOST:PORT",
    help="Where to take requests (port 0: any free one) [env RECONCILER_LISTEN].",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve https with this certificate (PEM); needs --tls-key.",
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="Its private key.")
@click.option(
    "--project",
    "project_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A project file whose frequency caps the dashboard's calendar marks.",
)
def serve(
    runtime_url: str | None,
    listen: str,
    tls_cert: str | None,
    tls_key: str | None,
    project_file: Path | None,
) -> None:
    """Serve the runtime over HTTP: the API that http(s):// runtime URLs reach, with tokens and
    roles, /healthz, /readyz and /metrics. Runs until stopped (SIGTERM lets requests finish)."""
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    tls = (tls_cert, tls_key) if tls_cert and tls_key else None

    def started(url: str) -> None:
        shown = api.shown_url(runtime_url)
        click.echo(escape.text(f"serving runtime {shown} at {url}"), err=True)

    # how long a plan the service signed is applied for: the service's to say, as apply's is
    max_age = api.parse_max_age(os.environ.get("RECONCILER_PLAN_MAX_AGE"))
    api.serve(
        _options(runtime_url),
        listen,
        tls=tls,
        max_age=max_age,
        started=started,
        project_file=project_file,
    )


@click.group()
def token() -> None:
    """The runtime service's tokens, and its plan signing key (`reconciler serve`)."""


@token.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    required=True,
    help="What the token may do: read; also write drafts and lock; also go live and have plans "
    "signed; also administer.",
)
@_runtime_option
def token_create(name: str, role: str, runtime_url: str | None) -> None:
    """Make a token NAME with ROLE: printed alone on stdout, this once."""
    secret = api.create_token(_options(runtime_url), name, Role(role))
    click.echo(secret)
    click.echo(
        escape.text(f"token {name} ({role}) created; it is shown once: keep it in a secret store"),
        err=True,
    )


@token.command("list")
@_format_option(views.TOKEN_VIEWS)
@_runtime_option
def token_list(fmt: str, runtime_url: str | None) -> None:
    """List the tokens: name, role, when made and last used (never a token itself)."""
    found = api.tokens(_options(runtime_url))
    click.echo(views.TOKEN_VIEWS[fmt](found, _color()), nl=False)


@token.command("revoke")
@click.argument("name")
@_runtime_option
def token_revoke(name: str, runtime_url: str | None) -> None:
    """Revoke the token NAME: it no longer authenticates."""
    api.revoke_token(_options(runtime_url), name)
    click.echo(escape.text(f"token {name} revoked"))


@token.command("rotate-key")
@_runtime_option
def token_rotate_key(runtime_url: str | None) -> None:
    """Make a new plan signing key for the service, and print its id (never the key); plans
    signed with the previous one are still applied for a day."""
    click.echo(api.rotate_signing_key(_options(runtime_url)))
    click.echo("plan signing key rotated: the service signs plans with it from now on", err=True)
