"""Inbox: each event applied once in effect, even when delivered twice at the same moment."""

from __future__ import annotations

import asyncio

import pytest
from event_probe import ProbeEffect
from sqlalchemy import func, select
from sqlmodel import SQLModel, col

from crm.events.v1 import client_events_pb2, event_pb2
from crm_runtime.db import Database
from crm_runtime.errors import InvalidArgument
from crm_runtime.inbox import EventHandler, EventSink
from crm_runtime.outbox import make_envelope
from crm_runtime.tables import InboxMessage

CREATED = "crm.events.v1.ClientCreated"


@pytest.fixture
async def database(store_url):
    """A store with the inbox table and a table of effects without a unique event id."""
    db = Database(store_url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[
            SQLModel.metadata.tables[InboxMessage.__tablename__],
            SQLModel.metadata.tables[ProbeEffect.__tablename__]])
    yield db
    await db.dispose()


def _sink(db: Database, delay: float = 0.0) -> EventSink:
    async def record(session, payload, envelope: event_pb2.EventEnvelope) -> None:
        if delay:
            await asyncio.sleep(delay)  # Keep the transaction open so deliveries overlap.
        session.add(ProbeEffect(event_id=envelope.event_id, event_type=envelope.event_type))

    return EventSink(db, {CREATED: EventHandler(client_events_pb2.ClientCreated, record)})


def _envelope() -> event_pb2.EventEnvelope:
    return make_envelope(client_events_pb2.ClientCreated(), source="client", subject="clients/a")


async def _effects(db: Database) -> dict[str, int]:
    async with db.read() as session:
        rows = (await session.execute(select(col(ProbeEffect.event_id), func.count())
                                      .group_by(col(ProbeEffect.event_id)))).all()
    return {event_id: int(n) for event_id, n in rows}


class TestInbox:
    async def test_redelivery_is_a_no_op(self, database):
        """The second delivery of an event is reported as a duplicate and changes nothing."""
        sink = _sink(database)
        envelope = _envelope()
        assert await sink.apply(envelope) is True
        assert await sink.apply(envelope) is False
        assert await _effects(database) == {envelope.event_id: 1}

    async def test_concurrent_deliveries_apply_once(self, database):
        """Two workers applying the same events at once produce each effect once."""
        sink = _sink(database, delay=0.05)
        envelopes = [_envelope() for _ in range(5)]
        results = await asyncio.gather(*(sink.apply(e) for e in envelopes for _ in range(2)))
        assert sorted(results) == [False] * 5 + [True] * 5
        assert await _effects(database) == {e.event_id: 1 for e in envelopes}

    async def test_unhandled_type_recorded(self, database):
        """An event this consumer does not handle is recorded so it is not offered again."""
        sink = _sink(database)
        envelope = make_envelope(client_events_pb2.ClientUpdated(), source="client",
                                 subject="clients/a")
        assert await sink.apply(envelope) is True
        assert await sink.apply(envelope) is False
        assert await _effects(database) == {}

    async def test_payload_mismatch_rolls_back(self, database):
        """A payload that is not the named type is INVALID_ARGUMENT and leaves no inbox row."""
        sink = _sink(database)
        envelope = make_envelope(client_events_pb2.ClientUpdated(), source="client",
                                 subject="clients/a")
        envelope.event_type = CREATED
        with pytest.raises(InvalidArgument):
            await sink.apply(envelope)
        async with database.read() as session:
            assert await session.get(InboxMessage, envelope.event_id) is None
        assert await _effects(database) == {}
