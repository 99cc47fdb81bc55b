"""Discovery of every generated `crm.*` service: methods, streaming kinds, HTTP annotations.

The generated code lives in the `crm` namespace package (folders without __init__.py), which
pkgutil cannot walk, so the folders are scanned for `*_pb2.py` files and each is imported. A
service added later is picked up at the next start without code changes here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, message, message_factory

from crm_runtime.logging import get_logger

log = get_logger("descriptors")


@dataclass(frozen=True, slots=True)
class HttpBinding:
    """One REST mapping of a method: verb, path template and body selector."""

    verb: str
    template: str
    body: str
    response_body: str


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """What the gateway needs to know about one RPC."""

    path: str  # "/crm.client.v1.ClientService/GetClient"
    service: str  # "crm.client.v1.ClientService"
    name: str
    client_streaming: bool
    server_streaming: bool
    descriptor: descriptor.MethodDescriptor
    bindings: tuple[HttpBinding, ...]

    @property
    def unary(self) -> bool:
        """Return True for a unary-unary method."""
        return not (self.client_streaming or self.server_streaming)

    def request_class(self) -> type[message.Message]:
        """Return the generated class of the request message."""
        return message_factory.GetMessageClass(self.descriptor.input_type)

    def response_class(self) -> type[message.Message]:
        """Return the generated class of the response message."""
        return message_factory.GetMessageClass(self.descriptor.output_type)


def _rule_bindings(rule: http_pb2.HttpRule) -> Iterator[HttpBinding]:
    pattern = rule.WhichOneof("pattern")
    if pattern == "custom":
        yield HttpBinding(rule.custom.kind.upper(), rule.custom.path, rule.body, rule.response_body)
    elif pattern is not None:
        yield HttpBinding(pattern.upper(), getattr(rule, pattern), rule.body, rule.response_body)
    for extra in rule.additional_bindings:
        yield from _rule_bindings(extra)


def http_bindings(method: descriptor.MethodDescriptor) -> tuple[HttpBinding, ...]:
    """Return the google.api.http bindings of a method (empty when it has none)."""
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return ()
    return tuple(_rule_bindings(options.Extensions[annotations_pb2.http]))


def service_methods(service: descriptor.ServiceDescriptor) -> Iterator[MethodInfo]:
    """Yield every method of a service descriptor."""
    for method in service.methods:
        yield MethodInfo(
            path=f"/{service.full_name}/{method.name}",
            service=service.full_name,
            name=method.name,
            client_streaming=method.client_streaming,
            server_streaming=method.server_streaming,
            descriptor=method,
            bindings=http_bindings(method),
        )


def generated_modules(namespace: str = "crm") -> list[str]:
    """Return the names of every generated `*_pb2` module under the namespace package."""
    package = importlib.import_module(namespace)
    names: set[str] = set()
    for root in map(Path, package.__path__):
        for file in root.rglob("*_pb2.py"):
            relative = file.relative_to(root).with_suffix("")
            names.add(".".join((namespace, *relative.parts)))
    return sorted(names)


def discover(modules: Iterable[str] | None = None) -> dict[str, MethodInfo]:
    """Import generated modules and return every method they define, keyed by path."""
    methods: dict[str, MethodInfo] = {}
    for name in generated_modules() if modules is None else modules:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # A half-written module must not stop the gateway.
            log.warning("generated module not importable", module=name, error=str(exc))
            continue
        file_descriptor: descriptor.FileDescriptor | None = getattr(module, "DESCRIPTOR", None)
        if file_descriptor is None:
            continue
        for service in file_descriptor.services_by_name.values():
            for info in service_methods(service):
                methods[info.path] = info
    return methods
