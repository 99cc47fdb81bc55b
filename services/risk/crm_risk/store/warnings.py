"""Warnings in the store: one the caller may see, their signals, and filtered pages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk import access
from crm_risk.models_monitoring import WarningRow, WarningSignalRow
from crm_runtime.auth import Principal
from crm_runtime.errors import NotFound
from crm_runtime.pagination import Page, PageTokens, keyset_page


async def signals_of(session: AsyncSession, seqs: list[int]) -> dict[int, list[WarningSignalRow]]:
    """Return the signals of several warnings, oldest first, keyed by warning seq."""
    found: dict[int, list[WarningSignalRow]] = {s: [] for s in seqs}
    if seqs:
        rows = (await session.execute(
            select(WarningSignalRow).where(col(WarningSignalRow.warning_seq).in_(seqs))
            .order_by(col(WarningSignalRow.seq))
        )).scalars()
        for row in rows:
            found[row.warning_seq].append(row)
    return found


async def load_warning(
    session: AsyncSession, warning_id: str, principal: Principal, *, for_update: bool = False
) -> WarningRow:
    """Return the warning if the caller may see its client.

    Being the warning's owner is not enough: a closed warning keeps the owner it had when it
    closed, and that RM loses the client's risk data once the client is reassigned.
    """
    statement = select(WarningRow).where(col(WarningRow.id) == warning_id)
    if for_update:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).scalars().first()
    if row is None:
        if principal.sees_whole_portfolio:
            raise NotFound(f"warnings/{warning_id} does not exist", reason="WARNING_NOT_FOUND")
        raise access.denied()
    await access.check_client(session, principal, row.client_id)
    return row


@dataclass(frozen=True)
class WarningFilter:
    """What ListWarnings narrows to; empty strings mean any."""

    client_id: str = ""
    state: str = ""
    source: str = ""
    rule: str = ""


async def warnings_page(
    session: AsyncSession, principal: Principal, only: WarningFilter, *, query: object,
    tokens: PageTokens, page_token: str, size: int,
) -> Page[WarningRow]:
    """Return a page of the warnings the caller may see, newest first."""
    statement = select(WarningRow)
    for column, value in ((WarningRow.client_id, only.client_id), (WarningRow.state, only.state),
                          (WarningRow.source, only.source), (WarningRow.rule, only.rule)):
        if value:
            statement = statement.where(col(column) == value)
    visible = access.visible_client_ids(principal)
    if visible is not None:
        statement = statement.where(col(WarningRow.client_id).in_(visible))  # type: ignore[arg-type]
    return await keyset_page(session, statement, key=col(WarningRow.seq), tokens=tokens,
                             page_token=page_token, size=size, query=query, descending=True)
