"""Cash and structuring: loan money taken out in cash, unusual cash days, split amounts.

Lines follow the PBOC large-value reporting rules (DOMAIN §6): cash 5万 a day, transfers to
individuals 50万, corporate transfers 200万. Firms draw petty cash every week, so a cash
withdrawal alone is not a signal; these are:
- loan money withdrawn in cash (it leaves every trace), at least ``loan_cash_min``, or a
  withdrawal at the cash line that is at least ``loan_cash_share`` loan money (yellow);
- a cash day far above anything the client drew before (``large_cash_day`` and
  ``large_cash_multiple`` times its largest earlier cash day);
- ``min_count`` or more cash withdrawals just under the cash line on one calendar day;
- ``min_count`` or more transfers just under 50万 to persons, or just under 200万 to one
  payee, on one calendar day.
"""

from __future__ import annotations

from collections import deque

from crm_risk.monitoring.engine import classify as c
from crm_risk.monitoring.engine.rules.base import Posting, Rule, money
from crm_risk.monitoring.engine.ruleset import RuleParams, as_float, as_int
from crm_risk.monitoring.engine.state import Stamp


class CashStructuringRule(Rule):
    """Loan money in cash, unusual cash days and amounts split under reporting lines."""

    rule_id = "cash_structuring"
    on_debits = True

    def configure(self, params: RuleParams) -> None:
        """Read the lines, the band, the count and the cash-day limits."""
        band = as_float(params, "band_share")
        self.cash_line = as_float(params, "cash_threshold")
        self.person_line = as_float(params, "person_line")
        self.payee_line = as_float(params, "payee_line")
        self.band = 1.0 - band
        self.min_count = as_int(params, "min_count")
        self.loan_cash_min = as_float(params, "loan_cash_min")
        self.loan_cash_share = as_float(params, "loan_cash_share")
        self.large_day = as_float(params, "large_cash_day")
        self.large_multiple = as_float(params, "large_cash_multiple")

    def on_debit(self, p: Posting) -> None:
        """Check a payment against the cash and transfer lines."""
        txn = p.txn
        amount = txn.amount
        if p.cls == c.CASH:
            self._cash(p)
        elif p.cls in (c.PERSON, c.RELATED_PERSON):
            if self.band * self.person_line <= amount < self.person_line:
                self._split(p, f"person_split:{txn.client_id}:{p.day}", self.person_line,
                            "transfers to persons")
        elif self.band * self.payee_line <= amount < self.payee_line:
            self._split(p, f"payee_split:{txn.client_id}:{p.party_key}:{p.day}",
                        self.payee_line, "transfers to one payee")

    def _cash(self, p: Posting) -> None:
        txn = p.txn
        loan = sum(part for _, part in p.takes)
        # Loan money in cash at the line, or a withdrawal at the line that is largely loan
        # money (a busy account mixes it with own money; the share still says whose it is).
        mostly = txn.amount >= self.cash_line and loan >= self.loan_cash_share * txn.amount
        flagged = loan >= self.loan_cash_min or mostly
        if flagged:
            lot = max(p.takes, key=lambda take: take[1])[0]
            facility = p.unit.facilities.get(lot.facility_id)
            self.sink.emit(
                p, self, scope=f"loan_cash:{lot.facility_id}",
                client_id=facility.client_id if facility else txn.client_id, facility=facility,
                at_stake=loan, evidence=[*lot.path, txn.txn_id],
                level=self.level if loan >= self.loan_cash_min else "yellow",
                message=f"Loan money withdrawn in cash: {money(loan)} of {money(txn.amount)}",
                facts={"loan_money": round(loan, 2), "amount": txn.amount, "kind": "loan_cash"},
            )
        balances = p.state.balances.get(txn.client_id)
        if balances is not None and flagged:
            balances.cash_today += txn.amount  # the loan-money alert above says more
        elif balances is not None:
            balances.cash_today += txn.amount
            today = balances.cash_today
            history = p.day - balances.first_day
            if (history >= 14 and today >= self.large_day
                    and today >= self.large_multiple * balances.cash_max):
                self.sink.emit(
                    p, self, scope="large_cash", client_id=txn.client_id, facility=None,
                    at_stake=today, evidence=[txn.txn_id], level="yellow",
                    message=(f"Cash day of {money(today)}, {today / max(balances.cash_max, 1):.1f}"
                             f" times the largest before"),
                    facts={"cash_today": today, "largest_before": balances.cash_max,
                           "kind": "large_cash"},
                )
        if self.band * self.cash_line <= txn.amount < self.cash_line:
            self._split(p, f"cash_split:{txn.client_id}:{p.day}", self.cash_line, "cash")

    def _split(self, p: Posting, key: str, line: float, what: str) -> None:
        txn = p.txn
        band = p.state.bands.get(key)
        if band is None:
            band = p.state.bands[key] = deque()
        stamp: Stamp = (p.t, txn.amount, txn.txn_id)
        band.append(stamp)
        if len(band) < self.min_count:
            return
        total = sum(s[1] for s in band)
        self.sink.emit(
            p, self, scope=key.rsplit(":", 1)[0].split(":", 1)[0], client_id=txn.client_id,
            facility=None, at_stake=total, evidence=[s[2] for s in band], level=self.level,
            message=(f"Structuring: {len(band)} {what} just under {money(line)} on one day, "
                     f"total {money(total)}"),
            facts={"count": float(len(band)), "total": total, "line": line,
                   "kind": key.split(":", 1)[0]},
        )
