"""Fuzz through the gateway: every unary RPC of every service over gRPC and HTTP/JSON, and
every stream over gRPC, with mutated bytes and hostile JSON, answers cleanly: no UNKNOWN, no
INTERNAL, no HTTP 5xx (issue 11). The default suite sends FUZZ_PER_METHOD (10) per RPC and
face; `./run.sh fuzz` sends 1,000 (marker "fuzz"). Methods and routes come from the
descriptors.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from contextlib import AsyncExitStack

import grpc
import pytest
from client_harness import client_service
from feedback_harness import feedback_service
from fuzz_support import ALL_ROLES, fuzz_inputs, one_stream
from gateway_harness import gateway_service
from notify_harness import notify_service
from risk_harness import risk_service

from crm_gateway.descriptors import MethodInfo, discover

PER_METHOD = int(os.environ.get("FUZZ_PER_METHOD", "10"))
FORBIDDEN = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
_VARIABLE = re.compile(r"\{(\w[\w.]*)(?:=([^}]*))?\}")


def _fill(template: str, rng: random.Random) -> str:
    """Return a concrete path for a template ({name=clients/*} → clients/c-1)."""
    def segment(match: re.Match[str]) -> str:
        pattern = match.group(2) or "*"
        word = rng.choice(["c-1", "x", "0", "%00", "a" * 70, "..", "é"])
        return pattern.replace("**", word).replace("*", word)

    return _VARIABLE.sub(segment, template)


def _json_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 3 else 6)
    return [
        lambda: None, lambda: rng.choice([True, False]), lambda: rng.randrange(-2**70, 2**70),
        lambda: rng.choice([1e308, -0.0, 3.5, 1e-320]), lambda: rng.choice(["", "x", "Ÿ" * 50]),
        lambda: "2026-13-45T99:00:00Z",
        lambda: [_json_value(rng, depth + 1) for _ in range(rng.randrange(4))],
        lambda: {str(rng.randrange(9)): _json_value(rng, depth + 1) for _ in range(2)},
        lambda: {"units": "x", "currencyCode": 5, "seconds": "1", "year": 99999},
    ][kind]()


def _body(info: MethodInfo, rng: random.Random) -> bytes:
    fields = [f.json_name for f in info.request_class().DESCRIPTOR.fields]
    roll = rng.randrange(10)
    if roll == 0:
        return rng.randbytes(rng.randrange(1, 40))
    if roll == 1:
        return json.dumps(_json_value(rng)).encode()
    body = {name: _json_value(rng) for name in rng.sample(fields, k=min(len(fields), 3))}
    return json.dumps(body).encode()


async def fuzz_gateway(tmp_path, identity, count: int) -> tuple[Counter, Counter]:
    rng = random.Random(count)
    grpc_codes: Counter = Counter()
    http_codes: Counter = Counter()
    failures: list[str] = []
    async with AsyncExitStack() as stack:
        addresses = {}
        for name, start in (("client", client_service), ("risk", risk_service),
                            ("notify", notify_service), ("feedback", feedback_service)):
            h = await stack.enter_async_context(
                start(f"sqlite+aiosqlite:///{tmp_path}/{name}.db", identity))
            addresses[f"{name}_addr"] = h.running.address
        gw = await stack.enter_async_context(gateway_service(
            tmp_path, identity, rate_limit_per_second=1e6, rate_limit_burst=1e6, **addresses))
        methods = [m for m in discover().values() if m.unary]
        for info in methods:
            # A fresh one-hour token per method: a long run outlives a 5-minute SSO token.
            token = gw.sso.token("rm-a", *ALL_ROLES, expires_in=3600)
            metadata = (("authorization", f"Bearer {token}"),)
            call = gw.channel.unary_unary(info.path)
            for raw in fuzz_inputs(info, count, rng):
                try:
                    await call(raw, metadata=metadata, timeout=10)
                    grpc_codes["OK"] += 1
                except grpc.aio.AioRpcError as error:
                    grpc_codes[error.code().name] += 1
                    if error.code() in FORBIDDEN:
                        failures.append(f"grpc {info.path} {raw.hex()} {error.details()}")
            for binding in info.bindings:
                for _ in range(count):
                    reply = await gw.http.request(
                        binding.verb, _fill(binding.template, rng),
                        content=_body(info, rng) if binding.body else None,
                        headers={"authorization": f"Bearer {token}",
                                 "content-type": "application/json"})
                    http_codes[reply.status_code] += 1
                    if reply.status_code >= 500 and reply.status_code != 503:
                        failures.append(f"http {binding.verb} {binding.template} "
                                        f"{reply.status_code} {reply.text[:200]}")
        # The streams: a bank system's API key (monitoring and import are for systems).
        for info in (m for m in discover().values() if not m.unary):
            for raw in fuzz_inputs(info, count, rng):
                code, details = await one_stream(gw.channel, info, raw, gw.system())
                grpc_codes[code] += 1
                if code in {"UNKNOWN", "INTERNAL"} or "Error" in details:
                    failures.append(f"grpc stream {info.path} {raw.hex()} {code} {details}")
    assert not failures, "\n".join(failures[:20])
    # Every call was judged on its content: none refused for an expired or locked-out caller.
    assert not {"UNAUTHENTICATED", "RESOURCE_EXHAUSTED"} & set(grpc_codes)
    assert not {401, 429} & set(http_codes)
    return grpc_codes, http_codes


async def test_fuzz_through_the_gateway(tmp_path, identity):
    grpc_codes, http_codes = await fuzz_gateway(tmp_path, identity, PER_METHOD)
    print(f"\nFUZZ gateway per_method={PER_METHOD} grpc={dict(sorted(grpc_codes.items()))} "
          f"http={dict(sorted(http_codes.items()))}")


@pytest.mark.fuzz
async def test_fuzz_through_the_gateway_thousand_per_method(tmp_path, identity):
    grpc_codes, http_codes = await fuzz_gateway(tmp_path, identity, 1_000)
    print(f"\nFUZZ gateway per_method=1000 grpc={dict(sorted(grpc_codes.items()))} "
          f"http={dict(sorted(http_codes.items()))}")
