"""Stored key persons (personal fields encrypted; see crm_client.people)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_client.models import KeyPersonRow


async def key_person(
    session: AsyncSession, client_seq: int | None, person_id: str
) -> KeyPersonRow | None:
    """Return the client's key person with this id, or None."""
    statement = select(KeyPersonRow).where(
        col(KeyPersonRow.id) == person_id, col(KeyPersonRow.client_seq) == client_seq
    )
    return (await session.execute(statement)).scalars().first()


async def delete_key_person(session: AsyncSession, client_seq: int | None, person_id: str) -> bool:
    """Delete the client's key person with this id; return False if there was none."""
    result = await session.execute(
        delete(KeyPersonRow).where(
            col(KeyPersonRow.id) == person_id, col(KeyPersonRow.client_seq) == client_seq
        )
    )
    return bool(getattr(result, "rowcount", 0))


def key_persons_of(client_seq: int | None) -> Select[Any]:
    """Return the query of a client's key persons (page it by KeyPersonRow.seq)."""
    return select(KeyPersonRow).where(col(KeyPersonRow.client_seq) == client_seq)
