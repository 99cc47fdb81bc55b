"""Describe the features segment rules may read, the facts they are built from, and grade tiers.

The catalogue is what ``compile_expression(..., known_features=KNOWN_FEATURES)`` checks rule
text against; ``engine.build_features`` turns the facts dataclasses below into that mapping.
Money is in 万元 (10,000 CNY) as Decimal; fractions are Decimal (derived) or float (PD).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

FeatureType = Literal["number", "string", "bool"]

SIZE_CLASSES = frozenset({"large", "medium", "small", "micro"})
OWNERSHIP_TYPES = frozenset({"state_owned", "private", "foreign", "collective", "mixed"})
WARNING_LEVELS = frozenset({"blue", "yellow", "orange", "red"})

# Master scale MS-2027.1 of the risk service, best first; the position (1-based) is the grade
# rank. DOMAIN.md §9. Grades of the older MS-2026.1 are all on it.
MASTER_SCALE = (
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-",
    "BB+", "BB", "BB-", "B+", "B", "B-", "CCC+", "CCC-C", "D",
)  # fmt: skip
# CCC–C is one band on the scale, so each grade inside it (and each spelling) maps to it.
_GRADE_ALIASES = {"CCC": "CCC-C", "CC": "CCC-C", "C": "CCC-C"}
_RANKS = {grade: rank for rank, grade in enumerate(MASTER_SCALE, start=1)}

CREDIT_TIERS = ("prime", "strong", "standard", "sub_investment", "distressed", "default", "unrated")
# Highest (worst) rank of each tier, checked in order.
_TIER_UPPER_RANKS = (
    ("prime", _RANKS["AA-"]),
    ("strong", _RANKS["A-"]),
    ("standard", _RANKS["BBB-"]),
    ("sub_investment", _RANKS["B-"]),
    ("distressed", _RANKS["CCC-C"]),
    ("default", _RANKS["D"]),
)


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One feature a rule may reference: its dotted name, value type and meaning."""

    name: str
    type: FeatureType
    description: str


_CATALOGUE = (
    FeatureSpec("client.size_class", "string", "MIIT size class: large/medium/small/micro"),
    FeatureSpec("client.industry_code", "string", "GB/T 4754-2017 code, e.g. 'C3011'"),
    FeatureSpec("client.industry_section", "string", "GB/T 4754 section letter, e.g. 'C'"),
    FeatureSpec("client.industry_division", "string", "GB/T 4754 two-digit division, e.g. '30'"),
    FeatureSpec("client.region_code", "string", "Six-digit administrative division code"),
    FeatureSpec("client.region_province", "string", "Province part of the region code, e.g. '44'"),
    FeatureSpec(
        "client.ownership_type", "string", "state_owned/private/foreign/collective/mixed"
    ),
    FeatureSpec("client.firm_age_years", "number", "Completed years since founding"),
    FeatureSpec("client.employees", "number", "Number of employees"),
    FeatureSpec("client.revenue_wan", "number", "Operating revenue, latest year, 万元"),
    FeatureSpec("client.assets_wan", "number", "Total assets, 万元"),
    FeatureSpec("client.registered_capital_wan", "number", "Registered capital, 万元"),
    FeatureSpec("client.is_project_finance", "bool", "Client is a project-finance borrower"),
    FeatureSpec("client.lifecycle_state", "string", "Client lifecycle state"),
    FeatureSpec("client.revenue_growth", "number", "Revenue growth year on year (0.2 = 20%)"),
    FeatureSpec("owner.age", "number", "Age in years of the legal representative / controller"),
    FeatureSpec("owner.gender", "string", "Gender of the legal representative / controller"),
    FeatureSpec("owner.education", "string", "Highest education: bachelor/master/doctorate/other"),
    FeatureSpec("owner.occupation", "string", "Occupation of the legal representative"),
    FeatureSpec("owner.income_band", "string", "below_500k / 500k_2m / above_2m"),
    FeatureSpec("activity.txn_count_90d", "number", "Account transactions, last 90 days"),
    FeatureSpec("activity.txn_count_prev_90d", "number", "Account transactions, prior 90 days"),
    FeatureSpec("activity.inflow_90d_wan", "number", "Credits to accounts, last 90 days, 万元"),
    FeatureSpec("activity.outflow_90d_wan", "number", "Debits from accounts, last 90 days, 万元"),
    FeatureSpec("activity.avg_balance_wan", "number", "Average daily balance, last 90 days, 万元"),
    FeatureSpec("activity.end_balance_wan", "number", "Balance at the end of the period, 万元"),
    FeatureSpec(
        "activity.balance_trend", "number", "Change of average balance vs prior period (-0.3)"
    ),
    FeatureSpec("activity.products_used", "number", "Number of bank products in use"),
    FeatureSpec("activity.loan_products_used", "number", "Number of loan products in use"),
    FeatureSpec("activity.days_since_last_txn", "number", "Days since the last transaction"),
    FeatureSpec("credit.grade", "string", "Master-scale grade, e.g. 'AA-'; null if unrated"),
    FeatureSpec("credit.grade_rank", "number", "1 = AAA ... 18 = CCC-C, 19 = D; null if unrated"),
    FeatureSpec("credit.tier", "string", "prime/strong/standard/sub_investment/distressed/..."),
    FeatureSpec("credit.pd", "number", "One-year probability of default (0.01 = 1%)"),
    FeatureSpec("credit.potential_risk", "bool", "Flagged as potential risk by a warning"),
    FeatureSpec("credit.warning_level", "string", "Highest open warning: blue/yellow/orange/red"),
)

FEATURES: dict[str, FeatureSpec] = {spec.name: spec for spec in _CATALOGUE}
KNOWN_FEATURES = frozenset(FEATURES)


def normalize_grade(grade: str) -> str:
    """Return the master-scale spelling of ``grade`` ('ccc–c' -> 'CCC-C') or raise ValueError."""
    # Rating reports write the band with an en dash, an em dash or a hyphen.
    spelled = grade.strip().upper().replace("–", "-").replace("—", "-")
    canonical = _GRADE_ALIASES.get(spelled, spelled)
    if canonical not in _RANKS:
        raise ValueError(f"unknown credit grade {grade!r}; expected one of {MASTER_SCALE}")
    return canonical


def grade_rank(grade: str) -> int:
    """Return the 1-based rank of ``grade`` on the master scale (AAA = 1, D = 19)."""
    return _RANKS[normalize_grade(grade)]


def credit_tier(grade: str | None) -> str:
    """Return the credit tier of ``grade``; None or an empty grade is 'unrated'."""
    if grade is None or not grade.strip():
        return "unrated"
    rank = grade_rank(grade)
    return next(tier for tier, upper in _TIER_UPPER_RANKS if rank <= upper)


@dataclass(frozen=True, slots=True)
class ClientFacts:
    """Stored attributes of the client firm that segmentation reads."""

    size_class: str
    industry_code: str
    region_code: str
    ownership_type: str
    founded: date
    employees: int
    revenue_wan: Decimal
    assets_wan: Decimal
    registered_capital_wan: Decimal
    is_project_finance: bool
    lifecycle_state: str
    revenue_prev_wan: Decimal | None = None

    def __post_init__(self) -> None:
        """Reject vocabulary the segment rules would silently never match."""
        if self.size_class not in SIZE_CLASSES:
            raise ValueError(f"size_class {self.size_class!r} not in {sorted(SIZE_CLASSES)}")
        if self.ownership_type not in OWNERSHIP_TYPES:
            raise ValueError(
                f"ownership_type {self.ownership_type!r} not in {sorted(OWNERSHIP_TYPES)}"
            )


@dataclass(frozen=True, slots=True)
class OwnerFacts:
    """Facts about the legal representative / actual controller."""

    birth_date: date | None
    gender: str | None
    education: str | None
    occupation: str | None
    income_band: str | None


@dataclass(frozen=True, slots=True)
class ActivityFacts:
    """Behavioural aggregates of the client's accounts over the last and prior 90 days."""

    txn_count_90d: int
    txn_count_prev_90d: int
    inflow_90d_wan: Decimal
    outflow_90d_wan: Decimal
    avg_balance_wan: Decimal
    prev_avg_balance_wan: Decimal | None
    end_balance_wan: Decimal
    products_used: int
    loan_products_used: int
    last_txn_date: date | None


@dataclass(frozen=True, slots=True)
class CreditFacts:
    """The client's current rating and warning state as last reported by risk."""

    grade: str | None
    pd: float | None
    potential_risk: bool
    warning_level: str | None

    def __post_init__(self) -> None:
        """Reject unknown grades and warning levels at the boundary, not mid-segmentation."""
        if self.grade is not None and self.grade.strip():
            normalize_grade(self.grade)
        if self.warning_level is not None and self.warning_level not in WARNING_LEVELS:
            raise ValueError(
                f"warning_level {self.warning_level!r} not in {sorted(WARNING_LEVELS)}"
            )
