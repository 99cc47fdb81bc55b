"""Loan events from core banking: each applied once by its id, planning and surveying."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm.feedback.v1 import feedback_service_pb2, followup_pb2
from crm_feedback.context import FeedbackContext
from crm_feedback.dispatching import schedule_triggered
from crm_feedback.followup_store import create_facility, facility_by_name
from crm_feedback.models import LoanEventRow
from crm_feedback.plan_terms import PlanTerms
from crm_feedback.validation import to_datetime

KIND_NAMES = {
    followup_pb2.LOAN_EVENT_KIND_DISBURSED: "disbursed",
    followup_pb2.LOAN_EVENT_KIND_COMPLETED: "completed",
}


async def record_loan_events(
    ctx: FeedbackContext,
    session: AsyncSession,
    events: Sequence[followup_pb2.LoanEvent],
    terms: Mapping[int, PlanTerms],
    now: datetime,
) -> feedback_service_pb2.RecordLoanEventsResponse:
    """Apply each new event: a disbursement plans its facility, a completion closes it, and
    either may schedule the survey it triggers. Events seen before are counted, not applied."""
    response = feedback_service_pb2.RecordLoanEventsResponse()
    seen: set[str] = set()
    for index, event in enumerate(events):
        if event.event_id in seen or await session.get(LoanEventRow, event.event_id) is not None:
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
        facility = await facility_by_name(session, event.facility)
        if kind == "disbursed" and facility is None:
            facility, planned = await create_facility(session, event.facility, terms[index], now)
            response.planned_visit_count += planned
        elif kind == "completed" and facility is not None:
            facility.completed_on = occurred.date()
            session.add(facility)
        dispatch = await schedule_triggered(
            ctx, session,
            event_type=f"loan_{kind}",
            occurred=occurred,
            client=event.facility.split("/facilities/")[0],
            trigger_key=event.event_id,
            facility=event.facility,
            product=facility.product if facility is not None else "",
        )
        response.scheduled_survey_count += int(dispatch is not None)
        response.recorded_count += 1
    return response
