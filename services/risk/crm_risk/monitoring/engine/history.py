"""A unit's memory of its counterparties and of each client's balance over recent days.

``PartyBook`` answers "have we paid or been paid by this counterparty before?" (a habitual
supplier, a two-way trade partner, a payee never seen). ``Balances`` keeps each client's total
deposits at this bank by Beijing calendar day, for the balance-collapse rule.
"""

from __future__ import annotations

from collections import deque
from typing import Any

LOCAL_UTC_OFFSET_SECONDS = 8 * 3600  # Calendar days are Beijing days (UTC+8).
DAY_SECONDS = 86_400.0
NO_TIME = float("inf")
LARGE_RECEIPT_MULTIPLE = 3.0


def local_day(t: float) -> int:
    """Return the Beijing calendar day number of epoch seconds ``t``."""
    return int((t + LOCAL_UTC_OFFSET_SECONDS) // DAY_SECONDS)


def day_end(day: int) -> float:
    """Return the epoch seconds at which Beijing calendar day ``day`` ends."""
    return (day + 1) * DAY_SECONDS - LOCAL_UTC_OFFSET_SECONDS


class Party:
    """What a unit has paid to and received from one counterparty."""

    __slots__ = ("first_in", "first_out", "last", "max_out", "n_in", "n_out", "sum_in",
                 "sum_out")

    def __init__(self) -> None:
        """Start with nothing seen."""
        self.first_out = NO_TIME
        self.first_in = NO_TIME
        self.last = 0.0
        self.n_out = 0
        self.n_in = 0
        self.sum_out = 0.0
        self.sum_in = 0.0
        self.max_out = 0.0

    def paid_before(self, t: float) -> bool:
        """Return whether the unit paid this counterparty before ``t``."""
        return self.first_out < t

    def to_list(self) -> list[float]:
        """Return a JSON-ready list (infinite times as -1)."""
        return [-1.0 if self.first_out == NO_TIME else self.first_out,
                -1.0 if self.first_in == NO_TIME else self.first_in, self.last,
                float(self.n_out), float(self.n_in), self.sum_out, self.sum_in, self.max_out]

    @classmethod
    def from_list(cls, data: list[float]) -> Party:
        """Rebuild from ``to_list`` output."""
        party = cls()
        first_out, first_in, last, n_out, n_in, sum_out, sum_in, max_out = data
        party.first_out = NO_TIME if first_out < 0 else float(first_out)
        party.first_in = NO_TIME if first_in < 0 else float(first_in)
        party.last, party.n_out, party.n_in = float(last), int(n_out), int(n_in)
        party.sum_out, party.sum_in, party.max_out = float(sum_out), float(sum_in), float(max_out)
        return party


class PartyBook:
    """Counterparties of a unit, bounded: the least recently seen are forgotten first."""

    __slots__ = ("cap", "parties")

    def __init__(self, cap: int) -> None:
        """Keep at most about ``cap`` counterparties."""
        self.cap = cap
        self.parties: dict[str, Party] = {}

    def get(self, key: str) -> Party | None:
        """Return what is known of ``key``."""
        return self.parties.get(key)

    def paid(self, key: str, t: float, amount: float) -> None:
        """Record a payment to ``key``."""
        party = self.parties.get(key)
        if party is None:
            party = self.parties[key] = Party()
        party.first_out = min(party.first_out, t)
        party.n_out += 1
        party.sum_out += amount
        party.max_out = max(party.max_out, amount)
        party.last = max(party.last, t)

    def received(self, key: str, t: float, amount: float) -> None:
        """Record money received from ``key``."""
        party = self.parties.get(key)
        if party is None:
            party = self.parties[key] = Party()
        party.first_in = min(party.first_in, t)
        party.n_in += 1
        party.sum_in += amount
        party.last = max(party.last, t)

    def trim(self) -> None:
        """Forget the least recently seen counterparties beyond the cap."""
        if len(self.parties) <= self.cap:
            return
        keep = sorted(self.parties.items(), key=lambda kv: -kv[1].last)[: self.cap * 3 // 4]
        self.parties = dict(keep)


class Balances:
    """One client's total deposits at this bank by calendar day, and recent large debits."""

    __slots__ = ("cash_max", "cash_today", "closes", "cur_day", "day_max", "debits", "excluded",
                 "first_day", "large_receipts", "receipt_scale", "total")

    def __init__(self, day: int) -> None:
        """Start on ``day`` with nothing known."""
        self.first_day = day
        self.cur_day = day
        self.total = 0.0
        self.day_max = 0.0
        self.closes: deque[tuple[int, float, float]] = deque()  # (day, close, day max)
        self.excluded: deque[tuple[float, float]] = deque()  # (time, amount) not a collapse
        self.debits: deque[tuple[float, float, str, bool]] = deque()  # (t, amount, id, unusual)
        self.cash_today = 0.0  # cash withdrawn today
        self.cash_max = 0.0  # the most cash withdrawn on one earlier day
        self.receipt_scale = 0.0  # running mean size of ordinary receipts
        self.large_receipts: deque[tuple[float, float]] = deque()  # (t, amount), recent

    def note_receipt(self, t: float, amount: float) -> None:
        """Fold an ordinary receipt into the running mean size; remember unusually large ones
        (several times that mean) for a week: money that came in and may be parked."""
        scale = self.receipt_scale
        if scale > 0 and amount >= LARGE_RECEIPT_MULTIPLE * scale:
            self.large_receipts.append((t, amount))
        while self.large_receipts and self.large_receipts[0][0] < t - 7 * DAY_SECONDS:
            self.large_receipts.popleft()
        self.receipt_scale = amount if scale == 0 else 0.95 * scale + 0.05 * amount

    def windfall(self, t: float, days: float) -> float:
        """Return what unusually large receipts brought in the last ``days`` days."""
        return sum(a for when, a in self.large_receipts if when >= t - days * DAY_SECONDS)

    def roll(self, day: int, keep_days: int) -> None:
        """Close the days before ``day``."""
        if day <= self.cur_day:
            return
        self.closes.append((self.cur_day, self.total, self.day_max))
        while self.closes and self.closes[0][0] < day - keep_days:
            self.closes.popleft()
        self.cur_day = day
        self.day_max = self.total
        self.cash_max = max(self.cash_max, self.cash_today)
        self.cash_today = 0.0

    def change(self, delta: float) -> None:
        """Apply a change of the client's total deposits."""
        self.total += delta
        self.day_max = max(self.day_max, self.total)

    def recent_peak(self, day: int, span: int) -> float:
        """Return the highest total seen from ``day - span`` until now."""
        peak = self.day_max
        for d, _, high in reversed(self.closes):
            if d < day - span:
                break
            peak = max(peak, high)
        return peak

    def average(self, day: int, span: int) -> tuple[float, int]:
        """Return (average closing total over the ``span`` days before ``day``, days used)."""
        start = max(day - span, self.first_day)
        closes = {d: c for d, c, _ in self.closes}
        total, used, carry = 0.0, 0, None
        for d in range(start, day):
            carry = closes.get(d, carry)
            if carry is not None:
                total += carry
                used += 1
        return (total / used if used else self.total), used

    def to_list(self) -> list[Any]:
        """Return a JSON-ready list."""
        return [self.first_day, self.cur_day, self.total, self.day_max,
                [list(c) for c in self.closes], [list(e) for e in self.excluded],
                [list(d) for d in self.debits], self.cash_today, self.cash_max,
                self.receipt_scale, [list(r) for r in self.large_receipts]]

    @classmethod
    def from_list(cls, data: list[Any]) -> Balances:
        """Rebuild from ``to_list`` output."""
        (first_day, cur_day, total, day_max, closes, excluded, debits, cash, cash_max,
         receipts, large) = data
        balances = cls(int(first_day))
        balances.cur_day, balances.total = int(cur_day), float(total)
        balances.day_max = float(day_max)
        balances.closes.extend((int(d), float(c), float(h)) for d, c, h in closes)
        balances.excluded.extend((float(t), float(a)) for t, a in excluded)
        balances.debits.extend((float(t), float(a), str(i), bool(u)) for t, a, i, u in debits)
        balances.cash_today, balances.cash_max = float(cash), float(cash_max)
        balances.receipt_scale = float(receipts)
        balances.large_receipts.extend((float(t), float(a)) for t, a in large)
        return balances
