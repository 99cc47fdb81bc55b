"""What sharing the gateway's limits through Redis costs a call: GetClient through a gateway
with in-memory limits and through one with REDIS_URL, interleaved in one run.

Same pinning as bench/gateway_bench.py: each gateway on CPU 0 (measured one at a time), the
client service, h2load and a redis-server of the run's own on CPU 1. Every call through the
Redis gateway makes one script call (its caller's rate bucket; the credential is known-good
after the first); Redis's own command statistics confirm the count, so the figure is not the
gateway's view of itself. Rate limits are set high enough that none refuses.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import redis

from bench.gateway_bench import AUDIENCE, ISSUER, _seed_client, _sso, _start
from bench.tools import LOAD_CPU, ROOT, Measurement, h2load, summary, wait_ready
from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_runtime.testing import IdentityKit, free_port, pii_env

GET_PATH = "/crm.client.v1.ClientService/GetClient"


def _redis(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server missing (./run.sh setup installs it)")
    port = free_port()
    proc = subprocess.Popen(
        ["taskset", "-c", str(LOAD_CPU), executable, "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc, port
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def _script_calls(port: int) -> int:
    stats = redis.Redis(port=port).info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items()
               if k in ("cmdstat_evalsha", "cmdstat_eval"))


async def run(*, reps: int = 3, seconds: int = 6) -> dict[str, Any]:
    """Run the benchmark and return its results."""
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-gwlimits-"))
    kit = IdentityKit.create(tmp / "identity")
    jwks, bearer = _sso(tmp)
    redis_proc, redis_port = _redis(tmp)
    ports = {name: free_port() for name in ("client", "memory", "redis")}
    procs = [_start(["-m", "crm_client"], {
        **pii_env(), **kit.env("client"), "GRPC_PORT": str(ports["client"]),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/client.db", "LOG_LEVEL": "warning",
    }, tmp / "client.log", str(LOAD_CPU))]
    for name in ("memory", "redis"):
        env = {
            **kit.env("gateway"), "GRPC_PORT": str(ports[name]), "HTTP_PORT": str(free_port()),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/gateway-{name}.db",
            "CLIENT_ADDR": f"127.0.0.1:{ports['client']}", "JWKS_FILE": str(jwks),
            "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, "LOG_LEVEL": "warning",
            "RATE_LIMIT_PER_SECOND": "1000000", "RATE_LIMIT_BURST": "1000000",
        }
        if name == "redis":
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        procs.append(_start(["-m", "crm_gateway"], env, tmp / f"gateway-{name}.log", "0"))
    try:
        await wait_ready(f"127.0.0.1:{ports['client']}", "crm.client.v1.ClientService")
        for name in ("memory", "redis"):
            await wait_ready(f"127.0.0.1:{ports[name]}", "crm.gateway.v1.GatewayService")
        return await _measure(ports, bearer, redis_port, reps, seconds)
    finally:
        for proc in [*procs, redis_proc]:
            proc.terminate()
            proc.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)


async def _measure(
    ports: dict[str, int], bearer: str, redis_port: int, reps: int, seconds: int
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {bearer}"}
    async with grpc.aio.insecure_channel(f"127.0.0.1:{ports['memory']}") as channel:
        created = await client_service_pb2_grpc.ClientServiceStub(channel).CreateClient(
            client_service_pb2.CreateClientRequest(
                client=_seed_client(), request_id=str(uuid.uuid4())
            ),
            metadata=tuple(headers.items()),
        )
    body = client_service_pb2.GetClientRequest(name=created.name).SerializeToString()
    runs: dict[str, list[Measurement]] = {"memory": [], "redis": []}
    script_calls = 0
    for _ in range(reps):  # Interleaved: drift on the shared machine hits both rows alike.
        for name in ("memory", "redis"):
            before = _script_calls(redis_port)
            runs[name].append(h2load(f"127.0.0.1:{ports[name]}", GET_PATH, body,
                                     headers=headers, seconds=seconds))
            calls = _script_calls(redis_port) - before
            if name == "redis":
                script_calls += calls
            elif calls:
                raise RuntimeError("the in-memory gateway called Redis")
    out: dict[str, Any] = {name: summary(measurements) for name, measurements in runs.items()}
    out["redis_ratio"] = round(out["redis"]["rate_per_s"] / out["memory"]["rate_per_s"], 3)
    out["p50_added_ms"] = round(out["redis"]["p50_ms"] - out["memory"]["p50_ms"], 2)
    out["redis_script_calls"] = script_calls
    out["h2load_calls_redis"] = sum(m.calls for m in runs["redis"])
    return out


def write_results(results: dict[str, Any]) -> Path:
    """Write bench/results/gateway_limits.json and .md."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gateway_limits.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| limits | calls/s | p50 ms | p99 ms | runs |", "|---|---|---|---|---|"]
    for name in ("memory", "redis"):
        r = results[name]
        lines.append(
            f"| {name} | {r['rate_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['runs_per_s']} |"
        )
    lines.append(
        f"\nRedis / in-memory throughput: **{results['redis_ratio']}**; p50 added: "
        f"{results['p50_added_ms']} ms. Redis counted {results['redis_script_calls']} script "
        f"calls for {results['h2load_calls_redis']} calls h2load counted (loaded machine)."
    )
    path = folder / "gateway_limits.md"
    path.write_text("\n".join(lines) + "\n")
    return path
