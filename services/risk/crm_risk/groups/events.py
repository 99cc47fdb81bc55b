"""Inbox handlers of the client service's group and guarantee events (risk's copy).

A new guarantee may close a guarantee circle: the circles through its guarantor are looked
for at once and their members warned.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession

from crm.events.v1 import client_events_pb2, event_pb2
from crm_risk.context import RiskContext
from crm_risk.groups.contagion import warn_circles
from crm_risk.groups.graph import circles
from crm_risk.groups.models import ClientGuaranteeRow, CreditGroupRow, RiskGroupMemberRow
from crm_risk.groups.store import load_graph
from crm_runtime.inbox import EventHandler
from crm_runtime.outbox import Outbox


def _id(name: str) -> str:
    """Return the last id of a resource name."""
    return name.rsplit("/", 1)[-1]


async def _warn_new_circles(
    session: AsyncSession, outbox: Outbox, client_id: str, now: Callable[[], datetime]
) -> None:
    await session.flush()
    graph = await load_graph(session)
    amounts: dict[tuple[str, str], Decimal] = {}
    for _, g in graph.guarantees:
        key = (g.guarantor, g.beneficiary)
        amounts[key] = amounts.get(key, Decimal(0)) + g.amount
    found = []
    for circle in circles(amounts):
        if client_id in circle:
            inside = set(circle)
            total = sum((a for (x, y), a in amounts.items() if x in inside and y in inside),
                        Decimal(0))
            found.append((circle, total))
    await warn_circles(session, outbox, found, now=now())


def handlers(ctx: RiskContext) -> dict[str, EventHandler]:
    """Return the group and guarantee handlers keyed by event type."""

    async def group_recorded(
        session: AsyncSession, event: client_events_pb2.GroupRecorded,
        _envelope: event_pb2.EventEnvelope,
    ) -> None:
        row = await session.get(CreditGroupRow, _id(event.group))
        row = row or CreditGroupRow(id=_id(event.group))
        row.display_name = event.display_name[:200]
        row.parent_id = _id(event.parent_group) if event.parent_group else ""
        session.add(row)

    async def membership_changed(
        session: AsyncSession, event: client_events_pb2.GroupMembershipChanged,
        _envelope: event_pb2.EventEnvelope,
    ) -> None:
        row = await session.get(RiskGroupMemberRow, _id(event.member))
        row = row or RiskGroupMemberRow(id=_id(event.member), group_id=_id(event.group),
                                    client_id=_id(event.client))
        row.share_percent = event.share_percent
        row.ended = event.ended
        session.add(row)
        if await session.get(CreditGroupRow, row.group_id) is None:
            # The membership may outrun the group's own event; its name follows later.
            session.add(CreditGroupRow(id=row.group_id))

    async def guarantee_recorded(
        session: AsyncSession, event: client_events_pb2.GuaranteeRecorded,
        _envelope: event_pb2.EventEnvelope,
    ) -> None:
        try:
            amount = Decimal(event.amount_cny)
        except InvalidOperation:
            amount = Decimal(0)
        guarantor = _id(event.guarantor)
        row = await session.get(ClientGuaranteeRow, _id(event.guarantee))
        if row is None:
            session.add(ClientGuaranteeRow(
                id=_id(event.guarantee), guarantor_id=guarantor,
                beneficiary_id=_id(event.beneficiary), facility=event.facility[:200],
                amount_cny=amount,
            ))
        await _warn_new_circles(session, ctx.outbox, guarantor, ctx.clock)

    async def guarantee_ended(
        session: AsyncSession, event: client_events_pb2.GuaranteeEnded,
        _envelope: event_pb2.EventEnvelope,
    ) -> None:
        row = await session.get(ClientGuaranteeRow, _id(event.guarantee))
        if row is not None:
            row.ended = True
            session.add(row)

    return {
        "crm.events.v1.GroupRecorded": EventHandler(
            client_events_pb2.GroupRecorded, group_recorded),
        "crm.events.v1.GroupMembershipChanged": EventHandler(
            client_events_pb2.GroupMembershipChanged, membership_changed),
        "crm.events.v1.GuaranteeRecorded": EventHandler(
            client_events_pb2.GuaranteeRecorded, guarantee_recorded),
        "crm.events.v1.GuaranteeEnded": EventHandler(
            client_events_pb2.GuaranteeEnded, guarantee_ended),
    }
