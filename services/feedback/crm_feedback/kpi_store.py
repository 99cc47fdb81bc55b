"""Frozen KPI periods: the scorecards stored when a period was snapshotted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.feedback.v1 import kpi_pb2
from crm_feedback.kpi_inputs import subjects_with_data, team_of
from crm_feedback.models import KpiScorecardRow, KpiSnapshotRow
from crm_feedback.periods import Period
from crm_runtime.errors import AlreadyExists
from crm_runtime.wire import timestamp

# Computes one subject's scorecard for a period as of now.
Compute = Callable[[AsyncSession, str, Period], Awaitable[kpi_pb2.Scorecard]]


async def is_frozen(session: AsyncSession, period: str) -> bool:
    """Tell whether the period was snapshotted."""
    return await session.get(KpiSnapshotRow, period) is not None


async def frozen_card(session: AsyncSession, period: str, subject: str) -> kpi_pb2.Scorecard | None:
    """Return a subject's frozen scorecard of a snapshotted period, or None if it has none."""
    row = (
        await session.execute(
            select(KpiScorecardRow).where(
                col(KpiScorecardRow.period) == period, col(KpiScorecardRow.subject) == subject
            )
        )
    ).scalar_one_or_none()
    return None if row is None else kpi_pb2.Scorecard.FromString(row.body)


async def frozen_cards(
    session: AsyncSession, period: str, *, teams: bool, team: str
) -> list[kpi_pb2.Scorecard]:
    """Return the frozen RM (or team) scorecards of a period by subject, within `team`."""
    statement = select(KpiScorecardRow).where(
        col(KpiScorecardRow.period) == period,
        col(KpiScorecardRow.scope) == ("team" if teams else "rm"),
    )
    if team:
        statement = statement.where(
            col(KpiScorecardRow.subject if teams else KpiScorecardRow.team) == team
        )
    rows = (await session.execute(statement.order_by(col(KpiScorecardRow.subject)))).scalars()
    return [kpi_pb2.Scorecard.FromString(row.body) for row in rows]


async def freeze(
    session: AsyncSession, period: Period, compute: Compute, *, version: str, actor: str,
    now: datetime,
) -> kpi_pb2.KpiSnapshot:
    """Store every RM's and team's scorecard of the period as computed now, once."""
    if await is_frozen(session, period.label):
        raise AlreadyExists("the period is frozen already", reason="KPI_PERIOD_FROZEN")
    count = 0
    for teams in (False, True):
        for subject in await subjects_with_data(session, period, teams=teams, team_filter=""):
            card = await compute(session, subject, period)
            card.frozen = True
            session.add(
                KpiScorecardRow(
                    period=period.label, subject=subject, scope="team" if teams else "rm",
                    team=subject if teams else await team_of(session, subject, period),
                    body=card.SerializeToString(deterministic=True),
                )
            )
            count += 1
    session.add(
        KpiSnapshotRow(
            period=period.label, weights_version=version, scorecard_count=count,
            snapshot_by=actor, snapshot_time=now,
        )
    )
    return kpi_pb2.KpiSnapshot(
        name=f"kpiSnapshots/{period.label}", period=period.label, snapshot_time=timestamp(now),
        snapshot_by=actor, scorecard_count=count, weights_version=version,
    )
