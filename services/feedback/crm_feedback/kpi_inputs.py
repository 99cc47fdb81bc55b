"""Gathering one subject's KPI inputs for a period from the stored events.

A subject is an RM (staff/...) or a team (teams/...). What counts, per component:

- NPS / CSAT: answers submitted in the period to dispatches whose RM (team) at dispatch
  time is the subject;
- warnings: warnings raised in the period and owned by the subject, judged as of now;
- follow-ups: planned visits of the subject's facilities due in the period and before
  today (plans after a loan's completion drop out), matched against all visits;
- portfolio growth: outstanding amount of the subject's facilities at the end of the day
  before the period versus the end of its last day (or today, for a running period);
- grade migration: rating changes of clients in the period, attributed to the RM (team)
  the client had when the change happened;
- NPL share: not known to this service, so that component is unmeasured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_feedback.domain.followups import PlannedVisit, tally
from crm_feedback.domain.kpi import KpiInputs, WarningRecord
from crm_feedback.domain.kpi_sources import Exposure, exposure_at, resolve_sla
from crm_feedback.domain.metrics import csat, nps
from crm_feedback.followup_store import plan_and_visits, record_of
from crm_feedback.models import (
    AnswerRow,
    DispatchRow,
    FacilityRow,
    RatingChangeRow,
    WarningRow,
)
from crm_feedback.periods import Period


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose KPIs: an RM or a team, and the column each table attributes it in."""

    name: str

    @property
    def is_team(self) -> bool:
        """Tell whether the subject is a team."""
        return self.name.startswith("teams/")

    def column(self, model: Any) -> Any:
        """Return the model's RM or team column."""
        return col(model.team if self.is_team else model.relationship_manager)


async def _scores(
    session: AsyncSession, subject: Subject, period: Period
) -> tuple[list[int], list[int]]:
    rows = (
        await session.execute(
            select(col(AnswerRow.nps_score), col(AnswerRow.csat_score))
            .join(DispatchRow, col(DispatchRow.id) == col(AnswerRow.dispatch_id))
            .where(
                subject.column(DispatchRow) == subject.name,
                col(AnswerRow.submit_time) >= period.start,
                col(AnswerRow.submit_time) < period.end,
            )
        )
    ).all()
    return [n for n, _ in rows if n is not None], [c for _, c in rows if c is not None]


async def _warnings(session: AsyncSession, subject: Subject, period: Period) -> list[WarningRecord]:
    rows = (
        await session.execute(
            select(WarningRow).where(
                subject.column(WarningRow) == subject.name,
                col(WarningRow.raise_time) >= period.start,
                col(WarningRow.raise_time) < period.end,
            )
        )
    ).scalars()
    records: list[WarningRecord] = []
    for row in rows:
        raised = row.raise_time
        # A response stamped before the raise (clock skew between systems) counts as instant.
        acked = max(row.acknowledged_time, raised) if row.acknowledged_time else None
        resolved = max(row.resolved_time, raised) if row.resolved_time else None
        records.append(
            WarningRecord(
                level=row.level,
                raised_at=raised,
                acknowledged_at=acked,
                resolved_at=resolved,
                sla_ack=max(row.ack_due_time - raised, timedelta(0)),
                sla_resolve=resolve_sla(row.level),
            )
        )
    return records


async def _followups_and_exposure(
    session: AsyncSession, subject: Subject, period: Period, today: date
) -> tuple[int, int, Decimal, Decimal]:
    facilities = list(
        (
            await session.execute(
                select(FacilityRow).where(subject.column(FacilityRow) == subject.name)
            )
        ).scalars()
    )
    due = on_time = 0
    cutoff = min(period.end.date(), today)
    for facility in facilities:
        plans, visits = await plan_and_visits(session, facility)
        relevant = [
            PlannedVisit(p.due, p.kind, p.reason, p.milestone or None)  # type: ignore[arg-type]
            for p in plans
            if facility.completed_on is None or p.due <= facility.completed_on
        ]
        counted = tally(relevant, [record_of(v) for v in visits], cutoff, since=period.first_day)
        due += counted.due
        on_time += counted.on_time
    book = [Exposure(f.amount, f.disbursed_on, f.completed_on) for f in facilities]
    start = exposure_at(book, period.first_day - timedelta(days=1))
    end = exposure_at(book, min(period.last_day, today))
    return due, on_time, start, end


async def _migrations(session: AsyncSession, subject: Subject, period: Period) -> tuple[int, int]:
    moves = list(
        (
            await session.execute(
                select(col(RatingChangeRow.move)).where(
                    subject.column(RatingChangeRow) == subject.name,
                    col(RatingChangeRow.effective_time) >= period.start,
                    col(RatingChangeRow.effective_time) < period.end,
                )
            )
        ).scalars()
    )
    return sum(1 for m in moves if m > 0), sum(1 for m in moves if m < 0)


async def gather(
    session: AsyncSession, subject: Subject, period: Period, now: datetime
) -> KpiInputs:
    """Return the subject's KPI inputs for the period, as of `now`."""
    nps_scores, csat_scores = await _scores(session, subject, period)
    warnings = await _warnings(session, subject, period)
    due, on_time, start, end = await _followups_and_exposure(session, subject, period, now.date())
    upgrades, downgrades = await _migrations(session, subject, period)
    return KpiInputs(
        rm_id=subject.name,
        period=period.label,
        as_of=now,
        nps=nps(nps_scores),
        csat=csat(csat_scores),
        warnings=warnings,
        followups_planned=due,
        followups_on_time=on_time,
        exposure_start=start,
        exposure_end=end,
        grade_upgrades=upgrades,
        grade_downgrades=downgrades,
        npl_share=None,
    )


async def subjects_with_data(
    session: AsyncSession, period: Period, *, teams: bool, team_filter: str
) -> list[str]:
    """Return every RM (or team) with data in the period, sorted."""
    found: set[str] = set()
    sources: list[tuple[Any, Any]] = [
        (DispatchRow, (col(DispatchRow.answer_time) >= period.start)
         & (col(DispatchRow.answer_time) < period.end)),
        (WarningRow, (col(WarningRow.raise_time) >= period.start)
         & (col(WarningRow.raise_time) < period.end)),
        (RatingChangeRow, (col(RatingChangeRow.effective_time) >= period.start)
         & (col(RatingChangeRow.effective_time) < period.end)),
        (FacilityRow, col(FacilityRow.disbursed_on) < period.end.date()),
    ]
    for model, condition in sources:
        column = col(model.team) if teams else col(model.relationship_manager)
        statement = select(column).where(condition).distinct()
        if team_filter:
            statement = statement.where(col(model.team) == team_filter)
        found.update(v for v in (await session.execute(statement)).scalars() if v)
    return sorted(found)


async def team_of(session: AsyncSession, rm: str, period: Period) -> str:
    """Return the team an RM's data in the period names (the first, sorted), or empty."""
    teams: set[str] = set()
    for model in (DispatchRow, WarningRow, RatingChangeRow, FacilityRow):
        statement = (
            select(col(model.team)).where(col(model.relationship_manager) == rm).distinct()
        )
        teams.update(t for t in (await session.execute(statement)).scalars() if t)
    return min(teams, default="")
