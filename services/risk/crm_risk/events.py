"""Events the risk service consumes.

From the client service: client facts and assignments (industry, region and group feed ratings
and concentration; the relationship manager owns the client's warnings). From the feedback
service: risk signals found in survey answers and post-loan visits (project delayed, payment
difficulty, key staff gone, ...), which become external warnings like any other signal, and the
visits themselves (VisitRecorded: required visits done, verified project progress).
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.events.v1 import client_events_pb2, event_pb2, feedback_events_pb2
from crm_risk.concentration.totals import move_client, placement
from crm_risk.context import RiskContext
from crm_risk.early_warnings import Signal, raise_signal
from crm_risk.groups import events as group_events
from crm_risk.groups.contagion import Contagion
from crm_risk.models import ClientFactRow
from crm_risk.models_monitoring import WarningRow
from crm_risk.visit_events import apply_visit
from crm_runtime.inbox import EventHandler

# Feedback grades its findings low / medium / high; DOMAIN §7 levels for what they signal.
FEEDBACK_SEVERITY_LEVELS = {"low": "blue", "medium": "yellow", "high": "orange"}
FEEDBACK_RULE_VERSION = "FB-2026.1"


async def _fact(session: AsyncSession, client: str, ctx: RiskContext) -> ClientFactRow:
    client_id = client.removeprefix("clients/")
    row = await session.get(ClientFactRow, client_id)
    if row is None:
        row = ClientFactRow(client_id=client_id, update_time=ctx.clock())
        session.add(row)
    return row


async def _give_open_warnings(
    session: AsyncSession, client_id: str, owner: str, *, only_unowned: bool
) -> None:
    """Make `owner` the owner of the client's open warnings (all, or those without one)."""
    statement = (
        update(WarningRow)
        .where(col(WarningRow.client_id) == client_id, col(WarningRow.open_key).is_not(None))
        .values(owner=owner)
    )
    if only_unowned:
        statement = statement.where(col(WarningRow.owner) == "")
    await session.execute(statement)


def handlers(ctx: RiskContext) -> dict[str, EventHandler]:
    """Return the inbox handlers keyed by event type."""

    async def client_created(
        session: AsyncSession,
        event: client_events_pb2.ClientCreated,
        _envelope: event_pb2.EventEnvelope,
    ) -> None:
        row = await _fact(session, event.client, ctx)
        before = placement(row)
        row.display_name = event.display_name[:200]
        row.industry_code = event.industry_code
        row.region_code = event.region_code
        row.group_name = event.group
        await move_client(session, row.client_id, before, placement(row))
        row.size_class = event.size_class
        row.relationship_manager = event.relationship_manager
        row.team = event.team
        row.update_time = ctx.clock()
        await session.flush()
        await _give_open_warnings(
            session, row.client_id, event.relationship_manager, only_unowned=True
        )

    async def client_updated(
        session: AsyncSession,
        event: client_events_pb2.ClientUpdated,
        _envelope: event_pb2.EventEnvelope,
    ) -> None:
        row = await _fact(session, event.client, ctx)
        before = placement(row)
        row.industry_code = event.industry_code or row.industry_code
        row.region_code = event.region_code or row.region_code
        row.group_name = event.group
        await move_client(session, row.client_id, before, placement(row))
        row.size_class = event.size_class or row.size_class
        row.update_time = ctx.clock()
        ctx.monitoring().invalidate(row.client_id)  # its group may have changed

    async def client_assigned(
        session: AsyncSession,
        event: client_events_pb2.ClientAssigned,
        _envelope: event_pb2.EventEnvelope,
    ) -> None:
        row = await _fact(session, event.client, ctx)
        row.relationship_manager = event.relationship_manager
        row.team = event.team
        row.update_time = ctx.clock()
        await session.flush()
        await _give_open_warnings(
            session, row.client_id, event.relationship_manager, only_unowned=False
        )

    async def feedback_signal(
        session: AsyncSession,
        event: feedback_events_pb2.ExternalSignalRaised,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        client_id = event.client.removeprefix("clients/")
        await _fact(session, event.client, ctx)  # A signal may outrun the client's own event.
        await session.flush()
        now = ctx.clock()
        occurred = (
            event.occurred_time.ToDatetime(UTC) if event.HasField("occurred_time") else now
        )
        code = event.code.lower() or "unspecified"
        await raise_signal(
            session,
            ctx.outbox,
            Signal(
                client_id=client_id,
                rule=f"feedback_{code}",
                source="external",
                level=FEEDBACK_SEVERITY_LEVELS.get(event.severity, "yellow"),
                scope="",
                message=f"{event.code} reported by {event.source or 'feedback'}"[:500],
                rule_version=FEEDBACK_RULE_VERSION,
                detect_time=min(occurred, now),
                facility_id=event.facility.rsplit("/", 1)[-1] if event.facility else "",
                facts={
                    "source_system": "feedback",
                    "evidence": event.evidence[:500],
                    "signal_id": event.signal_id,
                },
            ),
            now=now,
            actor=f"systems/{envelope.source}",
            contagion=Contagion.of(ctx.settings),
        )
        ctx.review_wakeup.set()

    async def visit_recorded(
        session: AsyncSession,
        event: feedback_events_pb2.VisitRecorded,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        await apply_visit(session, ctx, event, envelope)

    return {
        "crm.events.v1.VisitRecorded": EventHandler(
            feedback_events_pb2.VisitRecorded, visit_recorded
        ),
        **group_events.handlers(ctx),
        "crm.events.v1.ExternalSignalRaised": EventHandler(
            feedback_events_pb2.ExternalSignalRaised, feedback_signal
        ),
        "crm.events.v1.ClientCreated": EventHandler(
            client_events_pb2.ClientCreated, client_created
        ),
        "crm.events.v1.ClientUpdated": EventHandler(
            client_events_pb2.ClientUpdated, client_updated
        ),
        "crm.events.v1.ClientAssigned": EventHandler(
            client_events_pb2.ClientAssigned, client_assigned
        ),
    }
