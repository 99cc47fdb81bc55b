"""Logistic regression by iteratively reweighted least squares, in plain Python.

Scorecards have a dozen columns and tens of thousands of rows: Newton's method converges in
a handful of iterations and needs no numerical library. A small ridge penalty (not applied
to the intercept) keeps the fit defined when two binned factors are nearly collinear.
An optional offset per row enters the log-odds with a fixed coefficient of one: that is how
a factor whose weight credit policy fixes still counts while the others are estimated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LogisticFit:
    """Fitted log-odds = intercept + Σ coefficients · x, with standard errors."""

    intercept: float
    coefficients: tuple[float, ...]
    standard_errors: tuple[float, ...]  # of the coefficients (intercept excluded)
    iterations: int
    log_likelihood: float

    def log_odds(self, row: Sequence[float]) -> float:
        """Return the fitted log-odds of one row."""
        return self.intercept + sum(b * x for b, x in zip(self.coefficients, row, strict=True))


def solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Solve matrix · x = vector by Gaussian elimination with partial pivoting."""
    n = len(vector)
    a = [[*row, vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            msg = "singular system: a factor is constant or a copy of another"
            raise ValueError(msg)
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            factor = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= factor * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def inverse_diagonal(matrix: list[list[float]]) -> list[float]:
    """Return the diagonal of the inverse of a symmetric positive-definite matrix."""
    n = len(matrix)
    return [solve(matrix, [1.0 if i == j else 0.0 for i in range(n)])[j] for j in range(n)]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def fit_logistic(
    rows: Sequence[Sequence[float]], outcomes: Sequence[bool], *, ridge: float = 1e-3,
    max_iterations: int = 50, tolerance: float = 1e-9, offsets: Sequence[float] | None = None,
) -> LogisticFit:
    """Fit P(outcome) = sigmoid(offset + intercept + β·x) by Newton's method with a ridge
    on β (offsets default to zero)."""
    if len(rows) != len(outcomes) or not rows:
        msg = "rows and outcomes must be non-empty and of equal length"
        raise ValueError(msg)
    shifts = [0.0] * len(rows) if offsets is None else [float(v) for v in offsets]
    if len(shifts) != len(rows):
        msg = "offsets must have one value per row"
        raise ValueError(msg)
    k = len(rows[0]) + 1
    design = [[1.0, *map(float, r)] for r in rows]
    ys = [1.0 if o else 0.0 for o in outcomes]
    beta = [0.0] * k
    iterations = 0
    hessian: list[list[float]] = [[0.0] * k for _ in range(k)]
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - reported after the loop
        gradient = [0.0] * k
        hessian = [[0.0] * k for _ in range(k)]
        for x, y, shift in zip(design, ys, shifts, strict=True):
            p = _sigmoid(shift + sum(b * v for b, v in zip(beta, x, strict=True)))
            w = p * (1.0 - p)
            for i in range(k):
                gradient[i] += (y - p) * x[i]
                wx = w * x[i]
                row = hessian[i]
                for j in range(i, k):
                    row[j] += wx * x[j]
        for i in range(k):
            for j in range(i):
                hessian[i][j] = hessian[j][i]
            if i:
                gradient[i] -= ridge * len(ys) * beta[i]
                hessian[i][i] += ridge * len(ys)
        step = solve(hessian, gradient)
        beta = [b + s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < tolerance:
            break
    variances = inverse_diagonal(hessian)
    log_likelihood = 0.0
    for x, y, shift in zip(design, ys, shifts, strict=True):
        p = min(max(_sigmoid(shift + sum(b * v for b, v in zip(beta, x, strict=True))),
                    1e-15), 1 - 1e-15)
        log_likelihood += y * math.log(p) + (1 - y) * math.log(1 - p)
    return LogisticFit(
        intercept=beta[0], coefficients=tuple(beta[1:]),
        standard_errors=tuple(math.sqrt(max(v, 0.0)) for v in variances[1:]),
        iterations=iterations, log_likelihood=log_likelihood,
    )
