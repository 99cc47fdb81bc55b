"""Loan money traced into a prohibited use: securities and wealth, real estate, other lenders.

《贷款通则》 Art. 20 and the 2024 working-capital rules (DOMAIN §6) forbid loan money in
securities, futures, funds and wealth products, in real estate (developers, land grants), and
in repaying other lenders (disguised 借新还旧). A firm may do all of these with its own money,
so each rule judges only the traced loan money in the payments (``ledger``), summed per
facility over the rule's window, and needs it to be a real part of the payments: at least
``min_loan_money`` and ``min_loan_share`` of what was paid.

A firm may pay these payees with its own money, and two readings let it:
- a payee it already paid before the loan is a habit of its own money: the payment is read own
  money first (the lowest-intermediate-balance reading), and only what its own money could not
  have paid counts as loan money;
- a wealth or fund purchase that unusually large receipts of the last 3 days cover (several
  times the firm's usual receipt), from an account whose own money covers it too, is its own
  money: a firm parking a big customer payment had the money without the loan.
"""

from __future__ import annotations

from crm_risk.monitoring.engine import classify as c
from crm_risk.monitoring.engine.model import FacilityContext
from crm_risk.monitoring.engine.rules.base import (
    DAY,
    Posting,
    Rule,
    money,
    path_text,
    window_uses,
)
from crm_risk.monitoring.engine.ruleset import RuleParams, as_float
from crm_risk.monitoring.engine.trace import FacilityTrace, Use

WINDFALL_DAYS = 3


class _LoanMoneyTo(Rule):
    """Shared logic: traced loan money of one facility to one class of payee."""

    what = ""
    parks_money = False  # whether firms park spare money with such payees

    def configure(self, params: RuleParams) -> None:
        """Read the loan-money floors."""
        self.min_loan = as_float(params, "min_loan_money")
        self.min_share = as_float(params, "min_loan_share")

    def qualifies(self, p: Posting, use: Use) -> bool:
        """Return whether this use may count (subclasses add conditions)."""
        return True

    @staticmethod
    def windfall(p: Posting) -> float:
        """Return what unusually large receipts brought the client in the last days."""
        balances = p.state.balances.get(p.txn.client_id)
        return balances.windfall(p.t, WINDFALL_DAYS) if balances is not None else 0.0

    def habitual(self, p: Posting, use: Use) -> bool:
        """Return whether the firm paid this payee before the loan."""
        return p.party is not None and p.party.paid_before(use.t0 - self.sink.known_seconds)

    def on_use(self, p: Posting, use: Use, trace: FacilityTrace,
               facility: FacilityContext | None) -> None:
        """Judge the facility's loan money to this class of payee over the window."""
        if not self.qualifies(p, use):
            return
        uses = [u for u in window_uses(trace, self.use_classes, p.t - self.dedupe_seconds)
                if self.qualifies(p, u)]
        loan = sum(u.loan for u in uses)
        paid = sum(u.amount for u in uses)
        if loan < self.min_loan or paid <= 0 or loan < self.min_share * paid:
            return
        own = p.own_money_before()
        if self.parks_money and own is not None and use.amount <= min(self.windfall(p), own):
            return  # a big receipt just came in, and this account's own money covers it
        if self.habitual(p, use):
            own = p.own_money_before()
            necessary = use.loan if own is None else max(0.0, use.amount - own)
            if min(use.loan, necessary) < self.min_loan:
                return
            habit = True
        else:
            habit = False
        largest = max(uses, key=lambda u: u.loan)
        txn = p.txn
        self.sink.emit(
            p, self, scope=trace.facility_id, client_id=trace.client_id, facility=facility,
            at_stake=loan, evidence=[*largest.path, *(u.txn_id for u in uses)],
            message=(
                f"Loan money to {self.what}: {money(loan)} of facility {trace.facility_id} "
                f"({loan / paid:.0%} of {money(paid)} paid) to "
                f"{txn.counterparty_name or txn.counterparty_account}; path "
                f"{path_text((*largest.path, largest.txn_id))}"
            ),
            facts={
                "loan_money": round(loan, 2), "paid": round(paid, 2),
                "loan_share": round(loan / paid, 4), "payee": txn.counterparty_name,
                "payee_class": use.cls, "path": path_text((*largest.path, largest.txn_id)),
                "hops": float(len(largest.path) - 1), "known_payee": "yes" if habit else "no",
            },
        )


class SecuritiesInvestmentRule(_LoanMoneyTo):
    """Loan money to brokers, futures, funds, wealth and trust products."""

    rule_id = "securities_investment"
    use_classes = frozenset({c.INVEST})
    what = "securities, futures, funds or wealth products"
    parks_money = True


class RealEstateRule(_LoanMoneyTo):
    """Loan money to developers and land-grant payments (土地出让金)."""

    rule_id = "real_estate"
    use_classes = frozenset({c.ESTATE})
    what = "real estate (a developer or a land grant)"


class DisguisedRepaymentRule(_LoanMoneyTo):
    """Loan money repays other lenders within the window after the drawdown (借新还旧)."""

    rule_id = "disguised_repayment"
    use_classes = frozenset({c.LENDER})
    what = "another lender"

    def configure(self, params: RuleParams) -> None:
        """Read the floors and the window after the drawdown."""
        super().configure(params)
        self.window = as_float(params, "window_days") * DAY

    def qualifies(self, p: Posting, use: Use) -> bool:
        """Only money paid within the window after its drawdown counts."""
        return use.t - use.t0 <= self.window
