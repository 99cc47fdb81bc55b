"""Starts the notification service in-process for tests (see service_harness); notify helpers."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from contract_support import details  # noqa: F401 - also re-exported for other tests
from service_harness import (  # noqa: F401 - FakeClock is re-exported for the notify tests
    RM_A,
    RM_B,
    FakeClock,
    ServiceHarness,
    start_harness,
    test_settings,
)

from crm.notify.v1 import (
    common_pb2,
    message_pb2,
    notify_service_pb2,
    notify_service_pb2_grpc,
    template_pb2,
)
from crm_notify import app
from crm_notify.config import NotifySettings
from crm_notify.context import NotifyContext
from crm_notify.workers import Workers
from crm_runtime.server import ServiceDefinition
from crm_runtime.testing import IdentityKit

TEAM_LEAD = "staff/tl-1"
RISK_OFFICER = "staff/ro-1"


@dataclass
class NotifyHarness(
    ServiceHarness[NotifyContext, NotifySettings, notify_service_pb2_grpc.NotificationServiceStub]
):
    """A running notification service and ways to call it as different callers."""

    stub_type = notify_service_pb2_grpc.NotificationServiceStub

    @functools.cached_property
    def workers(self) -> Workers:
        """Return workers for single passes at a controlled time (escalator.run_once() etc.)."""
        return Workers.of(self.ctx)

    def use_clock(self, clock: Callable[[], datetime]) -> None:
        """Make the service read time from `clock`."""
        self.ctx.clock = clock

    async def deliver(self) -> int:
        """Run delivery passes until nothing is due; return messages handled."""
        total = 0
        while moved := await self.workers.delivery.run_once():
            total += moved
        return total

    async def dispatch_campaigns(self) -> None:
        """Run campaign passes until no campaign has work."""
        while await self.workers.campaigns.run_once():
            pass

    async def template(
        self,
        template_id: str,
        *,
        category: int = common_pb2.CATEGORY_SERVICE,
        variables: tuple[tuple[str, int], ...] = (
            ("client_name", template_pb2.VARIABLE_TYPE_STRING),
        ),
        zh: tuple[str, str] = ("通知：{{ client_name }}", "尊敬的 {{ client_name }}，您好。"),
        en: tuple[str, str] = ("Notice: {{ client_name }}", "Dear {{ client_name }}."),
    ) -> template_pb2.Template:
        """Create a template (as operations)."""
        return await self.stub.CreateTemplate(
            notify_service_pb2.CreateTemplateRequest(
                template_id=template_id,
                template=template_pb2.Template(
                    display_name=template_id,
                    category=category,  # type: ignore[arg-type]
                    variables=[
                        template_pb2.TemplateVariable(name=n, type=t)  # type: ignore[arg-type]
                        for n, t in variables
                    ],
                    variants=[
                        template_pb2.TemplateVariant(locale="zh-CN", subject=zh[0], body=zh[1]),
                        template_pb2.TemplateVariant(locale="en", subject=en[0], body=en[1]),
                    ],
                ),
                request_id=str(uuid.uuid4()),
            ),
            metadata=self.ops(),
        )

    async def send(
        self, recipient: str, template: str, **variables: str
    ) -> notify_service_pb2.SendMessageResponse:
        """Send one message as a bank system."""
        return await self.stub.SendMessage(
            notify_service_pb2.SendMessageRequest(
                recipient=recipient,
                template=template,
                variables=variables,
                request_id=str(uuid.uuid4()),
            ),
            metadata=self.system(),
        )

    async def read_stream(
        self, recipient: str, count: int, *, after: int | None = None, timeout: float = 5.0
    ) -> list[message_pb2.PushMessage]:
        """Open a push stream and return the first `count` messages it yields."""
        cursor = message_pb2.PushCursor(recipient=recipient)
        if after is not None:
            cursor.after_sequence = after
        call = self.stub.StreamMessages(
            notify_service_pb2.StreamMessagesRequest(cursors=[cursor]), metadata=self.system()
        )
        received: list[message_pb2.PushMessage] = []
        try:
            async with asyncio.timeout(timeout):
                async for page in call:
                    received.extend(page.messages)
                    if len(received) >= count:
                        break
        finally:
            call.cancel()
        return received


@asynccontextmanager
async def notify_service(
    store_url: str, identity: IdentityKit, *, workers: bool = True, **overrides: object
) -> AsyncIterator[NotifyHarness]:
    """Run a notification service against `store_url` for the duration of the block.

    With workers=False no background task runs: the test drives delivery, campaigns and
    escalation itself (h.deliver(), h.dispatch_campaigns(), escalator.run_once()), which is
    what a test with a hand-moved clock needs.
    """
    # Fast workers and retries; a test's own overrides win.
    fast = {
        "delivery_interval_seconds": 0.05,
        "campaign_interval_seconds": 0.05,
        "escalation_interval_seconds": 3600,
        "stream_heartbeat_seconds": 1.0,
        "retry_base_seconds": 0.05,
        "retry_cap_seconds": 0.2,
        "delivery_lease_seconds": 2.0,
        "webhook_allow_private": True,
        "risk_officers": RISK_OFFICER,
        "default_team_lead": TEAM_LEAD,
    }
    values = test_settings("notify", store_url, identity, **{**fast, **overrides})

    def without_workers(definition: ServiceDefinition, ctx: NotifyContext) -> None:
        if not workers:
            definition.background = []

    settings = NotifySettings(**values)  # type: ignore[arg-type]
    async with start_harness(NotifyHarness, app, settings, identity, prepare=without_workers) as h:
        yield h
