"""GetClient and CreateClient against a do-nothing echo server, measured in the same run.

The service and the echo server are each pinned to CPU 0; load comes from CPU 1. GetClient
and the echo anchor are driven by h2load (cheap per request, so it never bottlenecks); the
server's own per-RPC log confirms the calls really succeeded, since h2load cannot read gRPC
status. CreateClient needs a distinct request per call, so a Python grpc.aio generator drives
it, and its ratio is taken against the echo server driven by that same generator.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import grpc
from google.type import date_pb2, money_pb2

from bench.tools import (
    LOAD_CPU,
    ROOT,
    Measurement,
    h2load,
    python_load,
    start_pinned,
    summary,
    wait_ready,
)
from crm.client.v1 import client_pb2, client_service_pb2, client_service_pb2_grpc
from crm_client.domain.credit_code import make_credit_code
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port, pii_env

GET_PATH = "/crm.client.v1.ClientService/GetClient"


def _client_message(index: int, prefix: str) -> client_pb2.Client:
    """Return a valid medium manufacturer with a unique credit code."""
    cny = "CNY"
    return client_pb2.Client(
        display_name=f"深圳基准测试制造{prefix}{index}有限公司",
        credit_code=make_credit_code("91440300", f"{prefix}{index:06d}"[-8:]),
        industry_code="C3411",
        region_code="440300",
        ownership_type=client_pb2.OWNERSHIP_TYPE_PRIVATE,
        founding_date=date_pb2.Date(year=2010, month=3, day=1),
        employee_count=400,
        annual_revenue=money_pb2.Money(currency_code=cny, units=250_000_000),
        total_assets=money_pb2.Money(currency_code=cny, units=300_000_000),
    )


async def run(*, reps: int = 3, seconds: float = 6.0) -> dict[str, Any]:
    """Run the benchmark and return its results."""
    os.sched_setaffinity(0, {LOAD_CPU})
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    kit = IdentityKit.create(tmp / "identity")
    echo_port, client_port = free_port(), free_port()
    echo = start_pinned(["-m", "bench.echo_server", str(echo_port)], {}, tmp / "echo.log")
    env = {
        **pii_env(),
        **kit.env("client"),
        "GRPC_PORT": str(client_port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/client.db",
        "LOG_LEVEL": "info",
    }
    service = start_pinned(["-m", "crm_client"], env, tmp / "client.log")
    try:
        await wait_ready(f"127.0.0.1:{echo_port}")
        await wait_ready(f"127.0.0.1:{client_port}", "crm.client.v1.ClientService")
        return await _measure(kit, echo_port, client_port, tmp, reps, seconds)
    finally:
        for proc in (echo, service):
            proc.terminate()
            proc.wait(20)


async def _measure(
    kit: IdentityKit, echo_port: int, client_port: int, tmp: Path, reps: int, seconds: float
) -> dict[str, Any]:
    echo_addr, client_addr = f"127.0.0.1:{echo_port}", f"127.0.0.1:{client_port}"
    rm = kit.metadata("staff/rm-bench", Role.RELATIONSHIP_MANAGER)
    channel = grpc.aio.insecure_channel(client_addr)
    stub = client_service_pb2_grpc.ClientServiceStub(channel)
    echo_channel = grpc.aio.insecure_channel(echo_addr)
    echo_call = echo_channel.unary_unary("/bench.Echo/Echo")
    first = None
    for i in range(200):
        created = await stub.CreateClient(
            client_service_pb2.CreateClientRequest(
                client=_client_message(i, "SEED"), request_id=str(uuid.uuid4())
            ),
            metadata=rm,
        )
        first = first or created
    assert first is not None
    body = client_service_pb2.GetClientRequest(name=first.name).SerializeToString()
    sequence = iter(range(10**9))
    results: dict[str, list[Measurement]] = {
        "echo_h2load": [],
        "get_client": [],
        "echo_python": [],
        "create_client": [],
    }

    async def create(_: int) -> None:
        n = next(sequence)
        await stub.CreateClient(
            client_service_pb2.CreateClientRequest(
                client=_client_message(n, "BN"), request_id=str(uuid.uuid4())
            ),
            metadata=rm,
        )

    async def echo_py(_: int) -> None:
        await echo_call(body)

    for _ in range(reps):
        token = dict(kit.metadata("staff/rm-bench", Role.RELATIONSHIP_MANAGER))
        results["echo_h2load"].append(
            h2load(echo_addr, "/bench.Echo/Echo", body, headers={}, seconds=seconds)
        )
        results["get_client"].append(
            h2load(client_addr, GET_PATH, body, headers=token, seconds=seconds)
        )
        results["echo_python"].append(await python_load(echo_py, seconds=seconds / 2))
        results["create_client"].append(await python_load(create, seconds=seconds / 2))
    await channel.close()
    await echo_channel.close()
    ok, failed = _server_outcomes(tmp / "client.log", GET_PATH)
    sent = sum(m.calls for m in results["get_client"])
    out: dict[str, Any] = {name: summary(runs) for name, runs in results.items()}
    out["get_client_ratio"] = round(
        out["get_client"]["rate_per_s"] / out["echo_h2load"]["rate_per_s"],
        3,
    )
    out["create_client_ratio"] = round(
        out["create_client"]["rate_per_s"] / out["echo_python"]["rate_per_s"],
        3,
    )
    out["server_confirmed"] = {
        "get_client_ok": ok,
        "get_client_failed": failed,
        "h2load_counted": sent,
    }
    return out


def _server_outcomes(log: Path, method: str) -> tuple[int, int]:
    ok = failed = 0
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("rpc_method") == method:
            if record.get("code") == "OK":
                ok += 1
            else:
                failed += 1
    return ok, failed


def write_results(results: dict[str, Any]) -> Path:
    """Write results as JSON and a short Markdown table."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "client.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| measure | calls/s | p50 ms | p99 ms | runs |", "|---|---|---|---|---|"]
    for name in ("echo_h2load", "get_client", "echo_python", "create_client"):
        r = results[name]
        lines.append(
            f"| {name} | {r['rate_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['runs_per_s']} |"
        )
    lines.append(
        f"\nGetClient / echo: **{results['get_client_ratio']}**; "
        f"CreateClient / echo (python generator): **{results['create_client_ratio']}**"
    )
    lines.append(f"\nServer-side check: {results['server_confirmed']}")
    path = folder / "client.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    outcome = asyncio.run(run())
    print(write_results(outcome).read_text())
