"""Deadlines and retry policies per method, as gRPC service config (docs/CONTRACTS.md).

Each method falls in one class, decided from its contract, not from a list kept by hand:

- `read`: its HTTP binding is GET, or its name starts with Get/List/Batch Get. Safe to
  repeat, so it retries UNAVAILABLE and RESOURCE_EXHAUSTED.
- `idempotent_write`: its request has a `request_id`; the service answers a repeated id with
  the first outcome, so retrying the same request (same id) is safe: it retries the same codes.
- `write`: any other unary method. Not retried by policy (gRPC still retries transparently a
  call that never left the client).
- `stream`: client, server or bidirectional streaming. No deadline and no retry by policy: it
  is long-lived, and after a break the caller reconnects and resumes from its own cursor.

Use: `grpc.aio.insecure_channel(target, options=channel_options())`. Hedging is not used: it
doubles load exactly when a service is slow, and writes would need it disabled anyway.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from functools import cache
from typing import Any

from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from crm_contracts import descriptor_set_bytes

RETRYABLE_CODES = ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]
_RETRY = {
    "maxAttempts": 4,
    "initialBackoff": "0.2s",
    "maxBackoff": "3s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": RETRYABLE_CODES,
}

# The policy of each class: the JSON a method's entry carries besides its names.
POLICIES: dict[str, dict[str, Any]] = {
    "read": {"timeout": "5s", "waitForReady": False, "retryPolicy": _RETRY},
    "idempotent_write": {"timeout": "10s", "waitForReady": False, "retryPolicy": _RETRY},
    # Also the class of the long computations (back-tests, audit-chain checks): a longer
    # deadline, and no retry that would start one twice.
    "write": {"timeout": "30s", "waitForReady": False},
    # No policy deadline or retry: a stream lives as long as its caller wants, and after a
    # break the caller resumes from its own cursor (docs/NOTIFY.md, docs/MONITORING.md).
    "stream": {"waitForReady": False},
}
# A client stops retrying while more than half its recent calls failed (token bucket), so
# retries never multiply an outage.
RETRY_THROTTLING = {"maxTokens": 10, "tokenRatio": 0.1}
_READ_PREFIXES = ("Get", "List", "BatchGet")


@cache
def _files() -> tuple[descriptor_pb2.FileDescriptorProto, ...]:
    return tuple(descriptor_pb2.FileDescriptorSet.FromString(descriptor_set_bytes()).file)


def _messages() -> dict[str, descriptor_pb2.DescriptorProto]:
    found = {}
    for file in _files():
        for message in file.message_type:
            found[f".{file.package}.{message.name}"] = message
    return found


def services() -> list[str]:
    """Return the fully qualified names of the platform's services."""
    return sorted(
        f"{file.package}.{service.name}"
        for file in _files()
        if file.package.startswith("crm.")
        for service in file.service
    )


def method_class(method: descriptor_pb2.MethodDescriptorProto) -> str:
    """Return the class (a POLICIES key) of a method."""
    if method.client_streaming or method.server_streaming:
        return "stream"
    if method.options.Extensions[annotations_pb2.http].get or method.name.startswith(
        _READ_PREFIXES
    ):
        return "read"
    request = _messages().get(method.input_type)
    if request is not None and any(field.name == "request_id" for field in request.field):
        return "idempotent_write"
    return "write"


def method_classes(names: Iterable[str] = ()) -> dict[tuple[str, str], str]:
    """Return {(service, method): class} for the named services (default: all)."""
    wanted = set(names) or set(services())
    classes = {}
    for file in _files():
        for service in file.service:
            full = f"{file.package}.{service.name}"
            if full in wanted:
                for method in service.method:
                    classes[(full, method.name)] = method_class(method)
    return classes


def service_config(*names: str) -> dict[str, Any]:
    """Return the gRPC service config (as a dict) for the named services (default: all)."""
    by_class: dict[str, list[dict[str, str]]] = {key: [] for key in POLICIES}
    for (service, method), kind in sorted(method_classes(names).items()):
        by_class[kind].append({"service": service, "method": method})
    return {
        "methodConfig": [
            {"name": members, **POLICIES[kind]} for kind, members in by_class.items() if members
        ],
        "retryThrottling": RETRY_THROTTLING,
    }


def service_config_json(*names: str) -> str:
    """Return the service config as the JSON string gRPC's channel option takes."""
    return json.dumps(service_config(*names), separators=(",", ":"))


def channel_options(*names: str) -> list[tuple[str, Any]]:
    """Return channel options that apply the service config (retries enabled)."""
    return [("grpc.service_config", service_config_json(*names)), ("grpc.enable_retries", 1)]


if __name__ == "__main__":
    print(json.dumps(service_config(*sys.argv[1:]), indent=2))
