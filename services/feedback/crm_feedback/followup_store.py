"""Follow-up plans of facilities: validation, creation, and each planned visit's outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.feedback.v1 import followup_pb2
from crm_feedback import access
from crm_feedback.context import client_info
from crm_feedback.domain.followups import (
    ON_TIME_GRACE,
    Milestone,
    PlannedVisit,
    VisitRecord,
    match_visits,
    plan_followups,
)
from crm_feedback.models import FacilityRow, PlannedVisitRow, VisitRow
from crm_feedback.validation import STAFF_RE, TEAM_RE, Violations, money_yuan, to_date
from crm_runtime import ownership
from crm_runtime.auth import Principal
from crm_runtime.errors import InvalidArgument, NotFound

FACILITY_TYPES = {
    followup_pb2.FACILITY_TYPE_PROJECT_FINANCE: "project_finance",
    followup_pb2.FACILITY_TYPE_FIXED_ASSET: "fixed_asset",
    followup_pb2.FACILITY_TYPE_WORKING_CAPITAL: "working_capital",
}
RISK_TIERS = {
    followup_pb2.RISK_TIER_LOW: "low",
    followup_pb2.RISK_TIER_MEDIUM: "medium",
    followup_pb2.RISK_TIER_HIGH: "high",
    followup_pb2.RISK_TIER_WATCH: "watch",
}
VISIT_KINDS = {
    followup_pb2.VISIT_KIND_SITE_VISIT: "site_visit",
    followup_pb2.VISIT_KIND_PROGRESS_CHECK: "progress_check",
    followup_pb2.VISIT_KIND_MILESTONE_CHECK: "milestone_check",
}
MAX_MILESTONES = 50


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """Validated terms of a follow-up plan."""

    facility_type: str
    risk_tier: str
    disbursed_on: date
    maturity: date
    milestones: tuple[Milestone, ...]
    product: str
    amount: Decimal
    relationship_manager: str
    team: str


def check_terms(plan: followup_pb2.FollowupPlan, prefix: str, v: Violations) -> PlanTerms | None:
    """Return the plan's terms, recording every problem under `prefix` (None if any)."""
    start = len(v.items)
    facility_type = FACILITY_TYPES.get(plan.facility_type, "")
    if not facility_type:
        v.add(f"{prefix}facility_type", "is required")
    risk_tier = RISK_TIERS.get(plan.risk_tier, "")
    if not risk_tier:
        v.add(f"{prefix}risk_tier", "is required")
    disbursed = to_date(plan.disbursement_date, f"{prefix}disbursement_date", v)
    maturity = to_date(plan.maturity_date, f"{prefix}maturity_date", v)
    if disbursed and maturity and maturity <= disbursed:
        v.add(f"{prefix}maturity_date", "must be after the disbursement date")
    milestones: list[Milestone] = []
    if len(plan.milestones) > MAX_MILESTONES:
        v.add(f"{prefix}milestones", f"at most {MAX_MILESTONES}")
    for index, item in enumerate(plan.milestones):
        path = f"{prefix}milestones[{index}]"
        name = item.display_name.strip()
        if not name or len(name) > 120:
            v.add(f"{path}.display_name", "must be 1-120 characters")
        elif name in {m.name for m in milestones}:
            v.add(f"{path}.display_name", "must be unique")
        due = to_date(item.due_date, f"{path}.due_date", v)
        if due and disbursed and due <= disbursed:
            v.add(f"{path}.due_date", "must be after the disbursement date")
        if name and due:
            milestones.append(Milestone(name, due))
    if len(plan.product) > 64:
        v.add(f"{prefix}product", "must be at most 64 characters")
    amount = money_yuan(plan.amount, f"{prefix}amount", v)
    if plan.relationship_manager and not STAFF_RE.match(plan.relationship_manager):
        v.add(f"{prefix}relationship_manager", "must look like staff/{staff}")
    if plan.team and not TEAM_RE.match(plan.team):
        v.add(f"{prefix}team", "must look like teams/{team}")
    if len(v.items) > start or disbursed is None or maturity is None:
        return None
    return PlanTerms(
        facility_type, risk_tier, disbursed, maturity, tuple(milestones), plan.product,
        Decimal(str(round(amount, 2))), plan.relationship_manager, plan.team,
    )


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


async def load_facility(
    session: AsyncSession, facility: str, principal: Principal, *, for_update: bool = False
) -> FacilityRow:
    """Return a facility the caller may see, or NOT_FOUND / PERMISSION_DENIED."""
    statement = select(FacilityRow).where(col(FacilityRow.facility) == facility)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalar_one_or_none()
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
