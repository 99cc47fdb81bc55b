"""Stored project plans and verified progress of project facilities."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.models import FacilityRow
from crm_risk.models_monitoring import WarningRow
from crm_risk.models_projects import ProjectPlanRow, ProjectProgressRow
from crm_risk.projects.compare import CurvePoint, Progress


def curve_of(plan: ProjectPlanRow) -> list[CurvePoint]:
    """Return the plan's curve as (date, percent) points."""
    return [(date.fromisoformat(day), float(pct)) for day, pct in json.loads(plan.curve_json)]


async def load_plan(session: AsyncSession, facility: FacilityRow) -> ProjectPlanRow | None:
    """Return the facility's project plan, if it has one."""
    return await session.get(ProjectPlanRow, facility.seq)


async def set_plan(
    session: AsyncSession, facility: FacilityRow, *, budget: Decimal,
    curve: Sequence[CurvePoint], margin: float, actor: str, now: datetime,
) -> ProjectPlanRow:
    """Create or replace the facility's plan."""
    assert facility.seq is not None
    row = await load_plan(session, facility) or ProjectPlanRow(
        facility_seq=facility.seq, budget=budget, curve_json="[]", updated_by=actor,
        update_time=now,
    )
    row.budget, row.margin_points, row.updated_by, row.update_time = budget, margin, actor, now
    row.curve_json = json.dumps([[d.isoformat(), pct] for d, pct in curve])
    session.add(row)
    return row


def add_progress(
    session: AsyncSession, facility: FacilityRow, *, percent: float, as_of: date,
    milestone: str, source: str, actor: str, now: datetime,
) -> None:
    """Store one verified observation of progress."""
    assert facility.seq is not None
    session.add(ProjectProgressRow(
        facility_seq=facility.seq, percent=percent, as_of=as_of, milestone=milestone[:120],
        source=source[:200], recorded_by=actor[:128], record_time=now,
    ))


async def latest_progress(session: AsyncSession, facility: FacilityRow) -> Progress | None:
    """Return the most recent verified progress (by observation date, then recording)."""
    row = (await session.execute(
        select(ProjectProgressRow)
        .where(col(ProjectProgressRow.facility_seq) == facility.seq)
        .order_by(col(ProjectProgressRow.as_of).desc(), col(ProjectProgressRow.seq).desc())
    )).scalars().first()
    return Progress(row.percent, row.as_of) if row is not None else None


async def open_gap_warning(session: AsyncSession, facility: FacilityRow, rule: str) -> str:
    """Return the id of the facility's open warning of `rule`, or ""."""
    row = (await session.execute(
        select(col(WarningRow.id)).where(
            col(WarningRow.client_id) == facility.client_id,
            col(WarningRow.facility_id) == facility.id, col(WarningRow.rule) == rule,
            col(WarningRow.open_key).is_not(None),
        )
    )).first()
    return str(row[0]) if row is not None else ""


async def facility_by_name(session: AsyncSession, name: str) -> FacilityRow | None:
    """Return the facility a feedback resource name points at, if the risk service has it."""
    parts = name.split("/")
    if len(parts) != 4:
        return None
    return (await session.execute(
        select(FacilityRow).where(col(FacilityRow.client_id) == parts[1],
                                  col(FacilityRow.id) == parts[3])
    )).scalars().first()
