"""Alembic environment of the feedback service."""

from crm_feedback import models
from crm_runtime.migrations import run_env, service_metadata

run_env(service_metadata(models.FEEDBACK_TABLES))
