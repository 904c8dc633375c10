"""The dashboard's routes: the runtime's campaigns, versions, history, calendar, drift and
published plans as pages, for people who would rather look than read. Read only.

A person signs in with a token (any role reads). The service keeps the session in the store, so
that every replica knows it, and names it by an HttpOnly, SameSite=Strict cookie (Secure under
https); revoking the token ends its sessions. The sign-in form is protected against cross-site
request forgery by a token that is both a cookie and a field of the form (a cross-site page can
read neither), and the sign-out form by the session's own. The API never reads the cookie: it
takes ``Authorization: Bearer`` only, so a page of another site cannot make a browser call it.

Every page goes out with a Content-Security-Policy that allows no inline script or style, and is
never cached. The pages are pure functions of the runtime's data (:mod:`reconciler.dashboard`);
the list of campaigns is kept per service and brought up to date from the history's new entries,
so that a page of 10,000 campaigns does not read the whole runtime again.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from reconciler import plan as plans
from reconciler.dashboard import pages
from reconciler.dashboard import query as queries
from reconciler.errors import PlanError
from reconciler.model import RuntimeState
from reconciler.runtime.base import HistoryEntry, SessionInfo
from reconciler.runtime.platform import Platform

if TYPE_CHECKING:
    from reconciler.service.app import Service

SESSION_COOKIE = "reconciler_session"
CSRF_COOKIE = "reconciler_csrf"
SESSION_LIFETIME = timedelta(hours=12)
MAX_FORM = 4096  # a sign-in form is a token and a field
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class Listing:
    """The runtime's campaigns and each one's newest history entry, as of a revision: brought up
    to date from the entries written since, not read again whole."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state = RuntimeState(0, {})
        self.last: dict[str, HistoryEntry] = {}
        self.known = -1  # no revision read yet

    def current(self, rt: Platform) -> tuple[RuntimeState, dict[str, HistoryEntry]]:
        with self.lock:
            if rt.revision() != self.known:
                state = rt.snapshot()  # first: the history read after it holds all it saw
                last = dict(self.last)  # a new one: pages being rendered keep theirs
                for entry in rt.history(after=max(self.known, 0)):
                    if entry.revision <= state.revision:
                        last[entry.campaign] = entry
                self.state, self.last, self.known = state, last, state.revision
            return self.state, self.last


def _page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status, headers=HEADERS)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _cookie(response: Response, request: Request, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


async def _session(service: Service, request: Request) -> SessionInfo | None:
    secret = request.cookies.get(SESSION_COOKIE, "")
    if not secret:
        return None
    found = await service.run(lambda rt: rt.session(secret))
    if found is not None:
        request.state.token = found.token
    return found


def _to_signin() -> Response:
    return RedirectResponse("/signin", 303, headers=HEADERS)


def signed_in(
    page: Callable[[Service, Request, SessionInfo], Awaitable[Response]],
) -> Callable[[Service, Request], Awaitable[Response]]:
    """A page for a signed-in person: without a session, the sign-in form; a query the page
    does not take, a 400 page that says why."""

    async def handler(service: Service, request: Request) -> Response:
        session = await _session(service, request)
        if session is None:
            return _to_signin()
        try:
            return await page(service, request, session)
        except queries.QueryError as exc:
            return _page(pages.error_page(400, str(exc)), 400)

    handler.__name__ = page.__name__
    return handler


def _layout(session: SessionInfo) -> dict[str, Any]:
    return {"csrf": session.csrf, "signed_in_as": f"{session.token} ({session.role.value})"}


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


# --- the pages --------------------------------------------------------------------------------


@signed_in
async def campaigns(service: Service, request: Request, session: SessionInfo) -> Response:
    query = queries.parse(_params(request))
    state, last = await service.run(service.listing.current)
    html = pages.campaigns_page(state, last, query, service.clock(), query.tz, **_layout(session))
    return _page(html)


@signed_in
async def campaign(service: Service, request: Request, session: SessionInfo) -> Response:
    name = request.path_params["name"]
    compare, zone = queries.compare(_params(request))

    def read(rt: Platform) -> Any:
        state = rt.snapshot()
        found = state.get(name)
        if found is None:
            return None
        copies = sorted(n for n, c in state.campaigns.items() if c.copied_from == name)
        return found, rt.history(name), rt.sendings(name), copies

    read_back = await service.run(read)
    if read_back is None:
        return _page(pages.error_page(404, f"no campaign named {name!r:.100}"), 404)
    found, history, sendings, copies = read_back
    html = pages.campaign_page(
        found, history, sendings, copies, compare, service.clock(), zone, **_layout(session)
    )
    return _page(html)


@signed_in
async def calendar(service: Service, request: Request, session: SessionInfo) -> Response:
    filters = queries.parse_calendar(_params(request))
    now = service.clock()
    first = filters.first or now.astimezone(ZoneInfo(filters.tz)).date()
    state, _ = await service.run(service.listing.current)
    sendings = await service.run(lambda rt: rt.sendings())
    html = pages.calendar_page(
        state,
        first,
        filters.view,
        filters.tz,
        filters,
        now,
        sendings,
        service.policies,
        **_layout(session),
    )
    return _page(html)


@signed_in
async def drift(service: Service, request: Request, session: SessionInfo) -> Response:
    state, _ = await service.run(service.listing.current)
    drifted = [n for n, c in state.campaigns.items() if c.drifted]

    def histories(rt: Platform) -> list[HistoryEntry]:
        return [e for n in drifted for e in rt.history(n)]

    html = pages.drift_page(state, await service.run(histories), **_layout(session))
    return _page(html)


@signed_in
async def plan_list(service: Service, request: Request, session: SessionInfo) -> Response:
    found = await service.run(lambda rt: rt.published_plans())
    return _page(pages.plans_page(found, **_layout(session)))


@signed_in
async def plan_one(service: Service, request: Request, session: SessionInfo) -> Response:
    text = request.path_params["id"]
    number = int(text) if text.isdigit() and len(text) < 12 else None
    found = await service.run(lambda rt: rt.published_plan(number)) if number else None
    if found is None:
        return _page(pages.error_page(404, f"no published plan #{text!r:.40}"), 404)
    info, data = found
    try:
        shown = plans.from_data(data, f"plan #{number}")
    except PlanError as exc:
        return _page(pages.error_page(500, str(exc)), 500)
    return _page(pages.plan_page(shown, info, **_layout(session)))


# --- signing in and out -------------------------------------------------------------------------


async def signin_form(service: Service, request: Request) -> Response:
    if await _session(service, request) is not None:
        return RedirectResponse("/", 303, headers=HEADERS)
    return _signin(request, None, 200)


def _signin(request: Request, error: str | None, status: int) -> Response:
    csrf = secrets.token_urlsafe(32)
    response = _page(pages.signin_page(csrf, error), status)
    _cookie(response, request, CSRF_COOKIE, csrf, 3600)
    return response


async def _form(request: Request) -> dict[str, str] | None:
    """The posted form (application/x-www-form-urlencoded), or None when it is not one, is too
    long, or comes from another site (its Origin, when the browser sends one, is not ours)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            return None
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), max_num_fields=10))
    except (UnicodeDecodeError, ValueError):
        return None


async def signin(service: Service, request: Request) -> Response:
    form = await _form(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if (
        form is None
        or not cookie
        or not hmac.compare_digest(form.get("csrf", "").encode(), cookie.encode())
    ):
        return _signin(request, "the form expired or came from another site: sign in again", 403)
    secret = form.get("token", "").strip()
    found = await service.run(lambda rt: rt.authenticate(secret)) if secret else None
    if found is None:
        return _signin(request, "this token is not known here (revoked, or mistyped)", 401)
    request.state.token = found.name
    session, _ = await service.run(lambda rt: rt.start_session(found.name, SESSION_LIFETIME))
    response = RedirectResponse("/", 303, headers=HEADERS)
    _cookie(response, request, SESSION_COOKIE, session, int(SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


async def signout(service: Service, request: Request) -> Response:
    session = await _session(service, request)
    form = await _form(request)
    if session is None:
        return _to_signin()
    if form is None or not hmac.compare_digest(
        form.get("csrf", "").encode(), session.csrf.encode()
    ):
        return _page(pages.error_page(403, "the form came from another site"), 403)
    secret = request.cookies[SESSION_COOKIE]
    await service.run(lambda rt: rt.end_session(secret))
    response = _to_signin()
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def favicon(service: Service, request: Request) -> Response:
    """No icon: an answer with nothing in it, rather than a 404 every browser asks for."""
    return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})


ROUTES: list[tuple[str, str, Callable[[Service, Request], Awaitable[Response]]]] = [
    ("GET", "/favicon.ico", favicon),
    ("GET", "/", campaigns),
    ("GET", "/campaigns/{name}", campaign),
    ("GET", "/calendar", calendar),
    ("GET", "/drift", drift),
    ("GET", "/plans", plan_list),
    ("GET", "/plans/{id}", plan_one),
    ("GET", "/signin", signin_form),
    ("POST", "/signin", signin),
    ("POST", "/signout", signout),
]
