"""Outbox and inbox under SIGKILL: committed events arrive after a restart, once in effect."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import grpc
import pytest
from event_probe import start_probe
from process_harness import ServiceProcess
from transport_support import transport_for

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_client.domain.credit_code import make_credit_code
from crm_runtime.auth import Role
from crm_runtime.testing import free_port, pii_env

pytestmark = pytest.mark.process


def _client(index: int):
    from client_harness import a_client

    return a_client(
        credit_code=make_credit_code("91440300", f"MA{index:06d}"),
        display_name=f"深圳测试企业{index}有限公司",
    )


def _outbox_events(db: Path, queue: str = "probe") -> set[str]:
    with sqlite3.connect(db) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT event_id FROM outbox_message WHERE subscriber = ?", (queue,)
            )
        }


async def _create_clients(process: ServiceProcess, identity, start: int, count: int) -> None:
    metadata = identity.metadata("staff/rm-a", Role.RELATIONSHIP_MANAGER)
    async with grpc.aio.insecure_channel(process.address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        for i in range(start, start + count):
            await stub.CreateClient(
                client_service_pb2.CreateClientRequest(
                    client=_client(i), request_id=str(uuid.uuid4())
                ),
                metadata=metadata,
            )


async def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.1)


class TestOutboxSurvivesKill:
    async def test_events_delivered_after_sigkill_and_restart(
        self, tmp_path, identity, event_transport, request
    ):
        """Events committed while the consumer is down survive a SIGKILL and arrive once each
        (on gRPC push, and on JetStream, where the consumer is also down until the end)."""
        db = tmp_path / "client.db"
        probe_port = free_port()
        transport = transport_for(event_transport, request, probe_port)
        env = {
            **pii_env(),
            **identity.env("client"),
            **transport.env,
            "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "RELAY_INTERVAL_SECONDS": "0.05",
        }
        producer = ServiceProcess("crm_client", env, tmp_path / "client.log")
        producer.start()
        await producer.wait_serving("crm.client.v1.ClientService")
        await _create_clients(producer, identity, 0, 15)
        producer.kill()  # The consumer was never up: every event is still in the outbox.
        committed = _outbox_events(db, transport.queue)
        assert len(committed) >= 15

        probe = await start_probe(tmp_path, probe_port, identity.directory,
                                  nats_url=transport.nats_url)
        try:
            producer.start()
            await producer.wait_serving("crm.client.v1.ClientService")

            async def all_arrived() -> bool:
                return set(await probe.effects()) >= committed

            await _wait_for(all_arrived)
            effects = await probe.effects()
            assert set(effects) == committed
            assert set(effects.values()) == {1}
        finally:
            producer.kill()
            await probe.stop()

    @pytest.mark.chaos  # Five kills mid-delivery: `./run.sh chaos` (one kill above stays).
    async def test_kills_during_delivery_apply_each_event_once(
        self, tmp_path, identity, event_transport, request
    ):
        """SIGKILLs mid-delivery to a slow consumer cause redelivery, never a second effect."""
        db = tmp_path / "client.db"
        probe_port = free_port()
        transport = transport_for(event_transport, request, probe_port)
        env = {
            **pii_env(),
            **identity.env("client"),
            **transport.env,
            "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "RELAY_INTERVAL_SECONDS": "0.05",
            "RELAY_BATCH_SIZE": "10",
        }
        producer = ServiceProcess("crm_client", env, tmp_path / "client.log")
        producer.start()
        await producer.wait_serving("crm.client.v1.ClientService")
        await _create_clients(producer, identity, 100, 30)
        producer.kill()
        committed = _outbox_events(db, transport.queue)
        # A slow consumer keeps deliveries in flight so that kills land mid-batch.
        probe = await start_probe(tmp_path, probe_port, identity.directory, delay=0.03,
                                  nats_url=transport.nats_url)
        try:
            for _ in range(5):
                producer.start()
                await producer.wait_serving("crm.client.v1.ClientService")
                await asyncio.sleep(0.4)
                producer.kill()
            producer.start()

            async def all_arrived() -> bool:
                return set(await probe.effects()) >= committed

            await _wait_for(all_arrived, timeout=60)
            effects = await probe.effects()
            assert set(effects) == committed
            assert max(effects.values()) == 1, "an event was applied twice"
            print(
                f"\noutbox-kill ({event_transport}): committed={len(committed)} "
                f"applied={probe.sink.applied} "
                f"wire_redeliveries={probe.sink.duplicates} kills=5"
            )
        finally:
            producer.kill()
            await probe.stop()
