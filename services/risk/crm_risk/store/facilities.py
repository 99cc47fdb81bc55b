"""Facilities in the store: new ones inserted in one statement, one the caller may see, its
guarantees, and pages of facilities and of a facility's history (events, classification changes)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk import access
from crm_risk.facility_input import FacilityInput
from crm_risk.models import ClassificationChangeRow, FacilityEventRow, FacilityRow, GuaranteeRow
from crm_runtime.auth import Principal
from crm_runtime.errors import NotFound
from crm_runtime.pagination import Page, PageTokens, keyset_page

FACILITIES: Any = FacilityRow.__table__  # type: ignore[attr-defined]


@functools.cache
def _facility_defaults() -> dict[str, Any]:
    """Return the values a new facility starts with where the request says nothing (the
    model's defaults: nothing drawn, performing, version 1)."""
    return {name: field.get_default(call_default_factory=True)
            for name, field in FacilityRow.model_fields.items()
            if name != "seq" and not field.is_required()}


def facility_values(client_id: str, parsed: FacilityInput, now: datetime) -> dict[str, Any]:
    """Return the column values of a validated facility (as the model would store them)."""
    return {
        **_facility_defaults(),
        "id": uuid.uuid4().hex,
        "client_id": client_id,
        "facility_type": parsed.facility_type,
        "amount": parsed.amount,
        "currency": parsed.currency,
        "amount_cny": parsed.amount_cny,
        "term_months": parsed.term_months,
        "purpose_category": parsed.purpose_category,
        "drawdown_account": parsed.drawdown_account,
        "loan_account": parsed.loan_account,
        "declared_purpose": parsed.declared_purpose,
        "entrusted_json": parsed.entrusted_json,
        "collaterals_json": parsed.collaterals_json,
        "total_project_investment": parsed.total_project_investment,
        "start_date": parsed.start_date,
        "create_time": now,
        "update_time": now,
    }


async def insert_facilities(
    session: AsyncSession, values: list[dict[str, Any]]
) -> list[FacilityRow]:
    """Insert facilities with one Core statement and return them as loaded rows, in order.

    Building each row as a model object cost most of a batch's time (SQLModel sets every
    field through pydantic and the ORM's instrumentation); a multi-row INSERT and loading
    the rows back costs a fraction of that.
    """
    await session.execute(insert(FACILITIES), values)
    ids = [v["id"] for v in values]
    loaded = {row.id: row for row in (await session.execute(
        select(FacilityRow).where(col(FacilityRow.id).in_(ids)))).scalars()}
    return [loaded[i] for i in ids]


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
