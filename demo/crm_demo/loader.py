"""Loads the synthetic portfolio through the public client API, as the bank's systems would.

The book arrives as a bank's existing book does: one `ImportClients` stream (operations'
bulk import, docs/IMPORT.md) of chunks, each client with its key persons, its RM and team,
each chunk stored in one transaction. One `CreateClient` at a time ran at 3-9 clients/s on
the shared demo machine and made loading the longest step; the import stores hundreds a
second. The import answers with counts, not names, so the clients' names are then read back
by credit code; last, core banking records two quarters of account activity in batches.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import grpc

from crm.client.v1 import client_import_pb2, client_service_pb2, client_service_pb2_grpc
from crm_demo.portfolio import PortfolioClient
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

CHUNK = 200
ACTIVITY_BATCH = 250


@dataclass
class LoadResult:
    """What the loader created, and how fast."""

    names: dict[int, str]
    key_persons: int
    summaries: int
    seconds: float


def _chunks(portfolio: Sequence[PortfolioClient]) -> list[client_import_pb2.ImportClientsRequest]:
    import_id = uuid.uuid4().hex
    requests = []
    for sequence, start in enumerate(range(0, len(portfolio), CHUNK), start=1):
        rows = [
            client_import_pb2.ImportRow(
                row_number=item.index + 1, client=item.create.client,
                key_persons=[p.key_person for p in item.key_persons],
                relationship_manager=item.create.relationship_manager, team=item.create.team)
            for item in portfolio[start : start + CHUNK]
        ]
        requests.append(client_import_pb2.ImportClientsRequest(
            import_id=import_id, chunk_sequence=sequence, rows=rows, source="demo book"))
    return requests


async def _import(stub: client_service_pb2_grpc.ClientServiceStub,
                  portfolio: Sequence[PortfolioClient], ops: tuple[tuple[str, str], ...],
                  advance: Callable[[int], None]) -> None:
    """Stream the book; raise if the service refused any row (the generator's rows are valid)."""
    requests = _chunks(portfolio)

    async def stream() -> AsyncIterator[client_import_pb2.ImportClientsRequest]:
        for request in requests:
            yield request

    async for answer in stub.ImportClients(stream(), metadata=ops, timeout=600):
        if answer.row_errors:
            first = answer.row_errors[0]
            raise RuntimeError(f"import refused row {first.row_number}: {first.field} "
                               f"{first.description}")
        advance(answer.loaded_row_count)


async def _names(stub: client_service_pb2_grpc.ClientServiceStub,
                 portfolio: Sequence[PortfolioClient],
                 ops: tuple[tuple[str, str], ...]) -> dict[int, str]:
    """Return portfolio index -> client name, matched by credit code."""
    by_code: dict[str, str] = {}
    token = ""
    while True:
        page = await stub.ListClients(
            client_service_pb2.ListClientsRequest(page_size=500, page_token=token), metadata=ops)
        by_code.update((c.credit_code, c.name) for c in page.clients)
        token = page.next_page_token
        if not token:
            break
    return {item.index: by_code[item.create.client.credit_code] for item in portfolio}


async def load_portfolio(
    address: str,
    identity: IdentityKit,
    portfolio: Sequence[PortfolioClient],
    advance: Callable[[int], None] = lambda _: None,
) -> LoadResult:
    """Import the clients with their key persons (as operations), then activity (core banking)."""
    started = time.monotonic()
    ops = identity.metadata("staff/ops-demo", Role.OPS)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        await _import(stub, portfolio, ops, advance)
        names = await _names(stub, portfolio, ops)
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
    persons = sum(len(item.key_persons) for item in portfolio)
    return LoadResult(names, persons, len(summaries), time.monotonic() - started)
