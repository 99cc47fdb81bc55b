"""Real-time transaction monitoring: rules engine, synthetic labelled stream, evaluation.

Pure Python, no I/O: the risk service feeds transactions in, persists ``snapshot`` bytes and
turns ``Alert`` objects into warnings.
"""

from __future__ import annotations

from crm_risk.monitoring.config import (
    DEFAULT_VERSION,
    RULESETS,
    Ruleset,
    UnknownRuleParameter,
    UnknownRulesetVersion,
    load_ruleset,
)
from crm_risk.monitoring.context import ClientLookup, FacilityLookup
from crm_risk.monitoring.engine import MonitoringEngine
from crm_risk.monitoring.levels import LEVELS, combined_level
from crm_risk.monitoring.model import (
    Alert,
    ClientContext,
    FacilityContext,
    Transaction,
    validate_transaction,
)

__all__ = [
    "DEFAULT_VERSION", "LEVELS", "RULESETS", "Alert", "ClientContext", "ClientLookup",
    "FacilityContext", "FacilityLookup", "MonitoringEngine", "Ruleset", "Transaction",
    "UnknownRuleParameter", "UnknownRulesetVersion", "combined_level", "load_ruleset",
    "validate_transaction",
]
