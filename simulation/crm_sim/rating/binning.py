"""Monotonic binning and weight of evidence, the way scorecard tools (optbinning) do it.

A numeric factor is cut at quantiles, then adjacent bins are merged until every bin is
large enough, default rates move in the direction economics says they must (declared per
factor, never inferred from the sample), and neighbouring bins differ significantly.
Declaring the direction is what keeps the fit from learning the sample's noise: a bin
that would make more cash flow look riskier is merged away.

Weight of evidence is risk-oriented here: WoE = ln(share of defaulters / share of
non-defaulters), so a positive WoE means riskier than the sample as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Direction = Literal["higher", "lower"]  # the value direction in which risk rises


@dataclass(frozen=True)
class Bin:
    """Values up to ``upper`` (inclusive; None for the last bin), with their outcomes."""

    upper: float | None
    count: int
    defaults: int
    woe: float = 0.0

    @property
    def default_rate(self) -> float:
        """Return the bin's observed default rate."""
        return self.defaults / self.count if self.count else 0.0


def woe(defaults: int, count: int, total_defaults: int, total: int, n_bins: int) -> float:
    """Return the smoothed risk WoE of a bin (half a case added to each cell)."""
    goods, total_goods = count - defaults, total - total_defaults
    bad_share = (defaults + 0.5) / (total_defaults + 0.5 * n_bins)
    good_share = (goods + 0.5) / (total_goods + 0.5 * n_bins)
    return math.log(bad_share / good_share)


def information_value(bins: Sequence[Bin], total_defaults: int, total: int) -> float:
    """Return the information value Σ (bad share − good share) · WoE."""
    goods = total - total_defaults
    return sum((b.defaults / total_defaults - (b.count - b.defaults) / goods) * b.woe
               for b in bins)


def _readable_cut(low: float, high: float) -> float:
    """Return a cut in [low, high) with as few significant digits as the gap allows.

    Reviewers read the cut points in the fitted table, so 0.35 beats 0.3517; but the cut
    must stay inside the gap between the two sample values it separates. Rounding to a
    fixed number of digits moved most cuts of a continuous ratio out of their (tiny) gaps,
    and dropping those cuts left factors with one or two bins.
    """
    if not math.isfinite(high):
        anchor = low
    elif not math.isfinite(low):
        anchor = high - 1e-6 * max(1.0, abs(high))
    else:
        anchor = (low + high) / 2
    for digits in range(1, 18):
        cut = float(f"{anchor:.{digits}g}")
        if low <= cut < high:
            return cut
    return low


def _initial_cuts(values: Sequence[float], quantiles: int) -> list[float]:
    ordered = sorted(values)
    cuts: list[float] = []
    for q in range(1, quantiles):
        low = ordered[q * len(ordered) // quantiles - 1]
        high = ordered[q * len(ordered) // quantiles]
        if low == high:
            continue
        cut = _readable_cut(low, high)
        if not cuts or cut > cuts[-1]:
            cuts.append(cut)
    return cuts


def _count(values: Sequence[float], outcomes: Sequence[bool], cuts: list[float]) -> list[Bin]:
    counts = [0] * (len(cuts) + 1)
    defaults = [0] * (len(cuts) + 1)
    for value, bad in zip(values, outcomes, strict=True):
        index = next((i for i, cut in enumerate(cuts) if value <= cut), len(cuts))
        counts[index] += 1
        defaults[index] += int(bad)
    uppers: list[float | None] = [*cuts, None]
    return [Bin(u, c, d) for u, c, d in zip(uppers, counts, defaults, strict=True)]


def _merge(bins: list[Bin], i: int) -> list[Bin]:
    """Merge bin i with bin i + 1."""
    a, b = bins[i], bins[i + 1]
    return [*bins[:i], Bin(b.upper, a.count + b.count, a.defaults + b.defaults), *bins[i + 2:]]


def _z(a: Bin, b: Bin) -> float:
    """Return the two-proportion z statistic of two bins' default rates."""
    pooled = (a.defaults + b.defaults) / (a.count + b.count)
    spread = math.sqrt(max(pooled * (1 - pooled) * (1 / a.count + 1 / b.count), 1e-12))
    return abs(a.default_rate - b.default_rate) / spread


@dataclass(frozen=True)
class _Rules:
    direction: Direction
    min_count: int
    min_defaults: int
    min_z: float
    max_bins: int


def _small_pair(bins: list[Bin], i: int) -> int:
    """Return the pair that merges bin i with the neighbour it differs from least."""
    if i in {0, len(bins) - 1}:
        return max(0, i - 1)
    return i if _z(bins[i], bins[i + 1]) < _z(bins[i - 1], bins[i]) else i - 1


def _worst_pair(bins: list[Bin], rules: _Rules) -> int | None:
    """Return the pair to merge next, or None when the bins satisfy every rule."""
    if len(bins) < 2:
        return None
    sign = 1 if rules.direction == "higher" else -1
    for i in range(len(bins) - 1):
        if sign * (bins[i + 1].default_rate - bins[i].default_rate) < 0:
            return i  # not monotonic in the declared direction
    small = [i for i, b in enumerate(bins)
             if b.count < rules.min_count or b.defaults < rules.min_defaults]
    if small:
        return _small_pair(bins, small[0])
    weakest = min(range(len(bins) - 1), key=lambda j: _z(bins[j], bins[j + 1]))
    if _z(bins[weakest], bins[weakest + 1]) < rules.min_z or len(bins) > rules.max_bins:
        return weakest
    return None


def monotonic_bins(
    values: Sequence[float], outcomes: Sequence[bool], *, direction: Direction,
    total_defaults: int, total: int, quantiles: int = 20, max_bins: int = 7,
    min_share: float = 0.04, min_defaults: int = 8, min_z: float = 1.96,
    cuts: Sequence[float] = (),
) -> list[Bin]:
    """Return monotonic bins with WoE for the present values of one numeric factor.

    ``total_defaults`` and ``total`` are the whole sample's (missing values included), so
    WoE is comparable with a missing-value bin fitted separately. Given ``cuts`` replace
    the quantile cut points (bins are still merged by the same rules).
    """
    cuts = list(cuts) if cuts else _initial_cuts(values, quantiles)
    bins = _count(values, outcomes, cuts)
    rules = _Rules(direction, max(1, int(min_share * total)), min_defaults, min_z, max_bins)
    while (pair := _worst_pair(bins, rules)) is not None:
        bins = _merge(bins, pair)
    return [Bin(b.upper, b.count, b.defaults,
                woe(b.defaults, b.count, total_defaults, total, len(bins))) for b in bins]


def category_bins(
    categories: Sequence[str], outcomes: Sequence[bool], *, total_defaults: int, total: int,
) -> dict[str, Bin]:
    """Return a WoE per category (categories are kept apart; the fit decides their weight)."""
    counts: dict[str, list[int]] = {}
    for category, bad in zip(categories, outcomes, strict=True):
        cell = counts.setdefault(category, [0, 0])
        cell[0] += 1
        cell[1] += int(bad)
    return {c: Bin(None, n, d, woe(d, n, total_defaults, total, len(counts)))
            for c, (n, d) in sorted(counts.items())}
