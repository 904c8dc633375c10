"""Telling a team what an apply or a watch cycle did: the notifications of the project file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from reconciler import notify as notifying
from reconciler import (
    provenance,
)
from reconciler.api.options import Options, shown_url
from reconciler.api.policy import ProjectSource, read_project
from reconciler.cycles import Cycle
from reconciler.errors import (
    ReconcilerError,
)
from reconciler.executor import Ledger
from reconciler.notify import Delivery as Delivery  # the type notify's callers get
from reconciler.provenance import actor


def notifier(
    options: Options,
    policy_source: ProjectSource | None = None,
    manifests_at: str | os.PathLike[str] = ".",
    environment: str | None = None,
) -> Callable[[Ledger | Cycle | ReconcilerError], list[Delivery]]:
    """What sends the notifications of the project file (found from the manifests at
    ``manifests_at``) about an apply's ledger, a watch cycle (never a dry run's), or the error
    that ended an apply: each target delivered or given up when it returns. A watch keeps one:
    a cycle that wrote nothing is not told again while it tells what the one before told."""
    source = policy_source or ProjectSource()
    repeats = notifying.Repeats()

    def send(result: Ledger | Cycle | ReconcilerError) -> list[Delivery]:
        run = notifying.run_of(result)
        if run is None or not repeats.fresh(run):
            return []
        found = read_project(source, manifests_at)
        if not found.notifications:
            return []
        the_plan = run.plan
        context = notifying.Context(
            environment,
            the_plan.runtime if the_plan is not None else shown_url(options.runtime_url),
            actor(options.actor),
            options.clock(),
            notifying.commit_url(
                the_plan.commit if the_plan is not None else None,
                os.environ,
                lambda: provenance.origin(Path(str(found.file)).parent),
            ),
        )
        return notifying.send(found, run, context)

    return send


def notify(
    result: Ledger | Cycle | ReconcilerError,
    options: Options,
    policy_source: ProjectSource | None = None,
    manifests_at: str | os.PathLike[str] = ".",
    environment: str | None = None,
) -> list[Delivery]:
    """Send the notifications of one apply or cycle (see :func:`notifier`)."""
    return notifier(options, policy_source, manifests_at, environment)(result)
