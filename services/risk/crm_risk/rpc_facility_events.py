"""Facility event RPCs: drawdowns, repayments, past-due updates, classification reviews."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.risk.v1 import facility_pb2, risk_service_pb2
from crm_risk import access
from crm_risk.context import RiskContext
from crm_risk.groups.contagion import Contagion, after_reclassification
from crm_risk.mapping import EVENT_TYPES, change_message, event_message, facility_message
from crm_risk.models import ClassificationChangeRow, FacilityEventRow, FacilityRow
from crm_risk.playbook_actions.actions import LimitFrozen, check_not_frozen, record_refusal
from crm_risk.projects.monitor import check_project
from crm_risk.reclassify import reclassify_client
from crm_risk.store.facilities import guarantees_of, history_page, load_facility
from crm_risk.validation import Violations, check_date, check_money
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import FailedPrecondition
from crm_runtime.pagination import page_size

MAX_DPD = 20_000
E = "event"


def _check_event(
    event: facility_pb2.FacilityEvent, currency: str
) -> tuple[Decimal | None, date]:
    """Validate an event against its type; return its amount (None if none) and date."""
    v = Violations()
    kind = EVENT_TYPES.get(event.event_type)
    if kind is None:
        v.add(f"{E}.event_type", "is required")
    moves_money = kind in ("drawdown", "repayment")
    amount = check_money(v, f"{E}.amount", event.amount, required=moves_money,
                         currencies=frozenset({currency}), positive=True)
    if not moves_money and amount is not None:
        v.add(f"{E}.amount", f"must be unset for a {kind} event")
    if kind == "past_due" and not 0 <= event.days_past_due <= MAX_DPD:
        v.add(f"{E}.days_past_due", f"must be 0 to {MAX_DPD}")
    if kind != "past_due" and (event.days_past_due or event.technical_delay):
        v.add(f"{E}.days_past_due", "is only for past_due events")
    effective = check_date(v, f"{E}.effective_date", event.effective_date, required=True)
    v.text(f"{E}.note", event.note, required=False)
    v.raise_if_any()
    assert effective is not None
    return amount, effective


def _apply(row: FacilityRow, kind: str, amount: Decimal | None,
           event: facility_pb2.FacilityEvent) -> None:
    """Apply an event to the facility's balances and facts, or raise FAILED_PRECONDITION."""
    if kind == "drawdown":
        assert amount is not None
        if row.drawn + amount > row.amount:
            raise FailedPrecondition(
                "the drawdown would exceed the committed amount",
                reason="DRAWDOWN_EXCEEDS_COMMITMENT",
            )
        row.drawn += amount
    elif kind == "repayment":
        assert amount is not None
        if amount > row.drawn - row.repaid:
            raise FailedPrecondition(
                "the repayment exceeds the outstanding amount",
                reason="REPAYMENT_EXCEEDS_OUTSTANDING",
            )
        row.repaid += amount
    elif kind == "past_due":
        row.days_past_due = event.days_past_due
        row.technical_delay = event.technical_delay
    else:
        row.restructured = True


class FacilityEventsRpc:
    """Facility events, judgement facts and classification history."""

    ctx: RiskContext

    async def RecordFacilityEvent(  # noqa: N802
        self,
        request: risk_service_pb2.RecordFacilityEventRequest,
        context: grpc.aio.ServicerContext,
    ) -> facility_pb2.FacilityEvent:
        """Record an event, update balances and facts, and reclassify the client's facilities."""
        principal = require_roles(*access.FACILITY_ROLES)
        ids = names.parse(request, "parent")
        now = self.ctx.clock()

        async def record(session: AsyncSession) -> facility_pb2.FacilityEvent:
            row = await load_facility(session, ids, principal, for_update=True)
            amount, effective = _check_event(request.event, row.currency)
            kind = EVENT_TYPES[request.event.event_type]
            if kind == "drawdown":
                assert amount is not None
                await check_not_frozen(session, row, amount)  # RED playbook: limits frozen
            _apply(row, kind, amount, request.event)
            row.version += 1
            row.update_time = now
            session.add(row)
            assert row.seq is not None
            event = FacilityEventRow(
                id=uuid.uuid4().hex, facility_seq=row.seq, event_type=kind, amount=amount,
                effective_date=effective, days_past_due=request.event.days_past_due,
                technical_delay=request.event.technical_delay, note=request.event.note,
                recorded_by=principal.subject, create_time=now,
            )
            session.add(event)
            changes = await reclassify_client(session, row.client_id, cause=kind,
                                              actor=principal.subject, now=now)
            await after_reclassification(session, self.ctx.outbox, row.client_id, changes,
                                         now=now, contagion=Contagion.of(self.ctx.settings))
            if kind == "drawdown":
                await check_project(session, self.ctx, row, now=now, actor=principal.subject)
            return event_message(event, row)

        try:
            response = await idempotency.mutation(
                self.ctx.db, request, method="crm.risk.v1.RiskService/RecordFacilityEvent",
                subject=principal.subject, response_type=facility_pb2.FacilityEvent, work=record,
            )
        except LimitFrozen as frozen:
            # The drawdown rolled back; its refusal is kept (and audited) on its own.
            async with self.ctx.db.write() as session:
                await record_refusal(session, self.ctx.outbox, frozen, actor=principal.subject,
                                     now=now)
            raise frozen.error() from None
        self.ctx.review_wakeup.set()
        return response

    async def ListFacilityEvents(  # noqa: N802
        self,
        request: risk_service_pb2.ListFacilityEventsRequest,
        context: grpc.aio.ServicerContext,
    ) -> risk_service_pb2.ListFacilityEventsResponse:
        """Return a page of a facility's events, newest first."""
        ids = names.parse(request, "parent")
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            facility = await load_facility(session, ids, current_principal())
            page = await history_page(
                session, FacilityEventRow, facility, tokens=self.ctx.tokens,
                page_token=request.page_token, size=size,
                query={"m": "ListFacilityEvents", "f": request.parent},
            )
        return risk_service_pb2.ListFacilityEventsResponse(
            events=[event_message(r, facility) for r in page.rows],
            next_page_token=page.next_page_token,
        )

    async def ReviewClassification(  # noqa: N802
        self,
        request: risk_service_pb2.ReviewClassificationRequest,
        context: grpc.aio.ServicerContext,
    ) -> facility_pb2.Facility:
        """Record judgement facts of a facility and reclassify the client's facilities."""
        principal = require_roles(*access.FACILITY_ROLES)
        ids = names.parse(request, "name")
        v = Violations()
        for name in ("ecl_ratio", "share_of_debt_over_90dpd_all_banks"):
            if not 0.0 <= getattr(request, name) <= 1.0:
                v.add(name, "must be a fraction between 0 and 1")
        v.text("reason", request.reason, required=True)
        v.raise_if_any()
        now = self.ctx.clock()

        async def review(session: AsyncSession) -> facility_pb2.Facility:
            row = await load_facility(session, ids, principal, for_update=True)
            row.credit_impaired = request.credit_impaired
            row.ecl_ratio = request.ecl_ratio
            row.evades_debt = request.evades_debt
            row.external_rating_cut = request.external_rating_sharply_cut
            row.new_loan_repays_old = request.new_loan_repays_old
            row.borrower_finances_normal = request.borrower_finances_normal
            row.share_90dpd_all_banks = request.share_of_debt_over_90dpd_all_banks
            row.restructure_observation_failed = request.restructure_observation_failed
            row.version += 1
            row.update_time = now
            session.add(row)
            changes = await reclassify_client(session, row.client_id,
                                              cause=f"review: {request.reason}"[:64],
                                              actor=principal.subject, now=now)
            await after_reclassification(session, self.ctx.outbox, row.client_id, changes,
                                         now=now, contagion=Contagion.of(self.ctx.settings))
            return facility_message(row, await guarantees_of(session, row.seq))

        response = await idempotency.mutation(
            self.ctx.db, request, method="crm.risk.v1.RiskService/ReviewClassification",
            subject=principal.subject, response_type=facility_pb2.Facility, work=review,
        )
        self.ctx.review_wakeup.set()
        return response

    async def ListClassificationChanges(  # noqa: N802
        self,
        request: risk_service_pb2.ListClassificationChangesRequest,
        context: grpc.aio.ServicerContext,
    ) -> risk_service_pb2.ListClassificationChangesResponse:
        """Return a page of a facility's classification changes, newest first."""
        ids = names.parse(request, "parent")
        size = page_size(request.page_size)
        async with self.ctx.db.read() as session:
            facility = await load_facility(session, ids, current_principal())
            page = await history_page(
                session, ClassificationChangeRow, facility, tokens=self.ctx.tokens,
                page_token=request.page_token, size=size,
                query={"m": "ListClassificationChanges", "f": request.parent},
            )
        return risk_service_pb2.ListClassificationChangesResponse(
            changes=[change_message(r, facility) for r in page.rows],
            next_page_token=page.next_page_token,
        )
