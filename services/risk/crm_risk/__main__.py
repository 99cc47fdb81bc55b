"""Run the risk service: `python -m crm_risk`."""

from __future__ import annotations

from crm_risk.app import build, migrate
from crm_risk.config import RiskSettings
from crm_runtime.gcsteward import defer_full_collections
from crm_runtime.logging import configure_logging
from crm_runtime.server import ServiceDefinition, run


async def _definition() -> ServiceDefinition:
    settings = RiskSettings()
    configure_logging(level=settings.log_level, service=settings.service_name)
    definition, _ = await build(settings)
    return definition


if __name__ == "__main__":
    import os

    # Embedded SQLite has no separate migration step, so the service migrates itself there.
    settings = RiskSettings()
    if os.environ.get("MIGRATE_ON_START", "1") == "1":
        migrate(settings)
    if settings.gc_defer_full_collections:
        defer_full_collections()
    run(_definition)
