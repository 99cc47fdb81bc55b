"""The ordinary, messy life of a firm: what monitoring must stay silent about.

Receipts and supplier payments every working day (new customers and suppliers now and then),
rent (some landlords are 置业 or developer firms), payroll (a 代发 batch or transfers to each
employee), social insurance, VAT and quarterly income tax, power bills, interest and principal
to this bank and to other banks, petty cash (sometimes just under 5万), wealth products bought
with surplus cash and redeemed later, trade with group affiliates and related firms in both
directions, group cash-pool sweeps, money parked at its own account elsewhere, the boss
lending the firm money, suppliers' refunds and days of several large payments.
"""

from __future__ import annotations

from datetime import date

from crm_risk.monitoring.engine.model import Direction
from crm_sim.monitoring.firm import CASH, THIS_BANK, Event, Firm
from crm_sim.monitoring.names import Party

WEEKEND_ACTIVITY = 0.1
WORKING_DAYS_PER_MONTH = 21.7
RECEIPT_MEMOS = ("货款", "货款", "销售款", "服务费", "", "往来款")
PAYMENT_MEMOS = ("货款", "材料款", "采购款", "加工费", "运费", "", "")


def poisson(firm: Firm, mean: float) -> int:
    """Return a Poisson count (Knuth; the means here are small)."""
    limit = 2.718281828459045 ** (-mean)
    count, product = 0, firm.rng.random()
    while product > limit:
        count += 1
        product *= firm.rng.random()
    return count


class Habits:
    """A firm's standing counterparties and habits of ordinary life."""

    def __init__(self, firm: Firm) -> None:
        """Draw the landlord, public bodies, banks and habits."""
        rng, book = firm.rng, firm.book
        self.landlord = rng.choice((
            lambda: book.named("{city}{brand}置业有限公司", "K7040", "corporate"),
            lambda: book.named("{city}{brand}物业管理有限公司", "K7020", "corporate"),
            lambda: book.named("{city}{brand}房地产开发有限公司", "K7010", "corporate"),
            lambda: book.named("{city}{brand}实业有限公司", "", "corporate"),
        ))()
        city = book.city()
        self.treasury = Party(f"国家金库{city}中心支库", book.account("2700"), "S9221",
                              "government")
        self.social = Party(f"{city}市社会保险基金管理中心", book.account("2701"), "S9420",
                            "government")
        self.power = Party(f"国网{city}供电公司", book.account("2702"), "D4420", "corporate")
        self.payroll_agency = Party("本行代发工资专户", book.account("9100"), "J6620", "bank",
                                    THIS_BANK)
        self.wealth = book.named(rng.choice(("本行{brand}理财产品", "{bank}{brand}结构性存款")),
                                 "J6640", "wealth")
        self.batch_payroll = firm.size in ("medium", "large") or rng.random() < 0.5
        self.wealth_habit = rng.random() < 0.35
        self.wealth_from_basic = rng.random() < 0.4
        self.petty_rate = rng.uniform(0.05, 0.25)
        self.near_line_cash = rng.random() < 0.06
        self.other_bank_loan: Party | None = None
        if rng.random() < 0.3:
            bank = book.other_bank()
            self.other_bank_loan = Party(f"{bank}{city}分行贷款户", book.account("8801"),
                                         "J6621", "loan_account", bank)
        self.other_bank_debt = firm.target * rng.uniform(0.5, 2.0)
        self.away_habit = rng.random() < 0.25
        self.injection_rate = 0.002 if rng.random() < 0.3 else 0.0
        self.refund_rate = rng.uniform(0.0, 0.03)


def daily(firm: Firm, habits: Habits, day: int, today: date) -> list[Event]:
    """Return the firm's ordinary bookings of ``day``."""
    if day in firm.quiet_days:
        return []
    rng = firm.rng
    working = today.weekday() < 5
    activity = 1.0 if working else WEEKEND_ACTIVITY
    events: list[Event] = []
    receipts = firm.daily_receipts
    for _ in range(poisson(firm, firm.receipt_rate * activity)):
        if rng.random() < 0.04:
            firm.customers.append(firm.book.company())
        events.append(Event(firm.business_second(), firm.basic if rng.random() > 0.08
                            else firm.general, "credit", rng.choice(firm.customers),
                            amount=firm.lognormal(receipts / firm.receipt_rate, 0.7),
                            memo=rng.choice(RECEIPT_MEMOS)))
    free = firm.balances[firm.basic] - firm.earmarked.get(firm.basic, 0.0)
    pace = min(3.0, max(0.3, free / firm.target)) ** 1.3
    for _ in range(poisson(firm, firm.payment_rate * activity)):
        if rng.random() < 0.04:
            firm.suppliers.append(firm.book.company())
        amount = firm.lognormal(0.8 * receipts / firm.payment_rate * pace, 0.8)
        events.append(Event(firm.business_second(), firm.basic, "debit",
                            rng.choice(firm.suppliers), amount=amount,
                            memo=rng.choice(PAYMENT_MEMOS)))
    monthly = receipts * WORKING_DAYS_PER_MONTH
    events += _monthly(firm, habits, day, today, monthly)
    if working:
        events += _occasional(firm, habits, day, today)
    return events


def _monthly(firm: Firm, habits: Habits, day: int, today: date, monthly: float) -> list[Event]:
    rng, basic = firm.rng, firm.basic
    events: list[Event] = []
    second = firm.business_second
    if today.day == 5:
        # A landlord that is a developer or shows no industry books the rent with a memo.
        bare = habits.landlord.industry in ("K7040", "K7020")
        memo = rng.choice(("房租", "租金", "") if bare else ("房租", "租金", "厂房租金"))
        events.append(Event(second(), basic, "debit", habits.landlord, amount=0.03 * monthly,
                            memo=memo, forced=True))
    if today.day == 10:
        events += _payroll(firm, habits, day, monthly)
    if today.day == 15:
        events.append(Event(second(), basic, "debit", habits.social, amount=0.05 * monthly,
                            memo="社保费", channel="tax", forced=True))
        events.append(Event(second(), basic, "debit", habits.treasury, amount=0.04 * monthly,
                            memo="增值税", channel="tax", forced=True))
        if today.month in (1, 4, 7, 10):
            firm.hard_negatives.add("quarter_tax")
            events.append(Event(second(), basic, "debit", habits.treasury,
                                amount=monthly * rng.uniform(0.1, 0.3), memo="企业所得税",
                                channel=rng.choice(("tax", "transfer")), forced=True))
    if today.day == 18:
        events.append(Event(second(), basic, "debit", habits.power, amount=0.01 * monthly,
                            memo="电费"))
    if today.day == 20 and habits.other_bank_loan is not None:
        events.append(Event(second(), rng.choice((basic, firm.general)), "debit",
                            habits.other_bank_loan, amount=habits.other_bank_debt * 0.004,
                            memo="贷款利息", forced=True))
    return events


def _payroll(firm: Firm, habits: Habits, day: int, monthly: float) -> list[Event]:
    rng = firm.rng
    total = round(monthly * rng.uniform(0.12, 0.22), 2)
    source = firm.basic
    events: list[Event] = []
    if firm.payroll_account:
        firm.transfer(day, firm.business_second(9, 10), firm.basic, firm, firm.payroll_account,
                      total, memo="工资备付", forced=False)
        source = firm.payroll_account
    if habits.batch_payroll:
        events.append(Event(firm.business_second(10, 11), source, "debit",
                            habits.payroll_agency, amount=total, memo="代发工资",
                            channel="payroll", forced=source == firm.basic))
        return events
    staff = firm.employees[:12]
    for person in staff:
        events.append(Event(firm.business_second(10, 11), source, "debit", person,
                            amount=round(total / len(staff) * rng.uniform(0.6, 1.4), -1),
                            memo=rng.choice(("工资", "工资", "奖金")), forced=False))
    return events


def _occasional(firm: Firm, habits: Habits, day: int, today: date) -> list[Event]:
    rng, basic = firm.rng, firm.basic
    events: list[Event] = []
    second = firm.business_second
    if rng.random() < habits.petty_rate:
        events.append(Event(second(), basic, "debit", CASH, channel="cash", memo="备用金",
                            amount=round(rng.uniform(5e3, 4e4), -2)))
    if habits.near_line_cash and rng.random() < 0.03:
        firm.hard_negatives.add("cash_near_line")
        events.append(Event(second(), basic, "debit", CASH, channel="cash", memo="备用金",
                            amount=round(rng.uniform(4.5e4, 4.99e4), -2)))
    if rng.random() < habits.refund_rate:
        events.append(Event(second(), basic, "credit", rng.choice(firm.suppliers),
                            amount=firm.daily_receipts * rng.uniform(0.02, 0.3),
                            memo=rng.choice(("退款", "返利", "退货款"))))
    if firm.related_firms and rng.random() < 0.08:
        partner = rng.choice(firm.related_firms)
        direction: Direction = "debit" if rng.random() < 0.5 else "credit"
        events.append(Event(second(), basic, direction, partner, memo="货款",
                            amount=firm.daily_receipts * rng.uniform(0.3, 1.5)))
    if habits.injection_rate and rng.random() < habits.injection_rate * 5:
        firm.hard_negatives.add("owner_injection")
        events.append(Event(second(), basic, "credit", firm.controller, memo="股东借款",
                            amount=round(firm.target * rng.uniform(0.1, 0.5), -4)))
    if habits.away_habit and rng.random() < 0.02:
        amount = round(firm.balances[firm.general] * rng.uniform(0.2, 0.5), -2)
        if amount > 1e4:
            firm.hard_negatives.add("own_account_elsewhere")
            events.append(Event(second(), firm.general, "debit", firm.away, amount=amount,
                                memo="资金划转"))
            firm.schedule(day + rng.randint(3, 20), Event(
                second(), firm.basic, "credit", firm.away, memo="资金划转",
                amount=round(amount * rng.uniform(0.8, 1.0), -2)))
    events += _wealth(firm, habits, day)
    events += _windfall(firm, habits, day)
    events += _large_day(firm, day)
    return events


def _windfall(firm: Firm, habits: Habits, day: int) -> list[Event]:
    """A large customer payment lands soon after a drawdown and is parked in a wealth product
    the next day: own money, though the loan is still in the same account."""
    rng = firm.rng
    if not (habits.wealth_habit and firm.recent_drawdown(day, firm.basic, 6)
            and rng.random() < 0.08):
        return []
    firm.hard_negatives.add("wealth_after_drawdown")
    amount = round(firm.daily_receipts * rng.uniform(3, 6), -3)
    customer = rng.choice(firm.customers)
    redemption = Event(firm.business_second(), firm.basic, "credit", habits.wealth,
                       memo="理财赎回", firm=firm)
    purchase = Event(firm.business_second(10, 15), firm.basic, "debit", habits.wealth,
                     amount=round(amount * rng.uniform(0.6, 0.9), -4), memo="购买理财",
                     pair=redemption, forced=True)
    firm.schedule(day + 1, purchase)
    firm.schedule(day + rng.randint(22, 35), redemption)
    return [Event(firm.business_second(9, 12), firm.basic, "credit", customer, amount=amount,
                  memo="货款")]


def _wealth(firm: Firm, habits: Habits, day: int) -> list[Event]:
    """Surplus own cash (not loan money) into a wealth product; redeemed weeks later."""
    if not habits.wealth_habit:
        return []
    rng = firm.rng
    basic = firm.balances[firm.basic] - firm.recently_drawn(day, firm.basic)
    surplus = basic - 1.3 * firm.target
    if surplus < max(1e5, 0.2 * firm.target) or rng.random() > 0.3:
        return []
    amount = round(surplus * rng.uniform(0.5, 0.9), -4)
    source = firm.basic
    if not habits.wealth_from_basic:
        firm.transfer(day, firm.business_second(9, 10), firm.basic, firm, firm.general, amount,
                      memo="资金划转", forced=False)
        source = firm.general
    if firm.recent_drawdown(day, firm.basic, 10):
        firm.hard_negatives.add("wealth_after_drawdown")
    redemption = Event(firm.business_second(), source, "credit", habits.wealth,
                       memo="理财赎回", firm=firm)
    purchase = Event(firm.business_second(11, 15), source, "debit", habits.wealth, amount=amount,
                     memo="购买理财", pair=redemption)
    firm.schedule(day + rng.randint(21, 35), redemption)
    return [purchase]


def _large_day(firm: Firm, day: int) -> list[Event]:
    """Several large supplier payments on one day (some just under 200万), now and then."""
    rng = firm.rng
    if firm.size != "large" or rng.random() > 0.02:
        return []
    firm.hard_negatives.add("large_payment_day")
    events = []
    for supplier in rng.sample(firm.suppliers, k=min(3, len(firm.suppliers))):
        amount = round(rng.uniform(1.82e6, 1.99e6), -3) if rng.random() < 0.6 else (
            round(rng.uniform(5e5, 3e6), -3))
        events.append(Event(firm.business_second(), firm.basic, "debit", supplier,
                            amount=amount, memo="货款"))
    return events
