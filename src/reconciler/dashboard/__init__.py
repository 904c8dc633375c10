"""The dashboard: HTML pages of the runtime for people who would rather look than read.

Pages are pure functions (:mod:`reconciler.dashboard.pages`) from data to HTML, over Jinja2
templates that escape every value; the service reads the data, parses the query string with
:mod:`reconciler.dashboard.query`, and serves :func:`static_dir` at ``rendering.STATIC``.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def static_dir() -> Traversable:
    """The stylesheet and the script the pages link, to serve at ``/static``."""
    return files(__name__) / "static"
