"""Alembic environment of the notification service."""

from crm_notify import models
from crm_runtime.migrations import run_env, service_metadata

run_env(service_metadata(models.NOTIFY_TABLES))
