"""Windowed per-client and per-facility monitoring state, bounded and serialisable.

Every window is a deque pruned by event time and capped in length, so memory per client stays
bounded however long the stream runs. ``ClientState.to_bytes`` / ``from_bytes`` use compact
JSON (stdlib): floats survive exactly (``repr`` round-trips) and deque order is kept, so a
restored engine raises exactly the alerts the original would have.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

FORMAT_VERSION = 1
LOCAL_UTC_OFFSET_SECONDS = 8 * 3600  # Calendar days are Beijing days (UTC+8).
DAY_SECONDS = 86_400.0
MAX_INTERNAL_ACCOUNTS = 256
MAX_ACCOUNTS = 256

Drawdown = tuple[float, float, str]  # (time, amount, txn id)
Outflow = tuple[float, float, str, str, bool]  # (time, amount, payee account, txn id, entrusted)
Return = tuple[float, float, str, str]  # (time, amount, source key, txn id)
Stamp = tuple[float, float, str]  # (time, amount, txn id)


def local_day(t: float) -> int:
    """Return the Beijing calendar day number of epoch seconds ``t``."""
    return int((t + LOCAL_UTC_OFFSET_SECONDS) // DAY_SECONDS)


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
    """End-of-day balances of one account (carry-forward history) and its recent debits."""

    __slots__ = ("days", "first_day", "last_balance", "recent_debits")

    def __init__(self, first_day: int, balance: float) -> None:
        """Start history on ``first_day`` at ``balance``."""
        self.first_day = first_day
        self.last_balance = balance
        self.days: deque[tuple[int, float]] = deque()
        self.recent_debits: deque[Stamp] = deque()

    def record(self, day: int, balance: float, keep_days: int) -> None:
        """Record ``balance`` as the latest balance of ``day``; keep ``keep_days`` of history."""
        days = self.days
        if days and days[-1][0] == day:
            days[-1] = (day, balance)
        elif not days or day > days[-1][0]:
            days.append((day, balance))
            # Keep one entry older than the window: it is the carry-forward base.
            while len(days) > 1 and days[1][0] <= day - keep_days:
                days.popleft()
        self.last_balance = balance

    def recent_max(self, day: int, span_days: int) -> float:
        """Return the highest balance seen from ``day - span_days`` until now."""
        best = self.last_balance
        for d, balance in reversed(self.days):
            if d < day - span_days:
                break
            best = max(best, balance)
        return best

    def average(self, day: int, span_days: int) -> tuple[float, int]:
        """Return (average end-of-day balance over the ``span_days`` before ``day``, days used).

        Days without bookings carry the previous day's balance; days before the account was
        first seen are left out.
        """
        start = max(day - span_days, self.first_day)
        end = day - 1
        total = 0.0
        used = 0
        carry: float | None = None
        entries = list(self.days)
        index = 0
        for d in range(start, end + 1):
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
            "b": self.last_balance,
            "d": [list(x) for x in self.days],
            "x": [list(x) for x in self.recent_debits],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccountState:
        """Rebuild state from ``to_dict`` output."""
        state = cls(int(data["f"]), float(data["b"]))
        state.days.extend((int(d), float(b)) for d, b in data["d"])
        state.recent_debits.extend((float(t), float(a), str(i)) for t, a, i in data["x"])
        return state


class ClientState:
    """All window state of one client: recent ids, facilities, accounts, bands, alert windows."""

    __slots__ = (
        "accounts", "cash_band", "client_id", "facilities", "internal_accounts", "ops", "seen",
        "seen_ids", "transfer_bands", "windows",
    )

    def __init__(self, client_id: str) -> None:
        """Start empty state for ``client_id``."""
        self.client_id = client_id
        self.seen: deque[tuple[float, str]] = deque()
        self.seen_ids: set[str] = set()
        self.internal_accounts: set[str] = set()
        self.facilities: dict[str, FacilityState] = {}
        self.accounts: dict[str, AccountState] = {}
        self.cash_band: deque[Stamp] = deque()
        self.transfer_bands: dict[str, deque[Stamp]] = {}
        self.windows: dict[str, tuple[float, float]] = {}  # dedupe key -> (start, end)
        self.ops = 0

    def remember(self, txn_id: str, t: float, horizon_seconds: float, cap: int) -> bool:
        """Record ``txn_id``; return False if it was already seen recently (a duplicate)."""
        if txn_id in self.seen_ids:
            return False
        seen = self.seen
        seen.append((t, txn_id))
        self.seen_ids.add(txn_id)
        cutoff = t - horizon_seconds
        while seen and (len(seen) > cap or seen[0][0] < cutoff):
            self.seen_ids.discard(seen.popleft()[1])
        return True

    def add_internal_account(self, account_id: str) -> None:
        """Remember that ``account_id`` is one of this client's monitored accounts."""
        if len(self.internal_accounts) < MAX_INTERNAL_ACCOUNTS:
            self.internal_accounts.add(account_id)

    def facility(self, facility_id: str) -> FacilityState:
        """Return the state of ``facility_id``, creating it on first use."""
        state = self.facilities.get(facility_id)
        if state is None:
            state = self.facilities[facility_id] = FacilityState(facility_id)
        return state

    def track_balance(self, account_id: str, t: float, balance: float, keep_days: int) -> None:
        """Record the balance of ``account_id`` after a booking at ``t``."""
        day = local_day(t)
        account = self.accounts.get(account_id)
        if account is None:
            if len(self.accounts) >= MAX_ACCOUNTS:
                return
            account = self.accounts[account_id] = AccountState(day, balance)
        account.record(day, balance, keep_days)

    def maintain(
        self, t: float, facility_retention: float, attribution_seconds: float,
        account_retention: float, band_retention: float,
    ) -> None:
        """Prune windows; drop idle facilities, stale accounts and expired alert windows."""
        for state in self.facilities.values():
            state.prune(t - facility_retention)
            state.expire_unspent(t, attribution_seconds)
            for account_id in [a for a, left in state.unspent.items() if left <= 0]:
                del state.unspent[account_id]
        for facility_id in [f for f, s in self.facilities.items() if s.is_idle(t)]:
            del self.facilities[facility_id]
        stale_day = local_day(t - account_retention)
        for account_id in [
            a for a, s in self.accounts.items() if not s.days or s.days[-1][0] < stale_day
        ]:
            del self.accounts[account_id]
        for key in [k for k, (_, end) in self.windows.items() if end <= t]:
            del self.windows[key]
        band_cutoff = t - band_retention
        for band in (self.cash_band, *self.transfer_bands.values()):
            while band and band[0][0] < band_cutoff:
                band.popleft()
        for key in [k for k, band in self.transfer_bands.items() if not band]:
            del self.transfer_bands[key]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of this state."""
        return {
            "v": FORMAT_VERSION,
            "id": self.client_id,
            "seen": [list(x) for x in self.seen],
            "int": sorted(self.internal_accounts),
            "fac": {k: s.to_dict() for k, s in self.facilities.items()},
            "acc": {k: s.to_dict() for k, s in self.accounts.items()},
            "cash": [list(x) for x in self.cash_band],
            "bands": {k: [list(x) for x in band] for k, band in self.transfer_bands.items()},
            "win": {k: list(v) for k, v in self.windows.items()},
            "ops": self.ops,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClientState:
        """Rebuild state from ``to_dict`` output; raise ``ValueError`` for another format."""
        if data.get("v") != FORMAT_VERSION:
            msg = f"unsupported monitoring state format {data.get('v')!r}"
            raise ValueError(msg)
        state = cls(str(data["id"]))
        for t, txn_id in data["seen"]:
            state.seen.append((float(t), str(txn_id)))
            state.seen_ids.add(str(txn_id))
        state.internal_accounts = {str(a) for a in data["int"]}
        state.facilities = {
            str(k): FacilityState.from_dict(str(k), v) for k, v in data["fac"].items()
        }
        state.accounts = {str(k): AccountState.from_dict(v) for k, v in data["acc"].items()}
        state.cash_band.extend((float(t), float(a), str(i)) for t, a, i in data["cash"])
        for key, band in data["bands"].items():
            state.transfer_bands[str(key)] = deque(
                (float(t), float(a), str(i)) for t, a, i in band
            )
        state.windows = {str(k): (float(s), float(e)) for k, (s, e) in data["win"].items()}
        state.ops = int(data["ops"])
        return state

    def to_bytes(self) -> bytes:
        """Return this state as compact UTF-8 JSON."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ClientState:
        """Rebuild state from ``to_bytes`` output."""
        return cls.from_dict(json.loads(data))
