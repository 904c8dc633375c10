"""The dashboard's one Jinja2 environment: autoescaping always on, undefined names an error.

Every ``{{ value }}`` goes through :func:`_finalize` first, then through Jinja2's HTML escaping: a
string has its control characters, bidirectional controls, line separators and lone surrogates made
visible as :func:`reconciler.escape.text` writes them for a terminal (a name with U+202E cannot
reorder its cell, and a lone surrogate, which UTF-8 cannot encode, cannot break the response), and
only then is it HTML-escaped. A template that forgets cannot write a value any other way
(STYLE 19).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from reconciler import escape
from reconciler.model import parse_moment
from reconciler.schedule import describe_in

#: where the integrator serves ``static/``: the pages link their CSS and script there
STATIC = "/static"
NAV = (("/", "Campaigns"), ("/calendar", "Calendar"), ("/plans", "Plans"), ("/drift", "Drift"))


def _finalize(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, Markup):
        return escape.text(value)
    return value


def when(moment: dt.datetime | str | None, zone: str) -> str:
    """A moment in the viewer's zone, as every view writes one: 'Mon 2026-11-30 09:00 CET'."""
    if moment is None:
        return "-"
    return describe_in(parse_moment(moment) if isinstance(moment, str) else moment, zone)


ENVIRONMENT = Environment(
    loader=PackageLoader("reconciler.dashboard", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
ENVIRONMENT.filters["when"] = when
ENVIRONMENT.globals.update(static=STATIC, nav=NAV)


def render(template: str, **context: Any) -> str:
    """The whole document ``template`` makes of ``context``."""
    context.setdefault("csrf", "")
    context.setdefault("signed_in_as", None)
    return ENVIRONMENT.get_template(template).render(context)
