"""Build two consecutive 90-day account summaries per client, shaped by its archetype.

The later period ends on the as-of date; the earlier one ends the day before the later
one starts. Balances follow a simple ledger: each period's end balance equals its start
balance plus inflow minus outflow, and the later period starts where the earlier ended.
The archetype ranges keep well clear of the built-in segment thresholds (20 and 60
transactions, 30 and 90 days, 2,000万 balance, -30% and -50% balance change), so every
client lands on the intended side of each rule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from crm.client.v1 import client_pb2
from crm_demo.behaviours import Behaviour
from crm_demo.financials import cny, date_message

PERIOD_DAYS: Final = 90
HIGH_VALUE_BALANCE_YUAN: Final = 20_000_000  # the high-value segment starts at 2,000万
_NON_HIGH_VALUE_BALANCE_CAP: Final = 18_000_000  # above this, keep non-high-value to one loan
_MIN_BALANCE_YUAN: Final = 5_000


@dataclass(frozen=True)
class _Pattern:
    """Ranges for one archetype's account activity (all bounds inclusive)."""

    transactions: tuple[int, int]  # count in the later period
    previous_ratio: tuple[float, float]  # earlier-period count relative to the later one
    trend: tuple[float, float]  # change of average balance against the earlier period
    last_txn_days: tuple[int, int]  # days before the as-of date of the latest transaction
    loans: tuple[int, int]
    other_products: tuple[int, int]  # settlement, cash management, FX, bills...
    balance_share: tuple[float, float]  # earlier average balance as a share of revenue


_PATTERNS: Final[dict[Behaviour, _Pattern]] = {
    "high_value": _Pattern((80, 400), (0.8, 1.2), (-0.10, 0.20), (0, 3), (2, 4), (3, 6),
                           (0.08, 0.20)),
    "growth": _Pattern((30, 200), (0.6, 0.95), (0.05, 0.40), (0, 10), (1, 2), (1, 4),
                       (0.03, 0.10)),
    "stable": _Pattern((20, 150), (0.85, 1.15), (-0.12, 0.12), (0, 20), (0, 2), (1, 3),
                       (0.02, 0.08)),
    "young": _Pattern((20, 90), (0.3, 0.9), (0.0, 0.60), (0, 15), (0, 1), (1, 3), (0.03, 0.12)),
    "dormant": _Pattern((0, 0), (0.0, 0.0), (-0.08, 0.0), (0, 0), (0, 1), (0, 1), (0.002, 0.02)),
    "declining": _Pattern((15, 90), (1.0, 1.5), (-0.48, -0.32), (0, 20), (0, 2), (1, 3),
                          (0.02, 0.08)),
    "collapsing": _Pattern((8, 60), (1.2, 2.0), (-0.85, -0.55), (0, 25), (1, 2), (0, 2),
                           (0.02, 0.08)),
    "project_finance": _Pattern((10, 59), (0.8, 1.2), (-0.15, 0.15), (0, 25), (1, 2), (1, 2),
                                (0.05, 0.15)),
}  # fmt: skip
# A share of stable clients bank with us only now and then: fewer than 20 transactions.
_QUIET_STABLE: Final = _Pattern((4, 19), (0.7, 1.3), (-0.12, 0.12), (5, 60), (0, 1), (1, 2),
                                (0.02, 0.06))  # fmt: skip
_QUIET_STABLE_SHARE: Final = 0.3
_MAX_DORMANT_PREVIOUS_TRANSACTIONS: Final = 6


@dataclass(frozen=True)
class _Period:
    """One period's figures before they become a message."""

    start: date
    end: date
    transactions: int
    start_balance: float
    average_balance: float
    end_balance: float
    turnover: float
    last_txn: date | None


def activity_periods(
    rng: random.Random, *, behaviour: Behaviour, revenue_yuan: int, as_of: date
) -> tuple[client_pb2.ActivitySummary, client_pb2.ActivitySummary]:
    """Return (earlier, later) summaries for a client; the ``client`` field is left empty."""
    pattern = _PATTERNS[behaviour]
    if behaviour == "stable" and rng.random() < _QUIET_STABLE_SHARE:
        pattern = _QUIET_STABLE
    later_start = as_of - timedelta(days=PERIOD_DAYS - 1)
    earlier_end = later_start - timedelta(days=1)
    earlier_start = earlier_end - timedelta(days=PERIOD_DAYS - 1)

    earlier_average = max(_MIN_BALANCE_YUAN, revenue_yuan * rng.uniform(*pattern.balance_share))
    if behaviour == "high_value":
        earlier_average = max(earlier_average, HIGH_VALUE_BALANCE_YUAN * rng.uniform(1.2, 1.6))
    later_average = earlier_average * (1 + rng.uniform(*pattern.trend))
    quarter_revenue = revenue_yuan / 4

    later_count = rng.randint(*pattern.transactions)
    if behaviour == "dormant":
        earlier_count = rng.randint(0, _MAX_DORMANT_PREVIOUS_TRANSACTIONS)
        if earlier_count == 0:
            later_average = earlier_average  # nothing moved for six months
        start = earlier_average * (rng.uniform(1.0, 1.1) if earlier_count else 1.0)
        turnover = earlier_average * rng.uniform(0.0, 0.3) if earlier_count else 0.0
        earlier = _Period(
            earlier_start,
            earlier_end,
            earlier_count,
            start,
            earlier_average,
            later_average,
            turnover,
            _last_txn(rng, earlier_end, earlier_count, (1, 60)),
        )
        # Some core systems carry the account's last transaction date forward; it is then
        # more than 90 days old. Others leave it empty for a period without transactions.
        carried = earlier.last_txn if rng.random() < 0.5 else None
        later = _Period(
            later_start, as_of, 0, later_average, later_average, later_average, 0.0, carried
        )
    else:
        earlier_count = max(1, round(later_count * rng.uniform(*pattern.previous_ratio)))
        middle = (earlier_average + later_average) / 2 * rng.uniform(0.95, 1.05)
        earlier = _Period(
            earlier_start,
            earlier_end,
            earlier_count,
            earlier_average * rng.uniform(0.9, 1.1),
            earlier_average,
            middle,
            quarter_revenue * rng.uniform(0.3, 0.9),
            _last_txn(rng, earlier_end, earlier_count, (0, 20)),
        )
        later = _Period(
            later_start,
            as_of,
            later_count,
            middle,
            later_average,
            later_average * rng.uniform(0.9, 1.1),
            quarter_revenue * rng.uniform(0.3, 0.9),
            _last_txn(rng, as_of, later_count, pattern.last_txn_days),
        )

    loans = rng.randint(*pattern.loans)
    if behaviour != "high_value" and later_average >= _NON_HIGH_VALUE_BALANCE_CAP:
        loans = min(loans, 1)  # a large balance alone must not make a client high-value
    products = max(1, loans + rng.randint(*pattern.other_products))
    return (
        _summary(earlier, products=products, loans=loans),
        _summary(later, products=products, loans=loans),
    )


def _last_txn(rng: random.Random, end: date, count: int, days: tuple[int, int]) -> date | None:
    """Return the date of the period's latest transaction, or None without transactions."""
    if count == 0:
        return None
    return end - timedelta(days=min(rng.randint(*days), PERIOD_DAYS - 1))


def _summary(period: _Period, *, products: int, loans: int) -> client_pb2.ActivitySummary:
    """Return the message for one period, deriving outflow from the balance ledger."""
    # Round first, then derive: the ledger must balance to the yuan.
    start, end = _yuan(period.start_balance), _yuan(period.end_balance)
    inflow = _yuan(period.turnover)
    outflow = inflow + start - end
    if outflow < 0:  # the balance grew by more than the turnover: more came in
        inflow, outflow = inflow - outflow, 0
    message = client_pb2.ActivitySummary(
        period_start=date_message(period.start),
        period_end=date_message(period.end),
        transaction_count=period.transactions,
        inflow=cny(inflow),
        outflow=cny(outflow),
        average_balance=cny(_yuan(period.average_balance)),
        end_balance=cny(end),
        products_used=products,
        loan_products_used=loans,
    )
    if period.last_txn is not None:
        message.last_transaction_date.CopyFrom(date_message(period.last_txn))
    return message


def _yuan(amount: float) -> int:
    """Return a non-negative amount in whole yuan; core banking reports rounded figures."""
    return max(0, round(amount))
