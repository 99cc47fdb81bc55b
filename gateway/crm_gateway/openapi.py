"""OpenAPI 3 document generated from the protos: paths from google.api.http, schemas from
message descriptors, JSON names and types per protobuf's canonical JSON mapping.

A path variable over a resource pattern is spelled out segment by segment, in the style of
Google's discovery documents: `/v1/{name=clients/*}` becomes `/v1/clients/{clientsId}`, so
path parameters never hold a slash and a client fills them from a resource name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor

from crm_gateway.descriptors import HttpBinding, MethodInfo
from crm_gateway.openapi_contract import (
    error_response_refs,
    error_responses,
    path_parameter_schema,
    string_constraints,
)
from crm_gateway.transcode import _VARIABLE

FD = descriptor.FieldDescriptor
STATUS_SCHEMA = "google.rpc.Status"
_INT32 = {FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32}
_UINT32 = {FD.TYPE_UINT32, FD.TYPE_FIXED32}
_INT64 = {FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64, FD.TYPE_UINT64, FD.TYPE_FIXED64}
_SCALARS: dict[int, dict[str, Any]] = {
    FD.TYPE_BOOL: {"type": "boolean"},
    FD.TYPE_STRING: {"type": "string"},
    FD.TYPE_BYTES: {"type": "string", "format": "byte"},
    FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
    **{t: {"type": "integer", "format": "int32"} for t in _INT32},
    **{t: {"type": "integer", "format": "int64", "minimum": 0} for t in _UINT32},
    # 64-bit integers are JSON strings in the canonical mapping.
    **{t: {"type": "string", "format": "int64"} for t in _INT64},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?\d+(\.\d+)?s$"},
    "google.protobuf.FieldMask": {"type": "string", "description": "Comma-separated paths."},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "additionalProperties": True,
    },
    "google.protobuf.StringValue": {"type": "string", "nullable": True},
    "google.protobuf.BoolValue": {"type": "boolean", "nullable": True},
    "google.protobuf.Int32Value": {"type": "integer", "format": "int32", "nullable": True},
    "google.protobuf.Int64Value": {"type": "string", "format": "int64", "nullable": True},
    "google.protobuf.DoubleValue": {"type": "number", "format": "double", "nullable": True},
}


def _behaviors(field: descriptor.FieldDescriptor) -> set[int]:
    return set(field.GetOptions().Extensions[field_behavior_pb2.field_behavior])


class SchemaBuilder:
    """Collects component schemas for messages and enums as they are referenced."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, message: descriptor.Descriptor) -> dict[str, Any]:
        """Return a schema for a message type, adding its component when new."""
        if message.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message.full_name])
        if message.full_name not in self.schemas:
            self.schemas[message.full_name] = {}  # Placeholder: recursive messages.
            self.schemas[message.full_name] = self._message(message)
        return {"$ref": f"#/components/schemas/{message.full_name}"}

    def _message(self, message: descriptor.Descriptor) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required = []
        for field in message.fields:
            schema = self.field(field)
            behaviors = _behaviors(field)
            if field_behavior_pb2.OUTPUT_ONLY in behaviors:
                schema = (
                    {"allOf": [schema], "readOnly": True}
                    if "$ref" in schema
                    else {
                        **schema,
                        "readOnly": True,
                    }
                )
            if field_behavior_pb2.REQUIRED in behaviors:
                required.append(field.json_name)
            properties[field.json_name] = schema
        result: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            result["required"] = required
        return result

    def field(self, field: descriptor.FieldDescriptor) -> dict[str, Any]:
        """Return the schema of a field, repeated and map fields included."""
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            return {"type": "object", "additionalProperties": self._single(value)}
        single = self._single(field)
        if field.is_repeated:
            return {"type": "array", "items": single}
        return single

    def _single(self, field: descriptor.FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None:
            return self.ref(field.message_type)
        if field.enum_type is not None:
            name = field.enum_type.full_name
            if name not in self.schemas:
                values = [v.name for v in field.enum_type.values]
                self.schemas[name] = {"type": "string", "enum": values}
            return {"$ref": f"#/components/schemas/{name}"}
        if field.type == FD.TYPE_STRING:
            return {**_SCALARS[field.type], **string_constraints(field)}
        return dict(_SCALARS[field.type])


def openapi_path(template: str) -> tuple[str, list[tuple[str, str, str]]]:
    """Return the OpenAPI path of a template and its parameters (name, field, pattern)."""
    parameters: list[tuple[str, str, str]] = []

    def expand(match: re.Match[str]) -> str:
        field, pattern = match.group(1), match.group(2) or "*"
        segments = pattern.split("/")
        if pattern in ("*", "**"):
            parameters.append((field.replace(".", "_"), field, pattern))
            return "{" + field.replace(".", "_") + "}"
        out = []
        for index, segment in enumerate(segments):
            if segment in ("*", "**"):
                collection = segments[index - 1] if index else field
                name = f"{collection}Id"
                parameters.append((name, field, pattern))
                out.append("{" + name + "}")
            else:
                out.append(segment)
        return "/".join(out)

    return _VARIABLE.sub(expand, template), parameters


def _operation(
    info: MethodInfo, binding: HttpBinding, schemas: SchemaBuilder, operation_id: str
) -> tuple[str, dict[str, Any]]:
    path, params = openapi_path(binding.template)
    request_type = info.descriptor.input_type
    path_fields = {field for _, field, _ in params}
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": path_parameter_schema(pattern),
            "description": f"Part of `{field}` ({pattern}).",
        }
        for name, field, pattern in params
    ]
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [info.service.rsplit(".", 1)[-1]],
        "summary": f"{info.service}.{info.name}",
        "x-grpc-method": info.path,
    }
    if binding.body == "*":
        body_schema = schemas.ref(request_type)
    elif binding.body:
        body_schema = schemas.field(request_type.fields_by_name[binding.body])
    if binding.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_schema}},
        }
    if binding.body != "*":
        parameters += _query_parameters(request_type, path_fields | {binding.body}, schemas)
    if parameters:
        operation["parameters"] = parameters
    response_schema = (
        schemas.field(info.descriptor.output_type.fields_by_name[binding.response_body])
        if binding.response_body
        else schemas.ref(info.descriptor.output_type)
    )
    operation["responses"] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": response_schema}}},
        **error_response_refs(),
    }
    return path, operation


def _query_parameters(
    request: descriptor.Descriptor, excluded: set[str], schemas: SchemaBuilder
) -> list[dict[str, Any]]:
    parameters = []
    for field in request.fields:
        if field.name in excluded or (
            field.message_type is not None and field.message_type.full_name not in _WELL_KNOWN
        ):
            continue  # Nested messages travel in bodies, not query strings.
        parameters.append(
            {
                "name": field.json_name,
                "in": "query",
                "required": False,
                "schema": schemas.field(field),
            }
        )
    return parameters


def build_openapi(
    methods: Iterable[MethodInfo], *, title: str = "CRM platform API"
) -> dict[str, Any]:
    """Return the OpenAPI 3.0 document of every unary method's HTTP bindings."""
    schemas = SchemaBuilder()
    schemas.schemas[STATUS_SCHEMA] = {
        "type": "object",
        "properties": {
            "code": {"type": "integer", "format": "int32"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": _WELL_KNOWN["google.protobuf.Any"]},
        },
    }
    paths: dict[str, dict[str, Any]] = {}
    for info in sorted(methods, key=lambda m: m.path):
        if not info.unary:
            continue
        for index, binding in enumerate(info.bindings):
            suffix = f"_{index}" if index else ""
            operation_id = f"{info.service.rsplit('.', 1)[-1]}_{info.name}{suffix}"
            path, operation = _operation(info, binding, schemas, operation_id)
            paths.setdefault(path, {})[binding.verb.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "v1"},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.schemas.items())),
            "responses": error_responses(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
