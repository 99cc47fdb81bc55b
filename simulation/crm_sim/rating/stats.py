"""Validation statistics: discrimination, calibration tests, stability and migration.

Scores are risk-ordered: higher means more likely to default (pass PDs). AUC is the
Mann-Whitney statistic with mid-ranks, so tied scores count one half; KS compares the two
empirical CDFs at every distinct score. The calibration tests assume independent defaults,
as the usual per-grade binomial test does; a shared macro shock makes real defaults
correlated, so a bad year can fail them for the whole book at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Discrimination:
    """How well scores separate defaulters from the rest."""

    auc: float
    gini: float
    ks: float
    n: int
    defaults: int


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
    bad_rank_sum = ks = 0.0
    cum_bad = cum_good = start = 0
    while start < n:
        # One group of tied scores shares the mean of their ranks (1-based).
        end = start
        while end + 1 < n and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        group_bad = sum(1 for i in order[start:end + 1] if outcomes[i])
        bad_rank_sum += group_bad * ((start + end) / 2 + 1)
        cum_bad += group_bad
        cum_good += end - start + 1 - group_bad
        ks = max(ks, abs(cum_bad / n_bad - cum_good / n_good))
        start = end + 1
    auc = (bad_rank_sum - n_bad * (n_bad + 1) / 2) / (n_bad * n_good)
    return Discrimination(auc=auc, gini=2 * auc - 1, ks=ks, n=n, defaults=n_bad)


def log_binomial_pmf(k: int, n: int, p: float) -> float:
    """Return log P(X = k) for X ~ Binomial(n, p)."""
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p))


def binomial_cdf(k: int, n: int, p: float) -> float:
    """Return P(X ≤ k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return min(1.0, sum(math.exp(log_binomial_pmf(i, n, p)) for i in range(k + 1)))


def binomial_interval(n: int, p: float, *, confidence: float = 0.95) -> tuple[int, int]:
    """Return the central interval [low, high] of default counts for n obligors at PD p.

    Each tail outside it has probability at most (1 − confidence) / 2.
    """
    tail = (1.0 - confidence) / 2
    low = 0
    while binomial_cdf(low, n, p) < tail:
        low += 1
    high = n
    while high > 0 and 1.0 - binomial_cdf(high - 1, n, p) < tail:
        high -= 1
    return low, high


def _regularized_upper_gamma(a: float, x: float) -> float:
    """Return Q(a, x) = Γ(a, x) / Γ(a) by series or continued fraction (Numerical Recipes)."""
    if x <= 0:
        return 1.0
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(500):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-14:
                break
        return 1.0 - total * math.exp(-x + a * math.log(x) - math.lgamma(a))
    b, c, d = x + 1 - a, 1e300, 1.0 / (x + 1 - a)
    h = d
    for i in range(1, 500):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-14:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi_square_sf(statistic: float, dof: int) -> float:
    """Return P(χ²(dof) ≥ statistic)."""
    return _regularized_upper_gamma(dof / 2, statistic / 2)


@dataclass(frozen=True)
class HosmerLemeshow:
    """Hosmer–Lemeshow statistic over groups, its degrees of freedom and p-value."""

    statistic: float
    dof: int
    p_value: float


def hosmer_lemeshow(groups: Sequence[tuple[int, int, float]]) -> HosmerLemeshow:
    """Test (count, defaults, mean PD) groups; dof is the number of groups (out of sample).

    Used on a held-out sample the model was not fitted on, so no degrees of freedom are
    spent on estimation.
    """
    statistic = 0.0
    used = 0
    for count, defaults, pd in groups:
        expected = count * pd
        if count == 0 or expected <= 0 or expected >= count:
            continue
        statistic += (defaults - expected) ** 2 / (expected * (1 - pd))
        used += 1
    dof = max(used, 1)
    return HosmerLemeshow(statistic, dof, chi_square_sf(statistic, dof))


def population_stability(
    before: Mapping[str, int], after: Mapping[str, int], *, floor: float = 1e-4
) -> float:
    """Return PSI = Σ (a − b) · ln(a / b) over the buckets' shares (empty shares floored)."""
    buckets = set(before) | set(after)
    total_b, total_a = sum(before.values()), sum(after.values())
    if not total_b or not total_a:
        msg = "both populations must be non-empty"
        raise ValueError(msg)
    psi = 0.0
    for bucket in buckets:
        b = max(before.get(bucket, 0) / total_b, floor)
        a = max(after.get(bucket, 0) / total_a, floor)
        psi += (a - b) * math.log(a / b)
    return psi


def migration_matrix(
    pairs: Sequence[tuple[str, str]], grades: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Count (from, to) grade pairs into a matrix with every grade as row and column."""
    matrix = {g: dict.fromkeys(grades, 0) for g in grades}
    for first, second in pairs:
        matrix[first][second] += 1
    return matrix
