"""Partition leases on a real store, and two replicas in one process on one database: a
batch reaching the replica that does not own its partition is applied by the owner and
acknowledged exactly as the owner would have."""

from __future__ import annotations

import asyncio
import time

import pytest
from risk_harness import a_facility, request_id, risk_service, round_trip, stream
from sqlalchemy import select, update

from crm.risk.v1 import risk_service_pb2
from crm_risk.models_monitoring import MonitorBatchRow, MonitorPartitionRow
from crm_risk.monitoring.store import batch_log, leases
from crm_risk.monitoring.store.placement import Placement, partition_names

PARTITIONS = 4
NAMES = partition_names("default", PARTITIONS)
FAST = {"monitoring_partitions": PARTITIONS, "monitoring_lease_seconds": 2.0,
        "monitoring_heartbeat_seconds": 0.2}
SETTLE_SECONDS = 30.0


async def _until_shared(first, second) -> None:
    """Wait until the two replicas own every partition between them, each some."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        a, b = set(first.ctx.monitoring().owned), set(second.ctx.monitoring().owned)
        if a and b and not a & b and a | b == set(NAMES):
            return
        assert time.monotonic() < deadline, f"partitions not shared: {a} / {b}"
        await asyncio.sleep(0.1)


def _client_owned_by(replica, prefix: str) -> str:
    """Return a client id whose (ungrouped) unit lies in a partition ``replica`` owns."""
    place, owned = Placement(NAMES), replica.ctx.monitoring().owned
    return next(f"{prefix}{n}" for n in range(1000) if place.of(f"c:{prefix}{n}") in owned)


async def _facility(h, client_id: str) -> str:
    name = await h.known_client(client_id)
    created = await h.stub.CreateFacility(
        risk_service_pb2.CreateFacilityRequest(parent=name, facility=a_facility(),
                                               request_id=request_id()),
        metadata=h.system())
    return created.name


class TestLeases:
    @pytest.mark.postgres
    async def test_a_paused_owner_is_fenced_after_its_lease_is_taken(self, store_url, identity):
        """Replica a owns a partition; its lease runs out (a pause) and b claims it with a
        higher epoch. a's next write to the partition fails (Fenced) and leaves nothing."""
        async with risk_service(store_url, identity, **FAST) as h:
            db = h.ctx.db
        await leases.ensure_partitions(db, NAMES)
        name = NAMES[0]
        async with db.write() as session:
            await session.execute(update(MonitorPartitionRow).values(owner="", epoch=0))
        first = await leases.claim(db, name, "a", ttl=30)
        assert first is not None and await leases.claim(db, name, "b", ttl=30) is None
        async with db.write() as session:  # a's lease runs out while it is paused
            await session.execute(update(MonitorPartitionRow)
                                  .where(MonitorPartitionRow.name == name)
                                  .values(lease_expires=0.0))
        second = await leases.claim(db, name, "b", ttl=30)
        assert second is not None and second.epoch == first.epoch + 1
        with pytest.raises(leases.Fenced):
            async with db.write() as session:
                await batch_log.append(session, partition=name, batch_id="late", count=0,
                                       body=b"", now=h.ctx.clock(),
                                       applied=(1, batch_log.Outcome()))
                await leases.advance(session, name, "a", first, 1)
        async with db.read() as session:
            late = (await session.execute(select(MonitorBatchRow.seq)
                                          .where(MonitorBatchRow.batch_id == "late"))).all()
        assert late == []
        async with db.write() as session:  # the owner's write goes through
            await leases.advance(session, name, "b", second, 1)


class TestTwoReplicas:
    @pytest.mark.postgres
    async def test_a_batch_sent_to_the_other_replica_is_applied_by_the_owner(
        self, store_url, identity
    ):
        """(PostgreSQL only: a SQLite store serves one process, which owns every partition.)
        Replicas a and b split 4 partitions. A round trip of a client a owns, streamed to
        b, is acknowledged by b with a's result (4 accepted, one warning named); sent again
        to a, it is all duplicates. The log row b stored was applied by a, once."""
        if store_url.startswith("sqlite"):
            pytest.skip("one process per SQLite store")
        async with risk_service(store_url, identity, monitoring_member="a", **FAST) as a, \
                risk_service(store_url, identity, monitoring_member="b", **FAST) as b:
            await _until_shared(a, b)
            client_id = _client_owned_by(a, "c-part-")
            facility = await _facility(b, client_id)
            batch = round_trip(client_id, facility)
            (ack,) = await stream(b.stub, [batch], b.system())
            assert (ack.accepted, ack.duplicates, ack.alerts, len(ack.warnings)) == (4, 0, 1, 1)
            warning = await a.stub.GetWarning(
                risk_service_pb2.GetWarningRequest(name=ack.warnings[0]), metadata=a.officer())
            assert warning.client == f"clients/{client_id}"
            (again,) = await stream(a.stub, [batch], a.system())
            assert (again.accepted, again.duplicates, again.alerts) == (0, 4, 0)
            async with a.ctx.db.read() as session:
                rows = (await session.execute(
                    select(MonitorBatchRow.partition, MonitorBatchRow.applied_seq,
                           MonitorBatchRow.accepted))).all()
            assert [(p in a.ctx.monitoring().owned, s is not None, n) for p, s, n in rows] \
                == [(True, True, 4)]


class TestOneSqliteProcess:
    async def test_a_fenced_partition_is_claimed_again(self, store_url, identity):
        """(SQLite only.) The store's watermark moves past the process's memory, as when an
        earlier incarnation commits its last batch after this one started: the next batch
        is fenced and refused (resend), and the process claims the partition again within a
        heartbeat instead of leaving it to an owner that does not exist. Before the fix the
        resend waited for that owner and came back AWAITING_OWNER."""
        if not store_url.startswith("sqlite"):
            pytest.skip("a SQLite store serves one process")
        async with risk_service(store_url, identity, monitoring_heartbeat_seconds=0.2,
                                monitoring_result_wait_seconds=3.0) as h:
            pipeline = h.ctx.monitoring()
            client_id = "c-fenced-1"
            facility = await _facility(h, client_id)
            async with h.ctx.db.write() as session:
                await session.execute(update(MonitorPartitionRow).values(
                    applied_through=MonitorPartitionRow.applied_through + 1))
            batch = round_trip(client_id, facility)
            (refused,) = await stream(h.stub, [batch], h.system())
            assert refused.HasField("error") and "not stored" in refused.error.message
            deadline = time.monotonic() + SETTLE_SECONDS
            while set(pipeline.owned) != set(pipeline.placement.names):
                assert time.monotonic() < deadline, "partition not claimed again"
                await asyncio.sleep(0.1)
            (resent,) = await stream(h.stub, [batch], h.system())
            assert not resent.HasField("error"), resent.error.message
            assert (resent.accepted, resent.duplicates, resent.alerts) == (4, 0, 1)
