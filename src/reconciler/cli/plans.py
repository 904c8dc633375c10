"""The commands over manifests and plans: validate, plan (one environment or all) and apply."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import click

from reconciler import api, escape, render, views
from reconciler.cli.base import (
    DEFAULT_PATH,
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    ON_ERROR,
    _color,
    _env_option,
    _format_option,
    _now,
    _options,
    _path_argument,
    _policies_from_option,
    _project_option,
    _publish_summary,
    _runtime_option,
    _targets,
    _undelivered,
)


@click.command()
@_path_argument
@_format_option(views.VALIDATE_VIEWS)
@_project_option
def validate(path: Path, fmt: str, project_file: Path | None) -> None:
    """Parse and check the manifests under PATH (default campaigns/), the project file, and the
    policies that need no runtime (required labels, quiet hours)."""
    result = api.validate(path, api.ProjectSource(project_file), now=_now())
    click.echo(views.VALIDATE_VIEWS[fmt](result, _color()), nl=False)
    sys.exit(EXIT_OK if result.ok else EXIT_ERROR)


@click.command()
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


@click.command()
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
