"""An in-process runtime for tests: ``memory://`` is new and empty, ``memory://NAME`` is shared by
every opener of that name in the process."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from reconciler.errors import ReconcilerError
from reconciler.model import Campaign, RuntimeState, Sending
from reconciler.runtime.base import (
    LOCK_TTL_SECONDS,
    REGISTRY,
    Applied,
    Clock,
    HistoryEntry,
    LockInfo,
    LockOwner,
    Patience,
    Write,
    single,
    timestamp,
)
from reconciler.runtime.engine import DEFAULT_SEGMENT_SIZE, ENGINE, Step, advance
from reconciler.runtime.transition import stage


@dataclass
class _Store:
    runtime_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    revision: int = 0
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    applied: dict[str, int] = field(default_factory=dict)
    lock: LockInfo | None = None
    sendings: dict[str, Sending] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    mutex: threading.Lock = field(default_factory=threading.Lock)


_NAMED: dict[str, _Store] = {}


class MemoryRuntime:
    def __init__(self, url: str, clock: Clock) -> None:
        self.url = url
        self._clock = clock
        name = url.removeprefix("memory://")
        self._store = _NAMED.setdefault(name, _Store()) if name else _Store()

    def runtime_id(self) -> str | None:
        return self._store.runtime_id

    def snapshot(self) -> RuntimeState:
        with self._store.mutex:
            return RuntimeState(self._store.revision, dict(self._store.campaigns))

    def apply(self, write: Write) -> Applied:
        return single(self.apply_batch([write]))

    def apply_batch(self, writes: Sequence[Write]) -> list[Applied | ReconcilerError]:
        store = self._store
        with store.mutex:
            held = store.lock
            named = {w.campaign for w in writes} & store.campaigns.keys()
            batch = stage(
                writes,
                {name: store.campaigns[name] for name in named},
                {w.key for w in writes if w.key in store.applied},
                lock=(held.holder.owner, held.expires) if held else None,
                revision=store.revision,
                clock=self._clock,
            )
            # nothing above changed the store: the batch lands whole, or not at all
            for s in batch.staged:
                after = _copy(s.after)
                store.campaigns[after.name] = after
                store.applied[s.write.key] = s.revision
                store.history.append(
                    HistoryEntry(
                        seq=len(store.history) + 1,
                        revision=s.revision,
                        at=s.at,
                        actor=s.write.provenance.actor,
                        commit=s.write.provenance.commit,
                        plan_id=s.write.plan_id,
                        operation=s.write.action.value,
                        campaign=s.write.campaign,
                        before=s.before.to_json() if s.before else None,
                        after=after.to_json(),
                        file=s.write.file,
                        dirty=s.write.provenance.dirty,
                    )
                )
            store.revision = batch.revision
        return list(batch.results)

    def tick(self, now: datetime) -> list[Step]:
        store = self._store
        steps = []
        with store.mutex:
            sizes = dict(store.segments)
            for name in sorted(store.campaigns):
                step = advance(
                    store.campaigns[name], now, lambda s: sizes.get(s, DEFAULT_SEGMENT_SIZE)
                )
                if step is None:
                    continue
                before = store.campaigns[name]
                store.revision += 1
                after = _copy(replace(step.campaign, etag=str(store.revision)))
                store.campaigns[name] = after
                for sending in step.sendings:
                    store.sendings[sending.id] = sending
                store.history.append(
                    HistoryEntry(
                        seq=len(store.history) + 1,
                        revision=store.revision,
                        at=timestamp(now),
                        actor=ENGINE,
                        commit=None,
                        plan_id=None,
                        operation="engine: " + ", ".join(step.events or ("skip",)),
                        campaign=name,
                        before=before.to_json(),
                        after=after.to_json(),
                    )
                )
                steps.append(replace(step, campaign=after))
        return steps

    def sendings(self, campaign: str | None = None) -> list[Sending]:
        with self._store.mutex:
            found = [s for s in self._store.sendings.values() if campaign in (None, s.campaign)]
        return sorted(found, key=lambda s: (s.scheduled, s.campaign))

    def set_segment(self, name: str, size: int) -> None:
        with self._store.mutex:
            self._store.segments[name] = size

    def segments(self) -> dict[str, int]:
        with self._store.mutex:
            return dict(self._store.segments)

    def applied_keys(self, prefix: str) -> frozenset[str]:
        with self._store.mutex:
            return frozenset(k for k in self._store.applied if k.startswith(prefix))

    def history(self, campaign: str | None = None) -> list[HistoryEntry]:
        with self._store.mutex:
            return [e for e in self._store.history if campaign in (None, e.campaign)]

    def acquire_lock(self, owner: LockOwner, ttl: float = LOCK_TTL_SECONDS) -> LockInfo | None:
        now = self._clock()
        with self._store.mutex:
            held = self._store.lock
            if (
                held is not None
                and held.holder.owner != owner.owner
                and held.expires > timestamp(now)
            ):
                return held
            ours = held is not None and held.holder.owner == owner.owner
            self._store.lock = LockInfo(
                holder=owner,
                acquired=held.acquired if held is not None and ours else timestamp(now),
                expires=timestamp(now + timedelta(seconds=ttl)),
            )
            return None

    def release_lock(self, owner: LockOwner) -> None:
        with self._store.mutex:
            if self._store.lock is not None and self._store.lock.holder.owner == owner.owner:
                self._store.lock = None

    def close(self) -> None:
        pass


def _copy(campaign: Campaign) -> Campaign:
    """A copy sharing no spec with the caller, as a real store would hold it."""
    return Campaign.from_json(json.loads(json.dumps(campaign.to_json())))


@REGISTRY.register("memory", "memory://[NAME]")
def _open(url: str, clock: Clock, patience: Patience) -> MemoryRuntime:
    return MemoryRuntime(url, clock)
