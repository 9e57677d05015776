"""The one table from error classes to problem types, and the problems the edge answers itself.

Every error a handler lets through is looked up here by its class (nearest ancestor first):
:data:`PROBLEM_TYPES` gives its HTTP status, its ``urn:vcorch:problem:<slug>`` type and its
title; :func:`domain_problem` turns it into the answer.  :data:`EDGE_PROBLEMS` lists the
problems the HTTP edge raises directly (``HttpProblem(...)``, the middleware), so that
``docs/errors.md``, which documents every one of them, is checked against both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vcorch.attendance import CheckInLinkError, CheckInLinkExpired, CheckInLinkInvalid
from vcorch.auth import AuthenticationFailed, AuthError, InvalidToken, TooManyAttempts
from vcorch.booking import (
    BookingConflict,
    MeetingClosed,
    PreconditionRequired,
    SiteNotRequested,
    StaleVersion,
)
from vcorch.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StillReferenced,
    VcorchError,
)
from vcorch.join import (
    BridgeFull,
    BuiltinBridgeMissing,
    GatewayUnavailable,
    JoinElsewhere,
    JoinLinkError,
    LinkExpired,
    LinkInvalid,
    MeetingNotLive,
    OfferRejected,
)
from vcorch.mail import MailDeliveryError, MailError, PartialDelivery
from vcorch.mcu_adapter import (
    BridgeBusy,
    BridgeError,
    BridgeProtocolError,
    BridgeUnavailable,
    CapacityExceeded,
    ConferenceNotFound,
    DialFailed,
    HookUnauthenticated,
    ListingUnreliable,
    MalformedEvents,
    NotSupported,
)
from vcorch.orchestration import ControlNotSupported, TooManyStreams
from vcorch.rooms import DuplicateCode, UnitTreeError
from vcorch.web import PROBLEM_TYPE_PREFIX, HttpProblem

log = logging.getLogger("vcorch.http")


@dataclass(frozen=True)
class ProblemType:
    """One problem type: ``fields`` are body members beyond the standard ones (``type``,
    ``title``, ``status``, ``detail``, ``errors``), ``headers`` the response headers it sets."""

    status: int
    slug: str
    title: str
    fields: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()

    @property
    def type_uri(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.slug


# What a handler may let through; anything else is a bug (500, logged by the middleware).
MAPPED_ERRORS: tuple[type[DomainError], type[BridgeError]] = (DomainError, BridgeError)

NOT_FOUND = ProblemType(404, "not-found", "Not found")
# A refusal without a type of its own answers 400 with the error's code: the generic rule
# every class below that says "Request refused" follows.
REQUEST_REFUSED = "Request refused"

PROBLEM_TYPES: dict[type[VcorchError], ProblemType] = {
    # The shared roots (vcorch.errors).
    DomainError: ProblemType(400, "domain-error", REQUEST_REFUSED),
    NotFound: NOT_FOUND,
    InvalidInput: ProblemType(422, "invalid-input", "Invalid input"),
    Conflict: ProblemType(409, "conflict", "Conflict"),
    StillReferenced: ProblemType(409, "still-referenced", "Still referenced", ("references",)),
    PermissionDenied: ProblemType(403, "forbidden", "Forbidden"),
    # auth
    AuthError: ProblemType(400, "auth-error", REQUEST_REFUSED),
    AuthenticationFailed: ProblemType(400, "invalid-grant", "Invalid credentials", ("error",)),
    InvalidToken: ProblemType(401, "invalid-token", "Invalid token", headers=("WWW-Authenticate",)),
    TooManyAttempts: ProblemType(
        429, "too-many-attempts", "Too many attempts", headers=("Retry-After",)
    ),
    # rooms
    UnitTreeError: ProblemType(422, "unit-tree", "The unit tree would break"),
    DuplicateCode: ProblemType(409, "duplicate-code", "Code already in use"),
    # booking
    BookingConflict: ProblemType(409, "booking-conflict", "The booking clashes", ("clashes",)),
    MeetingClosed: ProblemType(409, "meeting-closed", "The meeting can no longer be changed"),
    SiteNotRequested: ProblemType(409, "site-not-requested", "The site is not a request"),
    StaleVersion: ProblemType(412, "stale-version", "Precondition failed"),
    PreconditionRequired: ProblemType(428, "precondition-required", "Precondition required"),
    # orchestration (the live room)
    TooManyStreams: ProblemType(429, "too-many-streams", "Too many live streams"),
    # live control
    ControlNotSupported: ProblemType(
        409, "control-not-supported", "The meeting's bridge cannot do this"
    ),
    # join (the WebRTC fallback)
    JoinLinkError: ProblemType(400, "join-link", REQUEST_REFUSED),
    LinkExpired: ProblemType(410, "link-expired", "The link has expired"),
    LinkInvalid: ProblemType(403, "link-invalid", "The link is not valid"),
    MeetingNotLive: ProblemType(409, "meeting-not-live", "The meeting is not live"),
    JoinElsewhere: ProblemType(409, "join-elsewhere", "Join on the hosting bridge"),
    BridgeFull: ProblemType(503, "bridge-full", "The browser bridge is full"),
    GatewayUnavailable: ProblemType(503, "gateway-unavailable", "The SIP gateway cannot call"),
    BuiltinBridgeMissing: ProblemType(
        503, "builtin-bridge-missing", "The browser bridge is not running"
    ),
    OfferRejected: ProblemType(400, "invalid-offer", "The SDP offer cannot be used"),
    # attendance
    CheckInLinkError: ProblemType(400, "checkin-link", REQUEST_REFUSED),
    CheckInLinkExpired: ProblemType(410, "checkin-link-expired", "The link has expired"),
    CheckInLinkInvalid: ProblemType(403, "checkin-link-invalid", "The link is not valid"),
    # mail (sent by the outbox worker, never inside a request: the generic rule)
    MailError: ProblemType(400, "mail-error", REQUEST_REFUSED),
    MailDeliveryError: ProblemType(400, "mail-delivery-failed", REQUEST_REFUSED),
    PartialDelivery: ProblemType(400, "mail-partially-delivered", REQUEST_REFUSED),
    # the bridges' hooks
    HookUnauthenticated: ProblemType(401, "hook-unauthenticated", "Unauthenticated"),
    MalformedEvents: ProblemType(400, "malformed-events", "Malformed events"),
    # A bridge error no service translated into a domain error (the orchestrator and the
    # join service translate the ones they expect).
    BridgeError: ProblemType(502, "bridge-error", "The bridge failed"),
    BridgeUnavailable: ProblemType(503, "bridge-unavailable", "The bridge is unavailable"),
    BridgeProtocolError: ProblemType(
        502, "bridge-protocol-error", "The bridge answered something malformed"
    ),
    BridgeBusy: ProblemType(503, "bridge-busy", "The bridge is busy; try again later"),
    ListingUnreliable: ProblemType(
        503, "bridge-listing-unreliable", "The bridge's listing changed while it was read"
    ),
    DialFailed: ProblemType(502, "dial-failed", "The site could not be called"),
    CapacityExceeded: ProblemType(503, "bridge-capacity-exceeded", "The bridge has no free port"),
    NotSupported: ProblemType(501, "not-supported", "The bridge cannot do this"),
    ConferenceNotFound: ProblemType(
        409, "conference-not-on-bridge", "The conference is not on the bridge"
    ),
}

# Problems the HTTP edge answers itself (HttpProblem raised directly, and the middleware).
VALIDATION_FAILED = ProblemType(422, "validation-error", "Validation failed")
MALFORMED_BODY = ProblemType(400, "malformed-body", "Malformed body")
UNSUPPORTED_MEDIA_TYPE = ProblemType(415, "unsupported-media-type", "Unsupported media type")
BAD_REQUEST = ProblemType(400, "bad-request", "Bad request")
METHOD_NOT_ALLOWED = ProblemType(
    405, "method-not-allowed", "Method not allowed", headers=("Allow",)
)
PAYLOAD_TOO_LARGE = ProblemType(413, "payload-too-large", "Payload too large")
DATABASE_UNAVAILABLE = ProblemType(
    503, "database-unavailable", "Service unavailable", headers=("Retry-After",)
)
INTERNAL_ERROR = ProblemType(500, "internal-error", "Internal error")
# Any other refusal aiohttp raises itself: its own status, its reason phrase as the title.
HTTP_ERROR_SLUG = "http-error"

EDGE_PROBLEMS: tuple[ProblemType, ...] = (
    VALIDATION_FAILED,
    MALFORMED_BODY,
    UNSUPPORTED_MEDIA_TYPE,
    NOT_FOUND,
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    PAYLOAD_TOO_LARGE,
    DATABASE_UNAVAILABLE,
    INTERNAL_ERROR,
)


def problem_type_of(cls: type[VcorchError]) -> ProblemType:
    """The problem type of ``cls``: its own entry, else its nearest ancestor's."""
    for ancestor in cls.__mro__:
        found = PROBLEM_TYPES.get(ancestor)
        if found is not None:
            return found
    raise LookupError(f"{cls.__name__} has no problem type")


def problem_types() -> Iterator[ProblemType]:
    """Every problem type the API answers with, each once (in table order, then the edge's)."""
    seen: set[str] = set()
    for problem in (*PROBLEM_TYPES.values(), *EDGE_PROBLEMS):
        if problem.slug not in seen:
            seen.add(problem.slug)
            yield problem


def problem_for(err: VcorchError) -> HttpProblem | None:
    """The answer to an error a handler let through; None for one that is not a refusal
    (a configuration error in a request is a fault: it answers 500 and is logged)."""
    if isinstance(err, MAPPED_ERRORS):
        return domain_problem(err)
    return None


def domain_problem(err: DomainError | BridgeError) -> HttpProblem:
    """The answer to an error a handler let through."""
    problem = problem_type_of(type(err))
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(err, BridgeError):
        log.warning("a bridge error reached the HTTP edge untranslated: %r", err)
        return HttpProblem(problem.status, problem.slug, problem.title, str(err))
    if isinstance(err, InvalidToken):
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if isinstance(err, TooManyAttempts):
        headers["Retry-After"] = str(err.retry_after)
    if isinstance(err, AuthenticationFailed):
        extra["error"] = "invalid_grant"
    if isinstance(err, StillReferenced):
        extra["references"] = [
            {"kind": ref.kind, "id": ref.id, "name": ref.name} for ref in err.references
        ]
    extra.update(getattr(err, "extra", {}))
    return HttpProblem(
        problem.status,
        problem.slug,
        problem.title,
        err.detail,
        errors=err.problems,
        headers=headers,
        extra=extra,
    )
