"""RM KPI scorecards: component values, their 0-100 scores, versioned weights, ranking.

How each component maps to a 0-100 score (version ``KPI-2026.1``):

==================  ==========================================  ===============================
component           value                                       score
==================  ==========================================  ===============================
nps                 NPS, -100..100                              (NPS + 100) / 2
csat                satisfied (4-5) share, 0..1                 100 × share
warning_ack         share of warnings acknowledged within SLA   100 × share
warning_resolve     share of warnings resolved within SLA       100 × share
followup_on_time    follow-ups done on time / planned (due)     100 × share
portfolio_growth    (exposure_end − start) / start              50 + 50 × growth / 0.20,
                                                                clamped (−20 % → 0, +20 % → 100)
grade_migration     (upgrades − downgrades) / (up + down)       50 × (1 + value)
npl                 NPL share of the RM's book, 0..1            100 × (1 − share / 0.05),
                                                                clamped (5 % or more → 0)
==================  ==========================================  ===============================

A component with nothing to measure (no answers, no warnings due, no follow-ups due, no
starting exposure, no migrations, unknown NPL) has value and score None and is left out
of the total; the total is the weighted mean of the scores present, i.e. the remaining
weights are renormalised. The total is None only when no component can be scored.

Warning SLAs: a warning counts toward a share once its outcome is known at ``as_of``:
it was acknowledged (resolved), or its SLA ran out without that (a breach). A warning
still inside its SLA is pending and left out. Clocks run from ``raised_at``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Final, NamedTuple

from crm_feedback.domain.metrics import CsatResult, NpsResult
from crm_feedback.domain.stats import clamp, median_timedelta

COMPONENTS: Final = (
    "nps",
    "csat",
    "warning_ack",
    "warning_resolve",
    "followup_on_time",
    "portfolio_growth",
    "grade_migration",
    "npl",
)
CURRENT_KPI_VERSION: Final = "KPI-2026.1"
KPI_WEIGHTS: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {
        "KPI-2026.1": MappingProxyType(
            {
                "nps": 0.20,
                "csat": 0.10,
                "warning_ack": 0.15,
                "warning_resolve": 0.15,
                "followup_on_time": 0.15,
                "portfolio_growth": 0.10,
                "grade_migration": 0.05,
                "npl": 0.10,
            }
        )
    }
)


@dataclass(frozen=True, slots=True)
class KpiScales:
    """Scale points of the components whose value is not already a share."""

    growth_for_full_score: float
    npl_share_for_zero_score: float


KPI_SCALES: Final[Mapping[str, KpiScales]] = MappingProxyType(
    {"KPI-2026.1": KpiScales(growth_for_full_score=0.20, npl_share_for_zero_score=0.05)}
)
# Totals equal up to this many decimals tie, so float summation order cannot decide a rank.
_TIE_DECIMALS: Final = 9


@dataclass(frozen=True, slots=True)
class WarningRecord:
    """One warning an RM had to handle, with its SLAs (from its level's playbook)."""

    level: str
    raised_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    sla_ack: timedelta
    sla_resolve: timedelta


@dataclass(frozen=True, slots=True)
class WarningResponse:
    """How fast an RM responded to warnings; shares are None when nothing is measured."""

    n: int
    ack_measured: int
    acked_within_sla: int
    ack_within_sla_share: float | None
    resolve_measured: int
    resolved_within_sla: int
    resolved_within_sla_share: float | None
    median_ack: timedelta | None


def warning_response(warnings: Sequence[WarningRecord], *, as_of: datetime) -> WarningResponse:
    """Return SLA shares and median acknowledgement time of warnings as of ``as_of``."""
    ack_measured = acked_ok = resolve_measured = resolved_ok = 0
    ack_times: list[timedelta] = []
    for warning in warnings:
        for moment in (warning.acknowledged_at, warning.resolved_at):
            if moment is not None and moment < warning.raised_at:
                msg = "acknowledged_at / resolved_at must not be before raised_at"
                raise ValueError(msg)
        if warning.acknowledged_at is not None:
            ack_times.append(warning.acknowledged_at - warning.raised_at)
            ack_measured += 1
            acked_ok += int(ack_times[-1] <= warning.sla_ack)
        elif warning.raised_at + warning.sla_ack <= as_of:
            ack_measured += 1
        if warning.resolved_at is not None:
            resolve_measured += 1
            resolved_ok += int(warning.resolved_at - warning.raised_at <= warning.sla_resolve)
        elif warning.raised_at + warning.sla_resolve <= as_of:
            resolve_measured += 1
    return WarningResponse(
        n=len(warnings),
        ack_measured=ack_measured,
        acked_within_sla=acked_ok,
        ack_within_sla_share=acked_ok / ack_measured if ack_measured else None,
        resolve_measured=resolve_measured,
        resolved_within_sla=resolved_ok,
        resolved_within_sla_share=resolved_ok / resolve_measured if resolve_measured else None,
        median_ack=median_timedelta(ack_times),
    )


@dataclass(frozen=True, slots=True)
class KpiInputs:
    """Everything one RM's scorecard for one period is computed from."""

    rm_id: str
    period: str
    as_of: datetime
    nps: NpsResult
    csat: CsatResult
    warnings: Sequence[WarningRecord]
    followups_planned: int
    followups_on_time: int
    exposure_start: Decimal
    exposure_end: Decimal
    grade_upgrades: int
    grade_downgrades: int
    npl_share: float | None


@dataclass(frozen=True, slots=True)
class Component:
    """One KPI component: raw value, its 0-100 score (None if unmeasured), configured weight."""

    value: float | None
    score_0_100: float | None
    weight: float


@dataclass(frozen=True, slots=True)
class Scorecard:
    """An RM's KPI scorecard for a period under one weights version."""

    rm_id: str
    period: str
    components: dict[str, Component]
    total: float | None
    version: str


def _check_inputs(inputs: KpiInputs) -> None:
    """Raise ValueError for counts or shares that cannot be right."""
    counts = (inputs.followups_planned, inputs.followups_on_time, inputs.grade_upgrades,
              inputs.grade_downgrades)
    if min(counts) < 0 or inputs.followups_on_time > inputs.followups_planned:
        msg = "counts must be >= 0 and followups_on_time <= followups_planned"
        raise ValueError(msg)
    if inputs.npl_share is not None and not 0 <= inputs.npl_share <= 1:
        msg = "npl_share must be in 0..1"
        raise ValueError(msg)
    if inputs.exposure_start < 0 or inputs.exposure_end < 0:
        msg = "exposures must be >= 0"
        raise ValueError(msg)


def _values_and_scores(inputs: KpiInputs, scales: KpiScales) -> dict[str, tuple[float, float]]:
    """Return (value, score) of every component that has something to measure."""
    measured: dict[str, tuple[float, float]] = {}
    if inputs.nps.nps is not None:
        measured["nps"] = (inputs.nps.nps, (inputs.nps.nps + 100) / 2)
    if inputs.csat.satisfied_share is not None:
        measured["csat"] = (inputs.csat.satisfied_share, 100 * inputs.csat.satisfied_share)
    response = warning_response(inputs.warnings, as_of=inputs.as_of)
    if response.ack_within_sla_share is not None:
        share = response.ack_within_sla_share
        measured["warning_ack"] = (share, 100 * share)
    if response.resolved_within_sla_share is not None:
        share = response.resolved_within_sla_share
        measured["warning_resolve"] = (share, 100 * share)
    if inputs.followups_planned:
        share = inputs.followups_on_time / inputs.followups_planned
        measured["followup_on_time"] = (share, 100 * share)
    if inputs.exposure_start > 0:
        growth = float((inputs.exposure_end - inputs.exposure_start) / inputs.exposure_start)
        score = clamp(50 + 50 * growth / scales.growth_for_full_score, 0.0, 100.0)
        measured["portfolio_growth"] = (growth, score)
    migrations = inputs.grade_upgrades + inputs.grade_downgrades
    if migrations:
        net = (inputs.grade_upgrades - inputs.grade_downgrades) / migrations
        measured["grade_migration"] = (net, 50 * (1 + net))
    if inputs.npl_share is not None:
        score = clamp(100 * (1 - inputs.npl_share / scales.npl_share_for_zero_score), 0.0, 100.0)
        measured["npl"] = (inputs.npl_share, score)
    return measured


def check_weights(weights: Mapping[str, float]) -> None:
    """Raise ValueError unless ``weights`` gives every component a finite weight >= 0."""
    if set(weights) != set(COMPONENTS):
        msg = f"weights must name exactly the components {list(COMPONENTS)}"
        raise ValueError(msg)
    if any(not math.isfinite(w) or w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        msg = "weights must be finite, non-negative and not all zero"
        raise ValueError(msg)


def scorecard(
    inputs: KpiInputs,
    *,
    version: str = CURRENT_KPI_VERSION,
    weights: Mapping[str, float] | None = None,
) -> Scorecard:
    """Return the RM's scorecard: every component and the weighted total (0-100).

    ``weights`` overrides the built-in weights of ``version`` (configured weights under a
    custom version label); scales then follow the current built-in version.
    """
    if weights is None:
        if version not in KPI_WEIGHTS:
            msg = f"unknown KPI version {version!r}; known: {sorted(KPI_WEIGHTS)}"
            raise ValueError(msg)
        weights = KPI_WEIGHTS[version]
    else:
        check_weights(weights)
    _check_inputs(inputs)
    scales = KPI_SCALES.get(version, KPI_SCALES[CURRENT_KPI_VERSION])
    measured = _values_and_scores(inputs, scales)
    components: dict[str, Component] = {}
    for name in COMPONENTS:
        value, score = measured.get(name, (None, None))
        components[name] = Component(value, score, weights[name])
    weight_sum = sum(weights[name] for name in measured)
    total = (
        sum(score * weights[name] for name, (_, score) in measured.items()) / weight_sum
        if weight_sum > 0
        else None
    )
    return Scorecard(inputs.rm_id, inputs.period, components, total, version)


class RankEntry(NamedTuple):
    """One row of a ranking: 1-based rank, RM and total."""

    rank: int
    rm_id: str
    total: float | None


def rank(scorecards: Sequence[Scorecard]) -> list[RankEntry]:
    """Return RMs by total, highest first; unique ranks, ties broken by rm_id ascending.

    Scorecards without a total rank last. Every scorecard must share one period and
    version: ranking across weight versions would compare different scales.
    """
    if len({(card.period, card.version) for card in scorecards}) > 1:
        msg = "rank scorecards of one period and one KPI version at a time"
        raise ValueError(msg)
    if len({card.rm_id for card in scorecards}) != len(scorecards):
        msg = "each RM may appear only once in a ranking"
        raise ValueError(msg)

    def order(card: Scorecard) -> tuple[bool, float, str]:
        total = 0.0 if card.total is None else round(card.total, _TIE_DECIMALS)
        return (card.total is None, -total, card.rm_id)

    ordered = sorted(scorecards, key=order)
    return [RankEntry(index, card.rm_id, card.total) for index, card in enumerate(ordered, 1)]
