"""The resource an audited call names, found off the hot path by the audit writer.

The hot path keeps the raw request; the writer decodes it (up to 64 KiB) and takes the first
non-empty field among the method's HTTP path variables, then `name` and `parent`. Methods whose
request has none of those fields (lists, batch ingest) are never decoded.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import message

from crm_gateway.descriptors import MethodInfo

_MAX_DECODED_BYTES = 64 * 1024
_RESOURCE_FIELDS = ("name", "parent")

_resource_fields: dict[str, tuple[str, ...]] = {}


def _resource_paths(info: MethodInfo) -> tuple[str, ...]:
    """Return the request fields that may name a resource (cached per method)."""
    paths = _resource_fields.get(info.path)
    if paths is None:
        candidates = [v for b in info.bindings for v in path_variables(b.template)]
        fields = info.descriptor.input_type.fields_by_name
        paths = tuple(
            dict.fromkeys(p for p in (*candidates, *_RESOURCE_FIELDS) if p.split(".")[0] in fields)
        )
        _resource_fields[info.path] = paths
    return paths


def resource_of(info: MethodInfo | None, payload: bytes | message.Message | None) -> str:
    """Return the resource a unary request names: its HTTP path variable, name or parent."""
    if info is None or payload is None:
        return ""
    paths = _resource_paths(info)
    if not paths:
        return ""  # Nothing to find: skip decoding (List calls, batch ingest).
    if isinstance(payload, bytes):
        if len(payload) > _MAX_DECODED_BYTES:
            return ""
        try:
            request = info.request_class().FromString(payload)
        except message.DecodeError:
            return ""
    else:
        request = payload
    for path in paths:
        value = _field_value(request, path)
        if value:
            return value[:256]
    return ""


def path_variables(template: str) -> list[str]:
    """Return the field paths of the variables in an HTTP path template."""
    names = []
    for part in template.split("{")[1:]:
        names.append(part.split("}")[0].split("=")[0])
    return names


def _field_value(request: message.Message, path: str) -> str:
    target: Any = request
    for part in path.split("."):
        fields = target.DESCRIPTOR.fields_by_name
        if part not in fields:
            return ""
        target = getattr(target, part)
        if not isinstance(target, (message.Message, str)):
            return ""
    return target if isinstance(target, str) else ""
