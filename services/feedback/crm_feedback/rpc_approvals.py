"""Approval-process analytics: stage-event ingest, stage statistics, bottlenecks, trends."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import grpc

from crm.feedback.v1 import approval_pb2, feedback_service_pb2
from crm_feedback import access
from crm_feedback.approval_store import Cases, load_cases, store_events
from crm_feedback.context import FeedbackContext
from crm_feedback.domain.approvals import (
    APPROVAL_SLAS,
    CURRENT_SLA_VERSION,
    STAGES,
    Stage,
    StageEvent,
    StageStat,
    bottlenecks,
    stage_stats,
    trend,
)
from crm_feedback.mapping import duration
from crm_feedback.periods import GRANULARITY, label_of, optional_period, parse_period
from crm_feedback.validation import Violations, is_set, to_datetime
from crm_runtime.auth import require_roles

MAX_STAGE_EVENTS = 1_000
STAGE_BY_ENUM: dict[int, Stage] = dict(enumerate(STAGES, start=1))
STAGE_ENUM: dict[str, Any] = {stage: number for number, stage in STAGE_BY_ENUM.items()}
KIND_BY_ENUM: dict[int, str] = {
    approval_pb2.STAGE_EVENT_KIND_ENTERED: "entered",
    approval_pb2.STAGE_EVENT_KIND_COMPLETED: "completed",
}
DIMENSIONS: dict[int, str] = {
    approval_pb2.APPROVAL_DIMENSION_BRANCH: "branch",
    approval_pb2.APPROVAL_DIMENSION_PRODUCT: "product",
    approval_pb2.APPROVAL_DIMENSION_PERIOD: "period",
}
DIRECTIONS: dict[str, Any] = {
    "slower": approval_pb2.TREND_DIRECTION_SLOWER,
    "faster": approval_pb2.TREND_DIRECTION_FASTER,
    "unchanged": approval_pb2.TREND_DIRECTION_UNCHANGED,
    "new": approval_pb2.TREND_DIRECTION_NEW,
    "gone": approval_pb2.TREND_DIRECTION_GONE,
    "unmeasured": approval_pb2.TREND_DIRECTION_UNMEASURED,
}
SLA = APPROVAL_SLAS[CURRENT_SLA_VERSION]


def _check_text(v: Violations, field: str, value: str, limit: int, *, required: bool) -> None:
    if (required and not value.strip()) or len(value) > limit:
        v.add(field, f"must be {'1' if required else '0'}-{limit} characters")


def _events(request: feedback_service_pb2.RecordStageEventsRequest) -> list[StageEvent]:
    """Return the batch as domain events, or INVALID_ARGUMENT naming each bad field."""
    v = Violations()
    if len(request.events) > MAX_STAGE_EVENTS:
        v.add("events", f"at most {MAX_STAGE_EVENTS} per call")
    events: list[StageEvent] = []
    for index, e in enumerate(request.events):
        path = f"events[{index}]"
        _check_text(v, f"{path}.event_id", e.event_id, 128, required=True)
        _check_text(v, f"{path}.case_id", e.case_id, 128, required=True)
        _check_text(v, f"{path}.branch", e.branch, 64, required=True)
        _check_text(v, f"{path}.product", e.product, 64, required=True)
        _check_text(v, f"{path}.actor", e.actor, 128, required=False)
        if e.stage not in STAGE_BY_ENUM:
            v.add(f"{path}.stage", "is required")
        if e.kind not in KIND_BY_ENUM:
            v.add(f"{path}.kind", "is required")
        if not is_set(e.event_time):
            v.add(f"{path}.event_time", "is required")
        if not v.items:
            events.append(
                StageEvent(
                    e.event_id, e.case_id, e.branch, e.product, STAGE_BY_ENUM[e.stage],
                    KIND_BY_ENUM[e.kind],  # type: ignore[arg-type]
                    to_datetime(e.event_time), e.actor,
                )
            )
    v.raise_if_any()
    return events


def _dimensions(values: Sequence[int], *, allow_period: bool = True) -> list[str]:
    v = Violations()
    names: list[str] = []
    for index, value in enumerate(values):
        name = DIMENSIONS.get(value)
        if name is None or name in names or (name == "period" and not allow_period):
            v.add(f"group_by[{index}]", "must be a known dimension, each at most once")
        else:
            names.append(name)
    v.raise_if_any()
    return names


def _grouped_stats(cases: Cases, dims: list[str], granularity: str) -> list[tuple[str, StageStat]]:
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


def _key_fields(dims: list[str], group: tuple[str, ...], period: str) -> dict[str, str]:
    fields = dict(zip([d for d in dims if d != "period"], group, strict=True))
    if "period" in dims:
        fields["period"] = period
    return fields


def _stat_message(dims: list[str], period: str, stat: StageStat) -> approval_pb2.StageStatistics:
    message = approval_pb2.StageStatistics(
        stage=STAGE_ENUM[stat.stage],
        visit_count=stat.n,
        measured_count=stat.measured,
        rework_count=stat.rework_count,
        sla_breach_count=stat.sla_breaches,
    )
    for field, value in _key_fields(dims, stat.group, period).items():
        setattr(message, field, value)
    for field in ("wait_p50", "wait_p90", "total_p50", "total_p90"):
        _set_duration(message, field, getattr(stat, field))
    _set_duration(message, "processing_p50", stat.proc_p50)
    _set_duration(message, "processing_p90", stat.proc_p90)
    _set_duration(message, "sla", SLA.get(stat.stage))
    if stat.breach_rate is not None:
        message.breach_rate = stat.breach_rate
    return message


def _set_duration(message: Any, field: str, value: timedelta | None) -> None:
    converted = duration(value)
    if converted is not None:
        getattr(message, field).CopyFrom(converted)


class ApprovalsRpc:
    """Approval-process analytics."""

    ctx: FeedbackContext

    async def RecordStageEvents(  # noqa: N802
        self,
        request: feedback_service_pb2.RecordStageEventsRequest,
        context: grpc.aio.ServicerContext,
    ) -> feedback_service_pb2.RecordStageEventsResponse:
        """Store a batch in any order; an event id already stored (or repeated) is skipped."""
        require_roles(*access.STAGE_EVENT_ROLES)
        events = _events(request)
        async with self.ctx.db.write() as session:
            recorded = await store_events(session, events, self.ctx.clock())
        return feedback_service_pb2.RecordStageEventsResponse(
            recorded_count=recorded, duplicate_count=len(events) - recorded
        )

    async def _cases(self, period: str, branch: str, product: str) -> Cases:
        async with self.ctx.db.read() as session:
            return await load_cases(
                session, period=optional_period(period), branch=branch, product=product
            )

    async def ListStageStatistics(  # noqa: N802
        self,
        request: feedback_service_pb2.ListStageStatisticsRequest,
        context: grpc.aio.ServicerContext,
    ) -> feedback_service_pb2.ListStageStatisticsResponse:
        """Return per-stage waits, processing, p50/p90, rework and SLA breaches by group."""
        require_roles(*access.APPROVAL_READ_ROLES)
        dims = _dimensions(request.group_by)
        granularity = GRANULARITY.get(request.period_granularity, "quarter")
        cases = await self._cases(request.period, request.branch, request.product)
        return feedback_service_pb2.ListStageStatisticsResponse(
            statistics=[
                _stat_message(dims, label, stat)
                for label, stat in _grouped_stats(cases, dims, granularity)
            ],
            case_count=len(cases.timelines),
        )

    async def ListBottlenecks(  # noqa: N802
        self,
        request: feedback_service_pb2.ListBottlenecksRequest,
        context: grpc.aio.ServicerContext,
    ) -> feedback_service_pb2.ListBottlenecksResponse:
        """Rank stages by p90 total time within each group, slowest first."""
        require_roles(*access.APPROVAL_READ_ROLES)
        dims = _dimensions(request.group_by)
        if request.top < 0:
            Violations.single("top", "must not be negative")
        granularity = GRANULARITY.get(request.period_granularity, "quarter")
        cases = await self._cases(request.period, request.branch, request.product)
        pairs = _grouped_stats(cases, dims, granularity)
        by_label: dict[str, list[StageStat]] = defaultdict(list)
        for label, stat in pairs:
            by_label[label].append(stat)
        response = feedback_service_pb2.ListBottlenecksResponse()
        for label in sorted(by_label):
            for item in bottlenecks(by_label[label]):
                if request.top and item.rank > request.top:
                    continue
                message = response.bottlenecks.add(
                    rank=item.rank,
                    stage=STAGE_ENUM[item.stage],
                    measured_count=item.measured,
                    **_key_fields(dims, item.group, label),
                )
                _set_duration(message, "total_p90", item.total_p90)
                _set_duration(message, "total_p50", item.total_p50)
                if item.breach_rate is not None:
                    message.breach_rate = item.breach_rate
        return response

    async def CompareApprovalPeriods(  # noqa: N802
        self,
        request: feedback_service_pb2.CompareApprovalPeriodsRequest,
        context: grpc.aio.ServicerContext,
    ) -> feedback_service_pb2.CompareApprovalPeriodsResponse:
        """Compare each stage's p90 total time and breach rate between two periods."""
        require_roles(*access.APPROVAL_READ_ROLES)
        dims = _dimensions(request.group_by, allow_period=False)
        parse_period(request.period_a, "period_a")
        parse_period(request.period_b, "period_b")
        if request.tolerance < 0:
            Violations.single("tolerance", "must not be negative")
        a = await self._cases(request.period_a, "", "")
        b = await self._cases(request.period_b, "", "")
        response = feedback_service_pb2.CompareApprovalPeriodsResponse()
        for row in trend(
            stage_stats(a.timelines, by=tuple(dims), sla=SLA),
            stage_stats(b.timelines, by=tuple(dims), sla=SLA),
            tolerance=request.tolerance or 0.10,
        ):
            message = response.trends.add(
                stage=STAGE_ENUM[row.stage],
                direction=DIRECTIONS[row.direction],
                **dict(zip(dims, row.group, strict=True)),
            )
            _set_duration(message, "total_p90_a", row.total_p90_a)
            _set_duration(message, "total_p90_b", row.total_p90_b)
            for field in ("relative_change", "breach_rate_a", "breach_rate_b"):
                value = getattr(row, field)
                if value is not None:
                    setattr(message, field, value)
        return response
