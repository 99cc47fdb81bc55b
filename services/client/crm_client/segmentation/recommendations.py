"""Derive next-best-action recommendations for a client from its features and segments.

Rules are deterministic and explainable: every recommendation carries a reason that names the
facts it rests on, so an RM can check it. Products that extend new credit (growth loans,
supply-chain finance) are never offered to clients in the distressed or default tiers or with
any potential-risk signal; those clients get risk-side actions instead. Lower priority numbers
come first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from crm_client.segmentation.builtin import (
    SEGMENT_DECLINING_BALANCE,
    SEGMENT_DORMANT,
    SEGMENT_POTENTIAL_RISK,
)
from crm_client.segmentation.features import CREDIT_TIERS, credit_tier

HIGH_GROWTH = Decimal("0.2")
DECLINING_BALANCE = Decimal("-0.3")
BALANCE_COLLAPSE = Decimal("-0.5")
DORMANT_DAYS = 90
HIGH_ACTIVITY_TXNS_90D = 30
HIGH_BALANCE_WAN = Decimal(1000)  # 10 million CNY
WHOLESALE_DIVISION = "51"

_NEW_CREDIT_TIERS = frozenset({"prime", "strong"})
_NO_NEW_CREDIT_TIERS = frozenset({"distressed", "default"})
_ALARMING_WARNINGS = frozenset({"orange", "red"})


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One suggested action for the RM, with the reason in terms of the client's facts."""

    code: str
    title: str
    title_zh: str
    reason: str
    priority: int


@dataclass(frozen=True, slots=True)
class _Facts:
    """The features the rules read, parsed once; None wherever the value is unknown."""

    grade: str | None
    tier: str
    revenue_growth: Decimal | None
    industry_code: str | None
    section: str | None
    division: str | None
    txn_count_90d: Decimal | None
    days_since_last_txn: Decimal | None
    avg_balance_wan: Decimal | None
    balance_trend: Decimal | None
    loan_products_used: Decimal | None
    is_project_finance: bool
    risk_signals: tuple[str, ...]


def recommend(features: Mapping[str, object], segments: set[str]) -> list[Recommendation]:
    """Return the recommendations for a client, most urgent first."""
    facts = _read_facts(features, segments)
    found = (rule(facts, segments) for rule in _RULES)
    return sorted(
        (item for item in found if item is not None), key=lambda item: (item.priority, item.code)
    )


def _number(features: Mapping[str, object], name: str) -> Decimal | None:
    value = features.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return number if number.is_finite() else None


def _text(features: Mapping[str, object], name: str) -> str | None:
    value = features.get(name)
    return value if isinstance(value, str) and value else None


def _tier(features: Mapping[str, object]) -> str:
    tier = _text(features, "credit.tier")
    if tier in CREDIT_TIERS:
        return tier
    try:
        return credit_tier(_text(features, "credit.grade"))
    except ValueError:  # An unknown grade cannot justify any credit decision.
        return "unrated"


def _percent(fraction: Decimal) -> str:
    return f"{abs(fraction) * 100:.0f}%"


def _cny(wan: Decimal) -> str:
    return f"CNY {wan / 100:,.1f}m"  # 100 万 = 1 million CNY.


def _read_facts(features: Mapping[str, object], segments: set[str]) -> _Facts:
    trend = _number(features, "activity.balance_trend")
    warning = _text(features, "credit.warning_level")
    signals: list[str] = []
    if features.get("credit.potential_risk") is True:
        signals.append("potential-risk flag raised by an early warning")
    if warning in _ALARMING_WARNINGS:
        signals.append(f"open {warning} warning")
    if trend is not None and trend < BALANCE_COLLAPSE:
        signals.append(f"average balance collapsed by {_percent(trend)}")
    if SEGMENT_POTENTIAL_RISK in segments and not signals:
        signals.append(f"member of segment {SEGMENT_POTENTIAL_RISK}")
    return _Facts(
        grade=_text(features, "credit.grade"),
        tier=_tier(features),
        revenue_growth=_number(features, "client.revenue_growth"),
        industry_code=_text(features, "client.industry_code"),
        section=_text(features, "client.industry_section"),
        division=_text(features, "client.industry_division"),
        txn_count_90d=_number(features, "activity.txn_count_90d"),
        days_since_last_txn=_number(features, "activity.days_since_last_txn"),
        avg_balance_wan=_number(features, "activity.avg_balance_wan"),
        balance_trend=trend,
        loan_products_used=_number(features, "activity.loan_products_used"),
        is_project_finance=features.get("client.is_project_finance") is True,
        risk_signals=tuple(signals),
    )


def _grade_phrase(facts: _Facts) -> str:
    if facts.grade is None:
        return f"{facts.tier} tier"
    return f"grade {facts.grade} ({facts.tier} tier)"


def _may_extend_credit(facts: _Facts) -> bool:
    return facts.tier not in _NO_NEW_CREDIT_TIERS and not facts.risk_signals


def _asset_preservation(facts: _Facts, segments: set[str]) -> Recommendation | None:
    if facts.tier not in _NO_NEW_CREDIT_TIERS:
        return None
    return Recommendation(
        "ASSET_PRESERVATION_REVIEW", "Workout and asset-preservation review",
        "风险化解与资产保全评估",
        f"{_grade_phrase(facts)}: assess restructuring, collateral and recovery options",
        5,
    )  # fmt: skip


def _credit_enhancement(facts: _Facts, segments: set[str]) -> Recommendation | None:
    reasons = list(facts.risk_signals)
    if facts.tier == "sub_investment":
        reasons.insert(0, _grade_phrase(facts))
    if not reasons:
        return None
    return Recommendation(
        "CREDIT_ENHANCEMENT", "Credit enhancement: guarantee or collateral",
        "担保增信方案（保证、抵质押）",
        "; ".join(reasons) + ": secure existing exposure with a guarantee or collateral",
        10,
    )  # fmt: skip


def _risk_review_visit(facts: _Facts, segments: set[str]) -> Recommendation | None:
    trend = facts.balance_trend
    if trend is not None and trend <= DECLINING_BALANCE:
        balance = "" if facts.avg_balance_wan is None else f" to {_cny(facts.avg_balance_wan)}"
        reason = f"average balance fell {_percent(trend)} vs the previous 90 days{balance}"
    elif SEGMENT_DECLINING_BALANCE in segments:
        reason = f"member of segment {SEGMENT_DECLINING_BALANCE}"
    else:
        return None
    return Recommendation(
        "RISK_REVIEW_VISIT", "Risk review visit", "贷后风险排查走访",
        reason + ": visit to check operations and where the money went",
        12,
    )  # fmt: skip


def _reactivation_call(facts: _Facts, segments: set[str]) -> Recommendation | None:
    days = facts.days_since_last_txn
    if days is not None and days >= DORMANT_DAYS:
        reason = f"no transaction for {days:.0f} days"
    elif facts.txn_count_90d == 0:
        reason = "no transactions in the last 90 days"
    elif SEGMENT_DORMANT in segments:
        reason = f"member of segment {SEGMENT_DORMANT}"
    else:
        return None
    return Recommendation(
        "REACTIVATION_CALL", "Reactivation call", "沉睡客户激活回访",
        reason + ": call to learn why the accounts went quiet",
        15,
    )  # fmt: skip


def _growth_loan(facts: _Facts, segments: set[str]) -> Recommendation | None:
    growth = facts.revenue_growth
    eligible = facts.tier in _NEW_CREDIT_TIERS and _may_extend_credit(facts)
    if growth is None or growth < HIGH_GROWTH or not eligible:
        return None
    return Recommendation(
        "TAILORED_GROWTH_LOAN", "Tailored growth loan", "成长型企业定制贷款",
        f"revenue grew {_percent(growth)} yoy and {_grade_phrase(facts)}",
        20,
    )  # fmt: skip


def _supply_chain_finance(facts: _Facts, segments: set[str]) -> Recommendation | None:
    if facts.section == "C":
        industry = "manufacturing"
    elif facts.division == WHOLESALE_DIVISION:
        industry = "wholesale"
    else:
        return None
    count = facts.txn_count_90d
    if count is None or count < HIGH_ACTIVITY_TXNS_90D or not _may_extend_credit(facts):
        return None
    return Recommendation(
        "SUPPLY_CHAIN_FINANCE", "Supply-chain and trade finance", "供应链及贸易融资",
        f"{industry} ({facts.industry_code}) with {count:.0f} transactions in 90 days",
        30,
    )  # fmt: skip


def _project_finance_monitoring(facts: _Facts, segments: set[str]) -> Recommendation | None:
    if not facts.is_project_finance:
        return None
    return Recommendation(
        "PROJECT_FINANCE_MONITORING", "Project-finance monitoring package",
        "项目融资贷后监测服务包",
        "project-finance client: track milestones, drawdowns and project cash flows",
        35,
    )  # fmt: skip


def _cash_management(facts: _Facts, segments: set[str]) -> Recommendation | None:
    balance = facts.avg_balance_wan
    if balance is None or balance < HIGH_BALANCE_WAN or facts.loan_products_used != 0:
        return None
    return Recommendation(
        "CASH_MANAGEMENT", "Cash management and structured deposits", "现金管理及协定存款",
        f"average balance {_cny(balance)} and no loan products",
        40,
    )  # fmt: skip


_RULES: tuple[Callable[[_Facts, set[str]], Recommendation | None], ...] = (
    _asset_preservation,
    _credit_enhancement,
    _risk_review_visit,
    _reactivation_call,
    _growth_loan,
    _supply_chain_finance,
    _project_finance_monitoring,
    _cash_management,
)
