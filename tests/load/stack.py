"""The gateway, client and risk services as real OS processes on SQLite, for the load runs.

The gateway process is the one whose memory is watched, so it runs alone in its process; the
test process only drives calls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from gateway_harness import AUDIENCE, ISSUER, Sso, write_keys
from process_harness import ServiceProcess

from crm_gateway.apikeys import new_api_key
from crm_runtime.auth import Role
from crm_runtime.testing import IdentityKit, free_port, pii_env


@dataclass
class Stack:
    """Running processes and the credentials to call the gateway with."""

    gateway: ServiceProcess
    client: ServiceProcess
    risk: ServiceProcess
    http_port: int
    sso: Sso
    system_key: str
    gateway_db: Path

    @property
    def gateway_pid(self) -> int:
        assert self.gateway.proc is not None
        return self.gateway.proc.pid


@asynccontextmanager
async def load_stack(
    tmp_path: Path, identity: IdentityKit, **gateway_env: str
) -> AsyncIterator[Stack]:
    """Start client, risk and the gateway in front of them; stop them all afterwards."""
    sso = Sso()
    (tmp_path / "jwks.json").write_text(json.dumps(sso.jwks()))
    key, entry = new_api_key("bank-monitor", "transaction-monitor", [Role.SYSTEM])
    write_keys(tmp_path / "api_keys.json", [entry])
    services = {
        name: ServiceProcess(f"crm_{name}", {
            **identity.env(name), **pii_env(), "LOG_LEVEL": "warning",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/{name}.db",
        }, tmp_path / f"{name}.log")
        for name in ("client", "risk")
    }
    http_port = free_port()
    gateway = ServiceProcess("crm_gateway", {
        **identity.env("gateway"),
        "LOG_LEVEL": "warning",
        "HTTP_PORT": str(http_port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/gateway.db",
        "CLIENT_ADDR": services["client"].address,
        "RISK_ADDR": services["risk"].address,
        "NOTIFY_ADDR": "127.0.0.1:9",
        "FEEDBACK_ADDR": "127.0.0.1:9",
        "JWKS_FILE": str(tmp_path / "jwks.json"),
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "API_KEYS_FILE": str(tmp_path / "api_keys.json"),
        **gateway_env,
    }, tmp_path / "gateway.log")
    everyone = [*services.values(), gateway]
    try:
        for process in everyone:
            process.start()
        await asyncio.gather(
            services["client"].wait_serving("crm.client.v1.ClientService", timeout=90),
            services["risk"].wait_serving("crm.risk.v1.RiskService", timeout=90),
            gateway.wait_serving("crm.gateway.v1.GatewayService", timeout=90),
        )
        yield Stack(gateway, services["client"], services["risk"], http_port, sso, key,
                    tmp_path / "gateway.db")
    finally:
        for process in everyone:
            try:
                process.terminate(timeout=30)
            except Exception:
                process.kill()
