"""Alembic environment of the client service."""

from crm_client import models, models_groups
from crm_runtime.migrations import run_env, service_metadata

run_env(service_metadata(models.CLIENT_TABLES + models_groups.GROUP_TABLES))
