"""Window state of one facility and one account: deques pruned by event time, capped.

Serialised as plain JSON-ready dicts; floats survive exactly (``repr`` round-trips) and deque
order is kept, so restored windows behave exactly like the originals.
"""

from __future__ import annotations

from collections import deque
from typing import Any

LOCAL_UTC_OFFSET_SECONDS = 8 * 3600  # Calendar days are Beijing days (UTC+8).
DAY_SECONDS = 86_400.0
NO_PEAK = float("-inf")

Drawdown = tuple[float, float, str]  # (time, amount, txn id)
Outflow = tuple[float, float, str, str, bool]  # (time, amount, payee key, txn id, entrusted)
Return = tuple[float, float, str, str]  # (time, amount, source key, txn id)
Stamp = tuple[float, float, str]  # (time, amount, txn id)


def local_day(t: float) -> int:
    """Return the Beijing calendar day number of epoch seconds ``t``."""
    return int((t + LOCAL_UTC_OFFSET_SECONDS) // DAY_SECONDS)


def day_end(day: int) -> float:
    """Return the epoch seconds at which Beijing calendar day ``day`` ends."""
    return (day + 1) * DAY_SECONDS - LOCAL_UTC_OFFSET_SECONDS


class FacilityState:
    """Drawdowns, outflows of loan money, returns and unspent loan money of one facility."""

    __slots__ = (
        "drawdowns", "facility_id", "last_activity_t", "last_drawdown_t", "outflow_total",
        "outflows", "paid_to", "returns", "unspent",
    )

    def __init__(self, facility_id: str) -> None:
        """Start empty state for ``facility_id``."""
        self.facility_id = facility_id
        self.drawdowns: deque[Drawdown] = deque()
        self.outflows: deque[Outflow] = deque()
        self.paid_to: dict[str, float] = {}
        self.outflow_total = 0.0
        self.returns: deque[Return] = deque()
        self.unspent: dict[str, float] = {}  # account -> loan money not yet attributed
        self.last_drawdown_t: float | None = None
        self.last_activity_t = 0.0

    def add_drawdown(self, t: float, amount: float, txn_id: str, account: str, cap: int) -> None:
        """Record a drawdown of ``amount`` into ``account``."""
        if len(self.drawdowns) >= cap:
            self.drawdowns.popleft()
        self.drawdowns.append((t, amount, txn_id))
        self.unspent[account] = self.unspent.get(account, 0.0) + amount
        if self.last_drawdown_t is None or t > self.last_drawdown_t:
            self.last_drawdown_t = t
        self.last_activity_t = max(self.last_activity_t, t)

    def take(self, account: str, amount: float) -> float:
        """Consume up to ``amount`` of unspent loan money on ``account``; return what was taken."""
        left = self.unspent.get(account, 0.0)
        taken = amount if amount < left else left
        if taken > 0:
            self.unspent[account] = left - taken
        return taken

    def expire_unspent(self, t: float, attribution_seconds: float) -> None:
        """Forget unspent loan money once the last drawdown is older than the attribution span."""
        if self.unspent and (
            self.last_drawdown_t is None or t - self.last_drawdown_t > attribution_seconds
        ):
            self.unspent.clear()

    def add_outflow(
        self, t: float, amount: float, payee: str, txn_id: str, *, entrusted: bool, cap: int
    ) -> None:
        """Record loan money leaving to ``payee``."""
        if len(self.outflows) >= cap:
            self._drop_oldest_outflow()
        self.outflows.append((t, amount, payee, txn_id, entrusted))
        self.paid_to[payee] = self.paid_to.get(payee, 0.0) + amount
        self.outflow_total += amount
        self.last_activity_t = max(self.last_activity_t, t)

    def add_return(self, t: float, amount: float, source: str, txn_id: str, cap: int) -> None:
        """Record money coming back from ``source`` (a payee account or ``"related"``)."""
        if len(self.returns) >= cap:
            self.returns.popleft()
        self.returns.append((t, amount, source, txn_id))
        self.last_activity_t = max(self.last_activity_t, t)

    def returned_from(self, source: str) -> float:
        """Return the total recorded as coming back from ``source`` in the window."""
        return sum(r[1] for r in self.returns if r[2] == source)

    def prune(self, cutoff: float) -> None:
        """Drop drawdowns, outflows and returns booked before ``cutoff``."""
        drawdowns = self.drawdowns
        while drawdowns and drawdowns[0][0] < cutoff:
            drawdowns.popleft()
        outflows = self.outflows
        while outflows and outflows[0][0] < cutoff:
            self._drop_oldest_outflow()
        returns = self.returns
        while returns and returns[0][0] < cutoff:
            returns.popleft()

    def _drop_oldest_outflow(self) -> None:
        _, amount, payee, _, _ = self.outflows.popleft()
        left = self.paid_to.get(payee, 0.0) - amount
        if left > 1e-6:
            self.paid_to[payee] = left
        else:
            self.paid_to.pop(payee, None)
        self.outflow_total = max(0.0, self.outflow_total - amount) if self.outflows else 0.0

    def is_idle(self, t: float) -> bool:
        """Return whether nothing remains that a rule could still use."""
        return not (self.drawdowns or self.outflows or self.returns or self.unspent) and (
            t >= self.last_activity_t
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of this state."""
        return {
            "d": [list(x) for x in self.drawdowns],
            "o": [list(x) for x in self.outflows],
            "r": [list(x) for x in self.returns],
            "u": self.unspent,
            "ld": self.last_drawdown_t,
            "la": self.last_activity_t,
        }

    @classmethod
    def from_dict(cls, facility_id: str, data: dict[str, Any]) -> FacilityState:
        """Rebuild state from ``to_dict`` output."""
        state = cls(facility_id)
        state.drawdowns.extend((float(t), float(a), str(i)) for t, a, i in data["d"])
        for t, a, payee, txn_id, entrusted in data["o"]:
            state.outflows.append((float(t), float(a), str(payee), str(txn_id), bool(entrusted)))
            state.paid_to[payee] = state.paid_to.get(payee, 0.0) + float(a)
            state.outflow_total += float(a)
        state.returns.extend((float(t), float(a), str(s), str(i)) for t, a, s, i in data["r"])
        state.unspent = {str(k): float(v) for k, v in data["u"].items()}
        state.last_drawdown_t = None if data["ld"] is None else float(data["ld"])
        state.last_activity_t = float(data["la"])
        return state


class AccountState:
    """Closing balances of one account's past days, today's running figures, recent debits.

    ``days`` holds closing balances of completed days (carry-forward history); the current day
    lives in ``cur_day`` / ``last_balance`` / ``today_max`` until a later booking rolls it over.
    ``day_end`` lets the hot path see "same day" with one comparison.
    """

    __slots__ = (
        "cur_day", "day_end", "days", "first_day", "last_balance", "peak_before",
        "recent_debits", "today_max",
    )

    def __init__(self, day: int, balance: float) -> None:
        """Start history on ``day`` at ``balance``."""
        self.first_day = day
        self.cur_day = day
        self.day_end = day_end(day)
        self.last_balance = balance
        self.today_max = balance
        self.peak_before = NO_PEAK  # highest closing balance of recent completed days
        self.days: deque[tuple[int, float]] = deque()
        self.recent_debits: deque[Stamp] = deque()

    def record(self, t: float, balance: float, keep_days: int, peak_days: int) -> None:
        """Record ``balance`` after a booking at ``t``, rolling the day over if needed."""
        day = local_day(t)
        if day > self.cur_day:
            days = self.days
            days.append((self.cur_day, self.last_balance))
            # Keep one entry older than the window: it is the carry-forward base.
            while len(days) > 1 and days[1][0] <= day - keep_days:
                days.popleft()
            self.cur_day = day
            self.day_end = day_end(day)
            self.today_max = self.last_balance  # today's opening balance
            peak = NO_PEAK
            for d, b in reversed(days):
                if d < day - peak_days:
                    break
                peak = max(peak, b)
            self.peak_before = peak
        # A late booking of an earlier day only updates the running balance.
        self.last_balance = balance
        self.today_max = max(self.today_max, balance)

    def recent_max(self, day: int, span_days: int) -> float:
        """Return the highest balance from ``day - span_days`` until now (before recording)."""
        if day == self.cur_day:
            return max(self.peak_before, self.today_max)
        best = self.last_balance
        if self.cur_day >= day - span_days:
            best = max(best, self.today_max)
        for d, balance in reversed(self.days):
            if d < day - span_days:
                break
            best = max(best, balance)
        return best

    def average(self, day: int, span_days: int) -> tuple[float, int]:
        """Return (average closing balance over the ``span_days`` before ``day``, days used).

        Days without bookings carry the previous day's balance; days before the account was
        first seen are left out.
        """
        start = max(day - span_days, self.first_day)
        entries = list(self.days)
        if self.cur_day < day:
            entries.append((self.cur_day, self.last_balance))
        total = 0.0
        used = 0
        carry: float | None = None
        index = 0
        for d in range(start, day):
            while index < len(entries) and entries[index][0] <= d:
                carry = entries[index][1]
                index += 1
            if carry is not None:
                total += carry
                used += 1
        return (total / used if used else self.last_balance), used

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of this state."""
        return {
            "f": self.first_day,
            "c": self.cur_day,
            "b": self.last_balance,
            "m": self.today_max,
            "p": None if self.peak_before == NO_PEAK else self.peak_before,
            "d": [list(x) for x in self.days],
            "x": [list(x) for x in self.recent_debits],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccountState:
        """Rebuild state from ``to_dict`` output."""
        state = cls(int(data["f"]), float(data["b"]))
        state.cur_day = int(data["c"])
        state.day_end = day_end(state.cur_day)
        state.today_max = float(data["m"])
        state.peak_before = NO_PEAK if data["p"] is None else float(data["p"])
        state.days.extend((int(d), float(b)) for d, b in data["d"])
        state.recent_debits.extend((float(t), float(a), str(i)) for t, a, i in data["x"])
        return state
