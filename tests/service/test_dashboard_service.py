"""The dashboard over HTTP, against a real ``reconciler serve`` on a loopback port: signing in and
out, the session cookie, cross-site request forgery, the headers every page carries, and that the
API never takes the cookie. What the pages show is tests/test_dashboard_pages.py's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.runtime.access import Role
from reconciler.service.web import CSP, CSRF_COOKIE, SESSION_COOKIE
from serving import Served, in_thread, make_token


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with in_thread(f"sqlite:///{tmp_path / 'runtime.db'}") as found:
        yield found


@pytest.fixture
def viewer(served: Served) -> str:
    return make_token(served.store, "vera", Role.VIEWER)


def browser(served: Served) -> httpx.Client:
    return httpx.Client(base_url=served.url, follow_redirects=False, timeout=30)


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    form = client.get("/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found is not None, form.text
    return client.post("/signin", data={"token": token, "csrf": found.group(1)})


def test_a_page_without_a_session_sends_to_the_sign_in_form(served: Served) -> None:
    with browser(served) as client:
        for path in ("/", "/calendar", "/drift", "/plans", "/campaigns/x", "/plans/1"):
            answer = client.get(path)
            assert (answer.status_code, answer.headers["location"]) == (303, "/signin"), path


def test_signing_in_makes_a_session_cookie_and_opens_the_campaigns(
    served: Served, viewer: str
) -> None:
    with browser(served) as client:
        form = client.get("/signin")
        assert form.status_code == 200
        assert form.headers["content-security-policy"] == CSP
        cookie = form.headers["set-cookie"]
        assert cookie.startswith(f"{CSRF_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
        answer = sign_in(client, viewer)
        assert (answer.status_code, answer.headers["location"]) == (303, "/")
        made = [c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)]
        assert len(made) == 1
        assert "HttpOnly" in made[0] and "SameSite=strict" in made[0] and "Path=/" in made[0]
        assert viewer not in made[0]  # the cookie names a session, never the token
        page = client.get("/")
        assert page.status_code == 200
        assert "vera (viewer)" in page.text
        for header, value in {
            "content-security-policy": CSP,
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "cache-control": "no-store",
            "referrer-policy": "no-referrer",
        }.items():
            assert page.headers[header] == value


@pytest.mark.parametrize(
    ("fields", "cookie", "origin", "status", "said"),
    [
        pytest.param(
            {"csrf": "forged"}, True, None, 403, "the form expired or came from another site",
            id="a field that is not the cookie",
        ),
        pytest.param(
            {"csrf": ""}, True, None, 403, "the form expired or came from another site",
            id="an empty field"
        ),
        pytest.param(
            None, False, None, 403, "the form expired or came from another site", id="no cookie"
        ),
        pytest.param(
            None, True, "https://evil.example", 403, "the form expired or came from another site",
            id="another site's origin",
        ),
        pytest.param(
            {"token": "rcn_" + "x" * 43}, True, None, 401, "this token is not known here",
            id="an unknown token",
        ),
    ],
)  # fmt: skip
def test_a_sign_in_that_is_forged_or_wrong_makes_no_session(
    served: Served,
    viewer: str,
    fields: dict[str, str] | None,
    cookie: bool,
    origin: str | None,
    status: int,
    said: str,
) -> None:
    with browser(served) as client:
        form = client.get("/signin")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert found is not None
        data = {"token": viewer, "csrf": found.group(1)} | (fields or {})
        if not cookie:
            client.cookies.clear()
        headers = {"Origin": origin} if origin else {}
        answer = client.post("/signin", data=data, headers=headers)
        assert answer.status_code == status
        assert said in answer.text
        assert SESSION_COOKIE not in client.cookies
        assert client.get("/").status_code == 303


def test_signing_out_ends_the_session(served: Served, viewer: str) -> None:
    with browser(served) as client:
        sign_in(client, viewer)
        page = client.get("/")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        kept = client.cookies[SESSION_COOKIE]
        forged = client.post("/signout", data={"csrf": "forged"})
        assert forged.status_code == 403
        assert client.get("/").status_code == 200
        answer = client.post("/signout", data={"csrf": found.group(1)})
        assert (answer.status_code, answer.headers["location"]) == (303, "/signin")
        again = httpx.get(served.url + "/", cookies={SESSION_COOKIE: kept})
        assert again.status_code == 303  # the session is gone from the store, not only the cookie


def test_revoking_the_token_ends_its_sessions(served: Served, viewer: str) -> None:
    with browser(served) as client:
        sign_in(client, viewer)
        assert client.get("/").status_code == 200
        revoked = httpx.delete(
            served.url + "/api/v1/tokens/vera", headers={"Authorization": f"Bearer {served.admin}"}
        )
        assert revoked.status_code == 200
        assert client.get("/").status_code == 303


def test_the_api_never_takes_the_session_cookie(served: Served) -> None:
    with browser(served) as client:
        sign_in(client, served.admin)
        answer = client.get("/api/v1/snapshot")
        assert answer.status_code == 401
        assert answer.json() == {
            "kind": "unauthorized",
            "message": "no token: send Authorization: Bearer TOKEN",
        }


def test_a_query_the_page_does_not_take_is_a_400_page(served: Served, viewer: str) -> None:
    with browser(served) as client:
        sign_in(client, viewer)
        answer = client.get("/", params={"sort": "etag"})
        assert answer.status_code == 400
        assert (
            "sort: &#39;etag&#39; is not one of name, title, status, kind, channel, live, draft, "
            "next, changed" in answer.text
        )
        missing = client.get("/campaigns/no-such")
        assert missing.status_code == 404
        assert "no campaign named &#39;no-such&#39;" in missing.text


def test_the_stylesheet_and_script_are_served(served: Served) -> None:
    with browser(served) as client:
        css = client.get("/static/dashboard.css")
        js = client.get("/static/dashboard.js")
    assert (css.status_code, js.status_code) == (200, 200)
    assert css.headers["content-type"].startswith("text/css")
    assert "javascript" in js.headers["content-type"]
