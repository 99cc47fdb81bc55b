"""Risk replicas as OS processes on one PostgreSQL database, and a core-banking sender.

The sender streams a synthetic book (``crm_sim.monitoring``) in batches, one open
MonitorTransactions stream per replica, each batch to the next live replica in turn. It sends
a batch only after the previous one was acknowledged, as core banking must when it spreads one
client's postings over several connections (a unit's postings are applied in the order they
are accepted). A batch whose replica dies before acknowledging it is sent again to the next.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from process_harness import ROOT, ServiceProcess
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from crm.events.v1 import event_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_risk.monitoring.engine.model import Alert
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit
from crm_sim.monitoring.registration import register
from crm_sim.monitoring.service import messages, read_alerts
from crm_sim.monitoring.world import World

SERVICE = "crm.risk.v1.RiskService"
START_SECONDS = 180.0  # three interpreters importing at once on a busy 2-core machine
Request = risk_service_pb2.MonitorTransactionsRequest
# A warning signal as a set member: what fired, how hard, about whom, on which evidence.
Finding = tuple[str, str, str, str, tuple[str, ...], str]


def replica_env(identity: IdentityKit, keys: dict[str, str], url: str, member: str,
                partitions: int) -> dict[str, str]:
    """Return the environment of one risk replica."""
    return {
        **identity.env("risk"), **keys, "DATABASE_URL": url, "REVIEW_ENABLED": "false",
        "MONITORING_PARTITIONS": str(partitions), "MONITORING_MEMBER": member,
        "MONITORING_LEASE_SECONDS": "6", "MONITORING_HEARTBEAT_SECONDS": "1",
        # Generous on a loaded shared machine: an acknowledgement must not give up first.
        "MONITORING_RESULT_WAIT_SECONDS": "120", "LOG_LEVEL": "info",
    }


def migrate(env: dict[str, str]) -> None:
    """Run the risk migrations as the initContainer would."""
    subprocess.run([sys.executable, "-m", "crm_risk.migrate"], env={**os.environ, **env},
                   cwd=ROOT, check=True, capture_output=True)


def start(env: dict[str, str], log: Path) -> ServiceProcess:
    """Start one replica."""
    replica = ServiceProcess("crm_risk", env, log)
    replica.start()
    return replica


async def register_book(replica: ServiceProcess, world: World,
                        identity: IdentityKit) -> dict[str, str]:
    """Tell the service (through one replica) about the book's clients and facilities."""
    async with grpc.aio.insecure_channel(replica.address) as channel:
        return await register(
            risk_service_pb2_grpc.RiskServiceStub(channel),
            event_pb2_grpc.EventSinkServiceStub(channel), world.clients, world.facilities,
            system=identity.metadata("systems/core-banking", Role.SYSTEM),
            client_relay=identity.metadata("systems/client-relay", Role.SYSTEM, kid="client"))


def batches(world: World, names: dict[str, str], size: int) -> list[Request]:
    """Return the book's postings as stream batches, in booking order."""
    payload = messages(world.transactions, names)
    return [Request(batch_id=f"b{start // size}", transactions=payload[start:start + size])
            for start in range(0, len(payload), size)]


@dataclass
class _Stream:
    replica: ServiceProcess
    channel: grpc.aio.Channel
    outgoing: asyncio.Queue[Request | None] = field(default_factory=asyncio.Queue)
    call: grpc.aio.StreamStreamCall | None = None

    def open(self, metadata: tuple[tuple[str, str], ...]) -> None:
        async def requests() -> AsyncIterator[Request]:
            while (request := await self.outgoing.get()) is not None:
                yield request

        stub = risk_service_pb2_grpc.RiskServiceStub(self.channel)
        self.call = stub.MonitorTransactions(requests(), metadata=metadata)


@dataclass
class Sender:
    """Sends batches round-robin over the live replicas, one acknowledged batch at a time."""

    identity: IdentityKit
    streams: list[_Stream] = field(default_factory=list)
    resent: int = 0
    acks: list[risk_service_pb2.MonitorTransactionsResponse] = field(default_factory=list)

    def add(self, replica: ServiceProcess) -> None:
        """Open a stream to ``replica``."""
        stream = _Stream(replica, grpc.aio.insecure_channel(replica.address))
        stream.open(self.identity.metadata("systems/core-banking", Role.SYSTEM))
        self.streams.append(stream)

    async def send(self, request: Request, turn: int,
                   before_read: Callable[[ServiceProcess], None] = lambda _: None) -> None:
        """Send ``request`` to the replica whose turn it is; on its death, to the next."""
        while True:
            live = [s for s in self.streams if s.call is not None]
            stream = live[turn % len(live)]
            stream.outgoing.put_nowait(request)
            before_read(stream.replica)
            try:
                assert stream.call is not None
                ack = await stream.call.read()
            except grpc.aio.AioRpcError:
                ack = grpc.aio.EOF
            if ack is grpc.aio.EOF:
                stream.call = None
                self.resent += 1
                continue
            assert not ack.HasField("error"), ack.error.message
            self.acks.append(ack)
            return

    async def close(self) -> None:
        """End every stream."""
        for stream in self.streams:
            if stream.call is not None:
                stream.outgoing.put_nowait(None)
                assert await stream.call.read() is grpc.aio.EOF
            await stream.channel.close()


async def findings(replica: ServiceProcess, names: dict[str, str],
                   identity: IdentityKit) -> set[Finding]:
    """Return every transaction warning's signals, comparable across stores."""
    async with grpc.aio.insecure_channel(replica.address) as channel:
        alerts: list[Alert] = await read_alerts(
            risk_service_pb2_grpc.RiskServiceStub(channel), names,
            identity.metadata("staff/officer", Role.RISK_OFFICER))
    return {(a.rule_id, a.level, a.client_id, a.facility_id or "",
             tuple(sorted(a.evidence_txn_ids)), a.raised_at.isoformat()) for a in alerts}


async def log_figures(url: str) -> dict[str, int]:
    """Return what the batch log and the partitions say about the postings applied."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text(
                "SELECT count(*) FILTER (WHERE applied_seq IS NULL), coalesce(sum(accepted), 0),"
                " coalesce(sum(duplicates), 0), count(*) FROM risk_monitor_batch"))).one()
            gaps = (await conn.execute(text(
                "SELECT count(*) FROM (SELECT partition, max(applied_seq) AS top, count(*) AS n"
                " FROM risk_monitor_batch WHERE applied_seq IS NOT NULL GROUP BY partition) t"
                " JOIN risk_monitor_partition p ON p.name = t.partition"
                " WHERE t.top <> t.n OR p.applied_through <> t.top"))).scalar_one()
    finally:
        await engine.dispose()
    return {"pending": int(row[0]), "accepted": int(row[1]), "duplicates": int(row[2]),
            "rows": int(row[3]), "partitions_with_gaps": int(gaps)}


async def owners(url: str) -> dict[str, str]:
    """Return partition → owner (empty when free)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT name, owner FROM risk_monitor_partition"))).all()
    finally:
        await engine.dispose()
    return {str(name): str(owner) for name, owner in rows}


def stop_all(replicas: Sequence[ServiceProcess]) -> None:
    """Stop every replica still running (SIGTERM, then SIGKILL if it hangs)."""
    for replica in replicas:
        try:
            replica.terminate(timeout=20)
        except subprocess.TimeoutExpired:
            replica.kill()
