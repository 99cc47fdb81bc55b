"""Internal-consistency checks of a financial statement.

``statement_violations`` returns every inconsistency it finds (not just the first), each
named by the dotted proto field path, so that the servicer can return them as
``BadRequest`` field violations in one round trip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Final

from crm_risk.rating.model.statements import (
    AUDIT_OPINIONS,
    BalanceSheet,
    FieldViolation,
    FinancialStatement,
)

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
# No PRC company registered today predates 1900; an earlier date is a typing error.
EARLIEST_FOUNDING: Final = date(1900, 1, 1)

_ZERO: Final = Decimal(0)

# Amounts that cannot be negative. Equity, profits, EBIT(DA) and net cash flows can.
_NON_NEGATIVE: Final[dict[str, tuple[str, ...]]] = {
    "balance": (
        "total_assets", "current_assets", "inventory", "receivables", "cash",
        "total_liabilities", "current_liabilities", "short_term_debt", "long_term_debt",
        "advance_receipts", "notes_payable", "current_portion_long_term_debt",
        "shareholder_loans", "restricted_cash",
    ),
    "income": (
        "revenue", "cost_of_sales", "interest_expense", "depreciation_amortisation",
        "capitalised_interest", "impairment_losses",
    ),
    "cash_flow": ("capital_expenditure", "taxes_paid", "interest_paid"),
}
_PATHS: Final = {"balance": BALANCE_FIELD, "income": INCOME_FIELD, "cash_flow": CASH_FLOW_FIELD}

# (component, total) pairs where the component is part of the total by definition;
# borrowings, bills, the current portion of long-term debt and advance receipts are
# current liabilities, and restricted cash is part of cash.
_PART_OF: Final = (
    ("current_assets", "total_assets"),
    ("inventory", "current_assets"),
    ("receivables", "current_assets"),
    ("cash", "current_assets"),
    ("restricted_cash", "cash"),
    ("current_liabilities", "total_liabilities"),
    ("short_term_debt", "current_liabilities"),
    ("advance_receipts", "current_liabilities"),
    ("notes_payable", "current_liabilities"),
    ("current_portion_long_term_debt", "current_liabilities"),
    ("shareholder_loans", "total_liabilities"),
)


def _parts(st: FinancialStatement) -> dict[str, object]:
    return {"balance": st.balance, "income": st.income, "cash_flow": st.cash_flow}


def _amounts(st: FinancialStatement) -> Iterator[tuple[str, Decimal]]:
    """Yield (field path, amount) for every amount in the statement that is set."""
    for key, part in _parts(st).items():
        for item in fields(part):  # type: ignore[arg-type]
            value = getattr(part, item.name)
            if value is not None:
                yield f"{_PATHS[key]}.{item.name}", value


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


def _founding_violations(st: FinancialStatement) -> list[FieldViolation]:
    """Check that the founding date, when given, is plausible and precedes the period end."""
    founded = st.founding_date
    path = f"{STATEMENT_FIELD}.founding_date"
    if founded is None:
        return []
    if founded < EARLIEST_FOUNDING:
        return [FieldViolation(path, f"must not be before {EARLIEST_FOUNDING.isoformat()}")]
    if founded > st.period_end:
        return [FieldViolation(path, "must not be after period_end")]
    return []


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


def _sum_violations(bs: BalanceSheet) -> list[FieldViolation]:
    """Check that components which share a total do not add up to more than it."""
    found: list[FieldViolation] = []
    if bs.inventory + bs.receivables + bs.cash > bs.current_assets:
        found.append(FieldViolation(
            f"{BALANCE_FIELD}.current_assets",
            "current_assets is less than inventory + receivables + cash",
        ))
    if bs.short_term_funding() > bs.current_liabilities:
        found.append(FieldViolation(
            f"{BALANCE_FIELD}.notes_payable",
            "short_term_debt + notes_payable + current_portion_long_term_debt exceeds "
            "current_liabilities",
        ))
    if bs.short_term_debt + bs.long_term_debt > bs.total_liabilities:
        found.append(FieldViolation(
            f"{BALANCE_FIELD}.long_term_debt",
            "short_term_debt + long_term_debt exceeds total_liabilities",
        ))
    elif bs.interest_bearing_debt() > bs.total_liabilities:
        found.append(FieldViolation(
            f"{BALANCE_FIELD}.total_liabilities",
            "borrowings, notes payable and shareholder loans together exceed "
            "total_liabilities",
        ))
    return found


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
    return found + _sum_violations(bs)


def statement_violations(
    st: FinancialStatement, *, existing_periods: Sequence[tuple[date, date]] = ()
) -> list[FieldViolation]:
    """Return every inconsistency in ``st``; an empty list means the statement is usable.

    ``existing_periods`` are the (start, end) periods already on file for the client;
    the new period may not overlap any of them.
    """
    found = _period_violations(st, existing_periods)
    found += _founding_violations(st)
    found += _audit_violations(st)
    non_finite = [path for path, value in _amounts(st) if not value.is_finite()]
    if non_finite:
        # Comparisons with NaN raise, so the remaining checks cannot run meaningfully.
        return found + [FieldViolation(path, "must be a finite amount") for path in non_finite]
    parts = _parts(st)
    for key, names in _NON_NEGATIVE.items():
        for name in names:
            if getattr(parts[key], name) < _ZERO:
                found.append(FieldViolation(f"{_PATHS[key]}.{name}", "must not be negative"))
    found += _balance_violations(st.balance)
    return found
