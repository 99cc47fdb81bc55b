"""Cash and structuring: large cash withdrawals, and amounts split just under thresholds.

Thresholds follow the PBOC large-value reporting lines (DOMAIN §6): cash 5万, transfers
200万 (corporate) and 50万 (individual). "Just under" = within ``band_share`` below a line.
"""

from __future__ import annotations

from collections import deque

from crm_risk.monitoring.config import RuleParams, as_float, as_floats, as_int, as_str
from crm_risk.monitoring.context import ClientProfile
from crm_risk.monitoring.model import Transaction
from crm_risk.monitoring.rules.base import FacilityFlow, Rule, money, push_stamp
from crm_risk.monitoring.state import ClientState, Stamp

HOUR = 3600.0


class CashStructuringRule(Rule):
    """Large cash withdrawals (level ``level``) and split amounts (``structuring_level``)."""

    rule_id = "cash_structuring"
    on_all_debits = True

    def configure(self, params: RuleParams) -> None:
        """Read the thresholds, band, count and window."""
        self.structuring_level = as_str(params, "structuring_level")
        self.cash_threshold = as_float(params, "cash_threshold")
        band = as_float(params, "band_share")
        self.cash_floor = self.cash_threshold * (1.0 - band)
        self.min_count = as_int(params, "min_count")
        self.window = as_float(params, "window_hours") * HOUR
        self.bands = tuple(
            (threshold * (1.0 - band), threshold, f"{threshold:.0f}")
            for threshold in as_floats(params, "transfer_thresholds")
        )
        self.on_credits = bool(params["include_cash_deposits"])

    def on_debit(
        self,
        txn: Transaction,
        t: float,
        state: ClientState,
        profile: ClientProfile,
        flow: FacilityFlow | None,
    ) -> None:
        """Check a debit against the cash line and the split-transfer bands."""
        amount = txn.amount
        if txn.is_cash or txn.channel == "cash":
            self._cash(txn, t, state, withdrawal=True)
            return
        for floor, threshold, key in self.bands:
            if floor <= amount < threshold:
                band = state.transfer_bands.get(key)
                if band is None:
                    band = state.transfer_bands[key] = deque()
                self._split(txn, t, state, band, scope=f"transfer_split:{key}",
                            threshold=threshold, what="transfers")

    def on_credit(
        self, txn: Transaction, t: float, state: ClientState, profile: ClientProfile
    ) -> None:
        """Count split cash deposits too (only when ``include_cash_deposits`` is on)."""
        if txn.is_cash or txn.channel == "cash":
            self._cash(txn, t, state, withdrawal=False)

    def _cash(self, txn: Transaction, t: float, state: ClientState, *, withdrawal: bool) -> None:
        amount = txn.amount
        if amount >= self.cash_threshold:
            if withdrawal:
                self.sink.emit(
                    state, self, txn=txn, t=t, scope="cash_withdrawal", level=self.level,
                    facility_id=txn.facility_id, evidence=[txn.txn_id],
                    message=f"Large cash withdrawal of {money(amount)}",
                    facts={"amount": amount, "threshold": self.cash_threshold,
                           "kind": "cash_withdrawal"},
                )
        elif amount >= self.cash_floor:
            self._split(txn, t, state, state.cash_band, scope="cash_split",
                        threshold=self.cash_threshold, what="cash")

    def _split(
        self,
        txn: Transaction,
        t: float,
        state: ClientState,
        band: deque[Stamp],
        *,
        scope: str,
        threshold: float,
        what: str,
    ) -> None:
        push_stamp(band, (t, txn.amount, txn.txn_id), t - self.window, self.max_entries)
        if len(band) < self.min_count:
            return
        total = sum(s[1] for s in band)
        self.sink.emit(
            state, self, txn=txn, t=t, scope=scope, level=self.structuring_level,
            facility_id=txn.facility_id, evidence=[s[2] for s in band],
            message=(
                f"Structuring: {len(band)} {what} just under {money(threshold)} within "
                f"{self.window / HOUR:.0f} h, total {money(total)}"
            ),
            facts={"count": float(len(band)), "total": total, "threshold": threshold,
                   "kind": scope.split(":", maxsplit=1)[0]},
        )
