"""Waiting for risk to know a client: it learns clients from the client service's events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

T = TypeVar("T")
# Risk answers so while a client's ClientCreated event is still on its way (its facts unknown).
FACTS_MISSING = "CLIENT_FACTS_MISSING"


def _reason(error: grpc.aio.AioRpcError) -> str:
    """Return the google.rpc.ErrorInfo reason of a refused call ("" if it has none)."""
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return ""


def _not_known_yet(error: grpc.aio.AioRpcError) -> bool:
    if error.code() == grpc.StatusCode.NOT_FOUND:
        return True
    return error.code() == grpc.StatusCode.FAILED_PRECONDITION and _reason(error) == FACTS_MISSING


async def once_known(call: Callable[[], Awaitable[T]], *, seconds: float = 120.0) -> T:
    """Run `call`, retrying while risk does not know the client yet (NOT_FOUND, or its facts
    missing): the ClientCreated event is on its way.

    Up to two minutes: after the book's import, thousands of events queue for risk, and on a
    shared two-core machine they take a while. Use it for the first call about a client only:
    later calls find the client known.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            if not _not_known_yet(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
