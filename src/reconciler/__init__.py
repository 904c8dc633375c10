"""reconciler: a declarative GitOps reconciler for marketing campaigns."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reconciler")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
