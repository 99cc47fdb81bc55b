"""The binomial test with a systematic factor (Vasicek's one-factor model).

The plain binomial test assumes that obligors default independently. They do not: one
macro cycle moves every firm of a book, so in a boom year through-the-cycle PDs
over-predict every grade at once and in a downturn they under-predict every grade. The
test then rejects a well-calibrated model for the year's position in the cycle. Validators
(e.g. the Basel Committee's Working Paper 14 on the validation of internal rating systems)
widen the interval by an asset correlation ρ: given the systematic factor Z, an obligor
defaults with probability Φ((Φ⁻¹(PD) − √ρ·Z) / √(1 − ρ)), and the count of defaults is
binomial given Z, mixed over Z ~ N(0, 1).

ρ is implied by how much yearly default rates vary from world to world beyond sampling
noise (``implied_correlation``), measured on the calibration worlds, never on the book
being tested.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Final

_NORMAL: Final = NormalDist()
# Quadrature over the factor: a fine grid on ±6 standard deviations is ample for 95 %.
_NODES: Final = tuple(-6.0 + 0.05 * i for i in range(241))
_WEIGHTS: Final = tuple(_NORMAL.pdf(z) * 0.05 for z in _NODES)


def conditional_pd(pd: float, rho: float, z: float) -> float:
    """Return the PD given the systematic factor ``z`` (negative z is a bad year); a PD of
    0 or 1 is certain whatever the year."""
    if rho <= 0.0 or not 0.0 < pd < 1.0:
        return pd
    return _NORMAL.cdf((_NORMAL.inv_cdf(pd) - math.sqrt(rho) * z) / math.sqrt(1.0 - rho))


def _log_binomial_coefficients(n: int) -> list[float]:
    return [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            for k in range(n + 1)]


def _binomial_pmf(coefficients: Sequence[float], p: float) -> list[float]:
    """Return P(X = k) for k = 0..n in log space ((1 − p)^n underflows for large books)."""
    n = len(coefficients) - 1
    if p <= 0.0 or p >= 1.0:
        return [float(k == (n if p >= 1.0 else 0)) for k in range(n + 1)]
    log_p, log_q = math.log(p), math.log1p(-p)
    return [math.exp(c + k * log_p + (n - k) * log_q) for k, c in enumerate(coefficients)]


def correlated_interval(n: int, pd: float, rho: float, *, confidence: float = 0.95
                        ) -> tuple[int, int]:
    """Return the central interval [low, high] of default counts for n obligors at PD
    ``pd`` whose defaults share a factor with asset correlation ``rho``.

    Each tail outside it has probability at most (1 − confidence) / 2, as for
    ``stats.binomial_interval``, which it equals at rho = 0.
    """
    coefficients = _log_binomial_coefficients(n)
    mixture = [0.0] * (n + 1)
    for z, weight in zip(_NODES, _WEIGHTS, strict=True):
        for k, mass in enumerate(_binomial_pmf(coefficients, conditional_pd(pd, rho, z))):
            mixture[k] += weight * mass
    total = sum(mixture)
    cumulative = list(itertools.accumulate(m / total for m in mixture))
    tail = (1.0 - confidence) / 2
    low = next(k for k, c in enumerate(cumulative) if c >= tail)
    high = max(k for k in range(n + 1) if k == 0 or 1.0 - cumulative[k - 1] >= tail)
    return low, high


def implied_correlation(yearly_rates: Sequence[float], clients_per_year: int) -> float:
    """Return the asset correlation whose Vasicek spread of yearly default rates matches
    the rates' variance beyond binomial noise (0 when noise explains it all)."""
    mean = sum(yearly_rates) / len(yearly_rates)
    variance = sum((r - mean) ** 2 for r in yearly_rates) / (len(yearly_rates) - 1)
    systematic = variance - mean * (1 - mean) / clients_per_year
    if systematic <= 0.0:
        return 0.0
    low, high = 0.0, 0.5
    for _ in range(60):
        rho = (low + high) / 2
        spread = sum(w * (conditional_pd(mean, rho, z) - mean) ** 2
                     for z, w in zip(_NODES, _WEIGHTS, strict=True))
        low, high = (rho, high) if spread < systematic else (low, rho)
    return (low + high) / 2
