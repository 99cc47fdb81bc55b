"""Money against works: the pure comparison of drawdowns with verified progress."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from crm_risk.projects.compare import Progress, compare, curve_problems, planned_percent

CURVE = [(date(2026, 1, 1), 0.0), (date(2026, 7, 1), 40.0), (date(2027, 1, 1), 100.0)]


def gap(drawn: int, verified: float | None, *, margin: float = 20.0):
    progress = Progress(verified, date(2026, 6, 30)) if verified is not None else None
    return compare(drawn=Decimal(drawn), budget=Decimal(100_000_000), progress=progress,
                   margin=margin, curve=CURVE, today=date(2026, 7, 1))


def test_money_35_points_ahead_of_the_works_is_flagged_and_named():
    found = gap(50_000_000, 15.0)
    assert (found.drawn_percent, found.verified_percent, found.points) == (50.0, 15.0, 35.0)
    assert found.ahead
    words = found.describe()
    assert "50.0%" in words and "15.0%" in words and "2026-06-30" in words
    assert "35.0 points" in words


def test_within_the_margin_is_not_flagged():
    assert not gap(50_000_000, 40.0).ahead
    assert not gap(50_000_000, 30.0).ahead  # exactly the margin is still within it
    assert not gap(10_000_000, 60.0).ahead  # works ahead of money: negative gap
    assert gap(10_000_000, 60.0).points == -50.0


def test_nothing_verified_counts_as_no_progress():
    found = gap(25_000_000, None)
    assert found.ahead and found.as_of is None
    assert "none verified yet" in found.describe()


def test_a_plan_may_set_its_own_margin():
    assert not gap(50_000_000, 15.0, margin=40.0).ahead


@pytest.mark.parametrize(
    ("on", "expected"),
    [(date(2025, 12, 1), 0.0), (date(2026, 1, 1), 0.0), (date(2026, 4, 1), 19.89),
     (date(2026, 7, 1), 40.0), (date(2027, 3, 1), 100.0)],
)
def test_the_s_curve_is_interpolated_between_its_points(on, expected):
    assert planned_percent(CURVE, on) == pytest.approx(expected, abs=0.01)


def test_a_curve_must_rise_over_ascending_dates_within_0_to_100():
    assert curve_problems(CURVE) == []
    assert curve_problems([]) == ["needs at least one point"]
    assert curve_problems([(date(2026, 2, 1), 10.0), (date(2026, 1, 1), 5.0)]) == [
        "dates must be strictly ascending", "cumulative percents must not fall"]
    assert curve_problems([(date(2026, 1, 1), 120.0)]) == ["percents must be between 0 and 100"]
