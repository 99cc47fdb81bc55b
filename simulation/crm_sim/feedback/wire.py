"""Synthetic approval events on the wire, as loan origination sends them to feedback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import timestamp_pb2

from crm.feedback.v1 import approval_pb2, feedback_service_pb2, feedback_service_pb2_grpc
from crm_feedback.domain.approval_timelines import STAGES, StageEvent

STAGE_NUMBER: dict[str, Any] = {stage: number for number, stage in enumerate(STAGES, start=1)}
KIND_NUMBER: dict[str, Any] = {"entered": 1, "completed": 2}


def stage_event(event: StageEvent) -> approval_pb2.StageEvent:
    """Return the wire form of a domain stage event."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(event.at)
    return approval_pb2.StageEvent(
        event_id=event.event_id, case_id=event.case_id, branch=event.branch,
        product=event.product, stage=STAGE_NUMBER[event.stage], kind=KIND_NUMBER[event.kind],
        event_time=stamp, actor=event.actor,
    )


async def record_stage_events(
    stub: feedback_service_pb2_grpc.FeedbackServiceStub,
    events: Sequence[StageEvent],
    *,
    metadata: Any,
    batch: int = 500,
) -> tuple[int, int]:
    """Send events in batches through RecordStageEvents; return (recorded, duplicates)."""
    recorded = duplicates = 0
    for start in range(0, len(events), batch):
        reply = await stub.RecordStageEvents(
            feedback_service_pb2.RecordStageEventsRequest(
                events=[stage_event(e) for e in events[start : start + batch]]
            ),
            metadata=metadata,
        )
        recorded += reply.recorded_count
        duplicates += reply.duplicate_count
    return recorded, duplicates
