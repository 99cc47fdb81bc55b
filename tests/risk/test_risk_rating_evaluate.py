"""Tests for discrimination statistics and the back-test report."""

from __future__ import annotations

import math
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_risk.rating.evaluate import (
    discrimination,
    fit_logistic_calibration,
    grade_distribution,
    grade_outcomes,
)
from crm_risk.rating.report import main, run_backtest
from crm_risk.rating.scale import grade_rank


def brute_force_auc(scores: list[float], outcomes: list[bool]) -> float:
    """Return the share of (default, non-default) pairs ordered correctly, ties half."""
    bad = [s for s, o in zip(scores, outcomes, strict=True) if o]
    good = [s for s, o in zip(scores, outcomes, strict=True) if not o]
    wins = sum(1.0 if b > g else 0.5 if b == g else 0.0 for b in bad for g in good)
    return wins / (len(bad) * len(good))


class TestDiscrimination:
    def test_perfect_separation(self) -> None:
        """Defaulters all scoring riskier gives AUC 1, Gini 1 and KS 1."""
        d = discrimination([0.1, 0.2, 0.3, 0.8, 0.9], [False, False, False, True, True])
        assert (d.auc, d.gini, d.ks, d.n, d.defaults) == (1.0, 1.0, 1.0, 5, 2)

    def test_reversed_separation(self) -> None:
        """Scores ordered the wrong way give AUC 0."""
        assert discrimination([0.9, 0.1], [False, True]).auc == 0.0

    def test_ties_count_half(self) -> None:
        """Tied scores contribute one half, worked by hand."""
        d = discrimination([1, 2, 2, 3], [False, True, False, True])
        assert d.auc == pytest.approx(0.875)
        assert d.ks == pytest.approx(0.5)

    def test_all_tied_is_uninformative(self) -> None:
        """Identical scores give AUC 0.5 and KS 0."""
        d = discrimination([0.5] * 6, [True, False, False, True, False, False])
        assert (d.auc, d.ks) == (0.5, 0.0)

    def test_random_scores_near_half(self) -> None:
        """Scores unrelated to outcomes give AUC close to 0.5."""
        rng = random.Random(42)
        scores = [rng.random() for _ in range(4000)]
        outcomes = [rng.random() < 0.1 for _ in range(4000)]
        assert discrimination(scores, outcomes).auc == pytest.approx(0.5, abs=0.04)

    @settings(max_examples=200)
    @given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=2, max_size=40))
    def test_matches_pairwise_definition(self, pairs: list[tuple[int, bool]]) -> None:
        """The rank-based AUC equals the pairwise definition, ties included."""
        scores = [float(s) for s, _ in pairs]
        outcomes = [o for _, o in pairs]
        if all(outcomes) or not any(outcomes):
            with pytest.raises(ValueError, match="one default"):
                discrimination(scores, outcomes)
            return
        d = discrimination(scores, outcomes)
        assert d.auc == pytest.approx(brute_force_auc(scores, outcomes))
        assert 0.0 <= d.ks <= 1.0

    def test_input_errors(self) -> None:
        """Mismatched lengths and non-finite scores are rejected."""
        with pytest.raises(ValueError, match="outcomes"):
            discrimination([1.0, 2.0], [True])
        with pytest.raises(ValueError, match="finite"):
            discrimination([1.0, math.nan], [True, False])


class TestGrades:
    def test_distribution_in_scale_order_with_zeros(self) -> None:
        """Every grade appears, in master-scale order, with its count."""
        counts = grade_distribution(["BB", "AAA", "BB", "D"])
        assert list(counts)[:3] == ["AAA", "AA+", "AA"]
        assert list(counts)[-1] == "D"
        assert (counts["AAA"], counts["BB"], counts["D"], counts["A"]) == (1, 2, 1, 0)

    def test_unknown_grade(self) -> None:
        """Grades off the scale are rejected."""
        with pytest.raises(ValueError, match="unknown grade"):
            grade_distribution(["AAA", "Z"])

    def test_outcomes_per_grade(self) -> None:
        """Defaults are counted per grade with an observed rate."""
        by_grade = grade_outcomes(["A", "A", "B", "B"], [False, True, True, True])
        assert (by_grade["A"].count, by_grade["A"].defaults) == (2, 1)
        assert by_grade["B"].default_rate == 1.0
        assert by_grade["AAA"].default_rate is None


class TestCalibrationFit:
    def test_recovers_known_parameters(self) -> None:
        """Newton's method recovers the intercept and slope used to simulate outcomes."""
        rng = random.Random(9)
        scores = [rng.uniform(0, 100) for _ in range(20000)]
        outcomes = [rng.random() < 1 / (1 + math.exp(-(3.0 - 0.1 * s))) for s in scores]
        intercept, slope = fit_logistic_calibration(scores, outcomes)
        assert intercept == pytest.approx(3.0, abs=0.25)
        assert slope == pytest.approx(-0.1, abs=0.006)


class TestReport:
    def test_main_prints_measured_discrimination(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The report runs, returns 0 and measures AUC of at least 0.70 on 2,000 clients."""
        assert main(["--clients", "2000", "--seed", "7"]) == 0
        out = capsys.readouterr().out
        match = re.search(r"AUC (\d\.\d+)\s+Gini (-?\d\.\d+)\s+KS (\d\.\d+)", out)
        assert match is not None, out
        auc, gini = float(match.group(1)), float(match.group(2))
        assert auc >= 0.70
        assert gini == pytest.approx(2 * auc - 1, abs=0.002)
        assert "Default rate:" in out
        for grade in ("AAA", "BBB-", "CCC-C", "D"):
            assert re.search(rf"^{re.escape(grade)}\s+\d+", out, re.MULTILINE)

    def test_backtest_orders_default_rates(self) -> None:
        """Observed default rates rise from investment grade to BB/B to CCC-C."""
        bt = run_backtest(n_clients=2000, seed=21)
        assert bt.discrimination is not None
        assert bt.discrimination.auc >= 0.70
        assert 0.02 <= bt.default_rate <= 0.06

        def pooled(lo: str, hi: str) -> float:
            rows = [o for g, o in bt.by_grade.items()
                    if grade_rank(lo) <= grade_rank(g) <= grade_rank(hi)]
            return sum(o.defaults for o in rows) / sum(o.count for o in rows)

        assert pooled("AAA", "BBB-") < pooled("BB", "B") < pooled("CCC-C", "CCC-C")

    def test_rejects_bad_arguments(self) -> None:
        """Zero clients is a usage error."""
        with pytest.raises(SystemExit):
            main(["--clients", "0"])
