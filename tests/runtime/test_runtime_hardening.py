"""Hostile and overloading calls at a service get clean answers (issue 11, defects 1 and 6)."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import wrappers_pb2
from google.rpc import error_details_pb2
from runtime_probe_server import SERVICE, error_info, probe_service, rich_status, unary_method

from crm_runtime.auth import Role

Value = wrappers_pb2.StringValue
# Field 1 (string) holding the bytes ff fe: not UTF-8, so decoding raises DecodeError.
MALFORMED = bytes.fromhex("0a02fffe")


class Handlers:
    def __init__(self) -> None:
        self.calls = 0

    async def echo(self, request: Value, context: grpc.aio.ServicerContext) -> Value:
        self.calls += 1
        return Value(value=request.value)

    async def slow(self, request: Value, context: grpc.aio.ServicerContext) -> Value:
        self.calls += 1
        await asyncio.sleep(0.5)
        return Value(value="done")


def _raw(channel: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(f"/{SERVICE}/{method}")


@pytest.fixture
async def probe(sqlite_url, identity):
    handlers = Handlers()
    methods = {"Echo": unary_method(handlers.echo), "Slow": unary_method(handlers.slow)}
    async with probe_service(methods, database_url=sqlite_url, trusted_keys=identity.directory,
                             max_concurrent_rpcs=3) as running, \
            grpc.aio.insecure_channel(running.address) as channel:
        yield handlers, channel


class TestMalformedRequest:
    async def test_malformed_bytes_answer_invalid_argument_without_internals(
        self, probe, identity
    ):
        """Defect 1: undecodable bytes from a known caller are INVALID_ARGUMENT, no internals."""
        handlers, channel = probe
        metadata = identity.metadata("staff/rm-a", Role.RELATIONSHIP_MANAGER)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _raw(channel, "Echo")(MALFORMED, metadata=metadata)
        error = caught.value
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(error).reason == "MALFORMED_REQUEST"
        for leak in ("DecodeError", "class", "UTF-8", "protobuf"):
            assert leak not in (error.details() or "")
        assert handlers.calls == 0

    async def test_identity_is_checked_before_the_request_is_decoded(self, probe):
        """Defect 1: an anonymous caller learns nothing about decoding: UNAUTHENTICATED first."""
        _, channel = probe
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _raw(channel, "Echo")(MALFORMED)
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED

    async def test_well_formed_bytes_still_work(self, probe, identity):
        _, channel = probe
        metadata = identity.metadata("staff/rm-a", Role.RELATIONSHIP_MANAGER)
        reply = await _raw(channel, "Echo")(Value(value="hi").SerializeToString(),
                                             metadata=metadata)
        assert Value.FromString(reply).value == "hi"


class TestOverload:
    async def test_overload_answers_resource_exhausted_with_retry_info(self, probe, identity):
        """Defect 6: calls past the concurrency limit are refused at once, never CANCELLED."""
        handlers, channel = probe
        metadata = identity.metadata("staff/rm-a", Role.RELATIONSHIP_MANAGER)
        slow = channel.unary_unary(
            f"/{SERVICE}/Slow", request_serializer=Value.SerializeToString,
            response_deserializer=Value.FromString)
        results = await asyncio.gather(
            *(slow(Value(), metadata=metadata, timeout=15) for _ in range(12)),
            return_exceptions=True)
        codes = [r.code() if isinstance(r, grpc.aio.AioRpcError) else grpc.StatusCode.OK
                 for r in results]
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
        assert 1 <= codes.count(grpc.StatusCode.OK) <= 3
        assert handlers.calls == codes.count(grpc.StatusCode.OK)  # Refused ones never ran.
        refused = next(r for r in results if isinstance(r, grpc.aio.AioRpcError))
        assert error_info(refused).reason == "SERVER_OVERLOADED"
        retry = error_details_pb2.RetryInfo()
        assert any(d.Unpack(retry) for d in rich_status(refused).details)
        assert retry.retry_delay.ToNanoseconds() > 0
