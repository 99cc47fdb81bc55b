"""Stepwise factor selection for a scorecard fit, with policy factors at fixed weights.

A logistic regression of default on the factors' WoE columns; the factor with the weakest
evidence (a wrong-signed coefficient, or the smallest z below MIN_Z) is dropped and the
model refitted, until every coefficient is positive and significant. Ordinary factors go
first, so a policy factor (``Candidate.policy_coefficient``) is judged against a settled
model, not against the collinear crowd of the first fit. When a policy factor still fails,
it is kept with its fixed coefficient: its WoE times that coefficient enters the regression
as an offset, and the other coefficients are re-estimated around it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Final

from crm_sim.rating.candidates import CANDIDATES
from crm_sim.rating.logistic import LogisticFit, fit_logistic

MIN_IV: Final = 0.02
MIN_Z: Final = 2.58  # 99 % two-sided

Entry = dict[str, Any]
WoeRows = Callable[[Sequence[Entry]], list[list[float]]]


def _fit(kept: Sequence[Entry], fixed: dict[str, float], rows: list[list[float]],
         outcomes: Sequence[bool]) -> tuple[list[int], LogisticFit]:
    """Fit the free factors with the fixed ones as an offset; return free indices and fit."""
    free = [i for i, e in enumerate(kept) if e["code"] not in fixed]
    weights = [fixed.get(e["code"], 0.0) for e in kept]
    offsets = [sum(w * x for w, x in zip(weights, row, strict=True)) for row in rows]
    fit = fit_logistic([[row[i] for i in free] for row in rows], outcomes, offsets=offsets)
    return free, fit


def _z(fit: LogisticFit) -> list[float]:
    return [b / se if se > 0 else 0.0 for b, se in zip(fit.coefficients, fit.standard_errors,
                                                       strict=True)]


def select_factors(
    entries: Sequence[Entry], outcomes: Sequence[bool], woe_rows: WoeRows, *, log: list[str],
) -> tuple[list[Entry], float]:
    """Return the kept factors (coefficient, z and policy flag written into each entry) and
    the fitted intercept. ``woe_rows`` gives the sample's WoE columns of a list of entries.

    A factor whose bins carry no information (IV below MIN_IV) is dropped before any fit,
    policy or not: a fixed weight on noise is not policy.
    """
    policy = {c.code: c.policy_coefficient for c in CANDIDATES
              if c.policy_coefficient is not None}
    kept = [e for e in entries if e["iv"] >= MIN_IV]
    log += [f"dropped {e['code']}: IV {e['iv']:.3f} below {MIN_IV}" for e in entries
            if e["iv"] < MIN_IV]
    fixed: dict[str, float] = {}
    while True:
        free, fit = _fit(kept, fixed, woe_rows(kept), outcomes)
        z = _z(fit)
        strength = [-math.inf if beta <= 0 else zi
                    for beta, zi in zip(fit.coefficients, z, strict=True)]
        weak = [j for j in range(len(free)) if strength[j] < MIN_Z]
        ordinary = [j for j in weak if kept[free[j]]["code"] not in policy]
        if not weak:
            break
        j = min(ordinary or weak, key=strength.__getitem__)
        code = kept[free[j]]["code"]
        evidence = f"coefficient {fit.coefficients[j]:.3f}, z {z[j]:.2f}"
        if ordinary:
            log.append(f"dropped {code}: {evidence}")
            kept.pop(free[j])
        else:
            coefficient = policy[code]
            assert coefficient is not None
            fixed[code] = coefficient
            log.append(f"kept {code} by policy at coefficient {coefficient}: the fit gave "
                       f"{evidence}")
    fitted = dict(zip((kept[i]["code"] for i in free),
                      zip(fit.coefficients, z, strict=True), strict=True))
    for entry in kept:
        if entry["code"] in fixed:
            entry.update(coefficient=fixed[entry["code"]], z=None, policy=True)
        else:
            beta, zi = fitted[entry["code"]]
            entry.update(coefficient=round(beta, 6), z=round(zi, 2), policy=False)
    return kept, fit.intercept
