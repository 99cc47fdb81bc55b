"""Idempotent creates under concurrency (RELIABILITY §7.3, scaled to the test budget)."""

from __future__ import annotations

import asyncio

import grpc
from client_harness import a_client, client_service, create_request
from contract_support import details
from sqlalchemy import func, select

from crm.client.v1 import client_pb2
from crm_client.domain.credit_code import make_credit_code
from crm_client.models import ClientRow

IDS = 20
SENDS = 5


async def _send_until_settled(h, request) -> client_pb2.Client:
    """Send, retrying only the ABORTED "in flight" answer, as a well-behaved client would."""
    for _ in range(20):
        try:
            return await h.stub.CreateClient(request, metadata=h.rm())
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.ABORTED:
                raise
            assert details(exc)[0] == "REQUEST_IN_FLIGHT"
            await asyncio.sleep(0.05)
    raise AssertionError("request never settled")


class TestConcurrentIdempotency:
    async def test_same_request_id_sent_concurrently(self, store_url, identity):
        """5 concurrent sends of each of 20 request_ids: identical replies, 20 rows, 0 dups."""
        async with client_service(store_url, identity) as h:
            requests = [
                create_request(a_client(make_credit_code("91440300", f"QD{i:06d}")))
                for i in range(IDS)
            ]
            replies = await asyncio.gather(
                *(_send_until_settled(h, request) for request in requests for _ in range(SENDS))
            )
            for index in range(IDS):
                group = replies[index * SENDS : (index + 1) * SENDS]
                assert all(reply == group[0] for reply in group)
            async with h.ctx.db.read() as session:
                rows = (
                    await session.execute(select(func.count()).select_from(ClientRow))
                ).scalar_one()
            assert rows == IDS
            assert len({r.name for r in replies}) == IDS
