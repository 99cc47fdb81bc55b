"""Bursts of concurrent unary calls through the gateway process while monitoring streams stay
open on it: status codes, the gateway's memory after each burst, health latency.

Callers: `CALLERS` relationship managers, each with its own SSO token, share each burst, so
every caller stays inside the gateway's per-caller limits (64 in flight, 200 burst) and what
refuses the excess is the process's admission (256 unary calls at once): overload, which must
be answered RESOURCE_EXHAUSTED (or UNAVAILABLE), never CANCELLED, INTERNAL or UNKNOWN.
The monitoring streams are held by one bank system's API key (its stream limit is 1,024).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from load_support import code_name, percentiles, rss_mb
from stack import Stack

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.risk.v1 import risk_service_pb2
from crm_risk.monitoring.store.convert import transaction_message
from crm_runtime.auth import Role
from crm_sim.monitoring.builders import TxnFactory

CALLERS = 100
CHANNELS = 4
ACCOUNT = "6228000011112222"
MONITOR = "/crm.risk.v1.RiskService/MonitorTransactions"


@dataclass
class BurstFigures:
    """What the burst run measured."""

    bursts: int
    calls_per_burst: int
    codes: list[Counter[str]] = field(default_factory=list)
    burst_seconds: list[float] = field(default_factory=list)
    rss_mb_after: list[float] = field(default_factory=list)
    rss_mb_idle: float = 0.0
    health_latencies: list[float] = field(default_factory=list)
    health_codes: Counter[str] = field(default_factory=Counter)
    monitoring_streams: int = 0
    monitoring_acks_before: int = 0
    monitoring_acks_after: int = 0
    monitoring_errors: Counter[str] = field(default_factory=Counter)

    @property
    def all_codes(self) -> Counter[str]:
        return sum(self.codes, Counter())

    @property
    def rss_spread_mb(self) -> float:
        return round(max(self.rss_mb_after) - min(self.rss_mb_after), 1)

    def summary(self) -> dict[str, Any]:
        return {
            "bursts": self.bursts,
            "concurrent_calls_per_burst": self.calls_per_burst,
            "callers": CALLERS,
            "codes_per_burst": [dict(c) for c in self.codes],
            "codes_total": dict(self.all_codes),
            "burst_seconds": [round(s, 1) for s in self.burst_seconds],
            "gateway_rss_mb_idle": self.rss_mb_idle,
            "gateway_rss_mb_after_each_burst": self.rss_mb_after,
            "gateway_rss_spread_mb": self.rss_spread_mb,
            "health_latency_during_bursts": percentiles(self.health_latencies),
            "health_codes": dict(self.health_codes),
            "monitoring_streams": self.monitoring_streams,
            "monitoring_acks_before_bursts": self.monitoring_acks_before,
            "monitoring_acks_after_bursts": self.monitoring_acks_after,
            "monitoring_errors": dict(self.monitoring_errors),
        }


class MonitoringStream:
    """One MonitorTransactions stream through the gateway: a batch in, its ack out."""

    def __init__(self, channel: grpc.aio.Channel, index: int, metadata: Any) -> None:
        self.index = index
        self.call = channel.stream_stream(
            MONITOR,
            request_serializer=risk_service_pb2.MonitorTransactionsRequest.SerializeToString,
            response_deserializer=risk_service_pb2.MonitorTransactionsResponse.FromString,
        )(metadata=metadata)

    async def round_trip(self, batch: str) -> bool:
        """Send one batch with one posting; return whether its acknowledgement came back."""
        # An ordinary receipt of a client risk does not know: acknowledged (as refused) all
        # the same, which is what shows the stream is alive.
        factory = TxnFactory(f"load-{self.index}", account=ACCOUNT, balances={ACCOUNT: 5e6})
        txn = factory.make("credit", 1_000, hours=0, name="客户1号有限公司",
                           counterparty_account="CP1", memo="货款")
        posting = transaction_message(replace(txn, txn_id=f"load-{self.index}-{batch}"))
        await self.call.write(risk_service_pb2.MonitorTransactionsRequest(
            batch_id=batch, transactions=[posting]))
        ack = await self.call.read()
        return ack is not grpc.aio.EOF and ack.batch_id == batch


def _audit_rows(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM gateway_audit_record").fetchone()[0])


async def _audit_settled(database: Path, timeout: float = 120.0) -> None:
    """Wait until the gateway's audit table stops growing for a second."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        rows = await asyncio.to_thread(_audit_rows, database)
        if rows == last:
            return
        last = rows
        await asyncio.sleep(1.0)


async def _health(address: str, stop: asyncio.Event, figures: BurstFigures) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while not stop.is_set():
            started = time.monotonic()
            try:
                await stub.Check(health_pb2.HealthCheckRequest(
                    service="crm.gateway.v1.GatewayService"), timeout=10)
                figures.health_latencies.append(time.monotonic() - started)
                figures.health_codes["OK"] += 1
            except grpc.aio.AioRpcError as error:
                figures.health_codes[code_name(error)] += 1
            await asyncio.sleep(0.25)


async def _round_trips(streams: list[MonitoringStream], batch: str,
                       figures: BurstFigures) -> int:
    async def one(stream: MonitoringStream) -> bool:
        try:
            async with asyncio.timeout(60):
                return await stream.round_trip(batch)
        except (grpc.aio.AioRpcError, TimeoutError) as error:
            figures.monitoring_errors[code_name(error)] += 1
            return False

    return sum(await asyncio.gather(*(one(s) for s in streams)))


async def _burst(stubs: list[Any], tokens: list[Any], calls: int) -> Counter[str]:
    codes: Counter[str] = Counter()
    request = client_service_pb2.ListClientsRequest(page_size=10)

    async def one(i: int) -> None:
        try:
            await stubs[i % len(stubs)].ListClients(
                request, metadata=tokens[i % len(tokens)], timeout=60)
            codes["OK"] += 1
        except grpc.aio.AioRpcError as error:
            codes[code_name(error)] += 1

    await asyncio.gather(*(one(i) for i in range(calls)))
    return codes


async def run_bursts(
    stack: Stack, *, bursts: int, calls: int, monitoring_streams: int
) -> BurstFigures:
    """Open the monitoring streams, then fire `bursts` bursts of `calls` concurrent unary
    calls; measure codes, RSS after each burst, health, and the streams after."""
    figures = BurstFigures(bursts, calls, monitoring_streams=monitoring_streams)
    address = stack.gateway.address
    channels = [grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(CHANNELS)]
    stop = asyncio.Event()
    streams: list[MonitoringStream] = []
    try:
        stubs = [client_service_pb2_grpc.ClientServiceStub(c) for c in channels]
        tokens = [(("authorization", "Bearer " + stack.sso.token(
            f"rm-load-{i}", Role.RELATIONSHIP_MANAGER, expires_in=3600)),) for i in range(CALLERS)]
        system = (("x-api-key", stack.system_key),)
        streams = [MonitoringStream(channels[i % CHANNELS], i, system)
                   for i in range(monitoring_streams)]
        figures.monitoring_acks_before = await _round_trips(streams, "before", figures)
        await _burst(stubs, tokens, CALLERS)  # every caller known, every connection up
        figures.rss_mb_idle = round(rss_mb(stack.gateway_pid), 1)
        probe = asyncio.create_task(_health(address, stop, figures))
        for _ in range(bursts):
            started = time.monotonic()
            figures.codes.append(await _burst(stubs, tokens, calls))
            figures.burst_seconds.append(time.monotonic() - started)
            # Measured once the gateway has written the burst's audit records: its queue is
            # memory that is meant to be there until then, not growth.
            await _audit_settled(stack.gateway_db)
            figures.rss_mb_after.append(round(rss_mb(stack.gateway_pid), 1))
        stop.set()
        await probe
        figures.monitoring_acks_after = await _round_trips(streams, "after", figures)
    finally:
        stop.set()
        for stream in streams:
            stream.call.cancel()
        for channel in channels:
            await channel.close()
    return figures
