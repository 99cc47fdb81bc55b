"""Financial statements as the rating model reads them (CAS annual or interim reports).

Amounts are ``Decimal`` yuan. The items added for SC-2027.1 (notes payable, the current
portion of long-term debt, shareholder loans, restricted cash, capitalised interest,
impairments, capex, taxes and interest paid) default to zero, so statements submitted
before they existed keep their meaning. Consistency checks live in ``statement_checks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final, Literal, get_args

AuditOpinion = Literal["unqualified", "qualified", "adverse", "disclaimer", "none"]
AUDIT_OPINIONS: Final[tuple[str, ...]] = get_args(AuditOpinion)

_ZERO: Final = Decimal(0)


@dataclass(frozen=True)
class BalanceSheet:
    """Stock amounts at the period end (资产负债表).

    ``cash`` includes ``restricted_cash`` (margin deposits pledged for bank acceptances).
    ``notes_payable`` are bank acceptances and commercial bills the firm issued (应付票据):
    short-term funding that must be renewed like a loan.
    """

    total_assets: Decimal
    current_assets: Decimal
    inventory: Decimal
    receivables: Decimal
    cash: Decimal
    total_liabilities: Decimal
    current_liabilities: Decimal
    short_term_debt: Decimal
    long_term_debt: Decimal
    equity: Decimal
    advance_receipts: Decimal = _ZERO
    notes_payable: Decimal = _ZERO
    current_portion_long_term_debt: Decimal = _ZERO
    shareholder_loans: Decimal = _ZERO
    restricted_cash: Decimal = _ZERO

    def short_term_funding(self) -> Decimal:
        """Return what falls due within a year and must be repaid or rolled over."""
        return self.short_term_debt + self.notes_payable + self.current_portion_long_term_debt

    def interest_bearing_debt(self) -> Decimal:
        """Return bank and bond debt, bills and shareholder loans."""
        return (self.short_term_funding() + self.long_term_debt + self.shareholder_loans)


@dataclass(frozen=True)
class IncomeStatement:
    """Flow amounts over the period (利润表).

    ``ebitda`` may be given directly; when it is None it is derived as EBIT plus
    depreciation and amortisation (see ``effective_ebitda``). ``capitalised_interest`` is
    interest added to the cost of assets (notes to the accounts), not in ``interest_expense``.
    """

    revenue: Decimal
    cost_of_sales: Decimal
    operating_profit: Decimal
    interest_expense: Decimal
    ebit: Decimal
    net_profit: Decimal
    ebitda: Decimal | None = None
    depreciation_amortisation: Decimal = _ZERO
    capitalised_interest: Decimal = _ZERO
    impairment_losses: Decimal = _ZERO

    def effective_ebitda(self) -> Decimal:
        """Return the reported EBITDA, or EBIT plus depreciation and amortisation."""
        if self.ebitda is not None:
            return self.ebitda
        return self.ebit + self.depreciation_amortisation

    def total_interest(self) -> Decimal:
        """Return the interest the firm incurred: expensed plus capitalised."""
        return self.interest_expense + self.capitalised_interest


@dataclass(frozen=True)
class CashFlowStatement:
    """Net cash flows over the period (现金流量表); net flows may have any sign.

    The gross items (capex, taxes paid, interest paid) are outflows, entered as positive
    amounts.
    """

    operating_cash_flow: Decimal
    investing_cash_flow: Decimal
    financing_cash_flow: Decimal
    capital_expenditure: Decimal = _ZERO
    taxes_paid: Decimal = _ZERO
    interest_paid: Decimal = _ZERO


@dataclass(frozen=True)
class FinancialStatement:
    """One reporting period's statements with their audit status.

    ``founding_date`` is the firm's establishment date (成立日期) from its business licence,
    when the submitter knows it; the rating uses it for the firm-age factor.
    """

    period_start: date
    period_end: date
    balance: BalanceSheet
    income: IncomeStatement
    cash_flow: CashFlowStatement
    audited: bool
    audit_opinion: AuditOpinion
    founding_date: date | None = None

    @property
    def period_days(self) -> int:
        """Return the period length in days, both ends included."""
        return (self.period_end - self.period_start).days + 1


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: its dotted proto path and a short English description."""

    field: str
    description: str
