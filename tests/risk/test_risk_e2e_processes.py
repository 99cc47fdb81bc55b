"""End to end with both services as OS processes: a transaction warning reaches the client."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
from client_harness import create_request
from process_harness import ServiceProcess
from risk_harness import a_facility, round_trip, stream

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc, warning_pb2
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, pii_env

RM = "staff/rm-e2e"
DEADLINE_SECONDS = 45.0


async def until(check, *, what: str) -> object:
    """Poll `check` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            value = await check()
            if value:
                return value
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


class TestWarningReachesTheClientService:
    async def test_round_trip_marks_the_client_as_potential_risk(
        self, identity: IdentityKit, tmp_path: Path, event_transport: str,
        request: pytest.FixtureRequest,
    ):
        """Client created through the client API → risk learns it and its RM from the events →
        a round trip streamed to risk raises an orange warning owned by that RM →
        WarningRaised reaches the client service, whose GetClient shows potential_risk.
        On gRPC push and on JetStream (where neither service names the other)."""
        risk = ServiceProcess("crm_risk", {}, tmp_path / "risk.log")
        client = ServiceProcess("crm_client", {}, tmp_path / "client.log")
        if event_transport == "nats":
            nats_url = request.getfixturevalue("nats_server").url
            risk_events = client_events = {"EVENT_TRANSPORT": "nats", "NATS_URL": nats_url}
        else:
            risk_events = {"EVENT_SUBSCRIBERS": f"client={client.address}"}
            client_events = {"EVENT_SUBSCRIBERS": f"risk={risk.address}"}
        risk.env = {
            **identity.env("risk"), **pii_env(), **risk_events,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/risk.db",
        }
        client.env = {
            **identity.env("client"), **pii_env(), **client_events,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/client.db",
        }
        rm = identity.metadata(RM, Role.RELATIONSHIP_MANAGER)
        system = identity.metadata("systems/core-banking", Role.SYSTEM)
        risk.start()
        client.start()
        try:
            await risk.wait_serving("crm.risk.v1.RiskService")
            await client.wait_serving("crm.client.v1.ClientService")
            async with grpc.aio.insecure_channel(client.address) as client_channel, \
                    grpc.aio.insecure_channel(risk.address) as risk_channel:
                clients = client_service_pb2_grpc.ClientServiceStub(client_channel)
                risks = risk_service_pb2_grpc.RiskServiceStub(risk_channel)
                created = await clients.CreateClient(create_request(), metadata=rm)
                client_id = created.name.removeprefix("clients/")
                assert not created.potential_risk

                async def risk_knows_the_rm() -> bool:
                    await risks.ListFacilities(
                        risk_service_pb2.ListFacilitiesRequest(parent=created.name),
                        metadata=rm)
                    return True

                await until(risk_knows_the_rm, what="ClientCreated at the risk service")
                facility = await risks.CreateFacility(
                    risk_service_pb2.CreateFacilityRequest(parent=created.name,
                                                           facility=a_facility()),
                    metadata=system)
                (ack,) = await stream(risks, [round_trip(client_id, facility.name)], system)
                assert ack.alerts == 1
                warning = await risks.GetWarning(
                    risk_service_pb2.GetWarningRequest(name=ack.warnings[0]), metadata=rm)
                assert warning.owner == RM
                assert warning.level == warning_pb2.WARNING_LEVEL_ORANGE

                async def flagged() -> bool:
                    reply = await clients.GetClient(
                        client_service_pb2.GetClientRequest(name=created.name), metadata=rm)
                    return reply.potential_risk

                assert await until(flagged, what="potential_risk at the client service")
        finally:
            risk.terminate()
            client.terminate()
