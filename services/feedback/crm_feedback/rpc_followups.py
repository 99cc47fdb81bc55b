"""Loan events and follow-up plans: disbursements plan visits and schedule surveys."""

from __future__ import annotations

import grpc
from sqlalchemy import select
from sqlmodel import col

from crm.feedback.v1 import feedback_service_pb2, followup_pb2
from crm_feedback import access
from crm_feedback.context import FeedbackContext, client_info
from crm_feedback.dispatching import schedule_triggered
from crm_feedback.followup_mapping import plan_message
from crm_feedback.followup_store import (
    PlanTerms,
    check_terms,
    create_facility,
    evaluate,
    load_facility,
    plan_and_visits,
)
from crm_feedback.models import FacilityRow, LoanEventRow
from crm_feedback.rpc_surveys import SERVICE
from crm_feedback.validation import (
    FACILITY_NAME_RE,
    PLAN_NAME_RE,
    Violations,
    is_set,
    parse_name,
    to_datetime,
)
from crm_runtime import idempotency, ownership
from crm_runtime.auth import current_principal, require_roles
from crm_runtime.errors import AlreadyExists

MAX_LOAN_EVENTS = 500
KIND_NAMES = {
    followup_pb2.LOAN_EVENT_KIND_DISBURSED: "disbursed",
    followup_pb2.LOAN_EVENT_KIND_COMPLETED: "completed",
}


def _check_events(
    request: feedback_service_pb2.RecordLoanEventsRequest,
) -> dict[int, PlanTerms]:
    """Validate every event; return the plan terms of disbursements by event index."""
    v = Violations()
    if len(request.events) > MAX_LOAN_EVENTS:
        v.add("events", f"at most {MAX_LOAN_EVENTS} per call")
    terms: dict[int, PlanTerms] = {}
    for index, event in enumerate(request.events):
        path = f"events[{index}]"
        if not event.event_id or len(event.event_id) > 128:
            v.add(f"{path}.event_id", "must be 1-128 characters")
        if event.kind not in KIND_NAMES:
            v.add(f"{path}.kind", "is required")
        if not FACILITY_NAME_RE.match(event.facility):
            v.add(f"{path}.facility", "must look like clients/{client}/facilities/{facility}")
        if not is_set(event.occur_time):
            v.add(f"{path}.occur_time", "is required")
        if event.kind == followup_pb2.LOAN_EVENT_KIND_DISBURSED:
            found = check_terms(event.plan, f"{path}.plan.", v)
            if found is not None:
                terms[index] = found
    v.raise_if_any()
    return terms


class FollowupsRpc:
    """Loan events and follow-up plans."""

    ctx: FeedbackContext

    async def RecordLoanEvents(  # noqa: N802
        self,
        request: feedback_service_pb2.RecordLoanEventsRequest,
        context: grpc.aio.ServicerContext,
    ) -> feedback_service_pb2.RecordLoanEventsResponse:
        """Apply disbursements and completions once each, by event id."""
        principal = require_roles(*access.LOAN_EVENT_ROLES)
        idempotency.check_request_id(request.request_id)
        terms = _check_events(request)
        method = f"{SERVICE}/RecordLoanEvents"
        now = self.ctx.clock()
        response = feedback_service_pb2.RecordLoanEventsResponse()
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session, method=method, request=request, subject=principal.subject,
                response_type=feedback_service_pb2.RecordLoanEventsResponse,
            )
            if replay is not None:
                return replay
            seen: set[str] = set()
            for index, event in enumerate(request.events):
                known = await session.get(LoanEventRow, event.event_id)
                if event.event_id in seen or known is not None:
                    response.duplicate_count += 1
                    continue
                seen.add(event.event_id)
                occurred = to_datetime(event.occur_time)
                kind = KIND_NAMES[event.kind]
                session.add(
                    LoanEventRow(
                        event_id=event.event_id, kind=kind, facility=event.facility,
                        occur_time=occurred, receive_time=now,
                    )
                )
                facility = (
                    await session.execute(
                        select(FacilityRow).where(col(FacilityRow.facility) == event.facility)
                    )
                ).scalar_one_or_none()
                if kind == "disbursed" and facility is None:
                    facility, planned = await create_facility(
                        session, event.facility, terms[index], now
                    )
                    response.planned_visit_count += planned
                elif kind == "completed" and facility is not None:
                    facility.completed_on = occurred.date()
                    session.add(facility)
                dispatch = await schedule_triggered(
                    self.ctx, session,
                    event_type=f"loan_{kind}",
                    occurred=occurred,
                    client=event.facility.split("/facilities/")[0],
                    trigger_key=event.event_id,
                    facility=event.facility,
                    product=facility.product if facility is not None else "",
                )
                response.scheduled_survey_count += int(dispatch is not None)
                response.recorded_count += 1
            await idempotency.remember(
                session, method=method, request=request, subject=principal.subject,
                response=response,
            )
        return response

    async def CreateFollowupPlan(  # noqa: N802
        self,
        request: feedback_service_pb2.CreateFollowupPlanRequest,
        context: grpc.aio.ServicerContext,
    ) -> followup_pb2.FollowupPlan:
        """Create a facility's plan from its terms (when no disbursement event made one)."""
        principal = require_roles(*access.PLAN_ROLES)
        idempotency.check_request_id(request.request_id)
        parse_name(request.parent, FACILITY_NAME_RE, "parent")
        v = Violations()
        terms = check_terms(request.followup_plan, "followup_plan.", v)
        v.raise_if_any()
        assert terms is not None
        method = f"{SERVICE}/CreateFollowupPlan"
        now = self.ctx.clock()
        async with self.ctx.db.write() as session:
            replay = await idempotency.replay(
                session, method=method, request=request, subject=principal.subject,
                response_type=followup_pb2.FollowupPlan,
            )
            if replay is not None:
                return replay
            existing = (
                await session.execute(
                    select(FacilityRow).where(col(FacilityRow.facility) == request.parent)
                )
            ).scalar_one_or_none()
            if existing is not None:
                if not ownership.owns(principal, existing.relationship_manager, existing.team):
                    # The answer for a facility that does not exist: no existence oracle.
                    raise access.denied("facility")
                raise AlreadyExists("the facility has a plan", reason="FOLLOWUP_PLAN_EXISTS")
            # Who serves the client decides, not the RM or team the terms name: otherwise an
            # RM could plan (and then record visits on) another RM's client by naming themselves.
            client = await client_info(session, request.parent.split("/facilities/")[0])
            if not ownership.owns(principal, client.relationship_manager, client.team):
                raise access.denied("facility")
            row, _ = await create_facility(session, request.parent, terms, now)
            if not ownership.owns(principal, row.relationship_manager, row.team):
                # An RM may plan only facilities of clients they serve.
                raise access.denied("facility")
            plans, visits = await plan_and_visits(session, row)
            response = plan_message(row, evaluate(row, plans, visits, now.date()))
            await idempotency.remember(
                session, method=method, request=request, subject=principal.subject,
                response=response,
            )
            return response

    async def GetFollowupPlan(  # noqa: N802
        self,
        request: feedback_service_pb2.GetFollowupPlanRequest,
        context: grpc.aio.ServicerContext,
    ) -> followup_pb2.FollowupPlan:
        """Return a facility's plan with each planned visit's outcome as of today."""
        principal = current_principal()
        facility_name = parse_name(request.name, PLAN_NAME_RE, "name").group(1)
        async with self.ctx.db.read() as session:
            row = await load_facility(session, facility_name, principal)
            plans, visits = await plan_and_visits(session, row)
        return plan_message(row, evaluate(row, plans, visits, self.ctx.clock().date()))
