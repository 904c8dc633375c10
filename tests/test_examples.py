"""The ready-made CI in examples/ and .pre-commit-hooks.yaml: every file parses and has the shape
its CI expects, every `reconciler ...` command in them exists on the real command line, and the
workflows' commands, run in order in a git repository, do what the README says they do."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import cli

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PLAN_YML = EXAMPLES / "github-actions" / "plan.yml"
APPLY_YML = EXAMPLES / "github-actions" / "apply.yml"
SAVED_YML = EXAMPLES / "github-actions" / "apply-saved-plan.yml"
ENVS_YML = EXAMPLES / "github-actions" / "environments.yml"
GITLAB_CI = EXAMPLES / "gitlab-ci" / ".gitlab-ci.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
RUNTIME = "sqlite:///.reconciler/runtime.db"
MARKER = "<!-- reconciler-plan -->"
SCHEMA = "campaign.schema.json"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the key `on` as True; GitHub reads it as "on"
    return workflow["on"] if "on" in workflow else workflow[True]


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


# (a) every file parses and has the shape its CI expects


@pytest.mark.parametrize(
    "path",
    [*sorted(EXAMPLES.rglob("*.yml")), *sorted(EXAMPLES.rglob("*.yaml")), HOOKS],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_every_file_parses(path: Path) -> None:
    assert isinstance(load(path), dict | list)


def test_the_examples_are_the_ones_the_readme_names() -> None:
    found = {p.relative_to(REPO) for p in EXAMPLES.rglob("*") if p.is_file()}
    assert found == {
        p.relative_to(REPO) for p in (PLAN_YML, APPLY_YML, SAVED_YML, ENVS_YML, GITLAB_CI)
    }
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for path in found:
        assert f"({path})" in readme


def test_the_plan_workflow() -> None:
    workflow = load(PLAN_YML)
    assert set(workflow) >= {"name", "jobs"}
    assert triggers(workflow) == {"pull_request": {"paths": ["campaigns/**", "reconciler.yaml"]}}
    assert workflow["permissions"]["pull-requests"] == "write"
    uses = [step["uses"].split("@")[0] for step in steps(workflow) if "uses" in step]
    assert uses == [
        "actions/checkout",
        "actions/setup-python",
        "actions/github-script",
        "actions/upload-artifact",
    ]
    setup, comment, upload = (
        next(s for s in steps(workflow) if s.get("uses", "").startswith(a))
        for a in ("actions/setup-python", "actions/github-script", "actions/upload-artifact")
    )
    assert setup["with"]["python-version"] == "3.11"
    script = comment["with"]["script"]
    assert MARKER in script
    assert "updateComment" in script and "createComment" in script
    assert "plan.json" in upload["with"]["path"]
    runs = "\n".join(s["run"] for s in steps(workflow) if "run" in s)
    assert "pip install '.[postgresql,http]'" in runs  # the shared runtimes' drivers too
    assert "--detailed-exitcode" in runs and "--format github" in runs
    # judged by the base branch's policies, which the job fetches first
    plans = [line for line in runs.splitlines() if line.strip().startswith("reconciler plan")]
    assert len(plans) == 2
    assert all('--policies-from "origin/$GITHUB_BASE_REF"' in line for line in plans)
    assert "refs/remotes/origin/$GITHUB_BASE_REF" in runs


ON_MAIN = ["campaigns/**", "reconciler.yaml"]  # a change to the policies is applied as well


def test_the_apply_workflow() -> None:
    workflow = load(APPLY_YML)
    assert set(workflow) >= {"name", "jobs"}
    assert triggers(workflow) == {
        "push": {"branches": ["main"], "paths": ["campaigns/**", "reconciler.yaml"]}
    }
    assert workflow["concurrency"]["group"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    (job,) = workflow["jobs"].values()
    assert job["env"]["RECONCILER_RUNTIME"] == "${{ secrets.RECONCILER_RUNTIME }}"
    upload = next(
        s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")
    )
    assert upload["if"] == "${{ always() }}"
    assert upload["with"]["path"] == "apply.json"


def test_the_saved_plan_workflow() -> None:
    """Plan and sign in one protected environment, apply that file in another, after approval;
    the key is an environment secret of those two jobs, and of no other workflow."""
    workflow = load(SAVED_YML)
    assert triggers(workflow) == {
        "push": {"branches": ["main"], "paths": ["campaigns/**", "reconciler.yaml"]}
    }
    assert workflow["concurrency"]["cancel-in-progress"] is False
    plan, apply = workflow["jobs"]["plan"], workflow["jobs"]["apply"]
    assert (plan["environment"], apply["environment"]) == ("campaigns-plan", "campaigns")
    assert apply["needs"] == "plan"
    for job in (plan, apply):
        assert job["env"]["RECONCILER_PLAN_KEY"] == "${{ secrets.RECONCILER_PLAN_KEY }}"
    upload = next(s for s in plan["steps"] if s.get("uses", "").startswith("actions/upload-"))
    download = next(s for s in apply["steps"] if s.get("uses", "").startswith("actions/download"))
    assert upload["with"]["name"] == download["with"]["name"]
    assert "plan.json" in upload["with"]["path"]
    for other in (PLAN_YML, APPLY_YML, ENVS_YML, GITLAB_CI):
        text = other.read_text(encoding="utf-8")
        assert "secrets.RECONCILER_PLAN_KEY" not in text
        assert "RECONCILER_PLAN_KEY:" not in text


def test_the_environments_workflow() -> None:
    """On a merge: staging, then production behind its environment's approval; each job holds
    its own environment's runtime variable and token, bound to its runtime outside the
    repository (RECONCILER_TOKEN_FOR)."""
    workflow = load(ENVS_YML)
    assert triggers(workflow) == {
        "push": {
            "branches": ["main"],
            "paths": ["campaigns/**", "environments/**", "reconciler.yaml"],
        }
    }
    assert workflow["concurrency"]["cancel-in-progress"] is False
    staging, production = workflow["jobs"]["staging"], workflow["jobs"]["production"]
    assert list(workflow["jobs"]) == ["staging", "production"]
    assert (staging["environment"], production["environment"]) == ("staging", "production")
    assert "needs" not in staging and production["needs"] == "staging"
    for job, variable in ((staging, "STAGING_RUNTIME"), (production, "PRODUCTION_RUNTIME")):
        promotion = (
            {"STAGING_RUNTIME": "${{ secrets.STAGING_RUNTIME_READ_ONLY }}"}
            if job is production  # promotion reads staging, and only reads it
            else {}
        )
        assert job["env"] == {
            variable: f"${{{{ secrets.{variable} }}}}",
            **promotion,
            "RECONCILER_TOKEN": APPLY_TOKEN,
            "RECONCILER_TOKEN_FOR": "${{ vars.RECONCILER_TOKEN_FOR }}",
        }
        upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-"))
        assert upload["if"] == "${{ always() }}"
    # the project file of the README's "Environments" names these two variables
    text = ENVS_YML.read_text(encoding="utf-8")
    assert "RECONCILER_RUNTIME" not in text and "RECONCILER_TOKEN_PLAN" not in text
    assert (
        'reconciler plan --all-envs --policies-from "origin/$GITHUB_BASE_REF" --format markdown'
        in text
    )
    # the pull request's variant, in a comment: a command the real command line takes
    commented = [
        line.lstrip("# ").rstrip(" \\")
        for line in text.splitlines()
        if line.lstrip("# ").startswith("reconciler plan --all-envs")
    ]
    assert len(commented) == 1
    (args,) = invocations(commented[0])
    assert problems(args) == []


PLAN_TOKEN = "${{ secrets.RECONCILER_TOKEN_PLAN }}"
APPLY_TOKEN = "${{ secrets.RECONCILER_TOKEN_APPLY }}"


def test_the_workflows_token_for_a_runtime_service() -> None:
    """With an https:// runtime, pull requests plan with a viewer's token, and only the jobs on
    main hold an approver's, which may apply and have plans signed."""
    (plan,) = load(PLAN_YML)["jobs"].values()
    assert plan["env"]["RECONCILER_TOKEN"] == PLAN_TOKEN
    assert "RECONCILER_TOKEN_APPLY" not in PLAN_YML.read_text(encoding="utf-8")
    (apply,) = load(APPLY_YML)["jobs"].values()
    assert apply["env"]["RECONCILER_TOKEN"] == APPLY_TOKEN
    for job in load(SAVED_YML)["jobs"].values():
        assert job["env"]["RECONCILER_TOKEN"] == APPLY_TOKEN
    for path in (APPLY_YML, SAVED_YML):
        assert "RECONCILER_TOKEN_PLAN" not in path.read_text(encoding="utf-8")
    for path in (PLAN_YML, APPLY_YML, SAVED_YML):
        runs = "\n".join(s["run"] for s in steps(load(path)) if "run" in s)
        assert "pip install '.[postgresql,http]'" in runs
    jobs = load(GITLAB_CI)
    assert (
        'export RECONCILER_TOKEN="${RECONCILER_TOKEN_PLAN:-}"' in jobs["reconciler-plan"]["script"]
    )
    assert (
        'export RECONCILER_TOKEN="${RECONCILER_TOKEN_APPLY:-}"'
        in jobs["reconciler-apply"]["script"]
    )


def test_the_gitlab_pipeline() -> None:
    pipeline = load(GITLAB_CI)
    jobs = {name: job for name, job in pipeline.items() if not name.startswith(".")}
    assert set(jobs) == {"reconciler-plan", "reconciler-apply"}
    plan, apply = jobs["reconciler-plan"], jobs["reconciler-apply"]
    assert 'merge_request_event"' in plan["rules"][0]["if"]
    assert plan["rules"][0]["changes"] == ["campaigns/**/*", "reconciler.yaml"]
    assert any(
        '--policies-from "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"' in line
        for line in plan["script"]
    )
    assert set(plan["artifacts"]["paths"]) == {"plan.json", "plan.md"}
    assert plan["artifacts"]["when"] == "always"
    assert any(MARKER in line and "RECONCILER_GITLAB_TOKEN" in line for line in plan["script"])
    assert "$CI_DEFAULT_BRANCH" in apply["rules"][0]["if"]
    assert apply["resource_group"]
    assert apply["artifacts"] == {"when": "always", "paths": ["apply.json"]}


def test_the_pre_commit_hook() -> None:
    (hook,) = load(HOOKS)
    assert hook["id"] == "reconciler-validate"
    assert hook["entry"] == "reconciler validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("campaigns/newsletters/weekly-digest.yaml")
    assert files.search("campaigns/a.yml")
    assert not files.search("schema/campaign.schema.json")
    assert not files.search("examples/gitlab-ci/.gitlab-ci.yml")


# (b) every `reconciler ...` command in them exists on the real command line


def scripts(path: Path) -> Iterator[str]:
    data = load(path)
    if path == HOOKS:
        yield from (hook["entry"] for hook in data)
    elif path == GITLAB_CI:
        for job in data.values():
            for key in ("before_script", "script", "after_script"):
                yield from job.get(key, [])
    else:
        yield from (step["run"] for step in steps(data) if "run" in step)


def invocations(script: str) -> list[list[str]]:
    """The arguments of each `reconciler` command in a shell script (heredoc bodies skipped)."""
    found, heredoc_end = [], None
    for line in script.replace("\\\n", " ").splitlines():
        if heredoc_end is not None:
            heredoc_end = None if line.strip() == heredoc_end else heredoc_end
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token == "<<" and i + 1 < len(tokens):
                heredoc_end = tokens[i + 1]
            if token != "reconciler":
                continue
            args = []
            for arg in tokens[i + 1 :]:
                if set(arg) <= set("();<>|&"):  # an operator or a redirection ends the command
                    break
                args.append(arg)
            found.append(args)
    return found


def command_line(path: Path) -> list[list[str]]:
    return [args for script in scripts(path) for args in invocations(script)]


def problems(args: list[str]) -> list[str]:
    """What the real CLI would not accept in `reconciler ARGS`; [] when it parses."""
    name, rest = args[0], args[1:]
    command = cli.commands.get(name)
    if command is None:
        return [f"no command {name!r}"]
    options = {
        opt: param
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
    }
    found, positional, i = [], 0, 0
    while i < len(rest):
        flag, eq, value = rest[i].partition("=")
        if not flag.startswith("-"):
            positional += 1
        elif flag not in options:
            found.append(f"`{name}` has no option {flag}")
        elif not options[flag].is_flag:
            if not eq:
                i += 1
                value = rest[i] if i < len(rest) else ""
            kind = options[flag].type
            if isinstance(kind, click.Choice) and value not in kind.choices:
                found.append(f"`{name} {flag}` takes {list(kind.choices)}, not {value!r}")
        i += 1
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    if positional > sum(max(p.nargs, 1) for p in arguments):
        found.append(f"`{name}` takes at most {len(arguments)} argument(s): {rest}")
    if not found:
        try:  # and the real parser takes it as a whole
            command.make_context(name, list(rest))
        except click.ClickException as exc:
            found.append(f"`{name}`: {exc.format_message()}")
    return found


ALL_INVOCATIONS = [
    pytest.param(args, id=f"{path.name}: reconciler {' '.join(args)}")
    for path in (PLAN_YML, APPLY_YML, SAVED_YML, ENVS_YML, GITLAB_CI, HOOKS)
    for args in command_line(path)
]


@pytest.mark.parametrize("args", ALL_INVOCATIONS)
def test_the_command_exists(args: list[str]) -> None:
    assert problems(args) == []


def test_the_commands_are_all_found() -> None:
    """The extraction above misses nothing: each workflow runs the commands the README describes."""
    plan = command_line(PLAN_YML)
    assert [a[0] for a in plan] == ["validate", "plan", "plan"]
    base = ["--policies-from", "origin/$GITHUB_BASE_REF"]
    assert ["plan", *base, "--format", "markdown", "--out", "plan.json", "--detailed-exitcode"] in (
        plan
    )
    assert ["plan", *base, "--format", "github"] in plan
    (apply,) = command_line(APPLY_YML)
    assert apply[0] == "apply"
    assert {"--require-clean", "--lock-timeout", "--actor", "--format"} <= set(apply)
    assert command_line(SAVED_YML) == [
        ["plan", "--format", "markdown", "--out", "plan.json"],
        ["apply", "--plan", "plan.json", "--require-clean", "--lock-timeout", "300", "--actor",
         "$GITHUB_ACTOR", "--format", "json"],
    ]  # fmt: skip
    apply_flags = ["--require-clean", "--lock-timeout", "300", "--actor", "$GITHUB_ACTOR"]
    assert command_line(ENVS_YML) == [
        ["apply", "--env", "staging", *apply_flags, "--format", "json"],
        ["apply", "--env", "production", *apply_flags, "--format", "json"],
    ]
    assert [a[0] for a in command_line(GITLAB_CI)] == ["validate", "plan", "apply"]
    assert command_line(HOOKS) == [["validate"]]


def test_the_checker_catches_mistakes() -> None:
    assert problems(["plan", "--format", "markdown", "--out", "plan.json"]) == []
    assert problems(["plan", "--no-such-flag"]) == ["`plan` has no option --no-such-flag"]
    assert problems(["plan", "--format", "html"])
    assert problems(["validate", "--prune"])
    assert problems(["apply", "--lock-timeout", "soon"])
    assert problems(["deploy"]) == ["no command 'deploy'"]
    assert invocations("env -u X reconciler plan --format github || [ $? -eq 1 ]") == [
        ["plan", "--format", "github"]
    ]
    assert invocations("reconciler apply \\\n  --format json > apply.json") == [
        ["apply", "--format", "json"]
    ]


# (c) the workflows' commands, run in order in a git repository


def clean_env(**extra: str) -> dict[str, str]:
    ours = {"RECONCILER_RUNTIME", "RECONCILER_ACTOR", "NO_COLOR", "RECONCILER_NOW"}
    ours |= {"RECONCILER_PLAN_KEY", "RECONCILER_PLAN_MAX_AGE"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_") and k not in ours}
    # no user's or machine's git configuration
    env |= {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return env | extra


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-c", "user.name=CI", "-c", "user.email=ci@example.com", *args],
        cwd=repo,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def reconciler(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=repo,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def history(repo: Path) -> list[dict[str, Any]]:
    shown = reconciler(repo, "history", "--format", "json", "--runtime", RUNTIME)
    assert shown.returncode == 0, shown.stderr
    entries: list[dict[str, Any]] = json.loads(shown.stdout)["history"]
    return entries


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A campaigns repository: this repository's campaigns/, committed."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "campaigns-repo"
    shutil.copytree(REPO / "campaigns", repo / "campaigns")
    shutil.copy(REPO / "reconciler.yaml", repo)
    (repo / ".gitignore").write_text(".reconciler/\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "campaigns")
    return repo


@pytest.mark.slow  # starts processes
def test_the_pull_request_flow(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    validated = reconciler(repo, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr

    # plan.yml's plan step, as it is in the workflow: exit 2 means there are changes
    base = ["--policies-from", "origin/$GITHUB_BASE_REF"]
    step = ["plan", *base, "--format", "markdown", "--out", "plan.json", "--detailed-exitcode"]
    assert step in command_line(PLAN_YML)
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")  # what the workflow fetches
    run = [arg.replace("$GITHUB_BASE_REF", "main") for arg in step]
    planned = reconciler(repo, *run, "--runtime", RUNTIME)
    assert planned.returncode == 2, planned.stdout + planned.stderr
    markdown = planned.stdout
    assert markdown.startswith("#")
    saved = json.loads((repo / "plan.json").read_text())
    counts = saved["summary"]
    assert counts["errors"] == 0
    changes = {action: n for action, n in counts.items() if action not in {"unchanged", "errors"}}
    assert sum(changes.values()) == len(saved["operations"]) > 0
    for action, n in changes.items():
        if n:
            assert f"{n} to {action}" in markdown
    assert f"{counts['unchanged']} unchanged" in markdown

    # after the merge: apply exactly that saved plan
    applied = reconciler(
        repo, "apply", "--plan", "plan.json", "--actor", "ci-bot", "--runtime", RUNTIME
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr

    entries = history(repo)
    assert {e["campaign"] for e in entries} == {op["campaign"] for op in saved["operations"]}
    assert {e["commit"] for e in entries} == {head}
    assert {e["actor"] for e in entries} == {"ci-bot"}
    assert {e["dirty"] for e in entries} == {False}  # plan.json beside campaigns/ does not count

    again = reconciler(repo, "plan", "--detailed-exitcode", "--runtime", RUNTIME)
    assert again.returncode == 0, again.stdout + again.stderr


def apply_step(repo: Path, actor: str) -> subprocess.CompletedProcess[str]:
    """apply.yml's apply step, its script as it is in the workflow, run by bash as GitHub does."""
    (step,) = (s for s in steps(load(APPLY_YML)) if "reconciler apply" in s.get("run", ""))
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=repo,
        env=clean_env(PATH=path, GITHUB_ACTOR=actor, RECONCILER_RUNTIME=RUNTIME),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow  # starts processes
def test_the_merge_flow(repo: Path) -> None:
    if shutil.which("reconciler", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the reconciler script is not installed beside this Python")
    head = git(repo, "rev-parse", "HEAD")
    applied = apply_step(repo, "merger")
    assert applied.returncode == 0, applied.stderr
    report = json.loads((repo / "apply.json").read_text())
    assert report["summary"]["done"] == len(report["plan"]["operations"]) > 0
    assert {e["outcome"] for e in report["ledger"]} == {"done"}
    entries = history(repo)
    assert {(e["commit"], e["actor"]) for e in entries} == {(head, "merger")}

    # --require-clean: a manifest that differs from the commit applies nothing
    digest = repo / "campaigns" / "newsletters" / "weekly-digest.yaml"
    text = digest.read_text()
    digest.write_text(text.replace("This week at Northwind", "Uncommitted"))
    assert digest.read_text() != text
    refused = apply_step(repo, "merger")
    assert refused.returncode == 1
    assert "--require-clean" in refused.stderr
    assert history(repo) == entries


def saved_plan_step(repo: Path, job: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A `reconciler` step of apply-saved-plan.yml's job, its script as it is, run by bash."""
    (step,) = (
        s for s in load(SAVED_YML)["jobs"][job]["steps"] if "reconciler " in s.get("run", "")
    )
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=repo,
        env=clean_env(PATH=path, RECONCILER_RUNTIME=RUNTIME, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow  # starts processes
def test_the_saved_plan_flow(repo: Path) -> None:
    if shutil.which("reconciler", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the reconciler script is not installed beside this Python")
    key = "9c" * 32
    planned = saved_plan_step(repo, "plan", RECONCILER_PLAN_KEY=key)
    assert planned.returncode == 0, planned.stderr
    saved = json.loads((repo / "plan.json").read_text())
    assert saved["signature"]["algorithm"] == "hmac-sha256"
    assert key not in (repo / "plan.json").read_text() + planned.stdout + planned.stderr

    # the approval comes; then the apply job, with the key, applies that file
    applied = saved_plan_step(repo, "apply", RECONCILER_PLAN_KEY=key, GITHUB_ACTOR="approver")
    assert applied.returncode == 0, applied.stderr
    report = json.loads((repo / "apply.json").read_text())
    assert report["summary"]["done"] == len(saved["operations"]) > 0
    assert report["already_applied"] is None
    assert {e["actor"] for e in history(repo)} == {"approver"}

    # the job run again: nothing is done twice, and it is no failure
    again = saved_plan_step(repo, "apply", RECONCILER_PLAN_KEY=key, GITHUB_ACTOR="approver")
    assert again.returncode == 0, again.stderr
    assert json.loads((repo / "apply.json").read_text())["already_applied"]["actor"] == "approver"

    # an apply job without the key refuses a signed plan: it fails closed
    keyless = saved_plan_step(repo, "apply", GITHUB_ACTOR="approver")
    assert keyless.returncode == 1
    assert "no plan key is set here (RECONCILER_PLAN_KEY)" in keyless.stderr


def test_the_readme_editor_snippets_point_at_the_schema(repo: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    schema_id = json.loads((REPO / "schema" / SCHEMA).read_text())["$id"]
    assert f"# yaml-language-server: $schema={schema_id}\n" in readme
    relative = "../../schema/campaign.schema.json"
    assert f"# yaml-language-server: $schema={relative}\n" in readme
    digest = Path("campaigns/newsletters/weekly-digest.yaml")
    assert Path(os.path.normpath(REPO / digest.parent / relative)) == REPO / "schema" / SCHEMA
    assert (
        '"./schema/campaign.schema.json": ["campaigns/**/*.yaml", "campaigns/**/*.yml"]' in readme
    )
    assert '"./schema/project.schema.json": ["reconciler.yaml"]' in readme
    modeline = "# yaml-language-server: $schema=./schema/project.schema.json\n"
    assert (REPO / "reconciler.yaml").read_text().startswith(modeline)
    assert (REPO / "schema/project.schema.json").is_file()

    # a manifest that starts with the comment is still a valid manifest
    manifest = repo / digest
    manifest.write_text(f"# yaml-language-server: $schema={relative}\n" + manifest.read_text())
    validated = reconciler(repo, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr


# (d) the example repository's policies, which its campaigns satisfy


@pytest.mark.parametrize(
    "now",
    [
        "2026-11-27T12:00:00Z",  # the README's
        "2026-12-28T03:00:00Z",  # in the year-end freeze, at night
        "2027-03-28T01:30:00Z",  # a change to summer time in Europe
    ],
)
def test_the_example_campaigns_satisfy_the_example_policies(
    now: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validated, planned into an empty runtime, applied, and their calendar: no policy objects
    (the freeze holds changes to what runs, and the campaigns are all new)."""
    shutil.copytree(REPO / "campaigns", tmp_path / "campaigns")
    shutil.copy(REPO / "reconciler.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECONCILER_NOW", now)
    runtime = ["--runtime", f"sqlite:///{tmp_path}/runtime.db"]
    validated = CliRunner().invoke(cli, ["validate"])
    assert validated.output == "Valid: 11 campaigns in 9 files.\n"
    planned = CliRunner().invoke(cli, ["plan", "--format", "json", *runtime])
    assert planned.exit_code == 0, planned.output
    document = json.loads(planned.output)
    assert (document["errors"], document["summary"]["errors"]) == ([], 0)
    assert [w for w in document["warnings"] if "policy" in w] == []
    assert CliRunner().invoke(cli, ["apply", *runtime]).exit_code == 0
    calendar = CliRunner().invoke(cli, ["calendar", "--days", "60", "--format", "json", *runtime])
    assert json.loads(calendar.output)["capped"] == []
