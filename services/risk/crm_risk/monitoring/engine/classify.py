"""What a posting is: the payee or remitter class the rules reason about.

A real feed says what a posting is in several places at once: the counterparty kind, the
channel, the memo (摘要/附言), the counterparty's industry code and its name. The classifier
reads them in order of reliability (the kind and channel core banking sets, then the memo the
remitter typed, then the industry code, then the name) and returns one class. What no field
tells stays ``TRADE`` (an ordinary firm or an unknown payee); nothing is guessed from thin air.

Whether a counterparty is the client's own account, an affiliate or a related person depends
on the client, so those checks live in the engine; this module only classifies by the posting.
The keyword lists are ruleset parameters (group ``payees``), so a back-test can change them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from crm_risk.monitoring.engine.model import Transaction
from crm_risk.monitoring.engine.ruleset import RuleParams, as_strs

# Debit (payee) classes.
TRADE = "trade"  # suppliers, customers, unknown firms: ordinary business
INVEST = "investment"  # brokers, futures, funds, wealth and trust products
ESTATE = "real_estate"  # developers, land-grant payments
LENDER = "lender"  # other banks' loans, microlenders, guarantors, pawnshops, private lenders
OUR_LOAN = "our_loan"  # interest and principal to this bank's loan accounts
PAYROLL = "payroll"  # wages, bonuses, social insurance, staff reimbursements
TAX = "tax"  # taxes and treasury
GOVERNMENT = "government"  # other public bodies (fees, registration)
PERSON = "person"  # a natural person outside payroll
CASH = "cash"  # cash withdrawal
BANK = "bank"  # a bank for something other than a loan (fees, interest elsewhere)
RENT = "rent"  # rent, property management, utilities
POOL = "cash_pool"  # group cash-pool sweep (资金归集)
# Unit-dependent classes, set by the engine.
OWN = "own"  # one of the unit's accounts at this bank: a hop, traced on
OWN_AWAY = "own_away"  # the client's own account elsewhere: out of sight, not a payment
AFFILIATE = "affiliate"  # a group company or related company outside the unit
RELATED_PERSON = "related_person"  # legal rep, controller, shareholder, executive, relative
# Credit classes.
DRAWDOWN = "drawdown"
RECEIPT = "receipt"
REDEMPTION = "redemption"  # money back from an investment payee
# Outflows that do not make a firm poorer, or are its ordinary obligations: a balance that
# falls because of them has not collapsed.
NOT_A_COLLAPSE = frozenset({OWN, OWN_AWAY, OUR_LOAN, TAX, INVEST, POOL, PAYROLL, GOVERNMENT})

CACHE_CAP = 200_000



def keyword_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """Return one case-insensitive regex matching any of ``words`` (None if there are none)."""
    cleaned = sorted({w for w in words if w}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile("|".join(re.escape(w) for w in cleaned), re.IGNORECASE)


def _has(pattern: re.Pattern[str] | None, text: str) -> bool:
    return pattern is not None and bool(text) and pattern.search(text) is not None


def industry_digits(code: str) -> str:
    """Return the digits of a GB/T 4754 code: ``K7010`` and ``7010`` both give ``7010``."""
    code = code.strip().upper()
    return code[1:] if code[:1].isalpha() else code


class Classifier:
    """Classify postings by kind, channel, memo, industry and name; cached per combination."""

    def __init__(self, params: RuleParams) -> None:
        """Compile the keyword lists of ruleset group ``payees``."""
        def words(name: str) -> re.Pattern[str] | None:
            return keyword_pattern(as_strs(params, name))

        self.investment_kinds = frozenset(as_strs(params, "investment_kinds"))
        self.investment_names = words("investment_names")
        self.investment_memos = words("investment_memos")
        self.investment_industries = as_strs(params, "investment_industries")
        self.estate_names = words("estate_names")
        self.estate_memos = words("estate_memos")
        self.estate_industries = as_strs(params, "estate_industries")
        self.estate_exempt = as_strs(params, "estate_exempt_industries")
        self.rent_memos = words("rent_memos")
        self.land_names = words("land_names")
        self.lender_kinds = frozenset(as_strs(params, "lender_kinds"))
        self.lender_names = words("lender_names")
        self.lender_industries = as_strs(params, "lender_industries")
        self.bank_names = words("bank_names")
        self.repayment_memos = words("repayment_memos")
        self.interest_memos = words("interest_memos")
        self.payroll_memos = words("payroll_memos")
        self.tax_memos = words("tax_memos")
        self.tax_names = words("tax_names")
        self.pool_memos = words("pool_memos")
        self.goods_memos = words("goods_memos")
        self.transfer_memos = words("transfer_memos")
        self.own_bank_names = words("own_bank_names")
        self._cache: dict[tuple[str, str, str, str, str, str], str] = {}

    def is_transfer(self, memo: str) -> bool:
        """Return whether a memo moves money without a sale (往来款, loans, refunds)."""
        return _has(self.transfer_memos, memo)

    def is_goods(self, memo: str) -> bool:
        """Return whether a memo names goods or services bought."""
        return _has(self.goods_memos, memo)

    def debit_class(self, txn: Transaction, our_loan_account: bool) -> str:
        """Return the payee class of a debit (before unit checks: own, affiliate, related).

        ``our_loan_account`` says the payee account is a loan account of this bank (a
        facility's, or one this bank drew money from).
        """
        if txn.is_cash or txn.channel == "cash":
            return CASH
        if our_loan_account:
            return OUR_LOAN
        key = (txn.counterparty_type, txn.channel, txn.memo, txn.counterparty_name,
               txn.counterparty_industry, txn.counterparty_bank)
        found = self._cache.get(key)
        if found is None:
            found = self._classify(txn)
            if len(self._cache) < CACHE_CAP:
                self._cache[key] = found
        return found

    def _classify(self, txn: Transaction) -> str:  # noqa: PLR0911 - a decision list, in order
        kind, channel, memo = txn.counterparty_type, txn.channel, txn.memo
        name = txn.counterparty_name
        industry = industry_digits(txn.counterparty_industry)
        if channel == "payroll" or _has(self.payroll_memos, memo):
            return PAYROLL
        if channel == "cash_pool" or _has(self.pool_memos, memo):
            return POOL
        if channel == "tax":
            return TAX
        if channel == "loan":
            # The loan system books only this bank's own loans.
            return OUR_LOAN
        if kind in self.investment_kinds:
            return INVEST
        if kind == "developer":
            return ESTATE
        if kind == "government":
            return self._public(memo, name)
        if kind in self.lender_kinds:
            return LENDER
        if kind in ("loan_account", "bank"):
            return self._bank(kind, memo, name, txn.counterparty_bank)
        if kind == "individual":
            return PERSON
        if kind == "own_account":
            return OWN_AWAY
        if kind == "affiliate":
            return AFFILIATE
        return self._by_text(memo, name, industry)

    def _public(self, memo: str, name: str) -> str:
        if _has(self.estate_memos, memo) or _has(self.land_names, name):
            return ESTATE
        if _has(self.tax_memos, memo) or _has(self.tax_names, name):
            return TAX
        return GOVERNMENT

    def _bank(self, kind: str, memo: str, name: str, bank: str) -> str:
        """A bank or a loan account: this bank's loan, another lender, or a bank's service.

        A loan account is this bank's unless the posting names another bank or lender: the
        loan accounts a feed shows without saying whose they are are the bank's own.
        """
        if _has(self.interest_memos, memo):
            return BANK
        elsewhere = self._other_lender(name) or self._other_lender(bank)
        if kind == "loan_account":
            return LENDER if elsewhere else OUR_LOAN
        if _has(self.repayment_memos, memo):
            return OUR_LOAN if _has(self.own_bank_names, name) else LENDER
        if _has(self.investment_memos, memo):
            return INVEST
        return BANK

    def _other_lender(self, text: str) -> bool:
        if not text or _has(self.own_bank_names, text):
            return False
        return _has(self.bank_names, text) or _has(self.lender_names, text)

    def _by_text(self, memo: str, name: str, industry: str) -> str:  # noqa: PLR0911
        """Ordinary firm or unknown kind: read the memo, the industry code, then the name."""
        rent = _has(self.rent_memos, memo)
        if industry:
            if industry.startswith(self.estate_exempt):
                return RENT
            if industry.startswith(self.estate_industries) and not rent:
                return ESTATE
            if industry.startswith(self.investment_industries):
                return INVEST
            if industry.startswith(self.lender_industries):
                return LENDER
        if _has(self.investment_memos, memo) or _has(self.investment_names, name):
            return INVEST
        if _has(self.estate_memos, memo) or _has(self.land_names, name):
            return ESTATE
        if _has(self.estate_names, name):
            return RENT if rent else ESTATE
        if rent:
            return RENT
        if _has(self.lender_names, name):
            return LENDER
        if _has(self.bank_names, name) or _has(self.own_bank_names, name):
            if not _has(self.repayment_memos, memo) or _has(self.interest_memos, memo):
                return BANK
            return OUR_LOAN if _has(self.own_bank_names, name) else LENDER
        if _has(self.tax_names, name):
            return TAX
        return TRADE

    def credit_class(self, txn: Transaction) -> str:
        """Return the remitter class of a credit that is not a drawdown or an own transfer."""
        kind = txn.counterparty_type
        if kind in self.investment_kinds:
            return REDEMPTION
        if kind in ("corporate", "unknown") and (
            _has(self.investment_names, txn.counterparty_name)
            or _has(self.investment_memos, txn.memo)
        ):
            return REDEMPTION
        return RECEIPT
