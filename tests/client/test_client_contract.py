"""Contract of the client service: health, reflection and the error for each bad input."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from client_harness import a_client, client_service, create_request
from contract_support import details
from google.protobuf import field_mask_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlalchemy import func, select

from crm.client.v1 import client_service_pb2
from crm_client.models import ClientRow
from crm_runtime.auth import Role


async def client_count(harness) -> int:
    async with harness.ctx.db.read() as session:
        return int(
            (await session.execute(select(func.count()).select_from(ClientRow))).scalar_one()
        )


class TestHealthAndReflection:
    async def test_health_serving_and_unknown_service(self, sqlite_url, identity):
        """Overall and service health answer SERVING; an unknown service is NOT_FOUND."""
        async with client_service(sqlite_url, identity) as h:
            stub = health_pb2_grpc.HealthStub(h.channel)
            for name in ("", "crm.client.v1.ClientService"):
                for _ in range(50):
                    reply = await stub.Check(health_pb2.HealthCheckRequest(service=name))
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                    await asyncio.sleep(0.05)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Check(health_pb2.HealthCheckRequest(service="nope"))
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_reflection_lists_client_service(self, sqlite_url, identity):
        """Reflection (no identity needed) lists crm.client.v1.ClientService."""
        async with client_service(sqlite_url, identity) as h:
            stub = reflection_pb2_grpc.ServerReflectionStub(h.channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            names: list[str] = []
            async for reply in stub.ServerReflectionInfo(iter([request])):
                names = [s.name for s in reply.list_services_response.service]
            assert "crm.client.v1.ClientService" in names
            assert "grpc.health.v1.Health" in names


class TestBadInput:
    async def test_wrong_check_character(self, store_url, identity):
        """A credit code with a wrong check character names client.credit_code; nothing stored."""
        async with client_service(store_url, identity) as h:
            bad = a_client(credit_code="91350203M0001QAY9B")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateClient(create_request(bad), metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            reason, fields = details(caught.value)
            assert reason == "INVALID_ARGUMENT"
            assert fields == ["client.credit_code"]
            assert "expected '9'" in caught.value.details()
            assert await client_count(h) == 0

    async def test_unknown_industry_code(self, store_url, identity):
        """An industry code outside GB/T 4754 is INVALID_ARGUMENT on client.industry_code."""
        async with client_service(store_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateClient(
                    create_request(a_client(industry_code="Z9999")), metadata=h.rm()
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(caught.value)[1] == ["client.industry_code"]
            assert await client_count(h) == 0

    async def test_negative_page_size(self, store_url, identity):
        """A negative page size is INVALID_ARGUMENT naming page_size."""
        async with client_service(store_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.ListClients(
                    client_service_pb2.ListClientsRequest(page_size=-1), metadata=h.rm()
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(caught.value)[1] == ["page_size"]

    async def test_duplicate_credit_code(self, store_url, identity):
        """A second client with the same credit code is ALREADY_EXISTS; one row remains."""
        async with client_service(store_url, identity) as h:
            await h.stub.CreateClient(create_request(), metadata=h.rm())
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateClient(create_request(), metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
            assert details(caught.value)[0] == "CREDIT_CODE_EXISTS"
            assert await client_count(h) == 1

    async def test_same_request_id_twice(self, store_url, identity):
        """The same request_id returns the same client and stores one row."""
        async with client_service(store_url, identity) as h:
            request = create_request()
            first = await h.stub.CreateClient(request, metadata=h.rm())
            second = await h.stub.CreateClient(request, metadata=h.rm())
            assert first == second
            assert await client_count(h) == 1

    async def test_same_request_id_different_body(self, store_url, identity):
        """Reusing a request_id with another body is INVALID_ARGUMENT, nothing new stored."""
        async with client_service(store_url, identity) as h:
            request = create_request()
            await h.stub.CreateClient(request, metadata=h.rm())
            other = create_request(a_client(credit_code="91310115MA1K4L5N68"))
            other.request_id = request.request_id
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateClient(other, metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(caught.value)[0] == "REQUEST_ID_REUSED"
            assert await client_count(h) == 1

    async def test_stale_etag(self, store_url, identity):
        """An update with a stale etag is ABORTED and changes nothing."""
        async with client_service(store_url, identity) as h:
            created = await h.stub.CreateClient(create_request(), metadata=h.rm())
            change = a_client(employee_count=500)
            change.name, change.etag = created.name, created.etag
            mask = field_mask_pb2.FieldMask(paths=["employee_count"])
            updated = await h.stub.UpdateClient(
                client_service_pb2.UpdateClientRequest(client=change, update_mask=mask),
                metadata=h.rm(),
            )
            assert updated.employee_count == 500 and updated.etag != created.etag
            change.employee_count = 900  # still carrying the first etag
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.UpdateClient(
                    client_service_pb2.UpdateClientRequest(client=change, update_mask=mask),
                    metadata=h.rm(),
                )
            assert caught.value.code() == grpc.StatusCode.ABORTED
            got = await h.stub.GetClient(
                client_service_pb2.GetClientRequest(name=created.name), metadata=h.rm()
            )
            assert got.employee_count == 500

    async def test_missing_identity_is_unauthenticated(self, sqlite_url, identity):
        """A call without the gateway's identity token is refused."""
        async with client_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.ListClients(client_service_pb2.ListClientsRequest())
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert details(caught.value)[0] == "IDENTITY_MISSING"

    async def test_malformed_request_id(self, sqlite_url, identity):
        """A request_id that is not a UUID is INVALID_ARGUMENT."""
        async with client_service(sqlite_url, identity) as h:
            request = create_request()
            request.request_id = "not-a-uuid"
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateClient(request, metadata=h.rm())
            assert details(caught.value)[1] == ["request_id"]

    async def test_protected_field_in_mask(self, sqlite_url, identity):
        """Naming the assigned RM in an update mask is PERMISSION_DENIED (no mass assignment)."""
        async with client_service(sqlite_url, identity) as h:
            created = await h.stub.CreateClient(create_request(), metadata=h.rm())
            change = a_client()
            change.name, change.relationship_manager = created.name, "staff/rm-b"
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.UpdateClient(
                    client_service_pb2.UpdateClientRequest(
                        client=change,
                        update_mask=field_mask_pb2.FieldMask(paths=["relationship_manager"]),
                    ),
                    metadata=h.rm(),
                )
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert details(caught.value)[0] == "FIELD_NOT_MUTABLE"
            for paths in (["employee_count", "employee_count"], ["no_such_field"], ["create_time"]):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await h.stub.UpdateClient(
                        client_service_pb2.UpdateClientRequest(
                            client=change, update_mask=field_mask_pb2.FieldMask(paths=paths)
                        ),
                        metadata=h.rm(),
                    )
                assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_unknown_client_for_risk_officer_is_not_found(self, sqlite_url, identity):
        """A portfolio-wide caller asking for a nonexistent client gets NOT_FOUND."""
        async with client_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.GetClient(
                    client_service_pb2.GetClientRequest(name=f"clients/{uuid.uuid4().hex}"),
                    metadata=h.as_("staff/ro-1", Role.RISK_OFFICER),
                )
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
