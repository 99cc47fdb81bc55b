"""BOLA through the gateway (issue 11, `security`): relationship manager A calls every
object-scoped RPC of every service with B's objects and with nonexistent ones, over the
gateway's gRPC face and over its HTTP face. Each service's own matrix module supplies the
seed, the requests and the expected refusal; tests/security/gateway_faces.py routes the calls
through the gateway. 0 reads or writes of B's objects are allowed, B's and a nonexistent
object answer alike, and A's own objects succeed (so refusals come from ownership).

`./run.sh security` runs all four services on both faces (about a minute). The default suite
keeps the direct matrices (tests/<service>/test_<service>_bola_matrix.py) and the forged and
lockout representatives.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bola_support import WHOSE, call, run_matrix
from client_harness import client_service
from feedback_harness import feedback_service
from gateway_faces import ThroughGateway, reachable
from gateway_harness import gateway_service
from notify_harness import notify_service
from risk_harness import risk_service
from service_harness import RM_A

TESTS = Path(__file__).resolve().parents[1]


def _matrix(service: str) -> Any:
    """Import a service's BOLA matrix module under a name of its own (not collected again)."""
    name = f"bola_matrix_of_{service}"
    if name not in sys.modules:
        path = TESTS / service / f"test_{service}_bola_matrix.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass(frozen=True)
class Target:
    """How to run one service's matrix through the gateway."""

    service: str  # the folder and module name: client, risk, notify, feedback
    grpc_service: str
    start: Callable[[str, Any], AbstractAsyncContextManager[Any]]
    addr_setting: str

    def matrix(self) -> Any:
        return _matrix(self.service)

    def scoped(self) -> list[Any]:
        m = self.matrix()
        if self.service == "client":
            return m.scoped_methods(m.SERVICE, m.resource_field, m.NOT_OBJECT_SCOPED)
        return m.scoped_methods()

    def reason_for(self, method: Any) -> str:
        m = self.matrix()
        if self.service == "client":
            groups = ("GetGroup", "ListGroupMembers", "EndGroupMember")
            return m.GROUP_DENIED if method.name in groups else m.DENIED
        if self.service == "notify":
            return m.denial(method)
        return m.DENIED

    def request_for(self, world: Any) -> Callable[[Any, str], Any]:
        m = self.matrix()
        if self.service == "risk":
            return lambda method, whose: m.request_for(method, world, whose=whose)
        return lambda method, whose: m.request_for(method, world, whose)

    async def call_as_a(self, via: ThroughGateway, method: Any, request: Any) -> Any:
        m = self.matrix()
        if self.service == "risk":
            return await call(via.stub, method, request, via.rm(RM_A))
        return await m.call_as(via, method, request, RM_A)

    async def snapshot(self, h: Any, world: Any) -> Any:
        m = self.matrix()
        if self.service == "client":
            from crm.client.v1 import client_service_pb2

            reply = await h.stub.GetClient(
                client_service_pb2.GetClientRequest(name=world.other_client),
                metadata=h.rm("staff/rm-b"))
            return reply.SerializeToString()
        if self.service == "notify":
            return await m.snapshot(h, world.other)
        return await m.snapshot(h, world)


TARGETS = {
    "client": Target("client", "crm.client.v1.ClientService", client_service, "client_addr"),
    "risk": Target("risk", "crm.risk.v1.RiskService", risk_service, "risk_addr"),
    "notify": Target("notify", "crm.notify.v1.NotificationService",
                     lambda url, identity: notify_service(url, identity, workers=False),
                     "notify_addr"),
    "feedback": Target("feedback", "crm.feedback.v1.FeedbackService",
                       lambda url, identity: feedback_service(
                           url, identity, now=_matrix("feedback").NOW),
                       "feedback_addr"),
}


async def run_through_gateway(target: Target, face: str, tmp_path: Path, identity: Any,
                              capsys: Any) -> dict[str, Any]:
    """Seed a fresh service, put a gateway in front, run its matrix on `face`; return counts."""
    url = f"sqlite+aiosqlite:///{tmp_path}/{target.service}-{face}.db"
    async with target.start(url, identity) as h, gateway_service(
        tmp_path, identity, rate_limit_per_second=1e6, rate_limit_burst=1e6,
        **{target.addr_setting: h.running.address},
    ) as gw:
        world = await target.matrix().seed(h)
        before = await target.snapshot(h, world)
        via = ThroughGateway(h, gw, target.grpc_service, face)
        methods = reachable(gw, target.grpc_service, target.scoped(), face)
        assert methods, "no object-scoped method reachable"
        outcomes = await run_matrix(
            f"{target.grpc_service} through the gateway ({face})", methods,
            request_for=target.request_for(world),
            call_as_a=lambda method, request: target.call_as_a(via, method, request),
            reason_for=target.reason_for, capsys=capsys)
        assert await target.snapshot(h, world) == before  # nothing of B's was written
    refusals = Counter(f"{o.code.name}/{o.reason}" for answers in outcomes.values()
                       for whose, o in answers.items() if whose != "own")
    figures = {"methods": len(methods), "cross_owner_calls": len(methods) * 2,
               "allowed": sum(1 for answers in outcomes.values()
                              for whose in WHOSE[:2] if answers[whose].code.name == "OK"),
               "refusals": dict(refusals), "http_statuses": dict(via.http_statuses)}
    with capsys.disabled():
        print(f"BOLA via gateway {target.service}/{face}: {figures}")
    return figures


@pytest.mark.security
@pytest.mark.parametrize("face", ["grpc", "http"])
@pytest.mark.parametrize("service", ["client", "risk", "notify", "feedback"])
async def test_bola_through_the_gateway(service, face, tmp_path, identity, capsys):
    """Every service's matrix on both faces: 0 cross-owner reads or writes."""
    figures = await run_through_gateway(TARGETS[service], face, tmp_path, identity, capsys)
    assert figures["allowed"] == 0
