"""Starts the platform's services as local processes on the embedded SQLite stores."""

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

from crm_runtime.testing import IdentityKit, free_port, pii_env

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Service:
    """One running service process."""

    name: str
    module: str
    health_name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> str:
        """Return host:port."""
        return f"127.0.0.1:{self.port}"


@dataclass
class Platform:
    """The services of one demo run, their keys and their folder."""

    folder: Path
    identity: IdentityKit
    services: dict[str, Service] = field(default_factory=dict)

    def start(self, name: str, module: str, health_name: str, env: dict[str, str]) -> Service:
        """Start `python -m module` with its own SQLite store and log file."""
        port = free_port()
        log = self.folder / f"{name}.log"
        full_env = {
            **os.environ,
            **env,
            **self.identity.env(name),
            "GRPC_HOST": "127.0.0.1",
            "GRPC_PORT": str(port),
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.folder / name}.db",
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 - fixed interpreter and module.
                [sys.executable, "-m", module],
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        service = Service(name, module, health_name, port, proc, log)
        self.services[name] = service
        return service

    async def wait_ready(self, service: Service, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Wait until the service's health check answers SERVING."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with grpc.aio.insecure_channel(service.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while loop.time() < deadline:
                if service.proc.poll() is not None:
                    raise RuntimeError(f"{service.name} exited; see {service.log}")
                try:
                    reply = await stub.Check(
                        health_pb2.HealthCheckRequest(service=service.health_name), timeout=1
                    )
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.aio.AioRpcError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{service.name} not ready; see {service.log}")

    def stop(self) -> None:
        """SIGTERM every service and wait for a graceful exit."""
        for service in self.services.values():
            if service.proc.poll() is None:
                service.proc.send_signal(signal.SIGTERM)
        for service in self.services.values():
            try:
                service.proc.wait(30)
            except subprocess.TimeoutExpired:
                service.proc.kill()


def new_platform(folder: Path) -> Platform:
    """Create a clean folder with fresh identity keys."""
    if folder.exists():
        for path in folder.glob("*.db*"):
            path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return Platform(folder, IdentityKit.create(folder / "identity"))


def client_env() -> dict[str, str]:
    """Return the client service's own settings (fresh personal-data keys)."""
    return pii_env()
