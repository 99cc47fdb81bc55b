"""Demo step: staff reach the platform only through the gateway, over HTTP/JSON and gRPC."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import httpx

from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_demo.launcher import Service
from crm_demo.loader import LoadResult
from crm_demo.portfolio import PortfolioClient
from crm_demo.sso import DemoSso


async def run(
    gateway: Service, sso: DemoSso, portfolio: Sequence[PortfolioClient], loaded: LoadResult
) -> dict[str, object]:
    """An RM reads their client and is refused another RM's, via HTTP and via gRPC."""
    mine = portfolio[0]
    other = next(
        p
        for p in portfolio
        if p.create.relationship_manager != mine.create.relationship_manager
        and p.create.team != mine.create.team
    )
    rm_id = mine.create.relationship_manager.removeprefix("staff/")
    token = sso.token(rm_id, ["relationship_manager"], [mine.create.team])
    headers = {"authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{gateway.http_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        own = await http.get(f"/v1/{loaded.names[mine.index]}", headers=headers)
        denied = await http.get(f"/v1/{loaded.names[other.index]}", headers=headers)
        anonymous = await http.get(f"/v1/{loaded.names[mine.index]}")
        spec = (await http.get("/openapi.json")).json()
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        reply = await stub.GetClient(
            client_service_pb2.GetClientRequest(name=loaded.names[mine.index]),
            metadata=(("authorization", f"Bearer {token}"),),
        )
    print("\nThrough the gateway (SSO token for staff/" + rm_id + "):")
    print(f"  HTTP GET own client      -> {own.status_code} {own.json().get('displayName', '')}")
    reason = denied.json().get("details", [{}])[0].get("reason", "")
    print(f"  HTTP GET other RM client -> {denied.status_code} {reason}")
    print(f"  HTTP GET without a token -> {anonymous.status_code}")
    print(f"  gRPC GetClient own       -> OK {reply.display_name}")
    print(f"  OpenAPI document: {len(spec.get('paths', {}))} paths (GET {base}/openapi.json)")
    return {
        "own": own.status_code,
        "other": denied.status_code,
        "anonymous": anonymous.status_code,
        "openapi_paths": len(spec.get("paths", {})),
    }
