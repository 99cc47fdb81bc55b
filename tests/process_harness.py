"""Runs services as real OS processes, for tests that kill them or read their logs and files."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_runtime.testing import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServiceProcess:
    """A service started with `python -m <module>`; stdout and stderr go to a log file."""

    module: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """Return host:port."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process (appending to its log)."""
        env = {**os.environ, **self.env, "GRPC_HOST": "127.0.0.1", "GRPC_PORT": str(self.port)}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        log.close()

    async def wait_serving(
        self,
        service: str,
        timeout: float = 30.0,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        """Wait until health reports `service` SERVING (over TLS with `credentials`, to
        `host`, the name the server certificate carries)."""
        deadline = asyncio.get_running_loop().time() + timeout
        target = f"{host}:{self.port}"
        # Reconnect quickly: gRPC's default backoff (1 s, growing) notices a process that is
        # up seconds after it is.
        options = [
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 300),
        ]
        channel = (
            grpc.aio.insecure_channel(target, options=options)
            if credentials is None
            else grpc.aio.secure_channel(target, credentials, options=options)
        )
        async with channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.module} exited: {self.log_path.read_text()[-3000:]}")
                try:
                    reply = await stub.Check(
                        health_pb2.HealthCheckRequest(service=service), timeout=1
                    )
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.aio.AioRpcError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(
                        f"{self.module} not serving: {self.log_path.read_text()[-3000:]}"
                    )
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait for a graceful exit; return the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)
