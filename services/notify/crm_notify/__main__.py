"""Run the notification service: `python -m crm_notify`."""

from __future__ import annotations

from crm_notify.app import build, migrate
from crm_notify.config import NotifySettings
from crm_runtime.logging import configure_logging
from crm_runtime.server import ServiceDefinition, run


async def _definition() -> ServiceDefinition:
    settings = NotifySettings()
    configure_logging(level=settings.log_level, service=settings.service_name)
    definition, _ = await build(settings)
    return definition


if __name__ == "__main__":
    import os

    # Embedded SQLite has no separate migration step, so the service migrates itself there.
    if os.environ.get("MIGRATE_ON_START", "1") == "1":
        migrate(NotifySettings())
    run(_definition)
