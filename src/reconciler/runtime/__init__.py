"""Campaign runtimes: one small interface (``base``), backends chosen by URL (``open_runtime``).

Import from the modules themselves (``reconciler.runtime.base``, ``.sqlite``, ``.memory``, ...):
this package re-exports nothing: importing one of its modules loads only what that module needs.
"""
