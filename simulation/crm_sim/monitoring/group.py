"""Life inside a group of firms at this bank: trade both ways and a monthly cash pool.

Affiliates sell to each other for real (货款, recurring, both directions), and the group's
treasury firm sweeps members' surplus at month end (资金归集) and sends it back (下拨) in the
first days of the next month. Both happen whether or not a member just drew a loan.
"""

from __future__ import annotations

from datetime import date, timedelta

from crm_sim.monitoring.firm import Firm


def group_daily(firm: Firm, day: int, today: date) -> None:
    """Schedule the firm's group trade and cash-pool moves of ``day``."""
    if not firm.affiliates or today.weekday() >= 5:
        return
    rng = firm.rng
    if rng.random() < 0.15:
        partner = rng.choice(firm.affiliates)
        if firm.recent_drawdown(day, firm.basic, 10):
            firm.hard_negatives.add("group_trade_after_drawdown")
        firm.transfer(day, firm.business_second(), firm.basic, partner, partner.basic,
                      round(firm.daily_receipts * rng.uniform(0.2, 1.2), 2), memo="货款",
                      forced=False)
    treasury = firm.affiliates[0] if firm.affiliates[0].client_id < firm.client_id else None
    if treasury is None:
        return
    tomorrow = today + timedelta(days=1)
    last_working = tomorrow.month != today.month or (
        today.weekday() == 4 and (today + timedelta(days=3)).month != today.month)
    if last_working:
        surplus = firm.balances[firm.basic] - 1.2 * firm.floors[firm.basic]
        if surplus > 5e4:
            if firm.recent_drawdown(day, firm.basic, 10):
                firm.hard_negatives.add("cash_pool_after_drawdown")
            firm.hard_negatives.add("cash_pool")
            amount = round(surplus * rng.uniform(0.4, 0.8), -2)
            firm.transfer(day, firm.business_second(16, 17), firm.basic, treasury,
                          treasury.basic, amount, memo="资金归集", channel="cash_pool",
                          forced=False)
            treasury.transfer(day + rng.randint(2, 4), firm.business_second(9, 11),
                              treasury.basic, firm, firm.basic,
                              round(amount * rng.uniform(0.6, 1.0), -2), memo="资金下拨",
                              channel="cash_pool", forced=False)
