"""Fuzz the streaming RPCs: every client-, server- and bidirectional stream of every service
(risk's MonitorTransactions, notify's StreamMessages, client's ImportClients, and any stream
added later, found from the descriptors) is opened once per input and fed malformed and
mutated request bytes. Each stream must end on a clean status (never UNKNOWN or INTERNAL, no
Python text in the details) or stay open and healthy until the test lets it go, and the
service must still answer its health check afterwards.

The default suite opens FUZZ_PER_METHOD (20) streams per method; `./run.sh fuzz` opens 1,000.
"""

from __future__ import annotations

import os
import random
from collections import Counter

import grpc
import pytest
from fuzz_support import ALL_ROLES, fuzz_inputs, one_stream
from grpc_health.v1 import health_pb2, health_pb2_grpc
from test_runtime_fuzz import SERVICES

from crm_gateway.descriptors import discover
from crm_runtime.auth import Role

PER_METHOD = int(os.environ.get("FUZZ_PER_METHOD", "20"))
FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
STREAM_SERVICES = [prefix for prefix in SERVICES
                   if any(m.service.startswith(prefix) and not m.unary
                          for m in discover().values())]


async def fuzz_streams(prefix: str, store_url: str, identity, count: int) -> Counter:
    methods = [m for m in discover().values() if m.service.startswith(prefix) and not m.unary]
    assert methods, prefix
    rng = random.Random(f"streams{prefix}{count}")
    codes: Counter = Counter()
    failures: list[str] = []
    # A bank system may open every stream (monitoring, import); people hold every other role.
    metadata = identity.metadata("system/core-banking", Role.SYSTEM, *ALL_ROLES)
    async with SERVICES[prefix](store_url, identity) as h:
        for info in methods:
            for raw in fuzz_inputs(info, count, rng):
                code, details = await one_stream(h.channel, info, raw, metadata)
                if code in {c.name for c in FORBIDDEN} or "Error" in details:
                    failures.append(f"{info.path} {raw.hex()} {code} {details}")
                codes[f"{info.name} {code}"] += 1
        health = health_pb2_grpc.HealthStub(h.channel)
        answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    assert not failures, "\n".join(failures[:20])
    return codes


@pytest.mark.parametrize("prefix", STREAM_SERVICES)
async def test_fuzzed_streams_end_cleanly(prefix, sqlite_url, identity):
    codes = await fuzz_streams(prefix, sqlite_url, identity, PER_METHOD)
    print(f"\nFUZZ streams {prefix} per_method={PER_METHOD} codes={dict(sorted(codes.items()))}")


@pytest.mark.fuzz
@pytest.mark.parametrize("prefix", STREAM_SERVICES)
async def test_fuzz_thousand_per_stream(prefix, sqlite_url, identity):
    codes = await fuzz_streams(prefix, sqlite_url, identity, 1_000)
    print(f"\nFUZZ streams {prefix} per_method=1000 codes={dict(sorted(codes.items()))}")
