"""Outbox relay bookkeeping: failed deliveries are recorded, old delivered rows are purged,
and the relay outlives a store that fails for a while."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
from event_probe import start_probe
from sqlalchemy import select
from sqlmodel import SQLModel, col
from transport_support import transport_for

from crm.events.v1 import client_events_pb2
from crm_runtime.config import BaseServiceSettings
from crm_runtime.db import Database
from crm_runtime.jetstream import BrokerLink
from crm_runtime.jetstream_relay import JetStreamRelay
from crm_runtime.outbox import Outbox
from crm_runtime.outbox_relay import DELIVERED_RETENTION, Relay
from crm_runtime.tables import OutboxMessage
from crm_runtime.testing import free_port


@pytest.fixture
async def database(sqlite_url):
    """A SQLite store with the outbox table."""
    db = Database(sqlite_url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all,
                            tables=[SQLModel.metadata.tables[OutboxMessage.__tablename__]])
    yield db
    await db.dispose()


async def _rows(db: Database) -> list[OutboxMessage]:
    async with db.read() as session:
        return list((await session.execute(
            select(OutboxMessage).order_by(col(OutboxMessage.id)))).scalars())


class TestRelay:
    async def test_unreachable_subscriber_is_recorded_not_marked(self, database):
        """A delivery that fails leaves the row pending with an attempt and the error code."""
        outbox = Outbox("client", ["probe"])
        async with database.write() as session:
            outbox.emit(session, client_events_pb2.ClientCreated(), subject="clients/a")
        relay = Relay(database=database, outbox=outbox, signer=None,
                      addresses={"probe": f"127.0.0.1:{free_port()}"})
        try:
            assert await relay.deliver_once() == 0
        finally:
            await relay.close()
        (row,) = await _rows(database)
        assert row.delivered_time is None
        assert row.attempts == 1
        assert row.last_error.startswith(("UNAVAILABLE", "DEADLINE_EXCEEDED"))
        assert relay.delivered == 0

    async def test_purge_keeps_pending_and_recent(self, database):
        """Only rows delivered longer ago than the retention go, whatever timezone `now` uses."""
        now = datetime.now(UTC)
        stamps = {
            "pending-old": (now - timedelta(days=60), None),
            "delivered-old": (now - timedelta(days=60), now - DELIVERED_RETENTION
                              - timedelta(hours=2)),
            "delivered-recent": (now - timedelta(days=60), now - DELIVERED_RETENTION
                                 + timedelta(hours=2)),
        }
        async with database.write() as session:
            for event_id, (created, delivered) in stamps.items():
                session.add(OutboxMessage(event_id=event_id, subscriber="probe",
                                          event_type="t", envelope=b"x", created_time=created,
                                          delivered_time=delivered))
        relay = Relay(database=database, outbox=Outbox("client", ["probe"]), signer=None,
                      addresses={})
        removed = await relay.purge_delivered(now=now.astimezone(timezone(timedelta(hours=8))))
        assert removed == 1
        assert {r.event_id for r in await _rows(database)} == {"pending-old", "delivered-recent"}


class TestRelaySurvivesTheStore:
    async def test_relay_outlives_a_failing_store_and_delivers_after(
        self, database, sqlite_url, tmp_path, *, identity, event_transport, request
    ):
        """The outbox table vanishes for a while (as a restarting server would); the relay
        task logs, backs off and delivers once it is back, instead of dying for good."""
        port = free_port()
        transport = transport_for(event_transport, request, port)
        probe = await start_probe(tmp_path, port, identity.directory,
                                  nats_url=transport.nats_url)
        outbox = Outbox("client", [transport.queue])
        link = BrokerLink(BaseServiceSettings(nats_url=transport.nats_url)) if (
            transport.nats_url) else None
        relay: Relay | JetStreamRelay = (
            Relay(database=database, outbox=outbox, signer=identity.signers["client"],
                  addresses={"probe": f"127.0.0.1:{port}"}, interval=0.05)
            if link is None else
            JetStreamRelay(database=database, outbox=outbox, link=link, interval=0.05)
        )
        store = sqlite3.connect(sqlite_url.split(":///", 1)[1], isolation_level=None)
        store.execute("ALTER TABLE outbox_message RENAME TO outbox_away")
        task = asyncio.create_task(relay.run())
        try:
            await asyncio.sleep(0.5)  # Several failing passes.
            assert not task.done(), "the relay task died on a store error"
            store.execute("ALTER TABLE outbox_away RENAME TO outbox_message")
            async with database.write() as session:
                outbox.emit(session, client_events_pb2.ClientCreated(), subject="clients/a")
            for _ in range(100):
                if await probe.effects():
                    break
                await asyncio.sleep(0.1)
            assert list((await probe.effects()).values()) == [1]
        finally:
            await relay.stop()
            await asyncio.wait_for(task, timeout=10)
            await relay.close()
            if link is not None:
                await link.close()
            await probe.stop()
            store.close()
