"""The events benchmark's consumer, in its own process: `python -m bench.events_consumer`.

A service with one event handler (ClientCreated → an effect row), built from the runtime's
parts the way the kit builds one: the EventSinkService for gRPC pushes and, with
EVENT_TRANSPORT=nats, the durable JetStream consumer, both applying through the same inbox.
Settings come from the environment (DATABASE_URL, GRPC_PORT, EVENT_TRANSPORT, NATS_URL,
IDENTITY_TRUSTED_KEYS_DIR).
"""

from __future__ import annotations

import grpc
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from crm.events.v1 import client_events_pb2, event_pb2, event_pb2_grpc
from crm_runtime.config import BaseServiceSettings
from crm_runtime.db import Database
from crm_runtime.event_transport import build_transport
from crm_runtime.inbox import EventHandler, EventSink
from crm_runtime.logging import configure_logging
from crm_runtime.server import BackgroundTask, ServiceDefinition, run
from crm_runtime.tables import InboxMessage

NAME = "bench-consumer"
SINK_SERVICE = "crm.events.v1.EventSinkService"
CREATED = "crm.events.v1.ClientCreated"


class BenchEffect(SQLModel, table=True):
    """What the benchmark consumer does with an event: one row per application."""

    __tablename__ = "bench_effect"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    subject: str


async def _record(
    session: AsyncSession, payload: object, envelope: event_pb2.EventEnvelope
) -> None:
    session.add(BenchEffect(event_id=envelope.event_id, subject=envelope.subject))


async def definition() -> ServiceDefinition:
    """Return the consumer service on the configured transport."""
    settings = BaseServiceSettings(service_name=NAME)
    configure_logging(level=settings.log_level, service=NAME)  # As kit.main does.
    database = Database(settings.database_url)
    tables = [SQLModel.metadata.tables[t.__tablename__] for t in (InboxMessage, BenchEffect)]
    async with database.write_engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=tables)
    sink = EventSink(database, {CREATED: EventHandler(client_events_pb2.ClientCreated, _record)})
    transport = build_transport(NAME, settings, database, None)
    transport.consume(NAME, sink)
    consumer = transport.consumer
    background: list[BackgroundTask] = [consumer.run] if consumer is not None else []

    def register(server: grpc.aio.Server) -> None:
        event_pb2_grpc.add_EventSinkServiceServicer_to_server(sink, server)

    async def stop() -> None:
        if consumer is not None:
            await consumer.stop()
        if transport.link is not None:
            await transport.link.close()

    return ServiceDefinition(
        name=NAME, settings=settings, database=database, service_names=[SINK_SERVICE],
        register=register, background=background, on_stop=[stop],
    )


if __name__ == "__main__":
    run(definition)
