"""The project file, ``reconciler.yaml``: what is about the whole repository rather than one
campaign. For now its policies (:mod:`reconciler.policies` checks them).

The file is optional. It is found at the repository's root: in the manifests' folder or the
nearest one above it that has it, up to the top of the git work tree (outside git, up to the
working directory), so that ``reconciler plan other/repo/campaigns`` is judged by that
repository's policies; or it is named with ``--project``.

It is read as a manifest is (only plain YAML data, no duplicate keys, a bounded size), checked
against ``schema/project.schema.json`` and the rules a schema cannot say (time zones, a freeze
that ends after it starts, names used once), every error at ``file:line:col``.

A pull request can edit this file too, so it is data only: nothing in it runs, names a secret or
reaches the network.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reconciler import documents, provenance
from reconciler.errors import Diagnostic
from reconciler.model import Action
from reconciler.validation import Problem, checker, clip, known_zone, show

__all__ = [
    "FILE_NAME",
    "Freeze",
    "FrequencyCap",
    "Policies",
    "Project",
    "QuietHours",
    "Selector",
    "at_ref",
    "locate",
    "parse",
    "read",
    "shown",
]

FILE_NAME = "reconciler.yaml"
MAX_BYTES = 1024 * 1024
#: what a freeze freezes unless it says: going live, and changing what is live. Never a stop (how
#: an emergency ends a campaign), nor draft work
DEFAULT_FREEZE_ACTIONS = frozenset({Action.ACTIVATE, Action.REPLACE, Action.RESUME, Action.COPY})
OUTBOUND = frozenset({"email", "sms", "push"})
_WHAT = "a Project file (apiVersion: reconciler/v1, kind: Project)"


@dataclass(frozen=True)
class Selector:
    """The campaigns whose manifests carry every one of ``labels``."""

    labels: Mapping[str, str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.labels.items())

    def describe(self) -> str:
        return ", ".join(f"{key}: {value}" for key, value in sorted(self.labels.items()))


@dataclass(frozen=True)
class Freeze:
    name: str
    line: int
    start: datetime  # aware
    end: datetime
    actions: frozenset[Action] = DEFAULT_FREEZE_ACTIONS
    campaigns: Selector | None = None  # None: every campaign
    exempt: Selector | None = None


@dataclass(frozen=True)
class QuietHours:
    name: str
    line: int
    start: time
    end: time
    channels: frozenset[str] = OUTBOUND

    def quiet(self, wall: time) -> bool:
        """Whether a sending at this wall-clock time falls in ``[start, end)`` (across midnight
        when ``end`` comes first)."""
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


@dataclass(frozen=True)
class FrequencyCap:
    name: str
    line: int
    max: int
    per: str  # "day" or "week"
    channels: frozenset[str] = OUTBOUND
    segments: tuple[str, ...] = ("*",)


@dataclass(frozen=True)
class Policies:
    """The policies of one project file (none at all when there is no file)."""

    file: str | None = None
    timezone: str = "UTC"
    freezes: tuple[Freeze, ...] = ()
    quiet_hours: tuple[QuietHours, ...] = ()
    caps: tuple[FrequencyCap, ...] = ()
    required_labels: tuple[str, ...] = ()
    required_line: int | None = None
    #: ``policies:`` as written, for showing what a change to it changes
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def place(self, line: int | None) -> str:
        """'reconciler.yaml:12': where a policy is written, as messages name it."""
        return f"{self.file}:{line}" if line is not None else str(self.file)


NONE = Policies()

#: what may happen to a run, for notifications to be sent about
EVENTS = ("applied", "failed", "refused", "drift", "frozen")
#: the variables a project file never names: the credentials of the job that reads it
FORBIDDEN_VARIABLES = frozenset(
    {"RECONCILER_TOKEN", "RECONCILER_TOKEN_FILE", "RECONCILER_PLAN_KEY"}
)


@dataclass(frozen=True)
class Environment:
    """Where the manifests go: a runtime, named by an environment variable (set outside the
    repository), and an overlay of patches."""

    name: str
    line: int
    runtime: str  # the variable's name: STAGING_RUNTIME for ${STAGING_RUNTIME}
    overlay: str | None = None  # a folder, relative to the project file's
    promotion_from: str | None = None  # the environment a version must have been live in first


@dataclass(frozen=True)
class Notification:
    """Where to say what happened: a URL named by an environment variable."""

    line: int
    url: str  # the variable's name
    format: str = "json"  # "json" or "slack"
    events: frozenset[str] = frozenset(EVENTS)
    environments: tuple[str, ...] | None = None  # None: every one, and runs without --env

    def wants(self, event: str, environment: str | None) -> bool:
        if event not in self.events:
            return False
        return self.environments is None or environment in self.environments


@dataclass(frozen=True)
class Project:
    """A project file as read: its policies, environments and notifications, or what is wrong
    with it (``file`` None: there is none, which is no error)."""

    file: str | None = None
    policies: Policies = NONE
    diagnostics: tuple[Diagnostic, ...] = ()
    #: the file's bytes, None when there is none: two projects are the same file when equal
    text: bytes | None = None
    environments: Mapping[str, Environment] = field(default_factory=dict)
    notifications: tuple[Notification, ...] = ()
    #: the file as written, for showing what a change to it changes
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def place(self, line: int | None) -> str:
        return f"{self.file}:{line}" if line is not None else str(self.file)


# -- finding and reading -------------------------------------------------------------------------


def locate(start: Path | None = None) -> Path:
    """Where the project file is, or would be: ``reconciler.yaml`` in ``start`` (the manifests'
    folder; default the working directory) or the nearest folder above it that has one, up to the
    top of the git work tree; else at that top. Outside git the search ends at the working
    directory, or, for manifests outside it, at their folder's parent."""
    here = (start or Path.cwd()).absolute()
    top = provenance.work_tree_top(here)
    if top is None:
        cwd = Path.cwd().absolute()
        top = cwd if here.is_relative_to(cwd) else here.parent
    folder = here
    while True:
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
        if folder == top or folder.parent == folder:
            break
        folder = folder.parent
    return top / FILE_NAME


def read(target: Path, *, required: bool = False) -> Project:
    """The project file at ``target``; none when there is no such file, unless ``required``
    (named with ``--project``). One found in the repository must be a file in it: a pull request
    can make it a symbolic link, to a secret of the machine that runs the plan, whose words the
    errors would quote."""
    display = shown(target)
    if not required and (problem := _outside(target)) is not None:
        return Project(display, diagnostics=(Diagnostic(problem, display),))
    try:
        with target.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        if not required:
            return Project()
        return Project(display, diagnostics=(Diagnostic("no such project file", display),))
    except OSError as exc:
        message = f"cannot read the project file: {exc.strerror or exc}"
        return Project(display, diagnostics=(Diagnostic(message, display),))
    if len(data) > MAX_BYTES:
        message = f"the project file is over {MAX_BYTES // 1024} KiB: refused unread"
        return Project(display, diagnostics=(Diagnostic(message, display),))
    return parse(data, display)


def _outside(target: Path) -> str | None:
    """Why the project file found at ``target`` is not read, or None: it is not there, or a file
    inside the git work tree (outside git, inside its folder)."""
    if not target.is_symlink():
        return None if not target.exists() or target.is_file() else "not a file"
    real = Path(os.path.realpath(target))
    boundary = provenance.work_tree_top(target.parent) or target.parent.absolute()
    if not real.is_relative_to(os.path.realpath(boundary)):
        return "a symbolic link that leads outside the repository; the project file must be in it"
    return None if real.is_file() else "a symbolic link to something that is not a file"


def at_ref(ref: str, target: Path) -> Project | None:
    """The project file ``target`` as it is at the git commit ``ref`` (``--policies-from``);
    none when the commit has none; None when ``ref`` names no commit of its repository."""
    found = provenance.file_at(ref, target)
    if found is None:
        return None
    _, data = found
    if data is None:
        return Project()
    return parse(data, f"{shown(target)}@{ref}")  # the ref as given: "reconciler.yaml@main"


def parse(data: bytes, display: str) -> Project:
    """A project file's bytes: its policies, or every error placed at ``display:line:col``."""
    parsed = documents.parse_mapping(data, display, _WHAT)
    if isinstance(parsed, Diagnostic):
        return Project(display, diagnostics=(parsed,), text=data)
    root, document = parsed
    problems = [(p.path, p.key, p.text()) for p in _check()(document)] or [
        (where, key, Problem(where, message, key).text())  # named by its path, as the schema's
        for where, key, message in [*_semantic_problems(document), *_reference_problems(document)]
    ]
    if problems:
        found = []
        for where, key, message in problems:
            line, column = documents.place(documents.locate(root, where, key))
            found.append(Diagnostic(clip(message), display, line, column))
        found.sort(key=Diagnostic.line_column)
        return Project(display, diagnostics=tuple(found), text=data)
    return Project(
        display,
        _policies(document.get("policies") or {}, root, display),
        text=data,
        environments=_environments(document.get("environments") or {}, root),
        notifications=_notifications(document.get("notifications") or (), root),
        data=document,
    )


def shown(path: Path) -> str:
    """A path as messages show it: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive (Windows)
        return os.fspath(path)


@functools.cache
def _check() -> Any:
    source = resources.files("reconciler") / "schema" / "project.schema.json"
    return checker(json.loads(source.read_text(encoding="utf-8")))


# -- beyond the schema ---------------------------------------------------------------------------

_Where = tuple[str | int, ...]
_Problem = tuple[_Where, str | None, str]
_KINDS = (("freezes", "freeze"), ("quietHours", "quiet hours"), ("frequencyCaps", "frequency cap"))


def _semantic_problems(document: Mapping[str, Any]) -> list[_Problem]:
    """What the schema cannot say: a known time zone, real instants, a freeze that ends after it
    begins, quiet hours that are a range, every policy's name used once."""
    policies = document.get("policies") or {}
    problems: list[_Problem] = []
    zone_name = policies.get("timezone", "UTC")
    if not known_zone(zone_name):
        message = f"{show(zone_name)} is not a known IANA time zone (like 'Europe/Amsterdam')"
        problems.append((("policies", "timezone"), None, message))
        zone_name = "UTC"
    zone = ZoneInfo(zone_name)
    for i, freeze in enumerate(policies.get("freezes", ())):
        bounds = {}
        for key in ("from", "until"):
            moment = _moment(freeze[key], zone)
            if isinstance(moment, str):
                problems.append((("policies", "freezes", i, key), None, moment))
            else:
                bounds[key] = moment
        if len(bounds) == 2 and bounds["from"] >= bounds["until"]:
            message = f"{freeze['until']} is not after from ({freeze['from']})"
            problems.append((("policies", "freezes", i, "until"), None, message))
    for i, quiet in enumerate(policies.get("quietHours", ())):
        if quiet["from"] == quiet["until"]:
            message = f"from and until are both {quiet['from']}: quiet hours are a range"
            problems.append((("policies", "quietHours", i, "until"), None, message))
    first: dict[str, tuple[str, int]] = {}
    for key, _ in _KINDS:
        for i, item in enumerate(policies.get(key, ())):
            name = item["name"]
            if name in first:
                was, at = first[name]
                message = (
                    f"{show(name)} is the name of policies.{was}[{at}] already: a name is one "
                    "policy's"
                )
                problems.append((("policies", key, i, "name"), None, message))
            else:
                first[name] = (key, i)
    return problems


def _reference_problems(document: Mapping[str, Any]) -> list[_Problem]:
    """Every ${VARIABLE} a pull request may make the reconciler read: one named RECONCILER_...
    or listed under allowedVariables, never a credential of the job; environments that exist."""
    allowed = set(document.get("allowedVariables", ()))
    problems: list[_Problem] = []
    for i, name in enumerate(document.get("allowedVariables", ())):
        if name in FORBIDDEN_VARIABLES:
            message = f"{name} is a credential of the job that runs reconciler: never allowed"
            problems.append((("allowedVariables", i), None, message))
    environments = document.get("environments") or {}
    named: list[tuple[_Where, str]] = [
        (("environments", env, "runtime"), item["runtime"]) for env, item in environments.items()
    ]
    named += [
        (("notifications", i, "url"), item["url"])
        for i, item in enumerate(document.get("notifications", ()))
    ]
    for where, reference in named:
        variable = reference[2:-1]
        if variable in FORBIDDEN_VARIABLES:
            message = f"{reference} is a credential of the job that runs reconciler: never named"
            problems.append((where, None, message))
        elif not variable.startswith("RECONCILER_") and variable not in allowed:
            message = (
                f"{reference}: a project file names only variables called RECONCILER_... or "
                "listed under allowedVariables"
            )
            problems.append((where, None, message))
    known = sorted(environments)
    for env, item in environments.items():
        source = (item.get("promotion") or {}).get("from")
        if source is not None and (source == env or source not in environments):
            what = "itself" if source == env else f"{show(source)}, which is not an environment"
            message = f"promotion from {what} (environments: {', '.join(known)})"
            problems.append((("environments", env, "promotion", "from"), None, message))
        overlay = item.get("overlay")
        if overlay is not None and (
            Path(overlay).is_absolute() or ".." in Path(overlay).parts or "\\" in overlay
        ):
            message = (
                f"{show(overlay)}: an overlay is a folder inside the repository, relative to "
                "this file"
            )
            problems.append((("environments", env, "overlay"), None, message))
    for i, item in enumerate(document.get("notifications", ())):
        for j, env in enumerate(item.get("environments", ())):
            if env not in environments:
                message = (
                    f"{show(env)} is not an environment (environments: "
                    f"{', '.join(known) or 'none'})"
                )
                problems.append((("notifications", i, "environments", j), None, message))
    return problems


def _environments(data: Mapping[str, Any], root: Any) -> dict[str, Environment]:
    return {
        name: Environment(
            name,
            documents.place(documents.locate(root, ("environments",), name))[0],
            item["runtime"][2:-1],
            item.get("overlay"),
            (item.get("promotion") or {}).get("from"),
        )
        for name, item in data.items()
    }


def _notifications(data: Sequence[Mapping[str, Any]], root: Any) -> tuple[Notification, ...]:
    return tuple(
        Notification(
            documents.place(documents.locate(root, ("notifications", i)))[0],
            item["url"][2:-1],
            item.get("format", "json"),
            frozenset(item.get("events", EVENTS)),
            tuple(item["environments"]) if "environments" in item else None,
        )
        for i, item in enumerate(data)
    )


def _moment(text: str, zone: ZoneInfo) -> datetime | str:
    """A freeze bound: an instant, with its offset or in ``zone``; or what is wrong with it."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return (
            f"{show(text)} is not a date-time like 2026-11-26T00:00:00 (in policies.timezone) "
            "or 2026-11-26T00:00:00-05:00"
        )
    if "T" not in text:
        return f"{show(text)} is a date: write the time too, like {text}T00:00:00"
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)


def _policies(data: Mapping[str, Any], root: Any, display: str) -> Policies:
    """The checked ``policies:`` mapping as objects, each with its line in the file."""
    zone = ZoneInfo(data.get("timezone", "UTC"))

    def line(*where: str | int) -> int:
        return documents.place(documents.locate(root, ("policies", *where)))[0]

    def selector(item: Mapping[str, Any], key: str) -> Selector | None:
        return Selector(dict(item[key]["labels"])) if key in item else None

    freezes = tuple(
        Freeze(
            f["name"],
            line("freezes", i),
            _moment(f["from"], zone),  # type: ignore[arg-type]
            _moment(f["until"], zone),  # type: ignore[arg-type]
            frozenset(map(Action, f["actions"])) if "actions" in f else DEFAULT_FREEZE_ACTIONS,
            selector(f, "campaigns"),
            selector(f, "exempt"),
        )
        for i, f in enumerate(data.get("freezes", ()))
    )
    quiet = tuple(
        QuietHours(
            q["name"],
            line("quietHours", i),
            time.fromisoformat(q["from"]),
            time.fromisoformat(q["until"]),
            frozenset(q.get("channels", OUTBOUND)),
        )
        for i, q in enumerate(data.get("quietHours", ()))
    )
    caps = tuple(
        FrequencyCap(
            c["name"],
            line("frequencyCaps", i),
            c["max"],
            c["per"],
            frozenset(c.get("channels", OUTBOUND)),
            tuple(c.get("segments", ("*",))),
        )
        for i, c in enumerate(data.get("frequencyCaps", ()))
    )
    required = tuple(data.get("requiredLabels", ()))
    required_line = (
        documents.place(documents.locate(root, ("policies",), "requiredLabels"))[0]
        if required
        else None
    )
    return Policies(
        display,
        data.get("timezone", "UTC"),
        freezes,
        quiet,
        caps,
        required,
        required_line,
        data,
    )
