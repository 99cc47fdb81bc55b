"""Flow-shape rules on loan money: round-tripping (资金回流) and fast-in-fast-out (快进快出)."""

from __future__ import annotations

from crm_risk.monitoring.config import RuleParams, as_float
from crm_risk.monitoring.context import ClientProfile
from crm_risk.monitoring.model import Transaction
from crm_risk.monitoring.rules.base import FacilityFlow, Rule, money, payee_key
from crm_risk.monitoring.state import ClientState, FacilityState, Outflow, Return

DAY = 86_400.0
RELATED_SOURCE = "related"  # returns from related parties pool together, whoever sent them
MAX_EVIDENCE_OUTFLOWS = 5


class RoundTripRule(Rule):
    """Loan money paid to X comes back from X, or from a related party, within the window.

    Approximates 1-3 hops (A->B->A, A->B->C(related)->A). Share = returned / paid to X for a
    direct return; for the related-party path, returned by related parties since the window's
    drawdowns / the amount drawn. Cash is not traceable and ignored. Credits from the client's
    own accounts at this bank are internal moves and ignored (its accounts elsewhere are
    related accounts, so they count).
    """

    rule_id = "round_trip"
    on_credits = True

    def configure(self, params: RuleParams) -> None:
        """Read window, share and floor."""
        self.window = as_float(params, "window_days") * DAY
        self.share = as_float(params, "return_share")
        self.min_amount = as_float(params, "min_return_amount")

    def on_credit(
        self, txn: Transaction, t: float, state: ClientState, profile: ClientProfile
    ) -> None:
        """Record a possible return and alert when the returned share reaches the threshold."""
        if not state.facilities or txn.is_cash or txn.channel == "cash":
            return  # cash has no traceable remitter
        account = txn.counterparty_account
        if account and (account in state.internal_accounts or account in profile.own_accounts):
            return
        source = payee_key(account, txn.counterparty_name)
        related: bool | None = None  # computed lazily: most credits never need it
        cutoff = t - self.window
        for facility in state.facilities.values():
            if not facility.outflows:
                continue
            if source in facility.paid_to:
                self._direct(txn, t, state, facility, source=source, cutoff=cutoff)
                continue
            if not facility.drawdowns:
                continue  # the related-party path measures returns against recent drawdowns
            if related is None:
                related = profile.is_related(txn.counterparty_name, account)
            if related:
                self._via_related(txn, t, state, facility, cutoff)

    def _direct(self, txn: Transaction, t: float, state: ClientState, facility: FacilityState,
                *, source: str, cutoff: float) -> None:
        """Money back from a payee of loan money: share of what that payee received."""
        facility.add_return(t, txn.amount, source, txn.txn_id, self.max_entries)
        outflows = [o for o in facility.outflows if cutoff <= o[0] <= t and o[2] == source]
        returns = [r for r in facility.returns if r[0] >= cutoff and r[2] == source]
        self._judge(txn, t, state, facility, outflows=outflows, returns=returns, path="direct")

    def _via_related(self, txn: Transaction, t: float, state: ClientState,
                     facility: FacilityState, cutoff: float) -> None:
        """Money from a related party after a drawdown: share of the amount drawn.

        Measured against the drawdowns, not against what has left so far: group companies pay
        each other for goods, and a small receipt after the first payments of a loan is not
        half the loan coming back.
        """
        draws = [d for d in facility.drawdowns if d[0] >= cutoff]
        if not draws:
            return
        facility.add_return(t, txn.amount, RELATED_SOURCE, txn.txn_id, self.max_entries)
        since = min(d[0] for d in draws)
        outflows = [o for o in facility.outflows if since <= o[0] <= t]
        returns = [r for r in facility.returns if r[0] >= since and r[2] == RELATED_SOURCE]
        self._judge(txn, t, state, facility, outflows=outflows, returns=returns,
                    path="related", base=sum(d[1] for d in draws))

    def _judge(self, txn: Transaction, t: float, state: ClientState, facility: FacilityState,
               *, outflows: list[Outflow], returns: list[Return], path: str,
               base: float | None = None) -> None:
        paid = sum(o[1] for o in outflows)
        measure = paid if base is None else base
        returned = sum(r[1] for r in returns)
        if paid <= 0 or returned < self.share * measure or returned < self.min_amount:
            return
        largest = sorted(outflows, key=lambda o: -o[1])[:MAX_EVIDENCE_OUTFLOWS]
        via = "the payee" if path == "direct" else "related parties"
        self.sink.emit(
            state, self, txn=txn, t=t, scope=facility.facility_id, level=self.level,
            facility_id=facility.facility_id,
            evidence=[o[3] for o in largest] + [r[3] for r in returns],
            message=(
                f"Loan money returned via {via}: {money(returned)} back, "
                f"{returned / measure:.0%} of {money(measure)}"
                f"{' paid to it' if path == 'direct' else ' drawn'}"
            ),
            facts={
                "paid": paid, "measured_against": measure, "returned": returned,
                "return_share": returned / measure, "path": path,
            },
        )


class FastInFastOutRule(Rule):
    """Most of a drawdown leaves to non-entrusted payees within days and the account is empty.

    If the core system sends no balance, the outflow share alone decides.
    """

    rule_id = "fast_in_fast_out"
    on_facility_debits = True

    def configure(self, params: RuleParams) -> None:
        """Read window, share and the near-zero balance definition."""
        self.window = as_float(params, "window_days") * DAY
        self.share = as_float(params, "outflow_share")
        self.near_zero_amount = as_float(params, "near_zero_amount")
        self.near_zero_share = as_float(params, "near_zero_share")

    def on_debit(
        self,
        txn: Transaction,
        t: float,
        state: ClientState,
        profile: ClientProfile,
        flow: FacilityFlow | None,
    ) -> None:
        """Alert when recent drawdowns have left and the paying account is near zero."""
        if flow is None or flow.internal or flow.entrusted_payee:
            return
        facility = flow.facility
        cutoff = t - self.window
        draws = [d for d in facility.drawdowns if d[0] >= cutoff]
        if not draws:
            return
        drawn = sum(d[1] for d in draws)
        start = min(d[0] for d in draws)
        outflows = [o for o in facility.outflows if o[0] >= start and not o[4]]
        out = sum(o[1] for o in outflows)
        if out < self.share * drawn:
            return
        near_zero = max(self.near_zero_amount, self.near_zero_share * drawn)
        balance = txn.balance_after
        if balance is not None and balance > near_zero:
            return
        hours = (t - start) / 3600.0
        self.sink.emit(
            state, self, txn=txn, t=t, scope=facility.facility_id, level=self.level,
            facility_id=facility.facility_id,
            evidence=[d[2] for d in draws] + [o[3] for o in outflows],
            message=(
                f"Fast in, fast out: {money(out)} of {money(drawn)} drawn left within "
                f"{hours:.0f} h; balance {money(balance or 0.0)}"
            ),
            facts={
                "drawn": drawn, "out": out, "out_share": out / drawn, "hours": hours,
                "balance_after": balance if balance is not None else "unknown",
            },
        )
