"""Starts the feedback service in-process on port 0 for tests, with real interceptors.

Events the service emits stay in its outbox (the default subscribers point at a closed
port), so tests read exactly what notify and risk would receive with `events()`.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from contract_support import details  # noqa: F401 - also re-exported for other tests
from google.protobuf import timestamp_pb2
from sqlalchemy import select
from sqlmodel import col

from crm.events.v1 import event_pb2, event_pb2_grpc, feedback_events_pb2
from crm.feedback.v1 import feedback_service_pb2_grpc, survey_pb2
from crm_feedback.app import build, migrate
from crm_feedback.config import FeedbackSettings
from crm_feedback.context import FeedbackContext
from crm_runtime.auth import Role
from crm_runtime.outbox import make_envelope
from crm_runtime.server import RunningService, start_service
from crm_runtime.tables import OutboxMessage
from crm_runtime.testing import IdentityKit

RM_A = "staff/rm-a"
RM_B = "staff/rm-b"
TEAM_1 = "teams/t1"
# Nothing listens on port 9 (discard) on test machines: deliveries fail and rows stay.
CLOSED_SUBSCRIBERS = "notify=127.0.0.1:9,risk=127.0.0.1:9"


class Clock:
    """A settable clock for the service context."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**delta)


@dataclass
class FeedbackHarness:
    """A running feedback service and ways to call it as different people."""

    running: RunningService
    ctx: FeedbackContext
    channel: grpc.aio.Channel
    stub: feedback_service_pb2_grpc.FeedbackServiceStub
    sink: event_pb2_grpc.EventSinkServiceStub
    identity: IdentityKit
    settings: FeedbackSettings

    def as_(
        self, subject: str, *roles: Role, teams: tuple[str, ...] = ()
    ) -> tuple[tuple[str, str], ...]:
        """Return metadata for a caller."""
        return self.identity.metadata(subject, *roles, teams=teams)

    def rm(self, subject: str = RM_A, teams: tuple[str, ...] = ()) -> tuple[tuple[str, str], ...]:
        """Return metadata for a relationship manager."""
        return self.as_(subject, Role.RELATIONSHIP_MANAGER, teams=teams)

    def system(self, name: str = "systems/core-banking") -> tuple[tuple[str, str], ...]:
        """Return metadata for a bank system."""
        return self.identity.metadata(name, Role.SYSTEM)

    def ops(self) -> tuple[tuple[str, str], ...]:
        """Return metadata for an operations user."""
        return self.as_("staff/ops-1", Role.OPS)

    async def events(self, message_type: type[Any], subscriber: str = "notify") -> list[Any]:
        """Return the payloads of one event type in the outbox, in emission order."""
        name = message_type.DESCRIPTOR.full_name
        async with self.ctx.db.read() as session:
            bodies = (
                await session.execute(
                    select(col(OutboxMessage.envelope))
                    .where(
                        col(OutboxMessage.event_type) == name,
                        col(OutboxMessage.subscriber) == subscriber,
                    )
                    .order_by(col(OutboxMessage.id))
                )
            ).scalars()
            payloads = []
            for body in bodies:
                envelope = event_pb2.EventEnvelope.FromString(body)
                payload = message_type()
                envelope.payload.Unpack(payload)
                payloads.append(payload)
        return payloads

    async def deliver(
        self, *payloads: Any, source: str = "risk"
    ) -> event_pb2.DeliverEventsResponse:
        """Deliver events to the service's inbox as another service's relay would."""
        request = event_pb2.DeliverEventsRequest(
            events=[make_envelope(p, source=source, subject="") for p in payloads]
        )
        return await self.sink.DeliverEvents(request, metadata=self.system(f"systems/{source}"))

    async def dispatch_tokens(self) -> dict[str, str]:
        """Return dispatch name → answer token from the SurveyDispatched events so far."""
        dispatched = await self.events(feedback_events_pb2.SurveyDispatched)
        return {event.dispatch: event.answer_token for event in dispatched}


def answer_secret() -> str:
    """Return a fresh answer-token secret as the service expects it."""
    return base64.b64encode(os.urandom(32)).decode()


def stamp(moment: datetime) -> timestamp_pb2.Timestamp:
    """Return a Timestamp."""
    value = timestamp_pb2.Timestamp()
    value.FromDatetime(moment)
    return value


@asynccontextmanager
async def feedback_service(
    store_url: str,
    identity: IdentityKit,
    *,
    subscribers: str = CLOSED_SUBSCRIBERS,
    now: datetime | None = None,
    **overrides: object,
) -> AsyncIterator[FeedbackHarness]:
    """Run a feedback service against `store_url` for the duration of the block."""
    settings = FeedbackSettings(
        database_url=store_url,
        grpc_port=0,
        identity_trusted_keys_dir=identity.directory,
        identity_signing_key_file=identity.private_files["feedback"],
        identity_signing_kid="feedback",
        event_subscribers=subscribers,
        answer_token_secret=answer_secret(),
        health_check_interval_seconds=0.2,
        scheduler_interval_seconds=0,
        grace_seconds=1,
        **overrides,  # type: ignore[arg-type]
    )
    migrate(settings)
    definition, ctx = await build(settings)
    if now is not None:
        ctx.clock = Clock(now)
    running = await start_service(definition)
    channel = grpc.aio.insecure_channel(running.address)
    try:
        yield FeedbackHarness(
            running,
            ctx,
            channel,
            feedback_service_pb2_grpc.FeedbackServiceStub(channel),
            event_pb2_grpc.EventSinkServiceStub(channel),
            identity,
            settings,
        )
    finally:
        await channel.close()
        await running.stop(drain_seconds=0)


def text(zh: str, en: str) -> survey_pb2.LocalizedText:
    """Return a localized text."""
    return survey_pb2.LocalizedText(zh_cn=zh, en=en)


def nps_csat_survey() -> survey_pb2.Survey:
    """Return a survey with an NPS, a CSAT, a choice and a free-text question."""
    return survey_pb2.Survey(
        title=text("贷后满意度调查", "Post-loan satisfaction survey"),
        questions=[
            survey_pb2.Question(
                question_id="nps",
                kind=survey_pb2.QUESTION_KIND_NPS,
                required=True,
                title=text("您向同行推荐我行的可能性有多大？", "Would you recommend us?"),
            ),
            survey_pb2.Question(
                question_id="csat",
                kind=survey_pb2.QUESTION_KIND_CSAT,
                required=False,
                title=text("您对本次服务满意吗？", "How satisfied are you with the service?"),
            ),
            survey_pb2.Question(
                question_id="channel",
                kind=survey_pb2.QUESTION_KIND_SINGLE_CHOICE,
                required=False,
                title=text("您最常用的渠道", "Your most used channel"),
                options=[
                    survey_pb2.ChoiceOption(option_id="branch", label=text("网点", "Branch")),
                    survey_pb2.ChoiceOption(option_id="online", label=text("网银", "Online")),
                ],
            ),
            survey_pb2.Question(
                question_id="comment",
                kind=survey_pb2.QUESTION_KIND_FREE_TEXT,
                required=False,
                title=text("其他意见", "Other comments"),
            ),
        ],
    )


def new_request_id() -> str:
    """Return a fresh request id."""
    return str(uuid.uuid4())


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(year, month, day, hour, tzinfo=UTC)
