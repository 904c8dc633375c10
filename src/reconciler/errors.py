"""Diagnostics and the exception tree.

    ReconcilerError                 an expected failure: the CLI prints one line and exits 1
    ├── PlanError                   input: a plan cannot be made, saved, read, or applied as it is
    │   └── StalePlanError          the runtime moved since the plan was made
    └── RuntimeBackendError         anything about the runtime (what callers catch as a whole)
        ├── RuntimeURLError         input: a runtime URL that names no runtime
        │   └── UnknownRuntimeError     a runtime URL with an unknown scheme
        ├── RuntimeUnavailable      transient: cannot connect, connection dropped, I/O error.
        │                           Retrying later may work: watch backs off and retries it
        └── RuntimeRefused          the runtime answered and said no: reported, never retried
            ├── LockedError         another process holds the runtime's lock, or took it over, or
            │                       kept writing past the command's patience (--lock-timeout)
            ├── ConflictError       a campaign's etag moved under an operation
            ├── RefusedError        the runtime refuses what the lifecycle forbids
            ├── ForbiddenError      this credential or process may not do it (a read-only folder,
            │                       a role that may only read)
            └── RuntimeStoreError   the store failed in a way retrying will not fix: a damaged
                                    file or value, a newer schema, a database that is no runtime

A busy database is a LockedError, not RuntimeUnavailable: a one-shot command waits its patience
and then says so (the user chooses to wait longer); ``watch`` waits for a lock as it waits for the
apply lock, by retrying at its next cycle.

Invalid manifests are not exceptions: they are diagnostics, collected and reported together.

Third-party errors (yaml, jsonschema, sqlite3) are translated into these where they are met.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Hint(enum.StrEnum):
    """What a command line can do about a diagnostic. The library names it; the CLI's views word
    it, so that no command-line flag is in the library's data."""

    PRUNE = "prune"  # a campaign left running because its manifest is gone: pruning stops it


@dataclass(frozen=True)
class Diagnostic:
    """Something to tell the user about one place: a file, and where known a line and column."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    campaign: str | None = None
    severity: Severity = Severity.ERROR
    hint: Hint | None = None
    #: a policy's verdict: the policy's name, and where the project file says it
    policy: str | None = None
    policy_file: str | None = None
    policy_line: int | None = None

    @property
    def place(self) -> str:
        parts = [self.file or "<runtime>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        return f"{self.place}: {self.message}"

    def line_column(self) -> tuple[int, int]:
        """Where in its file, for sorting a file's diagnostics (no place sorts first)."""
        return self.line or 0, self.column or 0

    def to_json(self) -> dict[str, Any]:
        body = {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "campaign": self.campaign,
            "message": self.message,
        }
        if self.hint is not None:
            body["hint"] = self.hint.value
        if self.policy is not None:
            body |= {
                "policy": self.policy,
                "policy_file": self.policy_file,
                "policy_line": self.policy_line,
            }
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any], severity: Severity) -> Diagnostic:
        return cls(
            message=data["message"],
            file=data.get("file"),
            line=data.get("line"),
            column=data.get("column"),
            campaign=data.get("campaign"),
            severity=severity,
            hint=Hint(data["hint"]) if data.get("hint") else None,
            policy=data.get("policy"),
            policy_file=data.get("policy_file"),
            policy_line=data.get("policy_line"),
        )


class ReconcilerError(Exception):
    """Base of every failure the user can act on."""


class PlanError(ReconcilerError):
    pass


class StalePlanError(PlanError):
    pass


class RuntimeBackendError(ReconcilerError):
    pass


class RuntimeURLError(RuntimeBackendError):
    pass


class UnknownRuntimeError(RuntimeURLError):
    pass


class RuntimeUnavailable(RuntimeBackendError):
    pass


class RuntimeRefused(RuntimeBackendError):
    pass


class LockedError(RuntimeRefused):
    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        #: who holds the lock, when someone else does (the message also says what to do)
        self.holder = holder


class ConflictError(RuntimeRefused):
    pass


class RefusedError(RuntimeRefused):
    pass


class ForbiddenError(RuntimeRefused):
    pass


class RuntimeStoreError(RuntimeRefused):
    pass
