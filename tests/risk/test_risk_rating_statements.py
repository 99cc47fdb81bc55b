"""Tests for financial statements and their consistency checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from crm_risk.rating.model.statement_checks import statement_violations
from crm_risk.rating.model.statements import (
    BalanceSheet,
    CashFlowStatement,
    FinancialStatement,
    IncomeStatement,
)

D = Decimal


def make_statement(**overrides: object) -> FinancialStatement:
    """Return a consistent calendar-2024 statement with optional top-level overrides."""
    st = FinancialStatement(
        period_start=date(2024, 1, 1),
        period_end=date(2024, 12, 31),
        balance=BalanceSheet(
            total_assets=D(1000), current_assets=D(400), inventory=D(100),
            receivables=D(120), cash=D(80), total_liabilities=D(600),
            current_liabilities=D(250), short_term_debt=D(100), long_term_debt=D(200),
            equity=D(400), advance_receipts=D(50),
        ),
        income=IncomeStatement(
            revenue=D(1200), cost_of_sales=D(900), operating_profit=D(90),
            interest_expense=D(20), ebit=D(100), net_profit=D(60),
            depreciation_amortisation=D(50),
        ),
        cash_flow=CashFlowStatement(
            operating_cash_flow=D(70), investing_cash_flow=D(-40), financing_cash_flow=D(-10),
        ),
        audited=True,
        audit_opinion="unqualified",
    )
    return replace(st, **overrides)  # type: ignore[arg-type]


def with_balance(**changes: object) -> FinancialStatement:
    """Return the base statement with balance-sheet fields changed."""
    st = make_statement()
    return replace(st, balance=replace(st.balance, **changes))  # type: ignore[arg-type]


def fields_of(st: FinancialStatement, **kwargs: object) -> set[str]:
    """Return the set of field paths reported as violations."""
    return {v.field for v in statement_violations(st, **kwargs)}  # type: ignore[arg-type]


class TestConsistentStatement:
    def test_clean_statement_has_no_violations(self) -> None:
        """A balanced, ordered, plausible statement passes every check."""
        assert statement_violations(make_statement()) == []

    def test_ebitda_is_derived_when_not_reported(self) -> None:
        """EBITDA defaults to EBIT plus depreciation and amortisation."""
        st = make_statement()
        assert st.income.effective_ebitda() == D(150)
        reported = replace(st.income, ebitda=D(170))
        assert reported.effective_ebitda() == D(170)

    def test_negative_equity_profit_and_flows_are_allowed(self) -> None:
        """Equity, profits and cash flows may legitimately be negative."""
        st = with_balance(total_liabilities=D(1100), equity=D(-100),
                          current_liabilities=D(500))
        st = replace(st, income=replace(st.income, net_profit=D(-30), ebit=D(-10),
                                        operating_profit=D(-12)),
                     cash_flow=CashFlowStatement(D(-5), D(-6), D(-7)))
        assert statement_violations(st) == []


class TestBalanceViolations:
    def test_unbalanced_sheet_names_total_assets(self) -> None:
        """Assets that differ from liabilities + equity beyond tolerance are reported."""
        assert fields_of(with_balance(equity=D(398))) == {"statement.balance_sheet.total_assets"}

    def test_gap_within_one_yuan_is_tolerated(self) -> None:
        """A rounding gap of up to 1 yuan is accepted on a small balance sheet."""
        assert statement_violations(with_balance(equity=D("399.5"))) == []

    def test_relative_tolerance_applies_to_large_sheets(self) -> None:
        """On large sheets the tolerance is 0.1 % of total assets."""
        big = with_balance(
            total_assets=D(1_000_000), current_assets=D(400_000), total_liabilities=D(600_000),
            equity=D(399_100),
        )
        assert statement_violations(big) == []
        off = replace(big, balance=replace(big.balance, equity=D(398_900)))
        assert fields_of(off) == {"statement.balance_sheet.total_assets"}

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"current_assets": D(1001)}, "current_assets"),
            ({"inventory": D(401)}, "inventory"),
            ({"receivables": D(401)}, "receivables"),
            ({"cash": D(401)}, "cash"),
            ({"current_liabilities": D(601)}, "current_liabilities"),
            ({"short_term_debt": D(251)}, "short_term_debt"),
            ({"advance_receipts": D(251)}, "advance_receipts"),
            ({"long_term_debt": D(501)}, "long_term_debt"),
        ],
    )
    def test_component_larger_than_total_names_component(
        self, changes: dict[str, Decimal], field: str
    ) -> None:
        """A component that exceeds the total it belongs to is reported on that component."""
        assert f"statement.balance_sheet.{field}" in fields_of(with_balance(**changes))

    def test_components_summing_past_current_assets(self) -> None:
        """Inventory + receivables + cash above current assets is reported."""
        st = with_balance(inventory=D(200), receivables=D(150), cash=D(80))
        assert fields_of(st) == {"statement.balance_sheet.current_assets"}

    @pytest.mark.parametrize("name", ["total_assets", "cash", "inventory", "total_liabilities",
                                      "short_term_debt", "advance_receipts"])
    def test_negative_balance_amount_is_reported(self, name: str) -> None:
        """Balance-sheet amounts that cannot be negative are flagged by field."""
        assert f"statement.balance_sheet.{name}" in fields_of(with_balance(**{name: D(-1)}))

    @pytest.mark.parametrize("name", ["revenue", "cost_of_sales", "interest_expense"])
    def test_negative_income_amount_is_reported(self, name: str) -> None:
        """Revenue, cost of sales and interest expense cannot be negative."""
        st = make_statement()
        st = replace(st, income=replace(st.income, **{name: D(-1)}))
        assert fields_of(st) == {f"statement.income_statement.{name}"}

    def test_non_finite_amount_is_reported_without_crashing(self) -> None:
        """NaN amounts are reported instead of raising on comparison."""
        assert "statement.balance_sheet.cash" in fields_of(with_balance(cash=D("NaN")))


class TestPeriodViolations:
    def test_end_before_start(self) -> None:
        """period_end must come after period_start."""
        st = make_statement(period_end=date(2023, 12, 31))
        assert fields_of(st) == {"statement.period_end"}

    @pytest.mark.parametrize(
        ("start", "end", "ok"),
        [
            (date(2025, 2, 1), date(2025, 2, 28), True),  # 28 days inclusive
            (date(2025, 2, 1), date(2025, 2, 27), False),  # 27 days
            (date(2024, 1, 1), date(2025, 2, 3), True),  # 400 days
            (date(2024, 1, 1), date(2025, 2, 4), False),  # 401 days
        ],
    )
    def test_period_length_bounds(self, start: date, end: date, ok: bool) -> None:
        """Periods must cover 28 to 400 days, both ends included."""
        found = fields_of(make_statement(period_start=start, period_end=end))
        assert (found == set()) is ok
        if not ok:
            assert found == {"statement.period_end"}

    def test_overlap_with_existing_period(self) -> None:
        """A period overlapping one on file is reported on period_start."""
        existing = [(date(2023, 1, 1), date(2023, 12, 31)), (date(2024, 12, 1), date(2025, 3, 31))]
        assert fields_of(make_statement(), existing_periods=existing) == {"statement.period_start"}

    def test_adjacent_periods_do_not_overlap(self) -> None:
        """A period starting the day after the previous one ends is fine."""
        existing = [(date(2023, 1, 1), date(2023, 12, 31))]
        assert statement_violations(make_statement(), existing_periods=existing) == []


class TestAuditViolations:
    def test_audited_without_opinion(self) -> None:
        """An audited statement must carry an audit opinion."""
        assert fields_of(make_statement(audit_opinion="none")) == {"statement.audit_opinion"}

    def test_unaudited_with_opinion(self) -> None:
        """An unaudited statement cannot carry an opinion."""
        assert fields_of(make_statement(audited=False)) == {"statement.audit_opinion"}

    def test_all_violations_reported_together(self) -> None:
        """Independent problems are all reported in one call."""
        st = make_statement(period_end=date(2023, 1, 1), audit_opinion="none")
        st = replace(st, balance=replace(st.balance, cash=D(-1)))
        assert {"statement.period_end", "statement.audit_opinion",
                "statement.balance_sheet.cash"} <= fields_of(st)


class TestCasItems:
    """Notes payable, shareholder loans, restricted cash and the other CAS items added for
    SC-2027.1 are checked like the original fields."""

    def test_items_default_to_zero_for_older_statements(self) -> None:
        """A statement without the new items has them at zero and no founding date."""
        st = make_statement()
        assert st.balance.notes_payable == 0 and st.income.capitalised_interest == 0
        assert st.cash_flow.capital_expenditure == 0 and st.founding_date is None

    def test_short_term_funding_sums_loans_bills_and_current_portion(self) -> None:
        """Short-term funding is short-term debt + notes payable + current portion."""
        bs = replace(make_statement().balance, notes_payable=D(60),
                     current_portion_long_term_debt=D(30))
        assert bs.short_term_funding() == D(190)
        assert bs.interest_bearing_debt() == D(390)

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"restricted_cash": D(81)}, "restricted_cash"),
            ({"notes_payable": D(251)}, "notes_payable"),
            ({"notes_payable": D(100), "current_portion_long_term_debt": D(60)},
             "notes_payable"),
            ({"shareholder_loans": D(601)}, "shareholder_loans"),
            ({"shareholder_loans": D(301)}, "total_liabilities"),
        ],
    )
    def test_items_must_fit_their_totals(
        self, changes: dict[str, Decimal], field: str
    ) -> None:
        """Restricted cash inside cash, bills and current portion inside current
        liabilities, all debt inside total liabilities."""
        assert f"statement.balance_sheet.{field}" in fields_of(with_balance(**changes))

    @pytest.mark.parametrize(
        ("part", "name"),
        [("balance", "notes_payable"), ("balance", "shareholder_loans"),
         ("income", "capitalised_interest"), ("income", "impairment_losses"),
         ("cash_flow", "capital_expenditure"), ("cash_flow", "taxes_paid"),
         ("cash_flow", "interest_paid")],
    )
    def test_new_amounts_must_not_be_negative(self, part: str, name: str) -> None:
        """The new gross items are amounts, never negative."""
        st = make_statement()
        attr = {"balance": "balance", "income": "income", "cash_flow": "cash_flow"}[part]
        changed = replace(st, **{attr: replace(getattr(st, attr), **{name: D(-1)})})
        prefix = {"balance": "balance_sheet", "income": "income_statement",
                  "cash_flow": "cash_flow_statement"}[part]
        assert fields_of(changed) == {f"statement.{prefix}.{name}"}

    @pytest.mark.parametrize(
        ("founded", "ok"),
        [(date(2024, 12, 31), True), (date(1998, 5, 4), True), (date(2025, 1, 1), False),
         (date(1899, 12, 31), False)],
    )
    def test_founding_date_precedes_the_period_end(self, founded: date, ok: bool) -> None:
        """A founding date after the period end or before 1900 is reported."""
        found = fields_of(make_statement(founding_date=founded))
        assert (found == set()) is ok
        assert ok or found == {"statement.founding_date"}
