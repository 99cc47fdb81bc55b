"""Financial ratios (DOMAIN §9) and the warning / red signals they raise.

Ratios are floats: they feed scorecards and comparisons, not the ledger. A ratio is
None when it is undefined (a zero denominator, or no previous period for growth).
Leverage ratios whose denominator is zero or negative while debt is positive are
``math.inf``: a firm with debt and no EBITDA (or no equity) is worse than any finite
multiple, and None would hide that from the signal and scorecard rules.

Flow amounts are annualised for periods that are not a year, so a quarter's ROA or
receivable days compare with an annual benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Final, Literal

from crm_risk.rating.statements import FinancialStatement

RATIO_NAMES: Final[tuple[str, ...]] = (
    "debt_to_assets", "current_ratio", "quick_ratio", "interest_cover", "ocf",
    "ocf_to_current_liabilities", "roa", "roe", "revenue_growth", "receivable_days",
    "inventory_days", "debt_to_ebitda", "net_gearing", "cash_to_short_debt",
    "debt_ratio_ex_advances",
)
DAYS_PER_YEAR: Final = 365.0


@dataclass(frozen=True)
class Ratios:
    """Ratios of one period; ``yoy`` holds relative changes against the previous one."""

    debt_to_assets: float | None = None
    current_ratio: float | None = None
    quick_ratio: float | None = None
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
    cash_to_short_debt: float | None = None
    debt_ratio_ex_advances: float | None = None
    # Consecutive years of negative operating cash flow ending with this one (0-2).
    ocf_negative_years: int = 0
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


def _annual_factor(st: FinancialStatement) -> float:
    """Return the factor that scales the period's flows to a year."""
    days = st.period_days
    # Calendar years (365 or 366 days) and 52/53-week years count as a year exactly.
    return 1.0 if 360 <= days <= 371 else DAYS_PER_YEAR / days


def _avg(current: Decimal, previous: Decimal | None) -> float:
    """Return the average of two balances, or the current one alone."""
    return float(current) if previous is None else float(current + previous) / 2


def _relative_change(now: float | None, before: float | None) -> float | None:
    """Return (now - before) / |before|, or None when it is undefined."""
    if now is None or before is None or before == 0:
        return None
    if not (math.isfinite(now) and math.isfinite(before)):
        return None
    return (now - before) / abs(before)


def compute_ratios(current: FinancialStatement, previous: FinancialStatement | None) -> Ratios:
    """Compute every DOMAIN §9 ratio for ``current``, using ``previous`` for averages and yoy.

    Inputs are assumed to have passed ``statement_violations``.
    """
    bs, inc, cf = current.balance, current.income, current.cash_flow
    prev_bs = previous.balance if previous is not None else None
    annual = _annual_factor(current)
    revenue = float(inc.revenue) * annual
    cogs = float(inc.cost_of_sales) * annual
    net_profit = float(inc.net_profit) * annual
    ocf = float(cf.operating_cash_flow)
    interest_bearing = float(bs.short_term_debt + bs.long_term_debt)
    current_liabilities = float(bs.current_liabilities)
    avg_assets = _avg(bs.total_assets, prev_bs.total_assets if prev_bs else None)
    avg_equity = _avg(bs.equity, prev_bs.equity if prev_bs else None)
    avg_receivables = _avg(bs.receivables, prev_bs.receivables if prev_bs else None)
    avg_inventory = _avg(bs.inventory, prev_bs.inventory if prev_bs else None)
    receivable_ratio = _div(avg_receivables, revenue)
    inventory_ratio = _div(avg_inventory, cogs)

    revenue_growth: float | None = None
    ocf_negative_years = 1 if ocf < 0 else 0
    if previous is not None:
        prev_revenue = float(previous.income.revenue) * _annual_factor(previous)
        revenue_growth = _relative_change(revenue, prev_revenue)
        if ocf < 0 and previous.cash_flow.operating_cash_flow < 0:
            ocf_negative_years = 2

    ratios = Ratios(
        debt_to_assets=_div(float(bs.total_liabilities), float(bs.total_assets)),
        current_ratio=_div(float(bs.current_assets), current_liabilities),
        quick_ratio=_div(float(bs.current_assets - bs.inventory), current_liabilities),
        interest_cover=_div(float(inc.ebit), float(inc.interest_expense)),
        ocf=ocf,
        ocf_to_current_liabilities=_div(ocf * annual, current_liabilities),
        roa=_div(net_profit, avg_assets),
        # Return on negative equity has no meaningful sign, so it is left undefined.
        roe=net_profit / avg_equity if avg_equity > 0 else None,
        revenue_growth=revenue_growth,
        receivable_days=None if receivable_ratio is None else receivable_ratio * DAYS_PER_YEAR,
        inventory_days=None if inventory_ratio is None else inventory_ratio * DAYS_PER_YEAR,
        debt_to_ebitda=_leverage(interest_bearing, float(inc.effective_ebitda()) * annual),
        net_gearing=_leverage(interest_bearing - float(bs.cash), float(bs.equity)),
        cash_to_short_debt=_div(float(bs.cash), float(bs.short_term_debt)),
        debt_ratio_ex_advances=_leverage(
            float(bs.total_liabilities - bs.advance_receipts),
            float(bs.total_assets - bs.advance_receipts),
        ),
        ocf_negative_years=ocf_negative_years,
    )
    if previous is None:
        return ratios
    before = compute_ratios(previous, None)
    yoy = {name: _relative_change(ratios.value(name), before.value(name)) for name in RATIO_NAMES}
    return replace(ratios, yoy=yoy)


Severity = Literal["warning", "red"]


@dataclass(frozen=True)
class RatioSignal:
    """A ratio past its warning or red threshold."""

    code: str
    severity: Severity
    ratio: str
    value: float
    threshold: float


@dataclass(frozen=True)
class ThresholdRule:
    """Raise ``code`` when ``ratio`` is strictly above / below its warning or red level."""

    code: str
    ratio: str
    breach: Literal["above", "below"]
    warning: float
    red: float | None = None


@dataclass(frozen=True)
class RatioThresholdSet:
    """One version of the ratio signal configuration."""

    version: str
    rules: tuple[ThresholdRule, ...]
    # Debt-to-assets (warning, red) by GB/T 4754 section; "*" covers the rest.
    debt_to_assets: dict[str, tuple[float, float]]
    # Real-estate three red lines (三道红线), applied to these sections only.
    red_line_sections: frozenset[str] = frozenset({"K"})
    red_line_debt_ex_advances: float = 0.70
    red_line_net_gearing: float = 1.0
    red_line_cash_to_short_debt: float = 1.0


DEFAULT_RATIO_THRESHOLDS: Final = "RT-2026.1"
RATIO_THRESHOLDS: Final[dict[str, RatioThresholdSet]] = {
    "RT-2026.1": RatioThresholdSet(
        version="RT-2026.1",
        rules=(
            ThresholdRule("CURRENT_RATIO_LOW", "current_ratio", "below", 1.2, 1.0),
            ThresholdRule("QUICK_RATIO_LOW", "quick_ratio", "below", 0.8, 0.5),
            ThresholdRule("INTEREST_COVER_LOW", "interest_cover", "below", 2.0, 1.0),
            # Negative 1 year is a warning, 2 years running is red.
            ThresholdRule("OCF_NEGATIVE", "ocf_negative_years", "above", 0, 1),
            ThresholdRule("OCF_COVER_LOW", "ocf_to_current_liabilities", "below", 0.2),
            ThresholdRule("ROA_LOW", "roa", "below", 0.01, 0.0),
            ThresholdRule("ROE_LOW", "roe", "below", 0.03, 0.0),
            ThresholdRule("REVENUE_DECLINE", "revenue_growth", "below", -0.10, -0.30),
            ThresholdRule("RECEIVABLE_DAYS_UP", "yoy.receivable_days", "above", 0.30),
            ThresholdRule("RECEIVABLE_DAYS_HIGH", "receivable_days", "above", 180.0),
            ThresholdRule("INVENTORY_DAYS_UP", "yoy.inventory_days", "above", 0.30),
            ThresholdRule("DEBT_TO_EBITDA_HIGH", "debt_to_ebitda", "above", 5.0, 8.0),
        ),
        # Manufacturing and mining per DOMAIN §9; real estate's red line (90 %) and the
        # utilities/construction lines are house assumptions, as is the default.
        debt_to_assets={
            "B": (0.70, 0.80), "C": (0.70, 0.80), "D": (0.75, 0.85), "E": (0.80, 0.90),
            "K": (0.85, 0.90), "*": (0.70, 0.80),
        },
    ),
}


def _breaches(value: float, limit: float, breach: Literal["above", "below"]) -> bool:
    """Return True when ``value`` is strictly past ``limit`` in the breach direction."""
    return value > limit if breach == "above" else value < limit


def _apply(rule: ThresholdRule, value: float | None) -> RatioSignal | None:
    """Return the rule's signal for ``value``, or None when it is within limits."""
    if value is None or math.isnan(value):
        return None
    if rule.red is not None and _breaches(value, rule.red, rule.breach):
        return RatioSignal(rule.code, "red", rule.ratio, value, rule.red)
    if _breaches(value, rule.warning, rule.breach):
        return RatioSignal(rule.code, "warning", rule.ratio, value, rule.warning)
    return None


def _red_line_signal(ratios: Ratios, config: RatioThresholdSet) -> RatioSignal | None:
    """Count three-red-line breaches: 1-2 is a warning, all 3 is red."""
    checks: tuple[tuple[str, Literal["above", "below"], float], ...] = (
        ("debt_ratio_ex_advances", "above", config.red_line_debt_ex_advances),
        ("net_gearing", "above", config.red_line_net_gearing),
        ("cash_to_short_debt", "below", config.red_line_cash_to_short_debt),
    )
    count = 0
    for name, breach, limit in checks:
        value = ratios.value(name)
        if value is not None and _breaches(value, limit, breach):
            count += 1
    if count == 0:
        return None
    severity: Severity = "red" if count == len(checks) else "warning"
    threshold = float(len(checks) if count == len(checks) else 1)
    return RatioSignal("THREE_RED_LINES", severity, "three_red_lines", float(count), threshold)


def ratio_signals(
    ratios: Ratios, *, industry_section: str, version: str = DEFAULT_RATIO_THRESHOLDS
) -> list[RatioSignal]:
    """Return the warning and red signals raised by ``ratios`` for an industry section.

    ``industry_section`` is a section letter; a full code such as ``C3011`` also works.
    """
    config = RATIO_THRESHOLDS[version]
    section = industry_section.strip().upper()[:1]
    warning, red = config.debt_to_assets.get(section, config.debt_to_assets["*"])
    rules = (ThresholdRule("DEBT_RATIO_HIGH", "debt_to_assets", "above", warning, red),
             *config.rules)
    found = [s for rule in rules if (s := _apply(rule, ratios.value(rule.ratio))) is not None]
    if section in config.red_line_sections:
        red_lines = _red_line_signal(ratios, config)
        if red_lines is not None:
            found.append(red_lines)
    return found
