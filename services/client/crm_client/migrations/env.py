"""Alembic environment of the client service."""

from crm_client import models
from crm_runtime.migrations import run_env, service_metadata

run_env(service_metadata(models.CLIENT_TABLES))
