"""Run the gateway: `python -m crm_gateway` (gRPC on GRPC_PORT, HTTP/JSON on HTTP_PORT)."""

from __future__ import annotations

import os

import uvloop

from crm_gateway.app import migrate, serve
from crm_gateway.config import GatewaySettings
from crm_runtime.logging import configure_logging


def main() -> None:
    """Migrate the audit store when asked (embedded SQLite), then serve until SIGTERM."""
    settings = GatewaySettings()
    configure_logging(level=settings.log_level, service=settings.service_name)
    if os.environ.get("MIGRATE_ON_START", "1") == "1":
        migrate(settings)
    uvloop.run(serve(settings))


if __name__ == "__main__":
    main()
