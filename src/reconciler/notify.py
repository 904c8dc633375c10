"""Notifications: telling a team what an apply or a watch cycle did, after the fact.

Three steps, each a function of data: what a run gives (:func:`run_of`: its events, from a
ledger, a watch cycle or the error that ended an apply), the message each target gets
(:func:`message`: a JSON document, or a Slack incoming-webhook body), and its delivery
(:func:`deliver`). Nothing here prints or raises: a delivery's outcome is data, and the command
warns about it; a notification never changes what the command did or its exit code.

A target's URL is named by an environment variable (``url: ${SLACK_WEBHOOK}``), read when it is
sent: a Slack webhook's URL is a credential, so no outcome, message or error ever quotes it.
Everything a manifest, a saved plan or the runtime supplies (names, messages) is hostile: Slack
text is escaped so that none of it can become a link or a mention (``<!channel>``).

Delivery uses the standard library only: a POST of JSON, a short timeout, a few tries with
backoff for what may pass (no connection, 5xx, 429), at most :data:`TOTAL_SECONDS` per target,
every target at once; no redirect is followed, and only http(s) URLs are reached.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from reconciler import escape
from reconciler.cycles import Cycle, CycleOutcome
from reconciler.errors import Diagnostic, PlanError, ReconcilerError, RuntimeRefused
from reconciler.executor import Ledger, Outcome
from reconciler.plan import Plan
from reconciler.project import EVENTS, Notification, Project

__all__ = [
    "Context",
    "Delivery",
    "Repeats",
    "Run",
    "commit_url",
    "deliver",
    "message",
    "run_of",
    "send",
]

#: the events of a run, most telling first: a message is headed by the first its target wants
PRIORITY = ("frozen", "failed", "refused", "drift", "applied")
assert set(PRIORITY) == set(EVENTS)
#: how many operations and errors a message lists; the rest are counted
LISTED = 50
#: an operation planned but not applied (the plan had errors)
NOT_APPLIED = "not applied"
FORMAT_VERSION = 1

TOTAL_SECONDS = 5.0  # per target, every try and wait included
TRY_SECONDS = 2.0  # one try's timeout (connecting, and each read)
BACKOFF = (0.25, 0.5, 1.0)  # the waits between tries: at most len(BACKOFF) + 1 tries
SHORTEST_TRY = 0.2  # a try with less time than this left is not made


# -- what a run gives ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What an apply (or a watch cycle's apply) did, as a notification tells it: its plan (None
    when it ended before one was made), its ledger (None when nothing was applied), the error
    that ended it, and its events, in :data:`PRIORITY` order."""

    events: tuple[str, ...]
    plan: Plan | None = None
    ledger: Ledger | None = None
    error: str | None = None

    @property
    def wrote(self) -> bool:
        """Whether the run changed the runtime: what is never the same news twice."""
        entries = self.ledger.entries if self.ledger is not None else ()
        return any(e.outcome is Outcome.DONE and not e.replayed for e in entries)

    def errors(self) -> list[str]:
        """The plan's errors at their places, the failed operations', and the ending error."""
        found = [str(d) for d in self.plan.errors] if self.plan is not None else []
        entries = self.ledger.entries if self.ledger is not None else ()
        found += [
            f"{e.campaign}: {e.action.value} failed: {e.message}"
            for e in entries
            if e.outcome is Outcome.FAILED
        ]
        return found + ([self.error] if self.error is not None else [])

    def drift_reported(self) -> list[str]:
        """Drift the plan reports and leaves alone (a campaign annotated not to self-heal)."""
        warnings = self.plan.warnings if self.plan is not None else ()
        return [str(d) for d in warnings if d.message.startswith("drift:")]

    def operations(self) -> list[tuple[str, str, str, str | None]]:
        """Each operation of the plan: campaign, action, outcome, and who drifted it."""
        if self.plan is None:
            return []
        entries = self.ledger.entries if self.ledger is not None else ()
        outcomes = {(e.campaign, e.action): e.outcome.value for e in entries}
        return [
            (
                op.campaign,
                op.action.value,
                outcomes.get((op.campaign, op.action), NOT_APPLIED),
                op.drift,
            )
            for op in self.plan.operations
        ]


def run_of(result: Ledger | Cycle | ReconcilerError) -> Run | None:
    """The run an apply's ledger, a watch cycle or the error that ended an apply tells of; None
    for one that gives no event: a dry run, a cycle that waits for the lock or the runtime (it
    is tried again), a plan an earlier run applied whole, a runtime that could not be reached."""
    if isinstance(result, Ledger):
        return _from_ledger(result)
    if isinstance(result, Cycle):
        if result.ledger is not None:
            return _from_ledger(result.ledger)
        if result.outcome in (CycleOutcome.REFUSED, CycleOutcome.INVALID) and result.plan is None:
            # the runtime refused, or the run was (--prune on an emptied folder): nothing applied
            return Run(("refused",), error=result.error)
        return None  # a dry run's plan, or locked or unreachable: tried again
    if isinstance(result, RuntimeRefused | PlanError):
        return Run(("refused",), error=str(result))
    return None


def _from_ledger(ledger: Ledger) -> Run | None:
    if ledger.already_applied is not None:
        return None  # nothing was done now, nor needed to be
    plan, entries = ledger.plan, ledger.entries
    found = set()
    if any(e.outcome is Outcome.DONE and not e.replayed for e in entries):
        found.add("applied")
    if any(e.outcome is Outcome.FAILED for e in entries):
        found.add("failed")
    if not plan.ok:
        found.add("refused")
    if any(_frozen(d) for d in plan.errors):
        found.add("frozen")
    if any(op.drift is not None for op in plan.operations) or any(
        d.message.startswith("drift:") for d in plan.warnings
    ):
        found.add("drift")
    events = tuple(e for e in PRIORITY if e in found)
    return Run(events, plan, ledger) if events else None


def _frozen(d: Diagnostic) -> bool:
    return d.policy is not None and d.message.startswith("frozen:")


class Repeats:
    """What a watch has told already. A cycle that wrote nothing and would tell what the cycle
    before it told (the same invalid manifests, the same operation failing again, the same drift
    left alone) is not told again every interval; one that wrote is always told."""

    def __init__(self) -> None:
        self.last: object = None

    def fresh(self, run: Run | None) -> bool:
        key = (
            None
            if run is None
            else (run.events, tuple(run.operations()), tuple(run.errors()), run.drift_reported())
        )
        repeated = key == self.last
        self.last = key
        return run is not None and (run.wrote or not repeated)


# -- the message ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Where and by whom a run happened, and when it is told."""

    environment: str | None
    runtime: str  # without its password
    actor: str
    at: datetime
    commit_url: str | None = None


_SHA = re.compile(r"[0-9a-f]{7,64}")
_HOST = re.compile(r"[a-z0-9.-]+")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+")


def commit_url(
    commit: str | None, environ: Mapping[str, str], remote: Callable[[], str | None]
) -> str | None:
    """A link to ``commit`` where the repository's URL is known: GitHub Actions'
    ``GITHUB_SERVER_URL`` and ``GITHUB_REPOSITORY``, GitLab CI's ``CI_PROJECT_URL``, else the
    ``origin`` remote (asked only then) when it is on GitHub or a GitLab, made https. Never with
    credentials."""
    if commit is None or not _SHA.fullmatch(commit):
        return None
    server, repository = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_REPOSITORY")
    if server and repository and _REPOSITORY.fullmatch(repository):
        base = _https_base(server)
        return f"{base}/{repository}/commit/{commit}" if base else None
    if project := environ.get("CI_PROJECT_URL"):
        base = _https_base(project)
        return f"{base}/-/commit/{commit}" if base else None
    origin = remote()
    found = _from_remote(origin) if origin else None
    if found is None:
        return None
    host, path = found
    if host == "github.com" or host.startswith("github."):
        return f"https://{host}/{path}/commit/{commit}"
    if host.split(".")[0] == "gitlab":
        return f"https://{host}/{path}/-/commit/{commit}"
    return None


def _https_base(url: str) -> str | None:
    """``url`` without credentials, query or trailing slash; None unless it is http(s)."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    path = parts.path.rstrip("/")
    if parts.scheme not in ("http", "https") or not host or not _HOST.fullmatch(host):
        return None
    if not _safe(path):
        return None
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{path}"


def _from_remote(remote: str) -> tuple[str, str] | None:
    """A git remote's host and repository path: ``https://[user@]host/o/r.git``,
    ``ssh://git@host[:port]/o/r.git`` or ``git@host:o/r.git``."""
    remote = remote.strip()
    if "://" in remote:
        try:
            parts = urlsplit(remote)
            host = parts.hostname
        except ValueError:
            return None
        if parts.scheme not in ("https", "http", "ssh", "git") or not host:
            return None
        path = parts.path
    elif (m := re.fullmatch(r"(?:[^@/:]+@)?([^@/:]+):(.+)", remote)) is not None:
        host, path = m.group(1), m.group(2)
    else:
        return None
    path = path.strip("/").removesuffix(".git")
    if (
        not _HOST.fullmatch(host.lower())
        or not _REPOSITORY.fullmatch(path)
        or ".." in path.split("/")
    ):
        return None
    return host.lower(), path


def _safe(path: str) -> bool:
    return all(c.isalnum() or c in "/-_.~%" for c in path)


def message(target: Notification, run: Run, context: Context) -> tuple[str, dict[str, Any]]:
    """The event ``target`` is told ``run`` as, and the body it gets: JSON or Slack."""
    events = [e for e in run.events if target.wants(e, context.environment)]
    body = _slack(events, run, context) if target.format == "slack" else _json(events, run, context)
    return events[0], body


def _summary(run: Run) -> dict[str, int]:
    outcomes = [outcome for _, _, outcome, _ in run.operations()]
    return {
        "operations": len(outcomes),
        "done": outcomes.count(Outcome.DONE.value),
        "failed": outcomes.count(Outcome.FAILED.value),
        "skipped": outcomes.count(Outcome.SKIPPED.value),
        "not_applied": outcomes.count(NOT_APPLIED),
        "errors": len(run.errors()),
    }


def _json(events: Sequence[str], run: Run, context: Context) -> dict[str, Any]:
    operations, errors = run.operations(), run.errors()
    return {
        "format_version": FORMAT_VERSION,
        "event": events[0],
        "events": list(events),
        "at": _instant(context.at),
        "environment": context.environment,
        "runtime": context.runtime,
        "actor": context.actor,
        "commit": run.plan.commit if run.plan is not None else None,
        "dirty": run.plan.dirty if run.plan is not None else False,
        "commit_url": context.commit_url,
        "summary": _summary(run),
        "operations": [
            {"campaign": c, "action": a, "outcome": o, "drift": d}
            for c, a, o, d in operations[:LISTED]
        ],
        "operations_not_listed": max(0, len(operations) - LISTED),
        "errors": errors[:LISTED],
        "errors_not_listed": max(0, len(errors) - LISTED),
        "drift_reported": run.drift_reported()[:LISTED],
    }


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def slack(value: str) -> str:
    """Untrusted text for Slack's mrkdwn: on one line, and no ``<...>`` (a link, a mention such as
    ``<!channel>``) nor an entity can be made of it (Slack's own three escapes)."""
    return escape.text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: how much of one error a Slack message quotes
SLACK_CLIP = 500


def _slack(events: Sequence[str], run: Run, context: Context) -> dict[str, Any]:
    where = f" in *{slack(context.environment)}*" if context.environment is not None else ""
    lines = [f"*reconciler: {', '.join(events)}*{where} (runtime {slack(context.runtime)})"]
    lines.append(" · ".join([_counts(run), f"by {slack(context.actor)}", _commit(run, context)]))
    operations = run.operations()
    for campaign, action, outcome, drift in operations[:LISTED]:
        drifted = f" (drift by {slack(drift)}: restored)" if drift and outcome == "done" else ""
        if drift and outcome != "done":
            drifted = f" (drift by {slack(drift)})"
        lines.append(f"• {action} {slack(campaign)}: {outcome}{drifted}")
    lines += _more(len(operations))
    for title, items in (("Errors", run.errors()), ("Drift, reported only", run.drift_reported())):
        if items:
            lines.append(f"{title}:")
            lines += [f"• {slack(_clip(item))}" for item in items[:LISTED]]
            lines += _more(len(items))
    return {"text": "\n".join(lines), "unfurl_links": False, "unfurl_media": False}


def _more(count: int) -> list[str]:
    return [f"• … and {count - LISTED} more"] if count > LISTED else []


def _clip(text: str) -> str:
    return text if len(text) <= SLACK_CLIP else text[: SLACK_CLIP - 1] + "…"


def _counts(run: Run) -> str:
    summary = _summary(run)
    if run.ledger is not None and run.ledger.entries:
        return ", ".join(f"{summary[k]} {k}" for k in ("done", "failed", "skipped") if summary[k])
    if summary["errors"]:
        return f"nothing applied: {summary['errors']} error{'s' if summary['errors'] > 1 else ''}"
    return "nothing to apply"


def _commit(run: Run, context: Context) -> str:
    if run.plan is None:
        return "commit unknown"
    if run.plan.commit is None:
        return "outside git"
    short = slack(run.plan.commit[:7])
    shown = f"commit <{context.commit_url}|{short}>" if context.commit_url else f"commit {short}"
    return shown + (" (with uncommitted changes)" if run.plan.dirty else "")


# -- delivery ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One target's outcome: delivered, or given up and why (never the URL: a secret)."""

    target: Notification
    place: str  # where the project file names it: "reconciler.yaml:14"
    event: str
    delivered: bool
    detail: str = ""
    tries: int = 0

    @property
    def name(self) -> str:
        """The target as the project file names it: ``${SLACK_WEBHOOK}``."""
        return "${" + self.target.url + "}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not followed: a webhook that moved is a configuration to fix,
    and following it would send the message where the URL's owner did not say."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class _Try:
    """One try's result: a status (None: no answer) and what to say of it."""

    status: int | None
    detail: str
    retry_after: float | None = None

    @property
    def transient(self) -> bool:
        """What may pass: no answer, a server's error, too many requests."""
        return self.status is None or self.status >= 500 or self.status == 429


def deliver(
    target: Notification,
    place: str,
    event: str,
    body: Mapping[str, Any],
    environ: Mapping[str, str] = os.environ,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """POST ``body`` to the URL ``target`` names, trying again what may pass, for at most
    :data:`TOTAL_SECONDS`. Never raises."""
    done = Delivery(target, place, event, False)
    url = environ.get(target.url, "").strip()
    if not url:
        return _replace(done, f"{target.url} is not set")
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and url.isprintable()
    except ValueError:
        ok = False
    if not ok:
        return _replace(done, f"{target.url} is not an http(s) URL")
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    deadline = clock() + TOTAL_SECONDS
    tries = 0
    while True:
        left = deadline - clock()
        tries += 1
        result = _post(url, data, min(TRY_SECONDS, left))
        if result.status is not None and 200 <= result.status < 300:
            return Delivery(target, place, event, True, "", tries)
        if not result.transient:
            return _replace(done, result.detail, tries)
        wait = BACKOFF[tries - 1] if tries <= len(BACKOFF) else None
        if wait is not None and result.retry_after is not None:
            wait = max(wait, result.retry_after)
        if wait is None or clock() + wait > deadline - SHORTEST_TRY:
            spent = TOTAL_SECONDS - max(0.0, deadline - clock())
            return _replace(
                done,
                f"gave up after {tries} tr{'y' if tries == 1 else 'ies'} in {spent:.1f}s: "
                f"{result.detail}",
                tries,
            )
        sleep(wait)


def _replace(done: Delivery, detail: str, tries: int = 0) -> Delivery:
    return Delivery(done.target, done.place, done.event, False, detail, tries)


def _post(url: str, data: bytes, timeout: float) -> _Try:
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "reconciler"},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(1024)
            return _Try(response.status, f"answered {response.status}")
    except urllib.error.HTTPError as exc:
        with exc:
            said = _said(exc.read(200))
            status = exc.code
            after = _seconds(exc.headers.get("Retry-After")) if status == 429 else None
        if 300 <= status < 400:
            return _Try(status, f"answered {status}: redirects are not followed")
        return _Try(status, f"answered {status}{said}", after)
    except urllib.error.URLError as exc:
        return _Try(None, _no_answer(exc.reason, url))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return _Try(None, _no_answer(exc, url))


def _no_answer(reason: object, url: str) -> str:
    if isinstance(reason, TimeoutError):
        return "no answer (timed out)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, http.client.RemoteDisconnected | ConnectionResetError):
        return "the connection was closed without an answer"
    text = str(reason.strerror if isinstance(reason, OSError) and reason.strerror else reason)
    for secret in {url, urlsplit(url).path, urlsplit(url).query} - {"", "/"}:
        text = text.replace(secret, "…")  # whatever the error quotes, never the URL
    return f"no answer ({text or type(reason).__name__})"


def _said(data: bytes) -> str:
    """What an error answer says (Slack's is a word: ``no_service``), when it is short text."""
    text = data.decode("utf-8", "replace").strip()
    return f" ({text})" if text and len(text) <= 100 and text.isprintable() else ""


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# -- all of it -----------------------------------------------------------------------------------


def send(
    project: Project,
    run: Run,
    context: Context,
    environ: Mapping[str, str] = os.environ,
) -> list[Delivery]:
    """Tell ``run`` to every target of ``project`` that wants one of its events, all at once;
    each delivered or given up when this returns (in the order the project file lists them)."""
    wanted = [
        t for t in project.notifications if any(t.wants(e, context.environment) for e in run.events)
    ]
    found: list[Delivery | None] = [None] * len(wanted)

    def one(i: int, target: Notification) -> None:
        place = project.place(target.line)
        event, body = message(target, run, context)
        try:
            found[i] = deliver(target, place, event, body, environ)
        except Exception as exc:  # never fail the command that notifies: a bug, said
            found[i] = Delivery(target, place, event, False, f"failed: {type(exc).__name__}")

    threads = [threading.Thread(target=one, args=(i, t), daemon=True) for i, t in enumerate(wanted)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [d for d in found if d is not None]
