"""What a post-loan visit recorded in feedback (VisitRecorded) does in risk.

A visit made after an ORANGE warning answers its required visit (the action is done). A visit
that saw construction progress on a project facility is verified progress: it is stored and
the money drawn is compared with it at once.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import event_pb2, feedback_events_pb2
from crm_risk.context import RiskContext
from crm_risk.playbook_actions.actions import visit_made
from crm_risk.projects.monitor import check_project
from crm_risk.projects.store import add_progress, facility_by_name, load_plan
from crm_runtime.logging import get_logger

log = get_logger("risk-visits")


async def apply_visit(
    session: AsyncSession, ctx: RiskContext, event: feedback_events_pb2.VisitRecorded,
    envelope: event_pb2.EventEnvelope,
) -> None:
    """Mark required visits done and record the visit's progress of a project facility."""
    try:
        visited_on = date.fromisoformat(event.visit_date)
    except ValueError:
        log.warning("visit without a valid date", visit=event.visit)
        return
    now = ctx.clock()
    actor = event.recorded_by or f"systems/{envelope.source}"
    client_id = event.client.removeprefix("clients/")
    await visit_made(session, ctx.outbox, client_id, visit=event.visit, visited_on=visited_on,
                     actor=actor, now=now)
    if not event.has_progress:
        return
    facility = await facility_by_name(session, event.facility)
    if facility is None or await load_plan(session, facility) is None:
        return  # not a project facility the risk service monitors
    add_progress(session, facility, percent=event.progress_percent, as_of=visited_on,
                 milestone=event.milestone, source=event.visit, actor=actor, now=now)
    await session.flush()
    await check_project(session, ctx, facility, now=now, actor=actor)
