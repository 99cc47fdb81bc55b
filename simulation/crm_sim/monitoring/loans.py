"""Clean facilities: how honest firms draw, spend and repay loans.

Working-capital loans drawn into the busy basic account and spent among ordinary payments, or
into a dedicated account and paid to suppliers (sometimes most of it the next day, for a bulk
purchase), or paid by the bank to entrusted payees (受托支付) a day or two after a drawdown
into a busy account. Equipment loans paid to a new equipment maker right after the drawdown.
Interest every month and principal on schedule to this bank; some loans mature in the window.
"""

from __future__ import annotations

from crm_risk.monitoring.engine.model import Channel, FacilityType
from crm_sim.monitoring.firm import THIS_BANK, Event, Firm, Loan
from crm_sim.monitoring.names import CONTRACTOR_TRADES, Party

KINDS: tuple[FacilityType, ...] = ("working_capital", "fixed_asset", "trade_finance",
                                   "project_finance")
PURPOSES = {
    "working_capital": ("raw_materials", "采购原材料及日常经营周转"),
    "trade_finance": ("trade_settlement", "进口货款结算"),
    "fixed_asset": ("equipment", "购置生产设备"),
    "project_finance": ("construction", "厂房及配套工程建设"),
}
MEMOS = ("材料款", "货款", "采购款", "原料款")


def plan_loans(firm: Firm) -> None:
    """Give the firm 0-3 clean facilities and schedule their drawdowns, use and repayment."""
    rng = firm.rng
    for _ in range(rng.choices((0, 1, 2, 3), (20, 45, 25, 10))[0]):
        kind = rng.choices(KINDS, (55, 20, 15, 10))[0]
        if kind in ("working_capital", "trade_finance"):
            amount = max(2e5, round(firm.daily_receipts * rng.uniform(5, 40), -4))
            mode = rng.choices(("busy", "dedicated", "entrusted"), (45, 20, 35))[0]
        else:
            amount = max(5e5, round(firm.daily_receipts * rng.uniform(20, 80), -4))
            mode = rng.choices(("entrusted", "equipment"), (65, 35))[0]
        clean_loan(firm, kind, amount, mode)


def clean_loan(firm: Firm, kind: FacilityType, amount: float, mode: str) -> Loan:
    """Register one clean facility and plan its life."""
    rng = firm.rng
    purpose, declared = PURPOSES[kind]
    dedicated = mode == "dedicated" or (mode in ("entrusted", "equipment") and rng.random() < 0.5)
    account = firm.dedicated_account() if dedicated else firm.basic
    payees: tuple[Party, ...] = ()
    if mode == "entrusted":
        pool = [firm.book.company(CONTRACTOR_TRADES) for _ in range(3)] if kind in (
            "fixed_asset", "project_finance") else firm.suppliers
        payees = tuple(rng.sample(pool, k=min(len(pool), rng.randint(1, 3))))
    investment = round(amount / rng.uniform(0.5, 0.7), -4) if kind == "project_finance" else None
    loan = firm.new_loan(kind, amount, account=account, purpose=purpose, declared=declared,
                         entrusted=payees, investment=investment)
    tagged = rng.random() < 0.5
    if rng.random() < 0.3:  # drawn before the window: only its repayments show
        _repay(firm, loan, start=0)
        return loan
    first = rng.randint(0, max(0, firm.days - 20))
    tranches = [(first, amount)]
    if rng.random() < 0.3 and first + 15 < firm.days - 5:
        part = round(amount * rng.uniform(0.3, 0.6), -4)
        tranches = [(first, part), (rng.randint(first + 10, firm.days - 5), amount - part)]
    for day, drawn in tranches:
        firm.drawdown(day, loan, drawn, tagged=tagged)
        if mode == "busy":
            _spend_busy(firm, day, drawn)
        elif mode == "dedicated":
            _spend_dedicated(firm, loan, day, drawn)
        elif mode == "entrusted":
            _spend_entrusted(firm, loan, day, drawn)
        else:
            _spend_equipment(firm, loan, day, drawn)
    _repay(firm, loan, start=first + 1)
    return loan


def _spend_busy(firm: Firm, day: int, drawn: float) -> None:
    """A few large purchases from known suppliers among the ordinary flow."""
    rng = firm.rng
    share = rng.uniform(0.2, 0.6)
    parts = rng.randint(1, 3)
    for _ in range(parts):
        firm.schedule(day + rng.randint(0, 7), Event(
            firm.business_second(10, 17), firm.basic, "debit", rng.choice(firm.suppliers),
            amount=round(drawn * share / parts, 2), memo=rng.choice(MEMOS)))


def _spend_dedicated(firm: Firm, loan: Loan, day: int, drawn: float) -> None:
    """Suppliers paid from the loan account; a bulk purchase sometimes takes most at once."""
    rng = firm.rng
    account = loan.context.drawdown_account
    first = rng.uniform(0.8, 0.97) if rng.random() < 0.35 else rng.uniform(0.2, 0.6)
    if first >= 0.8:
        firm.hard_negatives.add("bulk_purchase_after_drawdown")
    shares = [first] + [(1 - first) / 3] * 3
    offsets = [rng.randint(0, 1), rng.randint(3, 8), rng.randint(9, 16), rng.randint(17, 26)]
    for index, (share, offset) in enumerate(zip(shares, offsets, strict=True)):
        known = rng.random() < 0.7
        supplier = rng.choice(firm.suppliers) if known else firm.book.company()
        if not known:
            firm.suppliers.append(supplier)
        event = Event(firm.business_second(10, 17), account, "debit", supplier,
                      amount=round(drawn * share, 2), memo=rng.choice(MEMOS), forced=True)
        if index == len(shares) - 1:
            event.amount, event.share = 0.0, 1.0
        firm.schedule(day + offset, event)


def _spend_entrusted(firm: Firm, loan: Loan, day: int, drawn: float) -> None:
    """The bank pays the approved payees from the loan money, the same day or soon after."""
    rng = firm.rng
    if loan.context.drawdown_account == firm.basic:
        firm.hard_negatives.add("entrusted_in_busy_account")
    weights = [rng.uniform(0.5, 1.5) for _ in loan.payees]
    paid = 0.0
    for index, payee in enumerate(loan.payees):
        amount = drawn - paid if index == len(loan.payees) - 1 else round(
            drawn * weights[index] / sum(weights), 2)
        paid += amount
        firm.schedule(day + rng.choice((0, 0, 1, 2)), Event(
            firm.business_second(11, 16), loan.context.drawdown_account, "debit", payee,
            amount=amount, memo="受托支付", channel="entrusted_payment", forced=True,
            facility_id=loan.context.facility_id))


def _spend_equipment(firm: Firm, loan: Loan, day: int, drawn: float) -> None:
    """A new equipment maker paid most of the loan right after the drawdown."""
    rng = firm.rng
    firm.hard_negatives.add("equipment_after_drawdown")
    vendor = firm.equipment_vendor()
    first = rng.uniform(0.6, 1.0)
    account = loan.context.drawdown_account
    firm.schedule(day + rng.randint(0, 2), Event(
        firm.business_second(10, 16), account, "debit", vendor, amount=round(drawn * first, 2),
        memo=rng.choice(("设备款", "设备采购款", "购设备款")), forced=True))
    if first < 0.98:
        firm.schedule(day + rng.randint(10, 25), Event(
            firm.business_second(10, 16), account, "debit", vendor,
            amount=round(drawn * (1 - first), 2), memo="设备尾款", forced=True))


def _repay(firm: Firm, loan: Loan, *, start: int) -> None:
    """Monthly interest; principal by instalments, at maturity, or not in the window."""
    rng = firm.rng
    context = loan.context
    generic = rng.random() < 0.2
    account = firm.book.account("9100") if generic else context.loan_account
    creditor = Party("本行贷款还款专户" if generic else "本行贷款账户", account, "J6621",
                     "loan_account", "" if generic else THIS_BANK)
    channel: Channel = "loan" if rng.random() < 0.4 else "transfer"
    for day in range(start, firm.days):
        if (day + 5) % 30 == 20:  # about the 21st of each month
            firm.schedule(day, Event(firm.business_second(), firm.basic, "debit", creditor,
                                     amount=round(context.amount * 0.0035, 2), memo="贷款利息",
                                     channel=channel, forced=True))
    schedule = rng.choices(("none", "instalments", "maturity"), (45, 40, 15))[0]
    if schedule == "instalments":
        for day in range(start + rng.randint(20, 40), firm.days, 90):
            _principal(firm, day, creditor, context.amount * rng.uniform(0.1, 0.25), channel)
    elif schedule == "maturity" and firm.days - start > 25:
        firm.hard_negatives.add("loan_repaid_at_maturity")
        _principal(firm, rng.randint(start + 20, firm.days - 2), creditor, context.amount,
                   channel)


def _principal(firm: Firm, day: int, creditor: Party, amount: float, channel: Channel) -> None:
    firm.schedule(day, Event(firm.business_second(), firm.basic, "debit", creditor,
                             amount=round(amount, 2), memo="归还贷款本金", channel=channel,
                             forced=True))
