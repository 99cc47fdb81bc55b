"""Stored clients and their assignment history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_client.access import visible_clause
from crm_client.models import AssignmentRow, ClientRow
from crm_runtime.auth import Principal
from crm_runtime.db import Database

CLIENT_TABLE: Table = ClientRow.__table__  # type: ignore[attr-defined]


async def client_by_id(
    session: AsyncSession, client_id: str, *, for_update: bool = False
) -> ClientRow | None:
    """Return the client with this public id, locked for update when asked."""
    statement = select(ClientRow).where(col(ClientRow.id) == client_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalars().first()


async def client_record(db: Database, client_id: str) -> Row[Any] | None:
    """Return the client's columns read outside the ORM (the GetClient fast path)."""
    return await db.fetch_one(select(CLIENT_TABLE).where(CLIENT_TABLE.c.id == client_id))


async def clients_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, ClientRow]:
    """Return the clients with these public ids, by id (unknown ids are left out)."""
    statement = select(ClientRow).where(col(ClientRow.id).in_(sorted(set(ids))))
    return {row.id: row for row in (await session.execute(statement)).scalars()}


async def credit_code_taken(session: AsyncSession, credit_code: str) -> bool:
    """Return True if a client with this credit code is stored."""
    statement = select(col(ClientRow.seq)).where(col(ClientRow.credit_code) == credit_code)
    return (await session.execute(statement)).first() is not None


async def credit_code_holder_visible(
    session: AsyncSession, credit_code: str, principal: Principal
) -> bool:
    """Return True if the client holding this credit code is one `principal` may see."""
    statement = visible_clients(principal).where(col(ClientRow.credit_code) == credit_code)
    return (await session.execute(statement.limit(1))).first() is not None


def visible_clients(principal: Principal, relationship_manager: str = "") -> Select[Any]:
    """Return the query of the clients the caller may see, optionally of one RM."""
    statement = select(ClientRow)
    clause = visible_clause(principal)
    if clause is not None:
        statement = statement.where(clause)
    if relationship_manager:
        statement = statement.where(col(ClientRow.relationship_manager) == relationship_manager)
    return statement


async def all_clients(session: AsyncSession, *, batch: int) -> AsyncIterator[list[ClientRow]]:
    """Yield every client in creation order, `batch` rows at a time (bounded memory)."""
    after = 0
    while True:
        statement = select(ClientRow).where(col(ClientRow.seq) > after).order_by(col(ClientRow.seq))
        rows = list((await session.execute(statement.limit(batch))).scalars())
        if rows:
            yield rows
        if len(rows) < batch:
            return
        after = rows[-1].seq or after


async def add_client(session: AsyncSession, row: ClientRow, *, assigned_by: str) -> int:
    """Store a new client with its first assignment; return its sequence number."""
    session.add(row)
    await session.flush()
    assert row.seq is not None
    session.add(
        AssignmentRow(
            client_seq=row.seq,
            relationship_manager=row.relationship_manager,
            team=row.team,
            reason="initial assignment",
            assigned_by=assigned_by,
            start_time=row.create_time,
        )
    )
    return row.seq


async def reassign(
    session: AsyncSession,
    row: ClientRow,
    *,
    relationship_manager: str,
    team: str,
    reason: str,
    assigned_by: str,
    now: datetime,
) -> None:
    """End the client's open assignment and start a new one (the row is updated too)."""
    assert row.seq is not None
    await session.execute(
        update(AssignmentRow)
        .where(col(AssignmentRow.client_seq) == row.seq, col(AssignmentRow.end_time).is_(None))
        .values(end_time=now)
    )
    session.add(
        AssignmentRow(
            client_seq=row.seq,
            relationship_manager=relationship_manager,
            team=team,
            reason=reason,
            assigned_by=assigned_by,
            start_time=now,
        )
    )
    row.relationship_manager, row.team = relationship_manager, team
    row.version += 1
    row.update_time = now
    session.add(row)


def assignment_history(client_seq: int | None) -> Select[Any]:
    """Return the query of a client's assignments (page it by AssignmentRow.seq)."""
    return select(AssignmentRow).where(col(AssignmentRow.client_seq) == client_seq)
