"""Loan events and follow-up plans: disbursements plan visits and schedule surveys."""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from crm.feedback.v1 import feedback_service_pb2, followup_pb2
from crm_feedback import access
from crm_feedback.context import SERVICE, FeedbackContext
from crm_feedback.followup_mapping import plan_message
from crm_feedback.followup_store import create_plan, evaluate, load_facility, plan_and_visits
from crm_feedback.loan_events import KIND_NAMES, record_loan_events
from crm_feedback.plan_terms import PlanTerms, check_terms
from crm_feedback.validation import FACILITY, Violations, is_set
from crm_runtime import idempotency, names
from crm_runtime.auth import current_principal, require_roles

MAX_LOAN_EVENTS = 500


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
        if not FACILITY.regex.fullmatch(event.facility):
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
        terms = _check_events(request)
        now = self.ctx.clock()

        async def record(session: AsyncSession) -> feedback_service_pb2.RecordLoanEventsResponse:
            return await record_loan_events(self.ctx, session, request.events, terms, now)

        return await idempotency.mutation(
            self.ctx.db, request, method=f"{SERVICE}/RecordLoanEvents", subject=principal.subject,
            response_type=feedback_service_pb2.RecordLoanEventsResponse, work=record,
        )

    async def CreateFollowupPlan(  # noqa: N802
        self,
        request: feedback_service_pb2.CreateFollowupPlanRequest,
        context: grpc.aio.ServicerContext,
    ) -> followup_pb2.FollowupPlan:
        """Create a facility's plan from its terms (when no disbursement event made one)."""
        principal = require_roles(*access.PLAN_ROLES)
        names.parse(request, "parent")
        v = Violations()
        terms = check_terms(request.followup_plan, "followup_plan.", v)
        v.raise_if_any()
        assert terms is not None
        now = self.ctx.clock()

        async def create(session: AsyncSession) -> followup_pb2.FollowupPlan:
            row, states = await create_plan(session, request.parent, terms, principal, now)
            return plan_message(row, states)

        return await idempotency.mutation(
            self.ctx.db, request, method=f"{SERVICE}/CreateFollowupPlan",
            subject=principal.subject, response_type=followup_pb2.FollowupPlan, work=create,
        )

    async def GetFollowupPlan(  # noqa: N802
        self,
        request: feedback_service_pb2.GetFollowupPlanRequest,
        context: grpc.aio.ServicerContext,
    ) -> followup_pb2.FollowupPlan:
        """Return a facility's plan with each planned visit's outcome as of today."""
        principal = current_principal()
        facility_name = FACILITY.format(**names.parse(request, "name"))
        async with self.ctx.db.read() as session:
            row = await load_facility(session, facility_name, principal)
            plans, visits = await plan_and_visits(session, row)
        return plan_message(row, evaluate(row, plans, visits, self.ctx.clock().date()))
