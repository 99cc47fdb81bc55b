"""The gateway as a real process: readiness under its service name, both faces, and a
graceful SIGTERM that flushes the audit queue."""

from __future__ import annotations

import json

import grpc
import httpx
import pytest
from gateway_harness import AUDIENCE, ISSUER, Sso
from process_harness import ServiceProcess

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_gateway.audit_chain import PUBLIC_CHAIN_KEY
from crm_gateway.audit_query import verify_chains
from crm_runtime.auth import Role
from crm_runtime.db import Database
from crm_runtime.testing import free_port

pytestmark = pytest.mark.process


async def test_process_serves_and_flushes_audit_on_sigterm(identity, tmp_path):
    """`python -m crm_gateway` reports crm.gateway.v1.GatewayService SERVING, serves gRPC and
    HTTP, and on SIGTERM exits 0 with every queued audit record written and chained."""
    sso = Sso()
    (tmp_path / "jwks.json").write_text(json.dumps(sso.jwks()))
    http_port = free_port()
    database_url = f"sqlite+aiosqlite:///{tmp_path}/gateway.db"
    process = ServiceProcess(
        "crm_gateway",
        {
            **identity.env("gateway"),
            "HTTP_PORT": str(http_port),
            "DATABASE_URL": database_url,
            "CLIENT_ADDR": "127.0.0.1:9",
            "JWKS_FILE": str(tmp_path / "jwks.json"),
            "JWT_ISSUER": ISSUER,
            "JWT_AUDIENCE": AUDIENCE,
            "AUDIT_FLUSH_SECONDS": "60",
        },
        tmp_path / "gateway.log",
    )
    process.start()
    try:
        await process.wait_serving("crm.gateway.v1.GatewayService")
        token = sso.token("rm-a", Role.RELATIONSHIP_MANAGER)
        async with grpc.aio.insecure_channel(process.address) as channel:
            stub = client_service_pb2_grpc.ClientServiceStub(channel)
            for _ in range(5):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub.ListClients(
                        client_service_pb2.ListClientsRequest(),
                        metadata=(("authorization", f"Bearer {token}"),),
                    )
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
            assert (await http.get("/openapi.json")).status_code == 200
            assert (await http.get("/v1/clients")).status_code == 401
    finally:
        code = process.terminate()
    assert code == 0, process.log_path.read_text()[-2000:]
    database = Database(database_url)
    try:
        result = await verify_chains(database, PUBLIC_CHAIN_KEY)
    finally:
        await database.dispose()
    assert (result.intact, result.record_count) == (True, 6)
