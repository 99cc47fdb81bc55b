"""Fit a calibration curve from the scorecard's log-odds to observed defaults.

Three monotone forms are fitted and compared (``recalibrate`` runs them):

- ``linear``: PD = σ(a + b · z), the two-parameter logistic recalibration (Cox's
  calibration intercept and slope);
- ``floor``: PD = c + (1 − c) · σ(a + b · z), the same with a lower asymptote c, the risk
  no score removes (``crm_risk.rating.model.pd_curve``, the form the service reads);
- ``isotonic``: pool-adjacent-violators over equal-count bins of z, interpolated in
  log-odds between the pooled blocks' centres, the non-parametric monotone curve.

The parametric forms are fitted by maximum likelihood with Fisher scoring on cells of
observations that share their log-odds to CELL_WIDTH (a few thousand cells instead of a
hundred thousand rows; the rounding moves no PD by more than 0.05 %). The floor is fitted
on the logit scale (c = σ(γ)) so it stays between 0 and 1 while Newton steps run free.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from crm_risk.rating.model.pd_curve import CalibrationCurve, sigmoid
from crm_sim.rating.logistic import inverse_diagonal, solve

CELL_WIDTH: Final = 0.001
ISOTONIC_BINS: Final = 60
PD_FLOOR: Final = 0.0005  # the master scale's floor, applied to every form when scored

Cell = tuple[float, int, int]  # log-odds, observations, defaults


def cells(pairs: Iterable[tuple[float, bool]], width: float = CELL_WIDTH) -> list[Cell]:
    """Return (log-odds, count, defaults) cells of (log-odds, defaulted) pairs."""
    found: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for z, defaulted in pairs:
        cell = found[round(z / width)]
        cell[0] += 1
        cell[1] += int(defaulted)
    return [(key * width, n, d) for key, (n, d) in sorted(found.items())]


def log_likelihood(pd: Callable[[float], float], data: Sequence[Cell]) -> float:
    """Return the Bernoulli log-likelihood of the cells under ``pd`` (floored as rated)."""
    total = 0.0
    for z, n, d in data:
        p = min(max(pd(z), PD_FLOOR), 1.0 - 1e-12)
        total += d * math.log(p) + (n - d) * math.log1p(-p)
    return total


@dataclass(frozen=True)
class CurveFit:
    """A fitted parametric curve, its standard errors and log-likelihood."""

    curve: CalibrationCurve
    standard_errors: dict[str, float]  # intercept, slope and (floor form) floor
    log_likelihood: float
    iterations: int


def _curve(theta: Sequence[float]) -> CalibrationCurve:
    floor = sigmoid(theta[2]) if len(theta) == 3 else 0.0
    return CalibrationCurve(floor=floor, intercept=theta[0], slope=theta[1])


def _pd_of(theta: Sequence[float]) -> Callable[[float], float]:
    """Return the PD function of θ unchecked: a trial step may leave the curve's bounds."""
    return lambda z: _gradients(theta, z)[0]


def _gradients(theta: Sequence[float], z: float) -> tuple[float, list[float]]:
    """Return p and ∂p/∂θ at log-odds z for θ = (a, b[, γ])."""
    c = sigmoid(theta[2]) if len(theta) == 3 else 0.0
    s = sigmoid(theta[0] + theta[1] * z)
    ds = (1.0 - c) * s * (1.0 - s)
    grads = [ds, ds * z] + ([c * (1.0 - c) * (1.0 - s)] if len(theta) == 3 else [])
    return c + (1.0 - c) * s, grads


def fit_curve(data: Sequence[Cell], *, with_floor: bool, max_iterations: int = 100,
              tolerance: float = 1e-10) -> CurveFit:
    """Fit the ``floor`` form (or ``linear`` without it) by Fisher scoring, halving a step
    that lowers the likelihood (the floor's likelihood is flat far from the data)."""
    theta = [0.0, 1.0, math.log(0.001 / 0.999)] if with_floor else [0.0, 1.0]
    k = len(theta)
    current = log_likelihood(_pd_of(theta), data)
    info: list[list[float]] = [[0.0] * k for _ in range(k)]
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - reported after the loop
        score, info = [0.0] * k, [[0.0] * k for _ in range(k)]
        for z, n, d in data:
            p, grads = _gradients(theta, z)
            p = min(max(p, 1e-12), 1.0 - 1e-12)
            weight = 1.0 / (p * (1.0 - p))
            for i in range(k):
                score[i] += (d - n * p) * weight * grads[i]
                for j in range(k):
                    info[i][j] += n * weight * grads[i] * grads[j]
        step, scale = solve(info, score), 1.0
        while True:
            trial = [t + scale * s for t, s in zip(theta, step, strict=True)]
            value = log_likelihood(_pd_of(trial), data)
            if value >= current - 1e-9 or scale < 1e-6:
                break
            scale /= 2
        theta, current = trial, value
        if max(abs(scale * s) for s in step) < tolerance:
            break
    errors = [math.sqrt(max(v, 0.0)) for v in inverse_diagonal(info)]
    names = ["intercept", "slope", "floor_logit"][:k]
    return CurveFit(_curve(theta), dict(zip(names, errors, strict=True)), current, iterations)


def isotonic_knots(pairs: Sequence[tuple[float, bool]], bins: int = ISOTONIC_BINS
                   ) -> list[tuple[float, float]]:
    """Return (log-odds, PD) knots of the isotonic fit over ``bins`` equal-count bins."""
    ordered = sorted(pairs)
    size = len(ordered) // bins
    # Each block: summed log-odds, count, defaults; adjacent violators are pooled.
    blocks: list[list[float]] = []
    for i in range(bins):
        part = ordered[i * size:(i + 1) * size if i < bins - 1 else len(ordered)]
        blocks.append([sum(z for z, _ in part), len(part), sum(d for _, d in part)])
        while len(blocks) > 1 and blocks[-2][2] / blocks[-2][1] >= blocks[-1][2] / blocks[-1][1]:
            last = blocks.pop()
            blocks[-1] = [a + b for a, b in zip(blocks[-1], last, strict=True)]
    return [(zs / n, d / n) for zs, n, d in blocks]


def isotonic_pd(knots: Sequence[tuple[float, float]], z: float) -> float:
    """Return the isotonic PD at z: log-odds interpolated between knots, flat beyond."""
    def logit(p: float) -> float:
        p = min(max(p, PD_FLOOR), 1.0 - 1e-6)
        return math.log(p / (1.0 - p))

    if z <= knots[0][0]:
        return knots[0][1]
    for (x0, p0), (x1, p1) in itertools.pairwise(knots):
        if z <= x1:
            return sigmoid(logit(p0) + (logit(p1) - logit(p0)) * (z - x0) / (x1 - x0))
    return knots[-1][1]
