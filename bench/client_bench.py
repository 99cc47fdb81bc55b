"""GetClient and CreateClient against a do-nothing echo server, measured in the same run.

The services and the echo server are pinned to CPU 0; load comes from CPU 1. GetClient and
the echo anchor are driven by h2load (cheap per request, so it never bottlenecks); the
server's own per-RPC log confirms the calls really succeeded, since h2load cannot read gRPC
status. GetClient is measured twice: with the row cache (the default on SQLite) and on a second
service with the cache off, so the cost of a store read per call is visible. CreateClient needs
a distinct request per call, so a Python grpc.aio generator drives it, and its ratio is taken
against the echo server driven by that same generator.
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
ROWS = ("echo_h2load", "get_client", "get_client_uncached", "echo_python", "create_client")


def _client_message(index: int, prefix: str) -> client_pb2.Client:
    """Return a valid medium manufacturer with a unique credit code."""
    return client_pb2.Client(
        display_name=f"深圳基准测试制造{prefix}{index}有限公司",
        credit_code=make_credit_code("91440300", f"{prefix}{index:06d}"[-8:]),
        industry_code="C3411",
        region_code="440300",
        ownership_type=client_pb2.OWNERSHIP_TYPE_PRIVATE,
        founding_date=date_pb2.Date(year=2010, month=3, day=1),
        employee_count=400,
        annual_revenue=money_pb2.Money(currency_code="CNY", units=250_000_000),
        total_assets=money_pb2.Money(currency_code="CNY", units=300_000_000),
    )


async def run(*, reps: int = 3, seconds: float = 6.0) -> dict[str, Any]:
    """Run the benchmark and return its results."""
    os.sched_setaffinity(0, {LOAD_CPU})
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    kit = IdentityKit.create(tmp / "identity")
    ports = {name: free_port() for name in ("echo", "cached", "uncached")}
    keys = pii_env()
    procs = [start_pinned(["-m", "bench.echo_server", str(ports["echo"])], {}, tmp / "echo.log")]
    for name, cache in (("cached", "true"), ("uncached", "false")):
        env = {
            **keys,
            **kit.env("client"),
            "GRPC_PORT": str(ports[name]),
            "READ_CACHE": cache,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/{name}.db",
            "LOG_LEVEL": "info",
        }
        procs.append(start_pinned(["-m", "crm_client"], env, tmp / f"{name}.log"))
    try:
        await wait_ready(f"127.0.0.1:{ports['echo']}")
        for name in ("cached", "uncached"):
            await wait_ready(f"127.0.0.1:{ports[name]}", "crm.client.v1.ClientService")
        return await _measure(kit, ports, tmp, reps, seconds)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(20)


async def _seed(address: str, kit: IdentityKit) -> bytes:
    """Create 200 clients; return a serialized GetClientRequest for the first one."""
    rm = kit.metadata("staff/rm-bench", Role.RELATIONSHIP_MANAGER)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        names = []
        for i in range(200):
            created = await stub.CreateClient(
                client_service_pb2.CreateClientRequest(
                    client=_client_message(i, "SEED"), request_id=str(uuid.uuid4())
                ),
                metadata=rm,
            )
            names.append(created.name)
    return client_service_pb2.GetClientRequest(name=names[0]).SerializeToString()


async def _measure(
    kit: IdentityKit, ports: dict[str, int], tmp: Path, reps: int, seconds: float
) -> dict[str, Any]:
    addr = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    bodies = {name: await _seed(addr[name], kit) for name in ("cached", "uncached")}
    rm = kit.metadata("staff/rm-bench", Role.RELATIONSHIP_MANAGER)
    channel = grpc.aio.insecure_channel(addr["cached"])
    stub = client_service_pb2_grpc.ClientServiceStub(channel)
    echo_channel = grpc.aio.insecure_channel(addr["echo"])
    echo_call = echo_channel.unary_unary("/bench.Echo/Echo")
    sequence = iter(range(10**9))
    results: dict[str, list[Measurement]] = {name: [] for name in ROWS}

    async def create(_: int) -> None:
        await stub.CreateClient(
            client_service_pb2.CreateClientRequest(
                client=_client_message(next(sequence), "BN"), request_id=str(uuid.uuid4())
            ),
            metadata=rm,
        )

    async def echo_py(_: int) -> None:
        await echo_call(bodies["cached"])

    for _ in range(reps):  # Interleaved, so drift on a shared machine hits every row alike.
        token = dict(kit.metadata("staff/rm-bench", Role.RELATIONSHIP_MANAGER))
        results["echo_h2load"].append(
            h2load(addr["echo"], "/bench.Echo/Echo", bodies["cached"], headers={}, seconds=seconds)
        )
        results["get_client"].append(
            h2load(addr["cached"], GET_PATH, bodies["cached"], headers=token, seconds=seconds)
        )
        results["get_client_uncached"].append(
            h2load(addr["uncached"], GET_PATH, bodies["uncached"], headers=token, seconds=seconds)
        )
        results["echo_python"].append(await python_load(echo_py, seconds=seconds / 2))
        results["create_client"].append(await python_load(create, seconds=seconds / 2))
    await channel.close()
    await echo_channel.close()
    out: dict[str, Any] = {name: summary(runs) for name, runs in results.items()}
    echo_rate = out["echo_h2load"]["rate_per_s"]
    out["get_client_ratio"] = round(out["get_client"]["rate_per_s"] / echo_rate, 3)
    out["get_client_uncached_ratio"] = round(
        out["get_client_uncached"]["rate_per_s"] / echo_rate, 3
    )
    out["create_client_ratio"] = round(
        out["create_client"]["rate_per_s"] / out["echo_python"]["rate_per_s"], 3
    )
    ok, failed = _server_outcomes([tmp / "cached.log", tmp / "uncached.log"], GET_PATH)
    sent = sum(m.calls for key in ("get_client", "get_client_uncached") for m in results[key])
    out["server_confirmed"] = {
        "get_client_ok": ok,
        "get_client_failed": failed,
        "h2load_counted": sent,
    }
    return out


def _server_outcomes(logs: list[Path], method: str) -> tuple[int, int]:
    """Count OK and failed calls of `method` in the services' own per-RPC log lines."""
    ok = failed = 0
    for log in logs:
        for line in log.read_text().splitlines():
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if record.get("rpc_method") == method:
                ok += record.get("code") == "OK"
                failed += record.get("code") != "OK"
    return ok, failed


def write_results(results: dict[str, Any]) -> Path:
    """Write results as JSON and a short Markdown table; return the Markdown path."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "client.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| measure | calls/s | p50 ms | p99 ms | runs (calls/s) |", "|---|---|---|---|---|"]
    for name in ROWS:
        r = results[name]
        lines.append(
            f"| {name} | {r['rate_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['runs_per_s']} |"
        )
    lines.append(
        f"\nGetClient / echo: **{results['get_client_ratio']}** with the row cache (the SQLite "
        f"default), **{results['get_client_uncached_ratio']}** without it; CreateClient / echo "
        f"(Python generator for both): **{results['create_client_ratio']}**."
    )
    lines.append(f"\nServer-side check of h2load's calls: {results['server_confirmed']}")
    path = folder / "client.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    print(write_results(asyncio.run(run())).read_text())
