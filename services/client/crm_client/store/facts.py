"""A client's stored facts as segment rules and recommendations read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_client.models import ActivityRow, ClientRow, KeyPersonRow
from crm_client.segmentation.engine import build_features
from crm_client.segmentation.features import ActivityFacts, ClientFacts, CreditFacts, OwnerFacts
from crm_runtime.crypto import FieldCipher

WAN = Decimal(10_000)
# Only these persons' facts feed segment rules (the owner of the firm).
OWNER_ROLES = ("legal_representative", "actual_controller")


def _wan(amount: Decimal | None) -> Decimal:
    return (amount or Decimal(0)) / WAN


class ClientColumns(Protocol):
    """The client columns segment rules read: a stored row or the values of a new one."""

    size_class: str
    industry_code: str
    region_code: str
    ownership_type: str
    founding_date: date
    employee_count: int
    annual_revenue: Decimal | None
    total_assets: Decimal | None
    registered_capital: Decimal | None
    previous_annual_revenue: Decimal | None
    project_finance: bool
    state: str
    credit_grade: str
    credit_pd: float | None
    potential_risk: bool
    warning_level: str


def features_of(
    client: ClientColumns,
    *,
    owner: OwnerFacts | None,
    activity: ActivityFacts | None,
    today: date,
) -> dict[str, object]:
    """Return the feature mapping of a client whose owner and activity facts are known."""
    facts = ClientFacts(
        size_class=client.size_class,
        industry_code=client.industry_code,
        region_code=client.region_code,
        ownership_type=client.ownership_type,
        founded=min(client.founding_date, today),
        employees=client.employee_count,
        revenue_wan=_wan(client.annual_revenue),
        assets_wan=_wan(client.total_assets),
        registered_capital_wan=_wan(client.registered_capital),
        is_project_finance=client.project_finance,
        lifecycle_state=client.state,
        revenue_prev_wan=None
        if client.previous_annual_revenue is None
        else _wan(client.previous_annual_revenue),
    )
    credit = CreditFacts(
        grade=client.credit_grade or None,
        pd=client.credit_pd,
        potential_risk=client.potential_risk,
        warning_level=client.warning_level or None,
    )
    return build_features(client=facts, owner=owner, activity=activity, credit=credit, today=today)


def owner_facts(
    *,
    birth_date: date | None,
    gender: str,
    education: str,
    occupation: str,
    income_band: str | None,
) -> OwnerFacts:
    """Return the owner facts of the person who owns the firm (see OWNER_ROLES)."""
    return OwnerFacts(
        birth_date=birth_date,
        gender=gender or None,
        education=education or None,
        occupation=occupation or None,
        income_band=income_band,
    )


async def client_features(
    session: AsyncSession,
    client: ClientRow,
    cipher: FieldCipher,
    *,
    today: date,
    fresh: bool = False,
) -> dict[str, object]:
    """Return the feature mapping segment rules and recommendations read for a client."""
    # A client created in this transaction has no key persons or activity yet.
    owner = None if fresh else await _owner_facts(session, client, cipher)
    activity = None if fresh else await _activity_facts(session, client)
    return features_of(client, owner=owner, activity=activity, today=today)


async def _owner_facts(
    session: AsyncSession, client: ClientRow, cipher: FieldCipher
) -> OwnerFacts | None:
    rows = (
        (
            await session.execute(
                select(KeyPersonRow)
                .where(col(KeyPersonRow.client_seq) == client.seq)
                .where(col(KeyPersonRow.role).in_(OWNER_ROLES))
                .order_by(col(KeyPersonRow.role).desc(), col(KeyPersonRow.seq))
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return None
    person = rows[0]
    income = (
        cipher.decrypt(person.income_band_enc, context="key_person.income_band")
        if person.income_band_enc
        else None
    )
    return owner_facts(
        birth_date=person.birth_date,
        gender=person.gender,
        education=person.education,
        occupation=person.occupation,
        income_band=income,
    )


async def _activity_facts(session: AsyncSession, client: ClientRow) -> ActivityFacts | None:
    rows: Sequence[ActivityRow] = (
        (
            await session.execute(
                select(ActivityRow)
                .where(col(ActivityRow.client_seq) == client.seq)
                .order_by(col(ActivityRow.period_end).desc())
                .limit(2)
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return None
    latest = rows[0]
    previous = rows[1] if len(rows) > 1 else None
    return ActivityFacts(
        txn_count_90d=latest.transaction_count,
        txn_count_prev_90d=previous.transaction_count if previous else 0,
        inflow_90d_wan=_wan(latest.inflow),
        outflow_90d_wan=_wan(latest.outflow),
        avg_balance_wan=_wan(latest.average_balance),
        prev_avg_balance_wan=_wan(previous.average_balance) if previous else None,
        end_balance_wan=_wan(latest.end_balance),
        products_used=latest.products_used,
        loan_products_used=latest.loan_products_used,
        last_txn_date=latest.last_transaction_date,
    )
