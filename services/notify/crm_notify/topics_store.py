"""Stored topics and subscriptions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_notify.models import SubscriptionRow, TopicRow
from crm_runtime.pagination import Page, PageTokens, keyset_page


async def topic_exists(session: AsyncSession, topic_id: str) -> bool:
    """Return True if the topic exists."""
    return await session.get(TopicRow, topic_id) is not None


async def topics_page(
    session: AsyncSession, *, tokens: PageTokens, page_token: str, size: int, query: object
) -> Page[TopicRow]:
    """Return topics by id."""
    return await keyset_page(
        session,
        select(TopicRow),
        key=col(TopicRow.topic_id),
        tokens=tokens,
        page_token=page_token,
        size=size,
        query=query,
    )


async def subscription_of(
    session: AsyncSession, topic_id: str, recipient: str
) -> SubscriptionRow | None:
    """Return a recipient's subscription to a topic, if any."""
    found = await session.execute(
        select(SubscriptionRow).where(
            col(SubscriptionRow.topic_id) == topic_id,
            col(SubscriptionRow.recipient) == recipient,
        )
    )
    return found.scalars().first()


async def subscription_by_id(
    session: AsyncSession, topic_id: str, subscription_id: str
) -> SubscriptionRow | None:
    """Return the subscription with this id under this topic, if any."""
    found = await session.execute(
        select(SubscriptionRow).where(col(SubscriptionRow.id) == subscription_id)
    )
    row = found.scalars().first()
    return row if row is not None and row.topic_id == topic_id else None


async def subscriptions_page(
    session: AsyncSession,
    topic_id: str,
    *,
    recipient: str,
    tokens: PageTokens,
    page_token: str,
    size: int,
    query: object,
) -> Page[SubscriptionRow]:
    """Return a topic's subscriptions in creation order; only `recipient`'s when given."""
    statement = select(SubscriptionRow).where(col(SubscriptionRow.topic_id) == topic_id)
    if recipient:
        statement = statement.where(col(SubscriptionRow.recipient) == recipient)
    return await keyset_page(
        session,
        statement,
        key=col(SubscriptionRow.seq),
        tokens=tokens,
        page_token=page_token,
        size=size,
        query=query,
    )
