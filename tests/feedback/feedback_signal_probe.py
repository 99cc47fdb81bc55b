"""INTERIM stand-in for the risk service's inbox: the runtime's real EventSink with a handler
that records every ExternalSignalRaised it applies.

Used by the end-to-end test until the risk service consumes ExternalSignalRaised; the test
then points EVENT_SUBSCRIBERS at the real risk process instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from crm.events.v1 import event_pb2, event_pb2_grpc, feedback_events_pb2
from crm_runtime.config import BaseServiceSettings
from crm_runtime.db import Database
from crm_runtime.inbox import EventHandler, EventSink
from crm_runtime.server import RunningService, ServiceDefinition, start_service
from crm_runtime.tables import InboxMessage


class ProbeSignal(SQLModel, table=True):
    """One ExternalSignalRaised as the consumer applied it."""

    __tablename__ = "probe_external_signal"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    source_service: str
    client: str
    facility: str
    code: str
    severity: str
    evidence: str
    source: str


@dataclass
class SignalProbe:
    """A running consumer of feedback's events."""

    running: RunningService
    database: Database

    async def signals(self) -> list[ProbeSignal]:
        """Return the signals applied so far."""
        async with self.database.read() as session:
            return list((await session.execute(select(ProbeSignal))).scalars())

    async def stop(self) -> None:
        """Stop the consumer."""
        await self.running.stop(drain_seconds=0)


async def start_signal_probe(tmp: Path, port: int, trusted_keys: Path) -> SignalProbe:
    """Start a consumer on `port` that records ExternalSignalRaised events once each."""
    url = f"sqlite+aiosqlite:///{tmp}/signal_probe.db"
    database = Database(url)
    async with database.write_engine.begin() as conn:
        await conn.run_sync(
            SQLModel.metadata.create_all,
            tables=[
                SQLModel.metadata.tables[InboxMessage.__tablename__],
                SQLModel.metadata.tables[ProbeSignal.__tablename__],
            ],
        )

    async def record(
        session: AsyncSession,
        event: feedback_events_pb2.ExternalSignalRaised,
        envelope: event_pb2.EventEnvelope,
    ) -> None:
        session.add(
            ProbeSignal(
                event_id=envelope.event_id, source_service=envelope.source, client=event.client,
                facility=event.facility, code=event.code, severity=event.severity,
                evidence=event.evidence, source=event.source,
            )
        )

    sink = EventSink(
        database,
        {
            "crm.events.v1.ExternalSignalRaised": EventHandler(
                feedback_events_pb2.ExternalSignalRaised, record
            )
        },
    )

    def register(server: grpc.aio.Server) -> None:
        event_pb2_grpc.add_EventSinkServiceServicer_to_server(sink, server)

    settings = BaseServiceSettings(
        service_name="risk-probe", grpc_port=port, database_url=url,
        identity_trusted_keys_dir=trusted_keys, grace_seconds=1,
    )
    running = await start_service(
        ServiceDefinition(
            name="risk-probe", settings=settings, database=database,
            service_names=["crm.events.v1.EventSinkService"], register=register,
        )
    )
    return SignalProbe(running, database)
