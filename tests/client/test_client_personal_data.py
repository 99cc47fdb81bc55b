"""Personal data: encrypted at rest, masked for RMs and in logs, audited when unmasked.

The service runs as a real process so that its real log output and database files are read.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import grpc
import pytest
from client_harness import RM_A, a_client
from google.type import date_pb2
from process_harness import ServiceProcess

from crm.client.v1 import client_pb2, client_service_pb2, client_service_pb2_grpc
from crm_runtime.auth import Role
from crm_runtime.testing import pii_env

ID_NUMBER = "110105199003071239"
MOBILE = "13812345678"
NAME = "王建国"


async def _exercise(process: ServiceProcess, identity) -> tuple[list[str], dict[str, str]]:
    """Write a key person as an RM and read it every way; return RM-visible texts and plain."""
    rm = identity.metadata(RM_A, Role.RELATIONSHIP_MANAGER)
    officer = identity.metadata("staff/ro-1", Role.RISK_OFFICER)
    async with grpc.aio.insecure_channel(process.address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        client = await stub.CreateClient(
            client_service_pb2.CreateClientRequest(client=a_client(), request_id=str(uuid.uuid4())),
            metadata=rm,
        )
        person = client_pb2.KeyPerson(
            display_name=NAME,
            role=client_pb2.KEY_PERSON_ROLE_LEGAL_REPRESENTATIVE,
            id_number=ID_NUMBER,
            mobile_number=MOBILE,
            birth_date=date_pb2.Date(year=1990, month=3, day=7),
            income_band=client_pb2.INCOME_BAND_ABOVE_2M,
        )
        created = await stub.CreateKeyPerson(
            client_service_pb2.CreateKeyPersonRequest(parent=client.name, key_person=person),
            metadata=rm,
        )
        seen = [str(created)]
        seen.append(
            str(
                await stub.ListKeyPersons(
                    client_service_pb2.ListKeyPersonsRequest(parent=client.name), metadata=rm
                )
            )
        )
        seen.append(
            str(
                await stub.GetKeyPerson(
                    client_service_pb2.GetKeyPersonRequest(name=created.name), metadata=rm
                )
            )
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetKeyPerson(
                client_service_pb2.GetKeyPersonRequest(
                    name=created.name, unmask=True, access_reason="curious"
                ),
                metadata=rm,
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        seen.append(caught.value.details() or "")
        plain = await stub.GetKeyPerson(
            client_service_pb2.GetKeyPersonRequest(
                name=created.name, unmask=True, access_reason="credit review #42"
            ),
            metadata=officer,
        )
        return seen, {
            "id": plain.id_number,
            "mobile": plain.mobile_number,
            "name": plain.display_name,
            "masked": created.id_number,
        }


def _assert_absent(blob: bytes, where: str) -> None:
    for secret in (ID_NUMBER, MOBILE, NAME):
        assert secret.encode() not in blob, f"{secret} found in {where}"


async def _run(tmp_path: Path, identity, database_url: str) -> None:
    env = {
        **pii_env(),
        **identity.env("client"),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "debug",
    }
    process = ServiceProcess("crm_client", env, tmp_path / "client.log")
    process.start()
    try:
        await process.wait_serving("crm.client.v1.ClientService")
        seen, plain = await _exercise(process, identity)
    finally:
        assert process.terminate() == 0
    for text in seen:
        _assert_absent(text.encode(), "a response to an RM")
    assert plain == {
        "id": ID_NUMBER,
        "mobile": MOBILE,
        "name": NAME,
        "masked": "110105********1239",
    }
    log = process.log_path.read_bytes()
    assert b'"rpc_method": "/crm.client.v1.ClientService/GetKeyPerson"' in log.replace(
        b'":"', b'": "'
    )
    _assert_absent(log, "the service log")


class TestPersonalData:
    async def test_sqlite_files_logs_and_responses(self, tmp_path, identity):
        """No ID number, mobile or name in RM responses, logs or the SQLite files."""
        db = tmp_path / "client.db"
        await _run(tmp_path, identity, f"sqlite+aiosqlite:///{db}")
        files = [p for p in tmp_path.iterdir() if p.name.startswith("client.db")]
        assert files
        for path in files:
            _assert_absent(path.read_bytes(), path.name)

    @pytest.mark.postgres
    async def test_postgres_rows_and_files(self, tmp_path, identity, store_url):
        """No ID number, mobile or name in any PostgreSQL row or in the database's files."""
        if not store_url.startswith("postgresql"):
            pytest.skip("PostgreSQL variant only")
        await _run(tmp_path, identity, store_url)
        conn = await asyncpg.connect(store_url.replace("+asyncpg", ""))
        try:
            tables = [
                r["tablename"]
                for r in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            ]
            for table in tables:
                for row in await conn.fetch(f'SELECT t::text AS v FROM "{table}" t'):  # noqa: S608
                    _assert_absent(row["v"].encode(), f"table {table}")
            audit = await conn.fetch(
                "SELECT actor, outcome, reason FROM personal_data_access ORDER BY id"
            )
            assert [(a["actor"], a["outcome"]) for a in audit] == [
                ("staff/rm-a", "denied"),
                ("staff/ro-1", "granted"),
            ]
            await conn.execute("CHECKPOINT")
            directory = Path(await conn.fetchval("SHOW data_directory"))
            oid = await conn.fetchval(
                "SELECT oid FROM pg_database WHERE datname = current_database()"
            )
        finally:
            await conn.close()
        base = directory / "base" / str(oid)
        if not base.exists():
            pytest.skip("PostgreSQL data files are not readable from this test")
        for path in base.iterdir():
            if path.is_file():
                _assert_absent(path.read_bytes(), f"PostgreSQL file {path.name}")
