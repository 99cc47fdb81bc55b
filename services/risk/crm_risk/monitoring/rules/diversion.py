"""Purpose-diversion rules on loan money: securities and wealth, real estate, other lenders.

Each fires on a debit the engine attributes to a facility (tagged, or paid from a drawdown
account while the drawdown is unspent). The same payees paid from the client's own money are
not loan misuse (firms park surplus cash in wealth products and pay rent), so they stay quiet.
"""

from __future__ import annotations

from crm_risk.monitoring.config import RuleParams, as_float, as_strs
from crm_risk.monitoring.context import ClientProfile
from crm_risk.monitoring.model import Transaction
from crm_risk.monitoring.rules.base import FacilityFlow, Rule, keyword_pattern, matches, money
from crm_risk.monitoring.state import ClientState

DAY = 86_400.0


class _PayeeRule(Rule):
    """Shared plumbing: emit one alert per facility window for a matching loan-money payee."""

    on_facility_debits = True
    what = ""

    def report(self, txn: Transaction, t: float, state: ClientState, flow: FacilityFlow,
               reason: str) -> None:
        """Emit the hit for ``txn`` with ``reason`` (which test matched)."""
        facility_id = flow.facility.facility_id
        self.sink.emit(
            state, self, txn=txn, t=t, scope=facility_id, level=self.level,
            facility_id=facility_id, evidence=[txn.txn_id],
            message=(
                f"Loan money to {self.what}: {money(flow.attributed)} to "
                f"{txn.counterparty_name or txn.counterparty_account} ({reason})"
            ),
            facts={
                "amount": txn.amount, "loan_money": flow.attributed, "matched_by": reason,
                "counterparty": txn.counterparty_name,
                "counterparty_type": txn.counterparty_type,
            },
        )


class SecuritiesInvestmentRule(_PayeeRule):
    """Loan money to a broker, futures or wealth account, or a name saying so."""

    rule_id = "securities_investment"
    what = "securities, futures or wealth products"

    def configure(self, params: RuleParams) -> None:
        """Read payee types, name keywords and the amount floor."""
        self.types = frozenset(as_strs(params, "payee_types"))
        self.names = keyword_pattern(as_strs(params, "name_keywords"))
        self.min_amount = as_float(params, "min_amount")

    def on_debit(
        self,
        txn: Transaction,
        t: float,
        state: ClientState,
        profile: ClientProfile,
        flow: FacilityFlow | None,
    ) -> None:
        """Alert on loan money to an investment payee."""
        if flow is None or flow.internal or flow.attributed < self.min_amount:
            return
        if txn.counterparty_type in self.types:
            self.report(txn, t, state, flow, f"payee type {txn.counterparty_type}")
        elif matches(self.names, txn.counterparty_name):
            self.report(txn, t, state, flow, "payee name")


class RealEstateRule(_PayeeRule):
    """Loan money to a real-estate payee: industry K70 (not property services) or its name."""

    rule_id = "real_estate"
    what = "real estate"

    def configure(self, params: RuleParams) -> None:
        """Read industry prefixes, exemptions, name keywords and the amount floor."""
        self.prefixes = as_strs(params, "industry_prefixes")
        self.exempt = as_strs(params, "exempt_industries")
        self.names = keyword_pattern(as_strs(params, "name_keywords"))
        self.min_amount = as_float(params, "min_amount")

    def on_debit(
        self,
        txn: Transaction,
        t: float,
        state: ClientState,
        profile: ClientProfile,
        flow: FacilityFlow | None,
    ) -> None:
        """Alert on loan money to a developer or property investor."""
        if flow is None or flow.internal or flow.attributed < self.min_amount:
            return
        industry = txn.counterparty_industry.strip().upper()
        if industry:
            if industry.startswith(self.exempt):
                return  # the industry code is more precise than a name containing 地产
            if industry.startswith(self.prefixes):
                self.report(txn, t, state, flow, f"industry {industry}")
                return
        if matches(self.names, txn.counterparty_name):
            self.report(txn, t, state, flow, "payee name")


class DisguisedRepaymentRule(_PayeeRule):
    """Loan money repays other lenders soon after a drawdown (disguised 借新还旧).

    Microlenders and guarantors always match. Banks match by type or name, except payments
    whose name marks them as interest, fees or payroll agency. Investment payees are left to
    the securities rule even when a bank runs them. A drawdown of the facility must have been
    seen within the window (a tagged payment with no known drawdown does not qualify).
    """

    rule_id = "disguised_repayment"
    what = "another lender"

    def configure(self, params: RuleParams) -> None:
        """Read lender and bank matchers, exemptions, window and amount floor."""
        self.window = as_float(params, "window_days") * DAY
        self.min_amount = as_float(params, "min_amount")
        self.lender_types = frozenset(as_strs(params, "lender_types"))
        self.lender_names = keyword_pattern(as_strs(params, "lender_name_keywords"))
        self.bank_types = frozenset(as_strs(params, "bank_types"))
        self.bank_names = keyword_pattern(as_strs(params, "bank_name_keywords"))
        self.exempt_names = keyword_pattern(as_strs(params, "exempt_name_keywords"))
        self.exempt_types = frozenset(as_strs(params, "exempt_types"))

    def on_debit(
        self,
        txn: Transaction,
        t: float,
        state: ClientState,
        profile: ClientProfile,
        flow: FacilityFlow | None,
    ) -> None:
        """Alert on loan money to a bank, microlender or guarantor within the window."""
        if flow is None or flow.internal or flow.attributed < self.min_amount:
            return
        kind = txn.counterparty_type
        if kind in self.exempt_types:
            return
        last = flow.facility.last_drawdown_t
        if last is None or t - last > self.window:
            return  # no drawdown seen within the window: nothing to have repaid "with"
        name = txn.counterparty_name
        if kind in self.lender_types or matches(self.lender_names, name):
            self.report(txn, t, state, flow, "microlender or guarantor")
        elif (kind in self.bank_types or matches(self.bank_names, name)) and not matches(
            self.exempt_names, name
        ):
            self.report(txn, t, state, flow, "bank")
