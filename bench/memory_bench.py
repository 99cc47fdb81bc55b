"""Resident memory of every service and the gateway, idle and after a bulk import.

Each process starts on its own SQLite store (`./run.sh bench memory`), answers its health
check, then idles for IDLE_SECONDS before its RSS is read from /proc (VmRSS, and VmHWM, the
peak so far). Then MEMORY_BENCH_ROWS clients (default 50,000) are imported into the client
service through `crm_import`, and after the same idle period its RSS is read again: memory a
service keeps after a large job (caches, freed but unreturned arenas) shows there. The goal
(issue #15) is under 120 MB idle for each.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.gateway_bench import AUDIENCE, ISSUER, _sso
from bench.tools import ROOT, wait_ready
from crm_runtime.auth import IDENTITY_METADATA_KEY, Role
from crm_runtime.testing import IdentityKit, free_port, pii_env

IDLE_SECONDS = 15.0
GOAL_MB = 120.0
SERVICES = {  # process name -> (module, gRPC service its health check names)
    "client": ("crm_client", "crm.client.v1.ClientService"),
    "risk": ("crm_risk", "crm.risk.v1.RiskService"),
    "notify": ("crm_notify", "crm.notify.v1.NotificationService"),
    "feedback": ("crm_feedback", "crm.feedback.v1.FeedbackService"),
    "gateway": ("crm_gateway", "crm.gateway.v1.GatewayService"),
}


def _rows() -> int:
    return int(os.environ.get("MEMORY_BENCH_ROWS", "50000"))


def memory_mb(pid: int) -> dict[str, float]:
    """Return a live process's resident set now and at its peak, in MB (from /proc)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": found["VmRSS"], "peak_mb": found["VmHWM"]}


def _env(name: str, tmp: Path, kit: IdentityKit, ports: dict[str, int]) -> dict[str, str]:
    env = {**pii_env(), **kit.env(name), "GRPC_PORT": str(ports[name]),
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/{name}.db", "LOG_LEVEL": "warning"}
    if name == "feedback":  # answer links are signed with it; any 32 random bytes do
        env["ANSWER_TOKEN_SECRET"] = base64.b64encode(os.urandom(32)).decode()
    if name == "gateway":
        jwks, _ = _sso(tmp)
        env.update({"HTTP_PORT": str(free_port()), "JWKS_FILE": str(jwks),
                    "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE,
                    "CLIENT_ADDR": f"127.0.0.1:{ports['client']}",
                    "RISK_ADDR": f"127.0.0.1:{ports['risk']}",
                    "NOTIFY_ADDR": f"127.0.0.1:{ports['notify']}",
                    "FEEDBACK_ADDR": f"127.0.0.1:{ports['feedback']}"})
    return env


def _start(module: str, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, **env})


def _import(tmp: Path, kit: IdentityKit, port: int, rows: int) -> float:
    """Generate a book of `rows` clients and import it; return the import's seconds."""
    book = tmp / "book.jsonl"
    subprocess.run([sys.executable, "-m", "crm_sim.book", str(book), "--count", str(rows)],
                   check=True, cwd=ROOT, capture_output=True)
    token = kit.signers["gateway"].mint("systems/book-migration", [Role.SYSTEM],
                                        ttl_seconds=7200)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "crm_import", str(book), "--target",
                    f"127.0.0.1:{port}", "--import-id", "memory-bench", "--quiet"],
                   check=True, cwd=ROOT, capture_output=True,
                   env={**os.environ, "CRM_IMPORT_HEADER": f"{IDENTITY_METADATA_KEY}={token}"})
    return time.perf_counter() - started


async def run() -> dict[str, Any]:
    """Start every process, measure idle, import into the client service, measure again."""
    tmp = Path(tempfile.mkdtemp(prefix="crm-memory-"))
    kit = IdentityKit.create(tmp / "identity")
    ports = {name: free_port() for name in SERVICES}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, (module, _) in SERVICES.items():
            procs[name] = _start(module, tmp / f"{name}.log", _env(name, tmp, kit, ports))
        for name, (_, service) in SERVICES.items():
            await wait_ready(f"127.0.0.1:{ports[name]}", service, timeout=120)
        print(f"  all up; idle {IDLE_SECONDS:.0f} s", flush=True)
        await asyncio.sleep(IDLE_SECONDS)
        idle = {name: memory_mb(proc.pid) for name, proc in procs.items()}
        rows = _rows()
        print(f"  importing {rows:,} clients", flush=True)
        seconds = await asyncio.to_thread(_import, tmp, kit, ports["client"], rows)
        await asyncio.sleep(IDLE_SECONDS)
        after = memory_mb(procs["client"].pid)
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {"idle": idle, "client_after_import": after, "import_rows": rows,
            "import_seconds": round(seconds, 1), "idle_seconds": IDLE_SECONDS,
            "goal_mb": GOAL_MB,
            "met": all(m["rss_mb"] < GOAL_MB for m in idle.values()),
            "load_average": os.getloadavg()}


def write_results(results: dict[str, Any]) -> Path:
    """Write bench/results/memory.json and memory.md."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "memory.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| process | idle RSS MB | peak so far MB |", "|---|---|---|"]
    lines += [f"| {name} | {m['rss_mb']} | {m['peak_mb']} |"
              for name, m in results["idle"].items()]
    after = results["client_after_import"]
    lines += [
        f"| client after importing {results['import_rows']:,} clients "
        f"({results['import_seconds']} s) | {after['rss_mb']} | {after['peak_mb']} |",
        "",
        f"Goal: every process under {results['goal_mb']:.0f} MB idle: "
        f"{'met' if results['met'] else 'not met'}. Idle {results['idle_seconds']:.0f} s "
        f"after start (and after the import); load average {results['load_average']}.",
    ]
    path = folder / "memory.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    print(write_results(asyncio.run(run())).read_text())
