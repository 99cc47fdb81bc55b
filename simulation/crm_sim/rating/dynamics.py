"""A synthetic firm's year: operations, working capital, interest, tax and its balance sheet.

Stocks are yuan floats. Every flow is booked on both sides, so the balance sheet closes by
construction; the only plug, other payables, moves by accrued but unpaid tax. Funding and
default decisions are in ``funding``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Final

from crm_sim.rating.traits import FirmTraits
from crm_sim.rating.world import SIZE_VOLATILITY, World

BASE_RATE: Final = 0.042  # one-year loan prime rate, roughly
TAX_RATE: Final = 0.25
SMALL_TAX_RATE: Final = 0.20
OTHER_TAXES: Final = 0.01  # taxes and surcharges in cost of sales, share of revenue
OTHER_PAYABLES_FLOOR: Final = 0.02  # other payables never fall below 2 % of assets
BAD_YEAR_ODDS: Final = 0.05  # chance of a firm-specific setback in any year


@dataclass(frozen=True)
class State:
    """A firm's balance sheet at a year end and what the next year needs from the last."""

    revenue: float  # full-year revenue of the year just ended
    cash: float
    receivables: float
    inventory: float
    other_current: float
    fixed: float
    trade_payables: float
    bills: float
    advances: float
    other_payables: float
    bank_debt: float
    shareholder_loans: float
    equity: float
    hidden_loss: float = 0.0
    margin_shock: float = 0.0
    net_profit: float = 0.0
    income_tax: float = 0.0

    @property
    def assets(self) -> float:
        """Return total assets."""
        return self.cash + self.receivables + self.inventory + self.other_current + self.fixed

    @property
    def liabilities(self) -> float:
        """Return total liabilities."""
        return (self.trade_payables + self.bills + self.advances + self.other_payables
                + self.bank_debt + self.shareholder_loans)


@dataclass(frozen=True)
class Operations:
    """One year's operating flows before funding."""

    fraction: float  # share of a year the period covers
    revenue: float  # booked in the period
    cost_of_sales: float
    ebitda: float
    depreciation: float
    impairment: float  # booked
    interest: float  # incurred, capitalised included
    capitalised: float
    income_tax: float
    income_tax_paid: float
    operating_cash_flow: float
    capex: float
    dividends: float
    state: State  # year-end stocks except cash, debt and equity, which funding settles

    @property
    def ebit(self) -> float:
        """Return EBIT after booked impairments."""
        return self.ebitda - self.depreciation - self.impairment

    @property
    def net_profit(self) -> float:
        """Return net profit."""
        return self.ebit - (self.interest - self.capitalised) - self.income_tax

    @property
    def free_cash_flow(self) -> float:
        """Return cash left after operations, capex, interest and dividends."""
        return self.operating_cash_flow - self.capex - self.interest - self.dividends


def cost_share(traits: FirmTraits) -> float:
    """Return cost of sales as a share of revenue (gross margin above EBITDA margin)."""
    econ = traits.economics
    return max(0.3, 1.0 - econ.margin - 0.08)


def _working_capital(
    rng: random.Random, traits: FirmTraits, revenue: float, stretch: float, conditions: float
) -> tuple[float, float, float, float]:
    """Return receivables, inventory, payables and advance receipts for a year's revenue."""
    econ = traits.economics
    r_days, i_days, p_days = traits.working_capital
    cogs = cost_share(traits) * revenue
    receivables = revenue * econ.receivable_days * r_days * stretch * math.exp(
        rng.gauss(0, 0.1)) / 365
    inventory = cogs * econ.inventory_days * i_days * math.exp(rng.gauss(0, 0.1)) / 365
    payables = cogs * econ.payable_days * p_days * math.exp(rng.gauss(0, 0.1)) / 365
    # Pre-sales shrink in a bad year for developers: buyers wait.
    advances = econ.advances * revenue * math.exp(rng.gauss(0, 0.15) + 0.15 * conditions)
    return receivables, inventory, payables, advances


def opening_state(rng: random.Random, traits: FirmTraits, revenue: float) -> State:
    """Return a mature firm's balance sheet at the end of the year before simulation."""
    econ = traits.economics
    receivables, inventory, payables, advances = _working_capital(rng, traits, revenue, 1.0, 0)
    fixed = econ.fixed_share * revenue / econ.turnover * math.exp(rng.gauss(0, 0.15))
    cash = traits.cash_buffer * revenue
    other_current = 0.05 * (fixed + receivables + inventory + cash)
    assets = cash + receivables + inventory + other_current + fixed
    bills = payables * rng.uniform(0.3, 0.6) if traits.bills_user else 0.0
    other_payables = 0.04 * assets
    debt = max(0.0, traits.leverage_target * assets - payables - advances - other_payables)
    small = traits.spec.size_class in {"small", "micro"}
    loans = debt * (rng.uniform(0.0, 0.2) if small else rng.uniform(0.0, 0.05))
    # Restricted margin deposits sit in cash on top of the working balance.
    cash += traits.margin_deposit * bills
    return State(
        revenue=revenue, cash=cash, receivables=receivables, inventory=inventory,
        other_current=other_current, fixed=fixed, trade_payables=payables - bills, bills=bills,
        advances=advances, other_payables=other_payables, bank_debt=debt - loans,
        shareholder_loans=loans,
        equity=cash + receivables + inventory + other_current + fixed - payables - advances
        - other_payables - debt,
    )


def founding_state(rng: random.Random, traits: FirmTraits, mature_revenue: float) -> State:
    """Return a new firm's opening balance sheet: paid-in capital, owner and bank loans."""
    econ = traits.economics
    assets = mature_revenue / econ.turnover * rng.uniform(0.25, 0.5)
    equity = assets * rng.uniform(0.35, 0.65)
    loans = assets * rng.uniform(0.05, 0.25)
    return State(
        revenue=0.0, cash=assets * 0.4, receivables=0.0, inventory=0.0,
        other_current=assets * 0.05, fixed=assets * 0.55, trade_payables=0.0, bills=0.0,
        advances=0.0, other_payables=0.0, bank_debt=assets - equity - loans,
        shareholder_loans=loans, equity=equity,
    )


def _impairment(
    rng: random.Random, traits: FirmTraits, state: State, revenue: float, *, shock: float,
    conditions: float, vol: float,
) -> float:
    """Return the impairment the year's shocks cause (before any is hidden)."""
    loss = max(0.0, -shock - 1.2 * vol) * revenue * 0.6
    if traits.group == "real_estate_development":
        loss += state.inventory * max(0.0, -conditions - 0.8) * 0.04
    return loss * rng.uniform(0.6, 1.4)


def operate(
    rng: random.Random, traits: FirmTraits, world: World, state: State, *, year: int,
    fraction: float, mature_revenue: float, age: float,
) -> Operations:
    """Run one year's operations; funding (cash, debt, equity) is left to ``funding``."""
    econ = traits.economics
    conditions = world.shock[traits.group][year]
    size_vol = SIZE_VOLATILITY[traits.spec.size_class]
    vol = econ.margin_vol * size_vol
    # A firm in decline loses sales and margin year after year until it turns or fails.
    erosion = (0.0 if traits.decline_from is None or year < traits.decline_from
               else min(0.08, 0.02 * (year - traits.decline_from + 1)))
    ramp = 0.0 if state.revenue <= 0 else max(0.0, min(1.0, 0.6 * math.log(
        max(1.0, mature_revenue / state.revenue))))
    if state.revenue <= 0:
        annual = mature_revenue * rng.uniform(0.15, 0.35)
    else:
        growth = (econ.growth + 0.025 * traits.quality + ramp - 0.12 * (erosion > 0)
                  + econ.growth_vol * size_vol * (0.4 * conditions + 0.7 * rng.gauss(0, 1)))
        annual = state.revenue * math.exp(growth)
    shock = 0.5 * state.margin_shock + vol * (0.45 * conditions + 0.9 * rng.gauss(0, 1))
    if rng.random() < BAD_YEAR_ODDS:
        # A lost customer, a failed product, a fine: margins have fat tails.
        shock -= vol * rng.uniform(1.5, 4.0)
    startup_penalty = 0.06 * max(0.0, 1.0 - age / 3.0)
    margin = econ.margin + traits.margin_edge + shock - startup_penalty - erosion
    revenue = annual * fraction
    ebitda = margin * revenue
    depreciation = (0.05 if traits.group == "utilities" else 0.08) * state.fixed * fraction
    true_loss = _impairment(rng, traits, state, revenue, shock=shock, conditions=conditions,
                            vol=vol)
    booked = true_loss * (1.0 - traits.window_dressing)
    rate = BASE_RATE + traits.rate_spread
    interest = (rate * state.bank_debt + 0.5 * rate * state.shareholder_loans) * fraction
    fixed_target = econ.fixed_share * annual / econ.turnover
    capex = depreciation + max(0.0, fixed_target - state.fixed) * 0.5 * min(1.0, 2 * fraction)
    building = capex > 1.5 * depreciation or traits.group == "real_estate_development"
    capitalised = interest * econ.capitalised * (1.0 if building else 0.3)
    stretch = math.exp(max(0.0, -shock / vol) * 0.08) if vol > 0 else 1.0
    receivables, inventory, payables, advances = _working_capital(
        rng, traits, annual, stretch, conditions)
    # Booked write-downs come off inventory first, then fixed assets; capitalised interest
    # adds to the cost of what is being built (a developer's projects are inventory).
    old_inventory = max(0.0, state.inventory - booked)
    fixed_after = state.fixed - max(0.0, booked - state.inventory)
    into_inventory = capitalised if traits.group == "real_estate_development" else 0.0
    inventory += into_inventory
    fixed_after += capitalised - into_inventory
    bills = payables * (state.bills / max(1.0, state.bills + state.trade_payables)
                        if state.bills > 0 else (rng.uniform(0.3, 0.6) if traits.bills_user
                                                 else 0.0))
    # Capitalised interest is paid as interest, so it is not an operating outflow.
    delta_nwc = ((receivables - state.receivables) + (inventory - into_inventory - old_inventory)
                 - (payables - state.trade_payables - state.bills)
                 - (advances - state.advances))
    tax_rate = SMALL_TAX_RATE if traits.spec.size_class in {"small", "micro"} else TAX_RATE
    pre_tax = ebitda - depreciation - booked - (interest - capitalised)
    income_tax = tax_rate * max(0.0, pre_tax)
    tax_paid = 0.7 * income_tax + 0.3 * state.income_tax
    comfortable = state.cash > traits.cash_buffer * state.revenue
    dividends = traits.payout * max(0.0, state.net_profit) if comfortable else 0.0
    stocks = replace(
        state, revenue=annual, receivables=receivables, inventory=inventory,
        fixed=max(0.0, fixed_after + capex - depreciation), trade_payables=payables - bills,
        bills=bills, advances=advances, hidden_loss=state.hidden_loss + true_loss - booked,
        margin_shock=shock, income_tax=income_tax,
    )
    return Operations(
        fraction=fraction, revenue=revenue, cost_of_sales=cost_share(traits) * revenue,
        ebitda=ebitda, depreciation=depreciation, impairment=booked, interest=interest,
        capitalised=capitalised, income_tax=income_tax, income_tax_paid=tax_paid,
        operating_cash_flow=ebitda - tax_paid - delta_nwc, capex=capex, dividends=dividends,
        state=stocks,
    )
