"""Shared benchmark machinery: pinned processes, h2load runs, a Python load generator."""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = "0"
LOAD_CPU = 1


@dataclass
class Measurement:
    """Throughput and latency of one run."""

    calls: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int = 0

    @property
    def rate(self) -> float:
        """Calls per second."""
        return self.calls / self.seconds if self.seconds else 0.0


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (nearest rank)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def start_pinned(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process pinned to the server CPU."""
    with log.open("ab") as out:
        return subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, sys.executable, *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


async def wait_ready(address: str, service: str = "", timeout: float = 30) -> None:
    """Wait until a server answers (health SERVING, or any answer for the echo server)."""
    deadline = time.monotonic() + timeout
    async with grpc.aio.insecure_channel(address) as channel:
        while time.monotonic() < deadline:
            try:
                if service is None:
                    await channel.channel_ready()
                    return
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    return  # The echo server has no health service but is up.
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{address} not ready")


def grpc_frame(message: bytes) -> bytes:
    """Return a length-prefixed gRPC message frame (uncompressed)."""
    return b"\x00" + struct.pack(">I", len(message)) + message


def h2load(
    address: str,
    path: str,
    body: bytes,
    *,
    headers: dict[str, str],
    seconds: float,
    connections: int = 4,
    streams: int = 4,
) -> Measurement:
    """Drive a unary method with h2load from the load CPU; latency from its per-request log."""
    if shutil.which("h2load") is None:
        raise RuntimeError("h2load missing: apt-get install nghttp2-client")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "body"
        data.write_bytes(grpc_frame(body))
        log = Path(tmp) / "log"
        args = [
            "taskset",
            "-c",
            str(LOAD_CPU),
            "h2load",
            "-c",
            str(connections),
            "-m",
            str(streams),
            "-D",
            f"{seconds:g}",
            "--warm-up-time=1",
            "-d",
            str(data),
            f"--log-file={log}",
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
        ]
        for key, value in headers.items():
            args += ["-H", f"{key}: {value}"]
        subprocess.run([*args, f"http://{address}{path}"], check=True, capture_output=True)
        latencies = []
        errors = 0
        for line in log.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 3:
                latencies.append(int(parts[2]) / 1000)
                errors += parts[1] != "200"
    return Measurement(
        len(latencies), seconds, percentile(latencies, 50), percentile(latencies, 99), errors
    )


async def python_load(
    call: Callable[[int], Awaitable[None]], *, seconds: float, concurrency: int = 16
) -> Measurement:
    """Run `call(i)` from `concurrency` workers for `seconds`; count successes and errors."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    stop_at = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal errors, counter
        while time.monotonic() < stop_at:
            counter += 1
            started = time.perf_counter()
            try:
                await call(counter)
            except grpc.aio.AioRpcError:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return Measurement(
        len(latencies), elapsed, percentile(latencies, 50), percentile(latencies, 99), errors
    )


def median_of(runs: list[Measurement]) -> Measurement:
    """Return the run with the median rate."""
    return sorted(runs, key=lambda m: m.rate)[len(runs) // 2]


def summary(runs: list[Measurement]) -> dict[str, object]:
    """Return the median run's figures and every run's rate."""
    best = median_of(runs)
    return {
        "rate_per_s": round(best.rate, 1),
        "p50_ms": round(best.p50_ms, 2),
        "p99_ms": round(best.p99_ms, 2),
        "errors": best.errors,
        "runs_per_s": [round(r.rate, 1) for r in runs],
        "median_of": len(runs),
        "spread": round(statistics.pstdev(r.rate for r in runs), 1),
    }
