"""Facilities in the store: one the caller may see, its guarantees, and pages of facilities
and of a facility's history (events, classification changes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk import access
from crm_risk.models import ClassificationChangeRow, FacilityEventRow, FacilityRow, GuaranteeRow
from crm_runtime.auth import Principal
from crm_runtime.errors import NotFound
from crm_runtime.pagination import Page, PageTokens, keyset_page


async def guarantees_of(session: AsyncSession, facility_seq: int | None) -> list[GuaranteeRow]:
    """Return a facility's guarantees in entry order."""
    return list((await session.execute(
        select(GuaranteeRow)
        .where(col(GuaranteeRow.facility_seq) == facility_seq)
        .order_by(col(GuaranteeRow.seq))
    )).scalars())


async def load_facility(
    session: AsyncSession, ids: Mapping[str, str], principal: Principal, *,
    for_update: bool = False,
) -> FacilityRow:
    """Return the facility named by `ids` (client, facility) if the caller may see its client."""
    await access.check_client(session, principal, ids["client"])
    statement = select(FacilityRow).where(
        col(FacilityRow.id) == ids["facility"], col(FacilityRow.client_id) == ids["client"]
    )
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalars().first()
    if row is None:
        raise NotFound(f"clients/{ids['client']}/facilities/{ids['facility']} does not exist",
                       reason="FACILITY_NOT_FOUND")
    return row


async def facility_by_id(session: AsyncSession, facility_id: str) -> FacilityRow | None:
    """Return a facility by its id alone (warnings name the facility they are about)."""
    return (await session.execute(
        select(FacilityRow).where(col(FacilityRow.id) == facility_id)
    )).scalars().first()


async def facility_names(session: AsyncSession, facility_ids: set[str]) -> dict[str, str]:
    """Return the resource names of facilities by id."""
    if not facility_ids:
        return {}
    rows = await session.execute(
        select(col(FacilityRow.id), col(FacilityRow.client_id))
        .where(col(FacilityRow.id).in_(facility_ids))
    )
    return {fid: f"clients/{cid}/facilities/{fid}" for fid, cid in rows}


async def facilities_page(
    session: AsyncSession, client_id: str, *, tokens: PageTokens, page_token: str, size: int
) -> Page[FacilityRow]:
    """Return a page of a client's facilities in registration order."""
    return await keyset_page(
        session, select(FacilityRow).where(col(FacilityRow.client_id) == client_id),
        key=col(FacilityRow.seq), tokens=tokens, page_token=page_token, size=size,
        query={"m": "ListFacilities", "c": client_id},
    )


async def history_page(
    session: AsyncSession, row_type: type[FacilityEventRow] | type[ClassificationChangeRow],
    facility: FacilityRow, *, query: Mapping[str, Any], tokens: PageTokens, page_token: str,
    size: int,
) -> Page[Any]:
    """Return a page of a facility's events or classification changes, newest first."""
    return await keyset_page(
        session, select(row_type).where(col(row_type.facility_seq) == facility.seq),
        key=col(row_type.seq), tokens=tokens, page_token=page_token, size=size,
        query=dict(query), descending=True,
    )
