"""The probe consumer as its own process, reading JetStream, for tests that SIGKILL it.

    python tests/runtime/jetstream_probe_main.py <sqlite file> <nats url> [--die-after-commit]

With --die-after-commit the process SIGKILLs itself right after the first inbox transaction
commits, before the event is acknowledged: the gap the ack-after-commit rule is about.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from event_probe import ProbeEffect
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from crm.events.v1 import client_events_pb2, event_pb2
from crm_runtime.config import BaseServiceSettings
from crm_runtime.db import Database
from crm_runtime.inbox import EventHandler, EventSink
from crm_runtime.jetstream import BrokerLink
from crm_runtime.jetstream_consumer import JetStreamConsumer
from crm_runtime.tables import InboxMessage

ACK_WAIT_SECONDS = 2.0


def _die(_session: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(path: str, nats_url: str, die_after_commit: bool) -> None:
    """Consume until SIGTERM."""
    database = Database(f"sqlite+aiosqlite:///{path}")
    tables = [SQLModel.metadata.tables[t.__tablename__] for t in (InboxMessage, ProbeEffect)]
    async with database.write_engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=tables)

    async def record(
        session: AsyncSession, payload: object, envelope: event_pb2.EventEnvelope
    ) -> None:
        session.add(ProbeEffect(event_id=envelope.event_id, event_type=envelope.event_type))
        if die_after_commit:
            event.listen(session.sync_session, "after_commit", _die, once=True)

    handlers = {"crm.events.v1.ClientCreated": EventHandler(client_events_pb2.ClientCreated,
                                                            record)}
    settings = BaseServiceSettings(service_name="probe", nats_url=nats_url,
                                   jetstream_ack_wait_seconds=ACK_WAIT_SECONDS,
                                   jetstream_fetch_batch=10)
    link = BrokerLink(settings)
    consumer = JetStreamConsumer(service="probe", sink=EventSink(database, handlers), link=link)
    task = asyncio.create_task(consumer.run())
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    await stopped.wait()
    await consumer.stop()
    await task
    await link.close()
    await database.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], "--die-after-commit" in sys.argv))
