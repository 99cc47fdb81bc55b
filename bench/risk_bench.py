"""Monitoring stream throughput and receipt-to-warning latency of the risk service.

The service runs pinned to CPU 0 (`bench.tools.start_pinned`) on a fresh SQLite store with
every monitoring rule on; the load generator runs on CPU 1. Each repetition starts a fresh
service, registers the synthetic portfolio (ClientCreated events through the inbox, monitoring
profiles and facilities through the API), then streams the labelled synthetic transactions in
batches over one MonitorTransactions call as fast as the service acknowledges them.

Latency is measured inside the service: each acknowledgement carries `receipt_to_commit_ms`,
the time from reading the batch off the stream to committing it with its warnings (the same
value feeds the `crm.risk.monitoring.batch_latency` histogram). The client-side send-to-ack
time is reported too; it adds the wait behind earlier batches. Fund tracing and every rule of
the live ruleset are on. The anchor is the pure engine (`crm_sim.monitoring.perf`) on the same
data, also pinned to CPU 0, in the same run, interleaved with the service runs so that both
see the same machine. A last run registers 100,000 facilities on a fresh service
(`bench.risk_registration`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc

from bench.risk_registration import register_book
from bench.tools import LOAD_CPU, ROOT, percentile, start_pinned, wait_ready
from crm.events.v1 import event_pb2_grpc
from crm.risk.v1 import risk_service_pb2, risk_service_pb2_grpc
from crm_risk.monitoring.store.convert import transaction_message
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port, pii_env
from crm_sim.monitoring.registration import register
from crm_sim.monitoring.world import World, generate

STREAM_PATH = "/crm.risk.v1.RiskService/MonitorTransactions"
GOAL_RATE = 10_000
GOAL_P99_MS = 35.0
EXTRA_ENV: dict[str, str] = {}


def _batches(
    data: World, names: dict[str, str], size: int
) -> list[tuple[str, bytes]]:
    """Return the stream's request messages, serialized ahead (the client then only sends)."""
    messages = [
        transaction_message(t, facility=names[t.facility_id] if t.facility_id else "")
        for t in data.transactions
    ]
    return [
        (str(n), risk_service_pb2.MonitorTransactionsRequest(
            batch_id=str(n), transactions=messages[start:start + size]
        ).SerializeToString())
        for n, start in enumerate(range(0, len(messages), size))
    ]


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _stream(
    address: str, batches: list[tuple[str, bytes]], metadata: Any, *, batch_size: int,
    rate: float | None = None, server_pid: int | None = None,
) -> dict[str, Any]:
    """Send every batch on one stream (as fast as possible, or paced at `rate` transactions
    per second); return throughput and latency figures."""
    sent: dict[str, float] = {}
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.stream_stream(
            STREAM_PATH,
            request_serializer=None,
            response_deserializer=risk_service_pb2.MonitorTransactionsResponse.FromString,
        )

        started = time.perf_counter()
        cpu_before = _cpu_seconds(server_pid) if server_pid else 0.0

        async def requests() -> AsyncIterator[bytes]:
            for number, (batch_id, body) in enumerate(batches):
                if rate is not None:
                    due = started + number * batch_size / rate
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                sent[batch_id] = time.perf_counter()
                yield body

        server_ms: list[float] = []
        client_ms: list[float] = []
        accepted = alerts = 0
        async for ack in call(requests(), metadata=metadata):
            client_ms.append((time.perf_counter() - sent[ack.batch_id]) * 1000)
            server_ms.append(ack.receipt_to_commit_ms)
            accepted += ack.accepted
            alerts += ack.alerts
        seconds = time.perf_counter() - started
    cpu = _cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    return {
        "server_cpu_seconds": round(cpu, 3),
        # Contention-proof capacity: what one fully available core would sustain.
        "per_server_cpu_second": round(accepted / cpu, 1) if cpu else None,
        "transactions": accepted,
        "batches": len(batches),
        "alerts": alerts,
        "seconds": round(seconds, 3),
        "rate_per_s": round(accepted / seconds, 1),
        "server_p50_ms": round(percentile(server_ms, 50), 2),
        "server_p99_ms": round(percentile(server_ms, 99), 2),
        "client_p50_ms": round(percentile(client_ms, 50), 2),
        "client_p99_ms": round(percentile(client_ms, 99), 2),
    }


def _engine_anchor(clients: int, seed: int, tmp: Path) -> float:
    """Return the pure engine's transactions per CPU second on CPU 0 (same data)."""
    log = tmp / "engine.log"
    proc = start_pinned(
        ["-m", "crm_sim.monitoring.perf", "--clients", str(clients), "--seed", str(seed),
         "--repeats", "3"], {}, log,
    )
    proc.wait(600)
    match = re.search(r"median: ([\d,]+) tx/s wall", log.read_text())
    return float(match.group(1).replace(",", "")) if match else 0.0


@contextlib.contextmanager
def _service(tmp: Path, name: str, batch_size: int) -> Iterator[tuple[str, IdentityKit, int]]:
    """Run a fresh risk service pinned to CPU 0 on its own SQLite store; yield its address,
    identity kit and pid (taskset execs the interpreter, so the pid is the service's)."""
    kit = IdentityKit.create(tmp / f"identity-{name}")
    port = free_port()
    env = {
        **pii_env(),
        **kit.env("risk"),
        "GRPC_PORT": str(port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/risk-{name}.db",
        "MONITORING_MAX_BATCH": str(max(batch_size, 2000)),
        "LOG_LEVEL": "warning",
        **EXTRA_ENV,
    }
    service = start_pinned(["-m", "crm_risk"], env, tmp / f"risk-{name}.log")
    try:
        yield f"127.0.0.1:{port}", kit, service.pid
    finally:
        service.terminate()
        service.wait(60)


async def _one_run(
    data: World, batch_size: int, tmp: Path, run: int
) -> dict[str, Any]:
    with _service(tmp, str(run), batch_size) as (address, kit, pid):
        await wait_ready(address, "crm.risk.v1.RiskService")
        system = kit.metadata("systems/core-banking", Role.SYSTEM)
        async with grpc.aio.insecure_channel(address) as channel:
            names = await register(
                risk_service_pb2_grpc.RiskServiceStub(channel),
                event_pb2_grpc.EventSinkServiceStub(channel), data.clients, data.facilities,
                system=system,
                client_relay=kit.metadata("systems/client-relay", Role.SYSTEM, kid="client"),
            )
        batches = _batches(data, names, batch_size)
        # The first third of the days at full speed (capacity), the rest paced at the goal
        # rate (latency at the goal load, several hundred batches, so that the p99 rests on
        # several batches, not one or two); both continue the same clients' windows.
        third = len(batches) // 3
        flood = await _stream(address, batches[:third], system, batch_size=batch_size,
                              server_pid=pid)
        paced = await _stream(address, batches[third:], system, batch_size=batch_size,
                              rate=GOAL_RATE, server_pid=pid)
        return {"flood": flood, "paced": paced}


async def _registration_run(tmp: Path) -> dict[str, Any]:
    with _service(tmp, "registration", 1000) as (address, kit, _):
        await wait_ready(address, "crm.risk.v1.RiskService")
        return await register_book(address, kit)


async def run(
    *, reps: int = 3, clients: int = 800, seed: int = 7, batch_size: int = 250
) -> dict[str, Any]:
    """Run the benchmark and return its results."""
    os.sched_setaffinity(0, {LOAD_CPU})
    tmp = Path(tempfile.mkdtemp(prefix="crm-risk-bench-"))
    data = generate(n_clients=clients, seed=seed)
    runs = []
    anchors = []
    try:
        for n in range(reps):  # interleaved: a service run, then the engine anchor
            runs.append(await _one_run(data, batch_size, tmp, n))
            anchors.append(_engine_anchor(clients, seed, tmp))
        registration = await _registration_run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # ~250 MB of stores
    floods = sorted((r["flood"] for r in runs), key=lambda r: r["rate_per_s"])
    paced = sorted((r["paced"] for r in runs), key=lambda r: r["server_p99_ms"])
    flood, pace = floods[len(floods) // 2], paced[len(paced) // 2]
    anchor = statistics.median(anchors)
    return {
        "registration": registration,
        "flood": flood,
        "paced": pace,
        "runs_flood_per_s": [r["flood"]["rate_per_s"] for r in runs],
        "runs_paced_server_p99_ms": [r["paced"]["server_p99_ms"] for r in runs],
        "spread": round(statistics.pstdev(r["flood"]["rate_per_s"] for r in runs), 1),
        "median_of": reps,
        "batch_size": batch_size,
        "clients": clients,
        "engine_anchor_per_s": anchor,
        "engine_anchor_runs": anchors,
        "service_to_engine_ratio": round(flood["rate_per_s"] / anchor, 3) if anchor else None,
        "goal": {"rate_per_s": GOAL_RATE, "p99_ms": GOAL_P99_MS,
                 "met": flood["rate_per_s"] >= GOAL_RATE
                 and pace["rate_per_s"] >= 0.95 * GOAL_RATE
                 and pace["server_p99_ms"] < GOAL_P99_MS},
    }


def write_results(results: dict[str, Any]) -> Path:
    """Write results as JSON and a short Markdown table."""
    folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "risk.json").write_text(json.dumps(results, indent=2) + "\n")
    f, p, r = results["flood"], results["paced"], results["registration"]
    lines = [
        "| measure | value |",
        "|---|---|",
        f"| capacity, full speed: transactions/s (median of {results['median_of']}) | "
        f"{f['rate_per_s']} |",
        f"| capacity runs | {results['runs_flood_per_s']} |",
        f"| full speed: transactions per server CPU second | {f['per_server_cpu_second']} |",
        f"| full speed: server receipt→commit p50 / p99 ms | {f['server_p50_ms']} / "
        f"{f['server_p99_ms']} |",
        f"| paced at {GOAL_RATE}/s: achieved transactions/s | {p['rate_per_s']} |",
        f"| paced: server receipt→commit p50 / p99 ms | {p['server_p50_ms']} / "
        f"{p['server_p99_ms']} |",
        f"| paced: client send→ack p50 / p99 ms | {p['client_p50_ms']} / {p['client_p99_ms']} |",
        f"| paced runs, server p99 ms | {results['runs_paced_server_p99_ms']} |",
        f"| paced: batches (transactions) | {p['batches']} ({p['transactions']}) |",
        f"| batch size / alerts (full speed + paced) | {results['batch_size']} / "
        f"{f['alerts']} + {p['alerts']} |",
        f"| pure engine anchor tx/s (CPU 0) | {results['engine_anchor_per_s']} |",
        f"| service / engine | {results['service_to_engine_ratio']} |",
        f"| goal ≥ {GOAL_RATE} tx/s with p99 < {GOAL_P99_MS} ms | "
        f"{'met' if results['goal']['met'] else 'not met'} |",
        f"| facilities registered (BatchCreateFacilities of {1000}) | "
        f"{r['facilities']} in {r['seconds']} s ({r['per_second']}/s) |",
        f"| registration: mean batch s, first / last tenth of the book | "
        f"{r['batch_seconds_first_tenth']} / {r['batch_seconds_last_tenth']} |",
        f"| goal: 100,000 facilities in < {r['goal_seconds']} s | "
        f"{'met' if r['met'] else 'not met'} |",
    ]
    path = folder / "risk.md"
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 250
    outcome = asyncio.run(run(batch_size=size))
    print(write_results(outcome).read_text())
