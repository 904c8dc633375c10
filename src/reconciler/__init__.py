"""reconciler: a declarative GitOps reconciler for marketing campaigns."""

# The one place the version is written (pyproject.toml reads it): a constant, not a lookup in the
# installed metadata, which would cost every run a tenth of its start-up.
__version__ = "0.1.0"
