"""Tell a running risk service about a synthetic book through its public API.

ClientCreated events go through the service's inbox (as the client service's relay would
deliver them), monitoring profiles through UpdateMonitoringProfile and facilities through
BatchCreateFacilities. Returns the facility names the service assigned, keyed by synthetic id.
Used by the service evaluation, the benchmark and the demo.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial

from google.type import date_pb2, money_pb2

from crm.events.v1 import client_events_pb2, event_pb2, event_pb2_grpc
from crm.risk.v1 import facility_pb2, monitoring_pb2, risk_service_pb2, risk_service_pb2_grpc
from crm_risk.monitoring.engine.model import ClientContext, FacilityContext
from crm_runtime.outbox import make_envelope
from crm_sim.monitoring.world import START_DATE

Metadata = tuple[tuple[str, str], ...]
CONCURRENCY = 16
FACILITY_BATCH = 500
EVENT_BATCH = 500
RELATIONS = {
    "shareholder": monitoring_pb2.PARTY_RELATION_SHAREHOLDER,
    "affiliate": monitoring_pb2.PARTY_RELATION_AFFILIATE,
    "executive": monitoring_pb2.PARTY_RELATION_EXECUTIVE,
    "relative": monitoring_pb2.PARTY_RELATION_RELATIVE,
    "legal_representative": monitoring_pb2.PARTY_RELATION_LEGAL_REPRESENTATIVE,
    "actual_controller": monitoring_pb2.PARTY_RELATION_ACTUAL_CONTROLLER,
    "own_external_account": monitoring_pb2.PARTY_RELATION_OWN_EXTERNAL_ACCOUNT,
    "guarantor": monitoring_pb2.PARTY_RELATION_GUARANTOR,
}
FACILITY_TYPES = {
    "working_capital": facility_pb2.FACILITY_TYPE_WORKING_CAPITAL,
    "fixed_asset": facility_pb2.FACILITY_TYPE_FIXED_ASSET,
    "project_finance": facility_pb2.FACILITY_TYPE_PROJECT_FINANCE,
    "trade_finance": facility_pb2.FACILITY_TYPE_TRADE_FINANCE,
}
PURPOSES = {
    "operating_turnover": facility_pb2.PURPOSE_CATEGORY_OPERATING_TURNOVER,
    "raw_materials": facility_pb2.PURPOSE_CATEGORY_RAW_MATERIALS,
    "equipment": facility_pb2.PURPOSE_CATEGORY_EQUIPMENT,
    "construction": facility_pb2.PURPOSE_CATEGORY_CONSTRUCTION,
    "trade_settlement": facility_pb2.PURPOSE_CATEGORY_TRADE_SETTLEMENT,
}


def _cny(amount: float) -> money_pb2.Money:
    units = int(amount)
    return money_pb2.Money(currency_code="CNY", units=units, nanos=round((amount - units) * 1e9))


def profile_of(context: ClientContext) -> monitoring_pb2.MonitoringProfile:
    """Return the monitoring profile message of a synthetic client."""
    profile = monitoring_pb2.MonitoringProfile(
        name=f"clients/{context.client_id}/monitoringProfile",
        own_accounts=sorted(context.own_accounts), group=context.group,
        registered_name=context.display_name,
    )
    for party in context.related_parties:
        profile.related_parties.add(
            display_name=party.name, account=party.account, relation=RELATIONS[party.relation],
            natural_person=party.natural_person,
            client=f"clients/{party.client_id}" if party.client_id else "",
        )
    return profile


def facility_of(context: FacilityContext) -> facility_pb2.Facility:
    """Return the Facility message of a synthetic facility."""
    facility = facility_pb2.Facility(
        facility_type=FACILITY_TYPES[context.facility_type],
        amount=_cny(context.amount),
        term_months=12,
        purpose_category=PURPOSES.get(context.purpose_category,
                                      facility_pb2.PURPOSE_CATEGORY_OTHER),
        drawdown_account=context.drawdown_account,
        loan_account=context.loan_account,
        declared_purpose=context.declared_purpose,
        start_date=date_pb2.Date(year=START_DATE.year, month=START_DATE.month,
                                 day=START_DATE.day),
    )
    for payee in context.entrusted:
        facility.entrusted_counterparties.add(display_name=payee.name, account=payee.account,
                                              industry_code=payee.industry)
    if context.total_project_investment:
        facility.total_project_investment.CopyFrom(_cny(context.total_project_investment))
    return facility


async def bounded(calls: Sequence[Callable[[], Awaitable[object]]]) -> list[object]:
    """Run calls with at most CONCURRENCY in flight (a gRPC call starts when created)."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Awaitable[object]]) -> object:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


def client_created(context: ClientContext, *, industry: str = "C3411",
                   region: str = "320500") -> event_pb2.EventEnvelope:
    """Return the ClientCreated event the client service would emit for a synthetic client."""
    client = f"clients/{context.client_id}"
    return make_envelope(
        client_events_pb2.ClientCreated(
            client=client, display_name=context.display_name or f"synthetic {client}",
            industry_code=industry, region_code=region, size_class="medium",
            group=context.group,
            relationship_manager=f"staff/rm-{sum(map(ord, context.client_id)) % 20:02d}",
        ),
        source="client", subject=client,
    )


async def register_facilities(
    stub: risk_service_pb2_grpc.RiskServiceStub, facilities: Iterable[FacilityContext], *,
    system: Metadata,
) -> dict[str, str]:
    """Register facilities in batches; return their service names by synthetic id."""
    facilities = list(facilities)
    ids = sorted(f.facility_id for f in facilities)
    by_id = {f.facility_id: f for f in facilities}
    names: dict[str, str] = {}
    for start in range(0, len(ids), FACILITY_BATCH):
        chunk = ids[start:start + FACILITY_BATCH]
        made = await stub.BatchCreateFacilities(
            risk_service_pb2.BatchCreateFacilitiesRequest(
                parent="clients/-",
                requests=[risk_service_pb2.CreateFacilityRequest(
                    parent=f"clients/{by_id[fid].client_id}", facility=facility_of(by_id[fid]))
                    for fid in chunk]),
            metadata=system,
        )
        names.update(zip(chunk, (f.name for f in made.facilities), strict=True))
    return names


async def register(
    stub: risk_service_pb2_grpc.RiskServiceStub,
    sink: event_pb2_grpc.EventSinkServiceStub,
    clients: dict[str, ClientContext],
    facilities: dict[str, FacilityContext],
    *,
    system: Metadata,
    client_relay: Metadata,
) -> dict[str, str]:
    """Make the service know every client, profile and facility; return facility names."""
    created = [client_created(clients[cid]) for cid in sorted(clients)]
    for start in range(0, len(created), EVENT_BATCH):
        await sink.DeliverEvents(
            event_pb2.DeliverEventsRequest(events=created[start:start + EVENT_BATCH]),
            metadata=client_relay,
        )
    await bounded([
        partial(stub.UpdateMonitoringProfile,
                risk_service_pb2.UpdateMonitoringProfileRequest(profile=profile_of(c)),
                metadata=system)
        for c in clients.values()
    ])
    return await register_facilities(stub, facilities.values(), system=system)
