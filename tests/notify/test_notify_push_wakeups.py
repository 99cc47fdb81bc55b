"""Push wake-ups cross replicas: a message written on replica A reaches a stream on replica B
at once, not at B's next heartbeat (issue 18).

Two real notify processes share one PostgreSQL database and the test's own nats-server. B's
heartbeat is 300 s, longer than the test, so every message B's stream yields after it opened
was brought by a wake-up from A through NATS.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid

import grpc
import pytest
from own_nats import own_nats_server
from process_harness import ServiceProcess

from crm.notify.v1 import (
    common_pb2,
    message_pb2,
    notify_service_pb2,
    notify_service_pb2_grpc,
    template_pb2,
)
from crm_runtime.auth import Role

pytestmark = [pytest.mark.process, pytest.mark.postgres]

SERVICE = "crm.notify.v1.NotificationService"
RECIPIENT = "staff/rm-18"
MESSAGES = 100
HEARTBEAT_SECONDS = 300


async def _template(stub, ops) -> None:
    await stub.CreateTemplate(notify_service_pb2.CreateTemplateRequest(
        template_id="wake",
        template=template_pb2.Template(
            category=common_pb2.CATEGORY_SERVICE,
            variables=[template_pb2.TemplateVariable(
                name="n", type=template_pb2.VARIABLE_TYPE_STRING)],
            variants=[template_pb2.TemplateVariant(
                locale="zh-CN", subject="通知 {{ n }}", body="第 {{ n }} 号")],
        ),
        request_id=str(uuid.uuid4()),
    ), metadata=ops, timeout=10)


async def _send(stub, app, n: int) -> None:
    await stub.SendMessage(notify_service_pb2.SendMessageRequest(
        recipient=RECIPIENT, template="templates/wake", variables={"n": str(n)},
        channels=[common_pb2.CHANNEL_PUSH], request_id=str(uuid.uuid4()),
    ), metadata=app, timeout=10)


class StreamOnB:
    """Holds the stream on replica B and notes when each sequence arrived."""

    def __init__(self, stub, app) -> None:
        self.arrived: dict[int, float] = {}
        self.news = asyncio.Event()
        self._call = stub.StreamMessages(notify_service_pb2.StreamMessagesRequest(
            cursors=[message_pb2.PushCursor(recipient=RECIPIENT, after_sequence=0)]),
            metadata=app)

    async def run(self) -> None:
        async for page in self._call:
            now = time.perf_counter()
            for message in page.messages:
                self.arrived.setdefault(message.sequence, now)
            self.news.set()

    async def wait_for(self, sequence: int, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                while sequence not in self.arrived:
                    self.news.clear()
                    await self.news.wait()
        except TimeoutError:
            return False
        return True

    def cancel(self) -> None:
        self._call.cancel()


class TestPushWakeupsAcrossReplicas:
    async def test_write_on_a_reaches_a_stream_on_b(self, tmp_path, identity, postgres_url):
        """100 messages sent through A, one after another, each arrive on B's stream; the
        latency from the send to B's page is printed (p50/p99/max, loaded machine)."""
        async with own_nats_server(tmp_path) as nats_url:
            env = {**identity.env("notify"), "DATABASE_URL": postgres_url,
                   "NATS_URL": nats_url, "PUSH_WAKEUPS_OVER_NATS": "1",
                   "STREAM_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
                   "PAGE_TOKEN_KEY": base64.b64encode(os.urandom(32)).decode(),
                   "LOG_LEVEL": "warning"}
            replica_a = ServiceProcess("crm_notify", env, tmp_path / "a.log")
            replica_b = ServiceProcess("crm_notify", env, tmp_path / "b.log")
            replica_a.start()
            await replica_a.wait_serving(SERVICE, timeout=60)
            replica_b.start()  # After A migrated the shared database.
            await replica_b.wait_serving(SERVICE, timeout=60)
            ops = identity.metadata("staff/ops-1", Role.OPS)
            app = identity.metadata("systems/mobile-banking", Role.SYSTEM)
            channel_a = grpc.aio.insecure_channel(replica_a.address)
            channel_b = grpc.aio.insecure_channel(replica_b.address)
            stub_a = notify_service_pb2_grpc.NotificationServiceStub(channel_a)
            stream = StreamOnB(notify_service_pb2_grpc.NotificationServiceStub(channel_b), app)
            reader = asyncio.create_task(stream.run())
            try:
                await _template(stub_a, ops)
                sequence = await _until_live(stub_a, app, stream)
                latencies = []
                for n in range(MESSAGES):
                    sequence += 1
                    sent = time.perf_counter()
                    await _send(stub_a, app, n)
                    assert await stream.wait_for(sequence, timeout=60), (
                        f"message {sequence} written on A never reached the stream on B")
                    latencies.append((stream.arrived[sequence] - sent) * 1000)
            finally:
                stream.cancel()
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                await channel_a.close()
                await channel_b.close()
                replica_a.terminate()
                replica_b.terminate()
        latencies.sort()
        print(f"A→B push latency over {MESSAGES} messages (loaded machine): "
              f"p50 {latencies[len(latencies) // 2]:.1f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms, "
              f"max {latencies[-1]:.1f} ms")
        assert len(latencies) == MESSAGES


async def _until_live(stub_a, app, stream: StreamOnB) -> int:
    """Send warm-up messages through A until one reaches B's open stream through a wake-up
    (both bridges connect to NATS in the background after the service is up); return the
    last sequence used."""
    for sequence in range(1, 31):
        await _send(stub_a, app, -sequence)
        if await stream.wait_for(sequence, timeout=2):
            return sequence
    raise AssertionError("no wake-up from A reached B through NATS within a minute")
