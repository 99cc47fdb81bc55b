"""Stored segment definitions (with their versions), memberships and moves."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_client.access import visible_clause
from crm_client.models import (
    ClientRow,
    MembershipRow,
    SegmentMoveRow,
    SegmentRow,
    SegmentVersionRow,
)
from crm_runtime.auth import Principal


async def member_count(session: AsyncSession, segment_id: str) -> int:
    """Return how many clients are in the segment now."""
    statement = (
        select(func.count())
        .select_from(MembershipRow)
        .where(col(MembershipRow.segment_id) == segment_id)
    )
    return int((await session.execute(statement)).scalar_one())


async def member_counts(session: AsyncSession) -> dict[str, int]:
    """Return the member count of every segment that has members, by segment id."""
    statement = select(col(MembershipRow.segment_id), func.count()).group_by(
        col(MembershipRow.segment_id)
    )
    return {segment_id: int(count) for segment_id, count in (await session.execute(statement))}


def segments_of_kind(kind: str) -> Select[Any]:
    """Return the query of segment definitions, of one kind when `kind` is set."""
    statement = select(SegmentRow)
    if kind:
        statement = statement.where(col(SegmentRow.kind) == kind)
    return statement


async def segment_kinds(session: AsyncSession, segment_ids: Iterable[str]) -> dict[str, str]:
    """Return the kind of each of these segments, by segment id."""
    statement = select(col(SegmentRow.segment_id), col(SegmentRow.kind)).where(
        col(SegmentRow.segment_id).in_(sorted(set(segment_ids)))
    )
    return dict((await session.execute(statement)).all())


def add_version(session: AsyncSession, row: SegmentRow, *, changed_by: str, now: datetime) -> None:
    """Record the segment's current expression as its version `row.version`."""
    session.add(
        SegmentVersionRow(
            segment_id=row.segment_id,
            version=row.version,
            expression=row.expression,
            changed_by=changed_by,
            change_time=now,
        )
    )


def visible_members(segment_id: str, principal: Principal) -> Select[Any]:
    """Return the query of a segment's memberships of clients the caller may see."""
    statement = (
        select(MembershipRow)
        .join(ClientRow, col(ClientRow.seq) == col(MembershipRow.client_seq))
        .where(col(MembershipRow.segment_id) == segment_id)
    )
    clause = visible_clause(principal)
    return statement if clause is None else statement.where(clause)


async def client_ids(session: AsyncSession, seqs: Iterable[int]) -> dict[int, str]:
    """Return the public id of each of these clients, by sequence number."""
    statement = select(col(ClientRow.seq), col(ClientRow.id)).where(
        col(ClientRow.seq).in_(sorted(set(seqs)))
    )
    rows = (await session.execute(statement)).all()
    return {seq: client_id for seq, client_id in rows if seq is not None}


def memberships_of(client_seq: int | None) -> Select[Any]:
    """Return the query of a client's memberships (page it by MembershipRow.segment_id)."""
    return select(MembershipRow).where(col(MembershipRow.client_seq) == client_seq)


async def segment_ids_of(session: AsyncSession, client_seq: int | None) -> set[str]:
    """Return the ids of the segments the client is in."""
    statement = select(col(MembershipRow.segment_id)).where(
        col(MembershipRow.client_seq) == client_seq
    )
    return set((await session.execute(statement)).scalars())


def moves_of(client_seq: int | None) -> Select[Any]:
    """Return the query of a client's segment moves (page it by SegmentMoveRow.seq)."""
    return select(SegmentMoveRow).where(col(SegmentMoveRow.client_seq) == client_seq)
