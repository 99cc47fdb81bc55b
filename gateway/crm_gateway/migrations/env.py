"""Alembic environment of the gateway."""

from crm_gateway import models
from crm_runtime.migrations import run_env, service_metadata

run_env(service_metadata(models.GATEWAY_TABLES))
