"""Are default rates monotonic by grade, up to sampling noise?

A grade with a few hundred firms and a PD under 1 % sees two to seven defaults a year, so
observed rates of neighbouring good grades cross each other by chance even when the true
rates rise grade by grade. Counting inversions therefore says little; the usual test asks
whether the observed rates are consistent with *some* non-decreasing sequence of true rates:

1. fit the closest non-decreasing rates (weighted isotonic regression, pool adjacent
   violators, weights = firms per grade): the maximum-likelihood monotone fit;
2. measure how much better the free per-grade rates fit than that: the binomial deviance
   (likelihood-ratio statistic; 0 when the observed rates are already monotone);
3. judge the statistic against its distribution under the monotone fit, by drawing default
   counts from Binomial(n_g, fitted rate) many times (parametric bootstrap).

A small p-value means the inversions are too large for chance: the grades are not ordered.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from crm_sim.rating.stats import log_binomial_pmf

Group = tuple[int, int]  # (firms, defaults), grades ordered from best to worst


@dataclass(frozen=True)
class MonotonicityTest:
    """The observed rates against the closest monotone rates."""

    inversions: int  # neighbouring grades whose observed rate falls from better to worse
    statistic: float  # likelihood-ratio statistic (binomial deviance)
    p_value: float  # share of bootstrap draws at least as far from monotone
    draws: int


def isotonic_rates(groups: Sequence[Group]) -> list[float]:
    """Return the weighted non-decreasing rates closest to ``defaults / firms`` (PAVA)."""
    blocks: list[list[float]] = []  # [firms, defaults, grades pooled]
    for firms, defaults in groups:
        if firms <= 0:
            msg = "every grade needs at least one firm"
            raise ValueError(msg)
        blocks.append([float(firms), float(defaults), 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][0] > blocks[-1][1] / blocks[-1][0]:
            firms_b, defaults_b, count_b = blocks.pop()
            blocks[-1][0] += firms_b
            blocks[-1][1] += defaults_b
            blocks[-1][2] += count_b
    rates: list[float] = []
    for firms_b, defaults_b, count_b in blocks:
        rates += [defaults_b / firms_b] * int(count_b)
    return rates


def deviance(groups: Sequence[Group], rates: Sequence[float]) -> float:
    """Return 2 x (log-likelihood of the free rates - log-likelihood of ``rates``)."""
    total = 0.0
    for (firms, defaults), rate in zip(groups, rates, strict=True):
        observed = defaults / firms
        if defaults:
            total += defaults * math.log(observed / rate)
        if firms - defaults:
            total += (firms - defaults) * math.log((1 - observed) / (1 - rate))
    return 2.0 * total


def _sampler(firms: int, rate: float) -> list[float]:
    """Return the cumulative probabilities of 0, 1, ... defaults, up to nearly 1."""
    cumulative: list[float] = []
    acc = 0.0
    for k in range(firms + 1):
        acc += math.exp(log_binomial_pmf(k, firms, rate))
        cumulative.append(acc)
        if acc >= 1.0 - 1e-12:
            break
    return cumulative


def monotonicity_test(groups: Sequence[Group], *, draws: int = 2000,
                      seed: int = 0) -> MonotonicityTest:
    """Test whether default rates by grade (best first) are consistent with monotone ones."""
    rates = isotonic_rates(groups)
    statistic = deviance(groups, rates)
    observed = [d / n for n, d in groups]
    inversions = sum(a > b for a, b in itertools.pairwise(observed))
    if statistic <= 0.0:
        return MonotonicityTest(inversions, 0.0, 1.0, 0)
    samplers = [_sampler(n, r) for (n, _), r in zip(groups, rates, strict=True)]
    rng = random.Random(seed)  # a fixed seed: the report is reproducible
    extreme = 0
    for _ in range(draws):
        drawn = [(n, min(n, bisect.bisect_left(cdf, rng.random())))
                 for (n, _), cdf in zip(groups, samplers, strict=True)]
        if deviance(drawn, isotonic_rates(drawn)) >= statistic - 1e-9:
            extreme += 1
    return MonotonicityTest(inversions, statistic, (extreme + 1) / (draws + 1), draws)
