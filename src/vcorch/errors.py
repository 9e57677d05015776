"""The one root of every error vcorch raises on purpose, and the shared domain roots.

The tree (``docs/errors.md`` lists every problem type the HTTP API answers with)::

    VcorchError
    ├── DomainError        a refusal of the domain; packages derive theirs in ``errors.py``
    ├── BridgeError        a bridge failed (``mcu_adapter.base``: the contract's own tree)
    ├── ConfigError        the configuration cannot be used (``config.settings``)
    ├── HttpProblem        the HTTP edge answers a problem itself (``web.problems``)
    └── SignedTokenError   a signed link is malformed, forged or expired (``signing``)

Domain code raises these and never an HTTP exception; one table
(``problem_types.py``) maps each class to its problem type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One offending field of a request, named as the client wrote it."""

    field: str
    message: str


class VcorchError(Exception):
    """Base of every error vcorch raises on purpose (a bug is any other exception)."""


class DomainError(VcorchError):
    """Base of every error a vcorch domain package raises on purpose."""

    code = "domain-error"

    def __init__(self, detail: str, *, problems: list[FieldProblem] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems: list[FieldProblem] = problems or []


class NotFound(DomainError):
    """The thing does not exist, or is outside the caller's scope (not told apart on purpose)."""

    code = "not-found"


class InvalidInput(DomainError):
    """Well-formed input that breaks a rule (unknown parent, cycle, bad level...)."""

    code = "invalid-input"


class Conflict(DomainError):
    """The change clashes with the current state (duplicate code, still referenced...)."""

    code = "conflict"


class StaleVersion(DomainError):
    """The client's If-Match names an older version than the stored one (meetings, site
    groups: anything kept with a version)."""

    code = "stale-version"


class PreconditionRequired(DomainError):
    """A change was sent without If-Match."""

    code = "precondition-required"


class PermissionDenied(DomainError):
    """The caller's role or unit scope does not allow this."""

    code = "forbidden"


@dataclass(frozen=True)
class Reference:
    """Something that still refers to a thing one tries to delete."""

    kind: str
    id: int
    name: str


class StillReferenced(Conflict):
    """Deleting is refused while other records refer to the thing."""

    code = "still-referenced"

    def __init__(self, detail: str, references: list[Reference]) -> None:
        super().__init__(detail)
        self.references = references
