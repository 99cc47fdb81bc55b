"""Demo step: concentration and a what-if, five-category moves, a four-eyes rating override.

The facilities registered so far (monitoring's book, the credit group's) make up the bank's
exposure: risk reports it by client, group, industry and region with the client HHI and the
limits' headroom, and a proposed facility large enough to break the single-client limit is
evaluated first, as a credit approver would. Core banking then reports three loans past due
(15, 95 and 280 days), which moves them down the five categories by the objective floors.
Last, one credit approver proposes a rating override; the same approver approving it is
refused, and a second approver's approval issues the new rating.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import grpc
from google.type import date_pb2, money_pb2

from crm.risk.v1 import facility_pb2, portfolio_pb2, rating_pb2, risk_service_pb2
from crm.risk.v1 import risk_service_pb2_grpc as rgrpc
from crm_client.segmentation.features import MASTER_SCALE
from crm_demo.launcher import Service
from crm_demo.loader import LoadResult
from crm_demo.portfolio import PortfolioClient
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

PAST_DUE_DAYS = (15, 95, 280)
FIRST_PAST_DUE_CLIENT = 5  # monitored clients have facilities; the first few show elsewhere
RATED_FROM = 200  # the ratings step rates clients from here on
Metadata = tuple[tuple[str, str], ...]


def category_name(value: int) -> str:
    """Return e.g. "substandard" for LOAN_CATEGORY_SUBSTANDARD."""
    return facility_pb2.LoanCategory.Name(value).removeprefix("LOAN_CATEGORY_").lower()  # type: ignore[arg-type]


def _yuan(money: money_pb2.Money) -> float:
    return float(money.units) + float(money.nanos) / 1e9


async def _what_if(stub: rgrpc.RiskServiceStub, officer: Metadata,
                   report: portfolio_pb2.ConcentrationReport) -> tuple[str, float, list[str]]:
    """Evaluate a facility 12 % of net capital for the largest borrower; return the breaches."""
    largest = next(e.key for e in report.exposures
                   if e.dimension == portfolio_pb2.CONCENTRATION_DIMENSION_CLIENT)
    amount = int(_yuan(report.net_capital) * 0.12)
    reply = await stub.EvaluateProposedFacility(risk_service_pb2.EvaluateProposedFacilityRequest(
        client=largest, amount=money_pb2.Money(currency_code="CNY", units=amount)),
        metadata=officer)
    breaches = [f"{portfolio_pb2.ConcentrationDimension.Name(b.dimension).split('_')[-1].lower()}"  # type: ignore[arg-type]
                f" {b.key} {b.used_share:.1%} of {b.limit_share:.0%}" for b in reply.breaches]
    return largest, amount, breaches if reply.would_breach else []


async def _performing(stub: rgrpc.RiskServiceStub, system: Metadata,
                      clients: Sequence[str]) -> list[facility_pb2.Facility]:
    """Return one performing facility each of the first clients that have one."""
    found: list[facility_pb2.Facility] = []
    for client in clients:
        reply = await stub.ListFacilities(
            risk_service_pb2.ListFacilitiesRequest(parent=client, page_size=10), metadata=system)
        normal = [f for f in reply.facilities if f.category == facility_pb2.LOAN_CATEGORY_NORMAL]
        found.extend(normal[:1])
        if len(found) == len(PAST_DUE_DAYS):
            break
    return found


async def _past_due(stub: rgrpc.RiskServiceStub, system: Metadata,
                    facility: facility_pb2.Facility, days: int) -> tuple[str, str, str]:
    """Draw on a facility, report it past due; return (facility, category before, after)."""
    today = datetime.now(UTC).date()
    when = date_pb2.Date(year=today.year, month=today.month, day=today.day)
    if not facility.outstanding_amount.units:
        await stub.RecordFacilityEvent(risk_service_pb2.RecordFacilityEventRequest(
            parent=facility.name, request_id=str(uuid.uuid4()), event=facility_pb2.FacilityEvent(
                event_type=facility_pb2.FACILITY_EVENT_TYPE_DRAWDOWN, effective_date=when,
                amount=money_pb2.Money(currency_code=facility.amount.currency_code,
                                       units=max(1, facility.amount.units // 2)))),
            metadata=system)
    await stub.RecordFacilityEvent(risk_service_pb2.RecordFacilityEventRequest(
        parent=facility.name, request_id=str(uuid.uuid4()), event=facility_pb2.FacilityEvent(
            event_type=facility_pb2.FACILITY_EVENT_TYPE_PAST_DUE, effective_date=when,
            days_past_due=days, note=f"core banking: {days} days past due")), metadata=system)
    changes = await stub.ListClassificationChanges(
        risk_service_pb2.ListClassificationChangesRequest(parent=facility.name, page_size=50),
        metadata=system)
    latest = changes.changes[0] if changes.changes else None  # newest first
    before = category_name(latest.previous_category) if latest else category_name(facility.category)
    after = category_name(latest.category) if latest else category_name(facility.category)
    return facility.name, before, after


async def _override(stub: rgrpc.RiskServiceStub, identity: IdentityKit,
                    client: str) -> dict[str, str]:
    """Approver A proposes one notch down; A's own approval is refused; B approves."""
    first = identity.metadata("staff/approver-wang", Role.CREDIT_APPROVER)
    second = identity.metadata("staff/approver-li", Role.CREDIT_APPROVER)
    ratings = await stub.ListRatings(risk_service_pb2.ListRatingsRequest(parent=client,
                                                                         page_size=1),
                                     metadata=first)
    rating = ratings.ratings[0]
    lower = MASTER_SCALE[min(MASTER_SCALE.index(rating.grade) + 1, len(MASTER_SCALE) - 2)]
    proposed = await stub.ProposeRatingOverride(risk_service_pb2.ProposeRatingOverrideRequest(
        parent=client, request_id=str(uuid.uuid4()), rating_override=rating_pb2.RatingOverride(
            rating=rating.name, to_grade=lower,
            reason="main customer lost in the last quarter; not yet in the statements")),
        metadata=first)
    try:
        await stub.ApproveRatingOverride(risk_service_pb2.ApproveRatingOverrideRequest(
            name=proposed.name, request_id=str(uuid.uuid4())), metadata=first)
        refusal = "ACCEPTED (four eyes not enforced!)"
    except grpc.aio.AioRpcError as exc:
        refusal = exc.code().name
    approved = await stub.ApproveRatingOverride(risk_service_pb2.ApproveRatingOverrideRequest(
        name=proposed.name, comment="agreed", request_id=str(uuid.uuid4())), metadata=second)
    state = rating_pb2.RatingOverrideState.Name(approved.state).removeprefix(  # type: ignore[arg-type]
        "RATING_OVERRIDE_STATE_").lower()
    return {"client": client, "from": rating.grade, "to": lower, "self_approval": refusal,
            "state": state, "proposer": proposed.proposer, "approver": approved.approver}


async def run(risk: Service, identity: IdentityKit, portfolio: Sequence[PortfolioClient],
              loaded: LoadResult, *, rated_from: int = RATED_FROM) -> dict[str, object]:
    """Report concentration, evaluate a what-if, move loans, override a rating; print."""
    officer = identity.metadata("staff/risk-officer-demo", Role.RISK_OFFICER)
    system = identity.metadata("systems/core-banking", Role.SYSTEM)
    monitored = [loaded.names[p.index] for p in portfolio[FIRST_PAST_DUE_CLIENT:rated_from]]
    rated = [loaded.names[p.index] for p in portfolio[rated_from:]]
    async with grpc.aio.insecure_channel(risk.address) as channel:
        stub = rgrpc.RiskServiceStub(channel)
        report = await stub.GetConcentrationReport(
            risk_service_pb2.GetConcentrationReportRequest(top_n=10), metadata=officer)
        largest, amount, breaches = await _what_if(stub, officer, report)
        facilities = await _performing(stub, system, monitored)
        moves = [await _past_due(stub, system, f, d)
                 for f, d in zip(facilities, PAST_DUE_DAYS, strict=False)]
        override = await _override(stub, identity, await _first_rated(stub, officer, rated))
    print(f"\nConcentration: exposure {_yuan(report.total_exposure) / 1e8:,.1f} hundred "
          f"million CNY against net capital {_yuan(report.net_capital) / 1e8:,.0f}; client "
          f"HHI {report.client_hhi:.4f}; top 10 clients {report.top10_share:.1%} of exposure "
          f"({report.top10_share_of_net_capital:.1%} of net capital).")
    print(f"  what-if: a further {amount / 1e8:,.0f} hundred million CNY for {largest} "
          f"would breach: {'; '.join(breaches) or 'nothing'}.")
    print("  five-category moves: " + "; ".join(
        f"{d} days past due: {before} -> {after}"
        for (_, before, after), d in zip(moves, PAST_DUE_DAYS, strict=False)))
    print(f"  rating override {override['from']} -> {override['to']} for {override['client']}:"
          f" proposed by {override['proposer']}, self-approval {override['self_approval']}, "
          f"{override['state']} by {override['approver']}.")
    return {"client_hhi": report.client_hhi, "what_if_breaches": breaches,
            "classification_moves": [list(m) for m in moves], "override": override}


async def _first_rated(stub: rgrpc.RiskServiceStub, officer: Metadata,
                       clients: Sequence[str]) -> str:
    """Return the first client that has a rating (some young firms have no statement yet)."""
    for client in clients:
        ratings = await stub.ListRatings(
            risk_service_pb2.ListRatingsRequest(parent=client, page_size=1), metadata=officer)
        if ratings.ratings:
            return client
    raise RuntimeError("no rated client to override")
