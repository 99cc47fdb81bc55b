"""The monitoring stream's robustness and facility registration at scale, through the service.

Facilities registered concurrently are all in the monitoring context; a bad posting is refused
alone while the stream goes on; a batch that cannot be processed gets an error in its ack and
the stream stays open; BatchCreateFacilities is all-or-none and keeps the concentration totals.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import grpc
import pytest
from contract_support import details
from risk_harness import a_facility, cny, request_id, risk_service, stream
from sqlalchemy import func, select

from crm.risk.v1 import risk_service_pb2
from crm_risk.models import ExposureTotalRow, FacilityRow
from crm_risk.monitoring.store.convert import transaction_message
from crm_sim.monitoring.builders import TxnFactory

ACCOUNT = "6228000011112222"


def drawdowns(client_id: str, facilities: list[str]) -> risk_service_pb2.MonitorTransactionsRequest:
    """Return one batch with a drawdown of each facility."""
    f = TxnFactory(client_id, account=ACCOUNT, balances={ACCOUNT: 0.0})
    txns = [f.make("credit", 100_000, hours=index, facility_id=name.rsplit("/", 1)[1],
                   name="本行贷款账户", counterparty_account="LOAN-GL", kind="loan_account",
                   channel="loan", memo="贷款发放")
            for index, name in enumerate(facilities)]
    return risk_service_pb2.MonitorTransactionsRequest(
        batch_id="draws",
        transactions=[transaction_message(t, facility=name)
                      for t, name in zip(txns, facilities, strict=True)])


def ordinary(client_id: str, count: int, *, prefix: str) -> list:
    """Return ``count`` ordinary postings (receipts and payments) of one client."""
    f = TxnFactory(client_id, account=ACCOUNT, balances={ACCOUNT: 5e6})
    return [transaction_message(replace(
        f.make("credit" if n % 2 else "debit", 1_000 + n, hours=n / 60,
               name=f"客户{n % 7}号有限公司", counterparty_account=f"CP{n % 7}", memo="货款"),
        txn_id=f"{prefix}-{n:05d}")) for n in range(count)]


async def count(h, table) -> int:
    async with h.ctx.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


class TestRegistration:
    async def test_fifty_facilities_registered_at_once_are_all_monitored(self, store_url,
                                                                          identity):
        """50 CreateFacility calls of one client at the same time, then a drawdown of each on
        the stream: none is refused as unknown (no registration is lost from the context)."""
        async with risk_service(store_url, identity) as h:
            client = await h.known_client("c-many")
            made = await asyncio.gather(*(
                h.stub.CreateFacility(risk_service_pb2.CreateFacilityRequest(
                    parent=client, facility=a_facility(), request_id=request_id()),
                    metadata=h.system())
                for _ in range(50)))
            names = [m.name for m in made]
            (ack,) = await stream(h.stub, [drawdowns("c-many", names)], h.system())
            assert list(ack.rejected) == []
            assert ack.accepted == 50

    async def test_batch_create_is_all_or_none(self, store_url, identity):
        """One bad facility refuses the whole batch, naming it; a good batch registers every
        facility and adds each to the concentration totals."""
        async with risk_service(store_url, identity) as h:
            clients = [await h.known_client(f"c-b{n}") for n in range(3)]
            bad = risk_service_pb2.BatchCreateFacilitiesRequest(parent="clients/-", requests=[
                risk_service_pb2.CreateFacilityRequest(parent=c, facility=a_facility())
                for c in clients])
            bad.requests[1].facility.amount.CopyFrom(cny(-5))
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.BatchCreateFacilities(bad, metadata=h.system())
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert details(caught.value)[1] == ["requests[1].facility.amount"]
            assert await count(h, FacilityRow) == 0
            good = risk_service_pb2.BatchCreateFacilitiesRequest(parent="clients/-", requests=[
                risk_service_pb2.CreateFacilityRequest(
                    parent=c, facility=a_facility(loan_account=f"7001{n}"))
                for n, c in enumerate(clients)])
            made = await h.stub.BatchCreateFacilities(good, metadata=h.system())
            assert [f.loan_account for f in made.facilities] == ["70010", "70011", "70012"]
            async with h.ctx.db.read() as session:
                book = await session.get(ExposureTotalRow, ("book", ""))
            assert book is not None and book.amount_cny == 30_000_000

    async def test_a_batch_for_one_parent_refuses_another_clients_facility(
        self, sqlite_url, identity
    ):
        """With a client as parent, every request must name that client."""
        async with risk_service(sqlite_url, identity) as h:
            one, other = await h.known_client("c-p1"), await h.known_client("c-p2")
            request = risk_service_pb2.BatchCreateFacilitiesRequest(parent=one, requests=[
                risk_service_pb2.CreateFacilityRequest(parent=other, facility=a_facility())])
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.BatchCreateFacilities(request, metadata=h.system())
            assert details(caught.value)[1] == ["requests[0].parent"]


class TestStream:
    async def test_one_bad_posting_among_ten_thousand(self, store_url, identity):
        """10,000 postings in 20 batches, one of them without an amount: that one is refused
        in its batch's ack, the other 9,999 are committed, every batch is acknowledged once,
        and the last batch sent again (its ack lost) is all duplicates."""
        async with risk_service(store_url, identity) as h:
            await h.known_client("c-10k")
            postings = ordinary("c-10k", 10_000, prefix="P")
            postings[4321].amount.Clear()
            batches = [risk_service_pb2.MonitorTransactionsRequest(
                batch_id=f"b{n}", transactions=postings[n * 500:(n + 1) * 500])
                for n in range(20)]
            acks = await stream(h.stub, [*batches, batches[19]], h.system())
            assert [a.batch_id for a in acks] == [f"b{n}" for n in range(20)] + ["b19"]
            refused = [(a.batch_id, r.index, r.field) for a in acks for r in a.rejected]
            assert refused == [("b8", 321, "amount")]
            assert sum(a.accepted for a in acks) == 9_999
            assert (acks[-1].accepted, acks[-1].duplicates) == (0, 500)

    async def test_a_batch_too_large_gets_an_error_and_the_stream_goes_on(
        self, sqlite_url, identity
    ):
        """A batch above the limit is answered with BATCH_TOO_LARGE in its ack; nothing of it
        is stored and the next batch on the same stream is processed."""
        async with risk_service(sqlite_url, identity, monitoring_max_batch=100) as h:
            await h.known_client("c-big")
            postings = ordinary("c-big", 150, prefix="B")
            too_large = risk_service_pb2.MonitorTransactionsRequest(
                batch_id="big", transactions=postings)
            fine = risk_service_pb2.MonitorTransactionsRequest(
                batch_id="fine", transactions=postings[:100])
            first, second = await stream(h.stub, [too_large, fine], h.system())
            assert first.batch_id == "big" and first.accepted == 0
            assert first.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            assert "BATCH_TOO_LARGE" in str(first.error)
            assert (second.batch_id, second.accepted) == ("fine", 100)
