"""Concentration from the store: holdings, limits from settings, warnings on new facilities."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Subquery, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.concentration import totals as exposure_totals
from crm_risk.concentration.model import DIMENSIONS, Holding, Limits, Usage, usage
from crm_risk.concentration.totals import keys_for, placement
from crm_risk.config import RiskSettings
from crm_risk.early_warnings import Signal, raise_signals
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
    """Return every client's committed exposure in CNY with its facts, read from the running
    totals: one row per client that holds exposure, however many facilities it has."""
    totals = exposure_totals.TOTALS
    return await _holdings(session, select(
        totals.c.key.label("client_id"), totals.c.amount_cny.label("amount"),
    ).where(totals.c.dimension == "client", totals.c.amount_cny != 0).subquery())


async def recompute_holdings(session: AsyncSession) -> list[Holding]:
    """Return the same holdings summed from the facilities themselves: what the running
    totals must always equal (the tests reconcile the two)."""
    return await _holdings(session, select(
        col(FacilityRow.client_id).label("client_id"),
        func.sum(col(FacilityRow.amount_cny)).label("amount"),
    ).group_by(col(FacilityRow.client_id)).subquery())


async def _holdings(session: AsyncSession, exposure: Subquery) -> list[Holding]:
    """Return holdings of (client_id, amount) rows placed by the clients' facts, in client
    order (the report's ties then rank the same on both stores)."""
    facts = ClientFactRow.__table__  # type: ignore[attr-defined]
    rows = (
        await session.execute(
            select(exposure.c.client_id, exposure.c.amount, facts.c.group_name,
                   facts.c.industry_code, facts.c.region_code)
            .select_from(exposure.outerjoin(facts, facts.c.client_id == exposure.c.client_id))
            .order_by(exposure.c.client_id)
        )
    ).all()
    return [
        holding_for(cid, Decimal(amount or 0), group=group or "", industry=industry or "",
                    region=region or "")
        for cid, amount, group, industry, region in rows
    ]


async def proposal_usages(
    session: AsyncSession, limits: Limits, proposal: Holding
) -> list[Usage]:
    """Return the use of every limit a proposed facility counts against, as it would be
    with the facility, from the running totals (five rows read, whatever the size of the
    book; the same figures as ``usages`` over every holding plus the proposal)."""
    keys = [(d, k) for d in DIMENSIONS if (k := proposal.key(d))]
    totals = await exposure_totals.read(session, [(exposure_totals.BOOK, ""), *keys])
    whole = max(totals[(exposure_totals.BOOK, "")] + proposal.amount, limits.loan_book)
    return [usage(d, k, totals[(d, k)] + proposal.amount, whole, limits)  # type: ignore[arg-type]
            for d, k in keys]


async def check_after_facility(
    session: AsyncSession, ctx: RiskContext, client_id: str, amount_cny: Decimal, *,
    now: datetime,
) -> None:
    """Add a new facility's exposure to the totals and raise warnings for the limits its
    client now nears or breaches (five rows read, whatever the size of the book)."""
    await check_after_facilities(session, ctx, {client_id: amount_cny}, now=now)


async def check_after_facilities(
    session: AsyncSession, ctx: RiskContext, amounts: dict[str, Decimal], *, now: datetime,
) -> None:
    """Add new facilities' exposure (CNY per client) to the totals and raise warnings for the
    limits their clients now near or breach."""
    facts = {f.client_id: f for f in (await session.execute(
        select(ClientFactRow).where(col(ClientFactRow.client_id).in_(list(amounts)))
    )).scalars()}
    placed = {client_id: placement(facts.get(client_id)) for client_id in amounts}
    added: dict[exposure_totals.Key, Decimal] = {}
    for client_id, amount in amounts.items():
        for key in keys_for(client_id, placed[client_id]):
            added[key] = added.get(key, Decimal(0)) + amount
    await exposure_totals.add_amounts(session, added)
    totals = await exposure_totals.read(session, added)
    limits = limits_from(ctx.settings)
    whole = max(totals[(exposure_totals.BOOK, "")], limits.loan_book)
    signals: list[Signal] = []
    for client_id, where in placed.items():
        found = [usage("client", client_id, totals[("client", client_id)], whole, limits)]
        found += [usage(d, key, totals[(d, key)], whole, limits)
                  for d, key in where.items() if key]
        signals += [_signal(client_id, use, now) for use in found if use.near_limit]
    # One call for the whole registration: a fixed number of statements, however many
    # clients of the batch sit in an industry or region already near its limit.
    await raise_signals(session, ctx.outbox, signals, now=now,
                        actor="systems/risk-concentration")


def _signal(client_id: str, use: Usage, now: datetime) -> Signal:
    """Return the warning signal of a limit a client's exposure nears or breaches."""
    state = "breaches" if use.breached else "is near"
    return Signal(
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
    )
