"""Waiting for risk to know a client: it learns clients from the client service's events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

T = TypeVar("T")


async def once_known(call: Callable[[], Awaitable[T]], *, attempts: int = 50) -> T:
    """Run `call`, retrying while risk answers NOT_FOUND (the ClientCreated event is on its way).

    Use it for the first call about a client only: later calls find the client known.
    """
    for attempt in range(attempts):
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")
