"""Starts the feedback service in-process for tests (see service_harness); feedback helpers.

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
from datetime import UTC, datetime
from typing import Any

from contract_support import details  # noqa: F401 - also re-exported for other tests
from google.protobuf import timestamp_pb2
from service_harness import (  # noqa: F401 - RM_A and RM_B are re-exported for the tests
    RM_A,
    RM_B,
    FakeClock,
    ServiceHarness,
    start_harness,
    test_settings,
)
from sqlalchemy import select
from sqlmodel import col

from crm.events.v1 import event_pb2, feedback_events_pb2
from crm.feedback.v1 import feedback_service_pb2_grpc, survey_pb2
from crm_feedback import app
from crm_feedback.config import FeedbackSettings
from crm_feedback.context import FeedbackContext
from crm_runtime.server import ServiceDefinition
from crm_runtime.tables import OutboxMessage
from crm_runtime.testing import IdentityKit

TEAM_1 = "teams/t1"
# Nothing listens on port 9 (discard) on test machines: deliveries fail and rows stay.
CLOSED_SUBSCRIBERS = "notify=127.0.0.1:9,risk=127.0.0.1:9"


@dataclass
class FeedbackHarness(
    ServiceHarness[FeedbackContext, FeedbackSettings, feedback_service_pb2_grpc.FeedbackServiceStub]
):
    """A running feedback service and ways to call it as different people."""

    stub_type = feedback_service_pb2_grpc.FeedbackServiceStub

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
        return await self.deliver_events(
            payloads, source=source, metadata=self.system(f"systems/{source}")
        )

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
    values = test_settings(
        "feedback",
        store_url,
        identity,
        event_subscribers=subscribers,
        answer_token_secret=answer_secret(),
        scheduler_interval_seconds=0,
        **overrides,
    )

    def install_clock(definition: ServiceDefinition, ctx: FeedbackContext) -> None:
        if now is not None:
            ctx.clock = FakeClock(now)

    settings = FeedbackSettings(**values)  # type: ignore[arg-type]
    async with start_harness(FeedbackHarness, app, settings, identity, prepare=install_clock) as h:
        yield h


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
