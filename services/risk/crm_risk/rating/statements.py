"""Financial statements and their internal-consistency checks.

Amounts are ``Decimal`` yuan. ``statement_violations`` returns every inconsistency it
finds (not just the first), each named by the dotted proto field path, so that the
servicer can return them as ``BadRequest`` field violations in one round trip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Final, Literal, get_args

AuditOpinion = Literal["unqualified", "qualified", "adverse", "disclaimer", "none"]
AUDIT_OPINIONS: Final[tuple[str, ...]] = get_args(AuditOpinion)

# Proto field paths of the statement message and its parts (crm.risk.v1).
STATEMENT_FIELD: Final = "statement"
BALANCE_FIELD: Final = "statement.balance_sheet"
INCOME_FIELD: Final = "statement.income_statement"
CASH_FLOW_FIELD: Final = "statement.cash_flow_statement"

MIN_PERIOD_DAYS: Final = 28
MAX_PERIOD_DAYS: Final = 400
# The balance identity may be off by rounding in the source system: 1 yuan or 0.1 %.
BALANCE_ABSOLUTE_TOLERANCE: Final = Decimal(1)
BALANCE_RELATIVE_TOLERANCE: Final = Decimal("0.001")

_ZERO: Final = Decimal(0)


@dataclass(frozen=True)
class BalanceSheet:
    """Stock amounts at the period end (资产负债表)."""

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


@dataclass(frozen=True)
class IncomeStatement:
    """Flow amounts over the period (利润表).

    ``ebitda`` may be given directly; when it is None it is derived as EBIT plus
    depreciation and amortisation (see ``effective_ebitda``).
    """

    revenue: Decimal
    cost_of_sales: Decimal
    operating_profit: Decimal
    interest_expense: Decimal
    ebit: Decimal
    net_profit: Decimal
    ebitda: Decimal | None = None
    depreciation_amortisation: Decimal = _ZERO

    def effective_ebitda(self) -> Decimal:
        """Return the reported EBITDA, or EBIT plus depreciation and amortisation."""
        if self.ebitda is not None:
            return self.ebitda
        return self.ebit + self.depreciation_amortisation


@dataclass(frozen=True)
class CashFlowStatement:
    """Net cash flows over the period (现金流量表); any sign is possible."""

    operating_cash_flow: Decimal
    investing_cash_flow: Decimal
    financing_cash_flow: Decimal


@dataclass(frozen=True)
class FinancialStatement:
    """One reporting period's statements with their audit status."""

    period_start: date
    period_end: date
    balance: BalanceSheet
    income: IncomeStatement
    cash_flow: CashFlowStatement
    audited: bool
    audit_opinion: AuditOpinion

    @property
    def period_days(self) -> int:
        """Return the period length in days, both ends included."""
        return (self.period_end - self.period_start).days + 1


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: its dotted proto path and a short English description."""

    field: str
    description: str


# Amounts that cannot be negative. Equity, profits, EBIT(DA) and cash flows can.
_NON_NEGATIVE_BALANCE: Final = (
    "total_assets", "current_assets", "inventory", "receivables", "cash",
    "total_liabilities", "current_liabilities", "short_term_debt", "long_term_debt",
    "advance_receipts",
)
_NON_NEGATIVE_INCOME: Final = (
    "revenue", "cost_of_sales", "interest_expense", "depreciation_amortisation",
)


def _amounts(st: FinancialStatement) -> Iterator[tuple[str, Decimal]]:
    """Yield (field path, amount) for every amount in the statement that is set."""
    for prefix, part in (
        (BALANCE_FIELD, st.balance), (INCOME_FIELD, st.income), (CASH_FLOW_FIELD, st.cash_flow),
    ):
        for item in fields(part):
            value = getattr(part, item.name)
            if value is not None:
                yield f"{prefix}.{item.name}", value


def _period_violations(
    st: FinancialStatement, existing_periods: Sequence[tuple[date, date]]
) -> list[FieldViolation]:
    """Check the period's order, length and overlap with periods already on file."""
    if st.period_end <= st.period_start:
        return [FieldViolation(f"{STATEMENT_FIELD}.period_end", "must be after period_start")]
    found: list[FieldViolation] = []
    if not MIN_PERIOD_DAYS <= st.period_days <= MAX_PERIOD_DAYS:
        found.append(FieldViolation(
            f"{STATEMENT_FIELD}.period_end",
            f"period covers {st.period_days} days; "
            f"it must cover {MIN_PERIOD_DAYS} to {MAX_PERIOD_DAYS} days",
        ))
    for start, end in existing_periods:
        # Periods are inclusive at both ends, so sharing a single day is an overlap.
        if st.period_start <= end and start <= st.period_end:
            found.append(FieldViolation(
                f"{STATEMENT_FIELD}.period_start",
                f"period overlaps the statement on file for {start.isoformat()} to "
                f"{end.isoformat()}",
            ))
    return found


def _audit_violations(st: FinancialStatement) -> list[FieldViolation]:
    """Check that the audit opinion is known and agrees with the audited flag."""
    path = f"{STATEMENT_FIELD}.audit_opinion"
    if st.audit_opinion not in AUDIT_OPINIONS:
        return [FieldViolation(path, f"unknown audit opinion {st.audit_opinion!r}")]
    if st.audited and st.audit_opinion == "none":
        return [FieldViolation(path, "an audited statement needs an audit opinion")]
    if not st.audited and st.audit_opinion != "none":
        return [FieldViolation(path, "an unaudited statement cannot carry an audit opinion")]
    return []


# (component, total) pairs where the component is part of the total by definition;
# short-term borrowings and advance receipts are current liabilities.
_PART_OF: Final = (
    ("current_assets", "total_assets"),
    ("inventory", "current_assets"),
    ("receivables", "current_assets"),
    ("cash", "current_assets"),
    ("current_liabilities", "total_liabilities"),
    ("short_term_debt", "current_liabilities"),
    ("advance_receipts", "current_liabilities"),
)


def _balance_violations(bs: BalanceSheet) -> list[FieldViolation]:
    """Check the balance identity and that components fit inside their totals."""
    found: list[FieldViolation] = []
    gap = abs(bs.total_assets - (bs.total_liabilities + bs.equity))
    tolerance = max(BALANCE_ABSOLUTE_TOLERANCE, BALANCE_RELATIVE_TOLERANCE * abs(bs.total_assets))
    if gap > tolerance:
        found.append(FieldViolation(
            f"{BALANCE_FIELD}.total_assets",
            f"total_assets differs from total_liabilities + equity by {gap} yuan "
            f"(tolerance {tolerance})",
        ))
    for part, total in _PART_OF:
        if getattr(bs, part) > getattr(bs, total):
            found.append(FieldViolation(f"{BALANCE_FIELD}.{part}", f"{part} exceeds {total}"))
    if bs.inventory + bs.receivables + bs.cash > bs.current_assets:
        found.append(FieldViolation(
            f"{BALANCE_FIELD}.current_assets",
            "current_assets is less than inventory + receivables + cash",
        ))
    if bs.short_term_debt + bs.long_term_debt > bs.total_liabilities:
        found.append(FieldViolation(
            f"{BALANCE_FIELD}.long_term_debt",
            "short_term_debt + long_term_debt exceeds total_liabilities",
        ))
    return found


def statement_violations(
    st: FinancialStatement, *, existing_periods: Sequence[tuple[date, date]] = ()
) -> list[FieldViolation]:
    """Return every inconsistency in ``st``; an empty list means the statement is usable.

    ``existing_periods`` are the (start, end) periods already on file for the client;
    the new period may not overlap any of them.
    """
    found = _period_violations(st, existing_periods)
    found += _audit_violations(st)
    non_finite = [path for path, value in _amounts(st) if not value.is_finite()]
    if non_finite:
        # Comparisons with NaN raise, so the remaining checks cannot run meaningfully.
        return found + [FieldViolation(path, "must be a finite amount") for path in non_finite]
    for prefix, part, names in (
        (BALANCE_FIELD, st.balance, _NON_NEGATIVE_BALANCE),
        (INCOME_FIELD, st.income, _NON_NEGATIVE_INCOME),
    ):
        for name in names:
            if getattr(part, name) < _ZERO:
                found.append(FieldViolation(f"{prefix}.{name}", "must not be negative"))
    found += _balance_violations(st.balance)
    return found
