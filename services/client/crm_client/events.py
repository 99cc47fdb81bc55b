"""Events the client service consumes: ratings and warnings from the risk service."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import event_pb2, risk_events_pb2
from crm_client.context import ClientContext
from crm_client.models import ClientRow, OpenWarningRow
from crm_client.segmentation.features import normalize_grade
from crm_client.store.clients import client_by_id
from crm_runtime.inbox import EventHandler
from crm_runtime.logging import get_logger

log = get_logger("client-events")

RISK_LEVELS = ("orange", "red")
LEVEL_ORDER = {"blue": 1, "yellow": 2, "orange": 3, "red": 4}


async def _client(session: AsyncSession, name: str) -> ClientRow | None:
    row = await client_by_id(session, name.removeprefix("clients/"))
    if row is None:
        # Events may outrun or outlive clients; there is nothing to update.
        log.warning("event for unknown client", client=name)
    return row


async def _refresh_warning_state(session: AsyncSession, client: ClientRow) -> None:
    levels = list(
        (
            await session.execute(
                select(col(OpenWarningRow.level)).where(
                    col(OpenWarningRow.client_seq) == client.seq
                )
            )
        ).scalars()
    )
    worst = max(levels, key=lambda level: LEVEL_ORDER.get(level, 0), default="")
    client.warning_level = worst
    client.potential_risk = worst in RISK_LEVELS


def handlers(ctx: ClientContext) -> dict[str, EventHandler]:
    """Return the inbox handlers keyed by event type."""

    async def changed(
        session: AsyncSession,
        client: ClientRow,
        *,
        cause: str,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        """Record that risk changed the client (new etag) and recompute its segments."""
        client.version += 1
        client.update_time = ctx.clock()
        session.add(client)
        await ctx.resegment(session, client, cause=cause, actor=f"systems/{envelope.source}")

    async def rating_changed(
        session: AsyncSession,
        event: risk_events_pb2.RatingChanged,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        client = await _client(session, event.client)
        if client is None:
            return
        client.credit_grade = normalize_grade(event.grade) if event.grade else ""
        client.credit_pd = event.probability_of_default
        await changed(session, client, cause="rating_changed", envelope=envelope)

    async def warning_raised(
        session: AsyncSession,
        event: risk_events_pb2.WarningRaised,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        client = await _client(session, event.client)
        if client is None or client.seq is None:
            return
        existing = await session.get(OpenWarningRow, event.warning)
        if existing is None:
            session.add(
                OpenWarningRow(
                    warning=event.warning,
                    client_seq=client.seq,
                    level=event.level,
                    rule=event.rule,
                    raise_time=event.raise_time.ToDatetime(tzinfo=UTC),
                )
            )
        else:
            existing.level = event.level
            session.add(existing)
        await session.flush()
        await _refresh_warning_state(session, client)
        await changed(session, client, cause="warning_raised", envelope=envelope)

    async def warning_status_changed(
        session: AsyncSession,
        event: risk_events_pb2.WarningStatusChanged,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        if event.state not in ("resolved", "dismissed"):
            return
        client = await _client(session, event.client)
        if client is None:
            return
        await session.execute(
            delete(OpenWarningRow).where(col(OpenWarningRow.warning) == event.warning)
        )
        await _refresh_warning_state(session, client)
        await changed(session, client, cause="warning_closed", envelope=envelope)

    return {
        "crm.events.v1.RatingChanged": EventHandler(risk_events_pb2.RatingChanged, rating_changed),
        "crm.events.v1.WarningRaised": EventHandler(risk_events_pb2.WarningRaised, warning_raised),
        "crm.events.v1.WarningStatusChanged": EventHandler(
            risk_events_pb2.WarningStatusChanged, warning_status_changed
        ),
    }
