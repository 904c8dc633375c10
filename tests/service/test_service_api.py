"""The service's API as clients see it: the OpenAPI document, snapshots and their ETags, the event
stream, history filters, the lock as a lease, plans signed and verified, metrics."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.errors import PlanError, RuntimeURLError
from reconciler.model import Action
from reconciler.plan import Plan
from reconciler.runtime.access import Role
from reconciler.runtime.base import LockOwner, Provenance, Write
from reconciler.runtime.http import HTTPRuntime
from reconciler.service import openapi
from reconciler.service.server import bind, server
from serving import Served, call, in_thread, make_token, wait_ready

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "schema" / "runtime-api.json"
SPEC = {
    "channel": "email",
    "audience": {"segment": "everyone"},
    "content": {"subject": "Hi", "body": "Hello"},
}


def document_text() -> str:
    return json.dumps(openapi.document(), indent=2, ensure_ascii=False) + "\n"


def test_the_committed_document_is_the_one_the_service_serves(tmp_path: Path) -> None:
    if os.environ.get("RECONCILER_REGENERATE_GOLDEN") == "1":
        COMMITTED.write_text(document_text(), encoding="utf-8")
    assert COMMITTED.read_text(encoding="utf-8") == document_text(), (
        "schema/runtime-api.json is out of date: RECONCILER_REGENERATE_GOLDEN=1 pytest "
        "tests/service/test_service_api.py rewrites it"
    )
    with in_thread(f"sqlite:///{tmp_path}/rt.db") as s:
        served = call(s.url, "GET", "/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert served.json()["openapi"] == "3.1.0"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with in_thread(f"sqlite:///{tmp_path}/rt.db") as s:
        yield s


def create(name: str, key: str | None = None) -> Write:
    return Write(
        key=key or f"test/{name}",
        action=Action.CREATE,
        campaign=name,
        expected_etag=None,
        provenance=Provenance("alice"),
        spec=SPEC,
    )


def test_an_unchanged_snapshot_answers_304_to_its_etag(served: Served) -> None:
    first = call(served.url, "GET", "/api/v1/snapshot", served.admin)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.json() == {"revision": 0, "campaigns": []}
    again = call(served.url, "GET", "/api/v1/snapshot", served.admin,
                 headers={"If-None-Match": etag})  # fmt: skip
    assert again.status_code == 304
    assert again.content == b""
    with HTTPRuntime(served.url, token=served.admin) as rt:
        rt.apply(create("one"))
    moved = call(served.url, "GET", "/api/v1/snapshot", served.admin,
                 headers={"If-None-Match": etag})  # fmt: skip
    assert moved.status_code == 200
    assert moved.headers["etag"] != etag
    assert [c["name"] for c in moved.json()["campaigns"]] == ["one"]


def test_the_client_reuses_an_unchanged_snapshot(served: Served) -> None:
    with HTTPRuntime(served.url, token=served.admin) as rt:
        rt.apply(create("one"))
        first = rt.snapshot()
        assert rt.snapshot() is first  # a 304: the same object, not read again
        rt.apply(create("two"))
        assert sorted(rt.snapshot().campaigns) == ["one", "two"]


def read_events(url: str, token: str, after: int, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "GET", f"{url}/api/v1/events?after={after}", headers=headers, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        for line in response.iter_lines():
            if line.startswith("id: "):
                event["id"] = int(line[4:])
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and event:
                found.append(event)
                event = {}
                if len(found) == count:
                    return found
    return found


def test_the_event_stream_replays_after_a_revision_then_follows(served: Served) -> None:
    with HTTPRuntime(served.url, token=served.admin) as rt:
        rt.apply(create("one"))
        rt.apply(create("two"))
        later: list[dict[str, Any]] = []
        reader = threading.Thread(
            target=lambda: later.extend(read_events(served.url, served.admin, 1, 2))
        )
        reader.start()
        time.sleep(0.3)
        rt.apply(create("three"))
        reader.join(timeout=20)
    assert later == [
        {"id": 2, "data": {"revision": 2, "campaign": "two", "operation": "create"}},
        {"id": 3, "data": {"revision": 3, "campaign": "three", "operation": "create"}},
    ]


def test_history_filters_by_campaign_and_revision(served: Served) -> None:
    with HTTPRuntime(served.url, token=served.admin) as rt:
        for name in ("a", "b", "c"):
            rt.apply(create(name))
        assert [e.campaign for e in rt.history()] == ["a", "b", "c"]
        assert [e.campaign for e in rt.history("b")] == ["b"]
        assert [e.campaign for e in rt.history(after=1)] == ["b", "c"]
    since = call(served.url, "GET", "/api/v1/history?since=2999-01-01T00:00:00Z", served.admin)
    assert since.json() == {"entries": []}
    bad = call(served.url, "GET", "/api/v1/history?since=yesterday", served.admin)
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("since: 'yesterday' is not a date-time")


def test_the_lock_over_http_is_a_lease_bound_to_the_token(served: Served) -> None:
    other = make_token(served.store, "other", Role.MANAGER)
    owner = LockOwner("ci@runner:7", 7, "runner", "apply")
    with HTTPRuntime(served.url, token=served.admin) as rt:
        assert rt.acquire_lock(owner) is None
        held = rt.lock()
        assert held is not None
        assert held.holder.owner == "ci@runner:7 [token admin]"
        # the same owner string from another token's client is another holder
        with HTTPRuntime(served.url, token=other) as theirs:
            found = theirs.acquire_lock(owner)
            assert found is not None and found.holder.owner == "ci@runner:7 [token admin]"
            theirs.release_lock(owner)  # not theirs to release
        assert rt.lock() is not None
        rt.release_lock(owner)
        assert rt.lock() is None


def test_the_metrics_count_requests_and_operations(served: Served) -> None:
    with HTTPRuntime(served.url, token=served.admin) as rt:
        rt.apply(create("one"))
        rt.apply(create("one"))  # replayed
    text = call(served.url, "GET", "/metrics").text
    assert 'reconciler_operations_total{action="create",outcome="applied"} 1.0' in text
    assert 'reconciler_operations_total{action="create",outcome="replayed"} 1.0' in text
    assert (
        'reconciler_http_requests_total{method="POST",route="/api/v1/batches",status="200"} 2.0'
        in text
    )
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    assert names and all(n.startswith("reconciler_") for n in names)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for localhost, and its key (made by openssl)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_https_is_verified_against_the_ca_bundle_given(
    tmp_path: Path, certificate: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with in_thread(f"sqlite:///{tmp_path}/rt.db", tls=certificate) as s:
        assert s.url.startswith("https://localhost:")
        monkeypatch.delenv("RECONCILER_CA_BUNDLE", raising=False)
        with HTTPRuntime(s.url, token=s.admin) as rt, pytest.raises(RuntimeURLError) as caught:
            rt.revision()  # at once: no retry will change the certificate
        assert str(caught.value).startswith(f"cannot reach runtime {s.url}: ")
        assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
        assert str(caught.value).endswith(
            "its certificate is not trusted here: set RECONCILER_CA_BUNDLE to the certificate of "
            "the CA that signed it"
        )
        monkeypatch.setenv("RECONCILER_CA_BUNDLE", certificate[0])
        with HTTPRuntime(s.url, token=s.admin) as rt:
            assert rt.revision() == 0


def test_a_redirect_is_not_followed_and_the_token_goes_nowhere_else() -> None:
    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(307)
            self.send_header("Location", "http://elsewhere.example/api/v1/runtime")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as redirector:
        threading.Thread(target=redirector.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{redirector.server_address[1]}"
        with HTTPRuntime(url, token="rcn_" + "x" * 43) as rt, pytest.raises(RuntimeURLError) as e:
            rt.revision()
        redirector.shutdown()
    assert str(e.value) == (
        f"runtime {url} redirects (307) to 'http://elsewhere.example/api/v1/runtime'; give the "
        "URL it serves at (a token is never sent on)"
    )
    assert seen == ["Bearer rcn_" + "x" * 43]  # one request, to the URL given


def test_ready_only_while_the_store_answers(tmp_path: Path) -> None:
    # no server listens on port 1: the service is alive, its store is not reachable
    store = "postgresql://root@127.0.0.1:1/test?connect_timeout=1"
    sock = bind("127.0.0.1", 0)
    the_server = server(store, sock)
    thread = threading.Thread(target=the_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        deadline = time.monotonic() + 10
        while not the_server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert call(url, "GET", "/healthz").json() == {"status": "ok"}
        ready = call(url, "GET", "/readyz")
        assert ready.status_code == 503
        assert ready.json()["kind"] == "unavailable"
        assert ready.json()["message"].startswith(
            "the store is not reachable: cannot connect to runtime postgresql://root@127.0.0.1:1/"
        )
    finally:
        the_server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.parametrize("value", ["²", "-1", "1e3", "9" * 19])
def test_a_revision_that_is_no_whole_number_is_400(served: Served, value: str) -> None:
    answer = call(served.url, "GET", "/api/v1/history", served.admin, params={"after": value})
    assert answer.status_code == 400
    assert answer.json() == {
        "kind": "invalid",
        "message": f"after: {value!r} is not a whole number",
    }


def test_a_plan_the_service_signed_is_applied_for_its_max_age(tmp_path: Path) -> None:
    clock = [datetime(2026, 6, 1, 12, 0, tzinfo=UTC)]
    store = f"sqlite:///{tmp_path}/rt.db"
    sock = bind("127.0.0.1", 0)
    the_server = server(store, sock, clock=lambda: clock[0], max_age=timedelta(hours=1))
    admin = make_token(store, "admin", Role.ADMINISTRATOR)
    thread = threading.Thread(target=the_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    wait_ready(url)
    try:
        with HTTPRuntime(url, token=admin) as rt:
            body = Plan(runtime=url, runtime_id=rt.runtime_id(), runtime_revision=0).to_json()
            body["signature"] = rt.sign_plan(body)
            clock[0] += timedelta(minutes=59)
            assert rt.verify_plan(body) == body["signature"]["key_id"]
            clock[0] += timedelta(minutes=2)
            with pytest.raises(PlanError) as caught:
                rt.verify_plan(body)
        assert str(caught.value) == (
            "the plan: the plan was signed at 2026-06-01T12:00:00.000Z, 1h 1m ago, and a signed "
            "plan is applied for 1h (RECONCILER_PLAN_MAX_AGE); nothing was applied. Plan again"
        )
    finally:
        the_server.should_exit = True
        thread.join(timeout=30)


# --- plans published to the dashboard ---------------------------------------------------------


def saved_plan(revision: int) -> dict[str, Any]:
    return Plan(runtime="http://x", runtime_id=None, runtime_revision=revision).to_json()


def test_any_role_publishes_a_plan_under_a_ref_and_the_open_ones_are_listed(
    tmp_path: Path,
) -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with in_thread(f"sqlite:///{tmp_path}/rt.db", lambda: now) as s:
        viewer = make_token(s.store, "pr-bot", Role.VIEWER)
        first = call(s.url, "POST", "/api/v1/plans?ref=pr-7", viewer, json=saved_plan(1))
        assert first.status_code == 200, first.text
        assert first.json() == {
            "id": 1,
            "plan_id": saved_plan(1)["plan_id"],
            "ref": "pr-7",
            "published_at": "2026-06-01T12:00:00.000Z",
            "published_by": "pr-bot",
            "summary": saved_plan(1)["summary"],
        }
        client = HTTPRuntime(s.url, token=viewer)
        try:
            second = client.publish_plan(saved_plan(2), "pr-7")
            alone = client.publish_plan(saved_plan(3), None)
            assert (second.id, alone.id, alone.ref) == (2, 3, None)
            assert client.published_plans() == [alone, second]
            assert client.published_plans(limit=1) == [alone]
        finally:
            client.close()
        listed = call(s.url, "GET", "/api/v1/plans?limit=500", viewer)
        assert [p["id"] for p in listed.json()["plans"]] == [3, 2]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ref=", "ref: '' is not 1-200 characters"),
        ("ref=" + "x" * 201, f"ref: {'x' * 201!r:.80} is not 1-200 characters"),
        ("ref=a%00b", "ref: 'a\\x00b' is not 1-200 characters"),
    ],
    ids=["empty", "long", "nul"],
)
def test_a_ref_that_is_no_ref_is_400(served: Served, query: str, message: str) -> None:
    answer = call(served.url, "POST", f"/api/v1/plans?{query}", served.admin, json=saved_plan(1))
    assert (answer.status_code, answer.json()) == (400, {"kind": "invalid", "message": message})


@pytest.mark.parametrize("limit", ["0", "501", "-1", "x", "1" * 30])
def test_a_limit_out_of_range_is_400(served: Served, limit: str) -> None:
    answer = call(served.url, "GET", f"/api/v1/plans?limit={limit}", served.admin)
    assert answer.status_code == 400
    assert answer.json()["message"] == f"limit: {limit!r:.40} is not 1-500"


def test_what_is_no_saved_plan_is_refused_and_nothing_is_published(served: Served) -> None:
    shapeless = call(served.url, "POST", "/api/v1/plans", served.admin, json={"plan": {}})
    assert shapeless.status_code == 400
    assert shapeless.json()["message"].startswith("body: 'format_version' is a required property")
    altered = {**saved_plan(1), "commit": "forged"}
    refused = call(served.url, "POST", "/api/v1/plans", served.admin, json=altered)
    assert (refused.status_code, refused.json()) == (
        409,
        {
            "kind": "plan",
            "message": "the plan: its plan_id does not match its content; the plan was altered "
            "after it was made. Nothing was applied",
        },
    )
    assert call(served.url, "GET", "/api/v1/plans", served.admin).json() == {"plans": []}
