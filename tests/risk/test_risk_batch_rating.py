"""BatchRateClients gives every client exactly the rating RateClient gives it.

A few hundred generated clients (statements of many shapes or none, past-due facilities,
external signals whose warnings cap grades) are rated one by one through RateClient, then all
together through BatchRateClients on the same store and clock; every stored column that
describes the rating (grade, PD, score, reason codes, factors, caps, inputs, review date) must
be the same. A small PostgreSQL run checks the bulk SQL (window over statements, multi-row
writes) on the other store.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime

import grpc
import pytest
from risk_harness import RiskHarness, a_facility, a_statement, risk_service
from sqlalchemy import select

from crm.events.v1 import client_events_pb2, risk_events_pb2
from crm.risk.v1 import facility_pb2, risk_service_pb2, warning_pb2
from crm_risk.models import RatingRow, StatementRow
from crm_risk.rating.model.statement_checks import statement_violations
from crm_risk.rating.statement_input import parse_statement
from crm_runtime.tables import OutboxMessage

COMPARED = ("grade", "pd", "score", "model_grade", "model_pd", "dimension_scores_json",
            "reason_codes_json", "caps_json", "inputs_json", "factors_json", "statement_id",
            "scorecard_version", "master_scale_version", "next_review_date",
            "floating_rate_share", "fx_revenue_share")
INDUSTRIES = ("C3411", "C2614", "F5176", "G5430", "E4813", "I6513", "A0111", "K7010")
SIGNALS = (warning_pb2.EXTERNAL_SIGNAL_TYPE_CROSS_DEFAULT,
           warning_pb2.EXTERNAL_SIGNAL_TYPE_LITIGATION,
           warning_pb2.EXTERNAL_SIGNAL_TYPE_TAX_ARREARS)


def _statement(rng: random.Random, year: int):  # type: ignore[no-untyped-def]
    """Return a balanced statement with random leverage, margins and cash flow."""
    liabilities = rng.uniform(100e6, 290e6)
    revenue = rng.uniform(60e6, 600e6)
    operating = revenue * rng.uniform(-0.15, 0.2)
    interest = rng.uniform(0.5e6, 20e6)
    return a_statement(
        year, total_liabilities=round(liabilities), equity=round(300e6 - liabilities),
        revenue=round(revenue), cost_of_sales=round(revenue - operating - 5e6),
        operating_profit=round(operating), ebit=round(operating + 1e6),
        interest_expense=round(interest), net_profit=round((operating - interest) * 0.75),
        operating_cash_flow=round(operating * rng.uniform(-0.5, 1.5)),
    )


async def _book(h: RiskHarness, clients: int, seed: int) -> list[str]:
    """Create `clients` clients with random evidence; return their names."""
    rng = random.Random(seed)
    names = [f"clients/br{seed}-{n:04d}" for n in range(clients)]
    await h.deliver(*(client_events_pb2.ClientCreated(
        client=name, display_name=f"批量企业{n}", industry_code=INDUSTRIES[n % len(INDUSTRIES)],
        region_code="320500", size_class=("small", "medium", "large")[n % 3],
        relationship_manager="staff/rm-a", team="") for n, name in enumerate(names)))
    await _statements(h, rng, names)
    officer = h.officer()
    loans = await h.stub.BatchCreateFacilities(risk_service_pb2.BatchCreateFacilitiesRequest(
        parent="clients/-", requests=[
            risk_service_pb2.CreateFacilityRequest(parent=name, facility=a_facility())
            for name in names[::7]]), metadata=h.system())
    for loan in loans.facilities:
        await h.stub.RecordFacilityEvent(risk_service_pb2.RecordFacilityEventRequest(
            parent=loan.name, event=facility_pb2.FacilityEvent(
                event_type=facility_pb2.FACILITY_EVENT_TYPE_PAST_DUE,
                days_past_due=rng.choice((5, 35, 75, 120)),
                effective_date=loan.start_date)), metadata=h.system())
    for n, name in enumerate(names[::5]):
        await h.stub.RecordExternalSignal(risk_service_pb2.RecordExternalSignalRequest(
            client=name, signal=warning_pb2.ExternalSignal(
                signal_type=SIGNALS[n % len(SIGNALS)], summary="generated signal")),
            metadata=officer)
    return names


async def _statements(h: RiskHarness, rng: random.Random, names: list[str]) -> None:
    """Store 0 to 3 years of statements per client as CreateFinancialStatement stores those
    its checks accept (written directly: what is tested here is the rating, and a few
    hundred statement calls would cost the suite seconds)."""
    async with h.ctx.db.write() as session:
        for name in names:
            last = 2025 - rng.randrange(2)
            periods: list[tuple[date, date]] = []
            for year in range(last - rng.randrange(4) + 1, last + 1):
                statement, document = parse_statement(_statement(rng, year))
                if statement_violations(statement, existing_periods=periods):
                    continue  # a shape the checks refuse: no matter
                periods.append((statement.period_start, statement.period_end))
                session.add(StatementRow(
                    id=uuid.uuid4().hex, client_id=name.removeprefix("clients/"),
                    period_start=statement.period_start, period_end=statement.period_end,
                    audited=statement.audited, audit_opinion=statement.audit_opinion,
                    amounts_json=document, submitted_by="systems/test",
                    create_time=datetime.now(UTC)))


async def _rows(h: RiskHarness, ids: list[str]) -> dict[str, RatingRow]:
    async with h.ctx.db.read() as session:
        rows = (await session.execute(
            select(RatingRow).where(RatingRow.id.in_(ids)))).scalars()  # type: ignore[attr-defined]
        return {r.client_id: r for r in rows}


async def _same_ratings(h: RiskHarness, clients: int, seed: int, batch: int) -> int:
    """Rate every client singly, then in batches; assert equal ratings; return distinct
    grades seen."""
    names = await _book(h, clients, seed)
    single = {}
    for name in names:
        rating = await h.stub.RateClient(risk_service_pb2.RateClientRequest(client=name),
                                         metadata=h.officer())
        single[name] = rating.name.rsplit("/", 1)[1]
    batched = {}
    for start in range(0, len(names), batch):
        reply = await h.stub.BatchRateClients(risk_service_pb2.BatchRateClientsRequest(
            clients=names[start:start + batch]), metadata=h.officer())
        assert [r.client for r in reply.ratings] == names[start:start + batch]
        for r in reply.ratings:
            batched[r.client] = r
    one = await _rows(h, list(single.values()))
    many = await _rows(h, [r.rating.rsplit("/", 1)[1] for r in batched.values()])
    for name in names:
        client_id = name.removeprefix("clients/")
        for column in COMPARED:
            assert getattr(many[client_id], column) == getattr(one[client_id], column), (
                name, column)
        answer = batched[name]
        assert (answer.grade, answer.probability_of_default, answer.previous_grade) == (
            one[client_id].grade, one[client_id].pd, one[client_id].grade)
        assert many[client_id].trigger == "manual"
    return len({r.grade for r in one.values()})


async def test_batch_ratings_equal_single_ratings(store_url, identity):
    """Generated clients (100 on SQLite, 20 on PostgreSQL): BatchRateClients, in chunks,
    stores for each the rating RateClient stored; each answer names the rating it replaced;
    ratings that did not change send no RatingChanged."""
    clients = 100 if store_url.startswith("sqlite") else 20
    async with risk_service(store_url, identity, subscribers="notify=127.0.0.1:9") as h:
        grades = await _same_ratings(h, clients, seed=11, batch=80 if clients > 100 else 8)
        assert grades >= 3  # the book is varied enough to mean something
        async with h.ctx.db.read() as session:
            changed = (await session.execute(
                select(OutboxMessage.id).where(
                    OutboxMessage.event_type == risk_events_pb2.RatingChanged.DESCRIPTOR.full_name)
            )).all()
        # One RatingChanged per client's first rating, none for the identical re-ratings.
        assert h.ctx.outbox.subscribers == ("notify",)
        assert len(changed) == clients


async def test_batch_rating_refuses_bad_batches(sqlite_url, identity):
    """Unknown clients fail the whole batch (nothing stored); names are checked; a repeated
    client is refused; relationship managers may not re-rate."""
    async with risk_service(sqlite_url, identity) as h:
        known = await h.known_client("br-known")
        cases = [
            (["clients/br-unknown", known], grpc.StatusCode.FAILED_PRECONDITION),
            (["not-a-client"], grpc.StatusCode.INVALID_ARGUMENT),
            ([known, known], grpc.StatusCode.INVALID_ARGUMENT),
            ([], grpc.StatusCode.INVALID_ARGUMENT),
        ]
        for clients, code in cases:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await h.stub.BatchRateClients(risk_service_pb2.BatchRateClientsRequest(
                    clients=clients), metadata=h.officer())
            assert caught.value.code() == code, clients
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await h.stub.BatchRateClients(risk_service_pb2.BatchRateClientsRequest(
                clients=[known]), metadata=h.rm())
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        async with h.ctx.db.read() as session:
            assert not (await session.execute(select(RatingRow.id))).all()
