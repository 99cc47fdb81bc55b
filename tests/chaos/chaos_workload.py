"""Mixed traffic through the gateway, as a careful caller sends it: every mutation carries a
request_id and is resent with the same id until it is answered OK.

One scenario per firm: onboarding (CreateClient, CreateKeyPerson), risk (a statement, a
rating, a facility and a monitoring batch whose postings raise a warning), notify (a message)
and feedback (a survey sent to the client). What each acknowledged call created is written to
a ledger that the reconciliation checks against the stores.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from chaos_platform import Platform
from client_harness import a_client
from feedback_harness import nps_csat_survey
from risk_harness import a_facility, a_statement, round_trip

from crm.client.v1 import client_pb2, client_service_pb2, client_service_pb2_grpc
from crm.feedback.v1 import feedback_service_pb2, feedback_service_pb2_grpc
from crm.notify.v1 import (
    campaign_pb2,
    common_pb2,
    notify_service_pb2,
    notify_service_pb2_grpc,
    template_pb2,
)
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_client.domain.credit_code import make_credit_code
from crm_runtime.auth import Role

Code = grpc.StatusCode
# The process behind the call went away or was busy: the same request is sent again.
RETRY = {Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED, Code.CANCELLED,
         Code.ABORTED}
# The service has not yet learned of the client (its event is still on the way): wait, resend.
NOT_YET = {Code.PERMISSION_DENIED, Code.NOT_FOUND, Code.FAILED_PRECONDITION}
CALL_TIMEOUT = 10.0
GIVE_UP_SECONDS = 240.0
RM = "rm-chaos"
NOTE_TEMPLATE = "templates/chaos-note"
SURVEY = "surveys/chaos-survey"
# Every third firm's scenario also starts a campaign to these staff (push only).
CAMPAIGN_EVERY = 3
CAMPAIGN_RECIPIENTS = tuple(f"staff/chaos-desk-{i}" for i in range(5))
CHANNEL_OPTIONS = [
    # Reconnect quickly after the gateway is killed (gRPC's default backoff grows to minutes).
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def _local_write_failure(exc: grpc.aio.AioRpcError) -> bool:
    """True for grpc-python's own INTERNAL when writing a request on a stream whose peer has
    gone (grpc/grpc#36066: the library sets it over the real status, and no server answered
    it); the batch is resent like any transport failure, under its same batch id."""
    return exc.code() == Code.INTERNAL and 'Failed "execute_batch"' in (
        exc.debug_error_string() or "")


@dataclass
class Ledger:
    """What callers were told: per kind, the keys of acknowledged mutations; and every
    non-OK status seen on the way (resent), or that ended a call (failed)."""

    acknowledged: dict[str, list[str]] = field(default_factory=dict)
    resent: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    warnings_per_batch: Counter[int] = field(default_factory=Counter)

    def ack(self, kind: str, key: str) -> None:
        """Record an acknowledged mutation."""
        self.acknowledged.setdefault(kind, []).append(key)


class Caller:
    """The gateway's callers: an RM, a risk officer (SSO tokens) and a system (API key)."""

    def __init__(self, platform: Platform, ledger: Ledger) -> None:
        self.platform = platform
        self.ledger = ledger
        self.channel = grpc.aio.insecure_channel(platform.gateway_address, options=CHANNEL_OPTIONS)
        self.clients = client_service_pb2_grpc.ClientServiceStub(self.channel)
        self.risk = risk_service_pb2_grpc.RiskServiceStub(self.channel)
        self.notify = notify_service_pb2_grpc.NotificationServiceStub(self.channel)
        self.feedback = feedback_service_pb2_grpc.FeedbackServiceStub(self.channel)

    def rm(self) -> tuple[tuple[str, str], ...]:
        """Return metadata of the relationship manager."""
        token = self.platform.sso.token(RM, [str(Role.RELATIONSHIP_MANAGER)])
        return (("authorization", f"Bearer {token}"),)

    def officer(self) -> tuple[tuple[str, str], ...]:
        """Return metadata of a risk officer."""
        token = self.platform.sso.token("ro-chaos", [str(Role.RISK_OFFICER)])
        return (("authorization", f"Bearer {token}"),)

    def system(self) -> tuple[tuple[str, str], ...]:
        """Return metadata of the bank system's API key."""
        return (("x-api-key", self.platform.api_key),)

    async def call(
        self, what: str, method: Callable[..., Any], request: Any,
        metadata: Callable[[], tuple[tuple[str, str], ...]], *, wait_for_event: bool = False,
    ) -> Any:
        """Send `request` until it is answered OK; resend on RETRY (and NOT_YET if waiting)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + GIVE_UP_SECONDS
        while True:
            try:
                return await method(request, metadata=metadata(), timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                resend = code in RETRY or (wait_for_event and code in NOT_YET)
                if not resend or loop.time() > give_up:
                    self.ledger.failed.append(f"{what}: {code.name} {exc.details()}")
                    raise
                self.ledger.resent[f"{what} {code.name}"] += 1
            await asyncio.sleep(0.3)

    async def monitor(self, batch: risk_service_pb2.MonitorTransactionsRequest) -> int:
        """Send one monitoring batch on a stream until acknowledged; return its warnings."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + GIVE_UP_SECONDS
        while True:
            try:
                call = self.risk.MonitorTransactions(
                    iter([batch]), metadata=self.system(), timeout=CALL_TIMEOUT)
                acks = [ack async for ack in call]
                if acks and not acks[0].HasField("error"):
                    first = acks[0]
                    if first.accepted == len(batch.transactions):
                        self.ledger.warnings_per_batch[len(first.warnings)] += 1
                    return len(first.warnings)
                reason = acks[0].error.message if acks else "no acknowledgement"
                self.ledger.resent[f"MonitorTransactions refused: {reason[:40]}"] += 1
            except grpc.aio.AioRpcError as exc:
                local = _local_write_failure(exc)
                if (exc.code() not in RETRY | NOT_YET and not local) or loop.time() > give_up:
                    self.ledger.failed.append(f"MonitorTransactions: {exc.code().name}")
                    raise
                name = "write failed locally" if local else exc.code().name
                self.ledger.resent[f"MonitorTransactions {name}"] += 1
            await asyncio.sleep(0.3)

    async def prepare(self) -> None:
        """Create the message template and the survey the scenarios use (once per platform)."""
        template = template_pb2.Template(
            display_name="chaos note",
            category=common_pb2.CATEGORY_SERVICE,
            variables=[template_pb2.TemplateVariable(
                name="client_name", type=template_pb2.VARIABLE_TYPE_STRING)],
            variants=[template_pb2.TemplateVariant(
                locale="zh-CN", subject="通知 {{ client_name }}", body="{{ client_name }}")],
        )
        await self.call("CreateTemplate", self.notify.CreateTemplate,
                        notify_service_pb2.CreateTemplateRequest(
                            template=template, template_id=NOTE_TEMPLATE.split("/")[1],
                            request_id=str(uuid.uuid4())), self.system)
        await self.call("CreateSurvey", self.feedback.CreateSurvey,
                        feedback_service_pb2.CreateSurveyRequest(
                            survey=nps_csat_survey(), survey_id=SURVEY.split("/")[1],
                            request_id=str(uuid.uuid4())), self.system)

    async def scenario(self, serial: int) -> None:
        """One firm's life: onboarding, risk, a warning, a message and a survey."""
        rid = lambda: str(uuid.uuid4())  # noqa: E731
        firm = a_client(credit_code=make_credit_code("91440300", f"MA{serial:06d}"),
                        display_name=f"深圳混沌测试{serial}有限公司")
        client = await self.call("CreateClient", self.clients.CreateClient,
                                 client_service_pb2.CreateClientRequest(
                                     client=firm, request_id=rid()), self.rm)
        client_id = client.name.removeprefix("clients/")
        self.ledger.ack("CreateClient", client_id)
        person = client_pb2.KeyPerson(
            display_name="王建国", role=client_pb2.KEY_PERSON_ROLE_LEGAL_REPRESENTATIVE)
        await self.call("CreateKeyPerson", self.clients.CreateKeyPerson,
                        client_service_pb2.CreateKeyPersonRequest(
                            parent=client.name, key_person=person, request_id=rid()), self.rm)
        self.ledger.ack("CreateKeyPerson", client_id)
        await self.call("CreateFinancialStatement", self.risk.CreateFinancialStatement,
                        risk_service_pb2.CreateFinancialStatementRequest(
                            parent=client.name, statement=a_statement(2025), request_id=rid()),
                        self.officer, wait_for_event=True)
        self.ledger.ack("CreateFinancialStatement", client_id)
        await self.call("RateClient", self.risk.RateClient, risk_service_pb2.RateClientRequest(
            client=client.name, request_id=rid()), self.officer, wait_for_event=True)
        self.ledger.ack("RateClient", client_id)
        facility = await self.call(
            "CreateFacility", self.risk.CreateFacility, risk_service_pb2.CreateFacilityRequest(
                parent=client.name, facility=a_facility(), request_id=rid()),
            self.system, wait_for_event=True)
        self.ledger.ack("CreateFacility", client_id)
        await self.monitor(round_trip(client_id, facility.name, prefix=f"CH{serial}"))
        self.ledger.ack("MonitorTransactions", client_id)
        await self.call("SendMessage", self.notify.SendMessage,
                        notify_service_pb2.SendMessageRequest(
                            recipient=f"staff/{RM}", template=NOTE_TEMPLATE,
                            variables={"client_name": f"chaos-{client_id}"},
                            request_id=rid()), self.system)
        self.ledger.ack("SendMessage", client_id)
        if serial % CAMPAIGN_EVERY == 0:
            await self.campaign(client_id)
        await self.call("SendSurvey", self.feedback.SendSurvey,
                        feedback_service_pb2.SendSurveyRequest(
                            survey=SURVEY, clients=[client.name], request_id=rid()),
                        self.system, wait_for_event=True)
        self.ledger.ack("SendSurvey", client_id)

    async def campaign(self, client_id: str) -> None:
        """Start a campaign to CAMPAIGN_RECIPIENTS; notify fans it out in the background."""
        audience = campaign_pb2.RecipientList(recipients=[
            campaign_pb2.CampaignRecipient(recipient=r) for r in CAMPAIGN_RECIPIENTS])
        campaign = campaign_pb2.Campaign(
            display_name=f"chaos-{client_id}", template=NOTE_TEMPLATE,
            variables={"client_name": f"campaign-{client_id}"}, recipient_list=audience,
            channels=[common_pb2.CHANNEL_PUSH])
        await self.call("CreateCampaign", self.notify.CreateCampaign,
                        notify_service_pb2.CreateCampaignRequest(
                            campaign=campaign, request_id=str(uuid.uuid4())), self.system)
        self.ledger.ack("CreateCampaign", client_id)

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close()


async def run_load(caller: Caller, stop: asyncio.Event, first_serial: int,
                   workers: int = 4) -> int:
    """Run scenarios on `workers` lanes until `stop` is set; return the next free serial."""
    serials = iter(range(first_serial, first_serial + 100_000))
    last = first_serial

    async def lane() -> None:
        nonlocal last
        while not stop.is_set():
            serial = next(serials)
            last = max(last, serial + 1)
            await caller.scenario(serial)

    await asyncio.gather(*(lane() for _ in range(workers)))
    return last
