"""Approval-process analytics: stage durations, SLA breaches, bottlenecks and trends.

Timelines come from :func:`reconstruct_cases` (re-exported here with the event types).

Definitions used by :func:`stage_stats`, per group and stage:

- ``n``: visits of the stage (rework passes included); ``measured``: completed visits;
- percentiles are **nearest-rank** (:mod:`crm_feedback.domain.stats`) over visits that
  have the quantity: waits over visits with a known hand-over, processing and total
  over completed visits;
- ``total`` = wait + processing, the time the stage held the case since hand-over;
- the SLA applies to ``total`` and is calendar time, not working days; open visits are
  neither breaches nor compliant, so ``breach_rate = sla_breaches / measured`` (None if
  the stage has no SLA or nothing is measured);
- ``rework_count``: passes through the stage after the first (rework loops).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Final, Literal

from crm_feedback.domain.approval_timelines import (
    STAGES,
    CaseTimeline,
    EventKind,
    Stage,
    StageEvent,
    StageVisit,
    reconstruct_cases,
)
from crm_feedback.domain.stats import nearest_rank

__all__ = [
    "APPROVAL_SLAS",
    "CURRENT_SLA_VERSION",
    "GROUP_FIELDS",
    "STAGES",
    "Bottleneck",
    "CaseTimeline",
    "EventKind",
    "Stage",
    "StageEvent",
    "StageStat",
    "StageTrend",
    "StageVisit",
    "bottlenecks",
    "reconstruct_cases",
    "stage_stats",
    "trend",
]

GROUP_FIELDS: Final = ("branch", "product")
CURRENT_SLA_VERSION: Final = "SLA-2026.1"
APPROVAL_SLAS: Final[Mapping[str, Mapping[str, timedelta]]] = MappingProxyType(
    {
        "SLA-2026.1": MappingProxyType(
            {
                "application_received": timedelta(days=1),
                "due_diligence": timedelta(days=7),
                "credit_review": timedelta(days=5),
                "committee": timedelta(days=5),
                "approval": timedelta(days=2),
                "contract": timedelta(days=3),
                "disbursement": timedelta(days=2),
            }
        )
    }
)
_STAGE_ORDER: Final[Mapping[str, int]] = {stage: index for index, stage in enumerate(STAGES)}
GroupKey = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StageStat:
    """Duration statistics of one stage within one group."""

    group: GroupKey
    stage: str
    n: int
    measured: int
    wait_p50: timedelta | None
    wait_p90: timedelta | None
    proc_p50: timedelta | None
    proc_p90: timedelta | None
    total_p50: timedelta | None
    total_p90: timedelta | None
    rework_count: int
    sla_breaches: int
    breach_rate: float | None


def stage_stats(
    timelines: Iterable[CaseTimeline] | Mapping[str, CaseTimeline],
    *,
    by: Sequence[str] = ("branch",),
    sla: Mapping[str, timedelta] = APPROVAL_SLAS[CURRENT_SLA_VERSION],
) -> list[StageStat]:
    """Return per-group, per-stage statistics sorted by group then stage order.

    ``by`` is drawn from :data:`GROUP_FIELDS` (``()`` for one overall group); ``sla`` maps
    stage to its limit on total time (stages left out have no SLA).
    """
    if any(field not in GROUP_FIELDS for field in by) or len(set(by)) != len(by):
        msg = f"by must be distinct fields from {GROUP_FIELDS}, got {list(by)}"
        raise ValueError(msg)
    unknown = sorted(set(sla) - set(STAGES))
    if unknown:
        msg = f"sla names unknown stages {unknown}"
        raise ValueError(msg)
    cases = timelines.values() if isinstance(timelines, Mapping) else timelines
    visits: dict[tuple[GroupKey, str], list[StageVisit]] = defaultdict(list)
    for case in cases:
        group = tuple(str(getattr(case, field)) for field in by)
        for visit in case.visits:
            visits[(group, visit.stage)].append(visit)
    stats = [
        _stat(group, stage, group_visits, sla.get(stage))
        for (group, stage), group_visits in visits.items()
    ]
    stats.sort(key=lambda stat: (stat.group, _STAGE_ORDER[stat.stage]))
    return stats


def _stat(
    group: GroupKey, stage: str, visits: list[StageVisit], limit: timedelta | None
) -> StageStat:
    """Compute one stage's statistics from its visits in one group."""
    waits = sorted(v.wait for v in visits if v.wait is not None)
    processing = sorted(v.processing for v in visits if v.processing is not None)
    totals = sorted(v.total for v in visits if v.total is not None)
    breaches = 0 if limit is None else sum(1 for total in totals if total > limit)
    return StageStat(
        group=group,
        stage=stage,
        n=len(visits),
        measured=len(totals),
        wait_p50=nearest_rank(waits, 50),
        wait_p90=nearest_rank(waits, 90),
        proc_p50=nearest_rank(processing, 50),
        proc_p90=nearest_rank(processing, 90),
        total_p50=nearest_rank(totals, 50),
        total_p90=nearest_rank(totals, 90),
        rework_count=sum(1 for visit in visits if visit.rework),
        sla_breaches=breaches,
        breach_rate=breaches / len(totals) if limit is not None and totals else None,
    )


@dataclass(frozen=True, slots=True)
class Bottleneck:
    """A stage's place among its group's stages by p90 total time (1 = slowest)."""

    group: GroupKey
    rank: int
    stage: str
    total_p90: timedelta
    total_p50: timedelta | None
    measured: int
    breach_rate: float | None


def bottlenecks(stats: Iterable[StageStat]) -> list[Bottleneck]:
    """Return stages ranked within each group by p90 of total time, slowest first.

    Ties go to the higher p50, then to the earlier stage. Stages with no completed
    visit cannot be ranked and are left out. Groups come out in sorted order.
    """
    by_group: dict[GroupKey, list[tuple[timedelta, StageStat]]] = defaultdict(list)
    for stat in stats:
        if stat.total_p90 is not None:
            by_group[stat.group].append((stat.total_p90, stat))
    ranked: list[Bottleneck] = []
    for group in sorted(by_group):
        ordered = sorted(
            by_group[group],
            key=lambda item: (
                -item[0],
                -(item[1].total_p50 or timedelta(0)),
                _STAGE_ORDER[item[1].stage],
            ),
        )
        ranked.extend(
            Bottleneck(group, rank, stat.stage, p90, stat.total_p50, stat.measured,
                       stat.breach_rate)
            for rank, (p90, stat) in enumerate(ordered, 1)
        )
    return ranked


Direction = Literal["slower", "faster", "unchanged", "new", "gone", "unmeasured"]


@dataclass(frozen=True, slots=True)
class StageTrend:
    """How a stage's p90 total time and breach rate moved from period A to period B."""

    group: GroupKey
    stage: str
    total_p90_a: timedelta | None
    total_p90_b: timedelta | None
    relative_change: float | None
    breach_rate_a: float | None
    breach_rate_b: float | None
    direction: Direction


def _direction(
    p90_a: timedelta | None, p90_b: timedelta | None, tolerance: float
) -> tuple[Direction, float | None]:
    """Classify the move of p90 total time; change is relative to period A."""
    if p90_a is None or p90_b is None:
        return "unmeasured", None
    if p90_a == timedelta(0):
        return ("slower", None) if p90_b > p90_a else ("unchanged", 0.0)
    change = (p90_b - p90_a) / p90_a
    if change > tolerance:
        return "slower", change
    if change < -tolerance:
        return "faster", change
    return "unchanged", change


def trend(
    stats_a: Iterable[StageStat], stats_b: Iterable[StageStat], *, tolerance: float = 0.10
) -> list[StageTrend]:
    """Compare two periods' stats stage by stage (A = earlier, B = later).

    A p90 that moved by more than ``tolerance`` (relative) is "slower"/"faster";
    a stage seen in only one period is "new" or "gone". Rows sorted by group, stage.
    """
    index_a = {(s.group, s.stage): s for s in stats_a}
    index_b = {(s.group, s.stage): s for s in stats_b}
    rows: list[StageTrend] = []
    keys = sorted(set(index_a) | set(index_b), key=lambda k: (k[0], _STAGE_ORDER[k[1]]))
    for group, stage in keys:
        a, b = index_a.get((group, stage)), index_b.get((group, stage))
        p90_a = a.total_p90 if a else None
        p90_b = b.total_p90 if b else None
        direction, change = _direction(p90_a, p90_b, tolerance)
        if a is None:
            direction = "new"
        elif b is None:
            direction = "gone"
        rows.append(
            StageTrend(group, stage, p90_a, p90_b, change,
                       a.breach_rate if a else None, b.breach_rate if b else None, direction)
        )
    return rows
