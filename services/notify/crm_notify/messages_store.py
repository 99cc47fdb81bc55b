"""Stored messages as readers see them: one message, a filtered page, its attempts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_notify.enqueue import MESSAGE_TABLE
from crm_notify.models import AttemptRow
from crm_notify.push_state import MESSAGE_VIEW, STATE, select_messages
from crm_runtime.pagination import Page, PageTokens, keyset_page

_M = MESSAGE_TABLE.c


async def message_by_id(session: AsyncSession, message_id: str) -> Row[Any] | None:
    """Return the message with this id (state and delivery time as readers see them)."""
    found = await session.execute(select_messages().where(_M.id == message_id))
    row: Row[Any] | None = found.first()
    return row


async def messages_page(
    session: AsyncSession,
    *,
    recipient: str,
    campaign: str,
    state: str,
    tokens: PageTokens,
    page_token: str,
    size: int,
    query: object,
) -> Page[Row[Any]]:
    """Return messages newest first, filtered by recipient, campaign and state when given.

    The page is chosen on the message sequence alone, then its rows are read with the
    reader's state: `keyset_page` serves one column, and a message row is many.
    """
    chosen = select(_M.seq).select_from(MESSAGE_VIEW)
    if recipient:
        chosen = chosen.where(_M.recipient == recipient)
    if campaign:
        chosen = chosen.where(_M.campaign == campaign)
    if state:
        chosen = chosen.where(STATE.element == state)
    page = await keyset_page(
        session,
        chosen,
        key=_M.seq,
        tokens=tokens,
        page_token=page_token,
        size=size,
        query=query,
        descending=True,
        position=lambda seq: seq,
    )
    if not page.rows:
        return Page([], page.next_page_token)
    rows = await session.execute(
        select_messages().where(_M.seq.in_(page.rows)).order_by(_M.seq.desc())
    )
    return Page(list(rows.all()), page.next_page_token)


async def attempts_page(
    session: AsyncSession,
    message_seq: int,
    *,
    tokens: PageTokens,
    page_token: str,
    size: int,
    query: object,
) -> Page[AttemptRow]:
    """Return a message's delivery attempts in order."""
    return await keyset_page(
        session,
        select(AttemptRow).where(col(AttemptRow.message_seq) == message_seq),
        key=col(AttemptRow.seq),
        tokens=tokens,
        page_token=page_token,
        size=size,
        query=query,
    )
