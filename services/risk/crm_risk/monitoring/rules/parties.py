"""Payee rules: related parties and company-to-personal (公转私), entrusted-payment mismatch."""

from __future__ import annotations

from crm_risk.monitoring.config import RuleParams, as_float
from crm_risk.monitoring.context import ClientProfile
from crm_risk.monitoring.model import Transaction
from crm_risk.monitoring.rules.base import FacilityFlow, Rule, money
from crm_risk.monitoring.state import ClientState

PERSONAL_SCOPE = "personal"


class RelatedPartyRule(Rule):
    """Loan money to a related party or any person; large company-to-personal transfers.

    Related = named in the client's related parties, its legal representative or actual
    controller, or a related account (including the client's accounts at other banks).
    """

    rule_id = "related_party"
    on_all_debits = True

    def configure(self, params: RuleParams) -> None:
        """Read the personal-transfer threshold and the loan-money floor."""
        self.personal_threshold = as_float(params, "personal_transfer_threshold")
        self.facility_min = as_float(params, "facility_min_amount")

    def on_debit(
        self,
        txn: Transaction,
        t: float,
        state: ClientState,
        profile: ClientProfile,
        flow: FacilityFlow | None,
    ) -> None:
        """Alert on loan money to related parties or persons, or a large personal transfer."""
        personal = txn.counterparty_type == "individual"
        if flow is not None and not flow.internal and flow.attributed > 0:
            related = profile.is_related(txn.counterparty_name, txn.counterparty_account)
            if (personal or related) and flow.attributed >= self.facility_min:
                facility_id = flow.facility.facility_id
                who = "a related party" if related else "a person"
                self.sink.emit(
                    state, self, txn=txn, t=t, scope=facility_id, level=self.level,
                    facility_id=facility_id, evidence=[txn.txn_id],
                    message=(
                        f"Loan money to {who}: {money(flow.attributed)} to "
                        f"{txn.counterparty_name or txn.counterparty_account}"
                    ),
                    facts={
                        "amount": txn.amount, "loan_money": flow.attributed,
                        "related": "yes" if related else "no",
                        "counterparty_type": txn.counterparty_type,
                    },
                )
                return
        if not personal or txn.amount < self.personal_threshold:
            return
        account = txn.counterparty_account
        if account and (account in profile.own_accounts or account in state.internal_accounts):
            return
        self.sink.emit(
            state, self, txn=txn, t=t, scope=PERSONAL_SCOPE, level=self.level,
            facility_id=None, evidence=[txn.txn_id],
            message=(
                f"Company-to-personal transfer of {money(txn.amount)} to "
                f"{txn.counterparty_name or account}"
            ),
            facts={"amount": txn.amount, "threshold": self.personal_threshold},
        )


class EntrustedMismatchRule(Rule):
    """Money of a facility with entrusted-payment counterparties goes to anyone else.

    Moving it to the client's own account also counts: it leaves the entrusted path.
    """

    rule_id = "entrusted_mismatch"
    on_facility_debits = True

    def configure(self, params: RuleParams) -> None:
        """Read the single-payment floor (0 = every payment)."""
        self.min_single = as_float(params, "min_single_payment")

    def on_debit(
        self,
        txn: Transaction,
        t: float,
        state: ClientState,
        profile: ClientProfile,
        flow: FacilityFlow | None,
    ) -> None:
        """Alert when an entrusted facility pays a payee outside its approved list."""
        if flow is None or flow.entrusted_payee or flow.attributed <= 0:
            return
        context = flow.context
        if context is None or not context.entrusted_counterparties:
            return
        if txn.amount < self.min_single:
            return
        facility_id = flow.facility.facility_id
        where = "the client's own account" if flow.internal else "a non-entrusted payee"
        self.sink.emit(
            state, self, txn=txn, t=t, scope=facility_id, level=self.level,
            facility_id=facility_id, evidence=[txn.txn_id],
            message=(
                f"Entrusted-payment mismatch: {money(flow.attributed)} of facility "
                f"{facility_id} paid to {where} "
                f"({txn.counterparty_name or txn.counterparty_account})"
            ),
            facts={
                "amount": txn.amount, "loan_money": flow.attributed,
                "payee_account": txn.counterparty_account,
                "approved_payees": float(len(context.entrusted_counterparties)),
            },
        )
