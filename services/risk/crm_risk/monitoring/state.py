"""Per-client monitoring state, bounded and serialisable.

Every window is a deque pruned by event time and capped in length, so memory per client stays
bounded however long the stream runs. ``ClientState.to_bytes`` / ``from_bytes`` use compact
JSON (stdlib), so the service can persist a client's state and a restored engine raises
exactly the alerts the original would have.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from crm_risk.monitoring.windows import (
    DAY_SECONDS,
    AccountState,
    Drawdown,
    FacilityState,
    Outflow,
    Return,
    Stamp,
    day_end,
    local_day,
)

__all__ = [
    "DAY_SECONDS", "FORMAT_VERSION", "AccountState", "ClientState", "Drawdown",
    "FacilityState", "Outflow", "Return", "Stamp", "day_end", "local_day",
]

FORMAT_VERSION = 1
MAX_INTERNAL_ACCOUNTS = 256
MAX_ACCOUNTS = 256


class ClientState:
    """All window state of one client: recent ids, facilities, accounts, bands, alert windows."""

    __slots__ = (
        "accounts", "carriers", "cash_band", "client_id", "facilities", "internal_accounts", "ops",
        "seen",
        "transfer_bands", "windows",
    )

    def __init__(self, client_id: str) -> None:
        """Start empty state for ``client_id``."""
        self.client_id = client_id
        self.seen: dict[str, float] = {}  # recent txn id -> booking time, oldest first
        self.internal_accounts: set[str] = set()
        self.facilities: dict[str, FacilityState] = {}
        self.accounts: dict[str, AccountState] = {}
        self.cash_band: deque[Stamp] = deque()
        self.transfer_bands: dict[str, deque[Stamp]] = {}
        self.windows: dict[str, tuple[float, float]] = {}  # dedupe key -> (start, end)
        self.ops = 0
        # Accounts that may hold unspent loan money (a superset; rebuilt on housekeeping), so
        # the hot path can skip attribution for every other debit with one set lookup.
        self.carriers: set[str] = set()

    def remember(self, txn_id: str, t: float, horizon_seconds: float, cap: int) -> bool:
        """Record ``txn_id``; return False if it was already seen recently (a duplicate)."""
        seen = self.seen
        if txn_id in seen:
            return False
        seen[txn_id] = t
        if len(seen) > cap:
            self.trim_seen(t - horizon_seconds, cap)
        return True

    def trim_seen(self, cutoff: float, cap: int) -> None:
        """Forget ids booked before ``cutoff``; beyond ``cap``, forget the oldest.

        Trimming to three quarters of the cap makes the cost per transaction constant.
        """
        kept = [(k, v) for k, v in self.seen.items() if v >= cutoff]
        if len(kept) > cap:
            kept = kept[len(kept) - cap * 3 // 4:]
        self.seen = dict(kept)

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

    def track_balance(
        self, account_id: str, t: float, balance: float, keep_days: int, peak_days: int
    ) -> None:
        """Record the balance of ``account_id`` after a booking at ``t``."""
        account = self.accounts.get(account_id)
        if account is None:
            if len(self.accounts) >= MAX_ACCOUNTS:
                return
            self.accounts[account_id] = AccountState(local_day(t), balance)
            return
        account.record(t, balance, keep_days, peak_days)

    def maintain(
        self, t: float, *, facility_retention: float, attribution_seconds: float,
        account_retention: float, band_retention: float, seen_seconds: float, seen_cap: int,
    ) -> None:
        """Prune windows; drop idle facilities, stale accounts and expired alert windows."""
        self.trim_seen(t - seen_seconds, seen_cap)
        for state in self.facilities.values():
            state.prune(t - facility_retention)
            state.expire_unspent(t, attribution_seconds)
            for account_id in [a for a, left in state.unspent.items() if left <= 0]:
                del state.unspent[account_id]
        for facility_id in [f for f, s in self.facilities.items() if s.is_idle(t)]:
            del self.facilities[facility_id]
        stale_day = local_day(t - account_retention)
        for account_id in [a for a, s in self.accounts.items() if s.cur_day < stale_day]:
            del self.accounts[account_id]
        for key in [k for k, (_, end) in self.windows.items() if end <= t]:
            del self.windows[key]
        band_cutoff = t - band_retention
        for band in (self.cash_band, *self.transfer_bands.values()):
            while band and band[0][0] < band_cutoff:
                band.popleft()
        for key in [k for k, band in self.transfer_bands.items() if not band]:
            del self.transfer_bands[key]
        self.carriers = {
            account for state in self.facilities.values()
            for account, left in state.unspent.items() if left > 0
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of this state."""
        return {
            "v": FORMAT_VERSION,
            "id": self.client_id,
            "seen": [[k, v] for k, v in self.seen.items()],
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
        state.seen = {str(txn_id): float(t) for txn_id, t in data["seen"]}
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
        state.carriers = {
            account for facility in state.facilities.values()
            for account, left in facility.unspent.items() if left > 0
        }
        return state

    def to_bytes(self) -> bytes:
        """Return this state as compact UTF-8 JSON."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ClientState:
        """Rebuild state from ``to_bytes`` output."""
        return cls.from_dict(json.loads(data))
