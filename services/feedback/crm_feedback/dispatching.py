"""Creating survey dispatches, scheduling triggered ones and announcing them to notify."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import feedback_events_pb2
from crm_feedback.client_mirror import client_info
from crm_feedback.context import FeedbackContext
from crm_feedback.domain.surveys import TRIGGERS, schedule_for_event
from crm_feedback.domain.tokens import mint_token
from crm_feedback.models import DispatchRow, SurveyRow
from crm_runtime import ownership
from crm_runtime.auth import Principal
from crm_runtime.logging import get_logger
from crm_runtime.pagination import Page, PageTokens, keyset_page
from crm_runtime.wire import timestamp

log = get_logger("feedback-dispatch")

SCHEDULED, SENT, ANSWERED, EXPIRED = "scheduled", "sent", "answered", "expired"


@dataclass(frozen=True, slots=True)
class DispatchSpec:
    """What to send to whom, and when."""

    survey_id: str
    survey_version: int
    client: str
    trigger: str
    send_time: datetime
    due_time: datetime
    recipient: str = ""
    facility: str = ""
    product: str = ""
    locale: str = "zh-CN"
    channel_hint: str = ""
    trigger_key: str | None = None


def dispatch_name(row: DispatchRow) -> str:
    """Return the resource name of a dispatch."""
    return f"surveys/{row.survey_id}/dispatches/{row.id}"


def announce(ctx: FeedbackContext, session: AsyncSession, row: DispatchRow) -> None:
    """Mark a dispatch sent and emit SurveyDispatched with its one-time answer token."""
    row.state = SENT
    session.add(row)
    ctx.outbox.emit(
        session,
        feedback_events_pb2.SurveyDispatched(
            dispatch=dispatch_name(row),
            survey=f"surveys/{row.survey_id}",
            survey_version=row.survey_version,
            client=row.client,
            recipient=row.recipient,
            locale=row.locale,
            answer_token=mint_token(ctx.answer_secret, row.id, row.recipient),
            due_time=timestamp(row.due_time),
            channel_hint=row.channel_hint,
            relationship_manager=row.relationship_manager,
            trigger=row.trigger,
        ),
        subject=row.client,
    )


async def create_dispatch(
    ctx: FeedbackContext, session: AsyncSession, spec: DispatchSpec
) -> DispatchRow | None:
    """Add a dispatch (sent now if due, else scheduled); None if its trigger was seen."""
    if spec.trigger_key is not None:
        existing = (
            await session.execute(
                select(col(DispatchRow.id)).where(col(DispatchRow.trigger_key) == spec.trigger_key)
            )
        ).first()
        if existing is not None:
            return None
    info = await client_info(session, spec.client)
    now = ctx.clock()
    row = DispatchRow(
        id=uuid.uuid4().hex,
        survey_id=spec.survey_id,
        survey_version=spec.survey_version,
        client=spec.client,
        recipient=spec.recipient or spec.client,
        facility=spec.facility,
        locale=spec.locale,
        trigger=spec.trigger,
        trigger_key=spec.trigger_key,
        state=SCHEDULED,
        relationship_manager=info.relationship_manager,
        team=info.team,
        product=spec.product,
        segments=",".join(info.segments),
        channel_hint=spec.channel_hint,
        send_time=spec.send_time,
        due_time=spec.due_time,
        create_time=now,
    )
    session.add(row)
    if spec.send_time <= now:
        announce(ctx, session, row)
    return row


async def schedule_triggered(
    ctx: FeedbackContext,
    session: AsyncSession,
    *,
    event_type: str,
    occurred: datetime,
    client: str,
    trigger_key: str,
    facility: str = "",
    product: str = "",
) -> DispatchRow | None:
    """Schedule the survey an event triggers (domain TRIGGERS); None if there is none."""
    send_time = schedule_for_event(event_type, occurred)
    trigger = TRIGGERS.get(event_type)
    if send_time is None or trigger is None:
        return None
    survey = await session.get(SurveyRow, trigger.survey_id)
    if survey is None or survey.deleted:
        # The bank has not defined this survey (yet); the event itself is still applied.
        log.info("no survey defined for trigger", trigger=event_type, survey=trigger.survey_id)
        return None
    spec = DispatchSpec(
        survey_id=survey.survey_id,
        survey_version=survey.version,
        client=client,
        trigger=event_type,
        send_time=send_time,
        due_time=send_time + timedelta(days=ctx.answer_window_days),
        facility=facility,
        product=product,
        trigger_key=f"{event_type}:{trigger_key}",
    )
    return await create_dispatch(ctx, session, spec)


async def dispatch_page(
    session: AsyncSession,
    principal: Principal,
    *,
    survey_id: str,
    client: str,
    tokens: PageTokens,
    page_token: str,
    size: int,
) -> Page[DispatchRow]:
    """Return one page of a survey's dispatches the caller may see, oldest first."""
    statement = select(DispatchRow).where(col(DispatchRow.survey_id) == survey_id)
    if client:
        statement = statement.where(col(DispatchRow.client) == client)
    clause = ownership.visible_clause(
        principal, col(DispatchRow.relationship_manager), col(DispatchRow.team)
    )
    if clause is not None:
        statement = statement.where(clause)
    query = {"m": "ListSurveyDispatches", "s": survey_id, "c": client, "p": principal.subject}
    return await keyset_page(
        session, statement, key=col(DispatchRow.seq), tokens=tokens, page_token=page_token,
        size=size, query=query,
    )


async def send_now(
    ctx: FeedbackContext, session: AsyncSession, clients: list[str], template: DispatchSpec,
    *, limit: int,
) -> list[str]:
    """Send `template` to each client; return the names of the first `limit` dispatches."""
    names: list[str] = []
    for client in clients:
        row = await create_dispatch(ctx, session, replace(template, client=client))
        if row is not None and len(names) < limit:
            names.append(dispatch_name(row))
    return names
