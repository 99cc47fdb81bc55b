"""Stored tasks of the staff inbox: read one, page through an assignee's tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_notify.models import TaskRow
from crm_runtime.pagination import Page, PageTokens


async def task_by_id(session: AsyncSession, task_id: str) -> TaskRow | None:
    """Return the task with this id, if any."""
    found = await session.execute(select(TaskRow).where(col(TaskRow.id) == task_id))
    return found.scalars().first()


async def tasks_page(
    session: AsyncSession,
    *,
    assignee: str,
    state: str,
    tokens: PageTokens,
    page_token: str,
    size: int,
    query: object,
) -> Page[TaskRow]:
    """Return an assignee's tasks, soonest due first.

    The order is (due time, seq), a two-column key, so this is the one list that cannot use
    `pagination.keyset_page` (one unique column): the token holds both values.
    """
    statement = select(TaskRow).where(col(TaskRow.assignee) == assignee)
    if state:
        statement = statement.where(col(TaskRow.state) == state)
    after = tokens.decode(page_token, query=query)
    if isinstance(after, list):
        statement = statement.where(
            tuple_(col(TaskRow.due_time), col(TaskRow.seq))
            > tuple_(datetime.fromisoformat(after[0]), after[1])
        )
    statement = statement.order_by(col(TaskRow.due_time), col(TaskRow.seq)).limit(size + 1)
    rows = list((await session.execute(statement)).scalars())
    if len(rows) <= size:
        return Page(rows, "")
    last = rows[size - 1]
    return Page(rows[:size], tokens.encode([last.due_time.isoformat(), last.seq], query=query))
