"""Object-level access: an RM sees only clients assigned to them or their team."""

from __future__ import annotations

import uuid

import grpc
import pytest
from client_harness import RM_A, RM_B, a_client, client_service, create_request
from google.protobuf import field_mask_pb2

from crm.client.v1 import client_service_pb2
from crm_runtime.auth import Role

CODES = ["91110108MA01B2C344", "91310115MA1K4L5N68", "91440300MA5F6G7HXC", "91350200776049653A"]


class TestOwnership:
    async def test_rm_reads_own_and_is_denied_others(self, store_url, identity):
        """RM A reads A's client; B's client and a nonexistent one give the same denial."""
        async with client_service(store_url, identity) as h:
            mine = await h.stub.CreateClient(
                create_request(a_client(CODES[0])), metadata=h.rm(RM_A)
            )
            theirs = await h.stub.CreateClient(
                create_request(a_client(CODES[1])), metadata=h.rm(RM_B)
            )
            got = await h.stub.GetClient(
                client_service_pb2.GetClientRequest(name=mine.name), metadata=h.rm(RM_A)
            )
            assert got.name == mine.name
            codes = []
            for name in (theirs.name, f"clients/{uuid.uuid4().hex}"):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await h.stub.GetClient(
                        client_service_pb2.GetClientRequest(name=name), metadata=h.rm(RM_A)
                    )
                codes.append((caught.value.code(), caught.value.details()))
            assert codes[0] == codes[1]
            assert codes[0][0] == grpc.StatusCode.PERMISSION_DENIED

    async def test_rm_cannot_update_or_list_others(self, store_url, identity):
        """Updates of another RM's client are denied and lists never include it."""
        async with client_service(store_url, identity) as h:
            for i, code in enumerate(CODES):
                rm = RM_A if i % 2 == 0 else RM_B
                await h.stub.CreateClient(create_request(a_client(code)), metadata=h.rm(rm))
            listed = await h.stub.ListClients(
                client_service_pb2.ListClientsRequest(page_size=1), metadata=h.rm(RM_A)
            )
            names = [c.name for c in listed.clients]
            while listed.next_page_token:
                listed = await h.stub.ListClients(
                    client_service_pb2.ListClientsRequest(
                        page_size=1, page_token=listed.next_page_token
                    ),
                    metadata=h.rm(RM_A),
                )
                names += [c.name for c in listed.clients]
            assert len(names) == 2
            everyone = await h.stub.ListClients(
                client_service_pb2.ListClientsRequest(),
                metadata=h.as_("staff/ro-1", Role.RISK_OFFICER),
            )
            others = [c for c in everyone.clients if c.relationship_manager == RM_B]
            assert len(everyone.clients) == 4 and len(others) == 2
            assert not {c.name for c in others} & set(names)
            change = a_client(employee_count=1)
            change.name = others[0].name
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.UpdateClient(
                    client_service_pb2.UpdateClientRequest(
                        client=change,
                        update_mask=field_mask_pb2.FieldMask(paths=["employee_count"]),
                    ),
                    metadata=h.rm(RM_A),
                )
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_team_members_share_clients(self, sqlite_url, identity):
        """A client assigned to a team is visible to that team's members."""
        async with client_service(sqlite_url, identity) as h:
            created = await h.stub.CreateClient(
                create_request(a_client(CODES[2]), team="teams/east-1"),
                metadata=h.rm(RM_A, teams=("teams/east-1",)),
            )
            got = await h.stub.GetClient(
                client_service_pb2.GetClientRequest(name=created.name),
                metadata=h.rm(RM_B, teams=("teams/east-1",)),
            )
            assert got.team == "teams/east-1"

    async def test_page_token_bound_to_caller(self, sqlite_url, identity):
        """A page token taken by one caller is rejected for another query."""
        async with client_service(sqlite_url, identity) as h:
            for code in CODES[:3]:
                await h.stub.CreateClient(create_request(a_client(code)), metadata=h.rm(RM_A))
            page = await h.stub.ListClients(
                client_service_pb2.ListClientsRequest(page_size=1), metadata=h.rm(RM_A)
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.ListClients(
                    client_service_pb2.ListClientsRequest(
                        page_size=1, page_token=page.next_page_token
                    ),
                    metadata=h.rm(RM_B),
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


class TestAssignment:
    async def test_reassignment_moves_visibility_and_keeps_history(self, store_url, identity):
        """A team lead reassigns a client; history shows both assignments, newest first."""
        async with client_service(store_url, identity) as h:
            created = await h.stub.CreateClient(create_request(), metadata=h.rm(RM_A))
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.AssignClient(
                    client_service_pb2.AssignClientRequest(
                        name=created.name, relationship_manager=RM_B, reason="x"
                    ),
                    metadata=h.rm(RM_A),
                )
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
            lead = h.as_("staff/lead-1", Role.TEAM_LEAD, Role.OPS)
            moved = await h.stub.AssignClient(
                client_service_pb2.AssignClientRequest(
                    name=created.name,
                    relationship_manager=RM_B,
                    reason="RM rotation",
                    request_id=str(uuid.uuid4()),
                ),
                metadata=lead,
            )
            assert moved.relationship_manager == RM_B
            history = await h.stub.ListAssignments(
                client_service_pb2.ListAssignmentsRequest(parent=created.name), metadata=lead
            )
            assert [a.relationship_manager for a in history.assignments] == [RM_B, RM_A]
            assert history.assignments[1].HasField("end_time")
            assert not history.assignments[0].HasField("end_time")
            with pytest.raises(grpc.aio.AioRpcError):
                await h.stub.GetClient(
                    client_service_pb2.GetClientRequest(name=created.name), metadata=h.rm(RM_A)
                )

    async def test_project_finance_needs_team(self, sqlite_url, identity):
        """A project-finance client without a dedicated team is INVALID_ARGUMENT."""
        async with client_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.CreateClient(
                    create_request(a_client(project_finance=True)), metadata=h.rm()
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
