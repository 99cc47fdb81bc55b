"""A tiny test service, "test.v1.Probe", served through the runtime's real bootstrap.

Methods take and return google.protobuf.StringValue. Tests pass the handlers they need, so
the interceptors, health service and shutdown path under test are exactly the production ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import wrappers_pb2
from google.rpc import error_details_pb2, status_pb2

from crm_runtime.config import BaseServiceSettings
from crm_runtime.db import Database
from crm_runtime.server import RunningService, ServiceDefinition, start_service

SERVICE = "test.v1.Probe"
STATUS_DETAILS_KEY = "grpc-status-details-bin"

UnaryBehaviour = Callable[[wrappers_pb2.StringValue, grpc.aio.ServicerContext],
                          Awaitable[wrappers_pb2.StringValue]]
StreamBehaviour = Callable[[wrappers_pb2.StringValue, grpc.aio.ServicerContext],
                           AsyncIterator[wrappers_pb2.StringValue]]


def unary_method(behaviour: UnaryBehaviour) -> grpc.RpcMethodHandler:
    """Return a unary-unary handler over StringValue."""
    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=wrappers_pb2.StringValue.FromString,
        response_serializer=wrappers_pb2.StringValue.SerializeToString,
    )


def stream_method(behaviour: StreamBehaviour) -> grpc.RpcMethodHandler:
    """Return a unary-stream handler over StringValue."""
    return grpc.unary_stream_rpc_method_handler(
        behaviour,
        request_deserializer=wrappers_pb2.StringValue.FromString,
        response_serializer=wrappers_pb2.StringValue.SerializeToString,
    )


def probe_definition(
    methods: Mapping[str, grpc.RpcMethodHandler],
    *,
    database_url: str,
    name: str = "probe",
    trusted_keys: Path | None = None,
    **settings: Any,
) -> ServiceDefinition:
    """Return a ServiceDefinition serving `methods` under test.v1.Probe on a free port."""
    options: dict[str, Any] = {
        "service_name": name, "grpc_port": 0, "database_url": database_url,
        "identity_trusted_keys_dir": trusted_keys, "grace_seconds": 1, "reflection": False,
        "health_check_interval_seconds": 0.1,
    }
    options.update(settings)

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, dict(methods)),))

    return ServiceDefinition(
        name=name, settings=BaseServiceSettings(**options), database=Database(database_url),
        service_names=[SERVICE], register=register)


@asynccontextmanager
async def probe_service(
    methods: Mapping[str, grpc.RpcMethodHandler], *, database_url: str, **kwargs: Any
) -> AsyncIterator[RunningService]:
    """Run a probe service for the duration of the block."""
    running = await start_service(probe_definition(methods, database_url=database_url, **kwargs))
    try:
        yield running
    finally:
        await running.stop(drain_seconds=0)


def call(channel: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
    """Return a callable for a unary probe method."""
    return channel.unary_unary(
        f"/{SERVICE}/{method}",
        request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString,
    )


def call_stream(channel: grpc.aio.Channel, method: str) -> grpc.aio.UnaryStreamMultiCallable:
    """Return a callable for a server-streaming probe method."""
    return channel.unary_stream(
        f"/{SERVICE}/{method}",
        request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString,
    )


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """Return the google.rpc.Status carried in an error's trailing metadata."""
    for key, value in error.trailing_metadata() or ():
        if key == STATUS_DETAILS_KEY:
            status = status_pb2.Status()
            status.ParseFromString(value)
            return status
    raise AssertionError(f"no rich status in {error.code()} error")


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    """Return the ErrorInfo detail of an error."""
    for detail in rich_status(error).details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    raise AssertionError("status has no ErrorInfo")


def bad_request(error: grpc.aio.AioRpcError) -> error_details_pb2.BadRequest | None:
    """Return the BadRequest detail of an error, if any."""
    for detail in rich_status(error).details:
        request = error_details_pb2.BadRequest()
        if detail.Unpack(request):
            return request
    return None
