"""HTTP/JSON ↔ gRPC transcoding from google.api.http annotations.

Path templates such as `/v1/{name=clients/*}:assign` become anchored regular expressions; a
matching request's path variables, body and query parameters fill the request message through
protobuf's canonical JSON mapping (google.protobuf.json_format).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from google.protobuf import descriptor, json_format, message

from crm_gateway.descriptors import HttpBinding, MethodInfo
from crm_runtime.errors import InvalidArgument

_VARIABLE = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")
_SCALAR_TYPES = {
    descriptor.FieldDescriptor.TYPE_BOOL: "bool",
    descriptor.FieldDescriptor.TYPE_DOUBLE: "number",
    descriptor.FieldDescriptor.TYPE_FLOAT: "number",
}


def _segment_regex(pattern: str) -> str:
    parts = []
    for segment in pattern.split("/"):
        if segment == "**":
            parts.append("[^:]+")
        elif segment == "*":
            parts.append("[^/:]+")
        else:
            parts.append(re.escape(segment))
    return "/".join(parts)


def template_regex(template: str) -> tuple[re.Pattern[str], list[str]]:
    """Return the regex of a path template and the field paths of its groups, in order."""
    fields: list[str] = []
    out, position = [], 0
    for match in _VARIABLE.finditer(template):
        out.append(_segment_regex(template[position : match.start()]))
        fields.append(match.group(1))
        out.append(f"({_segment_regex(match.group(2) or '*')})")
        position = match.end()
    out.append(_segment_regex(template[position:]))
    return re.compile("^" + "".join(out) + "$"), fields


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """One REST binding of a unary method."""

    info: MethodInfo
    binding: HttpBinding
    regex: re.Pattern[str]
    fields: tuple[str, ...]

    def match(self, path: str) -> dict[str, str] | None:
        """Return the path variables when `path` (still percent-encoded) matches."""
        found = self.regex.match(path)
        if found is None:
            return None
        return {f: unquote(v) for f, v in zip(self.fields, found.groups(), strict=True)}


class HttpRouter:
    """All REST bindings of unary methods, matched by verb then by most literal template."""

    def __init__(self, methods: Iterable[MethodInfo]) -> None:
        self.routes: dict[str, list[HttpRoute]] = {}
        for info in methods:
            if not info.unary:
                continue  # Streaming methods are gRPC only.
            for binding in info.bindings:
                regex, fields = template_regex(binding.template)
                route = HttpRoute(info, binding, regex, tuple(fields))
                self.routes.setdefault(binding.verb, []).append(route)
        for routes in self.routes.values():
            routes.sort(key=lambda r: -len(_VARIABLE.sub("", r.binding.template)))

    def match(self, verb: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        """Return the route and path variables for a request, or None."""
        for route in self.routes.get(verb, ()):
            variables = route.match(path)
            if variables is not None:
                return route, variables
        return None


def _set_path(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def _query_value(field: descriptor.FieldDescriptor, raw: str) -> Any:
    kind = _SCALAR_TYPES.get(field.type)
    if kind == "bool":
        if raw not in ("true", "false"):
            raise InvalidArgument.of(field.json_name, "must be true or false")
        return raw == "true"
    if kind == "number":
        try:
            return float(raw)
        except ValueError as exc:
            raise InvalidArgument.of(field.json_name, "must be a number") from exc
    return raw  # Integers, enums, strings and string-form well-known types parse from text.


def _query_tree(request_type: Any, query: Iterable[tuple[str, str]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, raw in query:
        target: Any = request_type
        proto_path: list[str] = []
        field = None
        for part in key.split("."):
            if target is None:
                raise InvalidArgument.of(key, "is not a field of the request")
            field = target.fields_by_name.get(part) or next(
                (f for f in target.fields if f.json_name == part), None
            )
            if field is None:
                raise InvalidArgument.of(key, "is not a field of the request")
            proto_path.append(field.name)
            target = field.message_type if field.message_type and not _is_wkt(field) else None
        assert field is not None
        value = _query_value(field, raw)
        dotted = ".".join(proto_path)
        if field.is_repeated:
            existing = _get_path(tree, dotted) or []
            _set_path(tree, dotted, [*existing, value])
        else:
            _set_path(tree, dotted, value)
    return tree


def _get_path(tree: Mapping[str, Any], dotted: str) -> Any:
    current: Any = tree
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _is_wkt(field: descriptor.FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.full_name.startswith(
        "google.protobuf."
    )


def build_request(
    route: HttpRoute,
    variables: Mapping[str, str],
    body: Any,
    query: Iterable[tuple[str, str]],
) -> message.Message:
    """Return the request message for an HTTP call, or raise INVALID_ARGUMENT."""
    info, selector = route.info, route.binding.body
    request = info.request_class()()
    try:
        if selector == "*":
            json_format.ParseDict(body if body is not None else {}, request)
        elif selector:
            field = request.DESCRIPTOR.fields_by_name[selector]
            if body is not None:
                json_format.ParseDict({field.json_name: body}, request)
            json_format.ParseDict(_query_tree(request.DESCRIPTOR, query), request)
        else:
            json_format.ParseDict(_query_tree(request.DESCRIPTOR, query), request)
        path_tree: dict[str, Any] = {}
        for dotted, value in variables.items():
            _set_path(path_tree, dotted, value)
        json_format.ParseDict(path_tree, request)
    except json_format.ParseError as exc:
        raise InvalidArgument.of("body", str(exc), reason="MALFORMED_REQUEST") from exc
    except (ValueError, TypeError, AttributeError, RecursionError, OverflowError) as exc:
        # Shapes the JSON mapping does not expect (a list where an object belongs, nesting
        # too deep for the parser): their text is Python's, so callers get a fixed one.
        raise InvalidArgument.of(
            "body", "does not match the request message", reason="MALFORMED_REQUEST"
        ) from exc
    return request


def response_json(route: HttpRoute, response: message.Message) -> Any:
    """Return the JSON form of a response (or of its response_body field)."""
    selector = route.binding.response_body
    rendered = json_format.MessageToDict(response)
    if selector:
        return rendered.get(response.DESCRIPTOR.fields_by_name[selector].json_name)
    return rendered
