"""Deterministic synthetic rating history with known outcomes, for back-testing.

Each client has a latent health that drifts year to year (an AR(1) process). Its
statements, repayment behaviour and signals are noisy functions of that health, and
its true one-year PD depends on the same health, on the realised fundamentals and on
a hidden component no model can see. A good scorecard therefore discriminates well
but never perfectly. Everything comes from one seeded ``random.Random``: the same
arguments always give the same history.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from crm_risk.rating.scorecard import RepaymentHistory, SignalCounts, WarningLevel
from crm_risk.rating.statements import (
    AuditOpinion,
    BalanceSheet,
    CashFlowStatement,
    FinancialStatement,
    IncomeStatement,
)

LAST_FISCAL_YEAR: Final = 2024
# Intercept of the true default log-odds; tuned for a 2-6 % portfolio default rate.
_TRUE_PD_INTERCEPT: Final = -5.1


@dataclass(frozen=True)
class _Profile:
    """Typical balance-sheet shape and economics of one industry section."""

    weight: float  # share of the synthetic portfolio
    classes: tuple[str, ...]  # GB/T 4754-2017 class codes
    leverage: float
    turnover: float  # revenue / assets
    margin: float  # EBIT / revenue
    current_share: float  # current assets / assets
    inventory_share: float  # of current assets
    receivable_share: float  # of current assets
    current_ratio: float
    debt_share: float  # interest-bearing debt / liabilities
    advance_share: float  # advance receipts / current liabilities
    growth: float
    depreciation: float  # D&A / assets
    fx_max: float  # largest foreign-currency revenue share
    risk: float  # true log-odds shift of the section


_PROFILES: Final[dict[str, _Profile]] = {
    "C": _Profile(0.34, ("C1311", "C1511", "C1711", "C2211", "C2511", "C2614", "C2710",
                         "C3011", "C3041", "C3120", "C3130", "C3216", "C3311", "C3511",
                         "C3612", "C3731", "C3841", "C3911", "C3971"),
                  0.57, 0.9, 0.07, 0.50, 0.30, 0.30, 1.35, 0.50, 0.05, 0.05, 0.03, 0.6, 0.0),
    "D": _Profile(0.08, ("D4411", "D4412", "D4413", "D4415", "D4416", "D4420", "D4430",
                         "D4511", "D4610"),
                  0.64, 0.3, 0.14, 0.20, 0.05, 0.25, 0.85, 0.65, 0.05, 0.05, 0.045, 0.0, -0.4),
    "E": _Profile(0.12, ("E4710", "E4811", "E4812", "E4813", "E4910", "E5011"),
                  0.71, 0.75, 0.05, 0.70, 0.25, 0.40, 1.25, 0.35, 0.12, 0.04, 0.02, 0.0, 0.2),
    "F": _Profile(0.16, ("F5111", "F5161", "F5162", "F5164", "F5211", "F5212", "F5261"),
                  0.61, 1.8, 0.03, 0.70, 0.35, 0.30, 1.35, 0.45, 0.05, 0.04, 0.01, 0.3, 0.1),
    "G": _Profile(0.10, ("G5320", "G5431", "G5443", "G5521", "G5522", "G5611", "G5920",
                         "G6020"),
                  0.60, 0.5, 0.09, 0.30, 0.05, 0.30, 1.05, 0.60, 0.05, 0.04, 0.05, 0.3, 0.0),
    "I": _Profile(0.10, ("I6311", "I6312", "I6450", "I6511", "I6513", "I6531"),
                  0.45, 0.8, 0.12, 0.60, 0.10, 0.35, 1.70, 0.40, 0.05, 0.10, 0.04, 0.4, -0.1),
    "K": _Profile(0.10, ("K7010", "K7020", "K7030", "K7040"),
                  0.77, 0.25, 0.15, 0.80, 0.65, 0.05, 1.45, 0.50, 0.35, 0.0, 0.01, 0.0, 0.5),
}
# Overcapacity divisions (两高一剩) carry extra true risk.
_WATCHLIST_DIVISIONS: Final = frozenset({"30", "31", "32"})


@dataclass(frozen=True)
class HistoryRecord:
    """One client's history up to its rating date and what happened in the next year."""

    client_index: int
    industry_code: str
    statements: tuple[FinancialStatement, ...]  # consecutive fiscal years, oldest first
    repayment: RepaymentHistory
    signals: SignalCounts
    floating_rate_debt_share: float
    fx_revenue_share: float
    open_warning_level: WarningLevel
    latent_pd: float
    defaulted_next_12m: bool


def _clip(value: float, low: float, high: float) -> float:
    """Return ``value`` limited to [low, high]."""
    return min(max(value, low), high)


def _poisson(rng: random.Random, lam: float) -> int:
    """Draw a Poisson count (Knuth's method; the rates here are small)."""
    limit, count, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _yuan(amount: float) -> Decimal:
    """Return a float amount as whole yuan."""
    return Decimal(round(amount))


@dataclass
class _Carry:
    """What one year's statement hands to the next."""

    assets: float
    revenue: float
    cash: Decimal


def _statement(
    rng: random.Random, p: _Profile, year: int, health: float, carry: _Carry,
) -> tuple[FinancialStatement, _Carry, float, float]:
    """Build one consistent fiscal-year statement; return it, the carry, leverage, margin."""
    growth = p.growth + 0.06 * health + rng.gauss(0, 0.06)
    assets = carry.assets * (1 + 0.5 * growth + rng.gauss(0, 0.03))
    revenue = carry.revenue * (1 + growth)
    leverage = _clip(p.leverage - 0.07 * health + rng.gauss(0, 0.04), 0.12, 0.97)
    margin = p.margin + 0.03 * health + rng.gauss(0, 0.02)
    total_assets = _yuan(assets)
    liabilities = _yuan(assets * leverage)
    current_assets = assets * _clip(p.current_share + rng.gauss(0, 0.05), 0.05, 0.95)
    shares = [
        _clip(0.15 + 0.05 * health + rng.gauss(0, 0.04), 0.01, 0.4),  # cash
        _clip(p.receivable_share - 0.04 * health + rng.gauss(0, 0.05), 0.01, 0.6),
        _clip(p.inventory_share + rng.gauss(0, 0.05), 0.0, 0.8),
    ]
    if sum(shares) > 0.97:
        shares = [s * 0.97 / sum(shares) for s in shares]
    current_ratio = _clip(p.current_ratio + 0.25 * health + rng.gauss(0, 0.15), 0.4, 3.5)
    current_liabilities = min(current_assets / current_ratio, assets * leverage * 0.97)
    debt = assets * leverage * _clip(p.debt_share + rng.gauss(0, 0.05), 0.05, 0.9)
    short_debt = min(debt * _clip(0.45 - 0.05 * health + rng.gauss(0, 0.1), 0.05, 0.95),
                     current_liabilities * 0.7)
    rate = _clip(0.045 + 0.01 * max(0.0, -health) + rng.gauss(0, 0.003), 0.025, 0.09)
    ebit = revenue * margin
    interest = debt * rate
    pre_tax = ebit - interest
    ebitda = ebit + assets * p.depreciation
    cash = _yuan(current_assets * shares[0])
    ocf = ebitda * (0.75 + 0.25 * health + rng.gauss(0, 0.35))
    investing = -assets * rng.uniform(0.02, 0.08)
    balance = BalanceSheet(
        total_assets=total_assets,
        current_assets=_yuan(current_assets),
        inventory=_yuan(current_assets * shares[2]),
        receivables=_yuan(current_assets * shares[1]),
        cash=cash,
        total_liabilities=liabilities,
        current_liabilities=_yuan(current_liabilities),
        short_term_debt=_yuan(short_debt),
        long_term_debt=_yuan(debt - short_debt),
        equity=total_assets - liabilities,
        advance_receipts=_yuan(current_liabilities * _clip(
            p.advance_share * rng.uniform(0.6, 1.4), 0.0, 0.5)),
    )
    income = IncomeStatement(
        revenue=_yuan(revenue),
        cost_of_sales=_yuan(revenue * (1 - max(margin + 0.08, 0.02))),
        operating_profit=_yuan(ebit),
        interest_expense=_yuan(interest),
        ebit=_yuan(ebit),
        net_profit=_yuan(pre_tax * 0.75 if pre_tax > 0 else pre_tax),
        ebitda=_yuan(ebitda),
        depreciation_amortisation=_yuan(ebitda - ebit),
    )
    # Financing flows close the cash bridge exactly: Δcash = OCF + investing + financing.
    flows = CashFlowStatement(
        operating_cash_flow=_yuan(ocf),
        investing_cash_flow=_yuan(investing),
        financing_cash_flow=cash - carry.cash - _yuan(ocf) - _yuan(investing),
    )
    audited = rng.random() < _clip(0.85 + 0.05 * health, 0.5, 0.98)
    opinion: AuditOpinion = "none"
    if audited:
        qualified = rng.random() < 1 / (1 + math.exp(3 + health))
        opinion = "qualified" if qualified else "unqualified"
        if health < -1.5 and rng.random() < 0.05:
            opinion = "adverse" if rng.random() < 0.5 else "disclaimer"
    st = FinancialStatement(date(year, 1, 1), date(year, 12, 31), balance, income, flows,
                            audited, opinion)
    return st, _Carry(assets, revenue, cash), leverage, margin


def _warning_level(repayment: RepaymentHistory, signals: SignalCounts) -> WarningLevel:
    """Return the warning level that monitoring would have open for these facts."""
    dpd = repayment.max_dpd_12m
    if signals.cross_default or dpd > 60:
        return "red"
    if dpd > 30 or signals.litigation >= 3 or signals.tax_arrears >= 2:
        return "orange"
    if dpd > 7 or signals.tax_arrears or signals.litigation >= 2:
        return "yellow"
    return "none"


def _client(rng: random.Random, index: int, years: int, last_year: int) -> HistoryRecord:
    """Generate one client's statements, behaviour and realised outcome."""
    sections = list(_PROFILES)
    section = rng.choices(sections, weights=[_PROFILES[s].weight for s in sections])[0]
    p = _PROFILES[section]
    code = rng.choice(p.classes)
    health = rng.gauss(0, 1)
    assets = math.exp(rng.gauss(math.log(8e8), 1.0))
    revenue = assets * p.turnover * math.exp(rng.gauss(0, 0.15))
    carry = _Carry(assets, revenue / (1 + p.growth), _yuan(assets * 0.05 * rng.uniform(0.8, 1.2)))
    statements: list[FinancialStatement] = []
    leverage = margin = 0.0
    for year in range(last_year - years + 1, last_year + 1):
        # AR(1) with unit stationary variance: health persists but drifts.
        health = 0.75 * health + 0.66 * rng.gauss(0, 1)
        st, carry, leverage, margin = _statement(rng, p, year, health, carry)
        statements.append(st)

    late = rng.random() < 1 / (1 + math.exp(2.8 + 1.3 * health))
    repayment = RepaymentHistory(
        max_dpd_12m=min(89, 1 + int(rng.expovariate(1 / (10 * math.exp(-0.6 * health)))))
        if late else 0,
        late_payments_12m=1 + _poisson(rng, math.exp(-0.5 * health)) if late else 0,
    )
    signals = SignalCounts(
        litigation=_poisson(rng, 0.25 * math.exp(-0.7 * health)),
        tax_arrears=_poisson(rng, 0.04 * math.exp(-1.0 * health)),
        negative_news=_poisson(rng, 0.3 * math.exp(-0.6 * health)),
        management_change=_poisson(rng, 0.12 * math.exp(-0.4 * health)),
        cross_default=_poisson(rng, 0.01 * math.exp(-1.2 * health)),
    )
    fx_share = round(rng.uniform(0, p.fx_max), 3) if rng.random() < 0.35 else 0.0
    floating = round(rng.random(), 3)

    log_odds = (
        _TRUE_PD_INTERCEPT + p.risk - 0.9 * health
        + (0.35 if code[1:3] in _WATCHLIST_DIVISIONS else 0.0)
        + 4.0 * (leverage - p.leverage) - 6.0 * (margin - p.margin)
        + 0.015 * repayment.max_dpd_12m + 0.35 * signals.litigation
        + 0.7 * signals.tax_arrears + 1.5 * signals.cross_default
        + 0.3 * signals.management_change + 0.15 * signals.negative_news
        + 0.3 * fx_share + 0.2 * floating
        + rng.gauss(0, 0.9)  # what no model sees
    )
    latent_pd = 1 / (1 + math.exp(-log_odds))
    return HistoryRecord(
        client_index=index,
        industry_code=code,
        statements=tuple(statements),
        repayment=repayment,
        signals=signals,
        floating_rate_debt_share=floating,
        fx_revenue_share=fx_share,
        open_warning_level=_warning_level(repayment, signals),
        latent_pd=latent_pd,
        defaulted_next_12m=rng.random() < latent_pd,
    )


def generate_history(
    *, n_clients: int, seed: int, years: int = 3, last_fiscal_year: int = LAST_FISCAL_YEAR
) -> list[HistoryRecord]:
    """Generate ``n_clients`` client histories of ``years`` annual statements each.

    Outcomes are for the 12 months after ``last_fiscal_year``.
    """
    if n_clients < 0 or years < 1:
        msg = "n_clients must be >= 0 and years >= 1"
        raise ValueError(msg)
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    return [_client(rng, index, years, last_fiscal_year) for index in range(n_clients)]
