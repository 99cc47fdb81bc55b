"""Audit of external calls: complete records, the hash chain, and tamper detection."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from client_harness import client_service, create_request
from gateway_harness import NOTIFY, gateway_service, gateway_with_echo
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlmodel import col

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm.gateway.v1 import gateway_service_pb2, gateway_service_pb2_grpc
from crm_gateway.app import MIGRATIONS
from crm_gateway.audit import AuditEntry, AuditLog
from crm_gateway.audit_query import verify_chains
from crm_gateway.models import AuditRow
from crm_runtime.auth import Role
from crm_runtime.db import Database
from crm_runtime.migrations import upgrade_head


async def all_rows(gw) -> list[AuditRow]:
    """Return every audit row, oldest first (after flushing the queue)."""
    await gw.flush_audit()
    async with gw.running.gateway.definition.database.read() as session:
        return list((await session.execute(select(AuditRow).order_by(col(AuditRow.id)))).scalars())


def auditor(gw):
    """Return a GatewayService stub and an auditor's metadata."""
    return gateway_service_pb2_grpc.GatewayServiceStub(gw.channel), gw.person("aud-1", Role.AUDITOR)


@pytest.fixture
async def stack(sqlite_url, identity, tmp_path):
    """The client service behind a gateway."""
    async with (
        client_service(sqlite_url, identity) as clients,
        gateway_service(tmp_path, identity, client_addr=clients.running.address) as gw,
    ):
        yield gw


def record_calls(log: AuditLog, count: int) -> None:
    """Queue `count` audit entries as calls would."""
    for index in range(count):
        log.record(
            AuditEntry(
                principal="staff/x",
                method=f"/m/{index}",
                outcome="OK",
                transport="grpc",
                request_id="r",
                origin="o",
                call_time=1.0e9,
                duration_micros=1,
            )
        )


class TestRecords:
    async def test_every_call_recorded_with_who_what_outcome(self, stack):
        """Successful, denied and unauthenticated calls over both faces each get one record
        with principal, method, resource, outcome, transport, request id and origin."""
        gw = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        mine = await stub.CreateClient(
            create_request(), metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER)
        )
        await stub.GetClient(
            client_service_pb2.GetClientRequest(name=mine.name),
            metadata=(
                *gw.person("rm-a", Role.RELATIONSHIP_MANAGER),
                ("x-request-id", "audit-req-1"),
            ),
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GetClient(
                client_service_pb2.GetClientRequest(name=mine.name),
                metadata=gw.person("rm-b", Role.RELATIONSHIP_MANAGER),
            )
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GetClient(
                client_service_pb2.GetClientRequest(name=mine.name), metadata=gw.bearer("forged")
            )
        await gw.http.get(
            f"/v1/{mine.name}", headers=gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER)
        )
        rows = await all_rows(gw)
        summary = [
            (r.principal, r.method.rsplit("/", 1)[1], r.resource, r.outcome, r.transport)
            for r in rows
        ]
        assert summary == [
            ("staff/rm-a", "CreateClient", "", "OK", "grpc"),
            ("staff/rm-a", "GetClient", mine.name, "OK", "grpc"),
            ("staff/rm-b", "GetClient", mine.name, "PERMISSION_DENIED", "grpc"),
            ("anonymous", "GetClient", mine.name, "UNAUTHENTICATED", "grpc"),
            ("staff/rm-a", "GetClient", mine.name, "OK", "http"),
        ]
        assert rows[1].request_id == "audit-req-1"
        assert all(r.origin.endswith("127.0.0.1") for r in rows)
        assert all(r.duration_micros > 0 for r in rows)
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]

    async def test_resource_from_nested_path_field(self, stack):
        """UpdateClient's resource comes from client.name (its HTTP path variable)."""
        gw = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        mine = await stub.CreateClient(
            create_request(), metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER)
        )
        await gw.http.patch(
            f"/v1/{mine.name}",
            params={"updateMask": "employeeCount"},
            json={"employeeCount": 7},
            headers=gw.person_headers("rm-a", Role.RELATIONSHIP_MANAGER),
        )
        rows = await all_rows(gw)
        assert (rows[-1].method.rsplit("/", 1)[1], rows[-1].resource) == ("UpdateClient", mine.name)

    async def test_auditor_lists_records_with_paging(self, stack):
        """ListAuditRecords pages through records, filtered by principal."""
        gw = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        for _ in range(5):
            await stub.ListClients(
                client_service_pb2.ListClientsRequest(),
                metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER),
            )
        await gw.flush_audit()
        api, metadata = auditor(gw)
        first = await api.ListAuditRecords(
            gateway_service_pb2.ListAuditRecordsRequest(page_size=3, principal="staff/rm-a"),
            metadata=metadata,
        )
        second = await api.ListAuditRecords(
            gateway_service_pb2.ListAuditRecordsRequest(
                page_size=3, principal="staff/rm-a", page_token=first.next_page_token
            ),
            metadata=metadata,
        )
        assert len(first.audit_records) == 3 and len(second.audit_records) == 2
        assert second.next_page_token == ""
        sequences = [r.sequence for r in [*first.audit_records, *second.audit_records]]
        assert sequences == sorted(sequences)
        assert all(r.principal == "staff/rm-a" for r in first.audit_records)


class TestChain:
    async def test_intact_chain_verifies(self, stack):
        """After mixed traffic the verify RPC reports the chain intact."""
        gw = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        for _ in range(10):
            await stub.ListClients(
                client_service_pb2.ListClientsRequest(),
                metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER),
            )
        await gw.flush_audit()
        api, metadata = auditor(gw)
        reply = await api.VerifyAuditChain(
            gateway_service_pb2.VerifyAuditChainRequest(), metadata=metadata
        )
        assert reply.intact
        assert reply.chain_count == 1
        assert reply.record_count == 10

    @pytest.mark.parametrize(
        "tamper",
        ["edit_outcome", "edit_principal", "delete_middle", "delete_first", "swap_hash"],
    )
    async def test_tampering_with_one_record_detected(self, stack, tamper):
        """Editing, deleting or re-hashing one record breaks the chain at that record."""
        gw = stack
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        for _ in range(6):
            await stub.ListClients(
                client_service_pb2.ListClientsRequest(),
                metadata=gw.person("rm-a", Role.RELATIONSHIP_MANAGER),
            )
        rows = await all_rows(gw)
        target = rows[0] if tamper == "delete_first" else rows[3]
        database = gw.running.gateway.definition.database
        async with database.write() as session:
            where = col(AuditRow.id) == target.id
            if tamper == "edit_outcome":
                await session.execute(
                    update(AuditRow).where(where).values(outcome="PERMISSION_DENIED")
                )
            elif tamper == "edit_principal":
                await session.execute(
                    update(AuditRow).where(where).values(principal="staff/someone-else")
                )
            elif tamper == "swap_hash":
                await session.execute(update(AuditRow).where(where).values(record_hash="0" * 64))
            else:
                await session.execute(delete(AuditRow).where(where))
        api, metadata = auditor(gw)
        reply = await api.VerifyAuditChain(
            gateway_service_pb2.VerifyAuditChainRequest(), metadata=metadata
        )
        assert not reply.intact
        (broken,) = reply.breaks
        assert broken.sequence == target.seq
        if tamper.startswith("edit"):
            assert broken.record == f"auditRecords/{target.id}"
            assert "hash does not match" in broken.problem
        elif tamper.startswith("delete"):
            assert "missing" in broken.problem

    async def test_reading_the_audit_log_is_audited(self, stack):
        """The auditor's own verify call becomes a record too."""
        gw = stack
        api, metadata = auditor(gw)
        await api.VerifyAuditChain(gateway_service_pb2.VerifyAuditChainRequest(), metadata=metadata)
        rows = await all_rows(gw)
        assert (rows[-1].principal, rows[-1].method) == (
            "staff/aud-1",
            "/crm.gateway.v1.GatewayService/VerifyAuditChain",
        )

    async def test_verify_over_http(self, stack):
        """POST /v1/auditRecords:verifyChain answers the verification as JSON."""
        gw = stack
        reply = await gw.http.post(
            "/v1/auditRecords:verifyChain",
            json={},
            headers=gw.person_headers("aud-1", Role.AUDITOR),
        )
        assert reply.status_code == 200
        assert reply.json()["intact"] is True


class TestWriter:
    async def test_queue_flushed_on_graceful_stop(self, identity, tmp_path):
        """Entries still queued at SIGTERM are written before the process ends."""
        async with gateway_with_echo(tmp_path, identity, audit_flush_seconds=60) as (gw, _):
            call = gw.channel.unary_unary(f"{NOTIFY}/GetMessage")
            for _ in range(25):
                await call(b"x", metadata=gw.system())
            assert gw.running.gateway.audit.backlog == 25
            url = gw.settings.database_url
            key = gw.running.gateway.audit.key
        database = Database(url)
        try:
            result = await verify_chains(database, key)
            assert (result.intact, result.record_count) == (True, 25)
        finally:
            await database.dispose()

    async def test_store_outage_keeps_entries_and_chain(self, tmp_path):
        """A failed batch stays queued and the chain continues without a gap on retry."""
        database = Database(f"sqlite+aiosqlite:///{tmp_path}/not_migrated_yet.db")
        log = AuditLog(database, instance="t", batch_size=10)
        record_calls(log, 15)
        with pytest.raises(OperationalError):
            await log.flush()
        assert log.backlog == 15
        upgrade_head(MIGRATIONS, database.url)  # The store comes back.
        assert await log.flush() == 15
        result = await verify_chains(database, log.key)
        assert (result.intact, result.record_count) == (True, 15)
        await database.dispose()

    async def test_flush_under_steady_traffic_writes_whole_batches(self, tmp_path):
        """Entries arriving during a flush wait for the next one (no endless tiny batches).

        A writer that drained until the queue was empty turned steady traffic into one
        transaction (and fsync) per handful of calls, which cost more than the calls.
        """
        database = Database(f"sqlite+aiosqlite:///{tmp_path}/audit.db")
        upgrade_head(MIGRATIONS, database.url)
        log = AuditLog(database, instance="t", batch_size=1000)
        record_calls(log, 120)
        flushing = asyncio.create_task(log.flush())
        for _ in range(3):  # Calls keep arriving while the batch is built and written.
            await asyncio.sleep(0)
            record_calls(log, 7)
        assert await flushing == 120
        assert log.backlog == 21
        assert await log.flush() == 21
        assert log.backlog == 0
        result = await verify_chains(database, log.key)
        assert (result.intact, result.record_count) == (True, 141)
        await database.dispose()

    async def test_backlog_full_refuses_calls(self, identity, tmp_path):
        """When the backlog is full the gateway refuses calls instead of serving them unaudited."""
        async with gateway_with_echo(
            tmp_path, identity, audit_flush_seconds=60, audit_max_backlog=3
        ) as (gw, _):
            call = gw.channel.unary_unary(f"{NOTIFY}/GetMessage")
            for _ in range(3):
                await call(b"x", metadata=gw.system())
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(b"x", metadata=gw.system())
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


class TestBothStores:
    async def test_chain_verifies_and_detects_tampering(self, identity, tmp_path, store_url):
        """On SQLite and PostgreSQL alike, the chain verifies and an edit is caught."""
        async with gateway_with_echo(tmp_path, identity, database_url=store_url) as (gw, _):
            call = gw.channel.unary_unary(f"{NOTIFY}/GetMessage")
            for _ in range(20):
                await call(b"x", metadata=gw.system())
            rows = await all_rows(gw)
            api, metadata = auditor(gw)
            request = gateway_service_pb2.VerifyAuditChainRequest()
            assert (await api.VerifyAuditChain(request, metadata=metadata)).intact
            async with gw.running.gateway.definition.database.write() as session:
                await session.execute(
                    update(AuditRow).where(col(AuditRow.id) == rows[7].id).values(origin="forged")
                )
            reply = await api.VerifyAuditChain(request, metadata=metadata)
            assert not reply.intact
            assert reply.breaks[0].sequence == rows[7].seq
