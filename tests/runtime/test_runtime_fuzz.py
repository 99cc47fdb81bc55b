"""Fuzz: every unary RPC of every service, fed malformed and mutated request bytes, answers a
clean status: never UNKNOWN or INTERNAL (issue 11, defect 1, on the real services).

Methods come from the descriptors (crm_gateway.descriptors.discover), so a new RPC is fuzzed
without a change here. Inputs per method: random bytes and mutations (bit flips, truncations,
appended garbage) of a request carrying a plausible value in every string field. The default
suite sends FUZZ_PER_METHOD (20) per method; `./run.sh fuzz` sends 1,000 (marker "fuzz").
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable

import grpc
import pytest
from client_harness import client_service
from feedback_harness import feedback_service
from fuzz_support import ALL_ROLES, fuzz_inputs
from notify_harness import notify_service
from risk_harness import risk_service

from crm_gateway.descriptors import discover

PER_METHOD = int(os.environ.get("FUZZ_PER_METHOD", "20"))
FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
SERVICES: dict[str, Callable] = {
    "crm.client.": client_service, "crm.risk.": risk_service,
    "crm.notify.": notify_service, "crm.feedback.": feedback_service,
}


async def fuzz_service(prefix: str, store_url: str, identity, count: int) -> Counter:
    methods = [m for m in discover().values() if m.service.startswith(prefix) and m.unary]
    assert methods, prefix
    rng = random.Random(f"{prefix}{count}")
    codes: Counter = Counter()
    failures: list[str] = []
    metadata = identity.metadata("staff/rm-a", *ALL_ROLES)
    async with SERVICES[prefix](store_url, identity) as h:
        for info in methods:
            call = h.channel.unary_unary(info.path)
            for raw in fuzz_inputs(info, count, rng):
                try:
                    await call(raw, metadata=metadata, timeout=10)
                    code = grpc.StatusCode.OK
                except grpc.aio.AioRpcError as error:
                    code = error.code()
                    if code in FORBIDDEN or "Error" in (error.details() or ""):
                        failures.append(f"{info.path} {raw.hex()} {code.name} {error.details()}")
                codes[code.name] += 1
    assert not failures, "\n".join(failures[:20])
    return codes


@pytest.mark.parametrize("prefix", list(SERVICES))
async def test_fuzzed_unary_calls_answer_cleanly(prefix, sqlite_url, identity):
    codes = await fuzz_service(prefix, sqlite_url, identity, PER_METHOD)
    print(f"\nFUZZ {prefix} per_method={PER_METHOD} codes={dict(sorted(codes.items()))}")
    assert not FORBIDDEN & set(codes)


@pytest.mark.fuzz
@pytest.mark.parametrize("prefix", list(SERVICES))
async def test_fuzz_thousand_per_method(prefix, sqlite_url, identity):
    codes = await fuzz_service(prefix, sqlite_url, identity, 1_000)
    print(f"\nFUZZ {prefix} per_method=1000 codes={dict(sorted(codes.items()))}")
    assert not FORBIDDEN & set(codes)
