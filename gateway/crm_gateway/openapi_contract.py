"""What the OpenAPI document promises beyond types: error responses and string patterns.

Nothing here is typed twice. Resource names take their shape from the `google.api.resource`
patterns (crm_runtime.names, which the services parse names with); other string shapes from
crm_runtime.formats (which the services validate with); error examples are produced by the
same functions that produce the errors on the wire (crm_runtime.errors, status_json).
"""

from __future__ import annotations

import re
from typing import Any

from google.api import field_behavior_pb2, resource_pb2
from google.protobuf import descriptor

from crm_gateway.errors import http_status, status_json
from crm_runtime.errors import (
    AlreadyExists,
    DomainError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    to_status,
)
from crm_runtime.formats import FIELD_FORMATS
from crm_runtime.names import _VARIABLE, ID_SEGMENT, pattern_of, reference_pattern

# An id the services generate (32 hex), used in examples.
EXAMPLE_ID = "4f1c2a9e8b7d4c3e9a1b2c3d4e5f6a7b"
ID_PATTERN = f"^{ID_SEGMENT}$"

_ERRORS: dict[str, tuple[str, DomainError]] = {
    "BadRequest": (
        "INVALID_ARGUMENT, FAILED_PRECONDITION or OUT_OF_RANGE; BadRequest names the fields.",
        InvalidArgument.of("client.credit_code", "check character should be 4"),
    ),
    "Unauthenticated": (
        "No credential, or one that is expired, forged or revoked.",
        Unauthenticated("credentials are missing or invalid"),
    ),
    "PermissionDenied": (
        "The caller may not do this, or may not see this resource.",
        PermissionDenied("not allowed", reason="NOT_ASSIGNED"),
    ),
    "NotFound": (
        "No such resource (also answered for resources the caller may not see).",
        NotFound("clients/" + EXAMPLE_ID + " not found"),
    ),
    "Conflict": (
        "ALREADY_EXISTS (e.g. a duplicate credit code) or ABORTED (a concurrent change).",
        AlreadyExists("a client with this credit code exists", reason="DUPLICATE_CREDIT_CODE"),
    ),
    "TooManyRequests": (
        "RESOURCE_EXHAUSTED: a rate or concurrency limit; RetryInfo and Retry-After say when.",
        ResourceExhausted("too many calls at once", retry_after_seconds=1.0),
    ),
}


def error_responses() -> dict[str, Any]:
    """Return the components/responses entries: one per error status."""
    responses: dict[str, Any] = {}
    for key, (description, error) in _ERRORS.items():
        example = status_json(to_status(error, domain="client"))
        responses[key] = {
            "description": description,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/google.rpc.Status"},
                    "example": example,
                }
            },
        }
    return responses


def error_response_refs() -> dict[str, Any]:
    """Return an operation's error responses, by HTTP status, as references."""
    refs = {
        str(http_status(error.code)): {"$ref": f"#/components/responses/{key}"}
        for key, (_, error) in _ERRORS.items()
    }
    # `default` stays inline (not a reference): clients read its schema straight from the
    # operation, as they did before the per-status responses existed.
    default = {
        "description": "Any other error: google.rpc.Status; HTTP status per google.rpc.Code.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}
        },
    }
    return {**refs, "default": default}


def _name_regex(pattern: str) -> str:
    """Return an ECMA-compatible regex (what OpenAPI `pattern` is) for a resource pattern."""
    parts = [
        ID_SEGMENT if _VARIABLE.fullmatch(segment) else re.escape(segment)
        for segment in pattern.split("/")
    ]
    return "^" + "/".join(parts) + "$"


def _name_example(pattern: str) -> str:
    return _VARIABLE.sub(EXAMPLE_ID, pattern)


def _name_pattern(message: descriptor.Descriptor, field: descriptor.FieldDescriptor) -> str | None:
    """Return the resource pattern a string field holds, if it names a resource."""
    options = field.GetOptions()
    if options.HasExtension(resource_pb2.resource_reference):
        try:
            return reference_pattern(message, field.name).pattern
        except LookupError:
            return None
    behaviors = set(options.Extensions[field_behavior_pb2.field_behavior])
    resource = message.GetOptions().Extensions[resource_pb2.resource]
    if (
        field.name == "name"
        and resource.pattern
        and (
            field_behavior_pb2.IDENTIFIER in behaviors
            or field_behavior_pb2.OUTPUT_ONLY in behaviors
        )
    ):
        return str(pattern_of(message).pattern)
    return None


def string_constraints(field: descriptor.FieldDescriptor) -> dict[str, Any]:
    """Return pattern, description and example a string field's schema carries."""
    message = field.containing_type
    if message is None:
        return {}
    declared = FIELD_FORMATS.get(f"{message.full_name}.{field.name}")
    if declared is not None:
        return {
            "pattern": declared.pattern,
            "description": declared.description,
            "example": declared.example,
        }
    pattern = _name_pattern(message, field)
    if pattern is None:
        return {}
    return {
        "pattern": _name_regex(pattern),
        "description": f"Resource name: {pattern}.",
        "example": _name_example(pattern),
    }


def path_parameter_schema(pattern: str) -> dict[str, Any]:
    """Return the schema of a path parameter that holds one id of a resource name."""
    if "/" not in pattern:  # The whole field in one parameter: no resource shape to promise.
        return {"type": "string"}
    return {"type": "string", "pattern": ID_PATTERN, "example": EXAMPLE_ID}
