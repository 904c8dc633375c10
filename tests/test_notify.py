"""Notifications (issue 16): what each event's message holds, exactly, as a real HTTP receiver
on the loopback gets it; retries, giving up in time, and every way a target can fail to get one;
hostile names in Slack; and apply and watch sending them through the command line.

Every test runs on the pinned now (2026-11-27 12:00 UTC), as ``tester``, in a repository named
``acme/campaigns`` on GitHub by the variables GitHub Actions sets.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from factories import cli_environment, git
from reconciler import api, notify, project
from reconciler.cli import cli
from reconciler.cycles import Cycle, CycleOutcome, Stopped, Trigger
from reconciler.errors import (
    Diagnostic,
    LockedError,
    ReconcilerError,
    RuntimeUnavailable,
    StalePlanError,
)
from reconciler.executor import AppliedBefore, Ledger, LedgerEntry, Outcome
from reconciler.model import Action
from reconciler.plan import Operation, Plan, Reason
from reconciler.watch import Watcher

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"
COMMIT_URL = f"https://github.com/acme/campaigns/commit/{SHA}"

# -- a receiver ----------------------------------------------------------------------------------


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1: records every request; answers a request to /json with
    ``statuses`` first (one each, then 200), or, while ``hanging`` is set, never answers."""

    url: str = ""
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    hanging: bool = False
    released: threading.Event = field(default_factory=threading.Event)

    def bodies(self, path: str = "") -> list[Any]:
        return [json.loads(body) for p, _, body in self.requests if p.startswith(path)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            found.requests.append((self.path, dict(self.headers), body))
            if found.hanging:
                found.released.wait(30)
                return
            failing = self.path == "/json" and found.statuses
            status = found.statuses.pop(0) if failing else 200
            answer = b"ok" if status == 200 else b"no_service"
            self.send_response(status)
            if status in (301, 302, 307):
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield found
    finally:
        found.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


#: how long delivery tries and waits, as shipped
REAL = {
    name: getattr(notify, name)
    for name in ("TOTAL_SECONDS", "TRY_SECONDS", "BACKOFF", "SHORTEST_TRY")
}


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tries and waits a tenth as long: a target given up on takes half a second, not five."""
    monkeypatch.setattr(notify, "TOTAL_SECONDS", 0.5)
    monkeypatch.setattr(notify, "TRY_SECONDS", 0.2)
    monkeypatch.setattr(notify, "BACKOFF", (0.025, 0.05, 0.1))
    monkeypatch.setattr(notify, "SHORTEST_TRY", 0.02)


PROJECT = """\
apiVersion: reconciler/v1
kind: Project
allowedVariables: [HOOK_JSON, HOOK_SLACK]
environments:
  production:
    runtime: ${RECONCILER_PRODUCTION}
notifications:
  - url: ${HOOK_JSON}
    format: json
  - url: ${HOOK_SLACK}
    format: slack
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver, fast: None) -> Path:
    """A folder with campaigns/, a project file naming two targets (json at line 8, slack at
    line 10) reached at the receiver, in GitHub Actions' repository acme/campaigns."""
    monkeypatch.chdir(tmp_path)
    cli_environment(monkeypatch, runtime="sqlite:///runtime.db")
    for name in ("CI_PROJECT_URL", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/campaigns")
    monkeypatch.setenv("HOOK_JSON", f"{receiver.url}/json")
    monkeypatch.setenv("HOOK_SLACK", f"{receiver.url}/slack/T000/B000/secret")
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "reconciler.yaml").write_text(PROJECT)
    return tmp_path


# -- runs, made by hand --------------------------------------------------------------------------


def op(campaign: str, action: Action, drift: str | None = None) -> Operation:
    return Operation(campaign, action, Reason.NEW_LIVE, f"campaigns/{campaign}.yaml", drift=drift)


def plan(*ops: Operation, errors: tuple[Diagnostic, ...] = (), **more: Any) -> Plan:
    return Plan("sqlite:///runtime.db", "rt-1", 7, ops, commit=SHA, errors=errors, **more)


FROZEN = Diagnostic(
    "frozen: peak-season (reconciler.yaml:6) allows no activate until Wed 2026-12-02 06:00 CET",
    "campaigns/digest.yaml",
    7,
    10,
    campaign="digest",
    policy="peak-season",
    policy_file="reconciler.yaml",
    policy_line=6,
)
REFUSAL = Diagnostic(
    "one-time campaigns cannot be modified once live; duplicate it with copyFrom",
    "campaigns/launch.yaml",
    9,
    3,
    campaign="launch",
)
FAILURE = "the runtime refused: launch is completed"


def done(*ops: Operation) -> tuple[LedgerEntry, ...]:
    return tuple(LedgerEntry(o.campaign, o.action, Outcome.DONE) for o in ops)


WEEKLY, LAUNCH = op("weekly", Action.ACTIVATE), op("launch", Action.STOP)
DEAL = op("deal", Action.REPLACE, drift="console")
DIGEST = op("digest", Action.ACTIVATE)
LEDGERS = {
    "applied": Ledger(plan(WEEKLY, LAUNCH), done(WEEKLY, LAUNCH)),
    "failed": Ledger(
        plan(WEEKLY, LAUNCH),
        (
            *done(WEEKLY),
            LedgerEntry("launch", Action.STOP, Outcome.FAILED, FAILURE),
        ),
    ),
    "refused": Ledger(plan(WEEKLY, errors=(REFUSAL,))),
    "drift": Ledger(plan(DEAL), done(DEAL)),
    "frozen": Ledger(plan(DIGEST, errors=(FROZEN,))),
}


def summary(done: int = 0, failed: int = 0, not_applied: int = 0, errors: int = 0) -> Any:
    total = done + failed + not_applied
    return {
        "operations": total,
        "done": done,
        "failed": failed,
        "skipped": 0,
        "not_applied": not_applied,
        "errors": errors,
    }


def operation(campaign: str, action: str, outcome: str, drift: str | None = None) -> Any:
    return {"campaign": campaign, "action": action, "outcome": outcome, "drift": drift}


def body(
    event: str, events: list[str], counts: Any, operations: list[Any], errors: list[str]
) -> Any:
    return {
        "format_version": 1,
        "event": event,
        "events": events,
        "at": "2026-11-27T12:00:00Z",
        "environment": None,
        "runtime": "sqlite:///runtime.db",
        "actor": "tester",
        "commit": SHA,
        "dirty": False,
        "commit_url": COMMIT_URL,
        "summary": counts,
        "operations": operations,
        "operations_not_listed": 0,
        "errors": errors,
        "errors_not_listed": 0,
        "drift_reported": [],
    }


FROZEN_AT = f"campaigns/digest.yaml:7:10: {FROZEN.message}"
REFUSAL_AT = f"campaigns/launch.yaml:9:3: {REFUSAL.message}"
JSON_BODIES = {
    "applied": body(
        "applied",
        ["applied"],
        summary(done=2),
        [operation("weekly", "activate", "done"), operation("launch", "stop", "done")],
        [],
    ),
    "failed": body(
        "failed",
        ["failed", "applied"],
        summary(done=1, failed=1, errors=1),
        [operation("weekly", "activate", "done"), operation("launch", "stop", "failed")],
        [f"launch: stop failed: {FAILURE}"],
    ),
    "refused": body(
        "refused",
        ["refused"],
        summary(not_applied=1, errors=1),
        [operation("weekly", "activate", "not applied")],
        [REFUSAL_AT],
    ),
    "drift": body(
        "drift",
        ["drift", "applied"],
        summary(done=1),
        [operation("deal", "replace", "done", drift="console")],
        [],
    ),
    "frozen": body(
        "frozen",
        ["frozen", "refused"],
        summary(not_applied=1, errors=1),
        [operation("digest", "activate", "not applied")],
        [FROZEN_AT],
    ),
}
HEAD = "(runtime sqlite:///runtime.db)"
BY = f"by tester · commit <{COMMIT_URL}|0123456>"
SLACK_TEXTS = {
    "applied": f"*reconciler: applied* {HEAD}\n"
    f"2 done · {BY}\n"
    "• activate weekly: done\n"
    "• stop launch: done",
    "failed": f"*reconciler: failed, applied* {HEAD}\n"
    f"1 done, 1 failed · {BY}\n"
    "• activate weekly: done\n"
    "• stop launch: failed\n"
    "Errors:\n"
    f"• launch: stop failed: {FAILURE}",
    "refused": f"*reconciler: refused* {HEAD}\n"
    f"nothing applied: 1 error · {BY}\n"
    "• activate weekly: not applied\n"
    "Errors:\n"
    f"• {REFUSAL_AT}",
    "drift": f"*reconciler: drift, applied* {HEAD}\n"
    f"1 done · {BY}\n"
    "• replace deal: done (drift by console: restored)",
    "frozen": f"*reconciler: frozen, refused* {HEAD}\n"
    f"nothing applied: 1 error · {BY}\n"
    "• activate digest: not applied\n"
    "Errors:\n"
    f"• {FROZEN_AT}",
}


def send(
    result: Ledger | Cycle | ReconcilerError, environment: str | None = None
) -> list[notify.Delivery]:
    options = api.Options("sqlite:///runtime.db", now=NOW)
    return api.notify(result, options, api.ProjectSource(), "campaigns", environment)


@pytest.mark.parametrize("event", list(LEDGERS))
def test_each_event_sends_its_exact_json_and_slack_bodies(
    repo: Path, receiver: Receiver, event: str
) -> None:
    deliveries = send(LEDGERS[event])
    assert [(d.name, d.place, d.event, d.delivered, d.tries) for d in deliveries] == [
        ("${HOOK_JSON}", "reconciler.yaml:8", event, True, 1),
        ("${HOOK_SLACK}", "reconciler.yaml:10", event, True, 1),
    ]
    assert receiver.bodies("/json") == [JSON_BODIES[event]]
    assert receiver.bodies("/slack") == [
        {"text": SLACK_TEXTS[event], "unfurl_links": False, "unfurl_media": False}
    ]
    _, headers, _ = receiver.requests[0]
    assert (headers["Content-Type"], headers["User-Agent"]) == ("application/json", "reconciler")


@pytest.mark.parametrize(
    "result",
    [
        Ledger(plan()),  # nothing to do
        Ledger(plan(WEEKLY), already_applied=AppliedBefore("2026-11-27T11:00:00Z", "ci")),
        RuntimeUnavailable("cannot connect to the runtime"),  # not a refusal: no event
    ],
    ids=["in-sync", "applied-before", "unavailable"],
)
def test_a_run_that_gives_no_event_sends_nothing(
    repo: Path, receiver: Receiver, result: Ledger | ReconcilerError
) -> None:
    assert send(result) == []
    assert receiver.requests == []


def test_a_refusal_that_ended_an_apply_is_told(repo: Path, receiver: Receiver) -> None:
    stale = StalePlanError("campaigns of this plan changed since it was made: weekly")
    assert [d.event for d in send(stale)] == ["refused", "refused"]
    [sent] = receiver.bodies("/json")
    assert (sent["event"], sent["commit"], sent["commit_url"], sent["errors"]) == (
        "refused",
        None,
        None,
        [str(stale)],
    )
    assert sent["summary"] == summary(errors=1)
    [slack] = receiver.bodies("/slack")
    assert slack["text"] == (
        "*reconciler: refused* (runtime sqlite:///runtime.db)\n"
        "nothing applied: 1 error · by tester · commit unknown\n"
        "Errors:\n"
        f"• {stale}"
    )


def test_drift_reported_only_is_an_event_too(repo: Path, receiver: Receiver) -> None:
    warning = Diagnostic(
        "drift: live version 2 was changed outside the reconciler by console (content.title); "
        'it is reported only, as reconciler/self-heal is "false"',
        "campaigns/deal.yaml",
        5,
        3,
        campaign="deal",
    )
    ledger = Ledger(plan(warnings=(warning,), unchanged=1))
    send(ledger)
    [sent] = receiver.bodies("/json")
    assert (sent["event"], sent["operations"], sent["drift_reported"]) == (
        "drift",
        [],
        [str(warning)],
    )
    [slack] = receiver.bodies("/slack")
    assert slack["text"].splitlines()[1:] == [
        f"nothing to apply · {BY}",
        "Drift, reported only:",
        f"• {warning}",
    ]


def test_long_runs_list_fifty_and_count_the_rest(repo: Path, receiver: Receiver) -> None:
    ops = [op(f"c{i:03}", Action.ACTIVATE) for i in range(120)]
    errors = tuple(Diagnostic(f"problem {i}", "campaigns/x.yaml", i + 1) for i in range(60))
    send(Ledger(plan(*ops, errors=errors)))
    [sent] = receiver.bodies("/json")
    assert (len(sent["operations"]), sent["operations_not_listed"]) == (50, 70)
    assert (len(sent["errors"]), sent["errors_not_listed"]) == (50, 10)
    assert sent["summary"] == summary(not_applied=120, errors=60)
    lines = receiver.bodies("/slack")[0]["text"].splitlines()
    assert lines[52] == "• … and 70 more"
    assert lines[-1] == "• … and 10 more"


# -- who is told what ----------------------------------------------------------------------------

FILTERED = """\
apiVersion: reconciler/v1
kind: Project
allowedVariables: [HOOK_JSON, HOOK_SLACK]
environments:
  production:
    runtime: ${RECONCILER_PRODUCTION}
notifications:
  - url: ${HOOK_JSON}
    events: [failed, frozen]
  - url: ${HOOK_SLACK}
    format: slack
    environments: [production]
"""


@pytest.mark.parametrize(
    ("event", "environment", "told"),
    [
        ("applied", None, []),
        ("applied", "production", [("/slack", "applied")]),
        ("failed", None, [("/json", "failed")]),
        ("failed", "production", [("/json", "failed"), ("/slack", "failed")]),
        ("frozen", "staging", [("/json", "frozen")]),
        ("refused", None, []),
        ("drift", "production", [("/slack", "drift")]),
    ],
)
def test_targets_get_the_events_and_environments_they_name(
    repo: Path, receiver: Receiver, event: str, environment: str | None, told: list[Any]
) -> None:
    Path("reconciler.yaml").write_text(FILTERED)
    deliveries = send(LEDGERS[event], environment)
    assert [(d.name, d.event) for d in deliveries] == [
        ("${HOOK_JSON}" if path == "/json" else "${HOOK_SLACK}", e) for path, e in told
    ]
    arrived = sorted(p.split("/T000")[0] for p, _, _ in receiver.requests)  # sent at once
    assert arrived == sorted(p for p, _ in told)
    for path, _, sent in receiver.requests:
        if path == "/json":
            # a target told of a failure with an apply beside it hears of the failure only
            assert json.loads(sent)["events"] == [event]
            assert json.loads(sent)["environment"] == environment


def test_without_a_project_file_or_targets_nothing_is_sent(repo: Path, receiver: Receiver) -> None:
    Path("reconciler.yaml").unlink()
    assert send(LEDGERS["applied"]) == []
    Path("reconciler.yaml").write_text("apiVersion: reconciler/v1\nkind: Project\n")
    assert send(LEDGERS["applied"]) == []
    assert receiver.requests == []


# -- delivery ------------------------------------------------------------------------------------


def test_transient_failures_are_tried_again_then_delivered(repo: Path, receiver: Receiver) -> None:
    receiver.statuses = [503, 500, 429]  # then 200
    json_target, slack_target = send(LEDGERS["applied"])
    assert (json_target.delivered, json_target.tries, slack_target.tries) == (True, 4, 1)
    bodies = receiver.bodies("/json")
    assert len(bodies) == 4 and all(b == bodies[0] for b in bodies)


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (404, "answered 404 (no_service)"),
        (400, "answered 400 (no_service)"),
        (302, "answered 302: redirects are not followed"),
    ],
)
def test_a_refusal_is_not_tried_again(
    repo: Path, receiver: Receiver, status: int, detail: str
) -> None:
    receiver.statuses = [status]
    json_target, _ = send(LEDGERS["applied"])
    assert (json_target.delivered, json_target.tries, json_target.detail) == (False, 1, detail)
    assert len(receiver.bodies("/json")) == 1  # the redirect's target was never reached


def test_an_endpoint_that_keeps_failing_is_given_up(repo: Path, receiver: Receiver) -> None:
    receiver.statuses = [503] * 10
    json_target, _ = send(LEDGERS["applied"])
    assert not json_target.delivered
    assert re.fullmatch(
        r"gave up after 4 tries in 0\.\ds: answered 503 \(no_service\)", json_target.detail
    )


def test_a_hanging_endpoint_is_given_up_in_time(repo: Path, receiver: Receiver) -> None:
    receiver.hanging = True
    started = time.monotonic()
    deliveries = send(LEDGERS["applied"])
    assert time.monotonic() - started < 2.0  # both targets at once, each within 0.5 s (fast)
    assert [d.delivered for d in deliveries] == [False, False]
    assert re.fullmatch(
        r"gave up after \d tries in 0\.\ds: no answer \(timed out\)", deliveries[0].detail
    )


@pytest.mark.slow
def test_a_hanging_endpoint_is_given_up_within_the_bound(
    repo: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the real tries and waits: a command waits for a dead endpoint a few seconds at most."""
    for name, value in REAL.items():
        monkeypatch.setattr(notify, name, value)
    receiver.hanging = True
    started = time.monotonic()
    deliveries = send(LEDGERS["applied"])
    assert time.monotonic() - started < 8.0
    assert [d.delivered for d in deliveries] == [False, False]


def test_a_closed_port_is_given_up(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv("HOOK_JSON", f"http://127.0.0.1:{port}/json")
    json_target, _ = send(LEDGERS["applied"])
    assert re.fullmatch(r"gave up after 4 tries in 0\.\ds: connection refused", json_target.detail)


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (None, "HOOK_SLACK is not set"),
        ("", "HOOK_SLACK is not set"),
        ("file:///etc/passwd", "HOOK_SLACK is not an http(s) URL"),
        ("hooks.slack.com/services/T0/B0/secret", "HOOK_SLACK is not an http(s) URL"),
        ("http://", "HOOK_SLACK is not an http(s) URL"),
    ],
    ids=["unset", "empty", "file", "no-scheme", "no-host"],
)
def test_a_variable_that_names_no_url_is_an_outcome(
    repo: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
    detail: str,
) -> None:
    if value is None:
        monkeypatch.delenv("HOOK_SLACK")
    else:
        monkeypatch.setenv("HOOK_SLACK", value)
    json_target, slack_target = send(LEDGERS["applied"])
    assert json_target.delivered
    assert (slack_target.delivered, slack_target.tries, slack_target.detail) == (False, 0, detail)


def test_no_outcome_quotes_the_url(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "/services/T0123/B0456/XXXXsecretXXXX"
    monkeypatch.setenv("HOOK_SLACK", f"http://no-such-host.invalid{secret}")
    _, slack_target = send(LEDGERS["applied"])
    assert not slack_target.delivered
    assert "secret" not in slack_target.detail and "services" not in slack_target.detail


# -- hostile text --------------------------------------------------------------------------------


def test_names_and_messages_cannot_mention_or_link_in_slack(repo: Path, receiver: Receiver) -> None:
    hostile = op("<!channel> & <https://evil.example|click>", Action.ACTIVATE)
    error = Diagnostic("'<@U123>' is not one of ['draft', 'live']\x1b[2J", "campaigns/<!here>.yaml")
    send(Ledger(plan(hostile, errors=(error,))))
    [slack] = receiver.bodies("/slack")
    assert slack["text"].splitlines()[2:] == [
        "• activate &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;: not applied",
        "Errors:",
        "• campaigns/&lt;!here&gt;.yaml: '&lt;@U123&gt;' is not one of ['draft', 'live']\\x1b[2J",
    ]
    # the only < in the text is the commit's link, which reconciler makes
    assert re.findall(r"<[^>]*>", slack["text"]) == [f"<{COMMIT_URL}|0123456>"]
    [sent] = receiver.bodies("/json")
    assert sent["operations"][0]["campaign"] == hostile.campaign  # JSON carries it as it is


# -- the commit's link ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "remote", "url"),
    [
        (
            {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r"},
            None,
            f"https://github.com/o/r/commit/{SHA}",
        ),
        (
            {"GITHUB_SERVER_URL": "https://x:token@ghe.example/", "GITHUB_REPOSITORY": "o/r"},
            None,
            f"https://ghe.example/o/r/commit/{SHA}",
        ),
        (
            {"CI_PROJECT_URL": "https://gitlab.example/group/sub/proj"},
            None,
            f"https://gitlab.example/group/sub/proj/-/commit/{SHA}",
        ),
        ({}, "https://github.com/o/r.git", f"https://github.com/o/r/commit/{SHA}"),
        ({}, "https://user:ghp_x@github.com/o/r", f"https://github.com/o/r/commit/{SHA}"),
        ({}, "git@github.com:o/r.git", f"https://github.com/o/r/commit/{SHA}"),
        ({}, "ssh://git@github.com:22/o/r.git", f"https://github.com/o/r/commit/{SHA}"),
        ({}, "git@gitlab.com:group/proj.git", f"https://gitlab.com/group/proj/-/commit/{SHA}"),
        ({}, "https://bitbucket.org/o/r.git", None),
        ({}, "/srv/git/campaigns.git", None),
        ({}, None, None),
        ({"GITHUB_SERVER_URL": "javascript:alert(1)", "GITHUB_REPOSITORY": "o/r"}, None, None),
        ({"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r>x"}, None, None),
    ],
)
def test_the_commit_link(environ: dict[str, str], remote: str | None, url: str | None) -> None:
    assert notify.commit_url(SHA, environ, lambda: remote) == url


def test_no_link_without_a_commit_that_is_one() -> None:
    github = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r"}
    assert notify.commit_url(None, github, lambda: None) is None
    assert notify.commit_url("main><!channel>", github, lambda: None) is None


def test_the_link_comes_from_the_origin_remote(
    repo: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name)
    git(repo, "init", "-q")
    git(repo, "remote", "add", "origin", "https://bot:secret@gitlab.com/acme/campaigns.git")
    send(LEDGERS["applied"])
    [sent] = receiver.bodies("/json")
    assert sent["commit_url"] == f"https://gitlab.com/acme/campaigns/-/commit/{SHA}"
    assert not any(b"secret" in sent for _, _, sent in receiver.requests)


# -- through the command line --------------------------------------------------------------------

WEEKLY_YAML = """\
apiVersion: reconciler/v1
kind: Campaign
metadata:
  name: weekly
spec:
  state: live
  channel: email
  audience: {segment: subscribers}
  content: {subject: "Week", body: "Hello"}
  schedule:
    recurring: {every: week, on: [mon], at: "09:00"}
"""


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def committed(repo: Path) -> str:
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "campaigns")
    return git(repo, "rev-parse", "HEAD")


def test_apply_sends_what_it_applied(repo: Path, receiver: Receiver) -> None:
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML)
    sha = committed(repo)
    result = run("apply")
    assert (result.exit_code, result.stderr) == (0, "")
    [sent] = receiver.bodies("/json")
    assert sent == body(
        "applied", ["applied"], summary(done=1), [operation("weekly", "activate", "done")], []
    ) | {"commit": sha, "commit_url": f"https://github.com/acme/campaigns/commit/{sha}"}
    [slack] = receiver.bodies("/slack")
    assert slack["text"] == (
        "*reconciler: applied* (runtime sqlite:///runtime.db)\n"
        f"1 done · by tester · commit <https://github.com/acme/campaigns/commit/{sha}|{sha[:7]}>\n"
        "• activate weekly: done"
    )
    receiver.requests.clear()
    assert run("apply").exit_code == 0  # nothing to do: nothing to tell
    assert receiver.requests == []


def test_an_undelivered_notification_is_a_warning_and_keeps_the_exit_code(
    repo: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML)
    monkeypatch.delenv("HOOK_JSON")
    monkeypatch.setenv("HOOK_SLACK", f"{receiver.url}/json")  # where the receiver says 404
    receiver.statuses = [404]
    result = run("apply")
    assert result.exit_code == 0
    assert result.stderr == (
        "warning: notification ${HOOK_JSON} (reconciler.yaml:8) not delivered: "
        "HOOK_JSON is not set\n"
        "warning: notification ${HOOK_SLACK} (reconciler.yaml:10) not delivered: "
        "answered 404 (no_service)\n"
    )


def test_a_frozen_apply_tells_the_freeze(repo: Path, receiver: Receiver) -> None:
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML)
    Path("reconciler.yaml").write_text(
        PROJECT
        + "policies:\n  freezes:\n    - name: peak-season\n"
        + "      from: 2026-11-26T00:00:00Z\n      until: 2026-12-02T00:00:00Z\n"
    )
    result = run("apply")
    assert (result.exit_code, result.stderr) == (1, "")
    [sent] = receiver.bodies("/json")
    assert (sent["event"], sent["events"], sent["operations"]) == (
        "frozen",
        ["frozen", "refused"],
        [operation("weekly", "activate", "not applied")],
    )
    assert sent["errors"] == [
        "campaigns/weekly.yaml:6:10: frozen: peak-season (reconciler.yaml:14) allows no activate "
        "until Wed 2026-12-02 00:00 UTC"
    ]


def test_apply_of_a_saved_plan_tells_it_and_a_stale_one_is_refused(
    repo: Path, receiver: Receiver
) -> None:
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML)
    assert run("plan", "--out", "plan.json").exit_code == 0
    assert run("apply", "--plan", "plan.json").exit_code == 0
    [sent] = receiver.bodies("/json")
    assert (sent["event"], sent["operations"], sent["commit"]) == (
        "applied",
        [operation("weekly", "activate", "done")],
        None,
    )
    receiver.requests.clear()
    assert run("apply", "--plan", "plan.json").exit_code == 0  # applied before: nothing to tell
    assert receiver.requests == []
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML.replace("Week", "Weak"))
    assert run("plan", "--out", "stale.json").exit_code == 0
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML.replace("Week", "Weekly"))
    assert run("apply").exit_code == 0
    receiver.requests.clear()
    result = run("apply", "--plan", "stale.json")  # weekly moved since: refused whole
    assert result.exit_code == 1
    assert result.stderr.startswith("error: campaigns of this plan changed since it was made")
    [sent] = receiver.bodies("/json")
    assert (sent["event"], sent["errors"]) == ("refused", [result.stderr[len("error: ") :].strip()])


def test_a_watch_cycle_sends_what_it_applied(
    repo: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML)

    def one_cycle(self: Watcher, report: Any) -> Stopped:
        report(self.reconcile(Trigger.START))
        return Stopped(None, 1)

    monkeypatch.setattr(Watcher, "run", one_cycle)
    result = run("watch")
    assert (result.exit_code, result.stderr) == (0, "")
    [sent] = receiver.bodies("/json")
    assert (sent["event"], sent["operations"], sent["at"]) == (
        "applied",
        [operation("weekly", "activate", "done")],
        "2026-11-27T12:00:00Z",
    )
    receiver.requests.clear()
    assert run("watch", "--dry-run").exit_code == 0  # in sync, and a dry run tells nothing
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML.replace("Week", "Weak"))
    assert run("watch", "--dry-run").exit_code == 0  # a change planned, not applied
    assert receiver.requests == []


def test_a_watch_tells_a_refusal_once_and_every_apply(repo: Path, receiver: Receiver) -> None:
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML.replace("live", "paused"))
    options = api.Options("sqlite:///runtime.db", now=NOW)
    w = Watcher(Path("campaigns"), options)
    tell = api.notifier(options, w.policy_source, w.path)
    told = [tell(w.reconcile(Trigger.START)), tell(w.reconcile(Trigger.INTERVAL))]
    assert [[d.event for d in t] for t in told] == [["refused", "refused"], []]
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML)
    assert [d.event for d in tell(w.reconcile(Trigger.CHANGE, 1))] == ["applied", "applied"]
    assert tell(w.reconcile(Trigger.INTERVAL)) == []  # in sync
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML.replace("live", "paused"))
    assert [d.event for d in tell(w.reconcile(Trigger.CHANGE, 1))] == ["refused", "refused"]


@pytest.mark.parametrize(
    "cycle",
    [
        Cycle(1, NOW, Trigger.START, 0, CycleOutcome.LOCKED, 0.1, error="locked", retry_in=1.0),
        Cycle(1, NOW, Trigger.START, 0, CycleOutcome.UNREACHABLE, 0.1, error="x", retry_in=1.0),
        Cycle(1, NOW, Trigger.START, 0, CycleOutcome.PLANNED, 0.1, plan=plan(WEEKLY)),
    ],
    ids=["locked", "unreachable", "dry-run"],
)
def test_cycles_that_are_tried_again_or_dry_runs_give_no_event(cycle: Cycle) -> None:
    assert notify.run_of(cycle) is None


def test_a_cycle_the_runtime_refused_is_refused() -> None:
    cycle = Cycle(1, NOW, Trigger.START, 0, CycleOutcome.REFUSED, 0.1, error="damaged store")
    assert notify.run_of(cycle) == notify.Run(("refused",), error="damaged store")
    assert notify.run_of(LockedError("locked by ci")) == notify.Run(
        ("refused",), error="locked by ci"
    )


# -- the README's section ------------------------------------------------------------------------

_README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
SECTION = _README[_README.index("## Notifications\n") : _README.index("## Adopting existing")]


def test_the_readme_notifications_section(
    repo: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its project file is a valid one, with the targets it says; its JSON document has the
    fields a real message has; its warning lines are what an apply prints."""
    (text,) = re.findall(r"```yaml\n(.*?)```", SECTION, flags=re.S)
    found = project.parse(text.encode(), "reconciler.yaml")
    assert found.ok, found.diagnostics
    assert [(n.url, n.format, sorted(n.events), n.environments) for n in found.notifications] == [
        ("SLACK_WEBHOOK", "slack", ["drift", "failed", "frozen", "refused"], ("production",)),
        ("RECONCILER_AUDIT_HOOK", "json", sorted(project.EVENTS), None),
    ]
    (shown,) = re.findall(r"```json\n(.*?)```", SECTION, flags=re.S)
    (repo / "campaigns" / "weekly.yaml").write_text(WEEKLY_YAML)
    assert run("apply").exit_code == 0
    [sent] = receiver.bodies("/json")
    document = json.loads(shown)
    assert list(document) == list(sent)
    assert list(document["summary"]) == list(sent["summary"])
    assert list(document["operations"][0]) == list(sent["operations"][0])
    # the warnings, as the README shows them, for its file and variable
    Path("reconciler.yaml").write_text(text)
    monkeypatch.setenv("RECONCILER_PRODUCTION_RUNTIME", "sqlite:///production.db")
    monkeypatch.delenv("SLACK_WEBHOOK", raising=False)
    monkeypatch.delenv("RECONCILER_AUDIT_HOOK", raising=False)
    broken = WEEKLY_YAML.replace("weekly", "daily").replace("state: live", "state: paused")
    (repo / "campaigns" / "daily.yaml").write_text(broken)  # refused: both targets want that
    result = run("apply", "--env", "production")
    assert result.exit_code == 1
    unset = "warning: notification ${SLACK_WEBHOOK} (reconciler.yaml:8) not delivered: " + (
        "SLACK_WEBHOOK is not set"
    )
    assert unset in SECTION
    assert result.stderr.splitlines() == [
        unset,
        "warning: notification ${RECONCILER_AUDIT_HOOK} (reconciler.yaml:12) not delivered: "
        "RECONCILER_AUDIT_HOOK is not set",
    ]
