"""One error tree for the daemon, the client and the CLI.

Every error carries a stable ``code`` (the wire name), the HTTP status the daemon answers
with, and the exit code the CLI ends with. The daemon serialises an error as
``{"error": {"code", "message", "details"}}``; the client raises the same class back.
"""

from __future__ import annotations

from typing import Any

# Exit codes of the CLI, documented in the README.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_CANCELLED = 6
EXIT_WAITING_APPROVAL = 7
EXIT_WAIT_TIMEOUT = 8


class WfeError(Exception):
    """Something went wrong."""

    code = "error"
    http_status = 500
    exit_code = EXIT_FAILED

    def __init__(self, message: str | None = None, details: Any = None) -> None:
        self.message = message or (self.__doc__ or self.code).strip()
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(WfeError):
    """The request could not be read."""

    code = "bad_request"
    http_status = 400
    exit_code = EXIT_USAGE


class Unauthorized(WfeError):
    """A valid bearer token is required."""

    code = "unauthorized"
    http_status = 401
    exit_code = EXIT_USAGE


class Forbidden(WfeError):
    """Your role does not allow this action."""

    code = "forbidden"
    http_status = 403
    exit_code = EXIT_USAGE


class NotFound(WfeError):
    """Not found."""

    code = "not_found"
    http_status = 404
    exit_code = EXIT_NOT_FOUND


class MethodNotAllowed(WfeError):
    """Method not allowed."""

    code = "method_not_allowed"
    http_status = 405
    exit_code = EXIT_USAGE


class Conflict(WfeError):
    """The action is not allowed in the current state."""

    code = "conflict"
    http_status = 409
    exit_code = EXIT_CONFLICT


class ConcurrencyLimit(Conflict):
    """The template's concurrency group is at its limit."""

    code = "concurrency_limit"


class InvalidTransition(Conflict):
    """The run's current status does not allow this action."""

    code = "invalid_transition"


class PayloadTooLarge(WfeError):
    """The request body is too large."""

    code = "payload_too_large"
    http_status = 413
    exit_code = EXIT_USAGE


class UnsupportedMediaType(WfeError):
    """The request body must be application/json."""

    code = "unsupported_media_type"
    http_status = 415
    exit_code = EXIT_USAGE


class RangeNotSatisfiable(WfeError):
    """The requested byte range is not in the file."""

    code = "range_not_satisfiable"
    http_status = 416
    exit_code = EXIT_USAGE


class ValidationFailed(WfeError):
    """The request is invalid."""

    code = "validation_failed"
    http_status = 422
    exit_code = EXIT_USAGE


class IdempotencyKeyReused(ValidationFailed):
    """This Idempotency-Key was used with another request body."""

    code = "idempotency_key_reused"


class TooManyRequests(WfeError):
    """Too many failed attempts; try again later."""

    code = "too_many_requests"
    http_status = 429
    exit_code = EXIT_FAILED


class StorageFull(WfeError):
    """The disk holding wfe's data is full; nothing was changed. Try again once it has space."""

    code = "storage_full"
    http_status = 507
    exit_code = EXIT_FAILED


class InternalError(WfeError):
    """The daemon hit an unexpected error; its log has the details."""

    code = "internal_error"
    http_status = 500
    exit_code = EXIT_FAILED


class DaemonUnreachable(WfeError):
    """The wfe daemon is not running."""

    code = "daemon_unreachable"
    http_status = 503
    exit_code = EXIT_UNREACHABLE


class UsageError(WfeError):
    """The command was used wrongly."""

    code = "usage_error"
    http_status = 400
    exit_code = EXIT_USAGE


class InvalidSettings(UsageError, ValueError):
    """A setting in config.toml or a WFE_* variable is not one wfe knows, or not valid."""

    code = "invalid_settings"


class WaitTimeout(WfeError):
    """Timed out waiting."""

    code = "wait_timeout"
    http_status = 408
    exit_code = EXIT_WAIT_TIMEOUT


def _all_subclasses(cls: type[WfeError]) -> list[type[WfeError]]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


BY_CODE: dict[str, type[WfeError]] = {c.code: c for c in _all_subclasses(WfeError)}


def from_wire(status: int, body: Any) -> WfeError:
    """Rebuild the error a daemon sent, so the client raises the same class."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return InternalError(f"unexpected response (HTTP {status})")
    cls = BY_CODE.get(str(err.get("code")))
    if cls is None:
        cls = next((c for c in BY_CODE.values() if c.http_status == status), WfeError)
    e = cls(str(err.get("message") or ""), err.get("details"))
    e.code = str(err.get("code") or cls.code)
    return e
