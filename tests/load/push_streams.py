"""Many idle push streams on ONE notify process (a real OS process on SQLite), then one
message to every stream's recipient: how long from each send until its stream has it.

Each stream carries one recipient (`staff/load-<i>`), so each send reaches exactly one
stream. Streams are opened straight at notify with a bank system's identity (the gateway's
per-caller stream limit is the gateway's own matter, measured in the burst run). They are
spread over several HTTP/2 connections (`grpc.use_local_subchannel_pool` gives each channel
its own), as many app back-ends would hold them.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from load_support import code_name, fd_limit_of, open_fds, percentiles, rss_mb
from process_harness import ServiceProcess

from crm.notify.v1 import (
    common_pb2,
    message_pb2,
    notify_service_pb2,
    notify_service_pb2_grpc,
    template_pb2,
)
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit

SERVICE = "crm.notify.v1.NotificationService"
STREAMS_PER_CONNECTION = 2_500
# Sends are written one at a time (SQLite has one writer); more in flight only queue longer.
SEND_CONCURRENCY = 16
DELIVERY_BUDGET_SECONDS = 10.0


@dataclass
class PushFigures:
    """What one run measured."""

    streams: int
    opened: int = 0
    open_seconds: float = 0.0
    send_codes: Counter[str] = field(default_factory=Counter)
    stream_errors: Counter[str] = field(default_factory=Counter)
    # From the send's answer (the message accepted and stored) to the stream having it.
    latencies: list[float] = field(default_factory=list)
    # From the moment the send was made, including its wait for the store's one writer.
    latencies_from_call: list[float] = field(default_factory=list)
    health_latencies: list[float] = field(default_factory=list)
    notify_rss_mb: dict[str, float] = field(default_factory=dict)
    notify_fds: int = 0
    notify_fd_limit: int = 0

    @property
    def within_budget(self) -> int:
        return sum(1 for s in self.latencies if s <= DELIVERY_BUDGET_SECONDS)

    def summary(self) -> dict[str, Any]:
        return {
            "streams": self.streams,
            "opened": self.opened,
            "open_seconds": round(self.open_seconds, 1),
            "received_within_10s": self.within_budget,
            "delivery_latency_from_send_answer": percentiles(self.latencies),
            "delivery_latency_from_send_call": percentiles(self.latencies_from_call),
            "health_latency_during_load": percentiles(self.health_latencies),
            # The notify pod's probes give up after 2 s (k8s/base/notify/deployment.yaml).
            "health_checks_over_2s": sum(1 for s in self.health_latencies if s > 2.0),
            "send_codes": dict(self.send_codes),
            "stream_errors": dict(self.stream_errors),
            "notify_rss_mb": self.notify_rss_mb,
            "notify_open_fds": self.notify_fds,
            "notify_fd_limit": self.notify_fd_limit,
        }


def notify_process(tmp_path: Path, identity: IdentityKit, heartbeat: float) -> ServiceProcess:
    env = {
        **identity.env("notify"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/notify.db",
        "STREAM_HEARTBEAT_SECONDS": str(heartbeat),
        "DELIVERY_INTERVAL_SECONDS": "0.5",
        "PAGE_TOKEN_KEY": base64.b64encode(os.urandom(32)).decode(),
        "LOG_LEVEL": "warning",
        # Connections are recycled every 5 minutes in production (clients resume from their
        # cursor); these readers do not resume, and 10,000 sends take minutes here.
        "MAX_CONNECTION_AGE_MS": "3600000",
    }
    return ServiceProcess("crm_notify", env, tmp_path / "notify.log")


async def _template(stub: Any, ops: Any) -> None:
    await stub.CreateTemplate(
        notify_service_pb2.CreateTemplateRequest(
            template_id="load-notice",
            template=template_pb2.Template(
                category=common_pb2.CATEGORY_SERVICE,
                variables=[template_pb2.TemplateVariable(
                    name="n", type=template_pb2.VARIABLE_TYPE_STRING)],
                variants=[template_pb2.TemplateVariant(
                    locale="zh-CN", subject="通知 {{ n }}", body="第 {{ n }} 号通知。")],
            ),
            request_id=str(uuid.uuid4()),
        ),
        metadata=ops,
    )


class StreamReader:
    """One open push stream: when its first page (a heartbeat) and its message arrived."""

    def __init__(self, stub: Any, recipient: str, metadata: Any) -> None:
        self.recipient = recipient
        self.call = stub.StreamMessages(
            notify_service_pb2.StreamMessagesRequest(
                cursors=[message_pb2.PushCursor(recipient=recipient)]),
            metadata=metadata,
        )
        self.opened = asyncio.Event()
        self.received_at: float | None = None
        self.error = ""

    async def run(self) -> None:
        try:
            async for page in self.call:
                self.opened.set()
                if page.messages:
                    self.received_at = time.monotonic()
                    return
        except (grpc.aio.AioRpcError, asyncio.CancelledError) as error:
            if not isinstance(error, asyncio.CancelledError):
                self.error = code_name(error)
        finally:
            self.opened.set()


async def _health_probe(address: str, stop: asyncio.Event, out: list[float]) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while not stop.is_set():
            started = time.monotonic()
            try:
                await stub.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=10)
                out.append(time.monotonic() - started)
            except grpc.aio.AioRpcError:
                out.append(float("inf"))
            await asyncio.sleep(0.5)


async def run_push_streams(
    tmp_path: Path, identity: IdentityKit, streams: int, *, heartbeat: float = 5.0
) -> PushFigures:
    """Open `streams` push streams on one notify process, send each recipient one message,
    and measure each stream's delivery latency from the start of its send."""
    figures = PushFigures(streams)
    process = notify_process(tmp_path, identity, heartbeat)
    process.start()
    connections = max(1, -(-streams // STREAMS_PER_CONNECTION))
    channels = [
        grpc.aio.insecure_channel(process.address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(connections)
    ]
    readers: list[StreamReader] = []
    tasks: list[asyncio.Task[None]] = []
    stop = asyncio.Event()
    try:
        await process.wait_serving(SERVICE, timeout=60)
        assert process.proc is not None
        pid = process.proc.pid
        figures.notify_fd_limit = fd_limit_of(pid)
        figures.notify_rss_mb["idle"] = round(rss_mb(pid), 1)
        stubs = [notify_service_pb2_grpc.NotificationServiceStub(c) for c in channels]
        app = identity.signers["gateway"].mint(
            "systems/mobile-banking", [Role.SYSTEM], ttl_seconds=3600)
        app_md = (("x-crm-identity", app),)
        await _template(stubs[0], identity.metadata("staff/ops-1", Role.OPS))
        started = time.monotonic()
        for i in range(streams):
            reader = StreamReader(stubs[i % connections], f"staff/load-{i}", app_md)
            readers.append(reader)
            tasks.append(asyncio.create_task(reader.run()))
        # Every stream answers with its first heartbeat within about one heartbeat period.
        # Generous: on a loaded 2-core machine a mass (re)connection is accepted slowly.
        async with asyncio.timeout(max(60.0, streams / 20)):
            await asyncio.gather(*(r.opened.wait() for r in readers))
        figures.open_seconds = time.monotonic() - started
        _progress(f"{streams} streams open in {figures.open_seconds:.1f} s; sending")
        figures.opened = sum(1 for r in readers if not r.error)
        figures.notify_fds = open_fds(pid)
        figures.notify_rss_mb["streams_open"] = round(rss_mb(pid), 1)
        probe = asyncio.create_task(_health_probe(process.address, stop, figures.health_latencies))
        sent_at = await _send_to_all(stubs[0], readers, app_md, figures)
        _progress(f"sent {sum(figures.send_codes.values())}: {dict(figures.send_codes)}")
        deadline = time.monotonic() + DELIVERY_BUDGET_SECONDS + 5
        # Polls plain per-reader fields (no event to await for "all of them").
        while time.monotonic() < deadline and any(  # noqa: ASYNC110
            r.received_at is None and not r.error for r in readers
        ):
            await asyncio.sleep(0.2)
        stop.set()
        await probe
        figures.notify_rss_mb["after_delivery"] = round(rss_mb(pid), 1)
        for reader in readers:
            if reader.error:
                figures.stream_errors[reader.error] += 1
            elif reader.recipient not in sent_at:
                figures.stream_errors["its send failed"] += 1
            elif reader.received_at is None:
                figures.stream_errors["no message"] += 1
            else:
                called, answered = sent_at[reader.recipient]
                figures.latencies.append(max(0.0, reader.received_at - answered))
                figures.latencies_from_call.append(reader.received_at - called)
    finally:
        stop.set()
        for reader in readers:
            reader.call.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for channel in channels:
            await channel.close()
        try:
            process.terminate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
    return figures


def _progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


async def _send_to_all(
    stub: Any, readers: list[StreamReader], metadata: Any, figures: PushFigures
) -> dict[str, tuple[float, float]]:
    """SendMessage to every reader's recipient, SEND_CONCURRENCY at a time; return when each
    send was made and when it was answered."""
    sent_at: dict[str, tuple[float, float]] = {}
    queue = iter(readers)

    async def worker() -> None:
        for reader in queue:
            request = notify_service_pb2.SendMessageRequest(
                recipient=reader.recipient, template="templates/load-notice",
                variables={"n": reader.recipient}, urgency=common_pb2.URGENCY_URGENT,
                channels=[common_pb2.CHANNEL_PUSH], request_id=str(uuid.uuid4()))
            called = time.monotonic()
            try:
                await stub.SendMessage(request, metadata=metadata, timeout=60)
                sent_at[reader.recipient] = (called, time.monotonic())
                figures.send_codes["OK"] += 1
            except grpc.aio.AioRpcError as error:
                figures.send_codes[code_name(error)] += 1

    await asyncio.gather(*(worker() for _ in range(SEND_CONCURRENCY)))
    return sent_at
