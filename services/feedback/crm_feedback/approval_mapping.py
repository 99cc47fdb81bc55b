"""Approval analytics as messages: stage enums, grouped statistics, bottlenecks."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from crm.feedback.v1 import approval_pb2
from crm_feedback.approval_store import Cases
from crm_feedback.domain.approvals import (
    APPROVAL_SLAS,
    CURRENT_SLA_VERSION,
    STAGES,
    Stage,
    StageStat,
    bottlenecks,
    stage_stats,
)
from crm_feedback.mapping import duration
from crm_feedback.periods import label_of

STAGE_BY_ENUM: dict[int, Stage] = dict(enumerate(STAGES, start=1))
STAGE_ENUM: dict[str, Any] = {stage: number for number, stage in STAGE_BY_ENUM.items()}
DIRECTIONS: dict[str, Any] = {
    "slower": approval_pb2.TREND_DIRECTION_SLOWER,
    "faster": approval_pb2.TREND_DIRECTION_FASTER,
    "unchanged": approval_pb2.TREND_DIRECTION_UNCHANGED,
    "new": approval_pb2.TREND_DIRECTION_NEW,
    "gone": approval_pb2.TREND_DIRECTION_GONE,
    "unmeasured": approval_pb2.TREND_DIRECTION_UNMEASURED,
}
SLA = APPROVAL_SLAS[CURRENT_SLA_VERSION]
SLA = APPROVAL_SLAS[CURRENT_SLA_VERSION]


def grouped_stats(cases: Cases, dims: list[str], granularity: str) -> list[tuple[str, StageStat]]:
    """Return (period label or "", stat) pairs; period buckets come first in the key."""
    by = tuple(d for d in dims if d != "period")
    if "period" not in dims:
        return [("", stat) for stat in stage_stats(cases.timelines, by=by, sla=SLA)]
    buckets: dict[str, list[Any]] = defaultdict(list)
    for case_id, timeline in cases.timelines.items():
        buckets[label_of(cases.starts[case_id], granularity)].append(timeline)
    return [
        (label, stat)
        for label in sorted(buckets)
        for stat in stage_stats(buckets[label], by=by, sla=SLA)
    ]


def key_fields(dims: list[str], group: tuple[str, ...], period: str) -> dict[str, str]:
    fields = dict(zip([d for d in dims if d != "period"], group, strict=True))
    if "period" in dims:
        fields["period"] = period
    return fields


def stat_message(dims: list[str], period: str, stat: StageStat) -> approval_pb2.StageStatistics:
    message = approval_pb2.StageStatistics(
        stage=STAGE_ENUM[stat.stage],
        visit_count=stat.n,
        measured_count=stat.measured,
        rework_count=stat.rework_count,
        sla_breach_count=stat.sla_breaches,
    )
    for field, value in key_fields(dims, stat.group, period).items():
        setattr(message, field, value)
    for field in ("wait_p50", "wait_p90", "total_p50", "total_p90"):
        set_duration(message, field, getattr(stat, field))
    set_duration(message, "processing_p50", stat.proc_p50)
    set_duration(message, "processing_p90", stat.proc_p90)
    set_duration(message, "sla", SLA.get(stat.stage))
    if stat.breach_rate is not None:
        message.breach_rate = stat.breach_rate
    return message


def set_duration(message: Any, field: str, value: timedelta | None) -> None:
    converted = duration(value)
    if converted is not None:
        getattr(message, field).CopyFrom(converted)


def bottleneck_messages(
    pairs: list[tuple[str, StageStat]], dims: list[str], top: int
) -> list[approval_pb2.Bottleneck]:
    """Return each group's stages ranked by p90 total time (the first `top`; 0 for all)."""
    by_label: dict[str, list[StageStat]] = defaultdict(list)
    for label, stat in pairs:
        by_label[label].append(stat)
    found: list[approval_pb2.Bottleneck] = []
    for label in sorted(by_label):
        for item in bottlenecks(by_label[label]):
            if top and item.rank > top:
                continue
            message = approval_pb2.Bottleneck(
                rank=item.rank, stage=STAGE_ENUM[item.stage], measured_count=item.measured
            )
            for field, value in key_fields(dims, item.group, label).items():
                setattr(message, field, value)
            set_duration(message, "total_p90", item.total_p90)
            set_duration(message, "total_p50", item.total_p50)
            if item.breach_rate is not None:
                message.breach_rate = item.breach_rate
            found.append(message)
    return found
