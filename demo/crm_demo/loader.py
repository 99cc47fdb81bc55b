"""Loads the synthetic portfolio through the public client API, as the bank's systems would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_demo.portfolio import PortfolioClient
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

CONCURRENCY = 8
ACTIVITY_BATCH = 250


@dataclass
class LoadResult:
    """What the loader created, and how fast."""

    names: dict[int, str]
    key_persons: int
    summaries: int
    seconds: float


async def load_portfolio(
    address: str,
    identity: IdentityKit,
    portfolio: Sequence[PortfolioClient],
    advance: Callable[[int], None] = lambda _: None,
) -> LoadResult:
    """Create clients (as their RMs), key persons, then activity (as core banking)."""
    started = time.monotonic()
    names: dict[int, str] = {}
    persons = 0
    async with grpc.aio.insecure_channel(address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        queue: asyncio.Queue[PortfolioClient] = asyncio.Queue()
        for item in portfolio:
            queue.put_nowait(item)

        async def worker() -> None:
            nonlocal persons
            while not queue.empty():
                item = queue.get_nowait()
                rm = identity.metadata(
                    item.create.relationship_manager,
                    Role.RELATIONSHIP_MANAGER,
                    teams=(item.create.team,),
                )
                # Onboarding is one call: the client with its key persons, one transaction.
                request = client_service_pb2.CreateClientRequest()
                request.CopyFrom(item.create)
                request.key_persons.extend(p.key_person for p in item.key_persons)
                created = await stub.CreateClient(request, metadata=rm, timeout=30)
                names[item.index] = created.name
                persons += len(item.key_persons)
                advance(1)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        system = identity.metadata("systems/core-banking", Role.SYSTEM)
        summaries = []
        for item in portfolio:
            for summary in item.activity:
                copy = type(summary)()
                copy.CopyFrom(summary)
                copy.client = names[item.index]
                summaries.append(copy)
        for start in range(0, len(summaries), ACTIVITY_BATCH):
            await stub.RecordActivity(
                client_service_pb2.RecordActivityRequest(
                    summaries=summaries[start : start + ACTIVITY_BATCH]
                ),
                metadata=system,
                timeout=120,
            )
    return LoadResult(names, persons, len(summaries), time.monotonic() - started)
