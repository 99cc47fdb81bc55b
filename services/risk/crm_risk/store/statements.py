"""Financial statements in the store."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.models import StatementRow
from crm_runtime.errors import NotFound


async def statements_of(session: AsyncSession, client_id: str) -> list[StatementRow]:
    """Return every statement of a client."""
    return list((await session.execute(
        select(StatementRow).where(col(StatementRow.client_id) == client_id)
    )).scalars())


async def load_statement(session: AsyncSession, ids: Mapping[str, str]) -> StatementRow:
    """Return the statement named by `ids` (client, statement), or NOT_FOUND."""
    row = (await session.execute(
        select(StatementRow).where(col(StatementRow.id) == ids["statement"],
                                   col(StatementRow.client_id) == ids["client"])
    )).scalars().first()
    if row is None:
        raise NotFound(f"clients/{ids['client']}/statements/{ids['statement']} does not exist",
                       reason="STATEMENT_NOT_FOUND")
    return row


async def previous_statement(
    session: AsyncSession, client_id: str, before: StatementRow
) -> StatementRow | None:
    """Return the client's statement with the latest period ending before `before` starts."""
    return (await session.execute(
        select(StatementRow)
        .where(col(StatementRow.client_id) == client_id,
               col(StatementRow.period_end) < before.period_start)
        .order_by(col(StatementRow.period_end).desc())
        .limit(1)
    )).scalars().first()


async def statements_slice(
    session: AsyncSession, client_id: str, *, offset: int, limit: int
) -> list[StatementRow]:
    """Return a client's statements from `offset`, latest period first.

    Paged by position, not keyset: statements are listed by period, which is not the order
    they arrive in, and a client has a handful of them.
    """
    return list((await session.execute(
        select(StatementRow)
        .where(col(StatementRow.client_id) == client_id)
        .order_by(col(StatementRow.period_end).desc())
        .offset(offset).limit(limit)
    )).scalars())
