"""Rule base class, the flow of loan money a debit carries, and small shared helpers.

A rule is a small object configured once from its ruleset parameters. The engine calls
``on_debit`` for every debit (rules with ``on_all_debits``) or only for debits that move loan
money (``on_facility_debits``), and ``on_credit`` for non-drawdown credits (``on_credits``).
Rules keep their windows in ``ClientState`` and report hits through the engine's ``emit``,
which dedupes per client + rule + scope window.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from crm_risk.monitoring.config import RuleParams, as_float, as_str
from crm_risk.monitoring.context import ClientProfile
from crm_risk.monitoring.model import FacilityContext, Transaction
from crm_risk.monitoring.state import ClientState, FacilityState, Stamp


class AlertSink(Protocol):
    """Where rules report hits (the engine)."""

    def emit(
        self,
        state: ClientState,
        rule: Rule,
        *,
        txn: Transaction,
        t: float,
        scope: str,
        level: str,
        facility_id: str | None,
        evidence: Iterable[str],
        message: str,
        facts: dict[str, float | str],
    ) -> None:
        """Record a hit unless the same client + rule + scope window already alerted."""


@dataclass(slots=True)
class FacilityFlow:
    """How much of a debit is loan money, of which facility, and where it goes."""

    facility: FacilityState
    context: FacilityContext | None
    attributed: float
    explicit: bool  # the debit carried the facility id (vs. inferred from the account)
    internal: bool  # payee is one of the client's own accounts at this bank
    entrusted_payee: bool  # payee is an approved entrusted-payment counterparty


class Rule:
    """Base of all monitoring rules."""

    rule_id: ClassVar[str]
    on_all_debits: ClassVar[bool] = False
    on_facility_debits: ClassVar[bool] = False
    on_credits: bool = False

    def __init__(self, params: RuleParams, sink: AlertSink, max_entries: int) -> None:
        """Read the common parameters and let the subclass read its own."""
        self.sink = sink
        self.level = as_str(params, "level")
        self.dedupe_seconds = as_float(params, "dedupe_hours") * 3600.0
        self.max_entries = max_entries
        self.configure(params)

    def configure(self, params: RuleParams) -> None:
        """Read rule-specific parameters (override in subclasses)."""

    def on_debit(
        self,
        txn: Transaction,
        t: float,
        state: ClientState,
        profile: ClientProfile,
        flow: FacilityFlow | None,
    ) -> None:
        """Inspect a debit (override in rules that watch debits)."""

    def on_credit(
        self, txn: Transaction, t: float, state: ClientState, profile: ClientProfile
    ) -> None:
        """Inspect a credit that is not a drawdown (override in rules that watch credits)."""


def keyword_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """Return one case-insensitive regex matching any of ``words`` (None if there are none)."""
    cleaned = sorted({w for w in words if w}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile("|".join(re.escape(w) for w in cleaned), re.IGNORECASE)


def matches(pattern: re.Pattern[str] | None, text: str) -> bool:
    """Return whether ``pattern`` occurs in ``text``."""
    return pattern is not None and bool(text) and pattern.search(text) is not None


def push_stamp(band: deque[Stamp], stamp: Stamp, cutoff: float, cap: int) -> None:
    """Append ``stamp`` to ``band``, dropping entries before ``cutoff`` and beyond ``cap``."""
    band.append(stamp)
    while band and (band[0][0] < cutoff or len(band) > cap):
        band.popleft()


def money(amount: float) -> str:
    """Return ``amount`` formatted as yuan with thousands separators."""
    return f"{amount:,.2f}"


def payee_key(account: str, name: str) -> str:
    """Return the key a payee (or a remitter) is tracked under: its account, else its name."""
    return account or f"name:{name}"
