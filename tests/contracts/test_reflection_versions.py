"""Reflection answers in both protocol versions, v1 (current tools) and v1alpha (older ones).

The v1 client below is built the way a tool without Python stubs builds one: message classes
from the v1 schema in a pool of its own, calls through the raw method path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from client_harness import client_service
from gateway_harness import gateway_service
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from crm_runtime.reflection import _v1_file_descriptor


def _v1_messages() -> tuple[Any, Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_v1_file_descriptor())
    request = pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionRequest")
    response = pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionResponse")
    return message_factory.GetMessageClass(request), message_factory.GetMessageClass(response)


async def _ask(channel: grpc.aio.Channel, version: str, **question: str) -> Any:
    """Send one reflection request with the `version` protocol; return the one answer."""
    if version == "v1":
        request_type, response_type = _v1_messages()
    else:
        from grpc_reflection.v1alpha import reflection_pb2

        request_type = reflection_pb2.ServerReflectionRequest
        response_type = reflection_pb2.ServerReflectionResponse
    serialize: Callable[[Any], bytes] = request_type.SerializeToString
    call = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=serialize,
        response_deserializer=response_type.FromString,
    )
    replies = [reply async for reply in call(iter([request_type(**question)]), timeout=5)]
    assert len(replies) == 1
    return replies[0]


def _defined_services(reply: Any) -> set[str]:
    services = set()
    for raw in reply.file_descriptor_response.file_descriptor_proto:
        proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
        services |= {f"{proto.package}.{s.name}" for s in proto.service}
    return services


async def test_both_versions_list_and_describe_the_service(sqlite_url, identity):
    """v1 and v1alpha each list the service, health and both reflection versions, and return
    the file that defines crm.client.v1.ClientService (and v1's own file)."""
    async with client_service(sqlite_url, identity) as h:
        for version in ("v1", "v1alpha"):
            listed = await _ask(h.channel, version, list_services="")
            names = {s.name for s in listed.list_services_response.service}
            assert {
                "crm.client.v1.ClientService",
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            } <= names, (version, names)
            found = await _ask(
                h.channel, version, file_containing_symbol="crm.client.v1.ClientService"
            )
            assert "crm.client.v1.ClientService" in _defined_services(found), version
        itself = await _ask(
            h.channel, "v1", file_containing_symbol="grpc.reflection.v1.ServerReflection"
        )
        assert "grpc.reflection.v1.ServerReflection" in _defined_services(itself)
        missing = await _ask(h.channel, "v1", file_containing_symbol="crm.nope.v1.Nothing")
        assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


@pytest.mark.contracts
async def test_gateway_grpc_face_answers_both_versions(identity, tmp_path):
    """The gateway's gRPC face (its own interceptors, a catch-all proxy handler) answers
    reflection v1 and v1alpha without credentials, listing the services it routes and
    describing them."""
    async with gateway_service(tmp_path, identity) as gw:
        for version in ("v1", "v1alpha"):
            listed = await _ask(gw.channel, version, list_services="")
            names = {s.name for s in listed.list_services_response.service}
            assert {
                "crm.gateway.v1.GatewayService",
                "crm.client.v1.ClientService",
                "crm.risk.v1.RiskService",
                "crm.notify.v1.NotificationService",
                "grpc.reflection.v1.ServerReflection",
            } <= names, (version, names)
            assert "crm.events.v1.EventSinkService" not in names  # Not routed from outside.
            found = await _ask(
                gw.channel, version, file_containing_symbol="crm.risk.v1.RiskService"
            )
            assert "crm.risk.v1.RiskService" in _defined_services(found), version
