"""gRPC status → HTTP: status codes per google.rpc.Code, and google.rpc.Status as JSON."""

from __future__ import annotations

import base64
import math
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from crm_runtime.errors import DomainError, Unavailable, to_status

# The mapping documented in google/rpc/code.proto.
HTTP_STATUS = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
}

DOMAIN = "gateway"


def http_status(code: int) -> int:
    """Return the HTTP status for a google.rpc.Code value."""
    return HTTP_STATUS.get(code, 500)


def status_of_domain_error(error: DomainError) -> status_pb2.Status:
    """Return the status for an error the gateway raised itself."""
    return to_status(error, domain=DOMAIN)


def status_of_rpc_error(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """Return the upstream's google.rpc.Status with its details, as the gRPC face relays it."""
    try:
        status = rpc_status.from_call(error)
    except ValueError:  # Details that contradict the code: trust nothing in them.
        status = None
    if status is not None:
        return status
    # Raised by the gRPC library (connection refused, deadline), not by the service: its text
    # names internal addresses, so callers get a generic message.
    code = error.code().value[0]
    if code == code_pb2.UNAVAILABLE:
        return to_status(
            Unavailable("upstream service is unavailable", reason="UPSTREAM_UNAVAILABLE"),
            domain=DOMAIN,
        )
    generic = DomainError(code_pb2.Code.Name(code).replace("_", " ").lower())
    generic.code, generic.reason = code, code_pb2.Code.Name(code)
    return to_status(generic, domain=DOMAIN)


def status_json(status: status_pb2.Status) -> dict[str, Any]:
    """Return google.rpc.Status in canonical JSON; unknown detail types stay base64."""
    details: list[Any] = []
    for detail in status.details:
        try:
            details.append(json_format.MessageToDict(detail))
        except (TypeError, KeyError):
            details.append(
                {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode()}
            )
    return {"code": status.code, "message": status.message, "details": details}


def retry_after_seconds(status: status_pb2.Status) -> int | None:
    """Return the RetryInfo delay rounded up to whole seconds (for Retry-After), if any."""
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return max(1, math.ceil(int(info.retry_delay.ToNanoseconds()) / 1e9))
    return None


def error_reason(status: status_pb2.Status) -> str:
    """Return the ErrorInfo reason of a status, or an empty string."""
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""
