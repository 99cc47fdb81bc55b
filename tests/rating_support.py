"""Statements and rating inputs shared by the scorecard tests."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from decimal import Decimal
from typing import Any

from crm_risk.rating.model.features import rating_features
from crm_risk.rating.model.scorecard import FactorScore, RatingInputs, RatingResult
from crm_risk.rating.model.statements import (
    BalanceSheet,
    CashFlowStatement,
    FinancialStatement,
    IncomeStatement,
)

D = Decimal


def strong_statement(year: int = 2024, **income: Decimal) -> FinancialStatement:
    """Return a cash-rich, modestly levered, profitable manufacturer's year."""
    return FinancialStatement(
        period_start=date(year, 1, 1), period_end=date(year, 12, 31),
        balance=BalanceSheet(
            total_assets=D(1000), current_assets=D(520), inventory=D(100), receivables=D(150),
            cash=D(220), total_liabilities=D(380), current_liabilities=D(200),
            short_term_debt=D(50), long_term_debt=D(100), equity=D(620),
        ),
        income=replace(IncomeStatement(
            revenue=D(1200), cost_of_sales=D(880), operating_profit=D(140),
            interest_expense=D(8), ebit=D(148), net_profit=D(105),
            depreciation_amortisation=D(40),
        ), **income),
        cash_flow=CashFlowStatement(D(170), D(-60), D(-40)),
        audited=True, audit_opinion="unqualified", founding_date=date(2001, 3, 1),
    )


def weak_statement(year: int = 2024) -> FinancialStatement:
    """Return a loss-making, short-funded, highly levered firm's year."""
    return FinancialStatement(
        period_start=date(year, 1, 1), period_end=date(year, 12, 31),
        balance=BalanceSheet(
            total_assets=D(1000), current_assets=D(420), inventory=D(200), receivables=D(190),
            cash=D(20), total_liabilities=D(930), current_liabilities=D(700),
            short_term_debt=D(400), long_term_debt=D(100), equity=D(70),
            notes_payable=D(150), shareholder_loans=D(120),
        ),
        income=IncomeStatement(
            revenue=D(800), cost_of_sales=D(760), operating_profit=D(-70),
            interest_expense=D(45), ebit=D(-25), net_profit=D(-70),
            depreciation_amortisation=D(30),
        ),
        cash_flow=CashFlowStatement(D(-60), D(-20), D(75)),
        audited=False, audit_opinion="none", founding_date=date(2010, 5, 1),
    )


def inputs(*statements: FinancialStatement, **changes: object) -> RatingInputs:
    """Return rating inputs of a manufacturer with these statements."""
    base = RatingInputs(industry_code="C3411", features=rating_features(statements),
                        audit_opinion=statements[-1].audit_opinion)
    return replace(base, **changes)  # type: ignore[arg-type]


def factor(result: RatingResult, code: str) -> FactorScore:
    """Return one factor's score from a result."""
    return next(f for f in result.factors if f.code == code)


STRONG = inputs(strong_statement(2022), strong_statement(2023), strong_statement(2024))
WEAK = inputs(weak_statement(2023), weak_statement(2024))



def scaled(st: FinancialStatement, factor: int) -> FinancialStatement:
    """Return the same statement with every amount multiplied: same ratios, other size."""
    def times(part: Any) -> Any:
        return replace(part, **{f.name: getattr(part, f.name) * factor for f in fields(part)
                                if isinstance(getattr(part, f.name), Decimal)})
    return replace(st, balance=times(st.balance), income=times(st.income),
                   cash_flow=times(st.cash_flow))


def levered(st: FinancialStatement, debt_ratio: float) -> FinancialStatement:
    """Return the statement with long-term debt moved to equity to reach a debt ratio."""
    liabilities = D(round(float(st.balance.total_assets) * debt_ratio))
    change = st.balance.total_liabilities - liabilities
    return replace(st, balance=replace(
        st.balance, total_liabilities=liabilities, long_term_debt=st.balance.long_term_debt
        - change, equity=st.balance.equity + change))
