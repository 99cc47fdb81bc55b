"""The bulk import through the gateway: routed as a stream, for systems and ops only, audited."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from client_harness import client_service
from gateway_harness import gateway_service
from sqlalchemy import select
from sqlmodel import col

from crm.client.v1 import client_import_pb2, client_service_pb2_grpc
from crm_gateway.models import AuditRow
from crm_import.rows import read_rows
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit
from crm_sim.book.__main__ import write_book

CLIENT = "/crm.client.v1.ClientService"


async def test_import_is_routed_for_systems_refused_to_people_and_audited(
    sqlite_url: str, identity: IdentityKit, tmp_path: Path
) -> None:
    book = tmp_path / "book.jsonl"
    write_book(book, 20, bad_percent=0.0, seed=3, truth=None)
    chunk = client_import_pb2.ImportClientsRequest(
        import_id="through-gateway",
        chunk_sequence=1,
        rows=[row.message for row in read_rows(book)],
    )
    async with (
        client_service(sqlite_url, identity) as clients,
        gateway_service(tmp_path, identity, client_addr=clients.running.address) as gw,
    ):
        stub = client_service_pb2_grpc.ClientServiceStub(gw.channel)
        answers = [a async for a in stub.ImportClients(iter([chunk]), metadata=gw.system())]
        assert [a.loaded_row_count for a in answers] == [20]
        found = await stub.GetImport(
            client_import_pb2.GetImportRequest(name="imports/through-gateway"),
            metadata=gw.system(),
        )
        assert found.loaded_row_count == 20
        rm = gw.person("rm-1", Role.RELATIONSHIP_MANAGER)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            _ = [a async for a in stub.ImportClients(iter([chunk]), metadata=rm)]
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        await gw.flush_audit()
        async with gw.running.gateway.definition.database.read() as session:
            methods = (await session.execute(select(col(AuditRow.method)))).scalars().all()
    assert f"{CLIENT}/ImportClients" in methods
    assert f"{CLIENT}/GetImport" in methods
