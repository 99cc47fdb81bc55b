"""Which debits spend loan money, of which facility, and how much ("loan money" tracking).

A credit tagged with a facility id is a drawdown into that account. A debit tagged with a
facility id is loan money in full. An untagged debit from an account holding unspent drawdown
money of a facility (last drawdown within ``tracking.attribution_days``) is loan money up to that
unspent amount ("loan money first", as banks assume when checking self-payment); with several
facilities on one account the most recent drawdown is used first. Transfers to the client's own
accounts at this bank consume loan money but are not payments: they do not count as outflows,
and the money is not traced further (a known limit: a hop through an own account hides later use
unless core banking tags the later payment).
"""

from __future__ import annotations

from crm_risk.monitoring.context import ClientProfile
from crm_risk.monitoring.model import Transaction
from crm_risk.monitoring.rules.base import FacilityFlow, payee_key
from crm_risk.monitoring.state import ClientState


class LoanMoneyTracker:
    """Record drawdowns and attribute debits to facilities."""

    def __init__(
        self, *, attribution_seconds: float, retention_seconds: float, max_entries: int
    ) -> None:
        """Keep unspent money for ``attribution_seconds`` and windows for ``retention_seconds``."""
        self.attribution_seconds = attribution_seconds
        self.retention_seconds = retention_seconds
        self.max_entries = max_entries

    def drawdown(self, txn: Transaction, t: float, state: ClientState) -> None:
        """Record credit ``txn`` (tagged with a facility) as a drawdown into its account."""
        facility = state.facility(str(txn.facility_id))
        facility.prune(t - self.retention_seconds)
        facility.add_drawdown(t, txn.amount, txn.txn_id, txn.account_id, self.max_entries)
        state.carriers.add(txn.account_id)

    def attribute(
        self, txn: Transaction, t: float, state: ClientState, profile: ClientProfile
    ) -> FacilityFlow | None:
        """Return how much of debit ``txn`` is loan money and of which facility, or None."""
        account = txn.account_id
        facility_id = txn.facility_id
        if facility_id is not None:
            facility = state.facility(facility_id)
            facility.expire_unspent(t, self.attribution_seconds)
            facility.take(account, txn.amount)
            attributed = txn.amount
        else:
            chosen = None
            newest = float("-inf")
            for candidate in state.facilities.values():
                left = candidate.unspent.get(account)
                last = candidate.last_drawdown_t
                if not left or left <= 0 or last is None:
                    continue
                if t - last > self.attribution_seconds:
                    candidate.unspent.clear()
                elif last > newest:
                    chosen, newest = candidate, last
            if chosen is None:
                return None
            facility = chosen
            attributed = facility.take(account, txn.amount)
        facility.prune(t - self.retention_seconds)
        context = profile.facilities.get(facility.facility_id)
        payee = txn.counterparty_account
        internal = bool(payee) and (
            payee in profile.own_accounts or payee in state.internal_accounts
        )
        entrusted = context is not None and payee in context.entrusted_counterparties
        if not internal:
            facility.add_outflow(
                t, attributed, payee_key(payee, txn.counterparty_name), txn.txn_id,
                entrusted=entrusted, cap=self.max_entries,
            )
        return FacilityFlow(
            facility=facility, context=context, attributed=attributed,
            explicit=facility_id is not None, internal=internal, entrusted_payee=entrusted,
        )
