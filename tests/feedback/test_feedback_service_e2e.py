"""End to end: a visit recorded as "project delayed" reaches the risk service as a signal.

Feedback and risk run as real processes; feedback's relay delivers ExternalSignalRaised
through its outbox over gRPC to risk's inbox, and risk turns it into an external warning,
read back through risk's own API.
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid

import grpc
import pytest
from google.type import date_pb2
from process_harness import ServiceProcess

from crm.feedback.v1 import feedback_service_pb2, feedback_service_pb2_grpc, followup_pb2
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_runtime.auth import Role
from crm_runtime.testing import free_port, pii_env

pytestmark = pytest.mark.process
CLIENT = "clients/" + "7" * 32
FACILITY = f"{CLIENT}/facilities/f1"


def day(year: int, month: int, day_: int) -> date_pb2.Date:
    return date_pb2.Date(year=year, month=month, day=day_)


async def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.1)


class TestVisitSignalReachesRisk:
    async def test_project_delayed_visit_arrives_as_external_signal(
        self, tmp_path, identity, event_transport, request
    ):
        """RecordVisit(PROJECT_DELAYED) on the feedback process: ExternalSignalRaised, once
        (pushed over gRPC, or through JetStream)."""
        risk_port = free_port()
        if event_transport == "nats":
            nats_url = request.getfixturevalue("nats_server").url
            events = {"EVENT_TRANSPORT": "nats", "NATS_URL": nats_url}
        else:
            events = {"EVENT_SUBSCRIBERS": f"risk=127.0.0.1:{risk_port}"}
        risk = ServiceProcess("crm_risk", {
            **pii_env(), **identity.env("risk"), **events,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/risk.db",
        }, tmp_path / "risk.log", port=risk_port)
        risk.start()
        env = {
            **identity.env("feedback"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/feedback.db",
            "ANSWER_TOKEN_SECRET": base64.b64encode(os.urandom(32)).decode(),
            **events,
            "RELAY_INTERVAL_SECONDS": "0.05",
        }
        feedback = ServiceProcess("crm_feedback", env, tmp_path / "feedback.log")
        feedback.start()
        officer = identity.metadata("staff/ro-e2e", Role.RISK_OFFICER)
        try:
            await risk.wait_serving("crm.risk.v1.RiskService")
            await feedback.wait_serving("crm.feedback.v1.FeedbackService")
            async with grpc.aio.insecure_channel(feedback.address) as channel:
                stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
                system = identity.metadata("systems/core-banking", Role.SYSTEM)
                await stub.RecordLoanEvents(
                    feedback_service_pb2.RecordLoanEventsRequest(events=[followup_pb2.LoanEvent(
                        event_id=f"disb-{uuid.uuid4().hex}",
                        kind=followup_pb2.LOAN_EVENT_KIND_DISBURSED, facility=FACILITY,
                        occur_time={"seconds": 1_767_225_600},  # 2026-01-01
                        plan=followup_pb2.FollowupPlan(
                            facility_type=followup_pb2.FACILITY_TYPE_PROJECT_FINANCE,
                            risk_tier=followup_pb2.RISK_TIER_MEDIUM,
                            disbursement_date=day(2026, 1, 1), maturity_date=day(2028, 1, 1),
                            relationship_manager="staff/rm-e2e",
                        ),
                    )]),
                    metadata=system,
                )
                visit = await stub.RecordVisit(
                    feedback_service_pb2.RecordVisitRequest(
                        parent=FACILITY, request_id=str(uuid.uuid4()),
                        visit=followup_pb2.Visit(
                            visit_date=day(2026, 4, 2), kind=followup_pb2.VISIT_KIND_SITE_VISIT,
                            progress_percent=25,
                            issue_codes=[followup_pb2.VISIT_ISSUE_PROJECT_DELAYED],
                            issues=["项目延期：主体结构施工滞后约两个月"],
                        ),
                    ),
                    metadata=identity.metadata("staff/rm-e2e", Role.RELATIONSHIP_MANAGER),
                )

            async def warnings() -> list:
                async with grpc.aio.insecure_channel(risk.address) as channel:
                    reply = await risk_service_pb2_grpc.RiskServiceStub(channel).ListWarnings(
                        risk_service_pb2.ListWarningsRequest(client=CLIENT), metadata=officer)
                return list(reply.warnings)

            async def arrived() -> bool:
                return bool(await warnings())

            await wait_for(arrived)
            await asyncio.sleep(0.5)  # A second delivery would show as a second signal.
            found = await warnings()
        finally:
            assert feedback.terminate() == 0
            assert risk.terminate() == 0
        [warning] = found
        assert warning.rule == "feedback_project_delayed"
        [signal] = warning.signals
        assert "项目延期" in signal.facts["evidence"]
        assert signal.facts["signal_id"]
        assert warning.facility.endswith("/f1") or not warning.facility
        assert visit.name
