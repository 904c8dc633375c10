"""`reconciler watch`: keep a runtime equal to a checkout, for as long as it runs.

Level-based, like a Kubernetes controller: every cycle reads the manifests and the runtime afresh
and plans from scratch; nothing is carried over from the previous plan but the parse cache (keyed by
file and content, so an unchanged file is not parsed again). A cycle runs at start, after every
change under the manifest directory (debounced: a `git pull` of 500 files is one cycle), and every
interval even when nothing changed, which is how changes made to the runtime by others (drift) are
caught.

The loop never dies of a bad cycle: invalid manifests apply nothing and are reported; an unavailable
runtime (``RuntimeUnavailable``: transient) is retried with exponential backoff and jitter, and so
is a runtime locked by another apply (watch waits its turn, as ``--lock-timeout`` would), each
reported once per change of state. A runtime that refuses (``RuntimeRefused``: a damaged store, a
forbidden write, ...) is reported as refused and not retried: the next cycle comes at the interval
or on a change, as after invalid manifests. The library does not print: each cycle is handed to
``report``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import api, manifests
from reconciler.cycles import Cycle, CycleOutcome, Stopped, Trigger
from reconciler.errors import LockedError, ReconcilerError, RuntimeRefused, RuntimeUnavailable
from reconciler.executor import Ledger, Outcome
from reconciler.plan import Plan
from reconciler.runtime.base import Runtime

if TYPE_CHECKING:
    import watchfiles

DEBOUNCE_MS = 300  # how long a burst of writes may go on and still be one cycle
STEP_MS = 50  # quiet time that ends a burst
TICK_MS = 250  # how often the loop looks at the clock and the stop event when nothing happens
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0
#: how often the runtime's revision is looked at between cycles: a change made by someone else
#: (a console edit) is healed within about this long, not at the next --interval
FEED_SECONDS = 1.0


@dataclass
class Watcher:
    """One watch: its settings, and the state carried from cycle to cycle."""

    path: Path
    options: api.Options
    dry_run: bool = False
    interval: float = 60.0
    prune: bool = False
    policy_source: api.ProjectSource = field(default_factory=api.ProjectSource)
    stop: threading.Event = field(default_factory=threading.Event)
    cache: manifests.Cache = field(default_factory=manifests.Cache)
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    cycles: int = 0
    stopped_by: str | None = None
    #: the runtime, kept open to follow its change feed between cycles, and its revision as the
    #: last cycle left it (None: not known, the feed is not followed until it is)
    feed: Runtime | None = None
    seen: int | None = None
    #: the project file (found at each cycle) and its stat then: a change to the policies is a
    #: change like a manifest's
    policies_file: Path | None = None
    policies_seen: tuple[int, int, int] | None = None

    def shut_down(self, reason: str) -> None:
        """Stop after the batch in flight (safe from a signal handler), saying why."""
        self.stopped_by = self.stopped_by or reason
        self.stop.set()

    def run(self, report: Callable[[Cycle], None]) -> Stopped:
        """Reconcile until ``stop`` is set: at start, on changes, every interval, with backoff."""
        trigger, changed = Trigger.START, 0
        events = self._changes()
        # watchfiles watches from the generator's first step: take it before the start cycle, so
        # that a file written while that cycle runs wakes the next one (what this first step sees
        # is older than the start cycle's reading of the files, which covers it)
        next(events, None)
        try:
            return self._run(report, events, trigger, changed)
        finally:
            if self.feed is not None:
                self.feed.close()

    def _run(
        self,
        report: Callable[[Cycle], None],
        events: Iterator[set[tuple[watchfiles.Change, str]]],
        trigger: Trigger,
        changed: int,
    ) -> Stopped:
        last_failure: CycleOutcome | None = None
        while not self.stop.is_set():
            cycle = self.reconcile(trigger, changed)
            self.seen = self._left_at(cycle)
            failing = cycle.outcome in (CycleOutcome.LOCKED, CycleOutcome.UNREACHABLE)
            if not failing or cycle.outcome is not last_failure:
                report(cycle)  # a failure is told once per state, not once per try
            last_failure = cycle.outcome if failing else None
            wait = cycle.retry_in if cycle.retry_in is not None else self.interval
            trigger, changed = self._wait(events, wait, Trigger.RETRY if failing else None)
        return Stopped(self.stopped_by, self.cycles)

    def reconcile(self, trigger: Trigger, changed: int = 0) -> Cycle:
        """One level-based cycle: read everything, plan from scratch, apply unless dry-run."""
        self.cycles += 1
        started, at = self.clock(), datetime.now(UTC)
        self.policies_file = api.project_path(self.policy_source, self.path)
        self.policies_seen = self._policies_stamp()

        def cycle(
            outcome: CycleOutcome,
            plan: Plan | None = None,
            ledger: Ledger | None = None,
            error: str | None = None,
            retry_in: float | None = None,
        ) -> Cycle:
            seconds = self.clock() - started
            return Cycle(
                self.cycles, at, trigger, changed, outcome, seconds, plan, ledger, error, retry_in
            )

        try:
            if self.dry_run:
                plan = api.plan(
                    self.path,
                    self.options,
                    prune=self.prune,
                    cache=self.cache,
                    policy_source=self.policy_source,
                )
                ledger = None
            else:
                ledger = api.apply(
                    self.path,
                    self.options,
                    prune=self.prune,
                    cache=self.cache,
                    stop=self.stop.is_set,
                    policy_source=self.policy_source,
                )
                plan = ledger.plan
        except LockedError as exc:  # retried: the advice to wait with --lock-timeout is not for us
            error = f"the runtime is locked by {exc.holder}" if exc.holder else str(exc)
            return cycle(CycleOutcome.LOCKED, error=error, retry_in=self._backoff())
        except RuntimeUnavailable as exc:
            return cycle(CycleOutcome.UNREACHABLE, error=str(exc), retry_in=self._backoff())
        except RuntimeRefused as exc:
            self.failures = 0
            return cycle(CycleOutcome.REFUSED, error=str(exc))
        except ReconcilerError as exc:  # e.g. --prune refused on an emptied directory
            self.failures = 0
            return cycle(CycleOutcome.INVALID, error=str(exc))
        self.failures = 0
        self.cache.sweep()
        if not plan.ok:
            return cycle(CycleOutcome.INVALID, plan=plan, ledger=ledger)
        if not plan.has_changes:
            return cycle(CycleOutcome.IN_SYNC, plan=plan, ledger=ledger)
        if ledger is None:
            return cycle(CycleOutcome.PLANNED, plan=plan)
        return cycle(
            CycleOutcome.APPLIED
            if ledger.ok
            else CycleOutcome.STOPPED
            if self.stop.is_set()
            else CycleOutcome.FAILED,
            plan=plan,
            ledger=ledger,
        )

    def _backoff(self) -> float:
        """Exponential, capped, with full jitter so that many watchers do not retry in step."""
        self.failures += 1
        ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.failures - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _changes(self) -> Iterator[set[tuple[watchfiles.Change, str]]]:
        """Batches of changes, or an empty batch every tick; a missing folder is polled for."""
        import watchfiles  # here, not above: every command imports this module, only watch uses it

        missing = False
        while not self.stop.is_set():
            if not self.path.exists():
                missing = True
                self.stop.wait(TICK_MS / 1000)
                yield set()
                continue
            if missing:  # it is back: that is a change
                missing = False
                yield {(watchfiles.Change.added, str(self.path))}
            watched = _identity(self.path)
            try:
                for changes in watchfiles.watch(
                    self.path,
                    watch_filter=self._is_manifest,
                    debounce=DEBOUNCE_MS,
                    step=STEP_MS,
                    rust_timeout=TICK_MS,
                    yield_on_timeout=True,
                    stop_event=self.stop,
                    raise_interrupt=False,
                ):
                    yield changes
                    if _identity(self.path) != watched:  # removed, or made anew (a new clone)
                        yield {(watchfiles.Change.deleted, str(self.path))}
                        break
            except FileNotFoundError:  # the folder went away while watched
                continue

    def _is_manifest(self, change: watchfiles.Change, path: str) -> bool:
        """What manifests.find_files reads (*.yaml, *.yml, hidden ones aside), and folders."""
        try:
            parts = Path(path).resolve().relative_to(self.path.resolve()).parts
        except ValueError:
            return False
        if not parts or any(part.startswith(".") for part in parts):
            return False
        # a manifest, or a folder (of manifests, perhaps) moved in or out
        return parts[-1].endswith((".yaml", ".yml")) or Path(path).is_dir() or "." not in parts[-1]

    def _counted(self, changes: set[tuple[watchfiles.Change, str]]) -> int:
        """How many manifests and folders of manifests a burst changed. The filter lets through
        every name without a dot, as a folder might have one; of those, only folders that are
        there, or that held manifests when last read, count: ``sed -i`` and many editors write a
        temporary file (``sedAbC123``) and rename it over the manifest, which is one change."""
        paths = {Path(path) for _, path in changes}
        held: set[Path] | None = None  # the folders of the manifests last read, when needed
        counted = 0
        for path in paths:
            if path.name.endswith((".yaml", ".yml")) or path.is_dir():
                counted += 1
                continue
            if held is None:
                held = {folder for file, _ in self.cache for folder in Path(file).resolve().parents}
            counted += path.resolve() in held
        return counted

    def _wait(
        self,
        events: Iterator[set[tuple[watchfiles.Change, str]]],
        seconds: float,
        retry: Trigger | None,
    ) -> tuple[Trigger, int]:
        """Until a change (a burst counts once), the end of ``seconds``, or stop."""
        deadline = self.clock() + seconds
        asked = self.clock()
        for changes in events:
            if self.stop.is_set():
                break
            if retry is None and (counted := self._counted(changes)):
                return Trigger.CHANGE, counted
            if retry is None and self.clock() - asked >= FEED_SECONDS:
                asked = self.clock()
                if self._policies_stamp() != self.policies_seen:
                    return Trigger.CHANGE, 1
                if self._moved():
                    return Trigger.RUNTIME, 0
            if self.clock() >= deadline:
                break
        return retry or Trigger.INTERVAL, 0

    def _left_at(self, cycle: Cycle) -> int | None:
        """The revision ``cycle`` left the runtime at, as far as it knows: the one it planned from,
        plus one for each write it made. A revision read after the cycle may also hold a change
        made since (a console edit while the read waited out a service's restart), which would
        then pass for seen and go unhealed until the interval: the lower of the two is kept."""
        now = self._revision()
        if now is None or cycle.plan is None:
            return now
        entries = cycle.ledger.entries if cycle.ledger is not None else ()
        written = sum(1 for e in entries if e.outcome is Outcome.DONE and not e.replayed)
        return min(now, cycle.plan.runtime_revision + written)

    def _revision(self) -> int | None:
        """The runtime's revision now, through the feed (opened the first time); None when the
        runtime cannot be read: the next cycle reports that."""
        try:
            if self.feed is None:
                self.feed = self.options.open()
            return self.feed.revision()
        except ReconcilerError:
            return None

    def _policies_stamp(self) -> tuple[int, int, int] | None:
        """The project file's size, time and inode (None: there is none), looked at as often as
        the runtime's revision: it is outside the watched folder, at the repository's root."""
        try:
            found = self.policies_file.stat() if self.policies_file is not None else None
        except OSError:
            return None
        if found is None:
            return None
        return found.st_size, found.st_mtime_ns, found.st_ino

    def _moved(self) -> bool:
        """Whether the runtime moved since the last cycle: someone else wrote to it (a console
        edit to heal, another apply), found within FEED_SECONDS (a notification wakes a store
        that has them at once; the embedded runtime is read)."""
        if self.feed is None or self.seen is None:
            return False
        try:
            return self.feed.changes(self.seen, 0) > self.seen
        except ReconcilerError:
            return False


def _identity(path: Path) -> tuple[int, int] | None:
    """Which folder is at ``path``: a folder removed and made again is another one to watch."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino
