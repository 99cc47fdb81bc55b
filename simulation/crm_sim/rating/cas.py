"""Spread a synthetic firm's year into CAS statements (资产负债表, 利润表, 现金流量表).

Amounts are rounded to whole yuan item by item; totals are the sums of the rounded items,
so the statements pass the risk service's consistency checks exactly.
"""

from __future__ import annotations

import math
import random
from datetime import date
from decimal import Decimal

from crm_risk.rating.model.statements import (
    AuditOpinion,
    BalanceSheet,
    CashFlowStatement,
    FinancialStatement,
    IncomeStatement,
)
from crm_sim.rating.dynamics import Operations, State
from crm_sim.rating.funding import CURRENT_PORTION, Settled
from crm_sim.rating.traits import FirmTraits

AUDIT_SHARE = {"large": 0.97, "medium": 0.85, "small": 0.55, "micro": 0.3}


def _yuan(amount: float) -> Decimal:
    return Decimal(round(amount))


def _balance(traits: FirmTraits, s: State) -> BalanceSheet:
    """Return the year-end balance sheet; bank debt splits by the firm's funding mix."""
    short = _yuan(s.bank_debt * traits.short_share)
    long_total = s.bank_debt * (1.0 - traits.short_share)
    current_portion = _yuan(long_total * CURRENT_PORTION)
    long_term = _yuan(long_total) - current_portion
    cash, receivables, inventory = _yuan(s.cash), _yuan(s.receivables), _yuan(s.inventory)
    current_assets = cash + receivables + inventory + _yuan(s.other_current)
    total_assets = current_assets + _yuan(s.fixed)
    bills, advances, loans = _yuan(s.bills), _yuan(s.advances), _yuan(s.shareholder_loans)
    # Small firms book owner loans as other payables (current); others as long-term payables.
    owner_current = loans if traits.spec.size_class in {"small", "micro"} else Decimal(0)
    current_liabilities = (_yuan(s.trade_payables) + bills + advances + _yuan(s.other_payables)
                           + short + current_portion + owner_current)
    total_liabilities = current_liabilities + long_term + loans - owner_current
    return BalanceSheet(
        total_assets=total_assets, current_assets=current_assets, inventory=inventory,
        receivables=receivables, cash=cash, total_liabilities=total_liabilities,
        current_liabilities=current_liabilities, short_term_debt=short,
        long_term_debt=long_term, equity=total_assets - total_liabilities,
        advance_receipts=advances, notes_payable=bills,
        current_portion_long_term_debt=current_portion, shareholder_loans=loans,
        restricted_cash=min(cash, _yuan(traits.margin_deposit * s.bills)),
    )


def _income(ops: Operations) -> IncomeStatement:
    expensed = ops.interest - ops.capitalised
    return IncomeStatement(
        revenue=_yuan(ops.revenue), cost_of_sales=_yuan(ops.cost_of_sales),
        operating_profit=_yuan(ops.ebit - expensed), interest_expense=_yuan(expensed),
        ebit=_yuan(ops.ebit), net_profit=_yuan(ops.net_profit),
        depreciation_amortisation=_yuan(ops.depreciation),
        capitalised_interest=_yuan(ops.capitalised), impairment_losses=_yuan(ops.impairment),
    )


def _cash_flow(ops: Operations, settled: Settled, revenue: float) -> CashFlowStatement:
    operating, financing = _yuan(settled.operating_cash_flow), _yuan(settled.financing_cash_flow)
    return CashFlowStatement(
        operating_cash_flow=operating, investing_cash_flow=_yuan(-ops.capex),
        financing_cash_flow=financing, capital_expenditure=_yuan(ops.capex),
        taxes_paid=_yuan(ops.income_tax_paid + 0.01 * revenue), interest_paid=_yuan(ops.interest),
    )


def _audit(rng: random.Random, traits: FirmTraits, s: State) -> tuple[bool, AuditOpinion]:
    """Return whether the year was audited and the opinion; hidden losses draw remarks."""
    if rng.random() >= AUDIT_SHARE[traits.spec.size_class]:
        return False, "none"
    hidden = s.hidden_loss / s.assets if s.assets > 0 else 0.0
    if hidden > 0.15 and rng.random() < 0.3:
        return True, "adverse" if rng.random() < 0.5 else "disclaimer"
    qualified = rng.random() < 1.0 / (1.0 + math.exp(3.2 + 0.8 * traits.quality - 8 * hidden))
    return True, "qualified" if qualified else "unqualified"


def statement(
    rng: random.Random, traits: FirmTraits, ops: Operations, settled: Settled,
    *, start: date, end: date, show_founding: bool,
) -> FinancialStatement:
    """Return the CAS statements of one period for a firm that did not default in it."""
    assert settled.state is not None
    audited, opinion = _audit(rng, traits, settled.state)
    return FinancialStatement(
        period_start=start, period_end=end, balance=_balance(traits, settled.state),
        income=_income(ops), cash_flow=_cash_flow(ops, settled, ops.revenue),
        audited=audited, audit_opinion=opinion,
        founding_date=traits.spec.founded if show_founding else None,
    )
