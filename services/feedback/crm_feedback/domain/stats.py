"""Small statistics helpers shared by the metric modules.

Percentiles use the **nearest-rank** method: for ``n`` sorted values the p-th percentile
is the value at 1-based rank ``ceil(p / 100 * n)`` (rank at least 1). It always returns
an observed value, needs no interpolation, and is easy to recompute by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Final, TypeVar

Z_95: Final = 1.959963984540054
"""Two-sided 95 % standard-normal quantile."""

_T = TypeVar("_T", int, float, timedelta)


def nearest_rank(sorted_values: Sequence[_T], percent: int) -> _T | None:
    """Return the nearest-rank ``percent``-th percentile of ascending values, or None if empty."""
    if not 0 < percent <= 100:
        msg = f"percent must be in 1..100, got {percent}"
        raise ValueError(msg)
    count = len(sorted_values)
    if count == 0:
        return None
    # Integer ceiling of percent * count / 100 avoids float rounding at exact ranks.
    rank = max(1, -(-percent * count // 100))
    return sorted_values[rank - 1]


def median_timedelta(values: Sequence[timedelta]) -> timedelta | None:
    """Return the median of durations (mean of the two middle values for even counts)."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval for a binomial share (both ends in 0..1)."""
    if trials <= 0 or not 0 <= successes <= trials:
        msg = f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}"
        raise ValueError(msg)
    share = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (share + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(share * (1 - share) / trials + z2 / (4 * trials * trials)) / denominator
    # At 0 % and 100 % the exact bound is 0 or 1; float rounding would leave 0.9999999….
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def clamp(value: float, low: float, high: float) -> float:
    """Return ``value`` limited to ``[low, high]``."""
    return max(low, min(high, value))
