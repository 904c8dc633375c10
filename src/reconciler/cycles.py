"""What a watch reports: each cycle of `reconciler watch`, and how the watch ended.

Data, below both the loop that makes it (``watch``) and the views that show it (``render``): a view
imports this, never the loop.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from reconciler.executor import Ledger
from reconciler.plan import Plan


class Trigger(enum.StrEnum):
    START = "start"
    CHANGE = "change"  # a manifest changed
    RUNTIME = "runtime"  # the runtime changed under the watch (a console edit, another apply)
    INTERVAL = "interval"
    RETRY = "retry"


class CycleOutcome(enum.StrEnum):
    IN_SYNC = "in sync"
    APPLIED = "applied"
    PLANNED = "planned"  # --dry-run, with changes to make
    INVALID = "invalid"  # manifest errors or refused changes: nothing applied
    FAILED = "failed"  # some operations failed
    STOPPED = "stopped"  # a shutdown came during the apply: the rest is for the next run
    LOCKED = "locked"  # someone else holds the runtime lock
    UNREACHABLE = "unreachable"  # the runtime is unavailable: retried with backoff
    REFUSED = "refused"  # the runtime refused (not retried: the next cycle comes as usual)


@dataclass(frozen=True)
class Cycle:
    number: int
    at: datetime
    trigger: Trigger
    changed_files: int
    outcome: CycleOutcome
    seconds: float
    plan: Plan | None = None
    ledger: Ledger | None = None
    error: str | None = None
    retry_in: float | None = None  # for LOCKED and UNREACHABLE: when the next try comes


@dataclass(frozen=True)
class Stopped:
    """How a watch ended: what stopped it (a signal's name, or None for the stop event alone),
    after how many cycles."""

    reason: str | None
    cycles: int
