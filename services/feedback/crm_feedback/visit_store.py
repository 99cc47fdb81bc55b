"""Stored visits of a facility and the overdue planned visits across facilities."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import feedback_events_pb2
from crm.feedback.v1 import followup_pb2
from crm_feedback.context import FeedbackContext
from crm_feedback.domain.followups import VisitRecord
from crm_feedback.domain.risk_signals import RiskSignal
from crm_feedback.followup_mapping import ISSUE_CODES, PRODUCTION, planned_message, visit_name
from crm_feedback.followup_store import evaluate, plan_and_visits
from crm_feedback.models import FacilityRow, VisitRow
from crm_feedback.signals import raise_signals
from crm_runtime import ownership
from crm_runtime.auth import Principal
from crm_runtime.pagination import Page, PageTokens, keyset_page


def _details(visit: followup_pb2.Visit) -> str:
    """Return the visit's free-form findings as stored JSON."""
    return json.dumps(
        {
            "issues": list(visit.issues),
            "next_steps": visit.next_steps,
            "notes": visit.notes,
            "regression_reason": visit.regression_reason,
            "production_status": PRODUCTION.get(visit.production_status, ""),
            "key_staff_departed": list(visit.key_staff_departed),
            "controller_unreachable": visit.controller_unreachable,
            "litigation_pending": visit.litigation_pending,
            "payment_overdue_days": visit.payment_overdue_days,
            "missed_milestones": list(visit.missed_milestones),
        },
        ensure_ascii=False,
    )


def store_visit(
    ctx: FeedbackContext,
    session: AsyncSession,
    facility: FacilityRow,
    visit: followup_pb2.Visit,
    *,
    record: VisitRecord,
    signals: list[RiskSignal],
    actor: str,
    now: datetime,
) -> VisitRow:
    """Store a checked visit, raise each of its risk signals and announce it (VisitRecorded)."""
    assert facility.seq is not None
    row = VisitRow(
        id=uuid.uuid4().hex,
        facility_seq=facility.seq,
        visit_date=record.visited_on,
        kind=record.kind,
        progress_pct=record.progress_pct,
        planned_progress_pct=(
            visit.planned_progress_percent if visit.HasField("planned_progress_percent") else None
        ),
        milestone=visit.milestone,
        issue_codes=",".join(ISSUE_CODES[c] for c in dict.fromkeys(visit.issue_codes)),
        details=_details(visit),
        signals=json.dumps(
            [{"code": s.code, "severity": s.severity, "evidence": s.evidence} for s in signals],
            ensure_ascii=False,
        ),
        recorded_by=actor,
        create_time=now,
    )
    session.add(row)
    day = record.visited_on
    name = visit_name(facility.facility, row.id)
    raise_signals(
        ctx, session, signals, client=facility.client, facility=facility.facility,
        source=name, occurred=datetime(day.year, day.month, day.day, tzinfo=UTC),
    )
    # Risk learns of every visit: it completes an ORANGE warning's required visit and, with
    # progress, is the verified progress project drawdowns are compared with.
    ctx.outbox.emit(
        session,
        feedback_events_pb2.VisitRecorded(
            visit=name, client=facility.client, facility=facility.facility,
            visit_date=day.isoformat(), kind=record.kind,
            has_progress=record.progress_pct is not None,
            progress_percent=record.progress_pct or 0.0, milestone=visit.milestone,
            recorded_by=actor,
        ),
        subject=facility.client,
    )
    return row


async def visit_page(
    session: AsyncSession, facility: FacilityRow, *, tokens: PageTokens, page_token: str, size: int
) -> Page[VisitRow]:
    """Return one page of a facility's visits, most recently recorded first."""
    return await keyset_page(
        session,
        select(VisitRow).where(col(VisitRow.facility_seq) == facility.seq),
        key=col(VisitRow.seq),
        tokens=tokens,
        page_token=page_token,
        size=size,
        query={"m": "ListVisits", "f": facility.facility},
        descending=True,
    )


async def overdue_followups(
    session: AsyncSession, principal: Principal, *, relationship_manager: str, today: date
) -> list[followup_pb2.OverdueFollowup]:
    """Return every overdue planned visit the caller may see, most overdue first."""
    statement = select(FacilityRow)
    if relationship_manager:
        statement = statement.where(col(FacilityRow.relationship_manager) == relationship_manager)
    clause = ownership.visible_clause(
        principal, col(FacilityRow.relationship_manager), col(FacilityRow.team)
    )
    if clause is not None:
        statement = statement.where(clause)
    found: list[followup_pb2.OverdueFollowup] = []
    facilities = (await session.execute(statement.order_by(col(FacilityRow.seq)))).scalars()
    for facility in list(facilities):
        plans, visits = await plan_and_visits(session, facility)
        found.extend(
            followup_pb2.OverdueFollowup(
                facility=facility.facility,
                client=facility.client,
                relationship_manager=facility.relationship_manager,
                team=facility.team,
                planned_visit=planned_message(facility.facility, state),
                days_overdue=(today - state.row.due).days,
            )
            for state in evaluate(facility, plans, visits, today)
            if state.state == "overdue"
        )
    found.sort(key=lambda item: (-item.days_overdue, item.facility, item.planned_visit.reason))
    return found
