"""Events on JetStream against a real nats-server: publish dedupe, row claiming by replicas,
a durable shared by replicas, a broker restart mid-flow, and ack after commit under SIGKILL."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from event_probe import ProbeEffect
from sqlalchemy import func, select, update
from sqlmodel import SQLModel, col

from crm.events.v1 import client_events_pb2, event_pb2
from crm_runtime.broker import EVENT_STREAM
from crm_runtime.config import BaseServiceSettings
from crm_runtime.db import Database
from crm_runtime.inbox import EventHandler, EventSink
from crm_runtime.jetstream import BrokerLink
from crm_runtime.jetstream_consumer import JetStreamConsumer, consumer_config, durable_name
from crm_runtime.jetstream_relay import JetStreamRelay
from crm_runtime.outbox import Outbox
from crm_runtime.tables import InboxMessage, OutboxMessage
from crm_runtime.testing import NatsServer

CREATED = "crm.events.v1.ClientCreated"
HERE = Path(__file__).resolve().parent
TABLES = (OutboxMessage, InboxMessage, ProbeEffect)


@pytest.fixture
async def database(store_url):
    """A store with the outbox, the inbox and a table of effects (no unique event id)."""
    db = Database(store_url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all,
                            tables=[SQLModel.metadata.tables[t.__tablename__] for t in TABLES])
    yield db
    await db.dispose()


def _settings(server: NatsServer, name: str = "client", **extra: object) -> BaseServiceSettings:
    return BaseServiceSettings(service_name=name, nats_url=server.url, **extra)  # type: ignore[arg-type]


async def _emit(db: Database, outbox: Outbox, count: int) -> set[str]:
    ids: set[str] = set()
    async with db.write() as session:
        for i in range(count):
            ids.add(outbox.emit(session, client_events_pb2.ClientCreated(),
                                subject=f"clients/{i}"))
    return ids


async def _stream_messages(link: BrokerLink) -> int:
    js = await link.jetstream()
    return int((await js.stream_info(EVENT_STREAM)).state.messages)


async def _effects(db: Database) -> dict[str, int]:
    async with db.read() as session:
        rows = (await session.execute(select(col(ProbeEffect.event_id), func.count())
                                      .group_by(col(ProbeEffect.event_id)))).all()
    return {event_id: int(n) for event_id, n in rows}


def _sink(db: Database) -> EventSink:
    async def record(session, payload, envelope: event_pb2.EventEnvelope) -> None:
        session.add(ProbeEffect(event_id=envelope.event_id, event_type=envelope.event_type))

    return EventSink(db, {CREATED: EventHandler(client_events_pb2.ClientCreated, record)})


# Generous: these tests check what arrives and how often, not how fast; on the shared machine
# a SQLite commit (fsync) under load can take tens of milliseconds.
WAIT_SECONDS = 120.0


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = WAIT_SECONDS) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.1)


class TestPublish:
    async def test_republished_rows_are_stored_once(self, database, nats_server):
        """Rows published, then found pending again (a crash before the mark), are published
        again with the same Nats-Msg-Id and the stream keeps one message per event."""
        outbox = Outbox("client", ["jetstream"])
        link = BrokerLink(_settings(nats_server))
        relay = JetStreamRelay(database=database, outbox=outbox, link=link)
        try:
            await _emit(database, outbox, 20)
            assert await relay.deliver_once() == 20
            async with database.write() as session:
                await session.execute(update(OutboxMessage).values(delivered_time=None))
            assert await relay.deliver_once() == 20
            assert relay.duplicates == 20
            assert await _stream_messages(link) == 20
        finally:
            await link.close()

    @pytest.mark.postgres
    async def test_replicas_claim_each_row_once(self, store_url, database, nats_server):
        """Three relays on one PostgreSQL store, running at once: each row is published by
        exactly one of them (no publish the stream had to drop as a duplicate)."""
        if store_url.startswith("sqlite"):
            pytest.skip("row claiming is for PostgreSQL; SQLite has one process")
        outbox = Outbox("client", ["jetstream"])
        committed = await _emit(database, outbox, 600)
        stores = [Database(store_url) for _ in range(3)]
        links = [BrokerLink(_settings(nats_server)) for _ in stores]
        relays = [JetStreamRelay(database=db, outbox=outbox, link=link, batch_size=20)
                  for db, link in zip(stores, links, strict=True)]

        async def drain(relay: JetStreamRelay) -> None:
            while await relay.deliver_once():
                pass

        try:
            # Connected before the race starts: a relay still connecting while another drains
            # the whole outbox proves nothing about claiming (seen once in a parallel run).
            await asyncio.gather(*(link.jetstream() for link in links))
            await asyncio.gather(*(drain(r) for r in relays))
            published = [r.delivered for r in relays]
            print(f"\nrelay replicas: published per replica {published}, "
                  f"stream duplicates {[r.duplicates for r in relays]}")
            assert sum(published) == len(committed)
            assert [r.duplicates for r in relays] == [0, 0, 0]
            assert sum(1 for p in published if p) >= 2, "one replica did all the work"
            assert await _stream_messages(links[0]) == len(committed)
        finally:
            for link in links:
                await link.close()
            for db in stores:
                await db.dispose()


class TestConsume:
    async def test_replicas_share_one_durable(self, database, nats_server):
        """Two consumer replicas of one service share its durable: every event is applied
        once in all, both take part, and each is acknowledged (nothing left pending)."""
        outbox = Outbox("client", ["jetstream"])
        link = BrokerLink(_settings(nats_server))
        relay = JetStreamRelay(database=database, outbox=outbox, link=link)
        settings = _settings(nats_server, "probe", jetstream_fetch_batch=5)
        consumer_links = [BrokerLink(settings) for _ in range(2)]
        sinks = [_sink(database) for _ in consumer_links]
        consumers = [JetStreamConsumer(service="probe", sink=s, link=cl)
                     for s, cl in zip(sinks, consumer_links, strict=True)]
        tasks = [asyncio.create_task(c.run()) for c in consumers]
        try:
            committed = await _emit(database, outbox, 200)
            while await relay.deliver_once():
                pass

            async def all_applied() -> bool:
                return set(await _effects(database)) == committed

            await _until(all_applied)
            assert set((await _effects(database)).values()) == {1}
            assert sum(s.applied for s in sinks) == len(committed)
            assert all(s.applied for s in sinks), [s.applied for s in sinks]
            js = await link.jetstream()

            async def all_acked() -> bool:
                info = await js.consumer_info(EVENT_STREAM, durable_name("probe"))
                return info.num_ack_pending == 0 and info.num_pending == 0

            await _until(all_acked)
        finally:
            for consumer in consumers:
                await consumer.stop()
            await asyncio.gather(*tasks)
            for cl in (link, *consumer_links):
                await cl.close()

    async def test_broker_restart_mid_flow(self, database, nats_server):
        """The broker is SIGKILLed and restarted while events are emitted: relay and consumer
        reconnect on their own, and every committed event is applied exactly once."""
        outbox = Outbox("client", ["jetstream"])
        link = BrokerLink(_settings(nats_server))
        relay = JetStreamRelay(database=database, outbox=outbox, link=link, interval=0.05)
        consumer_link = BrokerLink(_settings(nats_server, "probe"))
        sink = _sink(database)
        consumer = JetStreamConsumer(service="probe", sink=sink, link=consumer_link)
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
        committed: set[str] = set()
        try:
            for round_ in range(6):
                committed |= await _emit(database, outbox, 25)
                await asyncio.sleep(0.3)
                if round_ in (1, 3):
                    await asyncio.to_thread(nats_server.restart)

            async def all_applied() -> bool:
                return set(await _effects(database)) == committed

            await _until(all_applied)
            assert set((await _effects(database)).values()) == {1}
            print(f"\nbroker restarts: committed={len(committed)} applied={sink.applied} "
                  f"redelivered={sink.duplicates} republished={relay.duplicates}")
        finally:
            await relay.stop()
            await consumer.stop()
            await asyncio.gather(*tasks)
            await link.close()
            await consumer_link.close()


@pytest.mark.process
class TestAckAfterCommit:
    async def test_kill_between_commit_and_ack_applies_once(self, tmp_path, nats_server):
        """The consumer process dies (SIGKILL) right after its inbox transaction committed,
        before the ack: JetStream offers the event again and it is applied once."""
        store = tmp_path / "probe.db"
        url = f"sqlite+aiosqlite:///{tmp_path}/client.db"
        producer = Database(url)
        async with producer.write_engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all,
                                tables=[SQLModel.metadata.tables["outbox_message"]])
        outbox = Outbox("client", ["jetstream"])
        link = BrokerLink(_settings(nats_server))
        relay = JetStreamRelay(database=producer, outbox=outbox, link=link)
        committed = await _emit(producer, outbox, 10)
        assert await relay.deliver_once() == 10
        script = [sys.executable, str(HERE / "jetstream_probe_main.py"), str(store),
                  nats_server.url]
        dying = await asyncio.create_subprocess_exec(*script, "--die-after-commit", cwd=HERE)
        code = await asyncio.wait_for(dying.wait(), WAIT_SECONDS)
        assert code == -9, "the probe was to SIGKILL itself after its first commit"
        consumer = Database(f"sqlite+aiosqlite:///{store}")
        first = await _effects(consumer)
        assert list(first.values()) == [1], first  # Committed, never acknowledged.
        survivor = await asyncio.create_subprocess_exec(*script, cwd=HERE)
        try:
            async def all_applied() -> bool:
                return set(await _effects(consumer)) == committed

            await _until(all_applied)
            js = await link.jetstream()

            async def all_acked() -> bool:
                info = await js.consumer_info(EVENT_STREAM, durable_name("probe"))
                return info.num_ack_pending == 0 and info.num_pending == 0

            await _until(all_acked)
            info = await js.consumer_info(EVENT_STREAM, durable_name("probe"))
            assert set((await _effects(consumer)).values()) == {1}
            # The consumer sequence counts every delivery, the stream sequence each message.
            redelivered = info.delivered.consumer_seq - info.delivered.stream_seq
            assert redelivered >= 1
            print(f"\nack after commit: events={len(committed)} applied once each, "
                  f"offered again after the kill={redelivered}")
        finally:
            survivor.terminate()
            await asyncio.wait_for(survivor.wait(), 20)
            await link.close()
            await consumer.dispose()
            await producer.dispose()


class TestConsumerConfig:
    def test_filters_follow_the_server_version(self):
        """From 2.10 the durable filters on the handled kinds' subjects; on 2.9 it reads every
        event subject (one filter only) and skips the rest; one kind is one filter either way."""
        kinds = ["crm.events.v1.WarningRaised", "crm.events.v1.RatingChanged"]
        multi = consumer_config("risk", kinds, ack_wait=30, multi_filter=True)
        assert multi.durable_name == "risk"
        assert multi.filter_subjects == ["crm.events.v1.RatingChanged",
                                         "crm.events.v1.WarningRaised"]
        assert multi.max_deliver == -1
        single = consumer_config("risk", kinds, ack_wait=30, multi_filter=False)
        assert single.filter_subject == "crm.events.>"
        assert single.filter_subjects is None
        one = consumer_config("probe", kinds[:1], ack_wait=30, multi_filter=False)
        assert one.filter_subject == "crm.events.v1.WarningRaised"
