"""Feedback's copy of who serves each client and its segments (kept by client events)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_feedback.models import ClientMirrorRow, ClientSegmentRow


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Who serves a client and the segments it is in, as far as feedback knows."""

    relationship_manager: str
    team: str
    segments: tuple[str, ...]


async def client_info(session: AsyncSession, client: str) -> ClientInfo:
    """Return the mirrored RM, team and segments of a client (empty when unknown)."""
    mirror = await session.get(ClientMirrorRow, client)
    segments = (
        await session.execute(
            select(col(ClientSegmentRow.segment))
            .where(col(ClientSegmentRow.client) == client)
            .order_by(col(ClientSegmentRow.segment))
        )
    ).scalars()
    return ClientInfo(
        mirror.relationship_manager if mirror else "",
        mirror.team if mirror else "",
        tuple(segments),
    )
