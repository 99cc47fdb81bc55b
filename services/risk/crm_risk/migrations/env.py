"""Alembic environment of the risk service."""

from crm_risk import models
from crm_risk.groups import models as group_models
from crm_runtime.migrations import run_env, service_metadata

run_env(service_metadata(models.RISK_TABLES + group_models.GROUP_TABLES))
