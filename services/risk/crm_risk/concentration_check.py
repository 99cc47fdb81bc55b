"""Concentration from the store: holdings, limits from settings, warnings on new facilities."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.concentration import Holding, Limits, keys_of, usages
from crm_risk.config import RiskSettings
from crm_risk.early_warnings import Signal, raise_signal
from crm_risk.models import ClientFactRow, FacilityRow

if TYPE_CHECKING:
    from crm_risk.context import RiskContext

RULE_VERSION = "CONC-2026.1"


def limits_from(settings: RiskSettings) -> Limits:
    """Return the configured limits."""
    return Limits(
        net_capital=settings.net_capital,
        single_client=settings.single_client_limit,
        group=settings.group_limit,
        industry=settings.industry_limit_map(),
        default_industry=settings.default_industry_limit,
        region=settings.region_limit_map(),
        default_region=settings.default_region_limit,
        warn_use=settings.limit_warning_use,
        loan_book=settings.loan_book,
    )


def holding_for(
    client_id: str, amount: Decimal, fact: ClientFactRow | None = None, *,
    group: str = "", industry: str = "", region: str = "",
) -> Holding:
    """Return a holding placed by the client's facts (unknown facts leave keys empty)."""
    if fact is not None:
        group, industry, region = fact.group_name, fact.industry_code, fact.region_code
    return Holding(
        client_id=client_id,
        amount=amount,
        group=group,
        industry_section=industry[:1].upper(),
        province=region[:2] if len(region) >= 2 else "",
    )


async def load_holdings(session: AsyncSession) -> list[Holding]:
    """Return every client's committed exposure in CNY with its facts (Core, no ORM rows)."""
    exposure = (
        select(col(FacilityRow.client_id).label("client_id"),
               func.sum(col(FacilityRow.amount_cny)).label("amount"))
        .group_by(col(FacilityRow.client_id))
        .subquery()
    )
    facts = ClientFactRow.__table__  # type: ignore[attr-defined]
    rows = (
        await session.execute(
            select(exposure.c.client_id, exposure.c.amount, facts.c.group_name,
                   facts.c.industry_code, facts.c.region_code)
            .select_from(exposure.outerjoin(facts, facts.c.client_id == exposure.c.client_id))
        )
    ).all()
    return [
        holding_for(cid, Decimal(amount or 0), group=group or "", industry=industry or "",
                    region=region or "")
        for cid, amount, group, industry, region in rows
    ]


async def check_after_facility(
    session: AsyncSession, ctx: RiskContext, client_id: str, *, now: datetime
) -> None:
    """Raise warnings for the limits a client's exposure now nears or breaches."""
    await session.flush()
    holdings = await load_holdings(session)
    mine = next((h for h in holdings if h.client_id == client_id), None)
    if mine is None:
        return
    for use in usages(holdings, limits_from(ctx.settings), only=keys_of(mine)):
        if not use.near_limit:
            continue
        state = "breaches" if use.breached else "is near"
        await raise_signal(
            session,
            ctx.outbox,
            Signal(
                client_id=client_id,
                rule=f"concentration_{use.dimension}",
                source="concentration",
                level="orange" if use.breached else "yellow",
                scope=use.key,
                message=(
                    f"{use.dimension} {use.key} {state} its limit: {use.used_share:.2%} used "
                    f"of {use.limit_share:.0%}"
                ),
                rule_version=RULE_VERSION,
                detect_time=now,
                facts={"used_share": round(use.used_share, 6), "limit_share": use.limit_share,
                       "headroom": use.headroom},
            ),
            now=now,
            actor="systems/risk-concentration",
        )
