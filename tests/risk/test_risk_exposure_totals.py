"""The running exposure totals always equal a full recomputation from the facilities.

Random sequences of what moves exposure (single and batch registrations, clients learned or
moved to another group, industry or region, before or after their facilities) and of what
must not (drawdowns and repayments move balances, reclassification the category, not the
committed amount) go to a risk
service process; after each sequence every total (client, group, industry section,
province, book) must equal what the concentration report computes from the facilities
themselves. The book grows across the sequences, so later ones move clients that already
hold exposure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from google.type import money_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from process_harness import ServiceProcess
from risk_harness import a_facility, cny
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from crm.events.v1 import client_events_pb2, event_pb2, event_pb2_grpc
from crm.risk.v1 import facility_pb2, risk_service_pb2, risk_service_pb2_grpc
from crm_risk.concentration.model import (
    Limits,
    exposures,
    keys_of,
    total,
    usages,
    with_proposal,
)
from crm_risk.concentration.store import (
    holding_for,
    load_holdings,
    proposal_usages,
    recompute_holdings,
)
from crm_risk.models import ClientFactRow, ExposureTotalRow
from crm_runtime import testing
from crm_runtime.auth import Role
from crm_runtime.outbox import make_envelope
from crm_runtime.testing import IdentityKit, pii_env

pytestmark = pytest.mark.process

CLIENTS = [f"clients/tot-{n}" for n in range(6)]
GROUPS = ("", "集团甲", "集团乙")
INDUSTRIES = ("", "C3411", "F5176", "K7010")
REGIONS = ("", "320500", "110000", "440300")

LIMITS = Limits(net_capital=Decimal("3000000000"), single_client=0.1, group=0.15,
                industry={"C": 0.3}, default_industry=0.25, region={"32": 0.35},
                default_region=0.4)

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("90000000"), places=2)
client = st.sampled_from(CLIENTS)
create = st.tuples(st.just("create"), client, amounts)
batch = st.tuples(st.just("batch"), st.lists(st.tuples(client, amounts), min_size=1,
                                              max_size=5))
facts = st.tuples(st.sampled_from(("created", "updated")), client, st.sampled_from(GROUPS),
                  st.sampled_from(INDUSTRIES), st.sampled_from(REGIONS))
money_moves = st.tuples(st.sampled_from(("drawdown", "repayment")), st.integers(0, 10**6),
                        st.integers(1, 10**6))
reviews = st.tuples(st.just("review"), st.integers(0, 10**6), st.booleans())
operations = st.lists(st.one_of(create, batch, facts, money_moves, reviews), min_size=1,
                      max_size=8)


def _facility(amount: Decimal) -> facility_pb2.Facility:
    units = int(amount)
    return a_facility(amount=money_pb2.Money(currency_code="CNY", units=units,
                                             nanos=int((amount - units) * 10**9)))


@dataclass
class Book:
    """A running risk service, its store and the facilities registered so far."""

    service: ServiceProcess
    store_url: str
    identity: IdentityKit
    made: list[str] = field(default_factory=list)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def book(request: pytest.FixtureRequest, tmp_path: Path, identity: IdentityKit) -> Iterator[Book]:
    """A risk service process on a fresh store of each backend."""
    database = ""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/risk.db"
    else:
        if not asyncio.run(testing.postgres_available()):
            pytest.skip("PostgreSQL not available")
        url, database = asyncio.run(testing.create_postgres_database())
    service = ServiceProcess("crm_risk", {
        **identity.env("risk"), **pii_env(), "DATABASE_URL": url, "LOG_LEVEL": "warning",
    }, tmp_path / "risk.log")
    service.start()
    try:
        asyncio.run(service.wait_serving("crm.risk.v1.RiskService"))
        yield Book(service, url, identity)
    finally:
        service.terminate()
        if database:
            asyncio.run(testing.drop_postgres_database(database))


async def _apply(book: Book, channel: grpc.aio.Channel, step: tuple) -> None:  # type: ignore[type-arg]
    """Perform one operation through the service."""
    stub = risk_service_pb2_grpc.RiskServiceStub(channel)
    system = book.identity.metadata("systems/core-banking", Role.SYSTEM)
    made = book.made
    kind = step[0]
    if kind == "create":
        reply = await stub.CreateFacility(risk_service_pb2.CreateFacilityRequest(
            parent=step[1], facility=_facility(step[2])), metadata=system)
        made.append(reply.name)
    elif kind == "batch":
        replies = await stub.BatchCreateFacilities(risk_service_pb2.BatchCreateFacilitiesRequest(
            parent="clients/-", requests=[
                risk_service_pb2.CreateFacilityRequest(parent=name, facility=_facility(amount))
                for name, amount in step[1]]), metadata=system)
        made.extend(f.name for f in replies.facilities)
    elif kind in ("created", "updated"):
        _, name, group, industry, region = step
        event_type = (client_events_pb2.ClientCreated if kind == "created"
                      else client_events_pb2.ClientUpdated)
        event = event_type(client=name, industry_code=industry, region_code=region, group=group)
        await event_pb2_grpc.EventSinkServiceStub(channel).DeliverEvents(
            event_pb2.DeliverEventsRequest(events=[make_envelope(event, source="client",
                                                                 subject=name)]),
            metadata=book.identity.metadata("systems/client-relay", Role.SYSTEM, kid="client"))
    elif kind == "review" and made:  # reclassification moves the category, not exposure
        await stub.ReviewClassification(risk_service_pb2.ReviewClassificationRequest(
            name=made[step[1] % len(made)], credit_impaired=step[2],
            ecl_ratio=0.6 if step[2] else 0.0, reason="random review"),
            metadata=book.identity.metadata("staff/risk-1", Role.RISK_OFFICER))
    elif kind in ("drawdown", "repayment") and made:
        facility = made[step[1] % len(made)]
        event_type = (facility_pb2.FACILITY_EVENT_TYPE_DRAWDOWN if kind == "drawdown"
                      else facility_pb2.FACILITY_EVENT_TYPE_REPAYMENT)
        try:
            await stub.RecordFacilityEvent(risk_service_pb2.RecordFacilityEventRequest(
                parent=facility, event=facility_pb2.FacilityEvent(
                    event_type=event_type, amount=cny(step[2] / 100),
                    effective_date=a_facility().start_date)), metadata=system)
        except grpc.aio.AioRpcError as refused:  # more than undrawn / outstanding: no matter
            assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION


async def _totals_and_recomputation(
    store_url: str,
) -> tuple[dict[tuple[str, str], Decimal], dict[tuple[str, str], Decimal]]:
    """Return the stored non-zero totals and the totals recomputed from the facilities;
    check on the way that the what-if of a new facility for each client, read from the
    totals, is the one computed from every holding."""
    engine = create_async_engine(store_url)
    try:
        async with AsyncSession(engine) as session:
            holdings = await recompute_holdings(session)
            # The report reads its holdings from the totals: the same list.
            assert await load_holdings(session) == holdings
            stored = {(d, k): Decimal(a) for d, k, a in await session.execute(select(
                ExposureTotalRow.dimension, ExposureTotalRow.key,  # type: ignore[call-overload]
                ExposureTotalRow.amount_cny)) if a}
            for name in CLIENTS:
                client_id = name.removeprefix("clients/")
                proposal = holding_for(client_id, Decimal("2500000.05"),
                                       await session.get(ClientFactRow, client_id))
                assert await proposal_usages(session, LIMITS, proposal) == usages(
                    with_proposal(holdings, proposal), LIMITS, only=keys_of(proposal))
    finally:
        await engine.dispose()
    expected = {(d, k): amount for d, found in exposures(holdings).items()
                for k, amount in found.items() if amount}
    if holdings:
        expected[("book", "")] = total(holdings)
    return stored, expected


async def _run(book: Book, steps: list[tuple]) -> None:  # type: ignore[type-arg]
    async with grpc.aio.insecure_channel(book.service.address) as channel:
        for step in steps:
            await _apply(book, channel, step)
    stored, expected = await _totals_and_recomputation(book.store_url)
    assert stored == expected


@settings(max_examples=12, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=operations)
def test_totals_equal_recomputation_after_random_operations(
    book: Book, steps: list[tuple]  # type: ignore[type-arg]
) -> None:
    """12 random sequences of up to 8 operations on each backend, the book growing across
    them (a few seconds of the default suite)."""
    asyncio.run(_run(book, steps))
