"""Real-time transaction monitoring: rules engine, synthetic labelled stream, evaluation.

Pure Python, no I/O: the risk service feeds transactions in, persists state bytes and turns
``Alert`` objects into warnings::

    engine = MonitoringEngine(load_ruleset("MON-2026.1"), clients=lookup, facilities=lookup)
    alerts = engine.process_batch(batch)          # duplicates are ignored
    blobs = engine.snapshot_clients(engine.dirty_clients())   # persist what changed
    engine.mark_clean(blobs)
    # after a restart: engine.restore_client(client_id, blob) for each stored blob

Quality on the labelled synthetic stream: ``python -m crm_risk.monitoring.evaluate --check``;
throughput: ``python -m crm_risk.monitoring.perf``.
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
