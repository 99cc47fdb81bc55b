"""Run the client-profile service: `python -m crm_client`."""

from __future__ import annotations

from crm_client.app import build, migrate
from crm_client.config import ClientSettings
from crm_runtime.logging import configure_logging
from crm_runtime.server import ServiceDefinition, run


async def _definition() -> ServiceDefinition:
    settings = ClientSettings()
    configure_logging(level=settings.log_level, service=settings.service_name)
    definition, _ = await build(settings)
    return definition


if __name__ == "__main__":
    import os

    # Embedded SQLite has no separate migration step, so the service migrates itself there.
    if os.environ.get("MIGRATE_ON_START", "1") == "1":
        migrate(ClientSettings())
    run(_definition)
