"""Both ends of the alert latency benchmark: core banking's paced posting stream into risk,
and the RMs' push stream out of notify."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from crm.notify.v1 import message_pb2, notify_service_pb2, notify_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2

STREAM_PATH = "/crm.risk.v1.RiskService/MonitorTransactions"


@dataclass
class Streamed:
    """When each batch was sent and acknowledged (perf_counter seconds), and how long it took."""

    sent: dict[str, float] = field(default_factory=dict)
    acked: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


async def stream_postings(channel: grpc.aio.Channel, batches: list[tuple[str, bytes]],
                          metadata: Any, *, rate: float, batch_size: int) -> Streamed:
    """Send the serialized batches on one MonitorTransactions call, paced at `rate` postings a
    second; note each batch's send and acknowledgement times."""
    out = Streamed()
    call = channel.stream_stream(
        STREAM_PATH, request_serializer=None,
        response_deserializer=risk_service_pb2.MonitorTransactionsResponse.FromString)
    started = time.perf_counter()

    async def requests() -> AsyncIterator[bytes]:
        for number, (batch_id, body) in enumerate(batches):
            due = started + number * batch_size / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            out.sent[batch_id] = time.perf_counter()
            yield body

    async for ack in call(requests(), metadata=metadata):
        out.acked[ack.batch_id] = time.perf_counter()
    out.seconds = time.perf_counter() - started
    return out


class AlertReader:
    """One push stream carrying every probe RM; notes when each RM's first alert came."""

    def __init__(self, stub: notify_service_pb2_grpc.NotificationServiceStub,
                 recipients: list[str], metadata: Any) -> None:
        self.arrived: dict[str, float] = {}
        self._wanted = set(recipients)
        self._news = asyncio.Event()
        self._call = stub.StreamMessages(
            notify_service_pb2.StreamMessagesRequest(
                cursors=[message_pb2.PushCursor(recipient=r) for r in recipients]),
            metadata=metadata)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the stream and read it in the background."""
        await self._call.wait_for_connection()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for page in self._call:
            now = time.perf_counter()
            for message in page.messages:
                if message.alert:  # Not the "new client assigned to you" notice before it.
                    self.arrived.setdefault(message.recipient, now)
            self._news.set()

    async def wait_all(self, timeout: float) -> None:
        """Wait until every RM had an alert, or `timeout` passed (missing ones are counted)."""
        try:
            async with asyncio.timeout(timeout):
                while not self._wanted <= set(self.arrived):
                    self._news.clear()
                    await self._news.wait()
        except TimeoutError:
            pass

    def stop(self) -> None:
        """Close the stream."""
        self._call.cancel()
        if self._task is not None:
            self._task.cancel()
