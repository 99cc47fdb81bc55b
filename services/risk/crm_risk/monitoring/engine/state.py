"""Per-unit monitoring state, bounded and serialisable.

Everything a unit remembers is pruned by event time and capped, so memory stays bounded however
long the stream runs. ``UnitState.to_bytes`` / ``from_bytes`` use compact JSON (stdlib), so the
service can checkpoint a unit and a restored engine raises exactly the alerts the original
would have.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from crm_risk.monitoring.engine.history import Balances, Party, PartyBook, local_day
from crm_risk.monitoring.engine.ledger import Account
from crm_risk.monitoring.engine.trace import FacilityTrace

FORMAT_VERSION = 2
MAX_ACCOUNTS = 256
Stamp = tuple[float, float, str]  # (time, amount, txn id)


class UnitState:
    """All state of one tracing unit: accounts and loan money, traces, history, windows."""

    __slots__ = (
        "accounts", "balances", "bands", "first_t", "lenders", "maintained_t", "ops", "parties",
        "seen", "traces", "unit_id", "windows",
    )

    def __init__(self, unit_id: str, party_cap: int) -> None:
        """Start empty state for ``unit_id``."""
        self.unit_id = unit_id
        self.seen: dict[str, float] = {}  # recent txn id -> booking time, oldest first
        self.accounts: dict[str, Account] = {}
        self.traces: dict[str, FacilityTrace] = {}
        self.parties = PartyBook(party_cap)
        self.balances: dict[str, Balances] = {}  # client id -> deposits by day
        self.windows: dict[str, tuple[float, float, int]] = {}  # key -> (start, end, rank)
        self.lenders: set[str] = set()  # loan accounts this bank drew money from
        self.bands: dict[str, deque[Stamp]] = {}  # structuring bands, per key
        self.first_t = float("inf")
        self.ops = 0
        self.maintained_t = 0.0  # booking time of the last housekeeping pass

    def receipt_scale(self, client_id: str) -> float:
        """Return the running mean size of a client's ordinary receipts (0 if none yet)."""
        balances = self.balances.get(client_id)
        return balances.receipt_scale if balances is not None else 0.0

    def trim_seen(self, cutoff: float, cap: int) -> None:
        """Forget ids booked before ``cutoff``; beyond ``cap``, forget the oldest.

        Trimming to three quarters of the cap makes the cost per posting constant.
        """
        kept = [(k, v) for k, v in self.seen.items() if v >= cutoff]
        if len(kept) > cap:
            kept = kept[len(kept) - cap * 3 // 4:]
        self.seen = dict(kept)

    def account(self, account_id: str, client_id: str) -> Account:
        """Return the state of one of the unit's accounts, creating it on first use."""
        account = self.accounts.get(account_id)
        if account is None:
            account = Account(client_id)
            if len(self.accounts) < MAX_ACCOUNTS:
                self.accounts[account_id] = account
        return account

    def trace(self, facility_id: str, client_id: str) -> FacilityTrace:
        """Return the trace of ``facility_id``, creating it on first use."""
        trace = self.traces.get(facility_id)
        if trace is None:
            trace = self.traces[facility_id] = FacilityTrace(facility_id, client_id)
        return trace

    def balances_of(self, client_id: str, t: float, keep_days: int) -> Balances:
        """Return a client's day-by-day deposits, rolled over to the day of ``t``."""
        day = local_day(t)
        balances = self.balances.get(client_id)
        if balances is None:
            balances = self.balances[client_id] = Balances(day)
        elif day > balances.cur_day:
            balances.roll(day, keep_days)
        return balances

    def maintain(self, t: float, *, trace_seconds: float, seen_seconds: float, seen_cap: int,
                 floor: float, floor_share: float) -> None:
        """Prune lots, traces, windows and bands; forget idle accounts and counterparties."""
        self.maintained_t = t
        self.trim_seen(t - seen_seconds, seen_cap)
        for account in self.accounts.values():
            if account.lots:
                account.prune(t, trace_seconds, floor, floor_share)
        cutoff = t - trace_seconds
        for facility_id in list(self.traces):
            trace = self.traces[facility_id]
            trace.prune(cutoff)
            if trace.is_empty():
                del self.traces[facility_id]
        for key in [k for k, (_, end, _) in self.windows.items() if end <= t]:
            del self.windows[key]
        day = local_day(t)
        for key in [k for k, band in self.bands.items() if not band or band[-1][0] < t - 86_400]:
            del self.bands[key]
        for balances in self.balances.values():
            while balances.debits and local_day(balances.debits[0][0]) < day - 7:
                balances.debits.popleft()
            while balances.excluded and local_day(balances.excluded[0][0]) < day - 7:
                balances.excluded.popleft()
        self.parties.trim()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of this state."""
        return {
            "v": FORMAT_VERSION,
            "id": self.unit_id,
            "seen": [[k, v] for k, v in self.seen.items()],
            "acc": {k: a.to_list() for k, a in self.accounts.items()},
            "tr": {k: tr.to_list() for k, tr in self.traces.items()},
            "pc": self.parties.cap,
            "p": {k: p.to_list() for k, p in self.parties.parties.items()},
            "bal": {k: b.to_list() for k, b in self.balances.items()},
            "win": {k: list(v) for k, v in self.windows.items()},
            "lend": sorted(self.lenders),
            "bands": {k: [list(x) for x in band] for k, band in self.bands.items()},
            "first": None if self.first_t == float("inf") else self.first_t,
            "ops": self.ops,
            "mt": self.maintained_t,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitState:
        """Rebuild state from ``to_dict`` output; raise ``ValueError`` for another format."""
        if data.get("v") != FORMAT_VERSION:
            msg = f"unsupported monitoring state format {data.get('v')!r}"
            raise ValueError(msg)
        state = cls(str(data["id"]), int(data["pc"]))
        state.seen = {str(txn_id): float(t) for txn_id, t in data["seen"]}
        state.accounts = {str(k): Account.from_list(v) for k, v in data["acc"].items()}
        state.traces = {str(k): FacilityTrace.from_list(str(k), v) for k, v in data["tr"].items()}
        state.parties.parties = {str(k): Party.from_list(v) for k, v in data["p"].items()}
        state.balances = {str(k): Balances.from_list(v) for k, v in data["bal"].items()}
        state.windows = {str(k): (float(s), float(e), int(r))
                         for k, (s, e, r) in data["win"].items()}
        state.lenders = {str(a) for a in data["lend"]}
        for key, band in data["bands"].items():
            state.bands[str(key)] = deque((float(t), float(a), str(i)) for t, a, i in band)
        state.first_t = float("inf") if data["first"] is None else float(data["first"])
        state.ops = int(data["ops"])
        state.maintained_t = float(data.get("mt", 0.0))  # absent in snapshots before 2026-12
        return state

    def to_bytes(self) -> bytes:
        """Return this state as compact UTF-8 JSON."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> UnitState:
        """Rebuild state from ``to_bytes`` output."""
        return cls.from_dict(json.loads(data))
