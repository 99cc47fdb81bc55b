"""Satisfaction metrics: NPS, CSAT, response rate, and aggregation by dimension.

NPS (Net Promoter Score) from 0-10 answers: promoters 9-10, passives 7-8, detractors
0-6; ``NPS = 100 * (promoters - detractors) / n``, in -100..100.

NPS 95 % interval: the score is the mean of a trinomial variable worth +1 (promoter),
0 (passive) or -1 (detractor), whose variance is ``p_pro + p_det - (p_pro - p_det)^2``.
The standard error of NPS is ``100 * sqrt(variance / n)`` and the interval is
``NPS ± 1.96 * SE`` (normal approximation), clipped to -100..100. It is reported only
when ``n >= 10``; below that the normal approximation is too poor to print. When every
answer is in one category the variance is 0 and the interval collapses to the point:
a known weakness of the normal approximation at the edges, not a claim of certainty.

CSAT from 1-5 answers: the satisfied share is the fraction of 4-5 answers (0..1), with a
Wilson score interval (good at small n and at 0 % / 100 %, so given for any n >= 1), and
the mean score.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from crm_feedback.domain.stats import Z_95, clamp, wilson_interval

NPS_MIN_N_FOR_INTERVAL: Final = 10
GROUP_DIMENSIONS: Final = ("rm_id", "team_id", "segment_id", "product", "period")
"""Dimensions :func:`aggregate` can group by; ``segment_id`` fans a row out per segment."""


def _check_scores(scores: Sequence[int], low: int, high: int, name: str) -> None:
    """Raise ValueError unless every score is an int (not bool) in ``low..high``."""
    for score in scores:
        if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
            msg = f"{name} scores must be integers {low}-{high}, got {score!r}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class NpsResult:
    """NPS counts, score (None when n == 0) and 95 % interval (None when n < 10)."""

    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    ci_low: float | None
    ci_high: float | None


def nps(scores: Sequence[int]) -> NpsResult:
    """Return the NPS of 0-10 answers with its normal-approximation 95 % interval."""
    _check_scores(scores, 0, 10, "NPS")
    n = len(scores)
    promoters = sum(1 for score in scores if score >= 9)
    detractors = sum(1 for score in scores if score <= 6)
    passives = n - promoters - detractors
    if n == 0:
        return NpsResult(0, 0, 0, 0, None, None, None)
    p_pro, p_det = promoters / n, detractors / n
    score = 100 * (p_pro - p_det)
    if n < NPS_MIN_N_FOR_INTERVAL:
        return NpsResult(n, promoters, passives, detractors, score, None, None)
    # max() guards against a tiny negative variance from float rounding.
    variance = max(0.0, p_pro + p_det - (p_pro - p_det) ** 2)
    half = Z_95 * 100 * math.sqrt(variance / n)
    return NpsResult(
        n,
        promoters,
        passives,
        detractors,
        score,
        clamp(score - half, -100.0, 100.0),
        clamp(score + half, -100.0, 100.0),
    )


@dataclass(frozen=True, slots=True)
class CsatResult:
    """CSAT: satisfied (4-5) share in 0..1 with Wilson interval, and mean; None when n == 0."""

    n: int
    satisfied_share: float | None
    mean: float | None
    ci_low: float | None
    ci_high: float | None


def csat(scores: Sequence[int]) -> CsatResult:
    """Return the satisfied share and mean of 1-5 answers with a Wilson 95 % interval."""
    _check_scores(scores, 1, 5, "CSAT")
    n = len(scores)
    if n == 0:
        return CsatResult(0, None, None, None, None)
    satisfied = sum(1 for score in scores if score >= 4)
    low, high = wilson_interval(satisfied, n)
    return CsatResult(n, satisfied / n, sum(scores) / n, low, high)


def response_rate(dispatched: int, answered: int) -> float | None:
    """Return answered / dispatched in 0..1, or None when nothing was dispatched."""
    if dispatched < 0 or not 0 <= answered <= dispatched:
        msg = f"need 0 <= answered <= dispatched, got {answered}/{dispatched}"
        raise ValueError(msg)
    return None if dispatched == 0 else answered / dispatched


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """One dispatch and, if answered, its scores; the unit :func:`aggregate` counts.

    A client may sit in several segments: the row counts once in each of them.
    Scores are read only from answered rows; a None score means the question was skipped.
    """

    rm_id: str
    team_id: str
    segment_ids: tuple[str, ...]
    product: str
    period: str
    nps_score: int | None
    csat_score: int | None
    dispatched: bool
    answered: bool

    def __post_init__(self) -> None:
        """Reject an answer without a dispatch: response rate would exceed 100 %."""
        if self.answered and not self.dispatched:
            msg = "an answered row must also be dispatched"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class GroupResult:
    """Metrics of one group of :func:`aggregate`."""

    key: tuple[str | None, ...]
    dispatched: int
    answered: int
    response_rate: float | None
    nps: NpsResult
    csat: CsatResult


def _keys_of(row: AnswerRow, by: Sequence[str]) -> list[tuple[str | None, ...]]:
    """Return every group key a row belongs to (several when grouped by segment)."""
    keys: list[tuple[str | None, ...]] = [()]
    for dimension in by:
        if dimension == "segment_id":
            # A row without segments still counts, under the None segment, so that
            # totals across groups never silently lose answers.
            segments: tuple[str | None, ...] = tuple(dict.fromkeys(row.segment_ids)) or (None,)
            keys = [(*key, segment) for key in keys for segment in segments]
        else:
            value: str | None = getattr(row, dimension)
            keys = [(*key, value) for key in keys]
    return keys


def aggregate(
    answers: Iterable[AnswerRow], by: Sequence[str]
) -> dict[tuple[str | None, ...], GroupResult]:
    """Return NPS, CSAT and response rate per group of ``by`` dimensions, keys sorted.

    ``by`` is drawn from :data:`GROUP_DIMENSIONS`; an empty ``by`` gives one group ``()``.
    """
    unknown = [dimension for dimension in by if dimension not in GROUP_DIMENSIONS]
    if unknown or len(set(by)) != len(by):
        msg = f"by must be distinct dimensions from {GROUP_DIMENSIONS}, got {list(by)}"
        raise ValueError(msg)
    dispatched: dict[tuple[str | None, ...], int] = defaultdict(int)
    answered: dict[tuple[str | None, ...], int] = defaultdict(int)
    nps_scores: dict[tuple[str | None, ...], list[int]] = defaultdict(list)
    csat_scores: dict[tuple[str | None, ...], list[int]] = defaultdict(list)
    for row in answers:
        for key in _keys_of(row, by):
            dispatched[key] += int(row.dispatched)
            if not row.answered:
                continue
            answered[key] += 1
            if row.nps_score is not None:
                nps_scores[key].append(row.nps_score)
            if row.csat_score is not None:
                csat_scores[key].append(row.csat_score)

    def sort_key(key: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
        return tuple((part is None, part or "") for part in key)

    return {
        key: GroupResult(
            key=key,
            dispatched=dispatched[key],
            answered=answered[key],
            response_rate=response_rate(dispatched[key], answered[key]),
            nps=nps(nps_scores[key]),
            csat=csat(csat_scores[key]),
        )
        for key in sorted(dispatched, key=sort_key)
    }
