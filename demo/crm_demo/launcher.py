"""Starts the platform's services as local processes on the embedded SQLite stores.

Ports are chosen for every service first, so each one can be told where its event subscribers
and upstreams are before any starts. A service whose package is not present is skipped.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_demo.sso import DemoSso
from crm_runtime.testing import IdentityKit, free_port, pii_env

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Spec:
    """How to run one service in the demo."""

    name: str
    module: str
    health_name: str
    subscribers: tuple[str, ...]
    extra_env: Callable[[dict[str, str]], dict[str, str]]


def _addresses(ports: dict[str, str]) -> dict[str, str]:
    return {f"{name.upper()}_ADDR": address for name, address in ports.items()}


SPECS = (
    Spec(
        "client",
        "crm_client",
        "crm.client.v1.ClientService",
        ("risk", "notify", "feedback"),
        lambda _: pii_env(),
    ),
    Spec(
        "risk",
        "crm_risk",
        "crm.risk.v1.RiskService",
        ("client", "notify", "feedback"),
        lambda ports: {**_addresses(ports), **pii_env()},
    ),
    Spec("notify", "crm_notify", "crm.notify.v1.NotificationService", (), _addresses),
    Spec(
        "feedback",
        "crm_feedback",
        "crm.feedback.v1.FeedbackService",
        ("risk", "notify"),
        lambda ports: {
            **_addresses(ports),
            "ANSWER_TOKEN_SECRET": base64.b64encode(os.urandom(32)).decode(),
        },
    ),
    Spec("gateway", "crm_gateway", "crm.gateway.v1.GatewayService", (), _addresses),
)


@dataclass
class Service:
    """One running service process."""

    spec: Spec
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    http_port: int = 0

    @property
    def address(self) -> str:
        """Return host:port."""
        return f"127.0.0.1:{self.port}"


@dataclass
class Platform:
    """The services of one demo run, their keys and their folder."""

    folder: Path
    identity: IdentityKit
    sso: DemoSso
    services: dict[str, Service] = field(default_factory=dict)

    def start_all(
        self,
        only: tuple[str, ...] | None = None,
        settings: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """Start every service whose package exists (or those named in `only`).

        `settings` adds environment per service name (the demo's local providers, pacing).
        """
        specs = [
            s
            for s in SPECS
            if importlib.util.find_spec(s.module) is not None
            and importlib.util.find_spec(f"{s.module}.__main__") is not None
            and (only is None or s.name in only)
        ]
        ports = {s.name: free_port() for s in specs}
        addresses = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
        for spec in specs:
            subscribers = ",".join(
                f"{n}={addresses[n]}" for n in spec.subscribers if n in addresses
            )
            env = {
                **spec.extra_env(addresses),
                "EVENT_SUBSCRIBERS": subscribers,
                "RELAY_INTERVAL_SECONDS": "0.1",
                **(settings or {}).get(spec.name, {}),
            }
            http_port = 0
            if spec.name == "gateway":
                http_port = free_port()
                env.update(self.sso.gateway_env(), HTTP_PORT=str(http_port))
            self._start(spec, ports[spec.name], env, http_port)

    def _start(self, spec: Spec, port: int, env: dict[str, str], http_port: int) -> None:
        log = self.folder / f"{spec.name}.log"
        full_env = {
            **os.environ,
            **env,
            **self.identity.env(spec.name),
            "GRPC_HOST": "127.0.0.1",
            "GRPC_PORT": str(port),
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.folder / spec.name}.db",
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 - fixed interpreter and module.
                [sys.executable, "-m", spec.module],
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        self.services[spec.name] = Service(spec, port, proc, log, http_port)

    async def wait_ready(self, timeout: float = 90.0) -> None:  # noqa: ASYNC109
        """Wait until every started service's health check answers SERVING."""
        for service in self.services.values():
            await _wait_serving(service, timeout)

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


async def _wait_serving(service: Service, limit_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_seconds
    async with grpc.aio.insecure_channel(service.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while loop.time() < deadline:
            if service.proc.poll() is not None:
                raise RuntimeError(f"{service.spec.name} exited; see {service.log}")
            try:
                reply = await stub.Check(
                    health_pb2.HealthCheckRequest(service=service.spec.health_name), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{service.spec.name} not ready; see {service.log}")


def new_platform(folder: Path) -> Platform:
    """Create a clean folder with fresh identity keys."""
    if folder.exists():
        for path in folder.glob("*.db*"):
            path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return Platform(folder, IdentityKit.create(folder / "identity"), DemoSso(folder))
