"""Tests for review scheduling and override validation."""

from __future__ import annotations

from datetime import date

import pytest

from crm_risk.rating.model.scorecard import review_due, validate_override


class TestReviewDue:
    @pytest.mark.parametrize(
        ("grade", "due"),
        [("AAA", date(2026, 3, 15)), ("A-", date(2026, 3, 15)), ("BBB+", date(2025, 9, 15)),
         ("BBB-", date(2025, 9, 15)), ("BB", date(2025, 6, 15)), ("D", date(2025, 6, 15))],
    )
    def test_cycle_by_grade(self, grade: str, due: date) -> None:
        """Annual to A-, semi-annual BBB+ to BBB-, quarterly from BB."""
        assert review_due(last_rated=date(2025, 3, 15), grade=grade, on_watch_list=False) == due

    def test_watch_list_is_quarterly(self) -> None:
        """Watch-list clients are reviewed quarterly even when rated AAA."""
        assert review_due(last_rated=date(2025, 3, 15), grade="AAA", on_watch_list=True) == (
            date(2025, 6, 15)
        )

    def test_month_end_is_clamped(self) -> None:
        """A review from 31 August lands on the last day of February."""
        assert review_due(last_rated=date(2024, 8, 31), grade="BBB", on_watch_list=False) == (
            date(2025, 2, 28)
        )

    def test_unknown_grade(self) -> None:
        """An unknown grade cannot be scheduled."""
        with pytest.raises(ValueError, match="unknown grade"):
            review_due(last_rated=date(2025, 1, 1), grade="Z", on_watch_list=False)


class TestValidateOverride:
    def test_sound_override(self) -> None:
        """A small override by two people with a reason is accepted."""
        assert validate_override(from_grade="BBB", to_grade="BBB-", proposer="rm.li",
                                 approver="cro.wang", reason="guarantor weakened") == []

    def test_same_person_cannot_approve(self) -> None:
        """Four eyes: the approver must differ from the proposer (case-insensitive)."""
        problems = validate_override(from_grade="BBB", to_grade="BB", proposer="rm.li",
                                     approver=" RM.LI ", reason="sector stress")
        assert problems == ["approver must be a different person from the proposer"]

    def test_reason_required(self) -> None:
        """An empty or blank reason is a problem."""
        problems = validate_override(from_grade="BBB", to_grade="BB", proposer="a",
                                     approver="b", reason="   ")
        assert problems == ["reason is required"]

    def test_large_override_needs_long_reason(self) -> None:
        """More than three notches needs a reason of at least 20 characters."""
        short = validate_override(from_grade="A", to_grade="BB", proposer="a", approver="b",
                                  reason="bad year")
        assert short == ["an override of 6 notches needs a reason of at least 20 characters"]
        three = validate_override(from_grade="A", to_grade="BBB+", proposer="a", approver="b",
                                  reason="bad year")
        assert three == []
        long = validate_override(from_grade="A", to_grade="BB", proposer="a", approver="b",
                                 reason="controller detained, plant closed")
        assert long == []

    def test_unknown_grades(self) -> None:
        """Grades must be on the master scale."""
        problems = validate_override(from_grade="A", to_grade="A++", proposer="a",
                                     approver="b", reason="x")
        assert problems == ["to_grade: unknown grade 'A++'"]

    def test_override_must_change_grade(self) -> None:
        """Overriding to the same grade is pointless and rejected."""
        problems = validate_override(from_grade="A", to_grade="A", proposer="a", approver="b",
                                     reason="x")
        assert problems == ["override must change the grade"]
