"""The command line: parse, make one library call, render, choose the exit code. Nothing else."""

from __future__ import annotations

import gc
import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler import api, escape, render, views
from reconciler.cycles import Cycle
from reconciler.errors import ReconcilerError
from reconciler.runtime.access import Role
from reconciler.runtime.base import Patience
from reconciler.runtime.engine import Step
from reconciler.watch import Watcher

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
    help="The project file and its policies [env RECONCILER_PROJECT; default: reconciler.yaml in "
    "the working directory, or the nearest one above it in the git work tree].",
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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reconciler")
def cli() -> None:
    """Reconcile marketing campaigns declared as YAML manifests with a campaign runtime."""


@cli.command()
@_path_argument
@_format_option(views.VALIDATE_VIEWS)
@_project_option
def validate(path: Path, fmt: str, project_file: Path | None) -> None:
    """Parse and check the manifests under PATH (default campaigns/), the project file, and the
    policies that need no runtime (required labels, quiet hours)."""
    result = api.validate(path, api.ProjectSource(project_file), now=_now())
    click.echo(views.VALIDATE_VIEWS[fmt](result, _color()), nl=False)
    sys.exit(EXIT_OK if result.ok else EXIT_ERROR)


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


@cli.command()
@_path_argument
@_runtime_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(views.PLAN_VIEWS)),
    help="Output format [default: github when GITHUB_ACTIONS=true, else text]. With github, the "
    "markdown plan is also written to the job summary ($GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan to FILE, for `apply --plan FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are, 1 on errors.",
)
@click.option("--prune", is_flag=True, help="Stop campaigns whose manifest was removed.")
@_targets
@_project_option
@_policies_from_option
@_env_option
@click.option(
    "--all-envs",
    is_flag=True,
    help="Plan every environment of the project file, each with its runtime and overlay (for a "
    "pull request: staging and production at once).",
)
@click.option(
    "--publish",
    is_flag=True,
    help="Publish the plan to the runtime's dashboard (reconciler serve's /plans), once shown.",
)
@click.option(
    "--ref",
    metavar="REF",
    help="With --publish: what the plan is the plan of (the pull request and commit, say); it "
    "supersedes the plans published under REF before it.",
)
def plan(
    path: Path,
    runtime_url: str | None,
    fmt: str | None,
    out: Path | None,
    detailed_exitcode: bool,
    prune: bool,
    targets: tuple[str, ...],
    project_file: Path | None,
    policies_from: str | None,
    environment: str | None,
    all_envs: bool,
    publish: bool,
    ref: str | None,
) -> None:
    """Show what apply would do (a dry run: nothing is changed)."""
    source = api.ProjectSource(project_file, policies_from)
    fmt = fmt or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text")
    if ref is not None and not publish:
        raise click.UsageError("--ref names what a published plan is of: give --publish too")
    if ref == "":
        raise click.UsageError("--ref: give what the plan is of (it is empty)")
    if all_envs and publish:
        raise click.UsageError("--all-envs makes a plan per environment: --publish publishes one")
    if all_envs:
        _plan_all(path, runtime_url, fmt, out, detailed_exitcode, prune, targets, source)
    options = _options(runtime_url, None, environment, source, path)
    # the plan signing key: only the protected jobs that make and apply saved plans have it
    key = api.plan_key(os.environ.get("RECONCILER_PLAN_KEY")) if out is not None else None
    the_plan = api.plan(
        path,
        options,
        prune=prune,
        targets=targets,
        policy_source=source,
    )
    if out is not None:
        saved, note = the_plan, None
        if key is None and the_plan.ok:  # a runtime service signs with its own key
            saved, note = api.sign_by_runtime(options, the_plan)
        api.save_plan(saved, out, render.plan_json, key=key, now=options.clock())
        if note is not None:
            click.echo(escape.text(f"warning: {note}"), err=True)
    click.echo(views.PLAN_VIEWS[fmt](the_plan, _color()), nl=False)
    if (summary := views.PLAN_SUMMARIES.get(fmt)) is not None:
        _publish_summary(summary(the_plan))
    if publish:
        published = api.publish(options, the_plan, ref)
        under = f" (ref {published.ref})" if published.ref is not None else ""
        message = f"published plan {published.plan_id} as #{published.id}{under}"
        click.echo(escape.text(message), err=True)
    if not the_plan.ok:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CHANGES if detailed_exitcode and the_plan.has_changes else EXIT_OK)


def _plan_all(
    path: Path,
    runtime_url: str | None,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    prune: bool,
    targets: tuple[str, ...],
    source: api.ProjectSource,
) -> None:
    """`plan --all-envs`: each environment names its runtime, so --env and --runtime on the
    command line would contradict it ($RECONCILER_ENV and $RECONCILER_RUNTIME give way, as to
    --env); one saved plan cannot hold several."""
    ctx = click.get_current_context()
    for given, option in (("environment", "--env"), ("runtime_url", "--runtime")):
        if ctx.get_parameter_source(given) is click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError(f"--all-envs plans every environment: give no {option}")
    if out is not None:
        raise click.UsageError("--all-envs makes a plan per environment: --out saves one plan")
    plans = api.plan_all(
        path, _options(runtime_url), prune=prune, targets=targets, policy_source=source
    )
    click.echo(views.PLAN_ALL_VIEWS[fmt](plans, _color()), nl=False)
    if (summary := views.PLAN_ALL_SUMMARIES.get(fmt)) is not None:
        _publish_summary(summary(plans))
    if any(isinstance(p, str) or not p.ok for p in plans.values()):
        sys.exit(EXIT_ERROR)
    changes = any(not isinstance(p, str) and p.has_changes for p in plans.values())
    sys.exit(EXIT_CHANGES if detailed_exitcode and changes else EXIT_OK)


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@_runtime_option
@_format_option(views.APPLY_VIEWS)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply a plan saved with `plan --out FILE` instead of planning anew.",
)
@click.option("--prune", is_flag=True, help="Stop campaigns whose manifest was removed.")
@_targets
@click.option(
    "--keep-going",
    is_flag=True,
    help="After a failed operation, go on with those that do not depend on it.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0, max=86400),
    default=0.0,
    metavar="SECONDS",
    show_default=True,
    help="How long to wait for the runtime lock.",
)
@click.option("--actor", help="Who applies [default: $RECONCILER_ACTOR, $GITHUB_ACTOR, the user].")
@click.option(
    "--require-clean",
    is_flag=True,
    help="Refuse manifests with uncommitted changes (or outside git): the commit must hold them.",
)
@_project_option
@_policies_from_option
@_env_option
def apply(
    path: Path | None,
    runtime_url: str | None,
    fmt: str,
    plan_file: Path | None,
    prune: bool,
    targets: tuple[str, ...],
    keep_going: bool,
    lock_timeout: float,
    actor: str | None,
    require_clean: bool,
    project_file: Path | None,
    policies_from: str | None,
    environment: str | None,
) -> None:
    """Plan and apply the manifests under PATH (default campaigns/), or a saved plan (FILE.json).

    In GitHub Actions, the plan and what was applied also go to the job summary
    ($GITHUB_STEP_SUMMARY).
    """
    if plan_file is None and path is not None and path.suffix == ".json":
        plan_file, path = path, None  # `apply plan.json`: a saved plan, as `apply --plan` takes
    if plan_file is not None and (path is not None or prune or targets):
        raise click.UsageError(
            "--plan FILE applies a saved plan as it is: give no PATH, --prune or --target"
        )
    if math.isnan(lock_timeout):
        raise click.UsageError("--lock-timeout takes a number of seconds")
    source = api.ProjectSource(project_file, policies_from)
    options = _options(runtime_url, actor, environment, source, path or Path(DEFAULT_PATH))
    notify = api.notifier(
        options, source, path or ("." if plan_file else DEFAULT_PATH), environment
    )
    click.get_current_context().meta[ON_ERROR] = lambda exc: _undelivered(notify(exc))
    if plan_file is not None:
        max_age = api.parse_max_age(os.environ.get("RECONCILER_PLAN_MAX_AGE"))
        ledger = api.apply_saved(
            plan_file,
            options,
            key=api.plan_key(os.environ.get("RECONCILER_PLAN_KEY")),
            max_age=max_age,
            keep_going=keep_going,
            lock_timeout=lock_timeout,
            require_clean=require_clean,
            policy_source=source,
        )
    else:
        ledger = api.apply(
            path or Path(DEFAULT_PATH),
            options,
            prune=prune,
            targets=targets,
            keep_going=keep_going,
            lock_timeout=lock_timeout,
            require_clean=require_clean,
            policy_source=source,
        )
    click.echo(views.APPLY_VIEWS[fmt](ledger, _color()), nl=False)
    _publish_summary(render.apply_markdown(ledger))
    _undelivered(notify(ledger))
    sys.exit(EXIT_OK if ledger.ok else EXIT_ERROR)


@cli.command()
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


@cli.command()
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


@cli.command()
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


@cli.command("calendar")
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


@cli.command("import")
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


@cli.command()
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


@cli.group()
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


@cli.group()
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


def main() -> None:
    # A run builds tens of thousands of small, acyclic objects (one manifest and one operation per
    # campaign) and lives for seconds: with the default thresholds the cycle collector would walk
    # them all again and again. Collect less often, as mypy does.
    gc.set_threshold(100_000, 50, 100)
    cli(prog_name="reconciler")
