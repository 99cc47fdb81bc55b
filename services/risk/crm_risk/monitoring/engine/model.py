"""Value types of real-time transaction monitoring: postings, context and alerts.

Amounts are float yuan on purpose. The engine compares amounts with thresholds and splits
payments between loan money and own money; binary rounding (about 1e-16 relative) is far below
any threshold margin, while ``Decimal`` arithmetic would cost several times more on the hot path
(the engine targets tens of thousands of postings per second on one core). Nothing here books
money: the service keeps the exact amounts it received and only hands floats to the engine.

Unknown values stay unknown. A posting whose counterparty kind or channel the feed does not
know is ``"unknown"``, and the rules treat it as such: they never infer a kind from a guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Direction = Literal["debit", "credit"]
CounterpartyType = Literal[
    "unknown", "corporate", "individual", "broker", "futures", "wealth", "bank", "microlender",
    "guarantor", "own_account", "affiliate", "government", "loan_account", "fund", "developer",
]
Channel = Literal[
    "unknown", "transfer", "cash", "card", "bills", "fx", "payroll", "tax", "loan",
    "entrusted_payment", "cash_pool",
]
FacilityType = Literal["working_capital", "fixed_asset", "project_finance", "trade_finance"]
Level = Literal["blue", "yellow", "orange", "red"]

DIRECTIONS: frozenset[str] = frozenset({"debit", "credit"})
COUNTERPARTY_TYPES: frozenset[str] = frozenset(CounterpartyType.__args__)  # type: ignore[attr-defined]
CHANNELS: frozenset[str] = frozenset(Channel.__args__)  # type: ignore[attr-defined]
FACILITY_TYPES: frozenset[str] = frozenset(FacilityType.__args__)  # type: ignore[attr-defined]
PERSON_RELATIONS: frozenset[str] = frozenset({
    "executive", "relative", "legal_representative", "actual_controller",
})


@dataclass(frozen=True, slots=True)
class Transaction:
    """One booked movement on one of a client's accounts at this bank.

    A credit carrying ``facility_id`` is a drawdown of that facility into ``account_id``; a
    debit carrying it is a payment core banking knows was made with that facility's money
    (entrusted payment, loan-dedicated account). Untagged postings are traced (``ledger``).
    ``memo`` is the posting's 摘要/附言 as the feed shows it; ``counterparty_client`` is the
    counterparty's client id when it is a client of this bank and the feed says so.
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
    memo: str = ""
    counterparty_client: str = ""
    counterparty_bank: str = ""
    counterparty_industry_name: str = ""


@dataclass(frozen=True, slots=True)
class RelatedParty:
    """A party related to a client: shareholder, affiliate, key person, guarantor."""

    name: str
    account: str
    relation: str
    natural_person: bool
    client_id: str = ""


@dataclass(frozen=True, slots=True)
class ClientContext:
    """What the engine knows about a client: its accounts, group, name and related parties.

    ``own_accounts`` are the client's accounts (at this bank or elsewhere): transfers to them
    are the client's own money moving, not payments. ``group`` puts the client in a tracing
    unit with every other client of the same group at this bank: loan money is followed into
    affiliates' accounts as if they were the client's own.
    """

    client_id: str
    own_accounts: frozenset[str] = frozenset()
    related_parties: tuple[RelatedParty, ...] = ()
    group: str = ""
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class EntrustedPayee:
    """A counterparty the bank pays directly from a facility (受托支付)."""

    name: str
    account: str
    industry: str = ""


@dataclass(frozen=True, slots=True)
class FacilityContext:
    """A loan facility: size, purpose, accounts and entrusted-payment payees."""

    facility_id: str
    client_id: str
    facility_type: FacilityType
    amount: float
    purpose_category: str
    drawdown_account: str
    entrusted: tuple[EntrustedPayee, ...] = ()
    total_project_investment: float | None = None
    loan_account: str = ""
    declared_purpose: str = ""

    @property
    def entrusted_counterparties(self) -> frozenset[str]:
        """Return the entrusted payees' accounts (those that have one)."""
        return frozenset(p.account for p in self.entrusted if p.account)


@dataclass(frozen=True, slots=True)
class Alert:
    """A rule hit: level, evidence and the dedupe key of its window.

    ``window_key`` is ``client|rule|scope|window-start-epoch``; the engine emits at most one
    alert per key. ``raised_at`` is the booking time of the posting that completed the pattern
    (event time, so replays give the same alerts). ``facts`` carry what the rule measured:
    the traced loan money at stake, its share of the facility, the path of the money.
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
