"""Outbound channels: downstream calls inherit the caller's deadline and request id.

RELIABILITY §7 item 1: a 300 ms deadline on a call whose downstream sleeps 1 s ends with
DEADLINE_EXCEEDED well before 1 s, and the downstream work is cancelled before it writes.
"""

from __future__ import annotations

import asyncio
import contextvars
import time

import grpc
import pytest
from google.protobuf import wrappers_pb2
from runtime_probe_server import call, probe_service, unary_method

from crm_runtime import requestctx
from crm_runtime.channels import DEFAULT_TIMEOUT_SECONDS, effective_timeout, open_channel
from crm_runtime.requestctx import REQUEST_ID_METADATA_KEY, current_request_id

Value = wrappers_pb2.StringValue


class Downstream:
    """A downstream service whose Slow method writes only after sleeping 1 s."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()
        self.writes: list[str] = []
        self.remaining: list[float | None] = []
        self.request_ids: list[str] = []

    async def slow(self, request: Value, context: grpc.aio.ServicerContext) -> Value:
        self.remaining.append(context.time_remaining())
        self.request_ids.append(current_request_id())
        try:
            await asyncio.sleep(1.0)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        self.writes.append(request.value)
        return Value(value="written")

    async def remaining_time(self, request: Value, context: grpc.aio.ServicerContext) -> Value:
        self.remaining.append(context.time_remaining())
        self.request_ids.append(current_request_id())
        return Value(value="ok")


@pytest.fixture
async def chain(tmp_path):
    """Downstream and upstream probe services; upstream relays through open_channel."""
    downstream = Downstream()
    async with probe_service(
        {"Slow": unary_method(downstream.slow),
         "Remaining": unary_method(downstream.remaining_time)},
        database_url=f"sqlite+aiosqlite:///{tmp_path}/down.db", name="down",
    ) as down:
        channel = open_channel(down.address)

        async def relay(request: Value, context: grpc.aio.ServicerContext) -> Value:
            # No timeout given on purpose: the runtime must supply the remaining budget.
            return await call(channel, request.value)(Value(value="payload"))

        async def relay_generous(request: Value, context: grpc.aio.ServicerContext) -> Value:
            return await call(channel, request.value)(Value(value="payload"), timeout=30)

        async def relay_hasty(request: Value, context: grpc.aio.ServicerContext) -> Value:
            return await call(channel, request.value)(Value(value="payload"), timeout=0.1)

        try:
            async with probe_service(
                {"Relay": unary_method(relay), "RelayGenerous": unary_method(relay_generous),
                 "RelayHasty": unary_method(relay_hasty)},
                database_url=f"sqlite+aiosqlite:///{tmp_path}/up.db", name="up",
            ) as up, grpc.aio.insecure_channel(up.address) as client:
                yield downstream, client
        finally:
            await channel.close()


class TestDeadlinePropagation:
    async def test_deadline_cancels_downstream_before_it_writes(self, chain):
        """300 ms at the edge: DEADLINE_EXCEEDED fast, downstream cancelled, nothing written."""
        downstream, client = chain
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(client, "Relay")(Value(value="Slow"), timeout=0.3)
        elapsed = time.monotonic() - started
        assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        assert elapsed < 0.9
        await asyncio.wait_for(downstream.cancelled.wait(), timeout=0.5)
        (remaining,) = downstream.remaining
        assert remaining is not None
        assert remaining <= 0.31
        # Past the moment the downstream would have written had it not been cancelled.
        await asyncio.sleep(max(0.0, started + 1.3 - time.monotonic()))
        assert downstream.writes == []

    async def test_explicit_longer_timeout_is_capped(self, chain):
        """A handler asking for 30 s downstream still gets only what its caller has left."""
        downstream, client = chain
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(client, "RelayGenerous")(Value(value="Slow"), timeout=0.3)
        assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        await asyncio.wait_for(downstream.cancelled.wait(), timeout=0.5)
        (remaining,) = downstream.remaining
        assert remaining is not None
        assert remaining <= 0.31

    async def test_downstream_deadline_is_reported_as_deadline_not_internal(self, chain):
        """A downstream call that runs out of time makes this call DEADLINE_EXCEEDED."""
        _, client = chain
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(client, "RelayHasty")(Value(value="Slow"), timeout=5)
        assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED

    async def test_call_without_incoming_deadline_gets_default(self, chain):
        """Without an incoming deadline a downstream call still has one: the default."""
        downstream, client = chain
        await call(client, "Relay")(Value(value="Remaining"))
        (remaining,) = downstream.remaining
        assert remaining is not None
        # The wire carries the timeout (grpc-timeout), and the server turns it back into a
        # deadline on its own clock: a few milliseconds either way is rounding, not a leak.
        assert DEFAULT_TIMEOUT_SECONDS - 1 < remaining <= DEFAULT_TIMEOUT_SECONDS + 0.05

    async def test_request_id_is_forwarded(self, chain):
        """The caller's x-request-id reaches the downstream service unchanged."""
        downstream, client = chain
        await call(client, "Relay")(Value(value="Remaining"),
                                    metadata=((REQUEST_ID_METADATA_KEY, "rid-forward-1"),))
        with pytest.raises(grpc.aio.AioRpcError):
            await call(client, "Relay")(Value(value="Slow"), timeout=0.2,
                                        metadata=((REQUEST_ID_METADATA_KEY, "rid-forward-2"),))
        assert downstream.request_ids == ["rid-forward-1", "rid-forward-2"]


def _in_fresh_context(function):
    """Run `function` in a copy of an empty context so bound deadlines do not leak."""
    return contextvars.Context().run(function)


class TestEffectiveTimeout:
    def test_without_bound_deadline(self):
        """No incoming deadline: the requested timeout, or the default."""
        assert _in_fresh_context(lambda: effective_timeout(None)) == DEFAULT_TIMEOUT_SECONDS
        assert _in_fresh_context(lambda: effective_timeout(2.5)) == 2.5
        assert _in_fresh_context(lambda: effective_timeout(60.0)) == 60.0

    def test_with_bound_deadline(self):
        """An incoming deadline caps both the default and an explicit timeout."""
        def check() -> tuple[float, float, float]:
            requestctx.bind("rid", 0.5)
            return effective_timeout(None), effective_timeout(30.0), effective_timeout(0.1)

        default, explicit, shorter = _in_fresh_context(check)
        assert 0.4 < default <= 0.5
        assert 0.4 < explicit <= 0.5
        assert shorter == 0.1

    def test_with_passed_deadline(self):
        """A deadline already passed leaves a token budget, never zero or negative."""
        def check() -> float:
            requestctx.bind("rid", -2.0)
            return effective_timeout(None)

        assert _in_fresh_context(check) == 0.001

    def test_unbound_after_none(self):
        """Binding a call without a deadline clears any earlier one."""
        def check() -> float:
            requestctx.bind("a", 0.5)
            requestctx.bind("b", None)
            return effective_timeout(None)

        assert _in_fresh_context(check) == DEFAULT_TIMEOUT_SECONDS
