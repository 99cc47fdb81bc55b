"""Events the feedback service consumes: who serves each client (client service) and
warnings and ratings (risk service), for KPIs and warning-resolution surveys, and the visits
warning playbooks require (risk's PlaybookActionChanged)."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import client_events_pb2, event_pb2, risk_events_pb2
from crm_feedback.client_mirror import client_info
from crm_feedback.context import FeedbackContext
from crm_feedback.dispatching import schedule_triggered
from crm_feedback.domain.kpi_sources import ack_sla, grade_move
from crm_feedback.models import (
    ClientMirrorRow,
    ClientSegmentRow,
    FacilityRow,
    RatingChangeRow,
    WarningRow,
)
from crm_feedback.playbook_visits import plan_required_visit
from crm_runtime.inbox import EventHandler
from crm_runtime.logging import get_logger

log = get_logger("feedback-events")


def _when(stamp: timestamp_pb2.Timestamp, envelope: event_pb2.EventEnvelope) -> datetime:
    """Return the event's own time, or the envelope's occurrence time when it has none."""
    chosen = stamp if stamp.seconds or stamp.nanos else envelope.occurrence_time
    return chosen.ToDatetime(tzinfo=UTC)


async def _serve(
    session: AsyncSession, client: str, relationship_manager: str, team: str, now: datetime
) -> None:
    """Record who serves a client; the client's facilities move with it."""
    row = await session.get(ClientMirrorRow, client)
    if row is None:
        row = ClientMirrorRow(client=client, update_time=now)
    row.relationship_manager, row.team, row.update_time = relationship_manager, team, now
    session.add(row)
    await session.execute(
        update(FacilityRow)
        .where(col(FacilityRow.client) == client)
        .values(relationship_manager=relationship_manager, team=team)
    )


def handlers(ctx: FeedbackContext) -> dict[str, EventHandler]:
    """Return the inbox handlers keyed by event type."""

    async def client_created(
        session: AsyncSession,
        event: client_events_pb2.ClientCreated,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        await _serve(session, event.client, event.relationship_manager, event.team, ctx.clock())

    async def client_assigned(
        session: AsyncSession,
        event: client_events_pb2.ClientAssigned,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        await _serve(session, event.client, event.relationship_manager, event.team, ctx.clock())

    async def segments_changed(
        session: AsyncSession,
        event: client_events_pb2.SegmentMembershipChanged,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        if event.left:
            await session.execute(
                delete(ClientSegmentRow).where(
                    col(ClientSegmentRow.client) == event.client,
                    col(ClientSegmentRow.segment).in_(list(event.left)),
                )
            )
        for segment in dict.fromkeys(event.joined):
            if await session.get(ClientSegmentRow, (event.client, segment)) is None:
                session.add(ClientSegmentRow(client=event.client, segment=segment))

    async def warning_raised(
        session: AsyncSession,
        event: risk_events_pb2.WarningRaised,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        raised = _when(event.raise_time, envelope)
        row = await session.get(WarningRow, event.warning)
        if row is not None:
            # A level increase keeps the original clock: the RM has known since the raise.
            row.level = event.level
            session.add(row)
            return
        info = await client_info(session, event.client)
        due = (
            event.sla_due_time.ToDatetime(tzinfo=UTC)
            if event.sla_due_time.seconds
            else raised + ack_sla(event.level)
        )
        session.add(
            WarningRow(
                warning=event.warning,
                client=event.client,
                level=event.level,
                relationship_manager=event.owner or info.relationship_manager,
                team=info.team,
                raise_time=raised,
                ack_due_time=due,
            )
        )

    async def warning_status_changed(
        session: AsyncSession,
        event: risk_events_pb2.WarningStatusChanged,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        changed = _when(event.change_time, envelope)
        row = await session.get(WarningRow, event.warning)
        if row is None:
            log.warning("status of an unknown warning", warning=event.warning)
        else:
            # Resolving implies acknowledging; the earliest time of each is kept.
            if event.state in ("acknowledged", "resolved") and row.acknowledged_time is None:
                row.acknowledged_time = changed
            if event.state in ("resolved", "dismissed") and row.resolved_time is None:
                row.resolved_time = changed
            session.add(row)
        if event.state == "resolved":
            await schedule_triggered(
                ctx, session, event_type="warning_resolved", occurred=changed,
                client=event.client, trigger_key=event.warning,
            )

    async def rating_changed(
        session: AsyncSession,
        event: risk_events_pb2.RatingChanged,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        info = await client_info(session, event.client)
        session.add(
            RatingChangeRow(
                event_id=envelope.event_id,
                client=event.client,
                grade=event.grade[:8],
                previous_grade=event.previous_grade[:8],
                move=grade_move(event.previous_grade, event.grade),
                relationship_manager=info.relationship_manager,
                team=info.team,
                effective_time=_when(event.effective_time, envelope),
            )
        )

    async def playbook_action(
        session: AsyncSession,
        event: risk_events_pb2.PlaybookActionChanged,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        await plan_required_visit(session, event, envelope)

    return {
        "crm.events.v1.PlaybookActionChanged": EventHandler(
            risk_events_pb2.PlaybookActionChanged, playbook_action
        ),
        "crm.events.v1.ClientCreated": EventHandler(
            client_events_pb2.ClientCreated, client_created
        ),
        "crm.events.v1.ClientAssigned": EventHandler(
            client_events_pb2.ClientAssigned, client_assigned
        ),
        "crm.events.v1.SegmentMembershipChanged": EventHandler(
            client_events_pb2.SegmentMembershipChanged, segments_changed
        ),
        "crm.events.v1.WarningRaised": EventHandler(risk_events_pb2.WarningRaised, warning_raised),
        "crm.events.v1.WarningStatusChanged": EventHandler(
            risk_events_pb2.WarningStatusChanged, warning_status_changed
        ),
        "crm.events.v1.RatingChanged": EventHandler(risk_events_pb2.RatingChanged, rating_changed),
    }
