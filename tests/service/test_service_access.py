"""Who may do what through the service: every route, without a token, with a revoked one and with
each role, and the exact status each gets; what a refusal says; that nothing refused wrote."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.plan import Plan
from reconciler.runtime.access import Role
from reconciler.runtime.registry import open_runtime
from serving import Served, call, in_thread, make_token

SPEC = {
    "channel": "email",
    "audience": {"segment": "everyone"},
    "content": {"subject": "Hi", "body": "Hello"},
}
OWNER = {"owner": "ci@runner:1", "pid": 1, "host": "runner", "reason": "apply"}
#: a saved plan, as `plan --out` writes it: what any role may publish to the dashboard
SAVED = Plan(runtime="http://service", runtime_id=None, runtime_revision=0).to_json()


def batch(action: str, name: str, **more: Any) -> dict[str, Any]:
    write = {
        "key": f"test/{name}/{action}",
        "action": action,
        "campaign": name,
        "expected_etag": None,
        "actor": "alice",
        "spec": SPEC,
        **more,
    }
    return {"json": {"writes": [write]}}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    needs: Role
    ok: int  # the status of a token whose role is enough
    request: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


CASES = [
    Case("GET", "/api/v1/runtime", Role.VIEWER, 200, {}),
    Case("GET", "/api/v1/snapshot", Role.VIEWER, 200, {}),
    Case("GET", "/api/v1/applied-keys?prefix=test/", Role.VIEWER, 200, {}),
    Case("GET", "/api/v1/history", Role.VIEWER, 200, {}),
    Case("GET", "/api/v1/history?campaign=a&after=1", Role.VIEWER, 200, {}),
    Case("GET", "/api/v1/sendings", Role.VIEWER, 200, {}),
    Case("GET", "/api/v1/lock", Role.VIEWER, 200, {}),
    Case("GET", "/api/v1/segments", Role.VIEWER, 200, {}),
    Case("POST", "/api/v1/plans/verify", Role.VIEWER, 409, {"json": {"plan": {}}}),
    Case("GET", "/api/v1/plans", Role.VIEWER, 200, {}),
    Case("POST", "/api/v1/plans?ref=pr-7", Role.VIEWER, 200, {"json": SAVED}),
    Case("POST", "/api/v1/plans", Role.VIEWER, 200, {"json": SAVED}),
    Case("POST", "/api/v1/batches", Role.MANAGER, 200, batch("create", "drafted")),
    Case("POST", "/api/v1/lock", Role.MANAGER, 200, {"json": {"owner": OWNER}}),
    Case("POST", "/api/v1/lock/release", Role.MANAGER, 200, {"json": {"owner": OWNER}}),
    Case("POST", "/api/v1/batches", Role.APPROVER, 200, batch("activate", "launched")),
    Case(
        "POST",
        "/api/v1/batches",
        Role.APPROVER,
        200,
        batch("copy", "copied", copied_from="launched", activate=True),
    ),
    Case("POST", "/api/v1/plans/sign", Role.APPROVER, 409, {"json": {"plan": {}}}),
    Case("POST", "/api/v1/lock/break", Role.ADMINISTRATOR, 200, {}),
    Case("PUT", "/api/v1/segments/everyone", Role.ADMINISTRATOR, 200, {"json": {"size": 5}}),
    Case("POST", "/api/v1/tick", Role.ADMINISTRATOR, 200, {"json": {}}),
    Case(
        "POST",
        "/api/v1/campaigns/nowhere/edits",
        Role.ADMINISTRATOR,
        409,
        {"json": {"spec": SPEC, "expected_etag": "1", "actor": "console"}},
    ),
    Case(
        "POST",
        "/api/v1/console/campaigns",
        Role.ADMINISTRATOR,
        200,
        {"json": {"name": "console-made", "spec": SPEC, "live": False, "actor": "console"}},
    ),
    Case("GET", "/api/v1/tokens", Role.ADMINISTRATOR, 200, {}),
    Case("DELETE", "/api/v1/tokens/nobody", Role.ADMINISTRATOR, 404, {}),
    Case("POST", "/api/v1/signing-key/rotate", Role.ADMINISTRATOR, 200, {}),
]
WHO = ["none", "revoked", *Role]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, dict[str, str]]]:
    store = f"sqlite:///{tmp_path_factory.mktemp('access') / 'rt.db'}"
    tokens = {role.value: make_token(store, f"as-{role.value}", role) for role in Role}
    tokens["revoked"] = make_token(store, "gone", Role.ADMINISTRATOR)
    with open_runtime(store) as rt:
        rt.revoke_token("gone")  # type: ignore[attr-defined]
    with in_thread(store) as s:
        yield s, tokens


def expected(case: Case, who: str) -> int:
    if who in ("none", "revoked"):
        return 401
    return case.ok if Role(who).includes(case.needs) else 403


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_route_answers_each_role_as_the_role_table_says(
    served: tuple[Served, dict[str, str]], case: Case, who: str
) -> None:
    s, tokens = served
    response = call(s.url, case.method, case.path, tokens.get(who), **case.request)
    assert response.status_code == expected(case, who), response.text
    if response.status_code == 401:
        assert response.json()["kind"] == "unauthorized"
    if response.status_code == 403:
        body = response.json()
        assert body["kind"] == "forbidden"
        assert f"as-{who}" in body["message"] and who in body["message"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"])
def test_health_metrics_and_the_document_need_no_token(
    served: tuple[Served, dict[str, str]], path: str
) -> None:
    s, _ = served
    assert call(s.url, "GET", path).status_code == 200


def test_a_batch_beyond_the_role_is_refused_whole_naming_the_write_token_and_role(
    served: tuple[Served, dict[str, str]],
) -> None:
    s, tokens = served
    with open_runtime(s.store) as rt:
        before = rt.revision()
    writes = [
        batch("create", "first")["json"]["writes"][0],
        batch("activate", "second")["json"]["writes"][0],
    ]
    response = call(s.url, "POST", "/api/v1/batches", tokens["manager"], json={"writes": writes})
    assert response.status_code == 403
    assert response.json() == {
        "kind": "forbidden",
        "message": "activate second needs the approver role; token as-manager has manager; "
        "nothing of the batch was written",
    }
    with open_runtime(s.store) as rt:
        assert rt.revision() == before
        assert rt.snapshot().get("first") is None


def test_the_service_records_the_token_beside_the_actor_the_client_claims(
    served: tuple[Served, dict[str, str]],
) -> None:
    s, tokens = served
    response = call(s.url, "POST", "/api/v1/batches", tokens["manager"], **batch("create", "who"))
    assert response.status_code == 200
    with open_runtime(s.store) as rt:
        (entry,) = rt.history("who")
        assert entry.actor == "as-manager (for alice)"
        campaign = rt.snapshot().campaigns["who"]
        assert campaign.draft is not None and campaign.draft.actor == "as-manager (for alice)"


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({}, b"{", 400, "the body is not JSON: "),
        ({}, b'{"writes": [], "extra": 1}', 400, "writes: [] should be non-empty"),
        (
            {},
            b'{"writes": [{"key": "k", "action": "create", "campaign": "c", "expected_etag": null,'
            b' "actor": "a", "colour": "red"}]}',
            400,
            "writes[0]: Additional properties are not allowed ('colour' was unexpected)",
        ),
        (
            {},
            b'{"writes": [{"key": "k", "action": "create", "campaign": "c", "expected_etag": null,'
            b' "actor": "a", "spec": {"channel": "fax"}}]}',
            400,
            "writes[0].spec: spec.channel: 'fax' is not one of",
        ),
        (
            {},
            b'{"writes": [{"key": "k", "action": "edit", "campaign": "c", "expected_etag": null,'
            b' "actor": "a"}]}',
            400,
            "writes[0].action: 'edit' is not one of",
        ),
        (  # a pattern's $ is the end of the input, as in JSON Schema: no final line break
            {},
            b'{"writes": [{"key": "k", "action": "create", "campaign": "abc\\n",'
            b' "expected_etag": null, "actor": "a"}]}',
            400,
            "writes[0].campaign: 'abc\\n' does not match",
        ),
        (
            {},
            b'{"writes": [{"key": "k\\u0000", "action": "create", "campaign": "abc",'
            b' "expected_etag": null, "actor": "a"}]}',
            400,
            "writes[0].key: 'k\\x00' does not match",
        ),
        ({}, b'{"writes": [{"key": "k"}]}', 400, "writes[0]: 'action' is a required property"),
        ({}, b'"\\ud800"', 400, "the body is not JSON: "),
    ],
)
def test_malformed_bodies_are_400_and_write_nothing(
    served: tuple[Served, dict[str, str]],
    headers: dict[str, str],
    body: bytes,
    status: int,
    message: str,
) -> None:
    s, tokens = served
    with open_runtime(s.store) as rt:
        before = rt.revision()
    response = call(
        s.url,
        "POST",
        "/api/v1/batches",
        tokens["administrator"],
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )
    assert response.status_code == status
    assert response.json()["kind"] == "invalid"
    assert response.json()["message"].startswith(message)
    with open_runtime(s.store) as rt:
        assert rt.revision() == before


def test_a_body_over_16_mib_is_413(served: tuple[Served, dict[str, str]]) -> None:
    s, tokens = served
    body = b'{"writes": ["' + b"x" * (16 * 1024 * 1024) + b'"]}'
    response = call(
        s.url,
        "POST",
        "/api/v1/batches",
        tokens["administrator"],
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == {
        "kind": "too_large",
        "message": f"the body is over {16 * 1024 * 1024} bytes",
    }


def test_unknown_routes_are_404_and_wrong_methods_405(
    served: tuple[Served, dict[str, str]],
) -> None:
    s, tokens = served
    missing = call(s.url, "GET", "/api/v1/nothing", tokens["administrator"])
    assert missing.status_code == 404
    assert missing.json() == {"kind": "not_found", "message": "no route '/api/v1/nothing'"}
    wrong = call(s.url, "DELETE", "/api/v1/snapshot", tokens["administrator"])
    assert wrong.status_code == 405
    assert wrong.json() == {"kind": "method_not_allowed", "message": "method not allowed"}


def test_the_token_is_taken_only_from_the_authorization_header(
    served: tuple[Served, dict[str, str]], tmp_path: Path
) -> None:
    s, tokens = served
    token = tokens["administrator"]
    assert call(s.url, "GET", f"/api/v1/runtime?token={token}").status_code == 401
    cookie = {"Cookie": f"token={token}"}
    assert call(s.url, "GET", "/api/v1/runtime", headers=cookie).status_code == 401
    basic = {"Authorization": f"Basic {token}"}
    assert call(s.url, "GET", "/api/v1/runtime", headers=basic).status_code == 401
