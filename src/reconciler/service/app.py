"""The runtime service: a campaign runtime behind a versioned HTTP API (``/api/v1``), with tokens
and roles, health, metrics and a server-sent event stream of changes.

Built on Starlette (ASGI, served by uvicorn): routing, requests and streaming responses are all
the service needs from a framework. Request bodies are checked against the published OpenAPI
document's own schemas (``openapi.py``), so what is documented is what is enforced.

The service keeps no state of its own. Every answer is read from the store, the event stream
included (fed by the store's change feed), and every rule is the platform's: replicas over one
PostgreSQL store serve the same API, and any of them may die without losing anything.

Runtime calls block (SQLite, psycopg), so each runs in a worker thread with a runtime of its own
from a small pool: a runtime is used by one request at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from reconciler import plan as plans
from reconciler import signing
from reconciler.dashboard import static_dir
from reconciler.errors import (
    PlanError,
    ReconcilerError,
    RuntimeRefused,
    RuntimeUnavailable,
)
from reconciler.model import Action, Campaign, instant
from reconciler.project import NONE, Policies
from reconciler.runtime import wire
from reconciler.runtime.access import (
    TOKEN_PREFIX,
    Capability,
    Role,
    TokenInfo,
    required,
    required_for,
    required_role,
)
from reconciler.runtime.base import (
    Clock,
    HistoryEntry,
    LockOwner,
    Patience,
    Write,
    timestamp,
    utcnow,
)
from reconciler.runtime.platform import Platform
from reconciler.runtime.registry import open_runtime
from reconciler.service import openapi, web
from reconciler.service.metrics import Metrics
from reconciler.validation import validate_spec

T = TypeVar("T")
log = logging.getLogger("reconciler.service")

#: how many runtimes (store connections) a replica's request threads share
CONNECTIONS = 4
#: an idle event stream says so this often, so proxies keep it open
KEEPALIVE_SECONDS = 15.0
#: at most this many history entries are read for one step of an event stream
EVENTS_PAGE = 1000
#: anything shaped like a token, wherever it turns up in a logged value
_TOKEN_LIKE = re.compile(re.escape(TOKEN_PREFIX) + "[A-Za-z0-9_-]*")


class Refusal(Exception):
    """A request answered with an error status and a JSON body ``{kind, message}``."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


class Pool:
    """The runtimes of a replica's request threads, each used by one request at a time."""

    def __init__(self, open_one: Callable[[], Platform], size: int) -> None:
        self._open = open_one
        self._idle: queue.LifoQueue[Platform] = queue.LifoQueue()
        self._slots = threading.Semaphore(size)
        self._all: list[Platform] = []
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def runtime(self) -> Iterator[Platform]:
        with self._slots:
            try:
                runtime = self._idle.get_nowait()
            except queue.Empty:
                runtime = self._open()
                with self._guard:
                    self._all.append(runtime)
            try:
                yield runtime
            finally:
                self._idle.put(runtime)

    def close(self) -> None:
        with self._guard:
            for runtime in self._all:
                with contextlib.suppress(ReconcilerError):
                    runtime.close()
            self._all.clear()


class Feed:
    """The store's change feed, followed by one thread of the replica: the revision it has seen,
    and an event that fires when it moves. Event streams wait on it, then read the store."""

    def __init__(self, open_one: Callable[[], Platform], stopping: threading.Event) -> None:
        self._open = open_one
        self._stopping = stopping
        self.revision = 0
        self._moved = anyio.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        token = anyio.lowlevel.current_token()

        def follow() -> None:
            runtime: Platform | None = None
            while not self._stopping.is_set():
                try:
                    runtime = runtime or self._open()
                    revision = runtime.changes(self.revision, 1.0)
                except ReconcilerError:  # the store is away: streams wait, then resume
                    self._stopping.wait(1.0)
                    continue
                if revision != self.revision:
                    self.revision = revision
                    try:
                        anyio.from_thread.run_sync(self._fire, token=token)
                    except RuntimeError:  # the event loop has ended: so has the service
                        break
            if runtime is not None:
                with contextlib.suppress(ReconcilerError):
                    runtime.close()

        self._thread = threading.Thread(target=follow, name="reconciler-feed", daemon=True)
        self._thread.start()

    def _fire(self) -> None:
        moved, self._moved = self._moved, anyio.Event()
        moved.set()

    async def wait(self, past: int, seconds: float) -> None:
        """Return once the revision is past ``past``, or after ``seconds``."""
        with anyio.move_on_after(seconds):
            while self.revision <= past:
                await self._moved.wait()

    def stop(self) -> None:
        """Let the thread end by itself (within a second: its wait for a change) rather than
        hold up the service's stop for it: it only reads."""
        self._stopping.set()


class Service:
    def __init__(
        self,
        url: str,
        clock: Clock = utcnow,
        *,
        connections: int = CONNECTIONS,
        patience: Patience | None = None,
        max_age: timedelta = signing.DEFAULT_MAX_AGE,
        policies: Policies = NONE,
    ) -> None:
        if url.rstrip("/") == "memory:":  # each open of an unnamed one is another runtime
            url = f"memory://serve-{uuid.uuid4().hex}"
        self.url = url
        self.clock = clock
        #: how long a plan the service signed is applied for (RECONCILER_PLAN_MAX_AGE)
        self.max_age = max_age
        #: the project file's policies (serve --project): the dashboard's calendar marks the
        #: windows over its frequency caps
        self.policies = policies
        self.metrics = Metrics()
        self.stopping = threading.Event()

        def open_one() -> Platform:
            runtime = open_runtime(url, clock=clock, patience=patience)
            if not isinstance(runtime, Platform):
                runtime.close()
                raise RuntimeRefused(
                    "reconciler serve needs a store it keeps its tokens in (sqlite://, "
                    "postgresql:// or memory://), not another service or a plugin's runtime"
                )
            # the service's clients hold the lock as a lease they renew from other machines
            return Platform(runtime.store, clock, leases=True)

        self._open = open_one
        self.pool = Pool(open_one, connections)
        self.feed = Feed(open_one, self.stopping)
        self.listing = web.Listing()  # the dashboard's list of campaigns, kept up to date

    async def run(self, call: Callable[[Platform], T]) -> T:
        """``call`` with a runtime of the pool, in a worker thread."""

        def in_thread() -> T:
            with self.pool.runtime() as runtime:
                return call(runtime)

        return await anyio.to_thread.run_sync(in_thread)

    async def caller(self, request: Request, what: Capability | Action) -> TokenInfo:
        """The token the request carries, if its role may do ``what`` (``access.PERMISSIONS``)."""
        role = required(what)
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Refusal(401, "unauthorized", "no token: send Authorization: Bearer TOKEN")
        found = await self.run(lambda rt: rt.authenticate(secret.strip()))
        if found is None:
            raise Refusal(401, "unauthorized", "the token is not known here (revoked, or mistyped)")
        request.state.token = found.name
        if not found.role.includes(role):
            raise Refusal(
                403,
                "forbidden",
                f"token {found.name} has the {found.role.value} role; "
                f"{_route(request)} needs {role.value}",
            )
        return found

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.feed.start()
        # the dashboard's list of campaigns, read whole before the first request, which then only
        # reads what changed since (a store that is not reachable yet: that request reads it)
        with contextlib.suppress(ReconcilerError):
            await self.run(self.listing.current)
        try:
            yield
        finally:
            self.stopping.set()
            self.feed.stop()
            self.pool.close()


# --- requests and answers --------------------------------------------------------------------


async def _read(request: Request) -> bytes:
    """The request's body; 413 past MAX_BODY, told by its length or found while reading it."""
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > openapi.MAX_BODY:
        raise Refusal(413, "too_large", f"the body is over {openapi.MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > openapi.MAX_BODY:
            raise Refusal(413, "too_large", f"the body is over {openapi.MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _decoded(raw: bytes, schema: str) -> Any:
    """A body as JSON, checked against the API's schema named."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Refusal(400, "invalid", f"the body is not JSON: {exc}") from None
    problem = openapi.request_problem(schema, data)
    if problem is not None:
        raise Refusal(400, "invalid", problem)
    return data


async def _body(request: Request, schema: str) -> Any:
    """The request's JSON body, checked against the API's schema named."""
    return _decoded(await _read(request), schema)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    try:
        body = orjson.dumps(data)
    except orjson.JSONEncodeError:  # an integer past 64 bits, which a manifest may hold
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


#: the largest revision a request may name, as the document says: the stores' integers end at
#: 2**63 - 1, past which the driver overflows
MAX_REVISION = 2**62


def _is_revision(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_REVISION


def _query_int(request: Request, name: str) -> int:
    text = request.query_params.get(name, "0")
    if not _is_revision(text):
        raise Refusal(400, "invalid", f"{name}: {text!r:.40} is not a whole number")
    return int(text)


def _check_spec(where: str, spec: Any) -> None:
    if spec is None:
        return
    problems = validate_spec(spec)
    if problems:
        raise Refusal(400, "invalid", f"{where}.spec: {problems[0]}")


def _acting(token: TokenInfo, claimed: str) -> str:
    """Who did it, as history keeps it: the token, and whom its client says it acts for."""
    claimed = claimed.strip()
    return token.name if claimed in ("", token.name) else f"{token.name} (for {claimed})"


def _lock_owner(token: TokenInfo, owner: str) -> str:
    """A client's lock owner as the service holds it: bound to the token, so another token's
    client cannot renew, release or write under it."""
    return f"{owner} [token {token.name}]"


def _owner(token: TokenInfo, data: Any) -> LockOwner:
    given = wire.owner(data)
    return replace(given, owner=_lock_owner(token, given.owner))


# --- the routes ------------------------------------------------------------------------------

Handler = Callable[[Service, Request], Awaitable[Response]]


async def healthz(service: Service, request: Request) -> Response:
    return _json({"status": "ok"})


async def readyz(service: Service, request: Request) -> Response:
    try:
        await service.run(lambda rt: rt.revision())
    except ReconcilerError as exc:
        raise Refusal(503, "unavailable", f"the store is not reachable: {exc}") from None
    return _json({"status": "ready"})


async def metrics(service: Service, request: Request) -> Response:
    body, content_type = service.metrics.exposition()
    return Response(body, media_type=content_type)


async def openapi_json(service: Service, request: Request) -> Response:
    return _json(openapi.document())


async def runtime_info(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.READ)
    rid, revision = await service.run(lambda rt: (rt.runtime_id(), rt.revision()))
    return _json({"runtime_id": rid, "revision": revision})


async def snapshot(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.READ)

    def read(rt: Platform) -> tuple[str | None, int]:
        return rt.runtime_id(), rt.revision()

    rid, revision = await service.run(read)
    etag = f'"{rid or "new"}.{revision}"'
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": etag})
    state = await service.run(lambda rt: rt.snapshot())
    service.metrics.drift.set(sum(c.drifted for c in state.campaigns.values()))
    etag = f'"{rid or "new"}.{state.revision}"'
    return _json(wire.snapshot_json(state), headers={"ETag": etag})


async def batches(service: Service, request: Request) -> Response:
    token = await service.caller(request, Capability.READ)
    raw = await _read(request)
    # a batch is up to 1,000 writes to read and check: off the event loop, as the writing is
    writes = await anyio.to_thread.run_sync(_writes, raw, token)
    results = await service.run(lambda rt: rt.apply_batch(writes))
    for w, result in zip(writes, results, strict=False):
        service.metrics.applied(w.action.value, result)
    return _json({"results": [wire.result_json(r) for r in results]})


def _writes(raw: bytes, token: TokenInfo) -> list[Write]:
    """A batch's writes as the platform takes them, once each is found well-formed and within
    the token's role: its actor the token's (for the one claimed), its lock the token's."""
    writes: list[Write] = []
    for i, item in enumerate(_decoded(raw, "Batch")["writes"]):
        _check_spec(f"writes[{i}]", item.get("spec"))
        _check_spec(f"writes[{i}].copy_base", item.get("copy_base"))
        w = wire.write(item)
        needed = required_role(w)
        if not token.role.includes(needed):
            raise Refusal(
                403,
                "forbidden",
                f"{w.action.value} {w.campaign} needs the {needed.value} role; token "
                f"{token.name} has {token.role.value}; nothing of the batch was written",
            )
        owner = _lock_owner(token, w.lock_owner) if w.lock_owner is not None else None
        who = replace(w.provenance, actor=_acting(token, w.provenance.actor))
        writes.append(replace(w, provenance=who, lock_owner=owner))
    return writes


#: the longest idempotency key prefix asked for (as the document says)
PREFIX_LIMIT = 500


async def applied_keys(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.READ)
    prefix = request.query_params.get("prefix")
    if prefix is None or "\x00" in prefix:
        raise Refusal(400, "invalid", "prefix: a query parameter, required")
    if len(prefix) > PREFIX_LIMIT:
        raise Refusal(400, "invalid", f"prefix: longer than {PREFIX_LIMIT} characters")
    keys = await service.run(lambda rt: rt.applied_keys(prefix))
    return _json({"keys": sorted(keys)})


def _campaign_query(request: Request) -> str | None:
    name = request.query_params.get("campaign")
    if name is not None and not re.fullmatch(openapi.NAME, name):
        raise Refusal(400, "invalid", f"campaign: {name!r:.80} is not a campaign name")
    return name


async def history(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.READ)
    name = _campaign_query(request)
    after = _query_int(request, "after")
    since_text = request.query_params.get("since")
    since: datetime | None = None
    if since_text is not None:
        try:
            since = instant(since_text)
        except ValueError as exc:
            raise Refusal(400, "invalid", f"since: {exc}") from None
    entries = await service.run(lambda rt: rt.history(name, after=after))
    if since is not None:
        entries = [e for e in entries if instant(e.at) >= since]
    return _json({"entries": [e.to_json() for e in entries]})


async def sendings(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.READ)
    name = _campaign_query(request)
    found = await service.run(lambda rt: rt.sendings(name))
    return _json({"sendings": [x.to_json() for x in found]})


async def lock_state(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.READ)
    held = await service.run(lambda rt: rt.lock())
    return _json({"lock": wire.lock_json(held)})


async def lock_take(service: Service, request: Request) -> Response:
    token = await service.caller(request, Capability.LOCK)
    data = await _body(request, "LockRequest")
    owner = _owner(token, data["owner"])
    ttl = float(data.get("ttl", LEASE_SECONDS))

    def take(rt: Platform) -> Any:
        held = rt.acquire_lock(owner, ttl)
        return (held is None), (held if held is not None else rt.lock())

    acquired, held = await service.run(take)
    if not acquired:
        service.metrics.lock_waits.inc()
    return _json({"acquired": acquired, "lock": wire.lock_json(held)})


#: the ttl of a lock taken over HTTP when the client names none: a lease it renews
LEASE_SECONDS = 15.0


async def lock_release(service: Service, request: Request) -> Response:
    token = await service.caller(request, Capability.LOCK)
    data = await _body(request, "LockRelease")
    owner = _owner(token, data["owner"])

    def release(rt: Platform) -> Any:
        rt.release_lock(owner)
        return rt.lock()

    return _json({"lock": wire.lock_json(await service.run(release))})


async def lock_break(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.ADMINISTER)
    broken = await service.run(lambda rt: rt.break_lock())
    return _json({"lock": wire.lock_json(broken)})


async def segments(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.READ)
    return _json({"segments": await service.run(lambda rt: rt.segments())})


async def segment_put(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.ADMINISTER)
    name = request.path_params["name"]
    if not re.fullmatch(openapi.NAME, name):
        raise Refusal(400, "invalid", f"{name!r:.80} is not a segment name")
    data = await _body(request, "SegmentSize")

    def put(rt: Platform) -> dict[str, int]:
        rt.set_segment(name, data["size"])
        return rt.segments()

    return _json({"segments": await service.run(put)})


async def tick(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.ADMINISTER)
    data = await _body(request, "Tick")
    try:
        now = instant(data["now"]) if "now" in data else service.clock()
    except ValueError as exc:
        raise Refusal(400, "invalid", f"now: {exc}") from None
    steps = await service.run(lambda rt: rt.tick(now))
    for step in steps:
        for x in step.sendings:
            service.metrics.sendings.labels(x.outcome.value).inc()
    return _json({"steps": [wire.step_json(s) for s in steps]})


async def edit(service: Service, request: Request) -> Response:
    token = await service.caller(request, Action.EDIT)
    name = request.path_params["name"]
    if not re.fullmatch(openapi.NAME, name):
        raise Refusal(404, "not_found", f"no campaign {name!r:.80}")
    data = await _body(request, "Edit")
    _check_spec("body", data["spec"])
    actor = _acting(token, data["actor"])
    campaign = await service.run(
        lambda rt: rt.edit(name, data["spec"], data["expected_etag"], actor)
    )
    return _json({"campaign": campaign.to_json()})


async def create(service: Service, request: Request) -> Response:
    token = await service.caller(request, Capability.ADMINISTER)
    data = await _body(request, "Creation")
    name = data["name"]
    _check_spec("body", data["spec"])
    _check_spec("body.copy_base", data.get("copy_base"))
    actor = _acting(token, data["actor"])

    def made(rt: Platform) -> Campaign:
        return rt.create(
            name,
            data["spec"],
            live=data["live"],
            actor=actor,
            copied_from=data.get("copied_from"),
            copy_base=data.get("copy_base"),
            stopped=data.get("stopped", False),
            title=data.get("title"),
            labels=data.get("labels"),
        )

    return _json({"campaign": (await service.run(made)).to_json()})


async def tokens(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.ADMINISTER)
    found = await service.run(lambda rt: rt.tokens())
    return _json({"tokens": [t.to_json() for t in found]})


async def token_create(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.ADMINISTER)
    data = await _body(request, "TokenRequest")
    role = Role(data["role"])

    def create(rt: Platform) -> tuple[str, TokenInfo]:
        secret = rt.create_token(data["name"], role)
        info = next(t for t in rt.tokens() if t.name == data["name"])
        return secret, info

    secret, info = await service.run(create)
    return _json({"token": secret, "info": info.to_json()})


async def token_revoke(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.ADMINISTER)
    name = request.path_params["name"]

    def revoke(rt: Platform) -> list[TokenInfo]:
        if name not in {t.name for t in rt.tokens()}:
            raise Refusal(404, "not_found", f"no token {name!r:.80}")
        rt.revoke_token(name)
        return rt.tokens()

    return _json({"tokens": [t.to_json() for t in await service.run(revoke)]})


async def rotate_key(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.ADMINISTER)
    key = await service.run(lambda rt: rt.rotate_signing_key())
    return _json({"key_id": key})


def _plan(data: Any) -> plans.Plan:
    return plans.from_data(data["plan"], "the plan")


async def plan_sign(service: Service, request: Request) -> Response:
    token = await service.caller(request, Capability.SIGN)
    the_plan = _plan(await _body(request, "PlanBody"))
    for op in the_plan.operations:
        needed = required_for(op.action, activate=op.activate)
        if not token.role.includes(needed):
            raise Refusal(
                403,
                "forbidden",
                f"the plan holds {op.action.value} {op.campaign}, which needs the "
                f"{needed.value} role; token {token.name} has {token.role.value}: not signed",
            )
    key = await service.run(lambda rt: rt.signing_key())
    signed = signing.sign(the_plan, signing.PlanKey.of(key), service.clock())
    assert signed.signature is not None
    return _json({"signature": signed.signature.to_json()})


async def plan_verify(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.READ)
    the_plan = _plan(await _body(request, "PlanBody"))
    if the_plan.signature is None:
        raise PlanError(
            "the plan is not signed, and this runtime service applies only plans it signed: "
            "make it with `plan --out` through the service, with a token whose role may apply it"
        )
    # a key retired since a plan was signed verifies it while the plan may still be applied
    grace = service.max_age + signing.CLOCK_SKEW
    keys = await service.run(lambda rt: rt.signing_keys(grace))
    signing.verify_with_keys(the_plan, keys, service.clock(), service.max_age, "the plan")
    assert the_plan.signature is not None  # verified: signed
    return _json({"key_id": the_plan.signature.key_id})


def _published_ref(request: Request) -> str | None:
    """The ``ref`` a plan is published under: what it is the plan of (a pull request, a commit)."""
    ref = request.query_params.get("ref")
    if ref is not None and not (1 <= len(ref) <= openapi.MAX_REF and "\x00" not in ref):
        raise Refusal(400, "invalid", f"ref: {ref!r:.80} is not 1-{openapi.MAX_REF} characters")
    return ref


async def plan_publish(service: Service, request: Request) -> Response:
    token = await service.caller(request, Capability.PUBLISH)
    ref = _published_ref(request)
    data = await _body(request, "SavedPlan")
    # checked whole, as apply checks a saved plan: off the event loop, a plan may be large
    await anyio.to_thread.run_sync(plans.from_data, data, "the plan")
    published = await service.run(lambda rt: rt.publish_plan(data, ref, token.name))
    return _json(published.to_json())


async def published_plans(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.READ)
    text = request.query_params.get("limit", str(openapi.PUBLISHED_LIMIT))
    number = text.isascii() and text.isdigit() and len(text) <= 3
    if not (number and 1 <= int(text) <= openapi.MAX_PUBLISHED):
        raise Refusal(400, "invalid", f"limit: {text!r:.40} is not 1-{openapi.MAX_PUBLISHED}")
    found = await service.run(lambda rt: rt.published_plans(int(text)))
    return _json({"plans": [p.to_json() for p in found]})


async def events(service: Service, request: Request) -> Response:
    await service.caller(request, Capability.READ)
    last = request.headers.get("last-event-id", "")
    if "after" in request.query_params:
        after = _query_int(request, "after")
    elif _is_revision(last):
        after = int(last)
    else:
        after = await service.run(lambda rt: rt.revision())

    def page(after: int) -> Callable[[Platform], list[HistoryEntry]]:
        return lambda rt: rt.history(after=after, limit=EVENTS_PAGE)

    async def stream() -> AsyncIterator[bytes]:
        seen = after
        quiet_since = time.monotonic()
        yield b": reconciler events\n\n"
        while not service.stopping.is_set():
            known = service.feed.revision  # before the read: what it holds is at least this
            entries = await service.run(page(seen))
            for e in entries:
                data = {"revision": e.revision, "campaign": e.campaign, "operation": e.operation}
                yield f"id: {e.revision}\nevent: change\ndata: {json.dumps(data)}\n\n".encode()
                seen = e.revision
            if entries:
                quiet_since = time.monotonic()
                continue
            seen = max(seen, known)
            await service.feed.wait(seen, 1.0)
            if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield b": keepalive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/healthz", healthz),
    ("GET", "/readyz", readyz),
    ("GET", "/metrics", metrics),
    ("GET", "/api/v1/openapi.json", openapi_json),
    ("GET", "/api/v1/runtime", runtime_info),
    ("GET", "/api/v1/snapshot", snapshot),
    ("POST", "/api/v1/batches", batches),
    ("GET", "/api/v1/applied-keys", applied_keys),
    ("GET", "/api/v1/history", history),
    ("GET", "/api/v1/sendings", sendings),
    ("GET", "/api/v1/lock", lock_state),
    ("POST", "/api/v1/lock", lock_take),
    ("POST", "/api/v1/lock/release", lock_release),
    ("POST", "/api/v1/lock/break", lock_break),
    ("GET", "/api/v1/segments", segments),
    ("PUT", "/api/v1/segments/{name}", segment_put),
    ("POST", "/api/v1/tick", tick),
    ("POST", "/api/v1/console/campaigns", create),
    ("POST", "/api/v1/campaigns/{name}/edits", edit),
    ("GET", "/api/v1/tokens", tokens),
    ("POST", "/api/v1/tokens", token_create),
    ("DELETE", "/api/v1/tokens/{name}", token_revoke),
    ("POST", "/api/v1/signing-key/rotate", rotate_key),
    ("POST", "/api/v1/plans/sign", plan_sign),
    ("POST", "/api/v1/plans/verify", plan_verify),
    ("GET", "/api/v1/plans", published_plans),
    ("POST", "/api/v1/plans", plan_publish),
    ("GET", "/api/v1/events", events),
]


def _error(status: int, kind: str, message: str) -> Response:
    return _json({"kind": kind, "message": message}, status)


def build_app(service: Service) -> Starlette:
    """The ASGI app of ``service``: its routes, errors as JSON, and an access log and metrics
    for every request."""

    def bound(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(service, request)
            except Refusal as exc:
                return _error(exc.status, exc.kind, exc.message)
            except RuntimeUnavailable as exc:
                return _error(503, "unavailable", str(exc))
            except ReconcilerError as exc:  # refused: the lock, a conflict, a lifecycle rule
                body = wire.error_json(exc)
                return _json(body, 409)

        endpoint.__name__ = handler.__name__
        return endpoint

    paths: dict[str, list[tuple[str, Handler]]] = {}
    for method, path, handler in [*ROUTES, *web.ROUTES]:
        paths.setdefault(path, []).append((method, handler))
    routes: list[BaseRoute] = []
    for path, handlers in paths.items():
        by_method = {method: bound(handler) for method, handler in handlers}

        async def dispatch(request: Request, by_method: dict[str, Any] = by_method) -> Response:
            return await by_method[request.method](request)  # type: ignore[no-any-return]

        routes.append(Route(path, dispatch, methods=list(by_method)))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid")
        message = {404: f"no route {request.url.path!r:.200}", 405: "method not allowed"}
        answer = _error(exc.status_code, kind, message.get(exc.status_code, str(exc.detail)))
        answer.headers.update(exc.headers or {})  # a 405's Allow (RFC 9110)
        return answer

    routes.append(Mount("/static", StaticFiles(directory=str(static_dir())), name="static"))
    app = Starlette(
        routes=routes,
        lifespan=service.lifespan,
        exception_handlers={HTTPException: http_error},
    )
    app.add_middleware(_Observed, service=service)
    return app


class _Observed:
    """Every request: a line of JSON in the access log (never a token), and its metrics."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            seconds = time.perf_counter() - started
            self.service.metrics.request(scope["method"], route, status, seconds)
            state = scope.get("state") or {}
            log.info(
                json.dumps(
                    {
                        "time": timestamp(utcnow()),
                        "method": scope["method"],
                        "path": _TOKEN_LIKE.sub(TOKEN_PREFIX + "***", scope["path"]),
                        "route": route,
                        "status": status,
                        "ms": round(seconds * 1000, 1),
                        "token": state.get("token"),
                        "client": (scope.get("client") or ("", 0))[0],
                    },
                    ensure_ascii=True,
                )
            )
