"""Ratings and rating overrides in the store."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.models import RatingOverrideRow, RatingRow
from crm_runtime.errors import NotFound
from crm_runtime.pagination import Page, PageTokens, keyset_page


async def load_rating(session: AsyncSession, ids: Mapping[str, str]) -> RatingRow:
    """Return the rating named by `ids` (client, rating), or NOT_FOUND."""
    row = (await session.execute(
        select(RatingRow).where(col(RatingRow.id) == ids["rating"],
                                col(RatingRow.client_id) == ids["client"])
    )).scalars().first()
    if row is None:
        raise NotFound(f"clients/{ids['client']}/ratings/{ids['rating']} does not exist",
                       reason="RATING_NOT_FOUND")
    return row


async def ratings_page(
    session: AsyncSession, client_id: str, *, tokens: PageTokens, page_token: str, size: int
) -> Page[RatingRow]:
    """Return a page of a client's ratings, newest first."""
    return await keyset_page(
        session, select(RatingRow).where(col(RatingRow.client_id) == client_id),
        key=col(RatingRow.seq), tokens=tokens, page_token=page_token, size=size,
        query={"m": "ListRatings", "c": client_id}, descending=True,
    )


async def load_override(
    session: AsyncSession, ids: Mapping[str, str], *, for_update: bool = False
) -> RatingOverrideRow:
    """Return the override named by `ids` (client, rating_override), or NOT_FOUND."""
    statement = select(RatingOverrideRow).where(
        col(RatingOverrideRow.id) == ids["rating_override"],
        col(RatingOverrideRow.client_id) == ids["client"],
    )
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalars().first()
    if row is None:
        raise NotFound(
            f"clients/{ids['client']}/ratingOverrides/{ids['rating_override']} does not exist",
            reason="OVERRIDE_NOT_FOUND",
        )
    return row
