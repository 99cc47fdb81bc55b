"""One posting through the unit: classify it, move loan money, record uses, balances, history.

The engine calls ``debit`` or ``credit`` for every new posting; this module does the
bookkeeping in a fixed order (balances first, so that rules see the balance after the
posting) and hands a ``Posting`` to the rules.
"""

from __future__ import annotations

from typing import Protocol

from crm_risk.monitoring.engine import classify as c
from crm_risk.monitoring.engine.classify import NOT_A_COLLAPSE
from crm_risk.monitoring.engine.history import local_day
from crm_risk.monitoring.engine.ledger import PASS_THROUGH_SECONDS, Account, Lot, hop_path
from crm_risk.monitoring.engine.model import Transaction
from crm_risk.monitoring.engine.rules.base import Posting, Rule, payee_key
from crm_risk.monitoring.engine.state import UnitState
from crm_risk.monitoring.engine.trace import Use
from crm_risk.monitoring.engine.units import UnitProfile


class SpendingEngine(Protocol):
    """What the spender uses of its engine (the engine's classes stay out of this module, so
    the engine may depend on the spender without a cycle)."""

    classifier: c.Classifier
    use_rules: tuple[Rule, ...]
    max_entries: int
    known_seconds: float
    KEEP_BALANCE_DAYS: int

    def dispatch_debit(self, p: Posting) -> None: ...
    def dispatch_hop(self, p: Posting) -> None: ...
    def dispatch_receipt(self, p: Posting) -> None: ...
    def drawdown_facility(self, txn: Transaction, unit: UnitProfile) -> str | None: ...
    def is_own_name(self, unit: UnitProfile, name: str) -> bool: ...


# Payments that are obligations of any firm: they explain where money went, whoever's it was.
ORDINARY = frozenset({c.PAYROLL, c.TAX, c.OUR_LOAN, c.RENT, c.GOVERNMENT, c.BANK})
# Purposes of capital spending, and the GB/T 4754 sections of firms that make or build for it.
CAPITAL_PURPOSES = frozenset({"equipment", "construction"})
CAPITAL_MAKERS = frozenset({"C", "E"})
FRESH_LOAN_SECONDS = 3 * 86_400.0  # loan money this recent leaving is the flow rules' business
LOAN_ACCOUNT_SHARE = 0.9  # an account at least this much loan money is being spent as a loan
EVIDENCE_SHARE = 0.1  # debits of at least this share of the balance are collapse evidence
MAX_DEBITS = 64


class Spender:
    """Bookkeeping of postings for one engine."""

    def __init__(self, engine: SpendingEngine) -> None:
        """Attach to ``engine`` (its classifier, rules and parameters)."""
        self.engine = engine
        self.classifier = engine.classifier

    # ---------------------------------------------------------------- debits

    def debit(self, txn: Transaction, t: float, state: UnitState, unit: UnitProfile) -> None:
        """Book a payment out of one of the unit's accounts."""
        engine = self.engine
        account = state.account(txn.account_id, txn.client_id)
        old = account.balance
        before = account.before_debit(txn.amount, txn.balance_after)
        cls, dest = self.payee_class(txn, state, unit)
        tag = txn.facility_id
        if tag is None and txn.channel == "entrusted_payment":
            tag = next((lot.facility_id for lot in account.lots if lot.earmarked), None)
        loan_before = account.loan_money() if account.lots else 0.0
        takes = account.take(txn.amount, before, tag, t) if account.lots else []
        key = payee_key(txn.counterparty_account, txn.counterparty_name)
        p = Posting(txn, t, local_day(t), state, unit, account, cls, key,
                    state.parties.get(key), takes, before, loan_before)
        self._balances(p, old, account)
        if cls == c.OWN:
            if takes:
                self._hop(p, dest)
            engine.dispatch_hop(p)
            return
        if takes:
            self._uses(p)
        engine.dispatch_debit(p)
        state.parties.paid(key, t, txn.amount)

    def payee_class(  # noqa: PLR0911 - a decision list, in order
        self, txn: Transaction, state: UnitState, unit: UnitProfile,
    ) -> tuple[str, str]:
        """Return (payee class, destination account for a move inside the unit)."""
        account = txn.counterparty_account
        if account and (account in state.accounts or account in unit.own_accounts):
            return c.OWN, account
        other = txn.counterparty_client
        if other and other in unit.clients:
            return c.OWN, account or f"client:{other}"
        if account and account in unit.away_accounts:
            return c.OWN_AWAY, ""
        kind = txn.counterparty_type
        if kind == "own_account" or self.engine.is_own_name(unit, txn.counterparty_name):
            return (c.OWN, account) if account else (c.OWN_AWAY, "")
        ours = bool(account) and (account in unit.loan_accounts or account in state.lenders)
        base = self.classifier.debit_class(txn, ours)
        if base in (c.PAYROLL, c.POOL, c.OUR_LOAN, c.TAX):
            return base, ""
        if kind == "individual" or unit.person_names or unit.person_accounts:
            relation = unit.person_relation(txn.counterparty_name, account)
            if relation is not None:
                return c.RELATED_PERSON, ""
        if base == c.TRADE and unit.is_related_company(txn.counterparty_name, account):
            return c.AFFILIATE, ""
        return base, ""

    def _hop(self, p: Posting, dest: str) -> None:
        """Move the loan money a transfer carried into the destination account."""
        txn = p.txn
        owner = txn.counterparty_client if txn.counterparty_client in p.unit.clients else (
            txn.client_id)
        target = p.state.account(dest, owner)
        for lot, part in p.takes:
            target.add_lot(Lot(lot.facility_id, part, lot.t0, hop_path(lot.path, txn.txn_id),
                               origin=part, fresh_until=p.t + PASS_THROUGH_SECONDS,
                               fresh_share=min(1.0, part / txn.amount)))

    def _uses(self, p: Posting) -> None:
        """Record, per facility, the loan money a payment carried out of the unit."""
        engine = self.engine
        per_facility: dict[str, tuple[float, Lot, float]] = {}
        for lot, part in p.takes:
            loan, best, best_part = per_facility.get(lot.facility_id, (0.0, lot, 0.0))
            if part > best_part:
                best, best_part = lot, part
            per_facility[lot.facility_id] = (loan + part, best, best_part)
        txn = p.txn
        for facility_id, (loan, lot, _) in per_facility.items():
            facility = p.unit.facilities.get(facility_id)
            trace = p.state.trace(facility_id,
                                  facility.client_id if facility else txn.client_id)
            use = Use(p.t, loan, txn.amount, p.party_key, p.cls, txn.txn_id, lot.path,
                      self._ordinary(p, facility_id, lot.t0), lot.t0, txn.memo)
            trace.use(use, engine.max_entries)
            for rule in engine.use_rules:
                if rule.all_uses or p.cls in rule.use_classes:
                    rule.on_use(p, use, trace, facility)

    def _ordinary(self, p: Posting, facility_id: str, t0: float) -> bool:
        """Return whether a payment explains where loan money went (a purpose, an obligation)."""
        if p.cls in ORDINARY:
            return True
        txn = p.txn
        if p.unit.is_entrusted_payee(facility_id, txn.counterparty_name, txn.counterparty_account):
            return True
        if p.cls != c.TRADE:
            return False
        party = p.party
        if party is not None and party.first_out < t0 - self.engine.known_seconds:
            return True  # a supplier the firm paid before the loan
        # A new payee explains capital spending when the memo names what was bought and the
        # payee makes or builds such things; working capital to new payees explains nothing
        # by itself (a memo saying 货款 is the commonest disguise).
        facility = p.unit.facilities.get(facility_id)
        if facility is None or facility.purpose_category not in CAPITAL_PURPOSES:
            return False
        industry = txn.counterparty_industry.strip().upper()[:1]
        return industry in CAPITAL_MAKERS and self.classifier.is_goods(txn.memo)

    # ---------------------------------------------------------------- credits

    def credit(self, txn: Transaction, t: float, state: UnitState, unit: UnitProfile) -> None:
        """Book money into one of the unit's accounts."""
        engine = self.engine
        account = state.account(txn.account_id, txn.client_id)
        old = account.balance
        account.credit(txn.amount, txn.balance_after)
        facility_id = engine.drawdown_facility(txn, unit)
        key = payee_key(txn.counterparty_account, txn.counterparty_name)
        cls = c.DRAWDOWN if facility_id is not None else self.remitter_class(txn, state, unit)
        p = Posting(txn, t, local_day(t), state, unit, account, cls, key,
                    state.parties.get(key), ())
        self._balances(p, old, account)
        if facility_id is not None:
            facility = unit.facilities.get(facility_id)
            account.add_lot(Lot(facility_id, txn.amount, t, (txn.txn_id,),
                                earmarked=facility_id in unit.entrusted_keys))
            state.trace(facility_id, facility.client_id if facility else txn.client_id).draw(
                t, txn.amount, txn.txn_id, txn.account_id)
            if txn.counterparty_account:
                state.lenders.add(txn.counterparty_account)
            return
        if cls == c.OWN:
            return
        engine.dispatch_receipt(p)
        state.parties.received(key, t, txn.amount)
        if cls == c.RECEIPT:
            state.balances_of(txn.client_id, t, self.engine.KEEP_BALANCE_DAYS).note_receipt(
                t, txn.amount)

    def remitter_class(  # noqa: PLR0911 - a decision list, in order
        self, txn: Transaction, state: UnitState, unit: UnitProfile,
    ) -> str:
        """Return the class of a credit's remitter (own move, related party or receipt)."""
        account = txn.counterparty_account
        if account and (account in state.accounts or account in unit.own_accounts):
            return c.OWN
        other = txn.counterparty_client
        if other and other in unit.clients:
            return c.OWN
        if (account and account in unit.away_accounts) or txn.counterparty_type == "own_account":
            return c.OWN_AWAY
        if self.engine.is_own_name(unit, txn.counterparty_name):
            return c.OWN_AWAY
        if unit.person_relation(txn.counterparty_name, account) is not None:
            return c.RELATED_PERSON
        if txn.counterparty_type == "affiliate" or unit.is_related_company(
                txn.counterparty_name, account):
            return c.AFFILIATE
        return self.classifier.credit_class(txn)

    # ---------------------------------------------------------------- balances

    def _balances(self, p: Posting, old: float | None, account: Account) -> None:
        """Update the client's deposits; remember excluded and unusual outflows."""
        txn = p.txn
        new = account.balance
        if old is None and new is None:
            return
        balances = p.state.balances_of(txn.client_id, p.t, self.engine.KEEP_BALANCE_DAYS)
        balances.change((new or 0.0) - (old or 0.0))
        if txn.direction != "debit":
            return
        # Loan money leaving an account that is mostly loan money (a loan account being spent),
        # or drawn in the last days, or paid as the facility's own payment, is the flow rules'
        # business; loan money mixed into a firm's deposits for longer is its money.
        mostly_loan = p.before is not None and p.loan_before >= LOAN_ACCOUNT_SHARE * p.before
        excluded = sum(part for lot, part in p.takes
                       if mostly_loan or p.t - lot.t0 <= FRESH_LOAN_SECONDS)
        if txn.facility_id is not None or txn.channel == "entrusted_payment":
            excluded = txn.amount
        if p.cls in NOT_A_COLLAPSE:
            excluded = txn.amount
        if excluded > 0:
            balances.excluded.append((p.t, excluded))
        counted = txn.amount - excluded
        if counted > 0 and counted >= EVIDENCE_SHARE * max(balances.total + counted, 1.0):
            unusual = p.party is None or p.party.first_out >= p.t
            balances.debits.append((p.t, counted, txn.txn_id, unusual))
            if len(balances.debits) > MAX_DEBITS:
                balances.debits.popleft()
