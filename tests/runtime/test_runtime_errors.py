"""Domain errors map to google.rpc.Status with a stable ErrorInfo reason and typed details."""

from __future__ import annotations

import pytest
from google.rpc import code_pb2, error_details_pb2

from crm_runtime.errors import (
    Aborted,
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    internal_status,
    to_status,
)


def _details(status, kind):
    found = []
    for detail in status.details:
        message = kind()
        if detail.Unpack(message):
            found.append(message)
    return found


class TestToStatus:
    @pytest.mark.parametrize(("error_type", "code"), [
        (InvalidArgument, code_pb2.INVALID_ARGUMENT), (NotFound, code_pb2.NOT_FOUND),
        (AlreadyExists, code_pb2.ALREADY_EXISTS), (Aborted, code_pb2.ABORTED),
        (FailedPrecondition, code_pb2.FAILED_PRECONDITION),
        (PermissionDenied, code_pb2.PERMISSION_DENIED),
        (Unauthenticated, code_pb2.UNAUTHENTICATED),
        (ResourceExhausted, code_pb2.RESOURCE_EXHAUSTED), (Unavailable, code_pb2.UNAVAILABLE),
    ])
    def test_code_and_default_reason(self, error_type, code):
        """Each error class carries its canonical code and reason, in the service's domain."""
        status = to_status(error_type("m"), domain="client")
        (info,) = _details(status, error_details_pb2.ErrorInfo)
        assert status.code == code
        assert info.reason == code_pb2.Code.Name(code)
        assert info.domain == "client.crm"

    def test_reason_override_and_metadata(self):
        """An explicit reason and metadata travel in the ErrorInfo."""
        error = PermissionDenied("no", reason="FIELD_NOT_MUTABLE", metadata={"field": "team"})
        (info,) = _details(to_status(error, domain="risk"), error_details_pb2.ErrorInfo)
        assert info.reason == "FIELD_NOT_MUTABLE"
        assert dict(info.metadata) == {"field": "team"}

    def test_reason_override_does_not_leak_to_class(self):
        """Overriding the reason on one instance leaves the class default alone."""
        PermissionDenied("no", reason="SOMETHING_ELSE")
        assert PermissionDenied("no").reason == "PERMISSION_DENIED"

    def test_field_violations(self):
        """Violations become one BadRequest with every field, in order."""
        error = InvalidArgument("bad", violations=[
            FieldViolation("client.display_name", "required"),
            FieldViolation("client.credit_code", "check digit")])
        status = to_status(error, domain="client")
        (bad,) = _details(status, error_details_pb2.BadRequest)
        assert [v.field for v in bad.field_violations] == [
            "client.display_name", "client.credit_code"]
        single = to_status(InvalidArgument.of("page_size", "negative"), domain="client")
        (bad,) = _details(single, error_details_pb2.BadRequest)
        assert [v.field for v in bad.field_violations] == ["page_size"]

    def test_no_bad_request_without_violations(self):
        """Errors without violations carry no BadRequest."""
        assert _details(to_status(NotFound("gone"), domain="c"), error_details_pb2.BadRequest) == []

    def test_retry_info(self):
        """retry_after_seconds becomes a RetryInfo delay."""
        status = to_status(ResourceExhausted("slow down", retry_after_seconds=1.25), domain="c")
        (retry,) = _details(status, error_details_pb2.RetryInfo)
        assert retry.retry_delay.ToNanoseconds() == 1_250_000_000
        assert _details(to_status(Aborted("x"), domain="c"), error_details_pb2.RetryInfo) == []

    def test_internal_status_is_generic(self):
        """The INTERNAL status says nothing about what went wrong."""
        status = internal_status(domain="client")
        (info,) = _details(status, error_details_pb2.ErrorInfo)
        assert status.code == code_pb2.INTERNAL
        assert info.reason == "INTERNAL"
        assert status.message == "internal error"
        assert DomainError("x").code == code_pb2.INTERNAL
