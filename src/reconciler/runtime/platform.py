"""The campaign platform's semantics, once, over any store.

:class:`Platform` is the :class:`~reconciler.runtime.base.Runtime` (and the
:class:`~reconciler.runtime.base.Simulator`) of every store: it decides, the store only keeps
rows (``store.py``). Here, and nowhere else:

- what an operation does, and what is refused (``transition.stage``: the lifecycle, etags,
  fencing, idempotency keys), and how a batch lands: each write its campaign row, history entry,
  key and revision, all in one transaction;
- lock arbitration: a free, expired, or own lock is taken (one's own is extended: a heartbeat); a
  lock whose holder the store finds dead is taken over at once; any other is reported;
- the engine's bookkeeping: ``engine.advance`` (pure) per campaign, its write guarded by the
  campaign's etag, so the engine and an apply meet only there;
- the revision: it grows by one with every write, and a write's etag is its revision;
- the runtime service's tokens and plan signing keys (:class:`~reconciler.runtime.base.
  Administration`, :class:`~reconciler.runtime.base.Authority`), and its dashboard's sessions
  and published plans: not campaign state, so their writes move no revision, append no history
  and wake no change feed. A session is found by its secret's digest joined with its token, so
  revoking the token ends it, on every replica at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from reconciler.errors import ConflictError, ReconcilerError, RefusedError
from reconciler.model import Action, Campaign, RuntimeState, Sending, Spec
from reconciler.runtime.access import (
    KEY_GRACE,
    TOUCH_EVERY,
    Role,
    SigningKey,
    TokenInfo,
    check_token_name,
    looks_like_token,
    new_key_secret,
    new_token,
    token_digest,
)
from reconciler.runtime.base import (
    LOCK_TTL_SECONDS,
    Applied,
    Clock,
    HistoryEntry,
    LockInfo,
    LockOwner,
    Provenance,
    PublishedPlan,
    SessionInfo,
    Write,
    single,
    timestamp,
    utcnow,
)
from reconciler.runtime.engine import DEFAULT_SEGMENT_SIZE, ENGINE, Step, advance
from reconciler.runtime.store import Store, Tx
from reconciler.runtime.transition import Staged, stage

#: how long a dashboard session lasts, unless its token is revoked or it is ended first
SESSION_LIFETIME = timedelta(hours=12)
#: a session's secret is 43 characters (``secrets.token_urlsafe(32)``): anything much longer is
#: not one, and is not hashed
MAX_SESSION_SECRET = 200
#: the largest id a store numbers a published plan with (its integers end at 2**63 - 1)
MAX_ID = 2**62


def session_digest(secret: str) -> str:
    """What a store keeps of a session's secret, and finds it by: as with tokens, a secret of
    256 random bits needs no slow hash."""
    return "sha256:" + hashlib.sha256(secret.encode(errors="surrogatepass")).hexdigest()


class Platform:
    """A campaign runtime over ``store``: the embedded platform, whatever holds its rows."""

    def __init__(self, store: Store, clock: Clock = utcnow, *, leases: bool = False) -> None:
        self.store = store
        self._clock = clock
        #: locks are leases: held until they expire, their holder's liveness not asked (the
        #: runtime service's, whose clients are processes on other machines that renew)
        self._leases = leases

    @property
    def url(self) -> str:
        return self.store.url

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
        self.store.close()

    # --- reads ----------------------------------------------------------------------------------

    def runtime_id(self) -> str | None:
        with self.store.transaction(write=False) as tx:
            return tx.runtime_id()

    def revision(self) -> int:
        with self.store.transaction(write=False) as tx:
            return tx.revision()

    def changes(self, since: int, timeout: float) -> int:
        current = self.revision()
        if current > since or timeout <= 0:
            return current
        self.store.wait_for_change(since, timeout)
        return self.revision()

    def snapshot(self) -> RuntimeState:
        with self.store.transaction(write=False) as tx:
            return RuntimeState(revision=tx.revision(), campaigns=tx.campaigns())

    def applied_keys(self, prefix: str) -> frozenset[str]:
        with self.store.transaction(write=False) as tx:
            return tx.applied_with_prefix(prefix)

    def history(
        self, campaign: str | None = None, after: int = 0, limit: int | None = None
    ) -> list[HistoryEntry]:
        """The audit trail, oldest first (see :meth:`Runtime.history`); the first ``limit``
        entries when given: a page, read as a page (the service's event stream)."""
        with self.store.transaction(write=False) as tx:
            return tx.history(campaign, after, limit)

    def sendings(self, campaign: str | None = None) -> list[Sending]:
        with self.store.transaction(write=False) as tx:
            return tx.sendings(campaign)

    def segments(self) -> dict[str, int]:
        with self.store.transaction(write=False) as tx:
            return tx.segments()

    # --- writes ---------------------------------------------------------------------------------

    def apply(self, write: Write) -> Applied:
        return single(self.apply_batch([write]))

    def apply_batch(self, writes: Sequence[Write]) -> list[Applied | ReconcilerError]:
        with self.store.transaction(write=True) as tx:
            return self._land(tx, lambda revision: writes)

    def _land(
        self, tx: Tx, writes_at: Callable[[int], Sequence[Write]]
    ) -> list[Applied | ReconcilerError]:
        """Stage and store, in ``tx``, the writes ``writes_at`` gives for the revision the
        runtime is at (a write may expect the etag an earlier one of the batch makes)."""
        revision = tx.revision()
        writes = writes_at(revision)
        # one read each of what the batch needs; no other writer moves them until it commits
        campaigns = tx.campaigns(sorted({w.campaign for w in writes}))
        applied = tx.applied(sorted({w.key for w in writes}))
        held = tx.lock()
        batch = stage(
            writes,
            campaigns,
            applied,
            lock=(held.holder.owner, held.expires) if held else None,
            revision=revision,
            clock=self._clock,
        )
        # a refused write was never stored: leaving it out rolls it back alone
        if batch.staged:
            tx.put_campaigns([(s.after, s.before.etag if s.before else None) for s in batch.staged])
            tx.append_history([_entry(s) for s in batch.staged])
            tx.put_applied([(s.write.key, s.revision) for s in batch.staged])
            tx.set_revision(batch.revision)
        return list(batch.results)

    def acquire_lock(self, owner: LockOwner, ttl: float = LOCK_TTL_SECONDS) -> LockInfo | None:
        now = self._clock()
        expires = timestamp(now + timedelta(seconds=ttl))
        with self.store.transaction(write=True) as tx:
            held = tx.lock()
            if held is not None:
                if held.holder.owner == owner.owner:  # a heartbeat: held since it was taken
                    tx.put_lock(replace(held, expires=expires))
                    return None
                expired = held.expires <= timestamp(now)
                if not expired and (self._leases or self.store.holder_alive(held.holder, owner)):
                    return held
            tx.put_lock(LockInfo(holder=owner, acquired=timestamp(now), expires=expires))
        return None

    def release_lock(self, owner: LockOwner) -> None:
        with self.store.transaction(write=True, create=False) as tx:
            held = tx.lock()
            if held is not None and held.holder.owner == owner.owner:
                tx.put_lock(None)

    def lock(self) -> LockInfo | None:
        """Who holds the lock, since when, until when (None: nobody)."""
        with self.store.transaction(write=False) as tx:
            return tx.lock()

    def break_lock(self) -> LockInfo | None:
        """Remove the lock whoever holds it (an administrator's call): its holder's next write
        under it is refused as made under a lost lock."""
        with self.store.transaction(write=True, create=False) as tx:
            held = tx.lock()
            if held is not None:
                tx.put_lock(None)
        return held

    # --- tokens and signing keys: the runtime service's ---------------------------------------

    def create_token(self, name: str, role: Role) -> str:
        check_token_name(name)
        secret = new_token()
        with self.store.transaction(write=True) as tx:
            if any(token.name == name for token, _ in tx.tokens()):
                raise RefusedError(f"token {name} exists; revoke it first")
            token = TokenInfo(name, Role(role), created=timestamp(self._clock()))
            tx.put_token(token, token_digest(secret))
        return secret

    def tokens(self) -> list[TokenInfo]:
        with self.store.transaction(write=False) as tx:
            return [token for token, _ in tx.tokens()]

    def revoke_token(self, name: str) -> None:
        """Remove the token, and with it every session it started."""
        with self.store.transaction(write=True, create=False) as tx:
            if not tx.delete_token(name):
                raise RefusedError(f"no token named {name!r:.80}")
            tx.delete_sessions(token=name)

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The token, looked up by its digest (no comparison of secrets to time); its last use
        recorded at most every TOUCH_EVERY, so that a client polling costs no write a request."""
        if not looks_like_token(secret):
            return None
        with self.store.transaction(write=False) as tx:
            token = tx.token_by_digest(token_digest(secret))
        if token is None:
            return None
        now = self._clock()
        if token.last_used is None or token.last_used <= timestamp(now - TOUCH_EVERY):
            used = timestamp(now)
            with self.store.transaction(write=True, create=False) as tx:
                tx.touch_token(token.name, used)
            token = replace(token, last_used=used)
        return token

    def signing_key(self) -> SigningKey:
        with self.store.transaction(write=False) as tx:
            current = _current(tx.signing_keys())
        if current is not None:
            return current
        with self.store.transaction(write=True) as tx:
            current = _current(tx.signing_keys())  # another replica may have made it meanwhile
            if current is None:
                current = SigningKey(new_key_secret(), timestamp(self._clock()))
                tx.put_signing_key(current)
        return current

    def signing_keys(self, retired_within: timedelta = KEY_GRACE) -> list[SigningKey]:
        """The current key and those retired less than ``retired_within`` ago, newest first: a
        plan signed before a rotation is applied after it, and a key rotated away because it
        leaked stops being trusted once no plan it signed would be applied anyway."""
        since = timestamp(self._clock() - retired_within)
        with self.store.transaction(write=False) as tx:
            return [k for k in tx.signing_keys() if k.retired is None or k.retired > since]

    def rotate_signing_key(self) -> str:
        now = timestamp(self._clock())
        new = SigningKey(new_key_secret(), now)
        with self.store.transaction(write=True) as tx:
            for key in tx.signing_keys():
                if key.retired is None:
                    tx.put_signing_key(replace(key, retired=now))
            tx.put_signing_key(new)
        return new.key_id

    # --- the dashboard's sessions and published plans: the runtime service's -----------------

    def start_session(
        self, token_name: str, lifetime: timedelta = SESSION_LIFETIME
    ) -> tuple[str, SessionInfo]:
        """A new session of the token named (which the caller authenticated): its secret, for the
        browser's cookie, shown this once (the store keeps its digest), and the session. The
        sessions that expired are removed meanwhile."""
        secret = secrets.token_urlsafe(32)
        now = self._clock()
        with self.store.transaction(write=True, create=False) as tx:
            token = next((t for t, _ in tx.tokens() if t.name == token_name), None)
            if token is None:
                raise RefusedError(f"no token named {token_name!r:.80}")
            tx.delete_sessions(expired=timestamp(now))
            session = SessionInfo(
                token=token.name,
                role=token.role,
                csrf=secrets.token_urlsafe(32),
                created=timestamp(now),
                expires=timestamp(now + lifetime),
            )
            tx.put_session(session, session_digest(secret))
        return secret, session

    def session(self, secret: str) -> SessionInfo | None:
        """The session whose secret this is; None when it is unknown, ended, expired (it is
        removed then), or its token was revoked."""
        if not secret or len(secret) > MAX_SESSION_SECRET:
            return None
        digest = session_digest(secret)
        with self.store.transaction(write=False) as tx:
            found = tx.session(digest)
        if found is None:
            return None
        if found.expires <= timestamp(self._clock()):
            with self.store.transaction(write=True, create=False) as tx:
                tx.delete_session(digest)
            return None
        return found

    def end_session(self, secret: str) -> None:
        """Remove the session (signing out); nothing when there is none."""
        if not secret or len(secret) > MAX_SESSION_SECRET:
            return
        with self.store.transaction(write=True, create=False) as tx:
            tx.delete_session(session_digest(secret))

    def publish_plan(self, data: Mapping[str, Any], ref: str | None, by: str) -> PublishedPlan:
        """Keep a saved plan (its JSON, which the caller read with ``plan.from_data``) for the
        dashboard, published by ``by`` under ``ref``: it supersedes the plans of that ref. The
        same plan published again under the same ref (a client's retry) is the one kept."""
        summary = {str(k): int(v) for k, v in data["summary"].items()}
        plan = PublishedPlan(
            id=0,
            plan_id=str(data["plan_id"]),
            ref=ref,
            published_at=timestamp(self._clock()),
            published_by=by,
            summary=summary,
        )
        with self.store.transaction(write=True) as tx:
            kept = next(
                (
                    p
                    for p in tx.published_plans(None)
                    if (p.plan_id, p.ref) == (plan.plan_id, ref) and ref is not None
                ),
                None,
            )
            if kept is not None:
                return kept
            number = tx.put_published_plan(plan, data)
        return replace(plan, id=number)

    def published_plans(self, limit: int = 50) -> list[PublishedPlan]:
        """The open plans, newest first: the latest of each ref, and each without one."""
        with self.store.transaction(write=False) as tx:
            return tx.published_plans(limit)

    def published_plan(self, id: int) -> tuple[PublishedPlan, dict[str, Any]] | None:
        """A published plan (open or superseded) and its saved plan; None when there is none."""
        if not 1 <= id <= MAX_ID:
            return None
        with self.store.transaction(write=False) as tx:
            return tx.published_plan(id)

    # --- the simulator's controls ---------------------------------------------------------------

    def tick(self, now: datetime) -> list[Step]:
        """Advance every campaign to ``now``: those time changes, in transactions of up to
        TICK_BATCH campaigns.

        Which campaigns time changes is told from one read of them all. Each of those is then
        claimed (another engine worker may hold it: it is skipped, that worker advances it; or
        one may have advanced it meanwhile) and advanced from the row as claimed, its write
        guarded by its etag like every write, so an apply and the engine meet only there. A
        transaction writes several campaigns at once, each with its own revision, history entry
        and sendings: a campaign with nothing due costs no write, and many due ones few commits.
        """
        with self.store.transaction(write=False) as tx:
            campaigns = tx.campaigns()
            sizes = tx.segments()

        def size(segment: str) -> int:
            return sizes.get(segment, DEFAULT_SEGMENT_SIZE)

        due = [name for name, c in campaigns.items() if advance(c, now, size) is not None]
        steps: list[Step] = []
        for start in range(0, len(due), TICK_BATCH):
            with self.store.transaction(write=True) as tx:
                claimed = []
                for name in due[start : start + TICK_BATCH]:
                    before = tx.claim(name)
                    step = advance(before, now, size) if before is not None else None
                    if before is not None and step is not None:  # else: gone, or taken
                        claimed.append((before, step))
                if not claimed:
                    continue
                revision = tx.revision()
                rows: list[tuple[Campaign, str | None]] = []
                entries: list[HistoryEntry] = []
                sendings: list[Sending] = []
                for before, step in claimed:
                    revision += 1
                    after = replace(step.campaign, etag=str(revision))
                    rows.append((after, before.etag))
                    entries.append(_engine_entry(before, after, step, revision, now))
                    sendings += step.sendings
                    steps.append(replace(step, campaign=after))
                tx.put_campaigns(rows)
                tx.append_history(entries)
                tx.put_sendings(sendings)
                tx.set_revision(revision)
        return steps

    def set_segment(self, name: str, size: int) -> None:
        with self.store.transaction(write=True) as tx:
            tx.set_segment(name, size)

    def edit(self, campaign: str, spec: Spec, expected_etag: str, actor: str) -> Campaign:
        write = Write(
            key=f"edit/{uuid.uuid4().hex}",
            action=Action.EDIT,
            campaign=campaign,
            expected_etag=expected_etag,
            provenance=Provenance(actor, origin="console"),
            spec=spec,
        )
        return self.apply(write).campaign

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
        """Make a campaign as a campaign console would: not managed by the reconciler, its
        version of origin ``console``; a draft, or activated (live, or scheduled by its start);
        a copy of ``copied_from`` (whose live spec was ``copy_base``) when named; ``stopped``:
        activated, then stopped, in the same transaction (two writes in history, as a console
        user who stops what they just launched). An existing name is refused."""
        action = Action.COPY if copied_from else Action.ACTIVATE if live else Action.CREATE
        who = Provenance(actor, origin="console")
        made = Write(
            key=f"console/{uuid.uuid4().hex}",
            action=action,
            campaign=name,
            expected_etag=None,
            provenance=who,
            spec=spec,
            copied_from=copied_from,
            copy_base=copy_base,
            activate=live,
            title=title,
            labels=dict(labels) if labels is not None else None,
        )

        def writes_at(revision: int) -> list[Write]:
            if not stopped:
                return [made]
            stop = Write(f"console/{uuid.uuid4().hex}", Action.STOP, name, str(revision + 1), who)
            return [made, stop]

        with self.store.transaction(write=True) as tx:
            results = self._land(tx, writes_at)
            refused = next((r for r in results if isinstance(r, ReconcilerError)), None)
            if isinstance(refused, ConflictError) and len(results) == 1:
                raise RefusedError(f"campaign {name!r} already exists in the runtime")
            if refused is not None:
                raise refused  # nothing of it is kept: the transaction rolls back
        last = results[-1]
        assert isinstance(last, Applied)
        return last.campaign


def _entry(s: Staged) -> HistoryEntry:
    """The history entry of a staged write (its ``seq`` is the store's to give)."""
    return HistoryEntry(
        seq=0,
        revision=s.revision,
        at=s.at,
        actor=s.write.provenance.actor,
        commit=s.write.provenance.commit,
        plan_id=s.write.plan_id,
        operation=s.write.action.value,
        campaign=s.write.campaign,
        before=s.before.to_json() if s.before else None,
        after=s.after.to_json(),
        file=s.write.file,
        dirty=s.write.provenance.dirty,
    )


def _current(keys: Sequence[SigningKey]) -> SigningKey | None:
    """The key plans are signed with now: the newest one not retired."""
    return next((k for k in keys if k.retired is None), None)


#: how many campaigns an engine's tick writes in one transaction
TICK_BATCH = 100


def _engine_entry(
    before: Campaign, after: Campaign, step: Step, revision: int, now: datetime
) -> HistoryEntry:
    """The history entry of what time did to one campaign."""
    return HistoryEntry(
        seq=0,
        revision=revision,
        at=timestamp(now),
        actor=ENGINE,
        commit=None,
        plan_id=None,
        operation="engine: " + ", ".join(step.events or ("skip",)),
        campaign=after.name,
        before=before.to_json(),
        after=after.to_json(),
    )
