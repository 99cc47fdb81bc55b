"""Discrimination and calibration statistics for back-testing a rating model.

Scores are risk-ordered: a higher score means more likely to default (pass PDs, or
negate a scorecard's points). AUC is the Mann-Whitney statistic with mid-ranks, so
tied scores count one half; KS compares the two empirical CDFs at every distinct score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crm_risk.rating.scale import DEFAULT_MASTER_SCALE, MASTER_SCALES


@dataclass(frozen=True)
class Discrimination:
    """How well scores separate defaulters from the rest."""

    auc: float
    gini: float
    ks: float
    n: int
    defaults: int


@dataclass(frozen=True)
class GradeOutcome:
    """Count, defaults and observed default rate of one grade."""

    count: int
    defaults: int

    @property
    def default_rate(self) -> float | None:
        """Return defaults / count, or None for an empty grade."""
        return self.defaults / self.count if self.count else None


def _check(scores: Sequence[float], outcomes: Sequence[bool]) -> None:
    """Require equal lengths, finite scores and both outcomes present."""
    if len(scores) != len(outcomes):
        msg = f"{len(scores)} scores but {len(outcomes)} outcomes"
        raise ValueError(msg)
    if any(not math.isfinite(s) for s in scores):
        msg = "scores must be finite"
        raise ValueError(msg)
    defaults = sum(1 for o in outcomes if o)
    if defaults in {0, len(outcomes)}:
        msg = "discrimination needs at least one default and one non-default"
        raise ValueError(msg)


def discrimination(scores: Sequence[float], outcomes: Sequence[bool]) -> Discrimination:
    """Return AUC, Gini (2·AUC − 1) and KS of risk-ordered ``scores`` against ``outcomes``."""
    _check(scores, outcomes)
    n = len(scores)
    n_bad = sum(1 for o in outcomes if o)
    n_good = n - n_bad
    order = sorted(range(n), key=lambda i: scores[i])
    bad_rank_sum = 0.0
    ks = 0.0
    cum_bad = cum_good = 0
    start = 0
    while start < n:
        # One group of tied scores: shares the mean of their ranks (1-based).
        end = start
        while end + 1 < n and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        mid_rank = (start + end) / 2 + 1
        group_bad = sum(1 for i in order[start:end + 1] if outcomes[i])
        bad_rank_sum += group_bad * mid_rank
        cum_bad += group_bad
        cum_good += end - start + 1 - group_bad
        ks = max(ks, abs(cum_bad / n_bad - cum_good / n_good))
        start = end + 1
    auc = (bad_rank_sum - n_bad * (n_bad + 1) / 2) / (n_bad * n_good)
    return Discrimination(auc=auc, gini=2 * auc - 1, ks=ks, n=n, defaults=n_bad)


def grade_distribution(
    grades: Iterable[str], *, version: str = DEFAULT_MASTER_SCALE
) -> dict[str, int]:
    """Count grades in master-scale order, listing every grade (zero when absent)."""
    counts = dict.fromkeys(MASTER_SCALES[version].grades, 0)
    for grade in grades:
        if grade not in counts:
            msg = f"unknown grade {grade!r} on master scale {version}"
            raise ValueError(msg)
        counts[grade] += 1
    return counts


def grade_outcomes(
    grades: Sequence[str], outcomes: Sequence[bool], *, version: str = DEFAULT_MASTER_SCALE
) -> dict[str, GradeOutcome]:
    """Return count and defaults per grade, in master-scale order."""
    if len(grades) != len(outcomes):
        msg = f"{len(grades)} grades but {len(outcomes)} outcomes"
        raise ValueError(msg)
    counts = grade_distribution(grades, version=version)
    defaults = dict.fromkeys(counts, 0)
    for grade, defaulted in zip(grades, outcomes, strict=True):
        defaults[grade] += int(defaulted)
    return {g: GradeOutcome(count=counts[g], defaults=defaults[g]) for g in counts}


def fit_logistic_calibration(
    scores: Sequence[float], outcomes: Sequence[bool], *, iterations: int = 50
) -> tuple[float, float]:
    """Fit log-odds(default) = intercept + slope · score by Newton's method.

    Scores are centred during fitting for numerical stability; the returned intercept
    is for the raw scores.
    """
    _check(scores, outcomes)
    mean = sum(scores) / len(scores)
    xs = [s - mean for s in scores]
    ys = [1.0 if o else 0.0 for o in outcomes]
    a = b = 0.0
    for _ in range(iterations):
        g0 = g1 = h00 = h01 = h11 = 0.0
        for x, y in zip(xs, ys, strict=True):
            p = 1 / (1 + math.exp(-(a + b * x)))
            w = p * (1 - p)
            g0 += y - p
            g1 += (y - p) * x
            h00 += w
            h01 += w * x
            h11 += w * x * x
        det = h00 * h11 - h01 * h01
        if det <= 0:
            break
        step_a = (h11 * g0 - h01 * g1) / det
        step_b = (h00 * g1 - h01 * g0) / det
        a, b = a + step_a, b + step_b
        if abs(step_a) < 1e-10 and abs(step_b) < 1e-10:
            break
    return a - b * mean, b
