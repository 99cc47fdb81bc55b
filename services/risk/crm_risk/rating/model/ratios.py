"""Financial ratios of one period (DOMAIN §9 and the CAS items a lender adds to them).

Ratios are floats: they feed scorecards and comparisons, not the ledger. A ratio is
None when it is undefined (a zero denominator, or no previous period for growth).
Leverage ratios whose denominator is zero or negative while debt is positive are
``math.inf``: a firm with debt and no EBITDA (or no equity) is worse than any finite
multiple, and None would hide that from the warning and scorecard rules.

Debt includes what Chinese firms fund themselves with besides loans: bank acceptances
(notes payable), the current portion of long-term debt and shareholder loans. Interest
cover counts capitalised interest, which a developer pays in cash like any other.
Flow amounts are annualised for periods that are not a year, so a quarter's ROA or
receivable days compare with an annual benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Final

from crm_risk.rating.model.statements import FinancialStatement

RATIO_NAMES: Final[tuple[str, ...]] = (
    "debt_to_assets", "current_ratio", "quick_ratio", "interest_cover", "ocf",
    "ocf_to_current_liabilities", "roa", "roe", "revenue_growth", "receivable_days",
    "inventory_days", "debt_to_ebitda", "net_gearing", "cash_to_short_debt",
    "debt_ratio_ex_advances", "ocf_to_liabilities", "refinancing_gap", "ebitda_margin",
    "impairment_to_assets",
)
DAYS_PER_YEAR: Final = 365.0


@dataclass(frozen=True)
class Ratios:
    """Ratios of one period; ``yoy`` holds relative changes against the previous one."""

    debt_to_assets: float | None = None
    current_ratio: float | None = None
    quick_ratio: float | None = None
    # EBIT / (interest expense + capitalised interest); None when no interest was incurred.
    interest_cover: float | None = None
    ocf: float | None = None
    ocf_to_current_liabilities: float | None = None
    roa: float | None = None
    roe: float | None = None
    revenue_growth: float | None = None
    receivable_days: float | None = None
    inventory_days: float | None = None
    debt_to_ebitda: float | None = None
    net_gearing: float | None = None
    # Cash / (short-term debt + notes payable + current portion of long-term debt): 现金短债比.
    cash_to_short_debt: float | None = None
    debt_ratio_ex_advances: float | None = None
    ocf_to_liabilities: float | None = None
    # (Short-term funding − cash) / total assets: what must be rolled over, net of cash.
    refinancing_gap: float | None = None
    ebitda_margin: float | None = None
    impairment_to_assets: float | None = None
    # Consecutive years of negative operating cash flow ending with this one (0-2).
    ocf_negative_years: int = 0
    # Whether EBIT was negative, which an undefined interest cover must not hide.
    ebit_negative: bool = False
    yoy: dict[str, float | None] = field(default_factory=dict)

    def value(self, name: str) -> float | None:
        """Return a ratio by name; ``yoy.<name>`` reads a year-on-year change."""
        if name.startswith("yoy."):
            return self.yoy.get(name[4:])
        raw = getattr(self, name)
        return None if raw is None else float(raw)


def _div(numerator: float, denominator: float) -> float | None:
    """Return numerator / denominator, or None when the denominator is zero."""
    return None if denominator == 0 else numerator / denominator


def _leverage(debt: float, base: float) -> float | None:
    """Return debt / base with a non-positive base treated as unbounded leverage."""
    if base > 0:
        return debt / base
    if debt > 0:
        return math.inf
    return 0.0 if debt == 0 else None


def annual_factor(st: FinancialStatement) -> float:
    """Return the factor that scales the period's flows to a year."""
    days = st.period_days
    # Calendar years (365 or 366 days) and 52/53-week years count as a year exactly.
    return 1.0 if 360 <= days <= 371 else DAYS_PER_YEAR / days


def _avg(current: Decimal, previous: Decimal | None) -> float:
    """Return the average of two balances, or the current one alone."""
    return float(current) if previous is None else float(current + previous) / 2


def relative_change(now: float | None, before: float | None) -> float | None:
    """Return (now - before) / |before|, or None when it is undefined."""
    if now is None or before is None or before == 0:
        return None
    if not (math.isfinite(now) and math.isfinite(before)):
        return None
    return (now - before) / abs(before)


def _flow_ratios(current: FinancialStatement, previous: FinancialStatement | None) -> Ratios:
    """Return the ratios that need flows (annualised) and average balances."""
    bs, inc, cf = current.balance, current.income, current.cash_flow
    prev_bs = previous.balance if previous is not None else None
    annual = annual_factor(current)
    revenue = float(inc.revenue) * annual
    net_profit = float(inc.net_profit) * annual
    ocf = float(cf.operating_cash_flow) * annual
    avg_equity = _avg(bs.equity, prev_bs.equity if prev_bs else None)
    receivable_ratio = _div(_avg(bs.receivables, prev_bs.receivables if prev_bs else None),
                            revenue)
    inventory_ratio = _div(_avg(bs.inventory, prev_bs.inventory if prev_bs else None),
                           float(inc.cost_of_sales) * annual)
    return Ratios(
        interest_cover=_div(float(inc.ebit), float(inc.total_interest())),
        ocf=float(cf.operating_cash_flow),
        ocf_to_current_liabilities=_div(ocf, float(bs.current_liabilities)),
        ocf_to_liabilities=_div(ocf, float(bs.total_liabilities)),
        roa=_div(net_profit, _avg(bs.total_assets, prev_bs.total_assets if prev_bs else None)),
        # Return on negative equity has no meaningful sign, so it is left undefined.
        roe=net_profit / avg_equity if avg_equity > 0 else None,
        receivable_days=None if receivable_ratio is None else receivable_ratio * DAYS_PER_YEAR,
        inventory_days=None if inventory_ratio is None else inventory_ratio * DAYS_PER_YEAR,
        debt_to_ebitda=_leverage(float(bs.interest_bearing_debt()),
                                 float(inc.effective_ebitda()) * annual),
        ebitda_margin=_div(float(inc.effective_ebitda()), float(inc.revenue)),
        impairment_to_assets=_div(float(inc.impairment_losses) * annual, float(bs.total_assets)),
        ebit_negative=inc.ebit < 0,
    )


def compute_ratios(current: FinancialStatement, previous: FinancialStatement | None) -> Ratios:
    """Compute every ratio for ``current``, using ``previous`` for averages and yoy.

    Inputs are assumed to have passed ``statement_violations``.
    """
    bs = current.balance
    short_funding = float(bs.short_term_funding())
    revenue_growth: float | None = None
    ocf_negative = current.cash_flow.operating_cash_flow < 0
    ocf_negative_years = 1 if ocf_negative else 0
    if previous is not None:
        revenue_growth = relative_change(
            float(current.income.revenue) * annual_factor(current),
            float(previous.income.revenue) * annual_factor(previous))
        if ocf_negative and previous.cash_flow.operating_cash_flow < 0:
            ocf_negative_years = 2
    ratios = replace(
        _flow_ratios(current, previous),
        debt_to_assets=_div(float(bs.total_liabilities), float(bs.total_assets)),
        current_ratio=_div(float(bs.current_assets), float(bs.current_liabilities)),
        quick_ratio=_div(float(bs.current_assets - bs.inventory), float(bs.current_liabilities)),
        revenue_growth=revenue_growth,
        net_gearing=_leverage(float(bs.interest_bearing_debt() - bs.cash), float(bs.equity)),
        cash_to_short_debt=_div(float(bs.cash), short_funding),
        debt_ratio_ex_advances=_leverage(
            float(bs.total_liabilities - bs.advance_receipts),
            float(bs.total_assets - bs.advance_receipts),
        ),
        refinancing_gap=_div(short_funding - float(bs.cash), float(bs.total_assets)),
        ocf_negative_years=ocf_negative_years,
    )
    if previous is None:
        return ratios
    before = compute_ratios(previous, None)
    yoy = {name: relative_change(ratios.value(name), before.value(name)) for name in RATIO_NAMES}
    return replace(ratios, yoy=yoy)
