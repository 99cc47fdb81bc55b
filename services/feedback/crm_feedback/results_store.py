"""The sent dispatches and their answers that survey results aggregate."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_feedback.dispatching import SCHEDULED
from crm_feedback.domain.metrics import AnswerRow as MetricRow
from crm_feedback.models import AnswerRow, DispatchRow
from crm_feedback.periods import Period, label_of
from crm_runtime import ownership
from crm_runtime.auth import Principal


@dataclass(frozen=True, slots=True)
class ResultFilter:
    """Which sent dispatches count: empty fields do not filter."""

    survey_id: str = ""
    period: Period | None = None
    relationship_manager: str = ""
    team: str = ""


async def result_rows(
    session: AsyncSession, principal: Principal, where: ResultFilter, *, granularity: str
) -> tuple[list[MetricRow], list[str]]:
    """Return one metric row per sent dispatch the caller may see, and the answers' texts."""
    statement = (
        select(DispatchRow, AnswerRow)
        .outerjoin(AnswerRow, col(AnswerRow.dispatch_id) == col(DispatchRow.id))
        .where(col(DispatchRow.state) != SCHEDULED)
    )
    if where.survey_id:
        statement = statement.where(col(DispatchRow.survey_id) == where.survey_id)
    if where.period is not None:
        statement = statement.where(
            col(DispatchRow.send_time) >= where.period.start,
            col(DispatchRow.send_time) < where.period.end,
        )
    if where.relationship_manager:
        statement = statement.where(
            col(DispatchRow.relationship_manager) == where.relationship_manager
        )
    if where.team:
        statement = statement.where(col(DispatchRow.team) == where.team)
    clause = ownership.visible_clause(
        principal, col(DispatchRow.relationship_manager), col(DispatchRow.team)
    )
    if clause is not None:
        statement = statement.where(clause)
    pairs = (await session.execute(statement.order_by(col(DispatchRow.seq)))).all()
    rows = [
        MetricRow(
            rm_id=dispatch.relationship_manager,
            team_id=dispatch.team,
            segment_ids=tuple(s for s in dispatch.segments.split(",") if s),
            product=dispatch.product,
            period=label_of(dispatch.send_time, granularity),
            nps_score=answer.nps_score if answer else None,
            csat_score=answer.csat_score if answer else None,
            dispatched=True,
            answered=answer is not None,
        )
        for dispatch, answer in pairs
    ]
    texts = [answer.free_text for _, answer in pairs if answer is not None and answer.free_text]
    return rows, texts
