"""Calibrate PDs to the long-run default rate (calibration in the large).

A development sample covers one or two years of one or a few cycles, so its default rate
is a point-in-time figure. The long-run default rate is the average yearly default rate
over many simulated worlds (CALIBRATION_SEEDS, disjoint from the development and the
held-out seeds), i.e. over many positions in the cycle. The fitted intercept is shifted
so that the mean PD of the development sample equals that long-run rate; the shape of the
model (its coefficients) is untouched, so the ranking and the AUC do not change.

That fixes the level, not the shape: from SC-2027.3 on, a calibration curve fitted on the
same worlds maps the log-odds to the PD grade by grade (``recalibrate``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from crm_sim.rating.book import RATING_YEARS, generate_book

CALIBRATION_SEEDS: Final = tuple(range(201, 213))
CALIBRATION_CLIENTS: Final = 2000


def long_run_default_rate(
    seeds: Sequence[int] = CALIBRATION_SEEDS, *, n_clients: int = CALIBRATION_CLIENTS
) -> tuple[float, list[float]]:
    """Return the average of yearly default rates over the seeds' books, and the rates."""
    rates: list[float] = []
    for seed in seeds:
        book = generate_book(seed=seed, n_clients=n_clients)
        for year in RATING_YEARS:
            performing = book.performing(year)
            rates.append(sum(f.defaulted_in(year + 1) for f in performing) / len(performing))
    return sum(rates) / len(rates), rates


def _mean_pd(log_odds: Sequence[float], shift: float) -> float:
    return sum(1.0 / (1.0 + math.exp(-(z + shift))) for z in log_odds) / len(log_odds)


def calibrated_intercept(intercept: float, log_odds: Sequence[float], target: float) -> float:
    """Return the intercept shifted so the mean PD over ``log_odds`` equals ``target``."""
    low, high = -10.0, 10.0
    for _ in range(100):
        middle = (low + high) / 2
        if _mean_pd(log_odds, middle) < target:
            low = middle
        else:
            high = middle
    return intercept + (low + high) / 2
