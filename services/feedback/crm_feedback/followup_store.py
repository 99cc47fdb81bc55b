"""Follow-up plans of facilities: validation, creation, and each planned visit's outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_feedback import access
from crm_feedback.client_mirror import client_info
from crm_feedback.domain.followups import (
    ON_TIME_GRACE,
    PlannedVisit,
    VisitRecord,
    match_visits,
    plan_followups,
)
from crm_feedback.models import FacilityRow, PlannedVisitRow, VisitRow
from crm_feedback.plan_terms import PlanTerms
from crm_runtime import ownership
from crm_runtime.auth import Principal
from crm_runtime.errors import AlreadyExists, InvalidArgument, NotFound


async def create_facility(
    session: AsyncSession, facility: str, terms: PlanTerms, now: datetime
) -> tuple[FacilityRow, int]:
    """Store a facility and its planned visits; return it and how many visits were planned."""
    try:
        planned = plan_followups(
            facility_type=terms.facility_type,
            disbursed_on=terms.disbursed_on,
            maturity=terms.maturity,
            milestones=terms.milestones,
            risk_tier=terms.risk_tier,
        )
    except ValueError as exc:  # Checked at the edge already; kept as a safety net.
        raise InvalidArgument.of("followup_plan", str(exc)) from exc
    client = facility.split("/facilities/", maxsplit=1)[0]
    info = await client_info(session, client)
    row = FacilityRow(
        facility=facility,
        client=client,
        facility_type=terms.facility_type,
        risk_tier=terms.risk_tier,
        product=terms.product or terms.facility_type,
        amount=terms.amount,
        disbursed_on=terms.disbursed_on,
        maturity=terms.maturity,
        milestones=json.dumps(
            [{"name": m.name, "due": m.due.isoformat()} for m in terms.milestones],
            ensure_ascii=False,
        ),
        relationship_manager=terms.relationship_manager or info.relationship_manager,
        team=terms.team or info.team,
        create_time=now,
    )
    session.add(row)
    await session.flush()
    assert row.seq is not None
    for plan in planned:
        session.add(
            PlannedVisitRow(
                facility_seq=row.seq, due=plan.due, kind=plan.kind, reason=plan.reason,
                milestone=plan.milestone or "",
            )
        )
    return row, len(planned)


async def facility_by_name(
    session: AsyncSession, facility: str, *, for_update: bool = False
) -> FacilityRow | None:
    """Return the stored facility (and its plan) of a facility name, or None."""
    statement = select(FacilityRow).where(col(FacilityRow.facility) == facility)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def load_facility(
    session: AsyncSession, facility: str, principal: Principal, *, for_update: bool = False
) -> FacilityRow:
    """Return a facility the caller may see, or NOT_FOUND / PERMISSION_DENIED."""
    row = await facility_by_name(session, facility, for_update=for_update)
    if row is None:
        if principal.sees_whole_portfolio:
            raise NotFound(f"{facility} has no follow-up plan", reason="FOLLOWUP_PLAN_NOT_FOUND")
        raise access.denied("facility")
    if not ownership.owns(principal, row.relationship_manager, row.team):
        raise access.denied("facility")
    return row


@dataclass(frozen=True, slots=True)
class PlanState:
    """A planned visit with its outcome: open, on_time, late or overdue."""

    row: PlannedVisitRow
    state: str
    visit_id: str | None


def record_of(row: VisitRow) -> VisitRecord:
    """Return the domain record of a stored visit."""
    return VisitRecord(
        visited_on=row.visit_date,
        kind=row.kind,  # type: ignore[arg-type]
        progress_pct=row.progress_pct,
        milestone=row.milestone or None,
    )


def evaluate(
    facility: FacilityRow, plans: list[PlannedVisitRow], visits: list[VisitRow], today: date
) -> list[PlanState]:
    """Return each relevant planned visit's outcome (plans after completion drop out)."""
    relevant = [
        p for p in plans if facility.completed_on is None or p.due <= facility.completed_on
    ]
    records = [record_of(v) for v in visits]
    ids = {id(record): visit.id for record, visit in zip(records, visits, strict=True)}
    domain_plans = [
        PlannedVisit(p.due, p.kind, p.reason, p.milestone or None)  # type: ignore[arg-type]
        for p in relevant
    ]
    states: list[PlanState] = []
    for row, outcome in zip(relevant, match_visits(domain_plans, records), strict=True):
        if outcome.visit is None:
            states.append(PlanState(row, "overdue" if row.due < today else "open", None))
        else:
            on_time = outcome.visit.visited_on <= row.due + ON_TIME_GRACE
            states.append(PlanState(row, "on_time" if on_time else "late", ids[id(outcome.visit)]))
    return states


async def plan_and_visits(
    session: AsyncSession, facility: FacilityRow
) -> tuple[list[PlannedVisitRow], list[VisitRow]]:
    """Return a facility's planned visits (by due date) and visits (by date)."""
    plans = list(
        (
            await session.execute(
                select(PlannedVisitRow)
                .where(col(PlannedVisitRow.facility_seq) == facility.seq)
                .order_by(col(PlannedVisitRow.due), col(PlannedVisitRow.id))
            )
        ).scalars()
    )
    visits = list(
        (
            await session.execute(
                select(VisitRow)
                .where(col(VisitRow.facility_seq) == facility.seq)
                .order_by(col(VisitRow.visit_date), col(VisitRow.seq))
            )
        ).scalars()
    )
    return plans, visits


async def create_plan(
    session: AsyncSession, facility: str, terms: PlanTerms, principal: Principal, now: datetime
) -> tuple[FacilityRow, list[PlanState]]:
    """Store the plan of a facility that has none, for a caller who serves its client."""
    existing = await facility_by_name(session, facility)
    if existing is not None:
        if not ownership.owns(principal, existing.relationship_manager, existing.team):
            # The answer for a facility that does not exist: no existence oracle.
            raise access.denied("facility")
        raise AlreadyExists("the facility has a plan", reason="FOLLOWUP_PLAN_EXISTS")
    # Who serves the client decides, not the RM or team the terms name: otherwise an RM
    # could plan (and then record visits on) another RM's client by naming themselves.
    client = await client_info(session, facility.split("/facilities/", maxsplit=1)[0])
    if not ownership.owns(principal, client.relationship_manager, client.team):
        raise access.denied("facility")
    row, _ = await create_facility(session, facility, terms, now)
    if not ownership.owns(principal, row.relationship_manager, row.team):
        # An RM may plan only facilities of clients they serve.
        raise access.denied("facility")
    plans, visits = await plan_and_visits(session, row)
    return row, evaluate(row, plans, visits, now.date())
