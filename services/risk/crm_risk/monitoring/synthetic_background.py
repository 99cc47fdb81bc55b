"""Legitimate background flows of a synthetic client, messy on purpose.

Clean clients must look like real firms, including what naive rules mistake for misuse:
large supplier payments (some just under 200万 or 50万), petty cash just under 5万, cash
deposits over 5万, rent to property-management firms (industry K70), interest and payroll
agency paid to banks, banks and brokers as paying customers, wealth products bought with
surplus cash, small refunds from suppliers paid with loan money, trade with related companies,
and loans drawn into the operating account and spent on ordinary suppliers.
"""

from __future__ import annotations

from datetime import date

from crm_risk.monitoring.synthetic_names import CONTRACTOR_TRADES, Party
from crm_risk.monitoring.synthetic_sim import CASH, ClientSim, Event

WEEKEND_ACTIVITY = 0.12
WORKING_DAYS_PER_MONTH = 21.7


def poisson(sim: ClientSim, mean: float) -> int:
    """Return a Poisson count (Knuth; means here are small)."""
    limit = 2.718281828459045 ** (-mean)
    count, product = 0, sim.rng.random()
    while product > limit:
        count += 1
        product *= sim.rng.random()
    return count


def background_events(sim: ClientSim, day: int, today: date) -> list[Event]:
    """Return the client's ordinary bookings of ``day``."""
    if day in sim.quiet_days:
        return []
    rng = sim.rng
    events: list[Event] = []
    activity = 1.0 if today.weekday() < 5 else WEEKEND_ACTIVITY
    receipts = sim.daily_receipts
    monthly = receipts * WORKING_DAYS_PER_MONTH
    operating = sim.operating
    balance = sim.balances[operating]
    for _ in range(poisson(sim, sim.receipt_rate * activity)):
        account = operating if rng.random() > 0.05 else sim.general
        events.append(Event(sim.business_second(), account, "credit",
                            rng.choice(sim.customers),
                            amount=sim.lognormal(receipts / sim.receipt_rate, 0.7)))
    # Spend more when cash piles up, less when it runs low: balances revert to their target.
    pace = min(3.0, max(0.3, balance / sim.target)) ** 1.5
    for _ in range(poisson(sim, sim.payment_rate * activity)):
        amount = sim.lognormal(0.72 * receipts / sim.payment_rate * pace, 0.8)
        events.append(Event(sim.business_second(), operating, "debit",
                            rng.choice(sim.suppliers), amount=amount))
    events.extend(_monthly(sim, today, monthly))
    events.extend(_cash(sim, day, today))
    events.extend(_occasional(sim, day, balance))
    return events


def _monthly(sim: ClientSim, today: date, monthly: float) -> list[Event]:
    events: list[Event] = []
    rng, operating = sim.rng, sim.operating
    if today.day == 5:
        events.append(Event(sim.business_second(), operating, "debit", sim.landlord,
                            amount=0.02 * monthly))
    if today.day == 8:
        payroll = round(0.12 * monthly, -2)
        credit = Event(sim.business_second() + 30, sim.payroll, "credit",
                       Party(sim.name, operating, "", "corporate"))
        events.append(Event(credit.second - 30, operating, "debit",
                            Party(sim.name, sim.payroll, "", "corporate"),
                            amount=payroll, pair=credit))
        events.append(credit)
    if today.day == 10:
        agency = Party("本行代发工资专户", "9100000000000002", "J6620", "bank")
        events.append(Event(sim.business_second(), sim.payroll, "debit", agency,
                            amount=0.115 * monthly))
        for person in rng.sample(sim.employees, k=min(len(sim.employees), rng.randint(1, 4))):
            events.append(Event(sim.business_second(), sim.payroll, "debit", person,
                                amount=round(rng.uniform(500, 20_000), -1)))
    if today.day == 15:
        tax = Party(f"国家金库{sim.city}中心支库", "9100000000000003", "S9221", "unknown")
        events.append(Event(sim.business_second(), operating, "debit", tax,
                            amount=0.06 * monthly))
    if today.day == 18:
        power = Party(f"国网{sim.city}供电公司", "9100000000000004", "D4420", "corporate")
        events.append(Event(sim.business_second(), operating, "debit", power,
                            amount=0.01 * monthly))
    if today.day == 21 and sim.facilities:
        interest = Party("本行贷款利息收入户", "9100000000000005", "J6621", "bank")
        owed = sum(f.amount for f in sim.facilities) * 0.0035
        events.append(Event(sim.business_second(), operating, "debit", interest,
                            amount=owed, forced=True))
    if today.day == 25 and sim.near_fee_habit:
        events.append(Event(sim.business_second(), operating, "debit", sim.suppliers[0],
                            amount=round(rng.uniform(460_000, 499_000), -2)))
    return events


def _cash(sim: ClientSim, day: int, today: date) -> list[Event]:
    events: list[Event] = []
    rng = sim.rng
    if rng.random() < sim.petty_rate:
        events.append(Event(sim.business_second(), sim.operating, "debit", CASH,
                            amount=round(rng.uniform(2_000, 30_000), -2), channel="cash"))
    # Some firms draw just under 5万 now and then, never three times in a day.
    if sim.near_cash_habit and rng.random() < 0.04:
        events.append(Event(sim.business_second(), sim.operating, "debit", CASH,
                            amount=round(rng.uniform(45_000, 49_900), -2), channel="cash"))
    if sim.retail and today.weekday() < 5:
        for _ in range(rng.randint(1, 2)):
            events.append(Event(sim.business_second(15, 18), sim.operating, "credit", CASH,
                                amount=round(rng.uniform(10_000, 80_000), -2), channel="cash"))
    return events


def _occasional(sim: ClientSim, day: int, balance: float) -> list[Event]:
    events: list[Event] = []
    rng, operating, receipts = sim.rng, sim.operating, sim.daily_receipts
    if rng.random() < 0.04:
        fees = Party("本行手续费收入户", "9100000000000006", "J6620", "bank")
        events.append(Event(sim.business_second(), operating, "debit", fees,
                            amount=round(rng.uniform(10, 800), 2)))
    if rng.random() < 0.02:
        supplier = rng.choice(sim.suppliers)
        events.append(Event(sim.business_second(), operating, "credit", supplier,
                            amount=rng.uniform(0.005, 0.05) * receipts))
    if sim.related and rng.random() < 0.05:
        events.append(Event(sim.business_second(), operating, "credit",
                            rng.choice(sim.related), amount=rng.uniform(0.1, 0.5) * receipts))
    if sim.related and rng.random() < 0.03:
        # Group trade is paid from the general account while loan money sits in operating.
        source = sim.general if sim.recent_operating_draw(day) else operating
        events.append(Event(sim.business_second(), source, "debit", rng.choice(sim.related),
                            amount=rng.uniform(0.2, 0.8) * receipts))
    if rng.random() < 0.02 and sim.balances[sim.general] > 5e5:
        events.append(Event(sim.business_second(), sim.general, "debit", sim.external,
                            amount=sim.balances[sim.general] * rng.uniform(0.3, 0.6)))
    if sim.wealth_habit and balance > 1.6 * sim.target and rng.random() < 0.25:
        _buy_wealth(sim, day, round(balance - 1.15 * sim.target, -4))
    return events


def _buy_wealth(sim: ClientSim, day: int, amount: float) -> None:
    """Sweep surplus to the general account, buy a wealth product tomorrow, redeem it later."""
    if amount < 1e5:
        return
    rng = sim.rng
    product = sim.book.named(
        rng.choice(("本行理财产品{brand}号", "{brand}银行结构性存款专户")), "J6620", "wealth"
    )
    sim.internal_transfer(day, sim.business_second(9, 11), sim.operating, sim.general, amount)
    redemption = Event(sim.business_second(), sim.general, "credit", product)
    # The purchase respects the general account's floor; the redemption returns what was bought.
    sim.schedule(day + 1, Event(sim.business_second(), sim.general, "debit", product,
                                amount=amount, pair=redemption))
    sim.schedule(day + 1 + rng.randint(21, 35), redemption)


def plan_background_facilities(sim: ClientSim) -> None:
    """Give the client 0-2 ordinary facilities and schedule their drawdowns and spending."""
    rng = sim.rng
    count = rng.choices((0, 1, 2), weights=(10, 65, 25))[0]
    for _ in range(count):
        kind = rng.choices(
            ("working_capital", "fixed_asset", "trade_finance", "project_finance"),
            weights=(60, 20, 10, 10),
        )[0]
        if kind in {"working_capital", "trade_finance"}:
            amount = max(1e6, round(sim.daily_receipts * rng.uniform(10, 35), -5))
            mode = rng.choices(("operating", "dedicated", "entrusted"), weights=(35, 45, 20))[0]
            investment = None
            payees = rng.sample(sim.suppliers, k=min(len(sim.suppliers), rng.randint(1, 3)))
        else:
            amount = max(3e6, round(sim.daily_receipts * rng.uniform(30, 80), -5))
            mode = "entrusted"
            investment = round(amount / rng.uniform(0.5, 0.7), -5)
            payees = [sim.book.company(CONTRACTOR_TRADES) for _ in range(rng.randint(1, 3))]
        entrusted = tuple(p.account for p in payees) if mode == "entrusted" else ()
        facility = sim.new_facility(
            kind, amount, dedicated=mode != "operating",  # type: ignore[arg-type]
            entrusted=entrusted, project_investment=investment,
        )
        first = rng.randint(0, max(0, sim.days - 30))
        tranches = [(first, amount)]
        if rng.random() < 0.3 and first + 12 < sim.days - 10:
            part = round(amount * rng.uniform(0.4, 0.6), -4)
            tranches = [(first, part), (rng.randint(first + 10, sim.days - 10), amount - part)]
        tagged = rng.random() < 0.5
        for draw_day, drawn in tranches:
            sim.drawdown(draw_day, sim.business_second(9, 10), facility, drawn)
            if mode == "dedicated":
                _spend_self_paid(sim, facility.facility_id, facility.drawdown_account, draw_day,
                                 drawn, tagged=tagged)
            elif mode == "entrusted":
                _spend_entrusted(sim, facility.facility_id, facility.drawdown_account, draw_day,
                                 drawn=drawn, payees=payees)


def _spend_self_paid(sim: ClientSim, facility_id: str, account: str, day: int, drawn: float,
                     *, tagged: bool) -> None:
    """Spend a drawdown on suppliers over 1-4 weeks, at most 70% in the first three days."""
    rng = sim.rng
    parts = rng.randint(3, 6)
    first_share = rng.uniform(0.15, 0.45)
    second_share = rng.uniform(0.05, 0.25)
    rest = 1.0 - first_share - second_share
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts - 2)]
    shares = [first_share, second_share] + [rest * w / sum(weights) for w in weights]
    offsets = [rng.randint(0, 1), rng.randint(1, 3)]
    offsets += sorted(rng.randint(5, 25) for _ in range(parts - 2))
    paid = 0.0
    for index, (share, offset) in enumerate(zip(shares, offsets, strict=True)):
        amount = drawn - paid if index == parts - 1 else round(drawn * share, 2)
        paid += amount
        sim.schedule(day + offset, Event(
            sim.business_second(10, 17), account, "debit", rng.choice(sim.suppliers),
            amount=amount, forced=True, facility_id=facility_id if tagged else None))


def _spend_entrusted(sim: ClientSim, facility_id: str, account: str, day: int, *,
                     drawn: float, payees: list[Party]) -> None:
    """Pay a drawdown straight to the approved counterparties (the bank pays, same day)."""
    rng = sim.rng
    weights = [rng.uniform(0.5, 1.5) for _ in payees]
    paid = 0.0
    for index, payee in enumerate(payees):
        amount = (drawn - paid if index == len(payees) - 1
                  else round(drawn * weights[index] / sum(weights), 2))
        paid += amount
        sim.schedule(day, Event(sim.business_second(10, 16), account, "debit", payee,
                                amount=amount, forced=True, facility_id=facility_id))
