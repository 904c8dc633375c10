"""Campaign runtimes: the interface (``base``), the platform's rules once (``platform``) over a
store (``memory``, ``sqlite``), and runtimes by URL scheme (``registry.open_runtime``).

Import from the modules themselves (``reconciler.runtime.base``, ``.registry``, ...): this package
re-exports nothing: importing one of its modules loads only what that module needs.
"""
