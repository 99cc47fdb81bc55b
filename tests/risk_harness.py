"""Starts the risk service in-process for tests (see service_harness); risk requests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date

from google.type import date_pb2, money_pb2
from service_harness import (  # noqa: F401 - RM_B is re-exported for the risk tests
    RM_A,
    RM_B,
    Metadata,
    ServiceHarness,
    start_harness,
    test_settings,
)

from crm.events.v1 import client_events_pb2
from crm.risk.v1 import facility_pb2, risk_service_pb2, risk_service_pb2_grpc, statement_pb2
from crm_risk import app
from crm_risk.config import RiskSettings
from crm_risk.context import RiskContext
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit


@dataclass
class RiskHarness(ServiceHarness[RiskContext, RiskSettings, risk_service_pb2_grpc.RiskServiceStub]):
    """A running risk service and ways to call it as different people."""

    stub_type = risk_service_pb2_grpc.RiskServiceStub

    def officer(self, subject: str = "staff/risk-1") -> Metadata:
        """Return metadata for a risk officer."""
        return self.identity.metadata(subject, Role.RISK_OFFICER)

    def approver(self, subject: str = "staff/approver-1") -> Metadata:
        """Return metadata for a credit approver."""
        return self.identity.metadata(subject, Role.CREDIT_APPROVER)

    async def deliver(self, *payloads: object) -> None:
        """Deliver client-service events to the risk service's inbox, as the client relay."""
        await self.deliver_events(payloads, source="client")

    async def known_client(
        self, client_id: str, *, rm: str = RM_A, industry: str = "C3411", region: str = "320500",
        group: str = "",
    ) -> str:
        """Tell the risk service about a client through a ClientCreated event; return its name."""
        await self.deliver(client_events_pb2.ClientCreated(
            client=f"clients/{client_id}", display_name=f"测试企业{client_id}有限公司",
            industry_code=industry, region_code=region, size_class="medium", group=group,
            relationship_manager=rm, team="",
        ))
        return f"clients/{client_id}"


@asynccontextmanager
async def risk_service(
    store_url: str, identity: IdentityKit, *, subscribers: str = "", review: bool = False,
    **overrides: object,
) -> AsyncIterator[RiskHarness]:
    """Run a risk service against `store_url` for the duration of the block."""
    values = test_settings(
        "risk", store_url, identity, pii=True, event_subscribers=subscribers, **overrides
    )
    settings = RiskSettings(**values)  # type: ignore[arg-type]
    async with start_harness(RiskHarness, app, settings, identity, review=review) as harness:
        yield harness


def cny(yuan: float | int) -> money_pb2.Money:
    """Return CNY money (two decimals at most)."""
    units = int(yuan)
    return money_pb2.Money(currency_code="CNY", units=units,
                           nanos=round((yuan - units) * 1e9))


def a_facility(**fields: object) -> facility_pb2.Facility:
    """Return a valid working-capital facility of 10 million yuan."""
    facility = facility_pb2.Facility(
        facility_type=facility_pb2.FACILITY_TYPE_WORKING_CAPITAL,
        amount=cny(10_000_000),
        term_months=12,
        purpose_category=facility_pb2.PURPOSE_CATEGORY_OPERATING_TURNOVER,
        drawdown_account="6228000011112222",
        start_date=date_pb2.Date(year=2026, month=3, day=2),
    )
    for key, value in fields.items():
        if hasattr(value, "DESCRIPTOR"):
            getattr(facility, key).CopyFrom(value)
        elif isinstance(value, list):
            getattr(facility, key).extend(value)
        else:
            setattr(facility, key, value)
    return facility


def a_statement(
    year: int = 2025, *, scale: float = 1.0, **changes: float
) -> statement_pb2.FinancialStatement:
    """Return a consistent annual statement (amounts in yuan × `scale`)."""
    values = {
        "total_assets": 300e6, "current_assets": 150e6, "inventory": 40e6,
        "receivables": 50e6, "cash": 30e6, "total_liabilities": 165e6,
        "current_liabilities": 90e6, "short_term_debt": 40e6, "long_term_debt": 50e6,
        "equity": 135e6, "advance_receipts": 5e6, "revenue": 260e6, "cost_of_sales": 200e6,
        "operating_profit": 25e6, "interest_expense": 4e6, "ebit": 24e6, "net_profit": 16e6,
        "depreciation_amortisation": 8e6, "operating_cash_flow": 20e6,
        "investing_cash_flow": -10e6, "financing_cash_flow": -5e6,
    }
    values = {k: v * scale for k, v in values.items()}
    values.update(changes)
    statement = statement_pb2.FinancialStatement(
        period_start=date_pb2.Date(year=year, month=1, day=1),
        period_end=date_pb2.Date(year=year, month=12, day=31),
        audited=True,
        audit_opinion=statement_pb2.AUDIT_OPINION_UNQUALIFIED,
    )
    for part in ("balance_sheet", "income_statement", "cash_flow_statement"):
        message = getattr(statement, part)
        for field in message.DESCRIPTOR.fields:
            if field.name in values:
                getattr(message, field.name).CopyFrom(cny(round(values[field.name], 2)))
        if not message.ListFields():
            message.SetInParent()
    return statement


def request_id() -> str:
    """Return a fresh request id."""
    return str(uuid.uuid4())


def day(value: date) -> date_pb2.Date:
    """Return a google.type.Date."""
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


async def stream(
    stub: risk_service_pb2_grpc.RiskServiceStub,
    batches: Sequence[risk_service_pb2.MonitorTransactionsRequest],
    metadata: tuple[tuple[str, str], ...],
) -> list[risk_service_pb2.MonitorTransactionsResponse]:
    """Send batches on one MonitorTransactions stream; return the acknowledgements."""
    async def requests() -> AsyncIterator[risk_service_pb2.MonitorTransactionsRequest]:
        for batch in batches:
            yield batch

    call = stub.MonitorTransactions(requests(), metadata=metadata)
    return [response async for response in call]


def round_trip(
    client_id: str, facility: str, *, account: str = "6228000011112222", prefix: str = "RT"
) -> risk_service_pb2.MonitorTransactionsRequest:
    """Return a batch in which loan money goes to a payee and most of it comes back (资金回流).

    `facility` is the facility's resource name; its drawdown account must be `account`.
    """
    from crm_risk.monitoring.store.convert import transaction_message
    from crm_sim.monitoring.builders import TxnFactory

    f = TxnFactory(client_id, account=account, balances={account: 200_000.0})
    facility_id = facility.rsplit("/", 1)[1]
    payee = {"name": "苏州恒远贸易有限公司", "counterparty_account": "6222333344445555"}
    txns = [
        f.drawdown(facility_id, 5_000_000, hours=1, account=account),
        f.debit(4_000_000, hours=2, **payee),
        f.debit(50_000, hours=26, name="国网江苏电力", counterparty_account="6222000000000001"),
        f.credit(3_000_000, hours=50, **payee),
    ]
    return risk_service_pb2.MonitorTransactionsRequest(
        batch_id=prefix,
        transactions=[
            transaction_message(replace(t, txn_id=f"{prefix}-{t.txn_id}"),
                                facility=facility if t.facility_id else "")
            for t in txns
        ],
    )
