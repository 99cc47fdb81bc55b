"""Sudden balance collapse: a client's deposits here fall by most of their level in days.

Measured on the client's total deposits at this bank (moves between its own accounts cancel
out), against both its peak of the last ``drop_days`` calendar days, less what left in those
days for reasons that do not make a firm poorer (repayments to this bank, taxes, payroll,
wealth products bought, moves to its own accounts and group cash pools, and loan money leaving
a loan account, which the flow rules follow), and its ``average_days`` average. Judged
relative to the client's own history, with no absolute floor beyond ``average_floor``, and only
when most of the fall went to payees the firm had not paid before.
"""

from __future__ import annotations

from crm_risk.monitoring.engine.classify import NOT_A_COLLAPSE
from crm_risk.monitoring.engine.history import local_day
from crm_risk.monitoring.engine.rules.base import Posting, Rule, money
from crm_risk.monitoring.engine.ruleset import RuleParams, as_float

MAX_EVIDENCE = 6


class BalanceCollapseRule(Rule):
    """Deposits end at most (1 - drop_share) of both their recent peak and their average."""

    rule_id = "balance_collapse"
    on_debits = True

    def configure(self, params: RuleParams) -> None:
        """Read the drop share, spans, floor and history requirement."""
        self.keep = 1.0 - as_float(params, "drop_share")
        self.keep_average = 1.0 - as_float(params, "average_drop_share")
        self.drop_days = max(1, round(as_float(params, "drop_days")))
        self.average_days = max(1, round(as_float(params, "average_days")))
        self.floor = as_float(params, "average_floor")
        self.min_history = as_float(params, "min_history_days")
        self.unusual_share = as_float(params, "unusual_share")

    def on_debit(self, p: Posting) -> None:
        """Alert when this payment completes a collapse of the client's deposits."""
        if p.cls in NOT_A_COLLAPSE:
            return
        txn = p.txn
        balances = p.state.balances.get(txn.client_id)
        if balances is None or p.day - balances.first_day < self.min_history:
            return
        since = p.day - self.drop_days
        excluded = sum(a for t, a in balances.excluded if local_day(t) >= since)
        deposits = balances.total
        # The recent peak, less what left for reasons that do not make a firm poorer.
        reference = balances.recent_peak(p.day, self.drop_days) - excluded
        if deposits > self.keep * reference:
            return
        average, _ = balances.average(p.day, self.average_days)
        if average < self.floor or deposits > self.keep_average * average:
            return
        recent = [d for d in balances.debits if local_day(d[0]) >= since]
        counted = sum(d[1] for d in recent)
        unusual = sum(d[1] for d in recent if d[3])
        if counted <= 0 or unusual < self.unusual_share * counted:
            return
        largest = sorted(recent, key=lambda d: -d[1])[:MAX_EVIDENCE]
        self.sink.emit(
            p, self, scope=f"deposits:{txn.client_id}", client_id=txn.client_id, facility=None,
            at_stake=reference - deposits, evidence=[txn.txn_id, *(d[2] for d in largest)],
            level=self.level,
            message=(
                f"Balance collapse: deposits {money(deposits)} after a recent level of "
                f"{money(reference)} and a {self.average_days}-day average of {money(average)}; "
                f"{money(unusual)} went to payees never paid before"
            ),
            facts={"deposits": round(deposits, 2), "recent_level": round(reference, 2),
                   "average": round(average, 2), "unusual_outflow": round(unusual, 2)},
        )
