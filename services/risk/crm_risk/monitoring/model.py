"""Value types of real-time transaction monitoring: transactions, context and alerts.

Amounts are float yuan on purpose. The engine only compares amounts with thresholds and sums a
few dozen of them per window; binary rounding (about 1e-16 relative) is far below any threshold
margin, while ``Decimal`` arithmetic would cost several times more on the hot path (the engine
targets tens of thousands of transactions per second on one core). Nothing here books money:
the service keeps the exact amounts it received and only hands floats to the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Direction = Literal["debit", "credit"]
CounterpartyType = Literal[
    "corporate", "individual", "broker", "futures", "wealth", "bank", "microlender",
    "guarantor", "unknown",
]
Channel = Literal["transfer", "cash", "card", "bills", "fx"]
FacilityType = Literal["working_capital", "fixed_asset", "project_finance", "trade_finance"]
Level = Literal["blue", "yellow", "orange", "red"]

DIRECTIONS: frozenset[str] = frozenset({"debit", "credit"})
COUNTERPARTY_TYPES: frozenset[str] = frozenset(
    {"corporate", "individual", "broker", "futures", "wealth", "bank", "microlender",
     "guarantor", "unknown"}
)
CHANNELS: frozenset[str] = frozenset({"transfer", "cash", "card", "bills", "fx"})
FACILITY_TYPES: frozenset[str] = frozenset(
    {"working_capital", "fixed_asset", "project_finance", "trade_finance"}
)


@dataclass(frozen=True, slots=True)
class Transaction:
    """One booked movement on one of a client's accounts at this bank.

    A credit carrying ``facility_id`` is a drawdown of that facility into ``account_id``; a debit
    carrying it is a payment core banking knows was made with that facility's money (entrusted
    payment, loan-dedicated account). Debits without the tag can still be attributed to a
    facility by the engine (see ``engine``).
    """

    txn_id: str
    account_id: str
    client_id: str
    facility_id: str | None
    direction: Direction
    amount: float
    currency: str
    counterparty_name: str
    counterparty_account: str
    counterparty_industry: str
    counterparty_type: CounterpartyType
    channel: Channel
    booked_at: datetime
    is_cash: bool
    balance_after: float | None


@dataclass(frozen=True, slots=True)
class ClientContext:
    """What the engine knows about a client's own and related accounts and people.

    ``own_accounts`` are the client's accounts at this bank: transfers among them are internal
    moves, not payments. The client's accounts at other banks belong in ``related_party_accounts``
    because money there has left this bank's view, like money at a related party.
    """

    client_id: str
    related_party_names: frozenset[str] = frozenset()
    related_party_accounts: frozenset[str] = frozenset()
    own_accounts: frozenset[str] = frozenset()
    legal_rep_name: str = ""
    controller_name: str = ""


@dataclass(frozen=True, slots=True)
class FacilityContext:
    """A loan facility: its size, purpose, drawdown account and entrusted-payment payees."""

    facility_id: str
    client_id: str
    facility_type: FacilityType
    amount: float
    purpose_category: str
    drawdown_account: str
    entrusted_counterparties: frozenset[str] = frozenset()
    total_project_investment: float | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule hit: level, evidence and the dedupe key of its window.

    ``window_key`` is ``client|rule|scope|window-start-epoch``; the engine emits at most one
    alert per key. ``raised_at`` is the booking time of the transaction that completed the
    pattern (event time, so replays give the same alerts).
    """

    rule_id: str
    rule_version: str
    level: Level
    client_id: str
    facility_id: str | None
    window_key: str
    evidence_txn_ids: list[str]
    message: str
    facts: dict[str, float | str]
    raised_at: datetime


def validate_transaction(txn: Transaction) -> None:
    """Raise ``ValueError`` naming the first field of ``txn`` the engine cannot use."""
    problems: list[tuple[str, bool]] = [
        ("txn_id", not txn.txn_id),
        ("account_id", not txn.account_id),
        ("client_id", not txn.client_id),
        ("direction", txn.direction not in DIRECTIONS),
        ("amount", not (math.isfinite(txn.amount) and txn.amount > 0)),
        ("counterparty_type", txn.counterparty_type not in COUNTERPARTY_TYPES),
        ("channel", txn.channel not in CHANNELS),
        ("booked_at", txn.booked_at.tzinfo is None or txn.booked_at.utcoffset() is None),
        ("balance_after",
         txn.balance_after is not None and not math.isfinite(txn.balance_after)),
    ]
    for name, bad in problems:
        if bad:
            msg = f"transaction {txn.txn_id!r}: invalid {name}"
            raise ValueError(msg)
