"""Tests for the calibration curve (SC-2027.3): monotone PDs, the fit, and what it changes on
the calibration worlds it was fitted on."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, replace

import pytest
from rating_support import STRONG, WEAK

from crm_risk.rating.model.pd_curve import CalibrationCurve, curve_from_json
from crm_risk.rating.model.scale import grade_for_pd
from crm_risk.rating.model.scorecard import RatingInputs, RepaymentHistory, rate
from crm_risk.rating.model.scorecard_model import load_model
from crm_sim.rating.book import RATING_YEARS, generate_book
from crm_sim.rating.calibration import CALIBRATION_CLIENTS, CALIBRATION_SEEDS
from crm_sim.rating.curves import cells, fit_curve, isotonic_knots, log_likelihood
from crm_sim.rating.evaluate import BANDS
from crm_sim.rating.sample import book_observations
from crm_sim.rating.stats import discrimination


class TestCurve:
    def test_calibrated_pds_fall_strictly_as_the_score_rises(self) -> None:
        """Over every score a client can have (overlays can push it below 0), SC-2027.3's
        PD falls strictly, stays above the fitted floor and the scale's 0.05 %."""
        model = load_model("SC-2027.3")
        scores = [-80.0 + 0.25 * i for i in range(801)]  # -80 .. 120
        pds = [model.pd(s) for s in scores]
        assert all(a > b for a, b in itertools.pairwise(pds))
        assert min(pds) > model.calibration.floor >= 0.0005

    def test_rated_clients_keep_their_order(self) -> None:
        """Through ``rate``: a worse record never gets a lower PD, the score and factors are
        SC-2027.2's (same fit), only the PD moves."""
        cases = [STRONG, WEAK, *(replace(WEAK, repayment=RepaymentHistory(max_dpd_12m=d))
                                 for d in (10, 40, 80))]
        new = [rate(c) for c in cases]
        old = [rate(c, version="SC-2027.2") for c in cases]
        assert [r.score for r in new] == [r.score for r in old]
        assert [r.factors for r in new] == [r.factors for r in old]
        ordered = sorted(new, key=lambda r: -r.score)
        assert [r.pd for r in ordered] == sorted(r.pd for r in new)

    def test_the_curve_lifts_the_best_scores_and_lowers_the_middle(self) -> None:
        """What the calibration worlds showed: the best scores defaulted more often than
        SC-2027.2 said (the floor lifts them), the BB and B scores less often."""
        new, old = load_model("SC-2027.3"), load_model("SC-2027.2")
        for score in (90.0, 100.0):
            assert new.pd(score) > old.pd(score) and old.pd(score) < 0.002
        for score in (40.0, 50.0):
            assert new.pd(score) < old.pd(score) and 0.03 < old.pd(score) < 0.12
        assert rate(STRONG).pd > rate(STRONG, version="SC-2027.2").pd

    @pytest.mark.parametrize(("floor", "slope"), [(0.0, 0.0), (0.0, -1.0), (0.05, 1.0),
                                                  (-0.001, 1.0), (0.0, math.inf)])
    def test_a_curve_that_would_break_the_ranking_is_refused(self, floor: float,
                                                             slope: float) -> None:
        """A non-positive slope reverses or flattens the ranking; a floor of 5 % or more is
        not a calibration."""
        with pytest.raises(ValueError, match="calibration"):
            CalibrationCurve(floor=floor, slope=slope)

    def test_documents_without_a_curve_read_as_the_identity(self) -> None:
        """SC-2027.1 and SC-2027.2 files carry no curve; an unknown form is refused."""
        assert curve_from_json(None).is_identity
        with pytest.raises(ValueError, match="form"):
            curve_from_json({"form": "spline", "floor": 0, "intercept": 0, "slope": 1})


def _draws(n: int, seed: int) -> list[tuple[float, bool]]:
    """Log-odds spread like a scorecard's, outcomes from a known floor-logistic curve."""
    rng = random.Random(seed)
    truth = CalibrationCurve(floor=0.004, intercept=0.2, slope=1.2)
    zs = [rng.gauss(-4.0, 1.6) for _ in range(n)]
    return [(z, rng.random() < truth.pd(z)) for z in zs]


class TestFitting:
    def test_fisher_scoring_recovers_the_generating_curve(self) -> None:
        """On 60,000 draws the fit lands within three standard errors of the truth."""
        fit = fit_curve(cells(_draws(60_000, seed=7)), with_floor=True)
        errors = fit.standard_errors
        assert abs(fit.curve.intercept - 0.2) < 3 * errors["intercept"]
        assert abs(fit.curve.slope - 1.2) < 3 * errors["slope"]
        floor_logit = math.log(fit.curve.floor / (1 - fit.curve.floor))
        assert abs(floor_logit - math.log(0.004 / 0.996)) < 3 * errors["floor_logit"]

    def test_a_straight_line_cannot_bend_where_the_floor_does(self) -> None:
        """Fitted to data with a floor, the linear form fits worse on fresh draws."""
        train, test = cells(_draws(40_000, seed=8)), cells(_draws(40_000, seed=9))
        linear = fit_curve(train, with_floor=False).curve
        floor = fit_curve(train, with_floor=True).curve
        assert linear.floor == 0.0
        assert log_likelihood(floor.pd, test) > log_likelihood(linear.pd, test) + 5

    def test_isotonic_knots_rise(self) -> None:
        """Pooled adjacent violators leave default rates that never fall."""
        knots = isotonic_knots(_draws(20_000, seed=10))
        assert [z for z, _ in knots] == sorted(z for z, _ in knots)
        assert all(a < b for (_, a), (_, b) in itertools.pairwise(knots))


@dataclass(frozen=True)
class Pair:
    """One calibration client-year rated by both versions."""

    old_pd: float
    new_pd: float
    defaulted: bool


@pytest.fixture(scope="module")
def calibration_worlds() -> list[Pair]:
    """The twelve calibration worlds' books (the long-run rate's 2,000 firms each), both
    rating years, rated from statements alone by SC-2027.2 and SC-2027.3. One world's B band
    moves with its own years (on four of the twelve the gap widens), so the test pools them,
    as the fit did."""
    found = []
    for seed in CALIBRATION_SEEDS:
        book = generate_book(seed=seed, n_clients=CALIBRATION_CLIENTS)
        for year in RATING_YEARS:
            for o in book_observations(book, year):
                inputs = RatingInputs(industry_code=o.industry_code, features=o.features,
                                      size_class=o.size_class,
                                      audit_opinion=o.statements[-1].audit_opinion)
                found.append(Pair(rate(inputs, version="SC-2027.2").pd,
                                  rate(inputs, version="SC-2027.3").pd, o.defaulted))
    return found


def _band_gap(pairs: list[Pair], members: tuple[str, ...], *, new: bool) -> float:
    """Return |observed default rate − mean PD| of the clients a version grades in a band."""
    inside = [p for p in pairs if grade_for_pd(p.new_pd if new else p.old_pd) in members]
    observed = sum(p.defaulted for p in inside) / len(inside)
    return abs(observed - sum(p.new_pd if new else p.old_pd for p in inside) / len(inside))


class TestOnTheCalibrationWorlds:
    def test_the_b_band_gap_shrinks(self, calibration_worlds: list[Pair]) -> None:
        """B+ to B- was over-predicted (10.5 % observed, 11.3 % mean PD); the curve more
        than halves the gap, and narrows the best band's under-prediction too."""
        bands = dict(BANDS)
        for band in ("B+ to B-", "AAA to A-"):
            before = _band_gap(calibration_worlds, bands[band], new=False)
            after = _band_gap(calibration_worlds, bands[band], new=True)
            assert after < 0.6 * before, band

    def test_the_ranking_and_the_mean_are_kept(self, calibration_worlds: list[Pair]) -> None:
        """A monotone curve leaves the AUC as it was; the mean PD stays at the default rate."""
        outcomes = [p.defaulted for p in calibration_worlds]
        old = discrimination([p.old_pd for p in calibration_worlds], outcomes).auc
        new = discrimination([p.new_pd for p in calibration_worlds], outcomes).auc
        assert new == pytest.approx(old, abs=1e-9)
        rate_ = sum(outcomes) / len(outcomes)
        mean_pd = sum(p.new_pd for p in calibration_worlds) / len(calibration_worlds)
        assert mean_pd == pytest.approx(rate_, rel=0.03)
