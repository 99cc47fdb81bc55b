"""Stored campaigns: read one, list, count its messages per state, write a new one."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm.notify.v1 import campaign_pb2
from crm_notify.models import CampaignRecipientRow, CampaignRow
from crm_notify.push_state import state_counts_query
from crm_runtime.pagination import Page, PageTokens, keyset_page

RECIPIENT_TABLE = CampaignRecipientRow.__table__  # type: ignore[attr-defined]


async def campaign_by_id(session: AsyncSession, campaign_id: str) -> CampaignRow | None:
    """Return the campaign with this id, if any."""
    found = await session.execute(select(CampaignRow).where(col(CampaignRow.id) == campaign_id))
    return found.scalars().first()


async def state_counts(session: AsyncSession, campaign_id: str) -> dict[str, int]:
    """Return how many of a campaign's messages are in each state (push acks included)."""
    rows = await session.execute(state_counts_query(campaign_id))
    return {state: int(count) for state, count in rows.all()}


async def campaigns_page(
    session: AsyncSession, *, tokens: PageTokens, page_token: str, size: int, query: object
) -> Page[CampaignRow]:
    """Return campaigns newest first."""
    return await keyset_page(
        session,
        select(CampaignRow),
        key=col(CampaignRow.seq),
        tokens=tokens,
        page_token=page_token,
        size=size,
        query=query,
        descending=True,
    )


async def insert_campaign(
    session: AsyncSession,
    row: CampaignRow,
    recipients: Sequence[campaign_pb2.CampaignRecipient],
) -> None:
    """Write a campaign and its explicit recipient list (in one batch, in list order)."""
    session.add(row)
    await session.flush()
    if not recipients:
        return
    await session.execute(
        insert(RECIPIENT_TABLE),
        [
            {
                "campaign_seq": row.seq,
                "position": i + 1,
                "recipient": r.recipient,
                "variables_json": json.dumps(dict(r.variables), ensure_ascii=False),
            }
            for i, r in enumerate(recipients)
        ],
    )
