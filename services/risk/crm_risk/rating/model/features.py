"""The scorecard's raw features: one period's ratios, the firm's age and its trends.

``rating_features`` reads up to the three latest statements (oldest first) and returns
named values; the fitted scorecard bins them. Trend features need two statements and are
None for a firm with one; firm age comes from the founding date on the latest statement,
or, when nobody gave it, from the span the statements cover (a firm we know for one year
is treated as a start-up: we cannot tell it from one).

The revenue trend is read only for established firms (ESTABLISHED_YEARS): a young firm's
growth is its ramp-up, which is fast for every start-up that survives and says nothing of
its franchise (the age factor prices the start-up risk). Among established firms, falling
revenue is a risk and growth is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from crm_risk.rating.model.ratios import Ratios, annual_factor, compute_ratios
from crm_risk.rating.model.statements import FinancialStatement

MAX_STATEMENTS: Final = 3
DAYS_PER_YEAR: Final = 365.25
STARTUP_YEARS: Final = 3.0
ESTABLISHED_YEARS: Final = 5.0

Feature = float | str | None


@dataclass(frozen=True)
class RatingFeatures:
    """The feature values of one client at its latest statement, and the ratios behind them."""

    values: dict[str, Feature]
    ratios: Ratios
    statements: int
    firm_age_years: float
    age_known: bool

    @property
    def startup(self) -> bool:
        """Return True for a start-up: under three years old, or known for one period only."""
        return self.firm_age_years < STARTUP_YEARS


def interest_cover_feature(ratios: Ratios) -> float | None:
    """Return interest cover for scoring: no interest with a loss is the worst case.

    A firm that incurred no interest has nothing to cover, which is good news only if it
    earns money: with negative EBIT it is scored as if cover were minus infinity.
    """
    if ratios.interest_cover is not None:
        return ratios.interest_cover
    return -math.inf if ratios.ebit_negative else math.inf


def _cagr(first: FinancialStatement, last: FinancialStatement) -> float | None:
    """Return compound annual revenue growth between two statements' annualised revenue."""
    before = float(first.income.revenue) * annual_factor(first)
    after = float(last.income.revenue) * annual_factor(last)
    years = (last.period_end - first.period_end).days / DAYS_PER_YEAR
    if before <= 0 or after <= 0 or years <= 0:
        return None
    return float((after / before) ** (1 / years) - 1)


def _debt_ratio(st: FinancialStatement) -> float | None:
    assets = st.balance.total_assets
    return None if assets <= 0 else float(st.balance.total_liabilities / assets)


def _margin(st: FinancialStatement) -> float | None:
    revenue = st.income.revenue
    return None if revenue <= 0 else float(st.income.effective_ebitda() / revenue)


def _ocf_to_assets(st: FinancialStatement) -> float | None:
    assets = st.balance.total_assets
    return None if assets <= 0 else float(st.cash_flow.operating_cash_flow) * annual_factor(
        st) / float(assets)


def _against_earlier(values: Sequence[float | None]) -> float | None:
    """Return the latest value minus the mean of the earlier ones (None if either lacks)."""
    earlier = [v for v in values[:-1] if v is not None]
    latest = values[-1]
    return None if latest is None or not earlier else latest - sum(earlier) / len(earlier)


def _trends(history: Sequence[FinancialStatement], age: float) -> dict[str, Feature]:
    """Return revenue, leverage, margin and cash-flow trends over the statements.

    All are None for a firm with one statement; the revenue trend is also None for a firm
    younger than ESTABLISHED_YEARS (see the module's note).
    """
    if len(history) < 2:
        return {"revenue_trend": None, "leverage_trend": None, "margin_trend": None,
                "ocf_trend": None}
    first, last = history[0], history[-1]
    lev_first, lev_last = _debt_ratio(first), _debt_ratio(last)
    return {
        "revenue_trend": _cagr(first, last) if age >= ESTABLISHED_YEARS else None,
        "leverage_trend": None if lev_first is None or lev_last is None
        else lev_last - lev_first,
        "margin_trend": _against_earlier([_margin(st) for st in history]),
        # Operating cash flow against assets: revenue can collapse along with the cash.
        "ocf_trend": _against_earlier([_ocf_to_assets(st) for st in history]),
    }


def _age(history: Sequence[FinancialStatement]) -> tuple[float, bool]:
    """Return the firm's age in years at the latest period end, and whether it is known."""
    last = history[-1]
    if last.founding_date is not None:
        return max(0.0, (last.period_end - last.founding_date).days / DAYS_PER_YEAR), True
    span = (last.period_end - history[0].period_start).days + 1
    return span / DAYS_PER_YEAR, False


def _share(part: float, whole: float) -> float | None:
    return None if whole <= 0 else part / whole


def rating_features(statements: Sequence[FinancialStatement]) -> RatingFeatures:
    """Return the features of the latest statement, with up to two earlier ones for trends.

    ``statements`` may be in any order; only the three latest periods are used. Age is
    measured at the latest period end, the date the statements describe.
    """
    if not statements:
        msg = "rating features need at least one statement"
        raise ValueError(msg)
    history = sorted(statements, key=lambda st: st.period_end)[-MAX_STATEMENTS:]
    latest = history[-1]
    previous = history[-2] if len(history) > 1 else None
    ratios = compute_ratios(latest, previous)
    bs, inc, cf = latest.balance, latest.income, latest.cash_flow
    annual = annual_factor(latest)
    ocf_margins = [float(st.cash_flow.operating_cash_flow / st.income.revenue)
                   for st in history if st.income.revenue > 0]
    age, known = _age(history)
    values: dict[str, Feature] = {
        "debt_to_assets": ratios.debt_to_assets,
        "current_ratio": ratios.current_ratio,
        "quick_ratio": ratios.quick_ratio,
        "interest_cover": interest_cover_feature(ratios),
        "ocf_to_liabilities": ratios.ocf_to_liabilities,
        "ocf_margin_avg": sum(ocf_margins) / len(ocf_margins) if ocf_margins else None,
        "ocf_negative_years": float(sum(st.cash_flow.operating_cash_flow < 0 for st in history)),
        "refinancing_gap": ratios.refinancing_gap,
        "cash_to_short_debt": ratios.cash_to_short_debt if bs.short_term_funding() > 0
        else math.inf,
        "roa": ratios.roa,
        "ebitda_margin": ratios.ebitda_margin,
        "debt_to_ebitda": ratios.debt_to_ebitda,
        "receivable_days": ratios.receivable_days,
        "impairment_to_assets": ratios.impairment_to_assets,
        "shareholder_loans_to_assets": _share(float(bs.shareholder_loans),
                                              float(bs.total_assets)),
        "capitalised_interest_share": _share(float(inc.capitalised_interest),
                                             float(inc.total_interest())),
        "capex_to_revenue": _share(float(cf.capital_expenditure) * annual,
                                   float(inc.revenue) * annual),
        "log_revenue": math.log(float(inc.revenue) * annual) if inc.revenue > 0 else None,
        "log_assets": math.log(float(bs.total_assets)) if bs.total_assets > 0 else None,
        "firm_age": age,
        "audit": latest.audit_opinion if latest.audit_opinion in {"unqualified", "none"}
        else "qualified_or_worse",
        **_trends(history, age),
    }
    return RatingFeatures(values=values, ratios=ratios, statements=len(history),
                          firm_age_years=age, age_known=known)
