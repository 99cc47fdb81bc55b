"""Who got the loan money: related parties and persons (公转私), and entrusted-payment payees.

Related party: traced loan money to the client's legal representative, actual controller,
shareholders, executives or their relatives, to a related company outside the unit, or to any
natural person outside payroll in amounts no wage explains; and, whatever the money, a
company-to-personal transfer at or above the AML line for individuals (50万). A payment to an
affiliate whose memo names goods is group trade unless it is far above what the unit usually
pays it (or usually receives).

Entrusted payment (受托支付): a facility with approved payees is paid by the bank to them. Its
loan money reaching anyone else (a payment booked as entrusted to another payee, or the
borrower's own payments once its own money ran out, or a move to its own account) leaves the
entrusted path.
"""

from __future__ import annotations

from crm_risk.monitoring.engine import classify as c
from crm_risk.monitoring.engine.model import FacilityContext
from crm_risk.monitoring.engine.rules.base import Posting, Rule, money, path_text, window_uses
from crm_risk.monitoring.engine.ruleset import RuleParams, as_float
from crm_risk.monitoring.engine.trace import FacilityTrace, Use

ORDINARY = frozenset({c.PAYROLL, c.TAX, c.OUR_LOAN, c.GOVERNMENT})
PERSON_MIN_PAYMENT = 5e4  # a single payment to an unrelated person above any monthly wage
RELATED = frozenset({c.RELATED_PERSON, c.PERSON, c.AFFILIATE})


class RelatedPartyRule(Rule):
    """Loan money to related parties or persons; large company-to-personal transfers."""

    rule_id = "related_party"
    use_classes = RELATED
    on_debits = True

    def configure(self, params: RuleParams) -> None:
        """Read the floors, the personal-transfer line and the affiliate-trade multiple."""
        self.min_loan = as_float(params, "min_loan_money")
        self.min_share = as_float(params, "min_loan_share")
        self.personal_line = as_float(params, "personal_transfer_threshold")
        self.trade_multiple = as_float(params, "affiliate_trade_multiple")
        self._flagged = ""  # the payment the facility rule last flagged

    def _counts(self, p: Posting, use: Use) -> bool:
        if use.cls == c.PERSON:
            return use.amount >= PERSON_MIN_PAYMENT
        if use.cls == c.AFFILIATE and self.sink.classifier.is_goods(p.txn.memo):
            # Group trade: goods paid for, unless far above anything paid to it before.
            party = p.party
            if party is None:
                return False
            usual = max(party.max_out, party.sum_in / party.n_in if party.n_in else 0.0)
            return use.amount > self.trade_multiple * usual
        return True

    def on_use(self, p: Posting, use: Use, trace: FacilityTrace,
               facility: FacilityContext | None) -> None:
        """Judge the facility's loan money to related parties and persons over the window."""
        if not self._counts(p, use):
            return
        uses = [u for u in window_uses(trace, RELATED, p.t - self.dedupe_seconds)
                if self._counts(p, u)]
        loan = sum(u.loan for u in uses)
        paid = sum(u.amount for u in uses)
        if loan < self.min_loan or loan < self.min_share * paid:
            return
        largest = max(uses, key=lambda u: u.loan)
        who = {c.RELATED_PERSON: "a related person", c.AFFILIATE: "a related company"}.get(
            use.cls, "a natural person")
        txn = p.txn
        self._flagged = txn.txn_id
        self.sink.emit(
            p, self, scope=trace.facility_id, client_id=trace.client_id, facility=facility,
            at_stake=loan, evidence=[*largest.path, *(u.txn_id for u in uses)],
            message=(
                f"Loan money to {who}: {money(loan)} of facility {trace.facility_id} to "
                f"{txn.counterparty_name or txn.counterparty_account}; path "
                f"{path_text((*largest.path, largest.txn_id))}"
            ),
            facts={
                "loan_money": round(loan, 2), "paid": round(paid, 2),
                "loan_share": round(loan / paid, 4), "payee_class": use.cls,
                "path": path_text((*largest.path, largest.txn_id)),
            },
        )

    def on_debit(self, p: Posting) -> None:
        """Flag a company-to-personal transfer at or above the AML line."""
        txn = p.txn
        if p.cls not in (c.PERSON, c.RELATED_PERSON) or txn.amount < self.personal_line:
            return
        if self._flagged == txn.txn_id:
            return  # the facility's warning for this payment says more
        self.sink.emit(
            p, self, scope="personal", client_id=txn.client_id, facility=None,
            at_stake=txn.amount, evidence=[txn.txn_id], level=self.level,
            message=(
                f"Company-to-personal transfer of {money(txn.amount)} to "
                f"{txn.counterparty_name or txn.counterparty_account}"
                f"{' (a related person)' if p.cls == c.RELATED_PERSON else ''}"
            ),
            facts={"amount": txn.amount, "threshold": self.personal_line,
                   "payee_class": p.cls},
        )


class EntrustedMismatchRule(Rule):
    """Money of an entrusted-payment facility reaches a payee outside its approved list."""

    rule_id = "entrusted_mismatch"
    on_debits = True
    on_hops = True

    def configure(self, params: RuleParams) -> None:
        """Read the loan-money floor."""
        self.min_loan = as_float(params, "min_loan_money")

    def on_hop(self, p: Posting) -> None:
        """Earmarked money moved to the client's own account has left the entrusted path."""
        self._judge(p, "the client's own account")

    def on_debit(self, p: Posting) -> None:
        """Earmarked money, or a payment booked as entrusted, paid to another payee."""
        self._judge(p, "a payee outside the approved list")

    def _judge(self, p: Posting, where: str) -> None:
        txn = p.txn
        unit = p.unit
        loans: dict[str, tuple[float, tuple[str, ...]]] = {}
        for lot, part in p.takes:
            if lot.earmarked:
                loan, _ = loans.get(lot.facility_id, (0.0, lot.path))
                loans[lot.facility_id] = (loan + part, lot.path)
        tagged = txn.facility_id
        if tagged is not None and tagged in unit.entrusted_keys and tagged not in loans:
            loans[tagged] = (txn.amount, (txn.txn_id,))
        if p.cls in ORDINARY:
            return  # wages, taxes, this bank's interest: obligations, not a diversion
        for facility_id, (loan, path) in loans.items():
            if loan < self.min_loan or unit.is_entrusted_payee(
                    facility_id, txn.counterparty_name, txn.counterparty_account):
                continue
            facility = unit.facilities.get(facility_id)
            self.sink.emit(
                p, self, scope=facility_id,
                client_id=facility.client_id if facility else txn.client_id,
                facility=facility, at_stake=loan, evidence=[*path, txn.txn_id],
                message=(
                    f"Entrusted-payment mismatch: {money(loan)} of facility {facility_id} paid "
                    f"to {where} ({txn.counterparty_name or txn.counterparty_account})"
                ),
                facts={
                    "loan_money": round(loan, 2), "amount": txn.amount,
                    "payee_account": txn.counterparty_account,
                    "path": path_text((*path, txn.txn_id)),
                },
            )
