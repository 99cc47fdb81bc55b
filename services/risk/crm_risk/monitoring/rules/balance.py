"""Sudden balance collapse: an account's balance falls by most of its usual level in days.

Only debits of the client's own money are judged: loan money leaving a drawdown account is
the flow rules' business, and a drained loan account is the expected end of a drawdown.
"""

from __future__ import annotations

from crm_risk.monitoring.config import RuleParams, as_float
from crm_risk.monitoring.context import ClientProfile
from crm_risk.monitoring.model import Transaction
from crm_risk.monitoring.rules.base import FacilityFlow, Rule, money, push_stamp
from crm_risk.monitoring.state import ClientState, local_day

DAY = 86_400.0
MAX_EVIDENCE = 6
MAX_RECENT_DEBITS = 64
# Debits of at least this share of the balance before them are kept as collapse evidence.
EVIDENCE_SHARE = 0.1


class BalanceCollapseRule(Rule):
    """Balance ends at most (1 - drop_share) of both its recent peak and its 30-day average."""

    rule_id = "balance_collapse"
    on_all_debits = True

    def configure(self, params: RuleParams) -> None:
        """Read the drop share, spans, floor and history requirement."""
        self.keep = 1.0 - as_float(params, "drop_share")
        self.drop_days = max(1, round(as_float(params, "drop_days")))
        self.drop_seconds = as_float(params, "drop_days") * DAY
        self.average_days = max(1, round(as_float(params, "average_days")))
        self.floor = as_float(params, "average_floor")
        self.min_history = as_float(params, "min_history_days")

    def on_debit(
        self,
        txn: Transaction,
        t: float,
        state: ClientState,
        profile: ClientProfile,
        flow: FacilityFlow | None,
    ) -> None:
        """Alert when this debit completes a collapse of the account's balance."""
        account = state.accounts.get(txn.account_id)
        if account is None:
            return
        if txn.amount >= EVIDENCE_SHARE * account.last_balance:
            push_stamp(
                account.recent_debits, (t, txn.amount, txn.txn_id), t - self.drop_seconds,
                MAX_RECENT_DEBITS,
            )
        balance = txn.balance_after
        if flow is not None or balance is None:
            return
        if t < account.day_end:  # same day as the account's last booking: O(1) peak
            day = account.cur_day
            peak = max(account.peak_before, account.today_max)
        else:
            day = local_day(t)
            peak = account.recent_max(day, self.drop_days)
        if balance > self.keep * peak:
            return
        if day - account.first_day < self.min_history:
            return
        average, _ = account.average(day, self.average_days)
        if average < self.floor or balance > self.keep * average:
            return
        recent = [s for s in account.recent_debits if s[0] >= t - self.drop_seconds]
        largest = sorted(recent, key=lambda s: -s[1])[:MAX_EVIDENCE]
        evidence = [txn.txn_id] + [s[2] for s in largest if s[2] != txn.txn_id]
        self.sink.emit(
            state, self, txn=txn, t=t, scope=f"account:{txn.account_id}", level=self.level,
            facility_id=None, evidence=evidence,
            message=(
                f"Balance collapse on {txn.account_id}: {money(balance)} after a recent peak of "
                f"{money(peak)} and a {self.average_days}-day average of {money(average)}"
            ),
            facts={"balance_after": balance, "recent_peak": peak, "average": average,
                   "account": txn.account_id},
        )
