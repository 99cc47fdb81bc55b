"""Tests for corroboration: which open warnings may cap a grade."""

from __future__ import annotations

from crm_risk.rating.model.caps import OpenWarning, corroborated


def warning(source: str, rule: str, level: str) -> OpenWarning:
    return OpenWarning(source, rule, level)  # type: ignore[arg-type]


class TestCorroboration:
    def test_one_source_alone_is_not_corroborated(self) -> None:
        """A red ratio warning alone establishes nothing: the scorecard saw the ratios."""
        found = corroborated([warning("statements", "financial_ratios", "red")])
        assert found.level == "none" and found.evidence == ()

    def test_two_sources_agree_on_the_lower_of_their_levels(self) -> None:
        """Statements red and transactions yellow corroborate yellow."""
        found = corroborated([warning("statements", "financial_ratios", "red"),
                              warning("transactions", "cash_out", "yellow")])
        assert found.level == "yellow"
        assert set(found.evidence) == {"statements:financial_ratios", "transactions:cash_out"}

    def test_two_warnings_of_one_source_are_one_source(self) -> None:
        """Two transaction rules are the same eyes twice."""
        found = corroborated([warning("transactions", "a", "red"),
                              warning("transactions", "b", "red")])
        assert found.level == "none"

    def test_feedback_is_apart_from_recorded_signals(self) -> None:
        """A visit report and a court record are two independent sources."""
        found = corroborated([warning("external", "feedback_payment_difficulty", "orange"),
                              warning("external", "external_litigation", "orange")])
        assert found.level == "orange"

    def test_cross_default_is_self_evident(self) -> None:
        """Another bank's default report needs no second source."""
        found = corroborated([warning("external", "external_cross_default", "red")])
        assert (found.level, found.evidence) == ("red", ("external:external_cross_default",))

    def test_concentration_never_counts(self) -> None:
        """A limit breach is the bank's problem, not evidence about the borrower."""
        found = corroborated([warning("concentration", "concentration_industry", "orange"),
                              warning("statements", "financial_ratios", "orange")])
        assert found.level == "none"
