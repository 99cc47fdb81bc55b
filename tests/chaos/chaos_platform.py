"""The four services and the gateway as real processes, on SQLite or on a PostgreSQL cluster.

Each process keeps its port across restarts, so event subscribers and the gateway's upstreams
stay valid when a process is SIGKILLed and started again. The wiring (who subscribes to whom,
which settings each service needs) is the demo launcher's, so the chaos runs exercise the same
platform the demo shows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from process_harness import ServiceProcess

from crm_demo.launcher import SPECS, Spec
from crm_demo.sso import DemoSso
from crm_gateway.apikeys import new_api_key
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port

PROCESS_NAMES = ("client", "risk", "notify", "feedback", "gateway")
SERVICES = ("client", "risk", "notify", "feedback")
# A store URL per process name: sqlite file or a database on the chaos PostgreSQL cluster.
StoreUrls = dict[str, str]


@dataclass
class Platform:
    """Five processes, their stores, the SSO that signs staff tokens and a system's API key."""

    folder: Path
    identity: IdentityKit
    sso: DemoSso
    api_key: str
    store_urls: StoreUrls
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    health_names: dict[str, str] = field(default_factory=dict)
    http_port: int = 0

    @property
    def gateway_address(self) -> str:
        """Return the gateway's gRPC host:port."""
        return self.processes["gateway"].address

    def start(self, name: str) -> None:
        """Start (or restart) one process."""
        self.processes[name].start()

    def kill(self, name: str) -> None:
        """SIGKILL one process."""
        self.processes[name].kill()

    async def wait_serving(self, name: str, timeout: float = 90.0) -> None:
        """Wait until the process's own service reports SERVING."""
        await self.processes[name].wait_serving(self.health_names[name], timeout)

    async def start_all(self) -> None:
        """Start every process and wait until all serve."""
        for name in PROCESS_NAMES:
            self.start(name)
        for name in PROCESS_NAMES:
            await self.wait_serving(name)

    def stop_all(self) -> None:
        """SIGTERM every process (SIGKILL if it does not stop)."""
        for process in self.processes.values():
            if process.proc is None or process.proc.poll() is not None:
                continue
            try:
                process.terminate(timeout=20)
            except Exception:
                process.kill()

    def alive(self) -> dict[str, bool]:
        """Return, per process, whether it is running."""
        return {
            name: p.proc is not None and p.proc.poll() is None
            for name, p in self.processes.items()
        }


def _env_for(
    spec: Spec, addresses: dict[str, str], platform: Platform, relay_interval: str
) -> dict[str, str]:
    subscribers = ",".join(f"{n}={addresses[n]}" for n in spec.subscribers)
    return {
        **spec.extra_env(addresses),
        **platform.identity.env(spec.name),
        "EVENT_SUBSCRIBERS": subscribers,
        "RELAY_INTERVAL_SECONDS": relay_interval,
        "DATABASE_URL": platform.store_urls[spec.name],
        "HEALTH_CHECK_INTERVAL_SECONDS": "0.5",
        "LOG_LEVEL": "warning",
    }


def build_platform(folder: Path, store_urls: StoreUrls, relay_interval: str = "0.1") -> Platform:
    """Lay out the processes (not started): ports, keys, SSO, API keys file, environments."""
    folder.mkdir(parents=True, exist_ok=True)
    identity = IdentityKit.create(folder / "identity")
    sso = DemoSso(folder)
    api_key, entry = new_api_key("chaos-1", "chaos-core", [Role.SYSTEM])
    keys_file = folder / "api_keys.json"
    keys_file.write_text(json.dumps({"keys": [entry.to_json()]}))
    platform = Platform(folder, identity, sso, api_key, store_urls)
    specs = {s.name: s for s in SPECS}
    processes = {
        name: ServiceProcess(specs[name].module, {}, folder / f"{name}.log")
        for name in PROCESS_NAMES
    }
    addresses = {name: p.address for name, p in processes.items()}
    for name, process in processes.items():
        process.env = _env_for(specs[name], addresses, platform, relay_interval)
        platform.health_names[name] = specs[name].health_name
    platform.http_port = free_port()
    processes["gateway"].env.update(
        platform.sso.gateway_env(),
        HTTP_PORT=str(platform.http_port),
        API_KEYS_FILE=str(keys_file),
        # Chaos traffic comes from one test process: keep the per-caller limits out of the way.
        RATE_LIMIT_PER_SECOND="5000",
        RATE_LIMIT_BURST="5000",
        AUDIT_FLUSH_SECONDS="0.1",
    )
    platform.processes = processes
    return platform


async def until(check: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> None:
    """Poll `check` until it is true; raise TimeoutError naming `what` after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)
