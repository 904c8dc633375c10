"""The library's entry points: one call per command. Nothing here prints; callers render.

One module per concern: the options every command shares (``options``), the project file and its
environments (``policy``), plan and apply (``planning``), saved plans (``saved_plans``),
notifications (``notifying``), the runtime's state read (``state``), running and administering a
runtime (``runtime_admin``), and campaigns made outside the reconciler (``importing``). Every name
is used from here, as ``api.X``."""

from __future__ import annotations

from reconciler.api.importing import IMPORT_DIR, create, import_campaigns
from reconciler.api.notifying import Delivery, notifier, notify
from reconciler.api.options import CACHE_DIR, Options, shown_url
from reconciler.api.planning import SHOWN_FILES, apply, plan, plan_all, validate
from reconciler.api.planning import _Desired as _Desired
from reconciler.api.planning import _plan as _plan
from reconciler.api.policy import Judged, ProjectSource, in_environment, project_path, read_policies
from reconciler.api.runtime_admin import (
    BACKOFF_FIRST,
    BACKOFF_MAX,
    break_lock,
    create_token,
    edit,
    migrate,
    revoke_token,
    rotate_signing_key,
    run_engine,
    serve,
    set_segment,
    tick,
    tokens,
)
from reconciler.api.saved_plans import (
    apply_saved,
    load_plan,
    parse_max_age,
    plan_key,
    publish,
    save_plan,
    sign_by_runtime,
)
from reconciler.api.state import calendar, history, parse_since, sendings, status

__all__ = [
    "BACKOFF_FIRST",
    "BACKOFF_MAX",
    "CACHE_DIR",
    "IMPORT_DIR",
    "SHOWN_FILES",
    "Delivery",
    "Judged",
    "Options",
    "ProjectSource",
    "apply",
    "apply_saved",
    "break_lock",
    "calendar",
    "create",
    "create_token",
    "edit",
    "history",
    "import_campaigns",
    "in_environment",
    "load_plan",
    "migrate",
    "notifier",
    "notify",
    "parse_max_age",
    "parse_since",
    "plan",
    "plan_all",
    "plan_key",
    "project_path",
    "publish",
    "read_policies",
    "revoke_token",
    "rotate_signing_key",
    "run_engine",
    "save_plan",
    "sendings",
    "serve",
    "set_segment",
    "shown_url",
    "sign_by_runtime",
    "status",
    "tick",
    "tokens",
    "validate",
]
