"""schemathesis against the service's own OpenAPI document (the one it serves, which
``test_service_api.py`` keeps identical to ``schema/runtime-api.json``): whatever the document lets
a client send, and much that it does not, the service answers without a 5xx, with a status,
content type and body the document lists for that operation, and refuses what the document
forbids.

The examples are bounded (a few per operation): the run is a check of the contract on every
change, not a search that takes minutes. The event stream never ends, so it is left out of the
generic run and tested on its own below. Then the answers schemathesis first found wrong, pinned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import positive_data_acceptance

from reconciler.service import openapi
from serving import Served, call, in_thread

#: the administrator's token: a name schemathesis will not revoke by chance, which would leave
#: the rest of the run with 401s
ADMIN = "schemathesis-administrator-7c1f"
#: the rules a request body's value must meet that a JSON schema does not hold: a campaign spec's
#: (the manifest schema and its semantic rules, as the document's description of Spec says) and an
#: RFC 3339 instant's (a valid day, no leap second, within years 1 to 9999 in UTC). A request
#: schemathesis makes as valid may break them; the service says so with a 400 naming the value.
UNWRITTEN = re.compile(r"(writes\[\d+\]\.(copy_base\.)?spec|body\.spec|since|now): ")

schema = schemathesis.openapi.from_dict(openapi.document()).exclude(path="/api/v1/events")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    store = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'rt.db'}"
    with in_thread(store, admin=ADMIN) as s:
        yield s


#: what schemathesis takes for the token when it makes its cases (at collection, before any
#: service runs), replaced by the running service's own as each case is sent
STAND_IN = "administrator-token"


@schema.auth()
class AdministratorToken:
    """The token as schemathesis's own: it then leaves it out of the cases that test a missing or
    a wrong one (a 401 expected), rather than have it added back to every request."""

    def get(self, case: Case[Any], context: schemathesis.AuthContext) -> str:
        return STAND_IN

    def set(self, case: Case[Any], data: str, context: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


def valid_data_is_accepted(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """schemathesis's own check that a request the document calls valid is not a 400, but for
    a value that breaks a rule the document words rather than encodes (:data:`UNWRITTEN`)."""
    if response.status_code == 400 and UNWRITTEN.match(response.json()["message"]):
        return None
    found: bool | None = positive_data_acceptance(ctx, response, case)
    return found


@schema.parametrize()
@hypothesis.settings(max_examples=15, deadline=None)
def test_every_operation_answers_as_documented(case: Case[Any], served: Served) -> None:
    if case.headers.get("Authorization") == f"Bearer {STAND_IN}":
        case.headers["Authorization"] = f"Bearer {served.admin}"
    case.call_and_validate(
        base_url=served.url,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[valid_data_is_accepted],
    )


# --- the event stream, which never ends ---------------------------------------------------------


def first_lines(
    served: Served, query: str, headers: Mapping[str, str] | Mapping[bytes, bytes]
) -> tuple[int, str, list[str]]:
    """The status, content type and first lines of a request for the event stream."""
    with httpx.stream(
        "GET", f"{served.url}/api/v1/events{query}", headers=headers, timeout=10
    ) as response:
        lines: list[str] = []
        for line in response.iter_lines():
            lines.append(line)
            if len(lines) == 2:
                break
        return response.status_code, response.headers["content-type"], lines


def bearer(served: Served) -> dict[str, str]:
    return {"Authorization": f"Bearer {served.admin}"}


def test_the_event_stream_opens_as_documented(served: Served) -> None:
    status, content_type, lines = first_lines(served, "?after=0", bearer(served))
    assert status == 200
    assert content_type.startswith("text/event-stream")
    assert lines[0] == ": reconciler events"
    documented = openapi.document()["paths"]["/api/v1/events"]["get"]["responses"]
    assert sorted(documented) == ["200", "400", "401", "503"]


@pytest.mark.parametrize(
    ("query", "headers", "status", "body"),
    [
        (
            "",
            {},
            401,
            {"kind": "unauthorized", "message": "no token: send Authorization: Bearer TOKEN"},
        ),
        (
            "?after=-1",
            None,
            400,
            {"kind": "invalid", "message": "after: '-1' is not a whole number"},
        ),
        (
            f"?after={2**62 + 1}",
            None,
            400,
            {
                "kind": "invalid",
                "message": "after: '4611686018427387905' is not a whole number",
            },
        ),
    ],
    ids=["no token", "negative", "past the documented maximum"],
)
def test_the_event_stream_refuses_as_documented(
    served: Served, query: str, headers: dict[str, str] | None, status: int, body: dict[str, Any]
) -> None:
    sent = bearer(served) if headers is None else headers
    response = call(served.url, "GET", f"/api/v1/events{query}", headers=sent)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body


# --- what schemathesis found ------------------------------------------------------------------


def test_a_wrong_method_is_405_naming_the_allowed_ones(served: Served) -> None:
    """RFC 9110: a 405 carries Allow (the service's error handler used to drop Starlette's)."""
    response = call(served.url, "TRACE", "/api/v1/lock", served.admin)
    assert response.status_code == 405
    assert sorted(response.headers["allow"].split(", ")) == ["GET", "HEAD", "POST"]
    assert response.json() == {"kind": "method_not_allowed", "message": "method not allowed"}


@pytest.mark.parametrize(
    ("after", "status"),
    [(2**62, 200), (2**62 + 1, 400), (10**18, 200)],
    ids=["the documented maximum", "past it", "19 digits"],
)
def test_a_revision_up_to_the_documented_maximum_is_read(
    served: Served, after: int, status: int
) -> None:
    response = call(served.url, "GET", f"/api/v1/history?after={after}", served.admin)
    assert response.status_code == status
    if status == 200:
        assert response.json() == {"entries": []}
    else:
        assert response.json() == {
            "kind": "invalid",
            "message": f"after: '{after}' is not a whole number",
        }


def test_a_prefix_past_its_documented_length_is_400(served: Served) -> None:
    response = call(served.url, "GET", "/api/v1/applied-keys?prefix=" + "k" * 501, served.admin)
    assert response.status_code == 400
    assert response.json() == {"kind": "invalid", "message": "prefix: longer than 500 characters"}


@pytest.mark.parametrize(
    "last", [b"\xb2", b"9999999999999999999"], ids=["unicode digit", "past 2**63"]
)
def test_a_last_event_id_that_is_no_revision_is_ignored(served: Served, last: bytes) -> None:
    """The stream starts from now, as without one (it answered 500, or cut the stream)."""
    headers = {b"Authorization": f"Bearer {served.admin}".encode(), b"Last-Event-ID": last}
    status, _, lines = first_lines(served, "", headers)
    assert status == 200
    assert lines[0] == ": reconciler events"
