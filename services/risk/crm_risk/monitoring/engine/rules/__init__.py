"""Monitoring rules, one small class each, and the registry the engine builds them from."""

from __future__ import annotations

from crm_risk.monitoring.engine.rules.balance import BalanceCollapseRule
from crm_risk.monitoring.engine.rules.base import Posting, Rule, Sink
from crm_risk.monitoring.engine.rules.cash import CashStructuringRule
from crm_risk.monitoring.engine.rules.diversion import (
    DisguisedRepaymentRule,
    RealEstateRule,
    SecuritiesInvestmentRule,
)
from crm_risk.monitoring.engine.rules.flows import FastInFastOutRule, RoundTripRule
from crm_risk.monitoring.engine.rules.parties import EntrustedMismatchRule, RelatedPartyRule

RULE_CLASSES: dict[str, type[Rule]] = {
    cls.rule_id: cls
    for cls in (
        RoundTripRule, FastInFastOutRule, SecuritiesInvestmentRule, RealEstateRule,
        RelatedPartyRule, EntrustedMismatchRule, DisguisedRepaymentRule, CashStructuringRule,
        BalanceCollapseRule,
    )
}

__all__ = [
    "RULE_CLASSES", "BalanceCollapseRule", "CashStructuringRule", "DisguisedRepaymentRule",
    "EntrustedMismatchRule", "FastInFastOutRule", "Posting", "RealEstateRule",
    "RelatedPartyRule", "RoundTripRule", "Rule", "SecuritiesInvestmentRule", "Sink",
]
