"""Server bootstrap: health (liveness vs readiness) and graceful shutdown on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from process_harness import ServiceProcess
from runtime_probe_server import SERVICE, probe_service

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_runtime import testing
from crm_runtime.auth import Role
from crm_runtime.testing import pii_env

UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
CLIENT_SERVICE = "crm.client.v1.ClientService"


async def _status(stub: health_pb2_grpc.HealthStub, service: str) -> int:
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    return int(reply.status)


async def _wait_status(stub: health_pb2_grpc.HealthStub, service: str, want: int,
                       timeout: float) -> float:
    """Wait until `service` reports `want`; return how long that took."""
    started = time.monotonic()
    while await _status(stub, service) != want:
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{service} did not become {want} within {timeout} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


class TestHealth:
    async def test_unreachable_store_is_not_ready_but_alive(self, identity):
        """Store down: Check("") SERVING (alive), Check(service) NOT_SERVING (not ready)."""
        async with probe_service({}, database_url=UNREACHABLE_POSTGRES,
                                 trusted_keys=identity.directory) as running, \
                grpc.aio.insecure_channel(running.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            # Probes run every 0.1 s: over this second each one must have found the store down.
            for _ in range(10):
                assert await _status(stub, "") == SERVING
                assert await _status(stub, SERVICE) == NOT_SERVING
                await asyncio.sleep(0.1)

    async def test_reachable_store_becomes_ready(self, sqlite_url, identity):
        """With a store that answers, the service turns SERVING within 3 s."""
        async with probe_service({}, database_url=sqlite_url,
                                 trusted_keys=identity.directory) as running, \
                grpc.aio.insecure_channel(running.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            assert await _wait_status(stub, SERVICE, SERVING, 3.0) < 3.0
            assert await _status(stub, "") == SERVING

    async def test_unknown_service(self, sqlite_url, identity):
        """Check("nope") is NOT_FOUND; Watch("nope") first says SERVICE_UNKNOWN."""
        async with probe_service({}, database_url=sqlite_url,
                                 trusted_keys=identity.directory) as running, \
                grpc.aio.insecure_channel(running.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=2)
            assert caught.value.code() is grpc.StatusCode.NOT_FOUND
            watch = stub.Watch(health_pb2.HealthCheckRequest(service="nope"), timeout=5)
            first = await watch.read()
            watch.cancel()
            assert first.status == SERVICE_UNKNOWN

    @pytest.mark.postgres
    async def test_store_going_down_turns_not_serving(self, identity):
        """Dropping the PostgreSQL database flips readiness within 2 s; liveness stays."""
        if not await testing.postgres_available():
            pytest.skip("PostgreSQL not available")
        url, name = await testing.create_postgres_database()
        try:
            async with probe_service({}, database_url=url,
                                     trusted_keys=identity.directory) as running, \
                    grpc.aio.insecure_channel(running.address) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                await _wait_status(stub, SERVICE, SERVING, 3.0)
                await running.definition.database.dispose()
                await testing.drop_postgres_database(name)
                assert await _wait_status(stub, SERVICE, NOT_SERVING, 2.5) <= 2.5
                assert await _status(stub, "") == SERVING
        finally:
            await testing.drop_postgres_database(name)


async def _wait_exit(process: ServiceProcess, timeout: float) -> int | None:
    assert process.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = process.proc.poll()
        if code is not None:
            return code
        await asyncio.sleep(0.05)
    return None


@pytest.mark.process
class TestGracefulShutdown:
    async def test_sigterm_drains_then_exits_cleanly(self, tmp_path, identity):
        """SIGTERM: Watch sees NOT_SERVING first, in-flight calls finish, exit 0 in time."""
        drain, grace = 1.0, 5.0
        env = {**pii_env(), **identity.env("client"),
               "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/client.db",
               "DRAIN_SECONDS": str(drain), "GRACE_SECONDS": str(grace),
               "HEALTH_CHECK_INTERVAL_SECONDS": "0.2"}
        process = ServiceProcess("crm_client", env, tmp_path / "client.log")
        process.start()
        assert process.proc is not None
        try:
            await process.wait_serving(CLIENT_SERVICE)
            rm = identity.metadata("staff/rm-a", Role.RELATIONSHIP_MANAGER)
            async with grpc.aio.insecure_channel(process.address) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                clients = client_service_pb2_grpc.ClientServiceStub(channel)
                watch = health.Watch(health_pb2.HealthCheckRequest(service=CLIENT_SERVICE))
                assert (await watch.read()).status == SERVING
                in_flight = [asyncio.ensure_future(clients.ListClients(
                    client_service_pb2.ListClientsRequest(), metadata=rm, timeout=10))
                    for _ in range(20)]
                await asyncio.sleep(0.01)  # Let the calls reach the wire.
                signalled = time.monotonic()
                process.proc.send_signal(signal.SIGTERM)
                update = await asyncio.wait_for(watch.read(), timeout=drain + 1)
                alive_when_told = process.proc.poll() is None
                # Routing still reaches this replica during the drain window: serve it.
                during_drain = await clients.ListClients(
                    client_service_pb2.ListClientsRequest(), metadata=rm, timeout=5)
                watch.cancel()  # An open stream would otherwise hold shutdown for the grace.
                results = await asyncio.gather(*in_flight, return_exceptions=True)
            exit_code = await _wait_exit(process, drain + grace + 3)
            exited_after = time.monotonic() - signalled
        finally:
            process.kill()
        assert update.status == NOT_SERVING
        assert alive_when_told
        assert list(during_drain.clients) == []
        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == []
        assert len(results) == 20
        assert exit_code == 0, process.log_path.read_text()[-3000:]
        assert drain <= exited_after < drain + grace + 3
