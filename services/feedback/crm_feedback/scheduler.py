"""Background work: send scheduled surveys, expire unanswered ones, flag overdue follow-ups.

Each pass is idempotent (state moves forward once; a planned visit is flagged once), so
replicas running it concurrently or a pass repeated after a crash cause no second event:
the state change and its event commit in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import col

from crm.events.v1 import feedback_events_pb2
from crm_feedback.context import FeedbackContext
from crm_feedback.dispatching import EXPIRED, SCHEDULED, SENT, announce
from crm_feedback.followup_store import evaluate, plan_and_visits
from crm_feedback.models import DispatchRow, FacilityRow, SurveyRow
from crm_runtime.logging import get_logger
from crm_runtime.server import BackgroundTask

log = get_logger("feedback-scheduler")

BATCH = 200


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one scheduler pass did."""

    sent: int
    expired: int
    flagged: int


async def send_due(ctx: FeedbackContext, now: datetime) -> int:
    """Send scheduled dispatches whose time has come, at the survey's current version."""
    sent = 0
    while True:
        async with ctx.db.write() as session:
            rows = list(
                (
                    await session.execute(
                        select(DispatchRow)
                        .where(
                            col(DispatchRow.state) == SCHEDULED, col(DispatchRow.send_time) <= now
                        )
                        .order_by(col(DispatchRow.seq))
                        .limit(BATCH)
                        .with_for_update(skip_locked=True)
                    )
                ).scalars()
            )
            for row in rows:
                survey = await session.get(SurveyRow, row.survey_id)
                if survey is None or survey.deleted:
                    row.state = EXPIRED
                    session.add(row)
                    continue
                row.survey_version = survey.version
                announce(ctx, session, row)
                sent += 1
        if len(rows) < BATCH:
            return sent


async def expire_unanswered(ctx: FeedbackContext, now: datetime) -> int:
    """Mark sent dispatches past their due time as expired."""
    async with ctx.db.write() as session:
        result = await session.execute(
            update(DispatchRow)
            .where(col(DispatchRow.state) == SENT, col(DispatchRow.due_time) < now)
            .values(state=EXPIRED)
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def flag_overdue(ctx: FeedbackContext, now: datetime) -> int:
    """Flag each newly overdue planned visit once and tell notify (FollowupOverdue)."""
    flagged = 0
    after = 0
    today = now.date()
    while True:
        async with ctx.db.write() as session:
            facilities = list(
                (
                    await session.execute(
                        select(FacilityRow)
                        .where(col(FacilityRow.seq) > after)
                        .order_by(col(FacilityRow.seq))
                        .limit(BATCH)
                    )
                ).scalars()
            )
            for facility in facilities:
                plans, visits = await plan_and_visits(session, facility)
                for state in evaluate(facility, plans, visits, today):
                    if state.state != "overdue" or state.row.overdue_flag_time is not None:
                        continue
                    state.row.overdue_flag_time = now
                    session.add(state.row)
                    ctx.outbox.emit(
                        session,
                        feedback_events_pb2.FollowupOverdue(
                            facility=facility.facility,
                            client=facility.client,
                            relationship_manager=facility.relationship_manager,
                            team=facility.team,
                            kind=state.row.kind,
                            reason=state.row.reason,
                            due_date=state.row.due.isoformat(),
                            days_overdue=(today - state.row.due).days,
                        ),
                        subject=facility.client,
                    )
                    flagged += 1
        if len(facilities) < BATCH:
            return flagged
        after = facilities[-1].seq or after


async def run_once(ctx: FeedbackContext) -> PassResult:
    """Run one pass of every job at the context's current time."""
    now = ctx.clock()
    return PassResult(
        sent=await send_due(ctx, now),
        expired=await expire_unanswered(ctx, now),
        flagged=await flag_overdue(ctx, now),
    )


def scheduler(ctx: FeedbackContext, interval: float) -> BackgroundTask:
    """Return a background loop running `run_once` every `interval` until `ctx.stopping`."""

    async def run() -> None:
        while not ctx.stopping.is_set():
            try:
                result = await run_once(ctx)
                if result.sent or result.expired or result.flagged:
                    log.info("scheduler pass", sent=result.sent, expired=result.expired,
                             flagged=result.flagged)
            except Exception as exc:  # A bad pass must not kill the loop.
                log.error("scheduler pass failed", exc_info=exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ctx.stopping.wait(), timeout=interval)

    return run
