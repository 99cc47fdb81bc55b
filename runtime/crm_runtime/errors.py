"""Domain errors and their mapping to google.rpc.Status.

Services raise DomainError subclasses; the server interceptor turns them into a status with
an ErrorInfo reason (what clients branch on) and, for validation, BadRequest field violations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

DOMAIN_SUFFIX = ".crm"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field: a dotted path into the request and what is wrong with it."""

    field: str
    description: str


class DomainError(Exception):
    """Base class of errors that callers should see with a stable reason."""

    code: int = code_pb2.INTERNAL
    reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = dict(metadata or {})
        self.violations = tuple(violations)
        self.retry_after_seconds = retry_after_seconds


class InvalidArgument(DomainError):
    """The request is wrong whatever the state of the system."""

    code, reason = code_pb2.INVALID_ARGUMENT, "INVALID_ARGUMENT"

    @classmethod
    def of(cls, field: str, description: str, *, reason: str | None = None) -> InvalidArgument:
        """Return an error for a single bad field."""
        return cls(
            f"{field}: {description}",
            reason=reason,
            violations=[FieldViolation(field, description)],
        )


class NotFound(DomainError):
    """The named resource does not exist (or the caller may not know it exists)."""

    code, reason = code_pb2.NOT_FOUND, "NOT_FOUND"


class AlreadyExists(DomainError):
    """A resource with the same unique key exists."""

    code, reason = code_pb2.ALREADY_EXISTS, "ALREADY_EXISTS"


class Aborted(DomainError):
    """A concurrency conflict: re-read and retry the read-modify-write."""

    code, reason = code_pb2.ABORTED, "ABORTED"


class FailedPrecondition(DomainError):
    """The request is valid but not in the current state."""

    code, reason = code_pb2.FAILED_PRECONDITION, "FAILED_PRECONDITION"


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""

    code, reason = code_pb2.PERMISSION_DENIED, "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    """The caller did not prove who it is."""

    code, reason = code_pb2.UNAUTHENTICATED, "UNAUTHENTICATED"


class ResourceExhausted(DomainError):
    """A limit was reached; retry later."""

    code, reason = code_pb2.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"


class DeadlineExceeded(DomainError):
    """The caller's time ran out, here or in a call this one made on its behalf."""

    code, reason = code_pb2.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"


class Unavailable(DomainError):
    """A dependency is down; the call was not processed and may be retried."""

    code, reason = code_pb2.UNAVAILABLE, "UNAVAILABLE"


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def to_status(error: DomainError, *, domain: str) -> status_pb2.Status:
    """Return the google.rpc.Status for a domain error raised by the service `domain`."""
    status = status_pb2.Status(code=error.code, message=error.message)
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=f"{domain}{DOMAIN_SUFFIX}", metadata=error.metadata
    )
    status.details.append(_pack(info))
    if error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        status.details.append(_pack(bad_request))
    if error.retry_after_seconds is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(error.retry_after_seconds * 1e9))
        status.details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    return status


def internal_status(*, domain: str) -> status_pb2.Status:
    """Return the generic INTERNAL status used for unexpected exceptions (no internals leak)."""
    return to_status(DomainError("internal error"), domain=domain)


RETRY_PUSHBACK_KEY = "grpc-retry-pushback-ms"


def retry_pushback(status: status_pb2.Status) -> tuple[tuple[str, str], ...]:
    """Return the trailer that makes gRPC's own retry policy wait the RetryInfo delay.

    A caller's service config (crm_contracts.service_config) retries RESOURCE_EXHAUSTED with
    exponential backoff; with this trailer gRPC waits the delay the server asked for instead.
    """
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            millis = max(1, int(info.retry_delay.ToNanoseconds()) // 1_000_000)
            return ((RETRY_PUSHBACK_KEY, str(millis)),)
    return ()
