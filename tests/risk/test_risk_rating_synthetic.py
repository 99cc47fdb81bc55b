"""Tests for the deterministic synthetic rating history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_risk.rating.industry import parse_industry
from crm_risk.rating.statements import statement_violations
from crm_risk.rating.synthetic import HistoryRecord, generate_history


@pytest.fixture(scope="module")
def history() -> list[HistoryRecord]:
    """Return one shared 2,000-client history."""
    return generate_history(n_clients=2000, seed=11)


class TestDeterminism:
    def test_same_seed_same_history(self) -> None:
        """The same arguments give an identical history."""
        assert generate_history(n_clients=50, seed=3) == generate_history(n_clients=50, seed=3)

    def test_different_seed_different_history(self) -> None:
        """A different seed gives a different history."""
        assert generate_history(n_clients=50, seed=3) != generate_history(n_clients=50, seed=4)

    def test_prefix_is_stable(self) -> None:
        """Asking for more clients does not change the earlier ones."""
        assert generate_history(n_clients=20, seed=5) == generate_history(n_clients=40,
                                                                           seed=5)[:20]

    def test_invalid_arguments(self) -> None:
        """Negative client counts and zero years are rejected."""
        with pytest.raises(ValueError, match="n_clients"):
            generate_history(n_clients=10, seed=1, years=0)


class TestContent:
    def test_statements_are_consistent_and_consecutive(self, history: list[HistoryRecord]) -> None:
        """Every statement passes validation, and years follow each other without gaps."""
        for record in history:
            assert len(record.statements) == 3
            on_file: list = []  # type: ignore[type-arg]
            for st in record.statements:
                assert statement_violations(st, existing_periods=on_file) == []
                if on_file:
                    assert st.period_start == on_file[-1][1] + timedelta(days=1)
                on_file.append((st.period_start, st.period_end))
            assert record.statements[-1].period_end.year == 2024

    def test_balance_sheets_balance_exactly(self, history: list[HistoryRecord]) -> None:
        """Assets equal liabilities plus equity to the yuan."""
        for record in history:
            for st in record.statements:
                b = st.balance
                assert b.total_assets == b.total_liabilities + b.equity

    def test_cash_bridges_between_years(self, history: list[HistoryRecord]) -> None:
        """The change in cash equals the sum of the three cash flows."""
        for record in history:
            for before, after in zip(record.statements, record.statements[1:], strict=False):
                flows = after.cash_flow
                assert after.balance.cash - before.balance.cash == (
                    flows.operating_cash_flow + flows.investing_cash_flow
                    + flows.financing_cash_flow
                )

    def test_industry_codes_are_valid_classes(self, history: list[HistoryRecord]) -> None:
        """Codes are section-consistent 4-digit classes from the seven lending sections."""
        sections = set()
        for record in history:
            assert len(record.industry_code) == 5
            sections.add(parse_industry(record.industry_code).section)
        assert sections == {"C", "D", "E", "F", "G", "I", "K"}

    def test_default_rate_in_range(self, history: list[HistoryRecord]) -> None:
        """The realised default rate is between 2 % and 6 %."""
        rate = sum(r.defaulted_next_12m for r in history) / len(history)
        assert 0.02 <= rate <= 0.06

    def test_defaults_follow_latent_pd(self, history: list[HistoryRecord]) -> None:
        """Defaulters had a higher true PD on average than survivors."""
        bad = [r.latent_pd for r in history if r.defaulted_next_12m]
        good = [r.latent_pd for r in history if not r.defaulted_next_12m]
        assert sum(bad) / len(bad) > 2 * sum(good) / len(good)

    def test_repayment_stays_performing(self, history: list[HistoryRecord]) -> None:
        """Rated clients are performing: arrears stay below 90 days."""
        assert all(0 <= r.repayment.max_dpd_12m < 90 for r in history)
        assert any(r.repayment.max_dpd_12m > 0 for r in history)
