"""Tests for NPS, CSAT, response rate and aggregation, against hand-computed figures."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_feedback.domain.metrics import AnswerRow, aggregate, csat, nps, response_rate
from crm_feedback.domain.stats import median_timedelta, nearest_rank, wilson_interval

Z = 1.959963984540054


class TestNps:
    def test_no_answers(self) -> None:
        """With no answers every figure is zero or None."""
        result = nps([])
        assert (result.n, result.promoters, result.passives, result.detractors) == (0, 0, 0, 0)
        assert result.nps is None and result.ci_low is None and result.ci_high is None

    def test_balanced_example(self) -> None:
        """4 promoters, 2 passives, 4 detractors: NPS 0, CI ±1.96*sqrt(0.08)*100."""
        result = nps([10, 9, 8, 7, 6, 0, 10, 9, 5, 3])
        assert (result.promoters, result.passives, result.detractors) == (4, 2, 4)
        assert result.nps == 0.0
        half = Z * 100 * math.sqrt((0.4 + 0.4 - 0.0) / 10)  # 55.436
        assert result.ci_low == pytest.approx(-half)
        assert result.ci_high == pytest.approx(half)
        assert half == pytest.approx(55.436, abs=1e-3)

    def test_interval_is_clipped_at_100(self) -> None:
        """7 promoters, 2 passives, 1 detractor: NPS 60, upper bound clipped to 100."""
        result = nps([10] * 7 + [8] * 2 + [0])
        assert result.nps == pytest.approx(60.0)
        variance = 0.7 + 0.1 - (0.7 - 0.1) ** 2  # 0.44
        assert result.ci_low == pytest.approx(60 - Z * 100 * math.sqrt(variance / 10))
        assert result.ci_high == 100.0

    def test_all_detractors(self) -> None:
        """Only detractors give NPS -100 and a degenerate interval at -100."""
        result = nps([0, 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2])
        assert result.detractors == 12 and result.promoters == 0
        assert result.nps == -100.0
        assert result.ci_low == -100.0 and result.ci_high == -100.0

    def test_all_promoters_below_ten_answers_has_no_interval(self) -> None:
        """Five promoters: NPS +100, no interval (n < 10)."""
        result = nps([9, 10, 10, 9, 10])
        assert result.nps == 100.0
        assert result.ci_low is None and result.ci_high is None

    def test_interval_starts_at_ten_answers(self) -> None:
        """n = 9 has no interval, n = 10 has one."""
        assert nps([9] * 9).ci_low is None
        assert nps([9] * 10).ci_low == 100.0

    @pytest.mark.parametrize("bad", [[11], [-1], [True], [7.0]])
    def test_invalid_scores_raise(self, bad: list[int]) -> None:
        """Scores outside 0..10 or not integers are rejected."""
        with pytest.raises(ValueError, match="NPS scores"):
            nps(bad)

    @settings(max_examples=200)
    @given(st.lists(st.integers(0, 10), min_size=10, max_size=300))
    def test_score_lies_in_its_interval_and_range(self, scores: list[int]) -> None:
        """NPS is in -100..100, inside its interval, and counts add up."""
        result = nps(scores)
        assert result.nps is not None and result.ci_low is not None
        assert result.ci_high is not None
        assert -100 <= result.ci_low <= result.nps <= result.ci_high <= 100
        assert result.promoters + result.passives + result.detractors == len(scores)


class TestCsat:
    def test_no_answers(self) -> None:
        """With no answers share, mean and interval are None."""
        assert csat([]) == type(csat([]))(0, None, None, None, None)

    def test_hand_computed_example(self) -> None:
        """[5,4,3,2,1]: 2 of 5 satisfied, mean 3, Wilson interval (0.1176, 0.7693)."""
        result = csat([5, 4, 3, 2, 1])
        assert result.satisfied_share == pytest.approx(0.4)
        assert result.mean == pytest.approx(3.0)
        assert result.ci_low == pytest.approx(0.1176, abs=1e-4)
        assert result.ci_high == pytest.approx(0.7693, abs=1e-4)

    def test_all_satisfied_interval_reaches_one(self) -> None:
        """Ten 5s: share 1, Wilson interval (0.7225, 1.0)."""
        result = csat([5] * 10)
        assert result.satisfied_share == 1.0
        assert result.ci_low == pytest.approx(0.7225, abs=1e-4)
        assert result.ci_high == 1.0

    def test_invalid_scores_raise(self) -> None:
        """CSAT scores must be 1..5."""
        with pytest.raises(ValueError, match="CSAT scores"):
            csat([0, 3])


class TestResponseRate:
    def test_rate_and_no_dispatches(self) -> None:
        """The rate is answered/dispatched; None when nothing was dispatched."""
        assert response_rate(8, 2) == 0.25
        assert response_rate(0, 0) is None

    def test_impossible_counts_raise(self) -> None:
        """More answers than dispatches is an error."""
        with pytest.raises(ValueError, match="answered"):
            response_rate(2, 3)


def row(rm: str, segments: tuple[str, ...], nps_score: int | None, csat_score: int | None,
        *, answered: bool = True, product: str = "working_capital") -> AnswerRow:
    return AnswerRow(rm, "team-1", segments, product, "2026-Q3", nps_score, csat_score,
                     dispatched=True, answered=answered)


class TestAggregate:
    rows = (
        row("rm-1", ("growth", "manufacturing"), 10, 5),
        row("rm-1", ("growth",), 3, 2),
        row("rm-1", (), None, None, answered=False),
        row("rm-2", ("manufacturing",), 8, None),
        row("rm-2", ("manufacturing",), None, 4),
    )

    def test_group_by_rm(self) -> None:
        """Per-RM dispatch, answer and score figures match a hand count."""
        groups = aggregate(self.rows, by=("rm_id",))
        assert list(groups) == [("rm-1",), ("rm-2",)]
        rm1 = groups[("rm-1",)]
        assert (rm1.dispatched, rm1.answered) == (3, 2)
        assert rm1.response_rate == pytest.approx(2 / 3)
        assert rm1.nps.nps == 0.0  # one promoter, one detractor
        assert rm1.csat.satisfied_share == 0.5
        rm2 = groups[("rm-2",)]
        assert rm2.nps.n == 1 and rm2.nps.passives == 1 and rm2.csat.n == 1

    def test_a_client_counts_in_each_of_its_segments(self) -> None:
        """A row in two segments counts in both; a row with none goes to None."""
        groups = aggregate(self.rows, by=("segment_id",))
        assert list(groups) == [("growth",), ("manufacturing",), (None,)]
        assert groups[("growth",)].nps.n == 2
        assert groups[("manufacturing",)].dispatched == 3
        assert groups[("manufacturing",)].nps.nps == 50.0  # promoter 10 and passive 8
        assert groups[(None,)].answered == 0 and groups[(None,)].nps.nps is None

    def test_empty_by_gives_one_total_group(self) -> None:
        """Grouping by nothing yields the overall figures."""
        groups = aggregate(self.rows, by=())
        assert list(groups) == [()]
        assert groups[()].dispatched == 5 and groups[()].nps.n == 3

    def test_two_dimensions_and_no_rows(self) -> None:
        """Keys combine dimensions in order; no rows give no groups."""
        groups = aggregate(self.rows, by=("period", "rm_id"))
        assert list(groups) == [("2026-Q3", "rm-1"), ("2026-Q3", "rm-2")]
        assert aggregate([], by=("rm_id",)) == {}

    def test_unknown_dimension_and_orphan_answer_raise(self) -> None:
        """Unknown dimensions and answers without dispatch are rejected."""
        with pytest.raises(ValueError, match="dimensions"):
            aggregate(self.rows, by=("branch",))
        with pytest.raises(ValueError, match="dispatched"):
            AnswerRow("rm", "t", (), "p", "2026-Q3", 9, 5, dispatched=False, answered=True)


class TestStatsHelpers:
    def test_nearest_rank_percentiles(self) -> None:
        """Values 1..10: p50 is 5, p90 is 9, p100 is 10; 1..11: p90 is 10."""
        values = list(range(1, 11))
        assert nearest_rank(values, 50) == 5
        assert nearest_rank(values, 90) == 9
        assert nearest_rank(values, 100) == 10
        assert nearest_rank(list(range(1, 12)), 90) == 10
        assert nearest_rank([], 50) is None

    def test_wilson_and_median_edges(self) -> None:
        """Wilson at 0 successes starts at 0; medians of even counts average the middle."""
        assert wilson_interval(0, 10)[0] == 0.0
        from datetime import timedelta

        hours = [timedelta(hours=h) for h in (4, 1, 3, 2)]
        assert median_timedelta(hours) == timedelta(hours=2, minutes=30)
        assert median_timedelta([]) is None
