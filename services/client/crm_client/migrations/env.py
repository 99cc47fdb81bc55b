"""Alembic environment of the client service."""

from crm_client import models, models_groups, models_import
from crm_runtime.migrations import run_env, service_metadata

run_env(
    service_metadata(
        models.CLIENT_TABLES + models_groups.GROUP_TABLES + models_import.IMPORT_TABLES
    )
)
