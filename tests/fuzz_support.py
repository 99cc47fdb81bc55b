"""Shared inputs of the fuzz suites: malformed and mutated request bytes per method."""

from __future__ import annotations

import asyncio
import random

import grpc
from google.protobuf import descriptor

from crm_gateway.descriptors import MethodInfo
from crm_runtime.auth import Role

ALL_ROLES = tuple(r for r in Role if r is not Role.SYSTEM)
# A stream that a good-enough input leaves open (a push stream's heartbeats, a monitoring
# stream awaiting its next batch) is let go after this long: STILL_OPEN, not a failure.
OPEN_FOR_SECONDS = 0.3


def seed_strings(message, depth: int = 0) -> None:
    """Fill string fields with name-like values so mutations reach past the first check."""
    for field in message.DESCRIPTOR.fields:
        if field.type == descriptor.FieldDescriptor.TYPE_STRING and not field.is_repeated:
            setattr(message, field.name, "clients/c-1" if "name" in field.name else "x")
        elif field.type == descriptor.FieldDescriptor.TYPE_MESSAGE and depth < 2 and \
                not field.is_repeated and \
                not field.message_type.full_name.startswith("google."):
            seed_strings(getattr(message, field.name), depth + 1)


def fuzz_inputs(info: MethodInfo, count: int, rng: random.Random) -> list[bytes]:
    request = info.request_class()()
    seed_strings(request)
    base = request.SerializeToString()
    inputs = [bytes.fromhex("0a02fffe"), bytes.fromhex("0a05ff"), b"\xff" * 8]
    while len(inputs) < count:
        kind = rng.randrange(4)
        if kind == 0 or not base:
            inputs.append(rng.randbytes(rng.randrange(1, 64)))
        elif kind == 1:
            data = bytearray(base)
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            inputs.append(bytes(data))
        elif kind == 2:
            inputs.append(base[: rng.randrange(len(base))])
        else:
            inputs.append(base + rng.randbytes(rng.randrange(1, 16)))
    return inputs[:count]


async def one_stream(channel: grpc.aio.Channel, info: MethodInfo, raw: bytes,
                      metadata: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    """Open `info`'s stream, send `raw` as its one request and read to the end; return the
    status name and its details."""
    identity = {"request_serializer": None, "response_deserializer": None}
    if info.client_streaming:
        factory = (channel.stream_stream if info.server_streaming else channel.stream_unary)
        call = factory(info.path, **identity)(iter([raw]), metadata=metadata, timeout=10)
    else:
        factory = channel.unary_stream
        call = factory(info.path, **identity)(raw, metadata=metadata, timeout=10)

    async def drain() -> None:
        if info.server_streaming:
            async for _ in call:
                pass
        else:
            await call

    try:
        await asyncio.wait_for(drain(), OPEN_FOR_SECONDS)
    except TimeoutError:
        call.cancel()
        return "STILL_OPEN", ""
    except grpc.aio.AioRpcError as error:
        return error.code().name, error.details() or ""
    return "OK", ""
