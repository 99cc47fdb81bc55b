"""Demo step: loan origination streams approval-stage events; feedback finds the bottleneck."""

from __future__ import annotations

import grpc

from crm.feedback.v1 import approval_pb2, feedback_service_pb2, feedback_service_pb2_grpc
from crm_feedback.domain.approval_timelines import Stage
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit
from crm_sim.feedback.wire import record_stage_events
from crm_sim.feedback.world import generate_approval_events

SLOW_BRANCH = "chengdu"
SLOW_STAGE: Stage = "credit_review"


async def run(address: str, identity: IdentityKit, *, cases: int = 400) -> dict[str, object]:
    """Stream a quarter of approval events (duplicated, out of order) and print bottlenecks."""
    data = generate_approval_events(n_cases=cases, slow_branch=SLOW_BRANCH, slow_stage=SLOW_STAGE)
    origination = identity.metadata("systems/loan-origination", Role.SYSTEM)
    analyst = identity.metadata("staff/ops-demo", Role.OPS)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        events = list(data.delivered)
        recorded, duplicates = await record_stage_events(stub, events, metadata=origination)
        ranking = await stub.ListBottlenecks(
            feedback_service_pb2.ListBottlenecksRequest(
                group_by=[approval_pb2.APPROVAL_DIMENSION_BRANCH], top=1
            ),
            metadata=analyst,
        )
    print(
        f"\nApproval process: {data.n_cases} loan cases, {len(events)} stage events "
        f"received ({duplicates} duplicates ignored, {recorded} stored, out of order)."
    )
    print("  slowest stage per branch (p90 of waiting + processing):")
    found = {}
    for item in ranking.bottlenecks:
        stage = approval_pb2.ApprovalStage.Name(item.stage).removeprefix("APPROVAL_STAGE_")
        hours = item.total_p90.ToTimedelta().total_seconds() / 3600
        found[item.branch] = (stage.lower(), round(hours, 1))
        print(
            f"  {item.branch:<10} {stage.lower():<16} p90 {hours:6.1f} h "
            f"(breach rate {item.breach_rate:.0%})"
        )
    planted = found.get(SLOW_BRANCH, ("?", 0.0))[0] == SLOW_STAGE
    print(
        f"  planted slow stage ({SLOW_STAGE} in {SLOW_BRANCH}) ranked first: "
        f"{'yes' if planted else 'NO'}"
    )
    return {"bottlenecks": found, "planted_found": planted}
