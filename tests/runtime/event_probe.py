"""A real event consumer for tests: the runtime's EventSink with a handler that records effects.

Effects go to a table without a unique key on the event id, so only the inbox can prevent a
second application; the tests count effects per event id.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import grpc
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from crm.events.v1 import client_events_pb2, event_pb2, event_pb2_grpc
from crm_runtime.config import BaseServiceSettings
from crm_runtime.db import Database
from crm_runtime.inbox import EventHandler, EventSink
from crm_runtime.jetstream import BrokerLink
from crm_runtime.jetstream_consumer import JetStreamConsumer
from crm_runtime.server import RunningService, ServiceDefinition, start_service
from crm_runtime.tables import InboxMessage


class ProbeEffect(SQLModel, table=True):
    """One application of an event by the probe."""

    __tablename__ = "probe_effect"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    event_type: str


@dataclass
class Probe:
    """A running probe consumer."""

    running: RunningService
    database: Database
    sink: EventSink
    # On JetStream: the probe's durable consumer, its task and connection.
    consumer: JetStreamConsumer | None = None
    task: asyncio.Task[None] | None = None
    link: BrokerLink | None = None

    async def effects(self) -> dict[str, int]:
        """Return applications per event id."""
        async with self.database.read() as session:
            rows = (
                await session.execute(
                    select(col(ProbeEffect.event_id), func.count()).group_by(
                        col(ProbeEffect.event_id)
                    )
                )
            ).all()
        return {event_id: int(n) for event_id, n in rows}

    async def stop(self) -> None:
        """Stop the consumer."""
        if self.consumer is not None and self.task is not None and self.link is not None:
            await self.consumer.stop()
            await asyncio.wait_for(self.task, timeout=10)
            await self.link.close()
        await self.running.stop(drain_seconds=0)


async def start_probe(
    tmp: Path, port: int, trusted_keys: Path, *, delay: float = 0.0, nats_url: str = ""
) -> Probe:
    """Start a consumer that applies every client event type once: pushed to its
    EventSinkService on `port`, and, given `nats_url`, read from JetStream as "probe"."""
    url = f"sqlite+aiosqlite:///{tmp}/probe.db"
    database = Database(url)
    async with database.write_engine.begin() as conn:
        await conn.run_sync(
            SQLModel.metadata.create_all,
            tables=[
                SQLModel.metadata.tables[InboxMessage.__tablename__],
                SQLModel.metadata.tables[ProbeEffect.__tablename__],
            ],
        )

    async def record(
        session: AsyncSession, payload: object, envelope: event_pb2.EventEnvelope
    ) -> None:
        if delay:
            await asyncio.sleep(delay)
        session.add(ProbeEffect(event_id=envelope.event_id, event_type=envelope.event_type))

    handlers = {
        f"crm.events.v1.{name}": EventHandler(getattr(client_events_pb2, name), record)
        for name in ("ClientCreated", "ClientUpdated", "ClientAssigned", "SegmentMembershipChanged")
    }
    settings = BaseServiceSettings(
        service_name="probe",
        grpc_port=port,
        database_url=url,
        identity_trusted_keys_dir=trusted_keys,
        grace_seconds=1,
        nats_url=nats_url or "nats://127.0.0.1:4222",
        jetstream_ack_wait_seconds=2.0,
    )

    sink = EventSink(database, handlers)

    def register(server: grpc.aio.Server) -> None:
        event_pb2_grpc.add_EventSinkServiceServicer_to_server(sink, server)

    running = await start_service(
        ServiceDefinition(
            name="probe",
            settings=settings,
            database=database,
            service_names=["crm.events.v1.EventSinkService"],
            register=register,
        )
    )
    probe = Probe(running, database, sink)
    if nats_url:
        probe.link = BrokerLink(settings)
        probe.consumer = JetStreamConsumer(service="probe", sink=sink, link=probe.link)
        probe.task = asyncio.create_task(probe.consumer.run())
    return probe
