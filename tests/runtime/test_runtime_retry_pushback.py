"""The service config's retry policy against the runtime's real error path: RESOURCE_EXHAUSTED
with a RetryInfo is retried after the delay the server asked for (grpc-retry-pushback-ms),
and a non-retryable code is not retried."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import wrappers_pb2
from runtime_probe_server import SERVICE, call, probe_service, unary_method

from crm_runtime.errors import FailedPrecondition, ResourceExhausted

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "contracts"))
from crm_contracts.service_config import POLICIES, RETRY_THROTTLING

DELAY_SECONDS = 0.6


def _options(kind: str) -> list[tuple[str, object]]:
    """Channel options applying the wheel's policy for `kind` to the probe's methods."""
    config = {
        "methodConfig": [{"name": [{"service": SERVICE}], **POLICIES[kind]}],
        "retryThrottling": RETRY_THROTTLING,
    }
    return [("grpc.service_config", json.dumps(config)), ("grpc.enable_retries", 1)]


async def test_resource_exhausted_retried_after_the_servers_delay(sqlite_url):
    attempts: list[float] = []

    async def busy_once(request, context):
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise ResourceExhausted("full", retry_after_seconds=DELAY_SECONDS)
        if request.value == "refuse":
            raise FailedPrecondition("not now")
        return wrappers_pb2.StringValue(value="done")

    methods = {"Busy": unary_method(busy_once)}
    async with (
        probe_service(methods, database_url=sqlite_url) as svc,
        grpc.aio.insecure_channel(svc.address, options=_options("read")) as channel,
    ):
        reply = await call(channel, "Busy")(wrappers_pb2.StringValue(value="x"), timeout=5)
        assert reply.value == "done"
        assert len(attempts) == 2
        # The policy's own first backoff is at most 0.2 s: waiting the 0.6 s means gRPC
        # took the server's delay.
        assert attempts[1] - attempts[0] >= DELAY_SECONDS * 0.9

        attempts.clear()
        attempts.append(0.0)  # Past the first-attempt refusal: FAILED_PRECONDITION now.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(channel, "Busy")(wrappers_pb2.StringValue(value="refuse"), timeout=5)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert len(attempts) == 2  # One call, not retried.
