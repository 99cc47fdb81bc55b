"""Server interceptor on a real aio server: errors, identity, request ids, the RPC log line."""

from __future__ import annotations

import asyncio
import re

import grpc
import pytest
from google.protobuf import wrappers_pb2
from runtime_probe_server import (
    bad_request,
    call,
    call_stream,
    error_info,
    probe_service,
    rich_status,
    stream_method,
    unary_method,
)
from structlog.testing import capture_logs

from crm_runtime.auth import Role, current_principal
from crm_runtime.errors import InvalidArgument
from crm_runtime.requestctx import REQUEST_ID_METADATA_KEY, current_request_id

SECRET = "secret-db-password-123"
Value = wrappers_pb2.StringValue


class Recorder:
    """Handlers for the probe service that note what they saw."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def invalid(self, request: Value, context: grpc.aio.ServicerContext) -> Value:
        self.calls.append("invalid")
        raise InvalidArgument.of("x", "bad")

    async def crash(self, request: Value, context: grpc.aio.ServicerContext) -> Value:
        self.calls.append("crash")
        raise RuntimeError(SECRET)

    async def who_am_i(self, request: Value, context: grpc.aio.ServicerContext) -> Value:
        self.calls.append("who")
        principal = current_principal()
        return Value(value=f"{principal.subject}|{','.join(sorted(principal.roles))}")

    async def request_id(self, request: Value, context: grpc.aio.ServicerContext) -> Value:
        return Value(value=current_request_id())

    async def abort(self, request: Value, context: grpc.aio.ServicerContext) -> Value:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "handler aborted")
        raise AssertionError("abort returned")

    async def stream(self, request: Value, context: grpc.aio.ServicerContext):
        yield Value(value="one")
        raise InvalidArgument.of("y", "bad")

    def methods(self) -> dict[str, grpc.RpcMethodHandler]:
        return {
            "Invalid": unary_method(self.invalid), "Crash": unary_method(self.crash),
            "WhoAmI": unary_method(self.who_am_i), "RequestId": unary_method(self.request_id),
            "Abort": unary_method(self.abort), "Stream": stream_method(self.stream),
        }


@pytest.fixture
async def probe(sqlite_url, identity):
    """A running probe service that verifies identities, and a channel to it."""
    recorder = Recorder()
    async with probe_service(recorder.methods(), database_url=sqlite_url,
                             trusted_keys=identity.directory, name="probe") as running, \
            grpc.aio.insecure_channel(running.address) as channel:
        yield recorder, channel


def _rm(identity) -> tuple[tuple[str, str], ...]:
    return identity.metadata("staff/rm-a", Role.RELATIONSHIP_MANAGER)


async def _fail(coro) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await coro
    return caught.value


class TestErrorMapping:
    async def test_invalid_argument_has_field_violation_and_domain(self, probe, identity):
        """A DomainError becomes its code, an ErrorInfo in the service's domain and a BadRequest."""
        _, channel = probe
        error = await _fail(call(channel, "Invalid")(Value(), metadata=_rm(identity)))
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        info = error_info(error)
        assert (info.reason, info.domain) == ("INVALID_ARGUMENT", "probe.crm")
        violations = bad_request(error)
        assert violations is not None
        assert [v.field for v in violations.field_violations] == ["x"]
        assert rich_status(error).code == grpc.StatusCode.INVALID_ARGUMENT.value[0]

    async def test_unexpected_exception_is_internal_without_internals(self, probe, identity):
        """A plain exception becomes INTERNAL with reason INTERNAL and leaks nothing of itself."""
        _, channel = probe
        error = await _fail(call(channel, "Crash")(Value(), metadata=_rm(identity)))
        assert error.code() is grpc.StatusCode.INTERNAL
        assert error_info(error).reason == "INTERNAL"
        assert SECRET not in (error.details() or "")
        assert "RuntimeError" not in (error.details() or "")
        for key, value in error.trailing_metadata() or ():
            blob = value if isinstance(value, bytes) else value.encode()
            assert SECRET.encode() not in blob, key
        assert bad_request(error) is None

    async def test_stream_error_after_first_item(self, probe, identity):
        """A DomainError raised mid-stream is mapped like a unary one."""
        _, channel = probe
        received: list[str] = []
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for item in call_stream(channel, "Stream")(Value(), metadata=_rm(identity)):
                received.append(item.value)
        assert received == ["one"]
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        violations = bad_request(caught.value)
        assert violations is not None
        assert [v.field for v in violations.field_violations] == ["y"]

    async def test_handler_abort_passes_through(self, probe, identity):
        """A handler's own context.abort keeps its code."""
        _, channel = probe
        error = await _fail(call(channel, "Abort")(Value(), metadata=_rm(identity)))
        assert error.code() is grpc.StatusCode.FAILED_PRECONDITION


class TestIdentity:
    async def test_missing_identity(self, probe):
        """A call without an identity token is UNAUTHENTICATED before the handler runs."""
        recorder, channel = probe
        error = await _fail(call(channel, "WhoAmI")(Value()))
        assert error.code() is grpc.StatusCode.UNAUTHENTICATED
        assert error_info(error).reason == "IDENTITY_MISSING"
        assert recorder.calls == []

    async def test_forged_identity(self, probe, identity):
        """A token signed by a service key but asserting a person is IDENTITY_INVALID."""
        recorder, channel = probe
        forged = identity.metadata("staff/rm-a", Role.RELATIONSHIP_MANAGER, kid="client")
        error = await _fail(call(channel, "WhoAmI")(Value(), metadata=forged))
        assert error.code() is grpc.StatusCode.UNAUTHENTICATED
        assert error_info(error).reason == "IDENTITY_INVALID"
        assert recorder.calls == []

    async def test_handler_sees_verified_principal(self, probe, identity):
        """With a gateway token the handler's current_principal() is the caller."""
        _, channel = probe
        metadata = identity.metadata("staff/lead-1", Role.TEAM_LEAD, Role.AUDITOR)
        reply = await call(channel, "WhoAmI")(Value(), metadata=metadata)
        assert reply.value == "staff/lead-1|auditor,team_lead"


class TestRequestId:
    async def test_incoming_request_id_is_bound(self, probe, identity):
        """The x-request-id the caller sent is what the handler sees."""
        _, channel = probe
        metadata = (*_rm(identity), (REQUEST_ID_METADATA_KEY, "req-abc-123"))
        reply = await call(channel, "RequestId")(Value(), metadata=metadata)
        assert reply.value == "req-abc-123"

    async def test_missing_request_id_is_generated(self, probe, identity):
        """Without x-request-id each call gets its own fresh id."""
        _, channel = probe
        first = await call(channel, "RequestId")(Value(), metadata=_rm(identity))
        second = await call(channel, "RequestId")(Value(), metadata=_rm(identity))
        assert re.fullmatch(r"[0-9a-f]{16,64}", first.value)
        assert first.value != second.value

    async def test_overlong_request_id_is_truncated(self, probe, identity):
        """A request id longer than 64 characters is cut to 64."""
        _, channel = probe
        metadata = (*_rm(identity), (REQUEST_ID_METADATA_KEY, "r" * 500))
        reply = await call(channel, "RequestId")(Value(), metadata=metadata)
        assert reply.value == "r" * 64


async def _rpc_lines(logs: list[dict[str, object]], method: str) -> list[dict[str, object]]:
    """Return the canonical lines for `method`, waiting briefly for the server to write them."""
    for _ in range(50):
        lines = [e for e in logs if e.get("event") == "rpc" and e.get("rpc_method") == method]
        if lines:
            await asyncio.sleep(0.05)  # A second line, if any, would appear by now.
            return [e for e in logs if e.get("event") == "rpc" and e.get("rpc_method") == method]
        await asyncio.sleep(0.02)
    return []


class TestCanonicalLogLine:
    async def test_one_line_per_rpc_with_code_duration_and_request_id(self, probe, identity):
        """Each RPC writes exactly one line naming method, code, duration, request id, caller."""
        _, channel = probe
        with capture_logs() as logs:
            metadata = (*_rm(identity), (REQUEST_ID_METADATA_KEY, "req-log-1"))
            await _fail(call(channel, "Invalid")(Value(), metadata=metadata))
            await call(channel, "WhoAmI")(Value(), metadata=(
                *_rm(identity), (REQUEST_ID_METADATA_KEY, "req-log-2")))
            await _fail(call(channel, "WhoAmI")(Value()))
            invalid = await _rpc_lines(logs, "/test.v1.Probe/Invalid")
            who = await _rpc_lines(logs, "/test.v1.Probe/WhoAmI")
        assert len(invalid) == 1
        line = invalid[0]
        assert line["code"] == "INVALID_ARGUMENT"
        assert line["request_id"] == "req-log-1"
        assert line["principal"] == "staff/rm-a"
        assert isinstance(line["duration_ms"], float)
        assert 0 <= line["duration_ms"] < 5000
        assert line["log_level"] == "info"
        assert sorted(str(e["code"]) for e in who) == ["OK", "UNAUTHENTICATED"]
        ok = next(e for e in who if e["code"] == "OK")
        assert ok["request_id"] == "req-log-2"

    async def test_internal_error_logged_with_code(self, probe, identity):
        """An unexpected exception is logged as an error and the RPC line says INTERNAL."""
        _, channel = probe
        with capture_logs() as logs:
            await _fail(call(channel, "Crash")(Value(), metadata=_rm(identity)))
            lines = await _rpc_lines(logs, "/test.v1.Probe/Crash")
        assert [e["code"] for e in lines] == ["INTERNAL"]
        errors = [e for e in logs if e.get("event") == "unhandled exception"]
        assert len(errors) == 1
        assert errors[0]["log_level"] == "error"
