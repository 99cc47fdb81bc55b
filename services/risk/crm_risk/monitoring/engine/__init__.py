"""Real-time transaction monitoring: fund tracing, rules engine, rule sets.

Pure Python, no I/O: the risk service feeds postings in, persists state bytes and turns
``Alert`` objects into warnings::

    engine = MonitoringEngine(load_ruleset(), clients=lookup, facilities=lookup)
    alerts = engine.process_batch(batch)          # duplicates are ignored
    blobs = engine.snapshot_units(engine.dirty_units())   # persist what changed
    engine.mark_clean(blobs)
    # after a restart: engine.restore_unit(unit_id, blob) for each stored blob

How loan money is traced is ``ledger``; what each rule enforces is in ``rules``. Quality on
the labelled synthetic world lives outside the service: ``python -m crm_sim.monitoring.evaluate``.
"""

from __future__ import annotations

from crm_risk.levels import LEVELS
from crm_risk.monitoring.engine.core import MonitoringEngine
from crm_risk.monitoring.engine.model import (
    Alert,
    ClientContext,
    EntrustedPayee,
    FacilityContext,
    RelatedParty,
    Transaction,
    validate_transaction,
)
from crm_risk.monitoring.engine.ruleset import (
    Ruleset,
    UnknownRuleParameter,
    UnknownRulesetVersion,
    load_ruleset,
)
from crm_risk.monitoring.engine.ruleset_versions import DEFAULT_VERSION, RULESETS
from crm_risk.monitoring.engine.units import ClientLookup, FacilityLookup

__all__ = [
    "DEFAULT_VERSION", "LEVELS", "RULESETS", "Alert", "ClientContext", "ClientLookup",
    "EntrustedPayee", "FacilityContext", "FacilityLookup", "MonitoringEngine", "RelatedParty",
    "Ruleset", "Transaction", "UnknownRuleParameter", "UnknownRulesetVersion",
    "load_ruleset", "validate_transaction",
]
