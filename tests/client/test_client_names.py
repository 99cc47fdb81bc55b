"""Resource names of the client service: declared in the protos, one id rule for every segment.

Names are parsed from the `google.api.resource` patterns (crm_runtime.names), so an id of 1-64
URL-safe characters is well formed whoever issued it: an unknown one is NOT_FOUND for a
portfolio-wide caller and PERMISSION_DENIED for anyone else, never INVALID_ARGUMENT.
"""

from __future__ import annotations

import grpc
import pytest
from client_harness import client_service, create_request
from contract_support import details

from crm.client.v1 import client_pb2, client_service_pb2
from crm_runtime import names
from crm_runtime.auth import Role

WELL_FORMED_UNKNOWN = "clients/CORE-2026_000042"


class TestDeclaredPatterns:
    @pytest.mark.parametrize(("message", "pattern"), [
        (client_pb2.Client, "clients/{client}"),
        (client_pb2.KeyPerson, "clients/{client}/keyPersons/{key_person}"),
        (client_pb2.Segment, "segments/{segment}"),
    ])
    def test_resources_declare_their_pattern(self, message, pattern):
        assert names.pattern_of(message).pattern == pattern

    @pytest.mark.parametrize(("request_type", "field", "pattern"), [
        (client_service_pb2.GetClientRequest, "name", "clients/{client}"),
        (client_service_pb2.AssignClientRequest, "name", "clients/{client}"),
        (client_service_pb2.ListAssignmentsRequest, "parent", "clients/{client}"),
        (client_service_pb2.CreateKeyPersonRequest, "parent", "clients/{client}"),
        (client_service_pb2.ListKeyPersonsRequest, "parent", "clients/{client}"),
        (client_service_pb2.GetKeyPersonRequest, "name",
         "clients/{client}/keyPersons/{key_person}"),
        (client_service_pb2.DeleteKeyPersonRequest, "name",
         "clients/{client}/keyPersons/{key_person}"),
        (client_service_pb2.GetSegmentRequest, "name", "segments/{segment}"),
        (client_service_pb2.ListSegmentMembersRequest, "segment", "segments/{segment}"),
        (client_service_pb2.ListClientSegmentsRequest, "client", "clients/{client}"),
        (client_service_pb2.ListSegmentMovesRequest, "client", "clients/{client}"),
        (client_service_pb2.ListRecommendationsRequest, "client", "clients/{client}"),
        (client_pb2.ActivitySummary, "client", "clients/{client}"),
    ])
    def test_request_fields_reference_a_resource(self, request_type, field, pattern):
        assert names.field_pattern(request_type, field).pattern == pattern


class TestOneIdRule:
    async def test_unknown_well_formed_id_is_not_found_or_denied(self, sqlite_url, identity):
        """An id the service did not issue but that fits the rule is looked up, not refused."""
        async with client_service(sqlite_url, identity) as h:
            request = client_service_pb2.GetClientRequest(name=WELL_FORMED_UNKNOWN)
            risk = h.as_("staff/risk-1", Role.RISK_OFFICER)
            for metadata, code, reason in (
                (risk, grpc.StatusCode.NOT_FOUND, "CLIENT_NOT_FOUND"),
                (h.rm(), grpc.StatusCode.PERMISSION_DENIED, "CLIENT_ACCESS_DENIED"),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await h.stub.GetClient(request, metadata=metadata)
                assert caught.value.code() == code
                assert details(caught.value)[0] == reason
            segment = client_service_pb2.GetSegmentRequest(name="segments/No_Such_Segment")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.GetSegment(segment, metadata=risk)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    @pytest.mark.parametrize(("call", "request_message", "field"), [
        ("GetClient", client_service_pb2.GetClientRequest(name="clients/a/b"), "name"),
        ("ListKeyPersons", client_service_pb2.ListKeyPersonsRequest(parent="client/x"), "parent"),
        ("GetKeyPerson",
         client_service_pb2.GetKeyPersonRequest(name="clients/x/keyPersons/" + "p" * 65), "name"),
        ("ListSegmentMoves", client_service_pb2.ListSegmentMovesRequest(client="clients/-x"),
         "client"),
        ("GetSegment", client_service_pb2.GetSegmentRequest(name="segments/a b"), "name"),
    ])
    async def test_malformed_name_names_its_field(
        self, sqlite_url, identity, call, request_message, field
    ):
        """A name that does not fit its declared pattern is INVALID_ARGUMENT on that field."""
        async with client_service(sqlite_url, identity) as h:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await getattr(h.stub, call)(request_message, metadata=h.rm())
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(caught.value)[1] == [field]

    async def test_update_checks_the_nested_name(self, sqlite_url, identity):
        """UpdateClient reads the id from client.name and reports that path when it is bad."""
        async with client_service(sqlite_url, identity) as h:
            created = await h.stub.CreateClient(create_request(), metadata=h.rm())
            change = client_pb2.Client(name=created.name + "/extra", employee_count=7)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.UpdateClient(
                    client_service_pb2.UpdateClientRequest(
                        client=change, update_mask={"paths": ["employee_count"]}
                    ),
                    metadata=h.rm(),
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(caught.value)[1] == ["client.name"]
