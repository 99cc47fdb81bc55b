"""Headline: a 10,000-message campaign run survives 20 SIGKILLs and constant stream cuts.

RELIABILITY §7 item 14. The notification service runs as a real process on SQLite. Fifty
campaigns, each to the same 100 staff recipients on push and enterprise chat, are created
while the process is killed with SIGKILL 20 times at random moments. Four app streams (25
recipients each) are cut every 1–3 s and resume after their last acknowledged sequence; the
chat receiver fails, delays and loses answers on its own schedule. At the end every message
the store holds must have reached its receiver exactly once after dedupe by message id, and
every recipient's push sequence must be 1..50 in order.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
import pytest
from process_harness import ServiceProcess
from webhook_receiver import WebhookReceiver

from crm.notify.v1 import (
    campaign_pb2,
    common_pb2,
    message_pb2,
    notify_service_pb2,
    notify_service_pb2_grpc,
    template_pb2,
)
from crm_runtime.auth import Role

# The 250 s soak runs with `./run.sh soak`, not in the default suite (issue 11, defect 13).
# Not in `./run.sh chaos` any more: tests/chaos kills notify (and every other process) there,
# and the chaos command has to stay under 15 minutes.
pytestmark = [pytest.mark.process, pytest.mark.soak]

SECRET = "whsec_aGVhZGxpbmUtc2VjcmV0"
RECIPIENTS = [f"staff/u{i:03d}" for i in range(100)]
CAMPAIGNS = 50
KILLS = 20
STREAMS = 4
SERVICE = "crm.notify.v1.NotificationService"
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
)
T = TypeVar("T")


async def _retry(call: Callable[[], Awaitable[T]], *, deadline: float) -> T:
    """Repeat an idempotent call (same request_id) until it gets an answer."""
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


@dataclass
class PushConsumer:
    """An app backend holding one stream for a group of recipients."""

    stub: notify_service_pb2_grpc.NotificationServiceStub
    metadata: tuple[tuple[str, str], ...]
    recipients: list[str]
    acked: dict[str, int] = field(default_factory=dict)
    seen: dict[str, list[str]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    redeliveries: int = 0
    conflicts: list[str] = field(default_factory=list)
    reconnects: int = 0

    def __post_init__(self) -> None:
        self.acked = dict.fromkeys(self.recipients, 0)
        self.seen = {r: [] for r in self.recipients}

    def complete(self, per_recipient: int) -> bool:
        return all(self.acked[r] == per_recipient for r in self.recipients)

    def _take(self, message: message_pb2.PushMessage) -> None:
        ids = self.seen[message.recipient]
        if message.sequence <= len(ids):
            self.redeliveries += 1
            if ids[message.sequence - 1] != message.message:
                self.conflicts.append(f"{message.recipient}#{message.sequence} changed id")
        elif message.sequence == len(ids) + 1:
            ids.append(message.message)
            created = message.create_time.ToMicroseconds() / 1e6
            self.latencies_ms.append((time.time() - created) * 1000)
        else:
            self.conflicts.append(f"{message.recipient}: gap before {message.sequence}")

    async def run(self, per_recipient: int, stop: asyncio.Event) -> None:
        """Stream, acknowledge each page, get cut at random, resume after the last ack."""
        while not stop.is_set() and not self.complete(per_recipient):
            cursors = [
                message_pb2.PushCursor(recipient=r, after_sequence=self.acked[r])
                for r in self.recipients
            ]
            call = self.stub.StreamMessages(
                notify_service_pb2.StreamMessagesRequest(cursors=cursors, page_size=50),
                metadata=self.metadata,
            )
            cut_at = time.monotonic() + random.uniform(1.0, 3.0)
            try:
                async for page in call:
                    for message in page.messages:
                        self._take(message)
                    top: dict[str, int] = {}
                    for message in page.messages:
                        top[message.recipient] = max(
                            top.get(message.recipient, 0), message.sequence
                        )
                    if top:
                        reply = await self.stub.AcknowledgeMessages(
                            notify_service_pb2.AcknowledgeMessagesRequest(
                                acknowledgements=[
                                    message_pb2.PushAcknowledgement(recipient=r, sequence=s)
                                    for r, s in top.items()
                                ]
                            ),
                            metadata=self.metadata,
                            timeout=5,
                        )
                        for ack in reply.acknowledged:
                            self.acked[ack.recipient] = max(self.acked[ack.recipient], ack.sequence)
                    if time.monotonic() > cut_at or self.complete(per_recipient):
                        break
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.2)
            finally:
                call.cancel()
            self.reconnects += 1


async def _chaos(receiver: WebhookReceiver, stop: asyncio.Event) -> None:
    """Make the chat provider fail, stall and lose answers now and then."""
    while not stop.is_set():
        receiver.fail_times = random.choice([0, 0, 1, 3])
        receiver.lose_answer_times = random.choice([0, 1, 2])
        receiver.delay_times, receiver.delay_s = random.choice([0, 2]), 0.3
        await asyncio.sleep(1.0)


async def _killer(process: ServiceProcess, kills: list[float], producing: asyncio.Event) -> None:
    """SIGKILL the service KILLS times at random moments, restarting it each time."""
    for _ in range(KILLS):
        await asyncio.sleep(random.uniform(0.8, 3.0))
        process.kill()
        kills.append(time.monotonic())
        process.start()
        await process.wait_serving(SERVICE, timeout=60)
    producing.set()


async def _produce(
    stub: notify_service_pb2_grpc.NotificationServiceStub,
    metadata: tuple[tuple[str, str], ...],
    created: list[str],
    deadline: float,
) -> None:
    """Create the campaigns one by one over the kill window (retries keep their request_id)."""
    recipients = [
        campaign_pb2.CampaignRecipient(recipient=r, variables={"name": r.removeprefix("staff/")})
        for r in RECIPIENTS
    ]
    for index in range(CAMPAIGNS):
        request = notify_service_pb2.CreateCampaignRequest(
            campaign=campaign_pb2.Campaign(
                display_name=f"rate change {index}",
                template="templates/headline",
                variables={"batch": str(index)},
                recipient_list=campaign_pb2.RecipientList(recipients=recipients),
                channels=[common_pb2.CHANNEL_PUSH, common_pb2.CHANNEL_CHAT],
            ),
            request_id=str(uuid.uuid4()),
        )
        campaign = await _retry(
            lambda r=request: stub.CreateCampaign(r, metadata=metadata, timeout=10),
            deadline=deadline,
        )
        created.append(campaign.name)
        await asyncio.sleep(random.uniform(0.5, 1.8))


async def _store_ids(stub, metadata, campaigns: list[str], deadline: float) -> dict[int, set[str]]:
    """Return the ids of every message the store holds, per channel."""
    ids: dict[int, set[str]] = {common_pb2.CHANNEL_PUSH: set(), common_pb2.CHANNEL_CHAT: set()}
    for campaign in campaigns:
        token = ""
        while True:
            page = await _retry(
                lambda t=token, c=campaign: stub.ListMessages(
                    notify_service_pb2.ListMessagesRequest(campaign=c, page_size=500, page_token=t),
                    metadata=metadata,
                ),
                deadline=deadline,
            )
            for message in page.messages:
                ids[message.channel].add(message.name)
            token = page.next_page_token
            if not token:
                break
    return ids


class TestHeadline:
    async def test_ten_thousand_messages_survive_twenty_kills(self, tmp_path, identity):
        """10,000 sent and delivered, 0 lost, 0 duplicates after dedupe, contiguous sequences."""
        started = time.monotonic()
        deadline = started + 230
        receiver = WebhookReceiver(secret=SECRET)
        url = await receiver.start()
        env = {
            **identity.env("notify"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/notify.db",
            "CHAT_WEBHOOK_URL": url,
            "CHAT_WEBHOOK_SECRET": SECRET,
            "WEBHOOK_ALLOW_PRIVATE": "1",
            "WEBHOOK_TIMEOUT_SECONDS": "2",
            "DELIVERY_LEASE_SECONDS": "2",
            "DELIVERY_INTERVAL_SECONDS": "0.2",
            "RETRY_BASE_SECONDS": "0.1",
            "RETRY_CAP_SECONDS": "1",
            "RETRY_MAX_ATTEMPTS": "100",
            "STREAM_HEARTBEAT_SECONDS": "1",
            "PAGE_TOKEN_KEY": base64.b64encode(os.urandom(32)).decode(),
            "LOG_LEVEL": "warning",
        }
        process = ServiceProcess("crm_notify", env, tmp_path / "notify.log")
        process.start()
        stop = asyncio.Event()
        producing_done = asyncio.Event()
        kills: list[float] = []
        created: list[str] = []
        ops = identity.metadata("staff/ops-1", Role.OPS)
        app = identity.metadata("systems/mobile-banking", Role.SYSTEM)
        try:
            await process.wait_serving(SERVICE, timeout=60)
            channel = grpc.aio.insecure_channel(process.address, options=CHANNEL_OPTIONS)
            stub = notify_service_pb2_grpc.NotificationServiceStub(channel)
            await _retry(
                lambda: stub.CreateTemplate(
                    notify_service_pb2.CreateTemplateRequest(
                        template_id="headline",
                        template=template_pb2.Template(
                            category=common_pb2.CATEGORY_SERVICE,
                            variables=[
                                template_pb2.TemplateVariable(
                                    name=n, type=template_pb2.VARIABLE_TYPE_STRING
                                )
                                for n in ("name", "batch")
                            ],
                            variants=[
                                template_pb2.TemplateVariant(
                                    locale="zh-CN",
                                    subject="利率调整 {{ batch }}",
                                    body="{{ name }}，您好：第 {{ batch }} 号通知。",
                                )
                            ],
                        ),
                        request_id="5f0c1a52-33a4-4d0e-9a3e-0a0a0a0a0a01",
                    ),
                    metadata=ops,
                ),
                deadline=deadline,
            )
            groups = [RECIPIENTS[i::STREAMS] for i in range(STREAMS)]
            consumers = [PushConsumer(stub, app, group) for group in groups]
            tasks = [asyncio.create_task(c.run(CAMPAIGNS, stop)) for c in consumers] + [
                asyncio.create_task(_chaos(receiver, stop))
            ]
            await asyncio.gather(
                _killer(process, kills, producing_done), _produce(stub, ops, created, deadline)
            )
            # Let the provider behave for the final stretch so the run can finish.
            stop_chaos = tasks.pop()
            stop_chaos.cancel()
            receiver.fail_times = receiver.lose_answer_times = receiver.delay_times = 0
            # Polls the consumers' and receiver's progress (plain counters, no event to await).
            while time.monotonic() < deadline and not (  # noqa: ASYNC110
                all(c.complete(CAMPAIGNS) for c in consumers)
                and len(receiver.deliveries) >= CAMPAIGNS * len(RECIPIENTS)
            ):
                await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            stats = [
                await _retry(
                    lambda n=name: stub.GetCampaign(
                        notify_service_pb2.GetCampaignRequest(name=n), metadata=ops
                    ),
                    deadline=deadline + 30,
                )
                for name in created
            ]
            store = await _store_ids(stub, ops, created, deadline + 30)
            await channel.close()
        finally:
            stop.set()
            process.kill()
            await receiver.close()
        sent = sum(c.stats.messages for c in stats)
        delivered_in_store = sum(c.stats.delivered for c in stats)
        push_ids = {i for c in consumers for ids in c.seen.values() for i in ids}
        chat_ids = {f"messages/{k}" for k in receiver.deliveries}
        received = len(push_ids) + len(chat_ids)
        lost = len(store[common_pb2.CHANNEL_PUSH] - push_ids) + len(
            store[common_pb2.CHANNEL_CHAT] - chat_ids
        )
        unexpected = len(push_ids - store[common_pb2.CHANNEL_PUSH]) + len(
            chat_ids - store[common_pb2.CHANNEL_CHAT]
        )
        per_recipient = [len(ids) for c in consumers for ids in c.seen.values()]
        conflicts = [x for c in consumers for x in c.conflicts]
        latencies = sorted(x for c in consumers for x in c.latencies_ms)
        p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0
        redeliveries = sum(c.redeliveries for c in consumers) + receiver.duplicates
        print(
            f"\nHEADLINE notify: campaigns={len(created)} kills={len(kills)} "
            f"sent={sent} delivered_in_store={delivered_in_store} received={received} "
            f"(push={len(push_ids)} chat={len(chat_ids)}) lost={lost} "
            f"duplicates_after_dedupe={unexpected} wire_redeliveries={redeliveries} "
            f"(push={redeliveries - receiver.duplicates} chat={receiver.duplicates}) "
            f"stream_reconnects={sum(c.reconnects for c in consumers)} "
            f"provider_attempts={len(receiver.attempts)} sequence_conflicts={len(conflicts)} "
            f"push_latency_p99_ms={p99:.0f} elapsed_s={time.monotonic() - started:.0f}"
        )
        assert len(kills) == KILLS
        assert sent == 10_000 == len(created) * 2 * len(RECIPIENTS)
        assert received == 10_000 and delivered_in_store == 10_000
        assert lost == 0 and unexpected == 0
        assert not conflicts, conflicts[:5]
        assert per_recipient == [CAMPAIGNS] * len(RECIPIENTS)
        assert receiver.bad_signatures == 0
