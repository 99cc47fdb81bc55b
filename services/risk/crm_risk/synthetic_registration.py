"""Tell a running risk service about a synthetic portfolio through its public API.

Used by ``evaluate_service`` and the benchmark: ClientCreated events go through the service's
inbox (as the client service's relay would deliver them), monitoring profiles and facilities
through RiskService. Returns the facility names the service assigned, keyed by synthetic id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from google.type import date_pb2, money_pb2

from crm.events.v1 import client_events_pb2, event_pb2, event_pb2_grpc
from crm.risk.v1 import facility_pb2, monitoring_pb2, risk_service_pb2, risk_service_pb2_grpc
from crm_risk.monitoring.model import ClientContext, FacilityContext
from crm_risk.monitoring.synthetic import START_DATE, SyntheticData
from crm_runtime.outbox import make_envelope

Metadata = tuple[tuple[str, str], ...]
CONCURRENCY = 16


def _cny(amount: float) -> money_pb2.Money:
    units = int(amount)
    return money_pb2.Money(currency_code="CNY", units=units, nanos=round((amount - units) * 1e9))


def profile_of(context: ClientContext) -> monitoring_pb2.MonitoringProfile:
    """Return the monitoring profile message of a synthetic client."""
    relation = monitoring_pb2
    profile = monitoring_pb2.MonitoringProfile(
        name=f"clients/{context.client_id}/monitoringProfile",
        own_accounts=sorted(context.own_accounts),
    )
    for name in sorted(context.related_party_names):
        profile.related_parties.add(display_name=name, relation=relation.PARTY_RELATION_AFFILIATE)
    for account in sorted(context.related_party_accounts):
        profile.related_parties.add(account=account, relation=relation.PARTY_RELATION_AFFILIATE)
    if context.legal_rep_name:
        profile.related_parties.add(display_name=context.legal_rep_name,
                                    relation=relation.PARTY_RELATION_LEGAL_REPRESENTATIVE)
    if context.controller_name:
        profile.related_parties.add(display_name=context.controller_name,
                                    relation=relation.PARTY_RELATION_ACTUAL_CONTROLLER)
    return profile


FACILITY_TYPES = {
    "working_capital": facility_pb2.FACILITY_TYPE_WORKING_CAPITAL,
    "fixed_asset": facility_pb2.FACILITY_TYPE_FIXED_ASSET,
    "project_finance": facility_pb2.FACILITY_TYPE_PROJECT_FINANCE,
    "trade_finance": facility_pb2.FACILITY_TYPE_TRADE_FINANCE,
}


def facility_of(context: FacilityContext) -> facility_pb2.Facility:
    """Return the Facility message of a synthetic facility."""
    facility = facility_pb2.Facility(
        facility_type=FACILITY_TYPES[context.facility_type],
        amount=_cny(context.amount),
        term_months=12,
        purpose_category=(facility_pb2.PURPOSE_CATEGORY_OPERATING_TURNOVER
                          if context.purpose_category == "operating_turnover"
                          else facility_pb2.PURPOSE_CATEGORY_EQUIPMENT),
        drawdown_account=context.drawdown_account,
        start_date=date_pb2.Date(year=START_DATE.year, month=START_DATE.month,
                                 day=START_DATE.day),
    )
    for account in sorted(context.entrusted_counterparties):
        facility.entrusted_counterparties.add(display_name=f"payee {account}", account=account)
    if context.total_project_investment:
        facility.total_project_investment.CopyFrom(_cny(context.total_project_investment))
    return facility


async def _bounded(calls: Sequence[Callable[[], Awaitable[object]]]) -> list[object]:
    """Run calls with at most CONCURRENCY in flight (a gRPC call starts when created)."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Awaitable[object]]) -> object:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def register(
    stub: risk_service_pb2_grpc.RiskServiceStub,
    sink: event_pb2_grpc.EventSinkServiceStub,
    data: SyntheticData,
    *,
    system: Metadata,
    client_relay: Metadata,
) -> dict[str, str]:
    """Make the service know every client, profile and facility; return facility names."""
    created = [
        make_envelope(
            client_events_pb2.ClientCreated(
                client=f"clients/{cid}", display_name=f"synthetic {cid}", industry_code="C3411",
                region_code="320500", size_class="medium",
                relationship_manager=f"staff/rm-{int(cid[1:]) % 20:02d}",
            ),
            source="client", subject=f"clients/{cid}",
        )
        for cid in sorted(data.clients)
    ]
    for start in range(0, len(created), 500):
        await sink.DeliverEvents(
            event_pb2.DeliverEventsRequest(events=created[start:start + 500]),
            metadata=client_relay,
        )
    await _bounded([
        partial(stub.UpdateMonitoringProfile,
                risk_service_pb2.UpdateMonitoringProfileRequest(profile=profile_of(c)),
                metadata=system)
        for c in data.clients.values()
    ])
    ids = sorted(data.facilities)
    made = await _bounded([
        partial(stub.CreateFacility,
                risk_service_pb2.CreateFacilityRequest(
                    parent=f"clients/{data.facilities[fid].client_id}",
                    facility=facility_of(data.facilities[fid])),
                metadata=system)
        for fid in ids
    ])
    return {fid: f.name for fid, f in zip(ids, made, strict=True)}  # type: ignore[attr-defined]


