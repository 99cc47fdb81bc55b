"""Build realistic client facts for the segmentation and recommendation tests.

Not a test module: the segmentation test files import it (pytest puts this folder on sys.path
because tests folders have no __init__.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from crm_client.segmentation.engine import (
    build_features,
    compile_builtin_segments,
    evaluate_memberships,
)
from crm_client.segmentation.features import ActivityFacts, ClientFacts, CreditFacts, OwnerFacts

TODAY = date(2025, 6, 30)
BUILTINS = compile_builtin_segments()


def client_facts(**changes: object) -> ClientFacts:
    """Return a medium private cement maker in Shenzhen, changed by keyword."""
    base = ClientFacts(
        size_class="medium",
        industry_code="C3011",
        region_code="440300",
        ownership_type="private",
        founded=date(2012, 3, 15),
        employees=450,
        revenue_wan=Decimal(18000),
        assets_wan=Decimal(22000),
        registered_capital_wan=Decimal(5000),
        is_project_finance=False,
        lifecycle_state="active",
        revenue_prev_wan=Decimal(16000),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def owner_facts(**changes: object) -> OwnerFacts:
    """Return a 45-year-old engineer with a master's degree, changed by keyword."""
    base = OwnerFacts(
        birth_date=date(1980, 5, 1),
        gender="male",
        education="master",
        occupation="engineer",
        income_band="500k_2m",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def activity_facts(**changes: object) -> ActivityFacts:
    """Return steady, moderately active accounts with one loan, changed by keyword."""
    base = ActivityFacts(
        txn_count_90d=45,
        txn_count_prev_90d=40,
        inflow_90d_wan=Decimal(6000),
        outflow_90d_wan=Decimal(5800),
        avg_balance_wan=Decimal(1500),
        prev_avg_balance_wan=Decimal(1450),
        end_balance_wan=Decimal(1520),
        products_used=4,
        loan_products_used=1,
        last_txn_date=TODAY - timedelta(days=2),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def credit_facts(**changes: object) -> CreditFacts:
    """Return a clean A rating with no warnings, changed by keyword."""
    base = CreditFacts(grade="A", pd=0.005, potential_risk=False, warning_level=None)
    return replace(base, **changes)  # type: ignore[arg-type]


def features_of(
    client: ClientFacts | None = None,
    owner: OwnerFacts | None = None,
    activity: ActivityFacts | None = None,
    credit: CreditFacts | None = None,
) -> dict[str, object]:
    """Return build_features for the given facts, defaulting each to its factory."""
    return build_features(
        client=client or client_facts(),
        owner=owner or owner_facts(),
        activity=activity or activity_facts(),
        credit=credit or credit_facts(),
        today=TODAY,
    )


def segments_of(features: dict[str, object]) -> set[str]:
    """Return the built-in segments ``features`` belong to."""
    return evaluate_memberships(BUILTINS, features)


def young_tech_founder() -> dict[str, object]:
    """Return a two-year-old software micro firm doubling revenue, run by a 32-year-old PhD."""
    return features_of(
        client=client_facts(
            size_class="micro", industry_code="I6513", founded=date(2023, 4, 1), employees=8,
            revenue_wan=Decimal(120), revenue_prev_wan=Decimal(60), assets_wan=Decimal(300),
            registered_capital_wan=Decimal(100),
        ),
        owner=owner_facts(birth_date=date(1993, 2, 10), education="doctorate"),
        activity=activity_facts(
            txn_count_90d=35, avg_balance_wan=Decimal(80), prev_avg_balance_wan=Decimal(60),
            loan_products_used=0,
        ),
        credit=credit_facts(grade="A+", pd=0.0035),
    )  # fmt: skip


def state_steel_mill() -> dict[str, object]:
    """Return a large, old state-owned steel maker with heavy balances and three loans."""
    return features_of(
        client=client_facts(
            size_class="large", industry_code="C3120", region_code="130200",
            ownership_type="state_owned", founded=date(1995, 7, 1), employees=12000,
            revenue_wan=Decimal(2_100_000), revenue_prev_wan=Decimal(2_000_000),
        ),
        owner=owner_facts(birth_date=date(1962, 11, 3), education="bachelor"),
        activity=activity_facts(
            txn_count_90d=180, txn_count_prev_90d=170, avg_balance_wan=Decimal(8000),
            prev_avg_balance_wan=Decimal(7800), loan_products_used=3, products_used=9,
        ),
        credit=credit_facts(grade="AA", pd=0.0015),
    )  # fmt: skip


def dormant_developer() -> dict[str, object]:
    """Return a private property developer whose accounts went quiet and whose cash collapsed."""
    return features_of(
        client=client_facts(
            industry_code="K7010", founded=date(2008, 1, 20),
            revenue_wan=Decimal(45000), revenue_prev_wan=Decimal(30000),
        ),
        owner=owner_facts(birth_date=date(1973, 8, 8), education="other"),
        activity=activity_facts(
            txn_count_90d=0, txn_count_prev_90d=25, avg_balance_wan=Decimal(30),
            prev_avg_balance_wan=Decimal(400), loan_products_used=2,
            last_txn_date=TODAY - timedelta(days=140),
        ),
        credit=credit_facts(grade="BB", pd=0.04),
    )  # fmt: skip


def flagged_wind_farm() -> dict[str, object]:
    """Return a project-finance wind farm with a red warning open."""
    return features_of(
        client=client_facts(
            industry_code="D4415", region_code="150100", ownership_type="state_owned",
            founded=date(2019, 9, 1), is_project_finance=True, employees=60,
        ),
        owner=owner_facts(birth_date=date(1970, 1, 1)),
        credit=credit_facts(grade="BBB", potential_risk=True, warning_level="red"),
    )  # fmt: skip


def cash_rich_wholesaler() -> dict[str, object]:
    """Return a busy wholesaler with a large balance and no loans."""
    return features_of(
        client=client_facts(industry_code="F5123", size_class="medium", founded=date(2016, 5, 5)),
        owner=owner_facts(birth_date=date(1958, 3, 3), education="bachelor"),
        activity=activity_facts(
            txn_count_90d=95, avg_balance_wan=Decimal(2500), prev_avg_balance_wan=Decimal(2400),
            loan_products_used=0,
        ),
        credit=credit_facts(grade="AA-"),
    )  # fmt: skip
