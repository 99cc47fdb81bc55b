"""Rule base class, the posting a rule looks at, and small shared helpers.

A rule is a small object configured once from its ruleset parameters. The engine builds one
``Posting`` per booking and calls, for the rules that asked for it:
- ``on_use`` for each facility whose traced loan money a payment carried out of the unit;
- ``on_hop`` when loan money moved to another of the unit's accounts;
- ``on_debit`` for every payment, ``on_receipt`` for every receipt that is not a drawdown or
  a move between the unit's own accounts.
Rules report hits through the engine's ``emit``, which grades, dedupes and corroborates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from crm_risk.monitoring.engine.classify import Classifier
from crm_risk.monitoring.engine.history import Party
from crm_risk.monitoring.engine.ledger import Account, Take
from crm_risk.monitoring.engine.model import FacilityContext, Transaction
from crm_risk.monitoring.engine.ruleset import RuleParams, as_float, as_str
from crm_risk.monitoring.engine.state import UnitState
from crm_risk.monitoring.engine.trace import FacilityTrace, Use
from crm_risk.monitoring.engine.units import UnitProfile

DAY = 86_400.0


@dataclass(slots=True)
class Posting:
    """One booking as the rules see it."""

    txn: Transaction
    t: float
    day: int  # Beijing calendar day
    state: UnitState
    unit: UnitProfile
    account: Account
    cls: str  # payee or remitter class
    party_key: str
    party: Party | None  # what was known of the counterparty before this posting
    takes: Sequence[Take]  # loan money the payment carried, lot by lot
    before: float | None = None  # the account's balance just before a payment
    loan_before: float = 0.0  # loan money traced into the account just before it

    def own_money_before(self) -> float | None:
        """Return the account's own (not loan) money just before the payment, if known."""
        return None if self.before is None else max(0.0, self.before - self.loan_before)


class Sink(Protocol):
    """Where rules report hits (the engine)."""

    known_seconds: float  # a payee paid this long before a drawdown is a known payee
    classifier: Classifier

    def emit(
        self, p: Posting, rule: Rule, *, scope: str, client_id: str,
        facility: FacilityContext | None, at_stake: float, evidence: Iterable[str],
        message: str, facts: dict[str, float | str], level: str | None = None,
        ceiling: str | None = None,
    ) -> None:
        """Record a hit unless the same client + rule + scope window already alerted."""


class Rule:
    """Base of all monitoring rules."""

    rule_id: ClassVar[str]
    use_classes: ClassVar[frozenset[str]] = frozenset()  # on_use for these payee classes
    all_uses: ClassVar[bool] = False  # on_use for every use
    on_hops: ClassVar[bool] = False
    on_debits: ClassVar[bool] = False
    on_receipts: ClassVar[bool] = False

    def __init__(self, params: RuleParams, sink: Sink, max_entries: int) -> None:
        """Read the common parameters and let the subclass read its own."""
        self.sink = sink
        self.level = as_str(params, "level")
        self.dedupe_seconds = as_float(params, "dedupe_days") * DAY
        self.red_from = as_float(params, "red_from")
        self.orange_from = as_float(params, "orange_from")
        self.max_entries = max_entries
        self.configure(params)

    def configure(self, params: RuleParams) -> None:
        """Read rule-specific parameters (override in subclasses)."""

    def on_use(self, p: Posting, use: Use, trace: FacilityTrace,
               facility: FacilityContext | None) -> None:
        """Inspect a payment of traced loan money (override in rules that watch uses)."""

    def on_hop(self, p: Posting) -> None:
        """Inspect loan money moving between the unit's accounts (override if needed)."""

    def on_debit(self, p: Posting) -> None:
        """Inspect any payment (override in rules that watch every debit)."""

    def on_receipt(self, p: Posting) -> None:
        """Inspect a receipt (override in rules that watch receipts)."""


def money(amount: float) -> str:
    """Return ``amount`` formatted as yuan with thousands separators."""
    return f"{amount:,.2f}"


def payee_key(account: str, name: str) -> str:
    """Return the key a counterparty is tracked under: its account, else its name."""
    return account or f"name:{name}"


def path_text(path: Sequence[str]) -> str:
    """Return a money path (posting ids, drawdown first) as text."""
    return " -> ".join(path)


def facility_amount(facility: FacilityContext | None, trace: FacilityTrace | None) -> float:
    """Return what a facility's share is measured against: its amount, else what was drawn."""
    if facility is not None and facility.amount > 0:
        return facility.amount
    if trace is not None:
        return sum(d[1] for d in trace.draws)
    return 0.0


def window_uses(trace: FacilityTrace, classes: frozenset[str], since: float) -> list[Use]:
    """Return the trace's uses of ``classes`` at or after ``since``."""
    return [u for u in trace.uses if u.t >= since and u.cls in classes]
