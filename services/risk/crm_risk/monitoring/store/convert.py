"""MonitoredTransaction messages ↔ the engine's Transaction values, validated at the edge.

This runs for every posting on the stream, so it reads each field once and avoids per-field
helper calls. A bad posting is refused on its own (``Rejection``) and the rest of its batch
goes on. Values a feed does not know stay unknown: an unset or unknown channel or counterparty
kind is "unknown", never guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crm.risk.v1 import monitoring_pb2, risk_service_pb2
from crm_risk.monitoring.engine.model import Transaction

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CNY = frozenset({"CNY", ""})
MAX_ID = 64
MAX_TEXT = 200
DIRECTIONS = {
    monitoring_pb2.TRANSACTION_DIRECTION_DEBIT: "debit",
    monitoring_pb2.TRANSACTION_DIRECTION_CREDIT: "credit",
}
CHANNELS = {
    monitoring_pb2.TRANSACTION_CHANNEL_UNSPECIFIED: "unknown",
    monitoring_pb2.TRANSACTION_CHANNEL_TRANSFER: "transfer",
    monitoring_pb2.TRANSACTION_CHANNEL_CASH: "cash",
    monitoring_pb2.TRANSACTION_CHANNEL_CARD: "card",
    monitoring_pb2.TRANSACTION_CHANNEL_BILLS: "bills",
    monitoring_pb2.TRANSACTION_CHANNEL_FX: "fx",
    monitoring_pb2.TRANSACTION_CHANNEL_PAYROLL: "payroll",
    monitoring_pb2.TRANSACTION_CHANNEL_TAX: "tax",
    monitoring_pb2.TRANSACTION_CHANNEL_LOAN: "loan",
    monitoring_pb2.TRANSACTION_CHANNEL_ENTRUSTED_PAYMENT: "entrusted_payment",
    monitoring_pb2.TRANSACTION_CHANNEL_CASH_POOL: "cash_pool",
}
COUNTERPARTY_TYPES = {
    monitoring_pb2.COUNTERPARTY_TYPE_UNSPECIFIED: "unknown",
    monitoring_pb2.COUNTERPARTY_TYPE_CORPORATE: "corporate",
    monitoring_pb2.COUNTERPARTY_TYPE_INDIVIDUAL: "individual",
    monitoring_pb2.COUNTERPARTY_TYPE_BROKER: "broker",
    monitoring_pb2.COUNTERPARTY_TYPE_FUTURES: "futures",
    monitoring_pb2.COUNTERPARTY_TYPE_WEALTH: "wealth",
    monitoring_pb2.COUNTERPARTY_TYPE_BANK: "bank",
    monitoring_pb2.COUNTERPARTY_TYPE_MICROLENDER: "microlender",
    monitoring_pb2.COUNTERPARTY_TYPE_GUARANTOR: "guarantor",
    monitoring_pb2.COUNTERPARTY_TYPE_OWN_ACCOUNT: "own_account",
    monitoring_pb2.COUNTERPARTY_TYPE_AFFILIATE: "affiliate",
    monitoring_pb2.COUNTERPARTY_TYPE_GOVERNMENT: "government",
    monitoring_pb2.COUNTERPARTY_TYPE_LOAN_ACCOUNT: "loan_account",
    monitoring_pb2.COUNTERPARTY_TYPE_FUND: "fund",
    monitoring_pb2.COUNTERPARTY_TYPE_DEVELOPER: "developer",
}
_DIRECTION_NUMBERS = {v: k for k, v in DIRECTIONS.items()}
_CHANNEL_NUMBERS = {v: k for k, v in CHANNELS.items()}
_TYPE_NUMBERS = {v: k for k, v in COUNTERPARTY_TYPES.items()}


@dataclass(frozen=True, slots=True)
class Rejection:
    """A posting the stream refused: where, which field, why."""

    index: int
    transaction_id: str
    field: str
    reason: str
    description: str


class BadPosting(ValueError):
    """A posting's field the engine cannot use."""

    def __init__(self, field: str, description: str, reason: str = "INVALID_TRANSACTION"):
        super().__init__(f"{field}: {description}")
        self.field, self.description, self.reason = field, description, reason


def _bad(_index: int, field: str, description: str) -> BadPosting:
    return BadPosting(field, description)


# Clients repeat on the stream; a name validated once is not matched again (bounded).
_CLIENT_IDS: dict[str, str] = {}
_CLIENT_CACHE_CAP = 100_000


def _client_id(client: str, i: int) -> str:
    client_id = _CLIENT_IDS.get(client)
    if client_id is None:
        client_id = client[8:]
        if not client.startswith("clients/") or _ID.fullmatch(client_id) is None:
            raise _bad(i, "client", "must look like clients/{client}")
        if len(_CLIENT_IDS) < _CLIENT_CACHE_CAP:
            _CLIENT_IDS[client] = client_id
    return client_id


def to_transaction(m: monitoring_pb2.MonitoredTransaction, i: int) -> Transaction:
    """Return the engine's value for one message, or raise ``BadPosting``."""
    txn_id = m.transaction_id
    if not txn_id or len(txn_id) > MAX_ID:
        raise _bad(i, "transaction_id", f"is required, at most {MAX_ID} characters")
    account = m.account
    if not account or len(account) > MAX_ID:
        raise _bad(i, "account", f"is required, at most {MAX_ID} characters")
    client = m.client
    client_id = _client_id(client, i)
    facility = m.facility
    facility_id = None
    if facility:
        facility_id = facility[len(client) + 12:]
        if len(facility_id) != 32 or not facility.startswith(f"{client}/facilities/"):
            raise _bad(i, "facility", "must be a facility of the transaction's client")
    direction = DIRECTIONS.get(m.direction)
    if direction is None:
        raise _bad(i, "direction", "is required")
    channel = CHANNELS.get(m.channel, "unknown")
    money = m.amount
    amount = money.units + money.nanos * 1e-9
    if not (amount > 0 and math.isfinite(amount)):
        raise _bad(i, "amount", "must be positive")
    if money.currency_code not in _CNY:
        raise _bad(i, "amount.currency_code", "must be CNY")
    stamp = m.book_time
    seconds, nanos = stamp.seconds, stamp.nanos
    if seconds <= 0 or not 0 <= nanos < 1_000_000_000:
        raise _bad(i, "book_time", "is required")
    balance = None
    if m.HasField("balance_after"):
        b = m.balance_after
        balance = b.units + b.nanos * 1e-9
    party = m.counterparty
    kind = COUNTERPARTY_TYPES.get(party.counterparty_type, "unknown")
    name, party_account = party.display_name, party.account
    if len(name) > MAX_TEXT or len(party_account) > MAX_ID:
        raise _bad(i, "counterparty", "name or account is too long")
    memo = m.memo
    if len(memo) > MAX_TEXT or len(party.industry_name) > MAX_TEXT or len(
            party.bank_name) > MAX_TEXT:
        raise _bad(i, "memo", f"memo, industry and bank names are at most {MAX_TEXT} characters")
    other = party.client
    if other and (not other.startswith("clients/") or _ID.fullmatch(other[8:]) is None):
        raise _bad(i, "counterparty.client", "must look like clients/{client}")
    return Transaction(
        txn_id=txn_id,
        account_id=account,
        client_id=client_id,
        facility_id=facility_id,
        direction=direction,  # type: ignore[arg-type]
        amount=amount,
        currency="CNY",
        counterparty_name=name,
        counterparty_account=party_account,
        counterparty_industry=party.industry_code,
        counterparty_type=kind,  # type: ignore[arg-type]
        channel=channel,  # type: ignore[arg-type]
        booked_at=_EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000),
        is_cash=m.cash or channel == "cash",
        balance_after=balance,
        memo=memo,
        counterparty_client=other[8:],
        counterparty_bank=party.bank_name,
        counterparty_industry_name=party.industry_name,
    )


def to_transactions(
    messages: Sequence[monitoring_pb2.MonitoredTransaction],
) -> tuple[list[Transaction], list[int], list[Rejection]]:
    """Return a batch's usable postings in order, their indexes, and the refused ones."""
    found: list[Transaction] = []
    indexes: list[int] = []
    refused: list[Rejection] = []
    for index, message in enumerate(messages):
        try:
            found.append(to_transaction(message, index))
        except BadPosting as bad:
            refused.append(Rejection(index, message.transaction_id[:MAX_ID], bad.field,
                                     bad.reason, bad.description))
            continue
        indexes.append(index)
    return found, indexes, refused


def _money(amount: float, message: object) -> None:
    units = int(amount)
    nanos = round((amount - units) * 1e9)
    message.currency_code = "CNY"  # type: ignore[attr-defined]
    message.units = units  # type: ignore[attr-defined]
    message.nanos = nanos  # type: ignore[attr-defined]


def transaction_message(
    txn: Transaction, *, client: str | None = None, facility: str = ""
) -> monitoring_pb2.MonitoredTransaction:
    """Return the stream message for an engine value (test data, benchmarks, evaluation)."""
    m = monitoring_pb2.MonitoredTransaction(
        transaction_id=txn.txn_id,
        account=txn.account_id,
        client=client or f"clients/{txn.client_id}",
        facility=facility,
        direction=_DIRECTION_NUMBERS[txn.direction],
        channel=_CHANNEL_NUMBERS[txn.channel],
        cash=txn.is_cash,
        memo=txn.memo,
    )
    _money(txn.amount, m.amount)
    if txn.balance_after is not None:
        _money(txn.balance_after, m.balance_after)
    m.counterparty.display_name = txn.counterparty_name
    m.counterparty.account = txn.counterparty_account
    m.counterparty.industry_code = txn.counterparty_industry
    m.counterparty.counterparty_type = _TYPE_NUMBERS[txn.counterparty_type]
    m.counterparty.bank_name = txn.counterparty_bank
    m.counterparty.industry_name = txn.counterparty_industry_name
    if txn.counterparty_client:
        m.counterparty.client = f"clients/{txn.counterparty_client}"
    m.book_time.FromDatetime(txn.booked_at)
    return m


def rejected_message(rejection: Rejection) -> risk_service_pb2.RejectedTransaction:
    """Return a refused posting as the acknowledgement names it."""
    return risk_service_pb2.RejectedTransaction(
        index=rejection.index, transaction_id=rejection.transaction_id, field=rejection.field,
        reason=rejection.reason, description=rejection.description,
    )
