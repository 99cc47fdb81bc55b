"""The ORANGE playbook's visit, as a follow-up task: risk's PlaybookActionChanged
(visit_required) becomes a planned site visit due by the warning's SLA, on the facility the
warning names or, when it names none, on each of the client's facilities under follow-up.
The RM sees it among the planned visits (overdue ones are flagged like any other), and the
visit the RM records answers it; risk learns of that visit through VisitRecorded."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import event_pb2, risk_events_pb2
from crm_feedback.models import FacilityRow, PlannedVisitRow
from crm_runtime.logging import get_logger

log = get_logger("feedback-playbook-visits")
REASON_PREFIX = "warning playbook: visit required by"


async def plan_required_visit(
    session: AsyncSession, event: risk_events_pb2.PlaybookActionChanged,
    envelope: event_pb2.EventEnvelope,
) -> int:
    """Plan the required visit on the warning's facilities; return how many were planned."""
    if event.kind != "visit_required" or event.step != "visit_required":
        return 0
    chosen = envelope.occurrence_time if not event.due_time.seconds else event.due_time
    due = chosen.ToDatetime(tzinfo=UTC).date()
    statement = select(FacilityRow).where(col(FacilityRow.client) == event.client)
    if event.facility:
        statement = statement.where(col(FacilityRow.facility) == event.facility)
    facilities = list((await session.execute(statement.order_by(col(FacilityRow.seq)))).scalars())
    if not facilities:
        log.warning("visit required for a client without facilities under follow-up",
                    client=event.client, action=event.action)
    reason = f"{REASON_PREFIX} {event.warning or event.action}"[:300]
    for facility in facilities:
        assert facility.seq is not None
        session.add(PlannedVisitRow(facility_seq=facility.seq, due=due, kind="site_visit",
                                    reason=reason))
    return len(facilities)
