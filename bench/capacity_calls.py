"""The representative read and write of each service, for the capacity benchmark.

Each workload seeds what its calls need through the service's own API and returns two call
makers (`read(i)`, `write(i)`) for `bench.tools.python_load`. Writes carry a fresh request id
and fresh business keys per call, so every one is a real insert, never an idempotent replay.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc

from bench.client_bench import _client_message
from bench.risk_registration import _facility
from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.events.v1 import event_pb2, event_pb2_grpc
from crm.feedback.v1 import feedback_service_pb2, feedback_service_pb2_grpc, survey_pb2
from crm.notify.v1 import notify_service_pb2, notify_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_risk.monitoring.engine.model import ClientContext
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, pii_env
from crm_sim.monitoring.registration import client_created, facility_of

Call = Callable[[int], Awaitable[None]]
RISK_CLIENTS = 500


@dataclass(frozen=True)
class Workload:
    """One service under test: how to start it and which calls measure it."""

    service: str  # crm_<service> module and the key name in IdentityKit
    health: str
    read_name: str
    write_name: str

    def env(self) -> dict[str, str]:
        """Return the settings the service needs beyond its store and port."""
        if self.service == "feedback":
            return {"ANSWER_TOKEN_SECRET": base64.b64encode(os.urandom(32)).decode()}
        return pii_env()


WORKLOADS = (
    Workload("client", "crm.client.v1.ClientService", "GetClient", "CreateClient"),
    Workload("risk", "crm.risk.v1.RiskService", "GetFacility", "CreateFacility"),
    Workload("notify", "crm.notify.v1.NotificationService", "GetMessage", "SendMessage"),
    Workload("feedback", "crm.feedback.v1.FeedbackService", "GetSurvey", "CreateSurvey"),
)


async def calls(
    workload: Workload, channel: grpc.aio.Channel, kit: IdentityKit
) -> tuple[Call, Call]:
    """Seed the service; return its (read, write) call makers."""
    maker = {"client": _client, "risk": _risk, "notify": _notify, "feedback": _feedback}
    return await maker[workload.service](channel, kit)


async def _client(channel: grpc.aio.Channel, kit: IdentityKit) -> tuple[Call, Call]:
    stub = client_service_pb2_grpc.ClientServiceStub(channel)
    rm = kit.metadata("staff/rm-bench", Role.RELATIONSHIP_MANAGER)

    async def write(i: int) -> None:
        await stub.CreateClient(
            client_service_pb2.CreateClientRequest(
                client=_client_message(i, "CAP"), request_id=str(uuid.uuid4())
            ),
            metadata=rm,
        )

    seeded = await stub.CreateClient(
        client_service_pb2.CreateClientRequest(
            client=_client_message(0, "SEED"), request_id=str(uuid.uuid4())
        ),
        metadata=rm,
    )
    get = client_service_pb2.GetClientRequest(name=seeded.name)

    async def read(_: int) -> None:
        await stub.GetClient(get, metadata=rm)

    return read, write


async def _risk(channel: grpc.aio.Channel, kit: IdentityKit) -> tuple[Call, Call]:
    stub = risk_service_pb2_grpc.RiskServiceStub(channel)
    system = kit.metadata("systems/core-banking", Role.SYSTEM)
    # The clients arrive as the client service's relay delivers them (ClientCreated events).
    events = [client_created(ClientContext(client_id=f"c{n:06d}")) for n in range(RISK_CLIENTS)]
    await event_pb2_grpc.EventSinkServiceStub(channel).DeliverEvents(
        event_pb2.DeliverEventsRequest(events=events),
        metadata=kit.metadata("systems/client-relay", Role.SYSTEM, kid="client"),
    )
    sequence = iter(range(10**9))

    async def write(_: int) -> None:
        n = next(sequence)
        facility = _facility(n)
        await stub.CreateFacility(
            risk_service_pb2.CreateFacilityRequest(
                parent=f"clients/c{n % RISK_CLIENTS:06d}",
                facility=facility_of(facility),
                request_id=str(uuid.uuid4()),
            ),
            metadata=system,
        )

    first = await _first_facility(stub, system, write)
    get = risk_service_pb2.GetFacilityRequest(name=first)

    async def read(_: int) -> None:
        await stub.GetFacility(get, metadata=system)

    return read, write


async def _first_facility(
    stub: risk_service_pb2_grpc.RiskServiceStub, system: object, write: Call
) -> str:
    await write(0)
    listed = await stub.ListFacilities(
        risk_service_pb2.ListFacilitiesRequest(parent="clients/c000000", page_size=1),
        metadata=system,
    )
    return str(listed.facilities[0].name)


async def _notify(channel: grpc.aio.Channel, kit: IdentityKit) -> tuple[Call, Call]:
    """SendMessage renders the benchmark template (made by notify_bench.Bench.template)."""
    stub = notify_service_pb2_grpc.NotificationServiceStub(channel)
    system = kit.metadata("systems/core-banking", Role.SYSTEM)

    async def send(i: int) -> notify_service_pb2.SendMessageResponse:
        reply: notify_service_pb2.SendMessageResponse = await stub.SendMessage(
            notify_service_pb2.SendMessageRequest(
                recipient=f"staff/b{i % 1000:04d}",
                template="templates/bench-rate",
                variables={"n": str(i)},
                request_id=str(uuid.uuid4()),
            ),
            metadata=system,
        )
        return reply

    async def write(i: int) -> None:
        await send(i)

    get = notify_service_pb2.GetMessageRequest(name=(await send(0)).messages[0].name)

    async def read(_: int) -> None:
        await stub.GetMessage(get, metadata=system)

    return read, write


async def _feedback(channel: grpc.aio.Channel, kit: IdentityKit) -> tuple[Call, Call]:
    stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
    ops = kit.metadata("staff/ops-bench", Role.OPS)

    async def write(i: int) -> None:
        await stub.CreateSurvey(
            feedback_service_pb2.CreateSurveyRequest(
                survey=_survey(), survey_id=f"cap-{uuid.uuid4().hex[:20]}",
                request_id=str(uuid.uuid4()),
            ),
            metadata=ops,
        )

    seeded = await stub.CreateSurvey(
        feedback_service_pb2.CreateSurveyRequest(
            survey=_survey(), survey_id="cap-seed", request_id=str(uuid.uuid4())
        ),
        metadata=ops,
    )
    get = feedback_service_pb2.GetSurveyRequest(name=seeded.name)

    async def read(_: int) -> None:
        await stub.GetSurvey(get, metadata=ops)

    return read, write


def _survey() -> survey_pb2.Survey:
    """A two-question post-loan survey (NPS and a comment)."""
    return survey_pb2.Survey(
        title=survey_pb2.LocalizedText(zh_cn="贷后满意度调查", en="Post-loan survey"),
        questions=[
            survey_pb2.Question(
                question_id="nps", kind=survey_pb2.QUESTION_KIND_NPS, required=True,
                title=survey_pb2.LocalizedText(zh_cn="推荐意愿", en="Would you recommend us?"),
            ),
            survey_pb2.Question(
                question_id="comment", kind=survey_pb2.QUESTION_KIND_FREE_TEXT,
                title=survey_pb2.LocalizedText(zh_cn="其他意见", en="Other comments"),
            ),
        ],
    )
