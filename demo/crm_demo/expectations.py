"""Predict the built-in segments the client service will put a generated client in.

The prediction reuses the service's own segmentation engine on the facts the service will
derive from the generated requests: the size class from the MIIT rule, the owner from the
legal representative (the service reads the legal representative before the actual
controller), and the activity from the later and earlier summary. No rating exists yet,
so every client is unrated and no warning has flagged it. The demo compares these
predictions with what the service reports; the tests check them against the archetypes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from google.type import date_pb2, money_pb2

from crm.client.v1 import client_pb2
from crm_client.domain.industry import miit_sector_of
from crm_client.domain.size_class import classify_size, yuan_to_wan
from crm_client.segmentation.engine import (
    build_features,
    compile_builtin_segments,
    evaluate_memberships,
)
from crm_client.segmentation.features import ActivityFacts, ClientFacts, OwnerFacts
from crm_demo.portfolio import PortfolioClient

_BUILTIN_SEGMENTS = compile_builtin_segments()


def wan(money: money_pb2.Money) -> Decimal:
    """Return a Money amount in 万 (10,000 yuan)."""
    return yuan_to_wan(Decimal(money.units) + Decimal(money.nanos) / Decimal(10**9))


def to_date(message: date_pb2.Date) -> date | None:
    """Return the date of a google.type.Date, or None when it is unset."""
    if message.year == 0:
        return None
    return date(message.year, message.month, message.day)


def _enum_name(enum: object, value: int, prefix: str) -> str | None:
    """Return the lower-case name of an enum value without its prefix; None when unset."""
    if value == 0:
        return None
    name: str = enum.Name(value)  # type: ignore[attr-defined]
    return name.removeprefix(prefix).lower()


def size_class_of(client: client_pb2.Client) -> str:
    """Return the MIIT size class of a Client message, as the service will classify it."""
    return classify_size(
        sector=miit_sector_of(client.industry_code),
        employees=client.employee_count,
        revenue_wan=wan(client.annual_revenue),
        assets_wan=wan(client.total_assets),
    ).size_class


def client_facts(client: client_pb2.Client) -> ClientFacts:
    """Return the segmentation facts of a Client message."""
    founded = to_date(client.founding_date)
    assert founded is not None  # the generator always sets it
    previous = client.previous_annual_revenue
    return ClientFacts(
        size_class=size_class_of(client),
        industry_code=client.industry_code,
        region_code=client.region_code,
        ownership_type=_enum_name(
            client_pb2.OwnershipType, client.ownership_type, "OWNERSHIP_TYPE_"
        )
        or "",
        founded=founded,
        employees=client.employee_count,
        revenue_wan=wan(client.annual_revenue),
        assets_wan=wan(client.total_assets),
        registered_capital_wan=wan(client.registered_capital),
        is_project_finance=client.project_finance,
        lifecycle_state="prospect",
        revenue_prev_wan=wan(previous) if previous.currency_code else None,
    )


def owner_facts(portfolio_client: PortfolioClient) -> OwnerFacts | None:
    """Return the owner facts the service derives: those of the legal representative."""
    for request in portfolio_client.key_persons:
        person = request.key_person
        if person.role == client_pb2.KEY_PERSON_ROLE_LEGAL_REPRESENTATIVE:
            return OwnerFacts(
                birth_date=to_date(person.birth_date),
                gender=_enum_name(client_pb2.Gender, person.gender, "GENDER_"),
                education=_enum_name(client_pb2.Education, person.education, "EDUCATION_"),
                occupation=person.occupation or None,
                income_band=_enum_name(client_pb2.IncomeBand, person.income_band, "INCOME_BAND_"),
            )
    return None


def activity_facts(portfolio_client: PortfolioClient) -> ActivityFacts:
    """Return the activity facts of the later period, compared with the earlier one."""
    earlier, later = sorted(
        portfolio_client.activity,
        key=lambda s: (s.period_end.year, s.period_end.month, s.period_end.day),
    )
    return ActivityFacts(
        txn_count_90d=later.transaction_count,
        txn_count_prev_90d=earlier.transaction_count,
        inflow_90d_wan=wan(later.inflow),
        outflow_90d_wan=wan(later.outflow),
        avg_balance_wan=wan(later.average_balance),
        prev_avg_balance_wan=wan(earlier.average_balance),
        end_balance_wan=wan(later.end_balance),
        products_used=later.products_used,
        loan_products_used=later.loan_products_used,
        last_txn_date=to_date(later.last_transaction_date),
    )


def client_features(portfolio_client: PortfolioClient, *, as_of: date) -> dict[str, object]:
    """Return the feature mapping the service will evaluate for a freshly loaded client."""
    return build_features(
        client=client_facts(portfolio_client.create.client),
        owner=owner_facts(portfolio_client),
        activity=activity_facts(portfolio_client),
        credit=None,
        today=as_of,
    )


def expected_segments(portfolio_client: PortfolioClient, *, as_of: date) -> frozenset[str]:
    """Return the ids of the built-in segments the client should join once loaded."""
    features = client_features(portfolio_client, as_of=as_of)
    return frozenset(evaluate_memberships(_BUILTIN_SEGMENTS, features))
