"""Object- and method-level access through the gateway, over gRPC and HTTP/JSON.

The real client service runs behind the gateway; the gateway mints each caller's internal
identity and the client service applies its own ownership rules to it.
"""

from __future__ import annotations

import grpc
import pytest
from client_harness import RM_A, a_client, client_service, create_request
from contract_support import details
from gateway_harness import gateway_service

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.events.v1 import event_pb2
from crm.gateway.v1 import gateway_service_pb2, gateway_service_pb2_grpc
from crm_client.domain.credit_code import make_credit_code
from crm_runtime.auth import Role


def reason_of(error: grpc.aio.AioRpcError) -> str:
    """Return the ErrorInfo reason of a failed call."""
    return details(error)[0]


@pytest.fixture
async def stack(sqlite_url, identity, tmp_path):
    """The client service with a gateway in front; two RMs with one client each."""
    async with (
        client_service(sqlite_url, identity) as clients,
        gateway_service(tmp_path, identity, client_addr=clients.running.address) as gw,
    ):
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        mine = await stub.CreateClient(
            create_request(), metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER)
        )
        theirs = await stub.CreateClient(
            create_request(a_client(make_credit_code("91350203", "M0001QAY"))),
            metadata=gw.person("rm-b", Role.RELATIONSHIP_MANAGER),
        )
        yield gw, stub, mine, theirs


class TestOwnershipOverGrpc:
    async def test_rm_reads_own_client(self, stack):
        """An RM reads a client assigned to them through the gateway."""
        gw, stub, mine, _ = stack
        got = await stub.GetClient(
            client_service_pb2.GetClientRequest(name=mine.name),
            metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER),
        )
        assert got.name == mine.name
        assert got.relationship_manager == RM_A

    async def test_rm_denied_other_rms_client(self, stack):
        """Another RM's client is PERMISSION_DENIED with the service's reason."""
        gw, stub, _, theirs = stack
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetClient(
                client_service_pb2.GetClientRequest(name=theirs.name),
                metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER),
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert reason_of(caught.value) == "CLIENT_ACCESS_DENIED"

    async def test_list_excludes_other_rms_clients(self, stack):
        """ListClients returns only the caller's own clients."""
        gw, stub, mine, theirs = stack
        listed = await stub.ListClients(
            client_service_pb2.ListClientsRequest(),
            metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER),
        )
        names = [c.name for c in listed.clients]
        assert names == [mine.name]
        assert theirs.name not in names
        assert {c.relationship_manager for c in listed.clients} == {RM_A}

    async def test_risk_officer_sees_both(self, stack):
        """A portfolio-wide role lists every client (the identity carries the role)."""
        gw, stub, mine, theirs = stack
        listed = await stub.ListClients(
            client_service_pb2.ListClientsRequest(),
            metadata=gw.person("ro-1", Role.RISK_OFFICER),
        )
        assert {c.name for c in listed.clients} == {mine.name, theirs.name}


class TestOwnershipOverHttp:
    async def test_rm_reads_own_client(self, stack):
        """GET /v1/clients/{id} returns the client as canonical JSON."""
        gw, _, mine, _ = stack
        reply = await gw.http.get(
            f"/v1/{mine.name}", headers=gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER)
        )
        assert reply.status_code == 200
        body = reply.json()
        assert body["name"] == mine.name
        assert body["relationshipManager"] == RM_A
        assert body["creditCode"] == mine.credit_code

    async def test_rm_denied_other_rms_client(self, stack):
        """Another RM's client is HTTP 403 with google.rpc.Status and the same ErrorInfo."""
        gw, _, _, theirs = stack
        reply = await gw.http.get(
            f"/v1/{theirs.name}", headers=gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER)
        )
        assert reply.status_code == 403
        status = reply.json()
        assert status["code"] == 7
        infos = [d for d in status["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
        assert infos[0]["reason"] == "CLIENT_ACCESS_DENIED"
        assert infos[0]["domain"] == "client.crm"

    async def test_list_excludes_other_rms_clients(self, stack):
        """GET /v1/clients lists only the caller's clients."""
        gw, _, mine, theirs = stack
        reply = await gw.http.get(
            "/v1/clients", headers=gw.person_headers("rm-b", Role.RELATIONSHIP_MANAGER)
        )
        assert reply.status_code == 200
        names = [c["name"] for c in reply.json()["clients"]]
        assert names == [theirs.name]
        assert mine.name not in names


class TestMethodRules:
    async def test_rm_cannot_read_audit_log(self, stack):
        """GatewayService is for auditors: an RM gets PERMISSION_DENIED."""
        gw, *_ = stack
        stub = gateway_service_pb2_grpc.GatewayServiceStub(gw.channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.VerifyAuditChain(
                gateway_service_pb2.VerifyAuditChainRequest(),
                metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER),
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert reason_of(caught.value) == "METHOD_NOT_ALLOWED"

    async def test_rm_cannot_record_activity(self, stack):
        """RecordActivity is for systems only; the gateway refuses an RM before the service."""
        gw, stub, *_ = stack
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.RecordActivity(
                client_service_pb2.RecordActivityRequest(),
                metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER),
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_event_sink_never_exposed(self, stack):
        """EventSinkService is not reachable from outside, even for systems."""
        gw, *_ = stack
        deliver = gw.channel.unary_unary(
            "/crm.events.v1.EventSinkService/DeliverEvents",
            request_serializer=event_pb2.DeliverEventsRequest.SerializeToString,
            response_deserializer=event_pb2.DeliverEventsResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await deliver(event_pb2.DeliverEventsRequest(), metadata=gw.system())
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED

    async def test_person_without_roles_refused(self, stack):
        """A valid token carrying no CRM role may call nothing."""
        gw, stub, mine, _ = stack
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetClient(
                client_service_pb2.GetClientRequest(name=mine.name), metadata=gw.person("nobody")
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_system_role_not_taken_from_a_person_token(self, stack):
        """A person's token claiming the system role does not get it."""
        gw, stub, *_ = stack
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.RecordActivity(
                client_service_pb2.RecordActivityRequest(),
                metadata=gw.bearer(gw.sso.token("mallory", "system", Role.RELATIONSHIP_MANAGER)),
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_system_key_may_record_activity(self, stack):
        """A system's API key carries the system role through to the service."""
        gw, stub, *_ = stack
        reply = await stub.RecordActivity(
            client_service_pb2.RecordActivityRequest(), metadata=gw.system()
        )
        assert reply.recorded_count == 0
