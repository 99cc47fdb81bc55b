"""Every service as three replicas on one PostgreSQL database each, events on JetStream.

The replicas of a service share its database, its personal-data keys and its durable consumer;
callers reach them through one gRPC target listing all three (round robin, so a killed replica
is skipped). Stores are migrated once before any replica starts, as the initContainer does.
The gateway and the chaos workload are the chaos suite's own.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from chaos_platform import SERVICES, Platform
from process_harness import ROOT, ServiceProcess

from crm_demo.launcher import SPECS
from crm_demo.sso import DemoSso
from crm_gateway.apikeys import new_api_key
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port

REPLICAS = 3
STARTUP_SECONDS = 300.0


def replica(name: str, index: int) -> str:
    """Return the process name of one replica."""
    return f"{name}-{index}"


def migrate(module: str, service_env: dict[str, str]) -> None:
    """Bring one service's store to the newest schema (once, before its replicas start)."""
    env = {**os.environ, **service_env}
    done = subprocess.run(
        [sys.executable, "-m", f"{module}.migrate"], env=env, cwd=ROOT,
        capture_output=True, timeout=300, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} migration failed: {done.stderr.decode()[-2000:]}")


def build_scaleout(
    folder: Path, store_urls: dict[str, str], nats_url: str, replicas: int = REPLICAS
) -> Platform:
    """Lay out `replicas` processes per service and one gateway (not started)."""
    folder.mkdir(parents=True, exist_ok=True)
    identity = IdentityKit.create(folder / "identity")
    sso = DemoSso(folder)
    api_key, entry = new_api_key("scaleout-1", "scaleout-core", [Role.SYSTEM])
    keys_file = folder / "api_keys.json"
    keys_file.write_text(json.dumps({"keys": [entry.to_json()]}))
    platform = Platform(folder, identity, sso, api_key, store_urls)
    specs = {s.name: s for s in SPECS}
    processes: dict[str, ServiceProcess] = {}
    addresses: dict[str, str] = {}
    for name in SERVICES:
        group = [ServiceProcess(specs[name].module, {}, folder / f"{replica(name, i)}.log")
                 for i in range(replicas)]
        processes.update({replica(name, i): p for i, p in enumerate(group)})
        addresses[name] = "ipv4:" + ",".join(p.address for p in group)
    gateway = ServiceProcess(specs["gateway"].module, {}, folder / "gateway.log")
    addresses["gateway"] = gateway.address
    for name in SERVICES:
        # Computed once per service: replicas must share its keys and secrets.
        shared = {
            **specs[name].extra_env(addresses),
            **identity.env(name),
            "EVENT_TRANSPORT": "nats",
            "NATS_URL": nats_url,
            "DATABASE_URL": store_urls[name],
            "MIGRATE_ON_START": "0",
            "RELAY_INTERVAL_SECONDS": "0.1",
            # A killed replica's unacknowledged events go to a live one after this long.
            "JETSTREAM_ACK_WAIT_SECONDS": "5",
            "HEALTH_CHECK_INTERVAL_SECONDS": "0.5",
            "LOG_LEVEL": "warning",
        }
        for i in range(replicas):
            processes[replica(name, i)].env = dict(shared)
            platform.health_names[replica(name, i)] = specs[name].health_name
    platform.http_port = free_port()
    gateway.env = {
        **specs["gateway"].extra_env(addresses),
        **identity.env("gateway"),
        **sso.gateway_env(),
        "HTTP_PORT": str(platform.http_port),
        "API_KEYS_FILE": str(keys_file),
        "RATE_LIMIT_PER_SECOND": "5000",
        "RATE_LIMIT_BURST": "5000",
        "AUDIT_FLUSH_SECONDS": "0.1",
        "HEALTH_CHECK_INTERVAL_SECONDS": "0.5",
        "LOG_LEVEL": "warning",
    }
    processes["gateway"] = gateway
    platform.health_names["gateway"] = specs["gateway"].health_name
    platform.processes = processes
    return platform


async def start_scaleout(platform: Platform) -> None:
    """Migrate each store once, then start every process and wait until all serve."""
    specs = {s.name: s for s in SPECS}
    await asyncio.gather(*(
        asyncio.to_thread(migrate, specs[name].module, platform.processes[replica(name, 0)].env)
        for name in SERVICES))
    for name in platform.processes:
        platform.start(name)
    for name in platform.processes:
        # Thirteen interpreters importing at once on a shared 2-core machine take a while.
        await platform.wait_serving(name, timeout=STARTUP_SECONDS)
