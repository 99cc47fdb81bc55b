"""Flow shapes of loan money: round trips (资金回流) and fast in, fast out (快进快出).

Round trip: loan money paid out of the unit comes back into any of the unit's accounts within
the window (calendar days), through any number of intermediaries we cannot see:
- directly from a payee that is new since the loan (A -> X -> A), including an entrusted
  payee refunding the borrower;
- from a related party, an affiliate or the client's own account elsewhere that had not paid
  the unit before (A -> X -> R -> A), or from a remitter never seen to the borrower itself
  (A -> X -> ... -> Y -> A), when the money matches a payment of mostly loan money to a firm or
  person new since the loan and is far above the unit's usual receipt (once the unit has
  enough history to tell new from known).
A return from a stranger or a group firm must also be booked as a transfer (往来款, a loan, a
refund) on one side: a purchase and a sale that happen to match in size are trade. Loan money
paid to affiliates is the related-party rule's business.

Fast in, fast out: most of a drawdown leaves the unit within T+N calendar days, mostly to
payees that explain nothing (not entrusted, not a supplier the firm knew, no goods bought),
scattered over several payees or sent to one without naming goods, and the account it left
from is left near zero.
"""

from __future__ import annotations

from crm_risk.monitoring.engine import classify as c
from crm_risk.monitoring.engine.history import local_day
from crm_risk.monitoring.engine.model import FacilityContext
from crm_risk.monitoring.engine.rules.base import DAY, Posting, Rule, money, path_text
from crm_risk.monitoring.engine.ruleset import RuleParams, as_float
from crm_risk.monitoring.engine.trace import FacilityTrace, Use

RELATED_SOURCES = frozenset({c.RELATED_PERSON, c.AFFILIATE, c.OWN_AWAY})
# Payees that do not send money back as part of a scheme we could see (an investment sold
# comes back as a redemption, which is the securities rule's business).
NO_RETURN = frozenset({c.PAYROLL, c.TAX, c.OUR_LOAN, c.GOVERNMENT, c.CASH, c.BANK, c.INVEST})
# Payees that can pass money on to someone who sends it back: firms and persons. Money paid
# to a lender, developer or broker is the diversion rules' finding; a shareholder lending the
# firm money after a payment to a guarantor is not that payment coming back.
CONDUITS = frozenset({c.TRADE, c.PERSON})
MAX_EVIDENCE = 6
RELATED_FACILITY_SHARE = 0.2  # a return from a related party: at least this share of the loan
MAX_RETURN_PARTS = 3  # a remitter paying more often than this is a customer, not a return


class RoundTripRule(Rule):
    """Loan money that comes back to the unit within the window."""

    rule_id = "round_trip"
    on_receipts = True

    def configure(self, params: RuleParams) -> None:
        """Read window, share, floors and the shell-matching band."""
        self.window = as_float(params, "window_days") * DAY
        self.share = as_float(params, "return_share")
        self.min_amount = as_float(params, "min_return_amount")
        self.return_max = as_float(params, "return_ratio_max")
        self.ratio_min = as_float(params, "shell_ratio_min")
        self.ratio_max = as_float(params, "shell_ratio_max")
        self.shell_loan_share = as_float(params, "shell_loan_share")
        self.shell_facility_share = as_float(params, "shell_facility_share")
        self.shell_multiple = as_float(params, "shell_receipt_multiple")
        self.min_history = as_float(params, "min_history_days") * DAY

    def on_receipt(self, p: Posting) -> None:
        """Match a receipt against loan money that left the unit recently."""
        txn = p.txn
        if p.cls == c.REDEMPTION or txn.is_cash or txn.channel == "cash":
            return
        state = p.state
        cutoff = p.t - self.window
        for trace in list(state.traces.values()):
            uses = [u for u in trace.uses
                    if u.t >= cutoff and u.cls not in NO_RETURN and u.cls != c.AFFILIATE]
            if not uses:
                continue
            party = p.party
            known = min(u.t0 for u in uses) - self.sink.known_seconds
            direct = [u for u in uses if u.payee == p.party_key]
            if direct:
                partner = party is not None and (party.n_in >= MAX_RETURN_PARTS
                                                 or party.n_out > MAX_RETURN_PARTS)
                if not partner and (party is None or party.first_out >= known):
                    # A payee new with the loan, not yet a trading partner both ways.
                    self._remember(p, trace, "direct")
                    self._judge(p, trace, direct, how="direct",
                                base=sum(u.amount for u in direct))
                continue
            related = p.cls in RELATED_SOURCES
            # A stranger's money is the weakest evidence: it counts only when it reaches the
            # borrower itself, not another firm of its group (whose new customers are many).
            new = (party is None or party.first_in >= known) and (
                txn.client_id == trace.client_id)
            if related or new:
                # Remember every part; judge strangers only once new can be told from known.
                self._remember(p, trace, "related" if related else "shell")
                if related or p.t - state.first_t >= self.min_history:
                    self._matched(p, trace, uses, how="related" if related else "shell")

    def _remember(self, p: Posting, trace: FacilityTrace, how: str) -> None:
        txn = p.txn
        trace.back((p.t, txn.amount, p.party_key, txn.txn_id, how, txn.memo), self.max_entries)

    def goods(self, memo: str) -> bool:
        """Return whether a memo names goods (set by the engine's classifier)."""
        return self.sink.classifier.is_goods(memo)

    def _matched(self, p: Posting, trace: FacilityTrace, uses: list[Use], *, how: str) -> None:
        """A return through intermediaries: it must match a loan-money payment to a payee
        that is new since the loan, and be far above the unit's usual receipt."""
        state = p.state
        parts = [b[1] for b in trace.backs
                 if b[2] == p.party_key and b[0] >= p.t - self.window]
        came = sum(parts)
        scale = state.receipt_scale(p.txn.client_id)
        if len(parts) > MAX_RETURN_PARTS or came < self.shell_multiple * scale:
            return  # a customer paying now and then, or ordinary-sized receipts
        # Money back from a related party is a return at the rule's shares; from a stranger
        # it is weaker evidence, so it must match more closely and be a larger part.
        shell = how == "shell"
        low, high = (self.ratio_min, self.ratio_max) if shell else (self.share, self.return_max)
        facility = p.unit.facilities.get(trace.facility_id)
        amount = facility.amount if facility else 0.0
        floor = (self.shell_facility_share if shell else RELATED_FACILITY_SHARE) * amount
        if came < floor:
            return  # too little of the facility to be its money coming back
        for use in uses:
            payee = state.parties.get(use.payee)
            if (use.ordinary or use.cls not in CONDUITS or payee is None
                    or payee.first_out < use.t0
                    or use.loan < self.shell_loan_share * use.amount or use.amount < floor):
                continue  # a payee known before the loan, or not mostly loan money
            if not low * use.amount <= came <= high * use.amount:
                continue
            trades = shell or p.cls == c.AFFILIATE  # strangers and group firms sell goods
            if trades and not self._transfer_memo(p, trace, use):
                continue  # a purchase and a sale that happen to match in size
            # A return from a stranger is the weakest evidence: never red on its own.
            self._judge(p, trace, [use], how=how, base=use.amount,
                        ceiling="orange" if shell else None)
            return

    def _transfer_memo(self, p: Posting, trace: FacilityTrace, use: Use) -> bool:
        """Return whether the payment, or most of what came back, was booked as a transfer.

        Money sent round through strangers is booked as 往来款, a loan or a refund on at least
        one side; a purchase and a sale between strangers are booked as trade. A customer's
        odd 往来款 among its payments is not enough: most of the return must say so.
        """
        classifier = self.sink.classifier
        if classifier.is_transfer(use.memo):
            return True
        parts = [b for b in trace.backs if b[2] == p.party_key and b[0] >= p.t - self.window]
        said = sum(b[1] for b in parts if classifier.is_transfer(b[5]))
        return said >= 0.5 * sum(b[1] for b in parts)

    def _judge(self, p: Posting, trace: FacilityTrace, uses: list[Use], *, how: str,
               base: float, ceiling: str | None = None) -> None:
        txn = p.txn
        since = min(u.t for u in uses)
        backs = [b for b in trace.backs if b[2] == p.party_key and b[0] >= since]
        returned = sum(b[1] for b in backs)
        loan = sum(u.loan for u in uses)
        if (base <= 0 or returned < self.share * base or returned > self.return_max * base
                or returned < self.min_amount):
            return
        largest = sorted(uses, key=lambda u: -u.loan)[:MAX_EVIDENCE]
        at_stake = min(loan, returned)
        # One finding per facility and payee that sent the money round.
        self.sink.emit(
            p, self, scope=f"{trace.facility_id}:{largest[0].payee}", client_id=trace.client_id,
            facility=p.unit.facilities.get(trace.facility_id), at_stake=at_stake, ceiling=ceiling,
            evidence=[*largest[0].path, *(u.txn_id for u in largest), *(b[3] for b in backs)],
            message=(
                f"Loan money came back ({how}): {money(returned)} back, "
                f"{returned / base:.0%} of {money(base)} that left; "
                f"last from {txn.counterparty_name or txn.counterparty_account}"
            ),
            facts={
                "returned": round(returned, 2), "measured_against": round(base, 2),
                "return_share": round(returned / base, 4), "loan_money": round(loan, 2),
                "path": path_text((*largest[0].path, largest[0].txn_id, txn.txn_id)),
                "how": how,
            },
        )


class FastInFastOutRule(Rule):
    """Most of a drawdown leaves within days to payees that explain nothing."""

    def _scattered(self, loose: list[Use]) -> bool:
        """Return whether the unexplained money went to several payees, or to one payee
        without a memo naming goods (a single bulk purchase from a new supplier is trade)."""
        payees = {u.payee for u in loose}
        if len(payees) >= 2:
            return True
        return any(not self.sink.classifier.is_goods(u.memo) for u in loose)

    rule_id = "fast_in_fast_out"
    all_uses = True

    def configure(self, params: RuleParams) -> None:
        """Read window, shares and the near-zero balance definition."""
        self.days = round(as_float(params, "window_days"))
        self.share = as_float(params, "outflow_share")
        self.near_zero_amount = as_float(params, "near_zero_amount")
        self.near_zero_share = as_float(params, "near_zero_share")
        self.unexplained = as_float(params, "unexplained_share")
        self.min_drawdown = as_float(params, "min_drawdown")

    def on_use(self, p: Posting, use: Use, trace: FacilityTrace,
               facility: FacilityContext | None) -> None:
        """Judge the drawdowns of the last T+N calendar days after each payment."""
        draws = [d for d in trace.draws if p.day - local_day(d[0]) <= self.days]
        drawn = sum(d[1] for d in draws)
        if drawn < self.min_drawdown:
            return
        start = min(d[0] for d in draws)
        uses = [u for u in trace.uses if u.t >= start]
        out = sum(u.loan for u in uses)
        if out < self.share * drawn:
            return
        loose = [u for u in uses if not u.ordinary]
        unexplained = sum(u.loan for u in loose)
        if unexplained < self.unexplained * out or not self._scattered(loose):
            return
        near_zero = max(self.near_zero_amount, self.near_zero_share * drawn)
        balance = p.account.balance
        if balance is not None and balance > near_zero:
            return
        days = p.day - local_day(start)
        largest = sorted(uses, key=lambda u: -u.loan)[:MAX_EVIDENCE]
        payees = len({u.payee for u in loose})
        self.sink.emit(
            p, self, scope=trace.facility_id, client_id=trace.client_id, facility=facility,
            at_stake=unexplained,
            evidence=[d[2] for d in draws] + [u.txn_id for u in largest],
            message=(
                f"Fast in, fast out: {money(out)} of {money(drawn)} drawn left by T+{days} "
                f"({money(unexplained)} to payees that explain nothing); balance "
                f"{money(balance or 0.0)}"
            ),
            facts={
                "drawn": round(drawn, 2), "out": round(out, 2), "out_share": round(out / drawn, 4),
                "unexplained": round(unexplained, 2), "calendar_days": float(days),
                "payees": float(payees),
                "balance_after": round(balance, 2) if balance is not None else "unknown",
                "path": path_text((*largest[0].path, largest[0].txn_id)),
            },
        )
