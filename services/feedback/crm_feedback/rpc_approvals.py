"""Approval-process analytics: stage-event ingest, stage statistics, bottlenecks, trends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from crm.feedback.v1 import approval_pb2, feedback_service_pb2
from crm_feedback import access
from crm_feedback.approval_mapping import (
    DIRECTIONS,
    SLA,
    STAGE_BY_ENUM,
    STAGE_ENUM,
    bottleneck_messages,
    grouped_stats,
    set_duration,
    stat_message,
)
from crm_feedback.approval_store import Cases, load_cases, store_events
from crm_feedback.context import FeedbackContext
from crm_feedback.domain.approvals import StageEvent, stage_stats, trend
from crm_feedback.periods import GRANULARITY, optional_period, parse_period
from crm_feedback.validation import Violations, is_set, to_datetime
from crm_runtime.auth import require_roles
from crm_runtime.pagination import offset_page, page_size

MAX_STAGE_EVENTS = 1_000
KIND_BY_ENUM: dict[int, str] = {
    approval_pb2.STAGE_EVENT_KIND_ENTERED: "entered",
    approval_pb2.STAGE_EVENT_KIND_COMPLETED: "completed",
}
DIMENSIONS: dict[int, str] = {
    approval_pb2.APPROVAL_DIMENSION_BRANCH: "branch",
    approval_pb2.APPROVAL_DIMENSION_PRODUCT: "product",
    approval_pb2.APPROVAL_DIMENSION_PERIOD: "period",
}


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


def _query(method: str, request: Any) -> dict[str, object]:
    """Return what a page token of an approval listing is bound to: every filter given."""
    return {
        "m": method, "g": list(request.group_by), "p": request.period, "b": request.branch,
        "r": request.product, "k": request.period_granularity,
        "t": getattr(request, "top", 0),
    }


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
        page = offset_page(
            [
                stat_message(dims, label, stat)
                for label, stat in grouped_stats(cases, dims, granularity)
            ],
            tokens=self.ctx.tokens, page_token=request.page_token,
            size=page_size(request.page_size), query=_query("ListStageStatistics", request),
        )
        return feedback_service_pb2.ListStageStatisticsResponse(
            statistics=page.rows, case_count=len(cases.timelines),
            next_page_token=page.next_page_token,
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
        found = bottleneck_messages(grouped_stats(cases, dims, granularity), dims, request.top)
        page = offset_page(
            found, tokens=self.ctx.tokens, page_token=request.page_token,
            size=page_size(request.page_size), query=_query("ListBottlenecks", request),
        )
        return feedback_service_pb2.ListBottlenecksResponse(
            bottlenecks=page.rows, next_page_token=page.next_page_token
        )

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
            set_duration(message, "total_p90_a", row.total_p90_a)
            set_duration(message, "total_p90_b", row.total_p90_b)
            for field in ("relative_change", "breach_rate_a", "breach_rate_b"):
                value = getattr(row, field)
                if value is not None:
                    setattr(message, field, value)
        return response
