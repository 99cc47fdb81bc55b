"""GetClient through the gateway and directly to the client service, in one run.

Pinning on the 2-core machine: the gateway runs alone on CPU 0; the client service and the
h2load load generator share CPU 1 (h2load costs ~25 µs a call, a tenth of the service's). Both
paths therefore load the client service and h2load identically, and the gateway adds its own
core: the ratio shows how much throughput the extra hop costs when the gateway has a core of
its own, which is how it is deployed (separate pods). Repetitions interleave direct and gateway
runs. h2load counts every HTTP 200 (gRPC errors included) as success, so successes are
confirmed from the client service's per-RPC log lines, phase by phase.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bench.tools import LOAD_CPU, ROOT, Measurement, h2load, summary, wait_ready
from crm.client.v1 import client_service_pb2, client_service_pb2_grpc
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port, pii_env

GET_PATH = "/crm.client.v1.ClientService/GetClient"
GATEWAY_CPU, CLIENT_CPU = "0", str(LOAD_CPU)
ISSUER, AUDIENCE = "https://sso.bench.test", "crm-gateway"


def _start(args: list[str], env: dict[str, str], log: Path, cpu: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            ["taskset", "-c", cpu, sys.executable, *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def _sso(tmp: Path) -> tuple[Path, str]:
    """Write a JWKS for a fresh RS256 key; return its path and a relationship manager's token."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="bench-rsa", alg="RS256", use="sig")
    path = tmp / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    now = int(time.time())
    claims = {
        "sub": "rm-bench",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "roles": [str(Role.RELATIONSHIP_MANAGER)],
    }
    return path, jwt.encode(claims, key, algorithm="RS256", headers={"kid": "bench-rsa"})


async def run(*, reps: int = 3, seconds: int = 6) -> dict[str, Any]:
    """Run the benchmark and return its results (h2load takes whole seconds only)."""
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-gw-"))
    kit = IdentityKit.create(tmp / "identity")
    jwks, bearer = _sso(tmp)
    client_port, gateway_port = free_port(), free_port()
    client = _start(
        ["-m", "crm_client"],
        {
            **pii_env(),
            **kit.env("client"),
            "GRPC_PORT": str(client_port),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/client.db",
            "LOG_LEVEL": "info",
        },
        tmp / "client.log",
        CLIENT_CPU,
    )
    gateway = _start(
        ["-m", "crm_gateway"],
        {
            **kit.env("gateway"),
            "GRPC_PORT": str(gateway_port),
            "HTTP_PORT": str(free_port()),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/gateway.db",
            "CLIENT_ADDR": f"127.0.0.1:{client_port}",
            "JWKS_FILE": str(jwks),
            "JWT_ISSUER": ISSUER,
            "JWT_AUDIENCE": AUDIENCE,
            "RATE_LIMIT_PER_SECOND": "1000000",
            "RATE_LIMIT_BURST": "1000000",
            "LOG_LEVEL": "info",
        },
        tmp / "gateway.log",
        GATEWAY_CPU,
    )
    try:
        await wait_ready(f"127.0.0.1:{client_port}", "crm.client.v1.ClientService")
        await wait_ready(f"127.0.0.1:{gateway_port}", "crm.gateway.v1.GatewayService")
        return await _measure(kit, bearer, client_port, gateway_port, tmp, reps, seconds)
    finally:
        for proc in (gateway, client):
            proc.terminate()
            proc.wait(20)


async def _measure(
    kit: IdentityKit,
    bearer: str,
    client_port: int,
    gateway_port: int,
    tmp: Path,
    reps: int,
    seconds: int,
) -> dict[str, Any]:
    client_addr, gateway_addr = f"127.0.0.1:{client_port}", f"127.0.0.1:{gateway_port}"
    async with grpc.aio.insecure_channel(gateway_addr) as channel:
        stub = client_service_pb2_grpc.ClientServiceStub(channel)
        created = await stub.CreateClient(
            client_service_pb2.CreateClientRequest(
                client=_seed_client(), request_id=str(uuid.uuid4())
            ),
            metadata=(("authorization", f"Bearer {bearer}"),),
        )
    body = client_service_pb2.GetClientRequest(name=created.name).SerializeToString()
    log = tmp / "client.log"
    runs: dict[str, list[Measurement]] = {"direct": [], "gateway": []}
    confirmed = {"direct": [0, 0], "gateway": [0, 0]}
    offset = _outcomes(log, 0)[2]
    for _ in range(reps):
        internal = dict(kit.metadata("staff/rm-bench", Role.RELATIONSHIP_MANAGER))
        runs["direct"].append(
            h2load(client_addr, GET_PATH, body, headers=internal, seconds=seconds)
        )
        ok, failed, offset = _outcomes(log, offset)
        confirmed["direct"][0] += ok
        confirmed["direct"][1] += failed
        headers = {"authorization": f"Bearer {bearer}"}
        runs["gateway"].append(
            h2load(gateway_addr, GET_PATH, body, headers=headers, seconds=seconds)
        )
        ok, failed, offset = _outcomes(log, offset)
        confirmed["gateway"][0] += ok
        confirmed["gateway"][1] += failed
    out: dict[str, Any] = {name: summary(measurements) for name, measurements in runs.items()}
    out["gateway_ratio"] = round(out["gateway"]["rate_per_s"] / out["direct"]["rate_per_s"], 3)
    # Each repetition's gateway run against the direct run just before it (same conditions).
    out["ratio_per_rep"] = [
        round(g.rate / d.rate, 3) for d, g in zip(runs["direct"], runs["gateway"], strict=True)
    ]
    out["p99_added_ms"] = round(out["gateway"]["p99_ms"] - out["direct"]["p99_ms"], 2)
    out["server_confirmed"] = {
        name: {"ok": ok, "failed": failed, "h2load_counted": sum(m.calls for m in runs[name])}
        for name, (ok, failed) in confirmed.items()
    }
    out["pinning"] = {"gateway": GATEWAY_CPU, "client_service": CLIENT_CPU, "h2load": LOAD_CPU}
    return out


def _seed_client() -> Any:
    from google.type import date_pb2, money_pb2

    from crm.client.v1 import client_pb2
    from crm_client.domain.credit_code import make_credit_code

    cny = money_pb2.Money(currency_code="CNY", units=250_000_000)
    return client_pb2.Client(
        display_name="深圳网关基准制造有限公司",
        credit_code=make_credit_code("91440300", "GW000001"),
        industry_code="C3411",
        region_code="440300",
        ownership_type=client_pb2.OWNERSHIP_TYPE_PRIVATE,
        founding_date=date_pb2.Date(year=2010, month=3, day=1),
        employee_count=400,
        annual_revenue=cny,
        total_assets=cny,
    )


def _outcomes(log: Path, offset: int) -> tuple[int, int, int]:
    """Count GetClient outcomes in the service log from byte `offset`; return the new end."""
    ok = failed = 0
    with log.open("rb") as file:
        file.seek(offset)
        data = file.read()
    complete = data[: data.rfind(b"\n") + 1]
    for line in complete.decode(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("rpc_method") == GET_PATH:
            if record.get("code") == "OK":
                ok += 1
            else:
                failed += 1
    return ok, failed, offset + len(complete)


def write_results(results: dict[str, Any]) -> Path:
    """Write results as JSON and a short Markdown table."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gateway.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| GetClient | calls/s | p50 ms | p99 ms | runs |", "|---|---|---|---|---|"]
    for name in ("direct", "gateway"):
        r = results[name]
        lines.append(
            f"| {name} | {r['rate_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['runs_per_s']} |"
        )
    lines.append(
        f"\nGateway / direct throughput: **{results['gateway_ratio']}** (goal ≥ 0.70); "
        f"p99 added: {results['p99_added_ms']} ms; per repetition: {results['ratio_per_rep']}"
    )
    lines.append(f"\nPinning (CPU): {results['pinning']}")
    lines.append(f"\nServer-side check: {results['server_confirmed']}")
    path = folder / "gateway.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    outcome = asyncio.run(run())
    print(write_results(outcome).read_text())
