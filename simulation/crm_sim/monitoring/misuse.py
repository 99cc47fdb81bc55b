"""Injected misuse, in the hard variants a real bank sees (one planner per pattern).

Each planner opens a facility for the instance (or uses the firm's accounts), schedules the
misuse from ``day`` on and labels every posting that makes it up: the drawdown, the hops
through own or affiliated accounts, the payments and the money coming back. Variants vary the
route (a dedicated account, the busy basic account among ordinary flows, a hop through another
own account or a group affiliate), the payee's disguise (a kind, an industry code, a memo, or
only a name), and the timing (same day, days later, across a weekend).
"""

from __future__ import annotations

from collections.abc import Callable

from crm_sim.monitoring.firm import CASH, Event, Firm, Label, Loan
from crm_sim.monitoring.names import SHELL_TRADES, Party

PATTERNS: tuple[str, ...] = (
    "round_trip", "fast_in_fast_out", "securities_investment", "real_estate", "related_party",
    "entrusted_mismatch", "disguised_repayment", "cash_structuring", "balance_collapse",
)
# (earliest start day, days needed after the start, days the instance occupies)
TIMING: dict[str, tuple[int, int, int]] = {
    "round_trip": (5, 30, 30), "fast_in_fast_out": (3, 5, 7),
    "securities_investment": (3, 8, 10), "real_estate": (3, 8, 10), "related_party": (3, 8, 10),
    "entrusted_mismatch": (3, 8, 10), "disguised_repayment": (3, 8, 10),
    "cash_structuring": (3, 3, 4), "balance_collapse": (20, 4, 6),
}
ROUTES = ("dedicated", "busy", "via_own", "via_affiliate")
PayeeMaker = tuple[Callable[[], Party], str]  # how to make the payee, and the memo it gets


def _loan(firm: Firm, day: int, label: Label, *, route: str,
          entrusted: tuple[Party, ...] = ()) -> tuple[Loan, float]:
    """Open a working-capital facility for the instance and draw it down on ``day``."""
    rng = firm.rng
    amount = max(3e5, round(firm.daily_receipts * rng.uniform(8, 30), -4))
    account = firm.dedicated_account() if route == "dedicated" else firm.basic
    loan = firm.new_loan("working_capital", amount, account=account, purpose="raw_materials",
                         declared="采购原材料", entrusted=entrusted)
    label.facility_id = loan.context.facility_id
    firm.drawdown(day, loan, amount, tagged=rng.random() < 0.5, label=label)
    return loan, amount


def _route(firm: Firm, route: str) -> str:
    """Return the route a variant can take on this firm (affiliates need a group)."""
    if route == "via_affiliate" and not firm.affiliates:
        return "via_own"
    return route


def _send(firm: Firm, day: int, source: str, payee: Party, amount: float, label: Label, *,
          route: str, memo: str = "", second: int | None = None, kind_memo: str = "") -> None:
    """Pay ``payee`` from ``source``, first hopping through another own or affiliated account."""
    rng = firm.rng
    at = second if second is not None else firm.business_second(10, 15)
    payer, account = firm, source
    if route in ("via_own", "via_affiliate"):
        hop = round(amount * rng.uniform(1.0, 1.03), 2)
        if route == "via_affiliate":
            payer = rng.choice(firm.affiliates)
            account = payer.basic
        else:
            account = firm.general
        memo_hop = rng.choice(("资金划转", "往来款", ""))
        firm.transfer(day, at, source, payer, account, hop, memo=memo_hop, label=label)
        at += rng.randint(600, 7200)
    payer.schedule(day, Event(at, account, "debit", payee, amount=round(amount, 2),
                              memo=memo or kind_memo, forced=True, label=label, firm=payer))


def _spend_rest(firm: Firm, loan: Loan, day: int, amount: float) -> None:
    """Spend what is left of a dedicated drawdown on ordinary suppliers later."""
    if loan.context.drawdown_account == firm.basic or amount <= 0:
        return
    rng = firm.rng
    for offset in (rng.randint(6, 12), rng.randint(13, 22)):
        firm.schedule(day + offset, Event(firm.business_second(), loan.context.drawdown_account,
                                          "debit", rng.choice(firm.suppliers),
                                          amount=round(amount / 2, 2), memo="货款", forced=True))


def _divert(firm: Firm, day: int, label: Label, payee: Party, share: tuple[float, float], *,
            memo: str = "") -> None:
    """Draw a loan and send part of it to ``payee`` over a few days, by some route."""
    rng = firm.rng
    route = _route(firm, rng.choice(ROUTES))
    label.variant = f"{label.variant}/{route}" if label.variant else route
    loan, amount = _loan(firm, day, label, route=route)
    total = amount * rng.uniform(*share)
    parts = rng.choice((1, 1, 2, 3))
    offsets = sorted(rng.choice((0, 0, 1, 2, 3, 5)) for _ in range(parts))
    for offset in offsets:
        _send(firm, day + offset, loan.context.drawdown_account, payee, total / parts, label,
              route=route, memo=memo)
    _spend_rest(firm, loan, day, amount - total)


def securities_investment(firm: Firm, day: int, label: Label) -> None:
    """Loan money to a broker, futures firm, fund, wealth or trust product."""
    rng, book = firm.rng, firm.book
    variant = rng.choice(("broker", "futures", "fund", "wealth", "trust", "memo_only"))
    label.variant = variant
    makers: dict[str, PayeeMaker] = {
        "broker": (lambda: book.named("{brand}证券股份有限公司客户资金专户", "J6712", "broker"),
                   "银证转账"),
        "futures": (lambda: book.named("{brand}期货有限公司", "J6741", "futures"), "保证金"),
        "fund": (lambda: book.named("{city}{brand}基金管理有限公司", "J6720", "fund"), "申购"),
        "wealth": (lambda: book.named("{bank}{brand}理财产品", "J6640", "wealth"), "购买理财"),
        "trust": (lambda: book.named("{brand}国际信托有限公司", "J6911", "unknown"), ""),
        "memo_only": (lambda: book.named("{city}{brand}投资管理有限公司", "", "corporate"),
                      rng.choice(("三方存管", "证券账户", "认购"))),
    }
    payee, memo = makers[variant]
    _divert(firm, day, label, payee(), (0.3, 0.9), memo=memo)


def real_estate(firm: Firm, day: int, label: Label) -> None:
    """Loan money to a developer (by kind, code or name) or a land-grant payment."""
    rng, book = firm.rng, firm.book
    variant = rng.choice(("developer_kind", "industry_only", "zhiye", "land_grant", "house"))
    label.variant = variant
    makers: dict[str, PayeeMaker] = {
        "developer_kind": (lambda: book.named("{city}{brand}城市建设发展有限公司", "",
                                              "developer"), ""),
        "industry_only": (lambda: book.named("{city}{brand}城市发展有限公司", "K7010",
                                             "corporate"), "往来款"),
        "zhiye": (lambda: book.named("{city}{brand}置业有限公司", "", "corporate"), ""),
        "land_grant": (lambda: book.named("{city}市自然资源和规划局", "S9221", "government"),
                       "土地出让金"),
        "house": (lambda: book.named("{city}{brand}房地产开发有限公司", "K7010", "corporate"),
                  "购房款"),
    }
    payee, memo = makers[variant]
    _divert(firm, day, label, payee(), (0.3, 0.8), memo=memo)


def disguised_repayment(firm: Firm, day: int, label: Label) -> None:
    """Loan money repays another bank, a microlender or a guarantor (借新还旧 elsewhere)."""
    rng, book = firm.rng, firm.book
    variant = rng.choice(("loan_account", "bank_named", "microlender", "guarantor",
                          "lender_name_only"))
    label.variant = variant
    bank = book.other_bank()
    makers: dict[str, PayeeMaker] = {
        "loan_account": (lambda: Party(f"{bank}贷款账户", book.account("8802"), "J6621",
                                       "loan_account", bank), "归还贷款"),
        "bank_named": (lambda: Party(f"{bank}{book.city()}分行", book.account("8803"), "J6621",
                                     "bank", bank), "还款"),
        "microlender": (lambda: book.named("{city}{brand}小额贷款有限公司", "J6636",
                                           "microlender"), "还款"),
        "guarantor": (lambda: book.named("{city}{brand}融资担保有限公司", "L7296",
                                         "guarantor"), "代偿还款"),
        "lender_name_only": (lambda: book.named("{city}{brand}小额贷款股份有限公司", "",
                                                "corporate"), "还借款"),
    }
    payee, memo = makers[variant]
    _divert(firm, day, label, payee(), (0.3, 0.8), memo=memo)


def related_party(firm: Firm, day: int, label: Label) -> None:
    """Loan money to the boss, a shareholder or a related firm; or a large 公转私."""
    rng = firm.rng
    options = ["controller", "legal_rep", "shareholder", "personal_transfer"]
    if firm.related_firms:
        options.append("related_firm")
    variant = rng.choice(options)
    label.variant = variant
    if variant == "personal_transfer":
        stranger = firm.book.person()
        firm.schedule(day, Event(firm.business_second(), firm.basic, "debit", stranger,
                                 amount=round(rng.uniform(5.2e5, 3e6), -3), forced=True,
                                 memo=rng.choice(("", "借款", "转账")), label=label))
        return
    payee = {
        "controller": firm.controller, "legal_rep": firm.legal_rep,
        "shareholder": firm.person_shareholders[-1],
        "related_firm": rng.choice(firm.related_firms or [firm.controller]),
    }[variant]
    memo = rng.choice(("往来款", "借款", "")) if variant == "related_firm" else rng.choice(
        ("", "借款", "往来款"))
    _divert(firm, day, label, payee, (0.2, 0.6), memo=memo)


def entrusted_mismatch(firm: Firm, day: int, label: Label) -> None:
    """An entrusted facility's money reaches someone other than its approved payees."""
    rng = firm.rng
    variant = rng.choice(("booked_to_other", "own_spending_in_busy_account", "to_own_account"))
    label.variant = variant
    approved = tuple(rng.sample(firm.suppliers, k=min(2, len(firm.suppliers))))
    route = "busy" if variant == "own_spending_in_busy_account" else "dedicated"
    loan, amount = _loan(firm, day, label, route=route, entrusted=approved)
    account, facility = loan.context.drawdown_account, loan.context.facility_id
    first = amount * rng.uniform(0.2, 0.5)
    firm.schedule(day, Event(firm.business_second(13, 16), account, "debit", approved[0],
                             amount=round(first, 2), memo="受托支付", forced=True,
                             channel="entrusted_payment", facility_id=facility))
    wrong = amount * rng.uniform(0.3, 0.5)
    later = day + rng.randint(1, 3)
    if variant == "booked_to_other":
        firm.schedule(later, Event(firm.business_second(), account, "debit", firm.book.company(
            SHELL_TRADES), amount=round(wrong, 2), memo="受托支付", forced=True, label=label,
            channel="entrusted_payment", facility_id=facility))
    elif variant == "own_spending_in_busy_account":
        # The firm spends all its own money and part of the loan before the bank pays.
        firm.schedule(later, Event(firm.business_second(9, 10), account, "debit",
                                   firm.book.company(SHELL_TRADES), forced=True, label=label,
                                   share=rng.uniform(0.9, 0.97), memo="货款"))
    else:
        firm.transfer(later, firm.business_second(), account, firm, firm.basic, round(wrong, 2),
                      memo="资金划转", label=label)
    firm.schedule(later + 2, Event(firm.business_second(), account, "debit", approved[-1],
                                   amount=round(amount - first - wrong, 2), memo="受托支付",
                                   channel="entrusted_payment", facility_id=facility,
                                   forced=True))


def round_trip(firm: Firm, day: int, label: Label) -> None:
    """Loan money out to a shell and back: directly, via a second shell, a person, a related
    firm, an affiliate at this bank or the firm's own account elsewhere."""
    rng, book = firm.rng, firm.book
    sources = ["direct", "two_shells", "person", "own_elsewhere"]
    if firm.related_firms:
        sources.append("related_firm")
    if firm.affiliates:
        sources.append("to_affiliate")
    source = rng.choice(sources)
    route = _route(firm, rng.choice(("dedicated", "busy", "via_own")))
    label.variant = f"{source}/{route}"
    loan, amount = _loan(firm, day, label, route=route)
    shell = book.company(SHELL_TRADES)
    paid = amount * rng.uniform(0.5, 0.9)
    _send(firm, day + rng.choice((0, 0, 1)), loan.context.drawdown_account, shell, paid, label,
          route=route, memo=rng.choice(("货款", "往来款", "预付款")))
    _spend_rest(firm, loan, day, amount - paid)
    back = paid * rng.uniform(0.6, 1.0)
    sender = {
        "direct": shell, "two_shells": book.company(SHELL_TRADES),
        "person": rng.choice((firm.controller, firm.legal_rep)),
        "own_elsewhere": firm.away,
        "related_firm": rng.choice(firm.related_firms or [shell]), "to_affiliate": shell,
    }[source]
    receiver = rng.choice(firm.affiliates) if source == "to_affiliate" else firm
    parts = rng.randint(1, 3)
    for offset in sorted(rng.sample(range(2, 26), parts)):
        receiver.schedule(day + offset, Event(
            firm.business_second(), receiver.basic, "credit", sender, firm=receiver,
            amount=round(back / parts, 2), label=label,
            memo=rng.choice(("往来款", "退款", "货款", "借款"))))


def fast_in_fast_out(firm: Firm, day: int, label: Label) -> None:
    """A drawdown into a pass-through account, gone within T+3 calendar days."""
    rng = firm.rng
    variant = rng.choice(("dedicated", "dedicated", "quiet_general"))
    label.variant = variant
    if variant == "quiet_general":
        account = firm.book.account("6228")
        firm.balances[account] = round(rng.uniform(0, 2e4), 2)
        loan = firm.new_loan("working_capital", max(3e5, round(firm.daily_receipts * rng.uniform(
            8, 30), -4)), account=account, purpose="raw_materials", declared="采购原材料")
        firm.dedicated.append(account)
        amount = loan.context.amount
        label.facility_id = loan.context.facility_id
        firm.drawdown(day, loan, amount, tagged=rng.random() < 0.5, label=label)
    else:
        loan, amount = _loan(firm, day, label, route="dedicated")
        account = loan.context.drawdown_account
    parts = rng.randint(2, 5)
    last = rng.randint(1, 3)
    offsets = sorted([0, last] + [rng.randint(0, last) for _ in range(parts - 2)])
    early = rng.uniform(0.5, 0.85)
    for index, offset in enumerate(offsets):
        event = Event(firm.business_second(9, 17) + index, account, "debit",
                      firm.book.company(SHELL_TRADES), forced=True, label=label,
                      memo=rng.choice(("往来款", "货款", "", "转账")))
        if index < parts - 1:
            event.amount = round(amount * early / (parts - 1), 2)
        else:
            event.share = rng.uniform(0.985, 1.0)
        firm.schedule(day + offset, event)


def cash_structuring(firm: Firm, day: int, label: Label) -> None:
    """Loan money drawn in cash, or amounts split just under a reporting line in one day."""
    rng = firm.rng
    options = ["loan_cash", "cash_split", "person_split"]
    if firm.size in ("medium", "large"):
        options.append("payee_split")
    variant = rng.choice(options)
    label.variant = variant
    second = firm.business_second(9, 11)
    if variant == "loan_cash":
        loan, amount = _loan(firm, day, label, route=rng.choice(("dedicated", "busy")))
        for offset in sorted(rng.sample(range(0, 3), rng.randint(1, 2))):
            firm.schedule(day + offset, Event(
                firm.business_second(), loan.context.drawdown_account, "debit", CASH,
                amount=round(min(amount * 0.3, rng.uniform(8e4, 4e5)), -2), channel="cash",
                memo=rng.choice(("取现", "备用金", "")), forced=True, label=label))
        _spend_rest(firm, loan, day, amount * 0.4)
        return
    line, payee = {"cash_split": (5e4, None), "person_split": (5e5, None),
                   "payee_split": (2e6, firm.book.company(SHELL_TRADES))}[variant]
    for _ in range(rng.randint(3, 5)):
        amount = round(rng.uniform(0.91, 0.998) * line, -1 if line < 1e5 else -3)
        target = CASH if variant == "cash_split" else payee or firm.book.person()
        firm.schedule(day, Event(second, firm.basic, "debit", target, amount=amount,
                                 channel="cash" if variant == "cash_split" else "transfer",
                                 memo=rng.choice(("", "备用金", "往来款")), forced=True,
                                 label=label))
        second += rng.randint(900, 3 * 3600)


def balance_collapse(firm: Firm, day: int, label: Label) -> None:
    """Most of the firm's deposits leave to new payees within one to three calendar days."""
    rng = firm.rng
    variant = rng.choice(("one_day", "over_days", "over_weekend"))
    label.variant = f"{firm.size}/{variant}"
    span = {"one_day": 1, "over_days": 2, "over_weekend": 3}[variant]
    firm.quiet_days.update(range(day, day + span + 1))
    parts = rng.randint(2, 4)
    keep = rng.uniform(0.03, 0.12) ** (1.0 / parts)
    for index in range(parts):
        firm.schedule(day + (index * span) // parts, Event(
            firm.business_second(9, 16) + index, firm.basic, "debit",
            firm.book.company(SHELL_TRADES), share=1.0 - keep, forced=True, label=label,
            memo=rng.choice(("", "往来款", "转账", "货款"))))
    # The general account goes too: the firm is emptying itself.
    firm.schedule(day, Event(firm.business_second(9, 16), firm.general, "debit",
                             firm.book.company(SHELL_TRADES), share=rng.uniform(0.85, 0.97),
                             forced=True, label=label, memo="往来款"))


PLANNERS: dict[str, Callable[[Firm, int, Label], None]] = {
    "round_trip": round_trip, "fast_in_fast_out": fast_in_fast_out,
    "securities_investment": securities_investment, "real_estate": real_estate,
    "related_party": related_party, "entrusted_mismatch": entrusted_mismatch,
    "disguised_repayment": disguised_repayment, "cash_structuring": cash_structuring,
    "balance_collapse": balance_collapse,
}
