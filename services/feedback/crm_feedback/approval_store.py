"""Approval-stage events in the store: deduplicated ingest and timeline reconstruction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_feedback.domain.approvals import CaseTimeline, StageEvent, reconstruct_cases
from crm_feedback.models import ApprovalCaseRow, StageEventRow
from crm_feedback.periods import Period


def _insert(session: AsyncSession, model: type[object]) -> object:
    """Return an INSERT for the session's dialect that can skip existing keys."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


async def store_events(
    session: AsyncSession, events: Sequence[StageEvent], now: datetime
) -> int:
    """Store events whose id is new (ON CONFLICT DO NOTHING); return how many were new."""
    unique = {event.event_id: event for event in events}
    existing = set(
        (
            await session.execute(
                select(col(StageEventRow.event_id)).where(
                    col(StageEventRow.event_id).in_(list(unique))
                )
            )
        ).scalars()
    )
    fresh = [event for event_id, event in unique.items() if event_id not in existing]
    if not fresh:
        return 0
    # The conflict clause covers a concurrent batch with the same ids (PostgreSQL).
    statement = _insert(session, StageEventRow).on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["event_id"]
    )
    await session.execute(
        statement,
        [
            {
                "event_id": e.event_id, "case_id": e.case_id, "branch": e.branch,
                "product": e.product, "stage": e.stage, "kind": e.kind, "event_time": e.at,
                "actor": e.actor, "receive_time": now,
            }
            for e in fresh
        ],
    )
    await _update_cases(session, fresh)
    return len(fresh)


async def _update_cases(session: AsyncSession, events: Sequence[StageEvent]) -> None:
    """Keep each case's earliest event (its start, branch and product) up to date."""
    earliest: dict[str, StageEvent] = {}
    for event in events:
        kept = earliest.get(event.case_id)
        if kept is None or (event.at, event.event_id) < (kept.at, kept.event_id):
            earliest[event.case_id] = event
    statement = _insert(session, ApprovalCaseRow).on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["case_id"]
    )
    await session.execute(
        statement,
        [
            {"case_id": e.case_id, "branch": e.branch, "product": e.product, "start_time": e.at}
            for e in earliest.values()
        ],
    )
    rows = (
        await session.execute(
            select(ApprovalCaseRow)
            .where(col(ApprovalCaseRow.case_id).in_(list(earliest)))
            .with_for_update()
        )
    ).scalars()
    for row in rows:
        event = earliest[row.case_id]
        if event.at < row.start_time:
            row.start_time, row.branch, row.product = event.at, event.branch, event.product
            session.add(row)


@dataclass(frozen=True, slots=True)
class Cases:
    """Reconstructed timelines and when each case started."""

    timelines: dict[str, CaseTimeline]
    starts: dict[str, datetime]


async def load_cases(
    session: AsyncSession, *, period: Period | None, branch: str, product: str
) -> Cases:
    """Return the timelines of cases that started in `period` (all if None), filtered."""
    statement = select(StageEventRow, col(ApprovalCaseRow.start_time)).join(
        ApprovalCaseRow, col(ApprovalCaseRow.case_id) == col(StageEventRow.case_id)
    )
    if period is not None:
        statement = statement.where(
            col(ApprovalCaseRow.start_time) >= period.start,
            col(ApprovalCaseRow.start_time) < period.end,
        )
    if branch:
        statement = statement.where(col(ApprovalCaseRow.branch) == branch)
    if product:
        statement = statement.where(col(ApprovalCaseRow.product) == product)
    events: list[StageEvent] = []
    starts: dict[str, datetime] = {}
    for row, start in (await session.execute(statement)).all():
        starts[row.case_id] = start
        events.append(
            StageEvent(
                row.event_id, row.case_id, row.branch, row.product, row.stage,  # type: ignore[arg-type]
                row.kind, row.event_time, row.actor,  # type: ignore[arg-type]
            )
        )
    return Cases(reconstruct_cases(events), starts)
