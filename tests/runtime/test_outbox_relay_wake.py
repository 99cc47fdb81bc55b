"""The relay wakes after the commit, serves each subscriber on its own, and with several
replicas on one PostgreSQL store sends each row once (issue 18)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel, col
from wire_sink import start_sink

from crm.events.v1 import client_events_pb2
from crm_runtime.db import Database
from crm_runtime.outbox import Outbox
from crm_runtime.outbox_relay import Relay
from crm_runtime.tables import OutboxMessage
from crm_runtime.testing import free_port

HERE = Path(__file__).resolve().parent
LONG_INTERVAL = 300.0  # Longer than any of these tests: a poll never delivers anything here.


async def _with_outbox_table(url: str) -> Database:
    db = Database(url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all,
                            tables=[SQLModel.metadata.tables[OutboxMessage.__tablename__]])
    return db


@pytest.fixture
async def database(sqlite_url: str) -> AsyncIterator[Database]:
    """A SQLite store with the outbox table."""
    db = await _with_outbox_table(sqlite_url)
    yield db
    await db.dispose()


async def _emit(db: Database, outbox: Outbox, subject: str, *, linger: float = 0.0) -> str:
    async with db.write() as session:
        event_id = outbox.emit(session, client_events_pb2.ClientCreated(), subject=subject)
        # The rest of a handler's work: the relay gets the loop while the transaction is open.
        await asyncio.sleep(linger)
    return event_id


class TestWakeAfterCommit:
    async def test_delivery_does_not_wait_for_the_poll(self, database):
        """With a 300 s poll interval, each event still arrives: the commit woke the relay.
        Before, the wake-up was set inside the open transaction; the relay read, found
        nothing, cleared it and slept the full interval."""
        server, sink, port = await start_sink()
        outbox = Outbox("client", ["sink"])
        relay = Relay(database=database, outbox=outbox, signer=None,
                      addresses={"sink": f"127.0.0.1:{port}"}, interval=LONG_INTERVAL)
        task = asyncio.create_task(relay.run())
        try:
            ids = [await _emit(database, outbox, f"clients/{i}", linger=0.2) for i in range(5)]
            await sink.wait_for(set(ids), timeout=20)
        finally:
            await relay.stop()
            await asyncio.wait_for(task, timeout=10)
            await relay.close()
            await server.stop(None)
        print(f"signal wake-ups {relay.counters.signal_wakeups}, "
              f"poll wake-ups {relay.counters.poll_wakeups}")
        assert relay.counters.poll_wakeups == 0
        # At least one: a commit landing while a pass still runs is read by the next pass.
        assert relay.counters.signal_wakeups >= 1
        assert sink.counts() == dict.fromkeys(ids, 1)

    async def test_rolled_back_emit_wakes_nobody_and_sends_nothing(self, database):
        """An emit whose transaction rolls back leaves no row and no wake-up."""
        outbox = Outbox("client", ["sink"])
        flag = outbox.watch()
        with pytest.raises(RuntimeError):
            async with database.write() as session:
                outbox.emit(session, client_events_pb2.ClientCreated(), subject="clients/x")
                raise RuntimeError("handler failed")
        assert not flag.is_set()
        await _emit(database, outbox, "clients/y")
        assert flag.is_set()


def _start_sink_process(port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(HERE / "wire_sink.py"), str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    for _ in range(300):
        if "ready" in log.read_text():
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"wire sink did not start: {log.read_text()}")


class TestStalledSubscriber:
    async def test_a_stopped_subscriber_does_not_delay_the_others(self, database, tmp_path):
        """One subscriber is a real process stopped with SIGSTOP (it accepts connections and
        never answers). Every event reaches the other subscriber while the first call to the
        stopped one is still waiting for its answer. Before, subscribers were served one
        after another, and nothing moved until that call's deadline."""
        stalled_port = free_port()
        stalled = _start_sink_process(stalled_port, tmp_path / "stalled.log")
        server, sink, port = await start_sink()
        outbox = Outbox("risk", ["stalled", "notify"])
        # A deadline longer than the test: the stalled call is outstanding throughout.
        relay = Relay(database=database, outbox=outbox, signer=None, interval=LONG_INTERVAL,
                      addresses={"stalled": f"127.0.0.1:{stalled_port}",
                                 "notify": f"127.0.0.1:{port}"},
                      delivery_timeout=120.0)
        os.kill(stalled.pid, signal.SIGSTOP)
        task = asyncio.create_task(relay.run())
        try:
            ids = [await _emit(database, outbox, f"clients/{i}") for i in range(20)]
            await sink.wait_for(set(ids), timeout=60)
            async with database.read() as session:
                attempts = (await session.execute(
                    select(col(OutboxMessage.attempts))
                    .where(col(OutboxMessage.subscriber) == "stalled"))).scalars().all()
            # The stopped subscriber's first call has not even failed yet.
            assert relay._subscribers["stalled"].failures == 0
            assert set(attempts) == {0}
            assert sink.counts() == dict.fromkeys(ids, 1)
            print(f"delivered {len(ids)} events to notify while the stalled call was pending")
        finally:
            stalled.kill()  # Works on a stopped process; the pending call fails at once.
            stalled.wait()
            await relay.stop()
            await asyncio.wait_for(task, timeout=30)
            await relay.close()
            await server.stop(None)


@pytest.mark.postgres
class TestReplicasShareOneStore:
    async def test_each_row_is_sent_by_one_relay_in_order(self, postgres_url):
        """Three replicas (each its own pool, outbox and relay) each write 100 events, one
        transaction after another, all at once on one PostgreSQL database; each of two
        subscribers receives every event exactly once on the wire, and each replica's events
        in the order it wrote them. Before, every relay sent every row."""
        replicas, per_replica = 3, 100
        servers, sinks, addresses = [], {}, {}
        for name in ("notify", "feedback"):
            server, sink, port = await start_sink()
            servers.append(server)
            sinks[name] = sink
            addresses[name] = f"127.0.0.1:{port}"
        stores = [await _with_outbox_table(postgres_url) for _ in range(replicas)]
        outboxes = [Outbox("client", list(addresses)) for _ in range(replicas)]
        relays = [Relay(database=db, outbox=ob, signer=None, addresses=addresses,
                        interval=0.2, batch_size=20)
                  for db, ob in zip(stores, outboxes, strict=True)]
        tasks = [asyncio.create_task(r.run()) for r in relays]
        rng = random.Random(18)

        async def writer(k: int) -> list[str]:
            return [await _emit(stores[k], outboxes[k], f"clients/{k}-{i}",
                                linger=rng.uniform(0, 0.005)) for i in range(per_replica)]

        try:
            written = await asyncio.gather(*(writer(k) for k in range(replicas)))
            ids = [event_id for batch in written for event_id in batch]
            for sink in sinks.values():
                await sink.wait_for(set(ids), timeout=60)
            await asyncio.sleep(1.0)  # Room for a duplicate to arrive, if a relay sent one.
        finally:
            for relay in relays:
                await relay.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
            for relay in relays:
                await relay.close()
            for db in stores:
                await db.dispose()
            for server in servers:
                await server.stop(None)
        per_relay = [r.delivered for r in relays]
        claimed = [r.counters.claimed_elsewhere for r in relays]
        print(f"deliveries per relay {per_relay}, passes finding a claim {claimed}")
        for name, sink in sinks.items():
            assert sink.counts() == dict.fromkeys(ids, 1), name
            arrival = {event_id: n for n, event_id in enumerate(sink.received)}
            for batch in written:
                positions = [arrival[event_id] for event_id in batch]
                assert positions == sorted(positions), f"{name} received events out of order"
        assert sum(per_relay) == len(ids) * len(sinks)


