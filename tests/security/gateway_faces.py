"""The BOLA matrices, driven through the gateway instead of straight at a service.

Each service's matrix (tests/<service>/test_<service>_bola_matrix.py) calls `h.stub` with
metadata from `h.as_` / `h.rm` / `h.officer`. `ThroughGateway` stands in that place: its stub
is the gateway's (gRPC face) or an HTTP/JSON client that turns each request into the method's
REST call (HTTP face), and its callers are people with SSO tokens, as the gateway sees them.
An HTTP refusal is raised as the gRPC error its google.rpc.Status body describes (same code,
message and details), so the matrix judges both faces with the same rules. Seeding and the
before/after snapshots still go straight to the service.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import grpc
from gateway_harness import GatewayHarness
from google.protobuf import json_format, message
from google.rpc import error_details_pb2, status_pb2  # noqa: F401 - details' types resolve
from service_harness import RM_A

from crm_gateway.access import AccessRules
from crm_gateway.descriptors import MethodInfo, discover
from crm_runtime.auth import Role

_VARIABLE = re.compile(r"\{([\w.]+)(?:=[^}]*)?\}")
_CODES = {code.value[0]: code for code in grpc.StatusCode}
_METHODS = discover()


def _field(request: message.Message, dotted: str) -> Any:
    value: Any = request
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _clear(request: message.Message, dotted: str) -> None:
    holder, _, leaf = dotted.rpartition(".")
    (_field(request, holder) if holder else request).ClearField(leaf)


def _query(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten JSON-mapped fields into query parameters (a.b=1, repeated ones repeated)."""
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _query(v, f"{prefix}{k}" if not prefix
                                                           else f"{prefix}.{k}")]
    if isinstance(data, list):
        return [p for item in data for p in _query(item, prefix)]
    if isinstance(data, bool):
        return [(prefix, "true" if data else "false")]
    return [(prefix, str(data))]


class HttpStub:
    """Calls a service's methods over the gateway's HTTP/JSON face."""

    def __init__(self, gw: GatewayHarness, service: str, statuses: Counter[int]) -> None:
        self.gw = gw
        self.service = service
        self.statuses = statuses

    def __getattr__(self, name: str) -> Any:
        info = _METHODS[f"/{self.service}/{name}"]

        async def unary(request: message.Message, metadata: Iterable[tuple[str, str]] = ()) -> Any:
            return await self.send(info, request, list(metadata))

        return unary

    async def send(self, info: MethodInfo, request: message.Message,
                   headers: list[tuple[str, str]]) -> None:
        binding = info.bindings[0]
        rest = type(request)()
        rest.CopyFrom(request)
        used: list[str] = []

        def fill(match: re.Match[str]) -> str:
            used.append(match[1])
            return quote(str(_field(request, match[1])), safe="/")

        path = _VARIABLE.sub(fill, binding.template)
        for dotted in used:
            _clear(rest, dotted)
        body: Any = None
        if binding.body == "*":
            body, rest = json_format.MessageToDict(rest), type(request)()
        elif binding.body:
            body = json_format.MessageToDict(getattr(rest, binding.body))
            rest.ClearField(binding.body)
        reply = await self.gw.http.request(
            binding.verb, path, params=_query(json_format.MessageToDict(rest)), json=body,
            headers=headers)
        self.statuses[reply.status_code] += 1
        if reply.status_code < 300:
            return
        status = json_format.ParseDict(reply.json(), status_pb2.Status(),
                                       ignore_unknown_fields=True)
        raise grpc.aio.AioRpcError(
            _CODES[status.code], grpc.aio.Metadata(),
            grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString())),
            details=status.message)


class ThroughGateway:
    """A service harness's place in a BOLA matrix, with every call going through the gateway."""

    def __init__(self, h: Any, gw: GatewayHarness, service: str, face: str) -> None:
        self.h = h
        self.gw = gw
        self.face = face
        self.http_statuses: Counter[int] = Counter()
        self.stub: Any = (h.stub_type(gw.channel) if face == "grpc"
                          else HttpStub(gw, service, self.http_statuses))

    def as_(self, subject: str, *roles: Role, teams: Iterable[str] = ()) -> Any:
        token = self.gw.sso.token(subject.removeprefix("staff/"), *roles, teams=tuple(teams),
                                  expires_in=3600)
        return (("authorization", f"Bearer {token}"),)

    def rm(self, subject: str = RM_A, teams: Iterable[str] = ()) -> Any:
        return self.as_(subject, Role.RELATIONSHIP_MANAGER, teams=teams)

    def officer(self, subject: str = "staff/risk-1") -> Any:
        return self.as_(subject, Role.RISK_OFFICER)


def reachable(gw: GatewayHarness, service: str, methods: list[Any], face: str) -> list[Any]:
    """Return the methods an external caller can reach on `face`: exposed by the gateway's
    rules, and on HTTP unary with a REST binding (the push and monitoring streams are gRPC)."""
    rules = AccessRules.from_file(gw.settings.access_rules_file)
    kept = [m for m in methods if rules.exposed(f"/{service}/{m.name}")]
    if face == "http":
        kept = [m for m in kept if _METHODS[f"/{service}/{m.name}"].unary
                and _METHODS[f"/{service}/{m.name}"].bindings]
    return kept
