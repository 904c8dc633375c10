"""An ``http(s)://`` runtime: a runtime behind ``reconciler serve``, through its API (``/api/v1``).

Every command works through it as through a local runtime. The client keeps one connection pool,
sends the token (the file ``RECONCILER_TOKEN_FILE`` names, or ``RECONCILER_TOKEN``) to the URL it
was given and nowhere else (redirects are not followed), verifies certificates
(``RECONCILER_CA_BUNDLE`` names a private CA), and retries what is transient (a connection lost,
a timeout, 502, 503, 504) with backoff: a batch is sent again with the same idempotency keys, so a
write the service committed before its answer was lost is replayed, not done twice. A refusal is
never retried.

The apply lock is a lease over HTTP: taken with a short ttl and renewed by a thread of the client
while it is held, so a client that dies releases it within LEASE_SECONDS.

The change feed is the service's event stream, followed by a thread once asked for: a change made
anywhere reaches a ``watch`` as fast as the service's store announces it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from reconciler import errors
from reconciler.model import Campaign, RuntimeState, Sending, Spec
from reconciler.runtime import wire
from reconciler.runtime.access import Role, TokenInfo
from reconciler.runtime.base import (
    LOCK_TTL_SECONDS,
    Applied,
    Clock,
    HistoryEntry,
    LockInfo,
    LockOwner,
    Patience,
    PublishedPlan,
    Write,
    redacted,
    single,
    timestamp,
)
from reconciler.runtime.engine import Step

TOKEN_VARIABLE = "RECONCILER_TOKEN"
TOKEN_FILE_VARIABLE = "RECONCILER_TOKEN_FILE"
CA_VARIABLE = "RECONCILER_CA_BUNDLE"
#: the longest ttl of the lock over HTTP: the client renews it three times a ttl while it holds it
LEASE_SECONDS = 15.0
CONNECT_SECONDS = 10.0
#: how often the revision is asked for while the event stream is not up
POLL_SECONDS = 0.25
#: how long an answer may take: a batch waits behind other writers at the service
READ_SECONDS = 120.0
#: statuses worth another try: the service or a proxy in front of it is briefly away
TRANSIENT = frozenset({502, 503, 504})
#: writes sent in one request at most (the API's own limit is 1,000)
BATCH_LIMIT = 500


def token_from_environment() -> str | None:
    """The token the environment gives: the file ``RECONCILER_TOKEN_FILE`` names (``--token-file``),
    else ``RECONCILER_TOKEN``; None for none."""
    path = os.environ.get(TOKEN_FILE_VARIABLE, "").strip()
    if not path:
        return os.environ.get(TOKEN_VARIABLE, "").strip() or None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.RuntimeURLError(
            f"{TOKEN_FILE_VARIABLE}: cannot read the token file {path!r:.200}: "
            f"{getattr(exc, 'strerror', None) or exc}"
        ) from None


def _verify() -> ssl.SSLContext | bool:
    bundle = os.environ.get(CA_VARIABLE, "").strip()
    if not bundle:
        return True
    try:
        return ssl.create_default_context(cafile=bundle)
    except (OSError, ssl.SSLError) as exc:
        raise errors.RuntimeURLError(
            f"{CA_VARIABLE}: cannot read the CA bundle {bundle!r:.200}: {exc}"
        ) from None


class HTTPRuntime:
    """A runtime behind ``reconciler serve``: the :class:`~reconciler.runtime.base.Runtime`, the
    simulator's controls and the administration, each one request (or a few) of the API."""

    def __init__(self, url: str, patience: Patience | None = None, token: str | None = None):
        patience = patience or Patience()
        self._url = url
        self.shown = redacted(url)
        self._patience = patience
        connect = patience.connect_seconds or CONNECT_SECONDS
        #: how long transient failures are retried: --connect-timeout's, or 10 s
        self._retry_seconds = connect
        headers = {"User-Agent": "reconciler"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._has_token = bool(token)
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            headers=headers,
            verify=_verify(),
            timeout=httpx.Timeout(READ_SECONDS, connect=connect),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment gets the token
        )
        self._snapshot: tuple[str, RuntimeState] | None = None
        self._leases: dict[str, threading.Event] = {}
        self._follower: _Follower | None = None

    @property
    def url(self) -> str:
        return self._url

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for stop in self._leases.values():
            stop.set()
        self._leases.clear()
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        self._client.close()

    # --- requests ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The answer to one request, retried while the failure is transient."""
        # orjson, not httpx's json= (the standard library's): a batch is hundreds of specs
        content = _encoded(body) if body is not None else None
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if content else {})}
        deadline = time.monotonic() + self._retry_seconds
        attempt = 0
        while True:
            try:
                response = self._client.request(
                    method, "/api/v1" + path, content=content, params=params, headers=sent
                )
            except httpx.TransportError as exc:
                failure = f"cannot reach runtime {self.shown}: {_one_line(exc)}"
                if _untrusted(exc):  # no retry will change the certificate
                    raise errors.RuntimeURLError(
                        f"{failure}; its certificate is not trusted here: set {CA_VARIABLE} to "
                        "the certificate of the CA that signed it"
                    ) from None
            else:
                if response.status_code not in TRANSIENT:
                    return self._checked(response)
                failure = f"runtime {self.shown} answered {response.status_code}: " + _message(
                    response
                )
            attempt += 1
            pause = min(2.0, 0.1 * 2**attempt) * (0.5 + random.random() / 2)
            if time.monotonic() + pause > deadline:
                raise errors.RuntimeUnavailable(failure)
            time.sleep(pause)

    def _checked(self, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status < 300 or status == 304:
            return response
        message = _message(response)
        if 300 <= status < 400:
            raise errors.RuntimeURLError(
                f"runtime {self.shown} redirects ({status}) to "
                f"{response.headers.get('location', '?')!r:.200}; give the URL it serves at "
                "(a token is never sent on)"
            )
        if status == 401:
            advice = "" if self._has_token else f"; set {TOKEN_VARIABLE}"
            raise errors.ForbiddenError(f"runtime {self.shown}: 401 {message}{advice}")
        if status == 403:
            raise errors.ForbiddenError(f"runtime {self.shown}: 403 {message}")
        if status == 409:
            body = _body(response)
            if isinstance(body, dict) and "kind" in body:
                raise wire.error(body)
            raise errors.RefusedError(f"runtime {self.shown}: {message}")
        if status >= 500:
            raise errors.RuntimeStoreError(f"runtime {self.shown} failed ({status}): {message}")
        raise errors.RefusedError(f"runtime {self.shown} refused the request ({status}): {message}")

    def _get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return self._json(self._request("GET", path, params=query))

    def _post(self, path: str, body: Any, method: str = "POST") -> Any:
        return self._json(self._request(method, path, body))

    def _json(self, response: httpx.Response) -> Any:
        try:
            return orjson.loads(response.content)
        except ValueError:
            raise errors.RuntimeStoreError(
                f"runtime {self.shown} answered with something other than JSON"
            ) from None

    # --- the runtime ------------------------------------------------------------------------

    def runtime_id(self) -> str | None:
        found: str | None = self._get("/runtime")["runtime_id"]
        return found

    def revision(self) -> int:
        found: int = self._get("/runtime")["revision"]
        return found

    def snapshot(self) -> RuntimeState:
        """Every campaign; an unchanged runtime (304 to the last ETag) is not sent again."""
        held = self._snapshot
        headers = {"If-None-Match": held[0]} if held else None
        response = self._request("GET", "/snapshot", headers=headers)
        if response.status_code == 304 and held is not None:
            return held[1]
        state = wire.snapshot(self._json(response))
        etag = response.headers.get("etag")
        self._snapshot = (etag, state) if etag else None
        return state

    def changes(self, since: int, timeout: float) -> int:
        """Through the event stream, followed from the first call on; while it is not up (being
        connected, or the service away), by asking for the revision every POLL_SECONDS."""
        if self._follower is None:
            self._follower = _Follower(self, since)
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            found = self._follower.wait(since, remaining)
            if found is None:  # the stream is not up: ask
                found = self.revision()
            if found > since or time.monotonic() >= deadline:
                return found

    def apply(self, write: Write) -> Applied:
        return single(self.apply_batch([write]))

    def apply_batch(self, writes: Sequence[Write]) -> list[Applied | errors.ReconcilerError]:
        results: list[Applied | errors.ReconcilerError] = []
        for start in range(0, len(writes), BATCH_LIMIT):
            chunk = [wire.write_json(w) for w in writes[start : start + BATCH_LIMIT]]
            answer = self._post("/batches", {"writes": chunk})
            results += [wire.result(r) for r in answer["results"]]
            if len(answer["results"]) < len(chunk):  # refused: the rest is not attempted
                break
        return results

    def applied_keys(self, prefix: str) -> frozenset[str]:
        return frozenset(self._get("/applied-keys", prefix=prefix)["keys"])

    def history(self, campaign: str | None = None, after: int = 0) -> list[HistoryEntry]:
        answer = self._get("/history", campaign=campaign, after=after or None)
        return [HistoryEntry.from_json(e) for e in answer["entries"]]

    def sendings(self, campaign: str | None = None) -> list[Sending]:
        return [Sending.from_json(x) for x in self._get("/sendings", campaign=campaign)["sendings"]]

    def lock(self) -> LockInfo | None:
        return wire.lock(self._get("/lock")["lock"])

    def acquire_lock(self, owner: LockOwner, ttl: float = LOCK_TTL_SECONDS) -> LockInfo | None:
        """Take the lock as a lease, renewed by a thread while this runtime holds it."""
        lease = min(ttl, LEASE_SECONDS)
        answer = self._post("/lock", {"owner": wire.owner_json(owner), "ttl": lease})
        if not answer["acquired"]:
            return wire.lock(answer["lock"])
        if owner.owner not in self._leases:
            stop = threading.Event()
            self._leases[owner.owner] = stop
            threading.Thread(
                target=self._renew, args=(owner, lease, stop), name="reconciler-lease", daemon=True
            ).start()
        return None

    def _renew(self, owner: LockOwner, lease: float, stop: threading.Event) -> None:
        body = {"owner": wire.owner_json(owner), "ttl": lease}
        while not stop.wait(lease / 3):
            with contextlib.suppress(errors.ReconcilerError):  # the next batch will tell
                answer = self._post("/lock", body)
                if not answer["acquired"]:
                    return  # lost: the holder's next write is refused, and says so

    def release_lock(self, owner: LockOwner) -> None:
        stop = self._leases.pop(owner.owner, None)
        if stop is not None:
            stop.set()
        self._post("/lock/release", {"owner": wire.owner_json(owner)})

    # --- the simulator's controls ----------------------------------------------------------

    def tick(self, now: datetime) -> list[Step]:
        answer = self._post("/tick", {"now": timestamp(now)})
        return [wire.step(s) for s in answer["steps"]]

    def set_segment(self, name: str, size: int) -> None:
        self._post(f"/segments/{name}", {"size": size}, method="PUT")

    def segments(self) -> dict[str, int]:
        found: dict[str, int] = self._get("/segments")["segments"]
        return found

    def edit(self, campaign: str, spec: Spec, expected_etag: str, actor: str) -> Campaign:
        body = {"spec": spec, "expected_etag": expected_etag, "actor": actor}
        return Campaign.from_json(self._post(f"/campaigns/{campaign}/edits", body)["campaign"])

    def create(
        self,
        name: str,
        spec: Spec,
        *,
        live: bool,
        actor: str,
        copied_from: str | None = None,
        copy_base: Spec | None = None,
        stopped: bool = False,
        title: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Campaign:
        body = {
            "name": name,
            "spec": spec,
            "live": live,
            "actor": actor,
            "copied_from": copied_from,
            "copy_base": copy_base,
            "stopped": stopped,
            "title": title,
            "labels": dict(labels) if labels is not None else None,
        }
        return Campaign.from_json(self._post("/console/campaigns", body)["campaign"])

    # --- administration ---------------------------------------------------------------------

    def create_token(self, name: str, role: Role) -> str:
        secret: str = self._post("/tokens", {"name": name, "role": role.value})["token"]
        return secret

    def tokens(self) -> list[TokenInfo]:
        return [TokenInfo.from_json(t) for t in self._get("/tokens")["tokens"]]

    def revoke_token(self, name: str) -> None:
        self._request("DELETE", f"/tokens/{name}")

    def rotate_signing_key(self) -> str:
        key_id: str = self._post("/signing-key/rotate", {})["key_id"]
        return key_id

    def break_lock(self) -> LockInfo | None:
        return wire.lock(self._post("/lock/break", {})["lock"])

    # --- plans signed by the service --------------------------------------------------------

    def sign_plan(self, plan: Mapping[str, Any]) -> dict[str, str]:
        """The service's signature of a plan (its saved JSON), as the plan file holds it."""
        signature: dict[str, str] = self._post("/plans/sign", {"plan": plan})["signature"]
        return signature

    def verify_plan(self, plan: Mapping[str, Any]) -> str:
        """The id of the service's key that signed the plan; a refusal when none did."""
        key_id: str = self._post("/plans/verify", {"plan": plan})["key_id"]
        return key_id

    # --- plans published to the service's dashboard ------------------------------------------

    def publish_plan(self, data: Mapping[str, Any], ref: str | None) -> PublishedPlan:
        """Publish a saved plan (its JSON) under ``ref``; the service records the token's name
        as who published it."""
        params = {"ref": ref} if ref is not None else None
        answer = self._json(self._request("POST", "/plans", data, params=params))
        return PublishedPlan.from_json(answer)

    def published_plans(self, limit: int = 50) -> list[PublishedPlan]:
        """The open published plans, newest first."""
        return [PublishedPlan.from_json(p) for p in self._get("/plans", limit=limit)["plans"]]


class _Follower:
    """The service's event stream, followed by a thread: the last revision it announced, and
    whether the stream is up (while it is down, callers ask for the revision instead)."""

    def __init__(self, runtime: HTTPRuntime, since: int) -> None:
        self._runtime = runtime
        self.latest = since
        self.live = False
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="reconciler-events", daemon=True)
        self._thread.start()

    def wait(self, since: int, timeout: float) -> int | None:
        """The revision once past ``since`` (or after ``timeout``); None when the stream is not
        up after POLL_SECONDS at most."""
        with self._changed:
            if not self.live:
                self._changed.wait_for(lambda: self.live, min(timeout, POLL_SECONDS))
            if not self.live:
                return None
            self._changed.wait_for(lambda: self.latest > since or not self.live, timeout)
            return max(self.latest, since) if self.live else None

    def stop(self) -> None:
        """Stop following (the thread ends once its stream is closed with the client)."""
        self._stopping.set()

    def _follow(self) -> None:
        pause = 0.2
        while not self._stopping.is_set():
            try:
                for revision in self._events():
                    pause = 0.2
                    with self._changed:
                        self.latest = max(self.latest, revision)
                        self._changed.notify_all()
            except Exception:  # whatever ends a stream (an error answer too): followed again
                pass
            with self._changed:
                self.live = False
                self._changed.notify_all()
            self._stopping.wait(pause)
            pause = min(pause * 2, 5.0)

    def _events(self) -> Iterator[int]:
        """Revisions as the stream announces them; returns when it ends."""
        client = self._runtime._client
        params = {"after": self.latest}
        timeout = httpx.Timeout(READ_SECONDS, connect=CONNECT_SECONDS)
        with client.stream("GET", "/api/v1/events", params=params, timeout=timeout) as response:
            if response.status_code >= 300:
                response.read()  # an answer to say why: read it whole, as it is not streamed
            self._runtime._checked(response)
            with self._changed:
                self.live = True
                self._changed.notify_all()
            for line in response.iter_lines():
                if self._stopping.is_set():
                    return
                if line.startswith("id:"):
                    yield int(line[3:].strip())


def _encoded(body: Any) -> bytes:
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:  # an integer past 64 bits, which a manifest may hold
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _untrusted(exc: BaseException) -> bool:
    """Whether a transport error is a certificate that failed verification."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message(response: httpx.Response) -> str:
    body = _body(response)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        text = body["message"]
    else:
        text = response.reason_phrase or "no reason given"
    return " ".join(text.split())[:500]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def open_http(url: str, clock: Clock, patience: Patience) -> HTTPRuntime:
    """The registry's opener of ``http://`` and ``https://`` runtimes. The clock is the
    service's to keep: times are the service's, whoever asks."""
    return HTTPRuntime(url, patience, token_from_environment())
