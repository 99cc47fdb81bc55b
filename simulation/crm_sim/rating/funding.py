"""How a synthetic firm's year is funded, and whether it defaults doing so.

Default comes from economics, never from a ratio rule: the firm runs out of free cash
because banks called part of its maturing loans, a bad year ate its cash flow, and its
owner did not step in; or losses it hid left it insolvent; or a guarantee chain it belongs
to pulled it down. Bank behaviour depends on the sector's credit conditions and on what
banks know about the firm (its true quality), plus chance.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Final

from crm_sim.rating.dynamics import OTHER_PAYABLES_FLOOR, Operations, State
from crm_sim.rating.traits import FirmTraits
from crm_sim.rating.world import World

MAX_LEVERAGE_LENT: Final = 0.85  # banks lend new money only up to this debt ratio
CURRENT_PORTION: Final = 0.2  # share of long-term bank debt falling due within a year
PAYABLES_STRETCH: Final = 0.25  # suppliers tolerate this much extra credit before suing
# Calibration of the book's default rate (about 4 % a year): banks' base reluctance.
DENIAL_BASE: Final = -4.0
# Banks ration small firms first when credit tightens (SME lending surveys).
SIZE_RATIONING: Final = {"large": -0.2, "medium": 0.0, "small": 0.25, "micro": 0.5}


@dataclass(frozen=True)
class Settled:
    """A year's funding: the year-end state (None after a default) and its flows."""

    state: State | None
    operating_cash_flow: float  # reported: operations plus any supplier credit stretched
    financing_cash_flow: float
    cause: str = ""  # "liquidity", "insolvency" or "contagion" when the firm defaulted


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def maturing_bank_debt(traits: FirmTraits, bank_debt: float) -> float:
    """Return the bank debt falling due within a year: short-term plus the current portion."""
    short = traits.short_share
    return bank_debt * (short + (1.0 - short) * CURRENT_PORTION)


def _called(
    rng: random.Random, traits: FirmTraits, world: World, prev: State, *, year: int, age: float
) -> float:
    """Return how much of the maturing bank debt banks refuse to roll over this year."""
    leverage = prev.liabilities / prev.assets if prev.assets > 0 else 1.0
    reluctance = (DENIAL_BASE + 1.2 * world.tightness[traits.group][year]
                  - 0.6 * traits.quality + 5.0 * max(0.0, leverage - 0.8)
                  + 1.5 * (prev.equity <= 0) + 1.0 * (age < 3.0)
                  + SIZE_RATIONING[traits.spec.size_class])
    if rng.random() >= _logistic(reluctance):
        return 0.0
    return maturing_bank_debt(traits, prev.bank_debt) * rng.uniform(0.25, 0.7)


def _contagion(rng: random.Random, traits: FirmTraits, world: World, year: int) -> bool:
    """Return True when an event no statement shows brings the firm down this year."""
    conditions = world.shock[traits.group][year]
    hazard = 0.003 + 0.03 * traits.guarantee_exposure * max(0.0, -conditions)
    return rng.random() < hazard


def _close_balance(state: State) -> State:
    """Set other payables so that assets = liabilities + equity, never below the floor."""
    known = state.liabilities - state.other_payables
    payables = state.assets - state.equity - known
    floor = OTHER_PAYABLES_FLOOR * state.assets
    if payables >= floor:
        return replace(state, other_payables=payables)
    # The shortfall is money owed to the firm by related parties (other receivables).
    deficit = (floor - payables) / (1.0 - OTHER_PAYABLES_FLOOR)
    grown = replace(state, other_current=state.other_current + deficit)
    return replace(grown, other_payables=OTHER_PAYABLES_FLOOR * grown.assets)


def _borrowing(
    traits: FirmTraits, prev: State, stocks: State, *, cash: float, called: float,
    target_cash: float,
) -> float:
    """Return new bank borrowing (negative: repayment) for the year.

    Firms move half-way towards their target leverage each year and borrow more when cash
    runs below their buffer; banks that called loans this year lend nothing new, and no
    bank lends beyond MAX_LEVERAGE_LENT.
    """
    bank = prev.bank_debt - called
    operating_liabilities = (stocks.trade_payables + stocks.bills + stocks.advances
                             + prev.other_payables + prev.shareholder_loans)
    assets = stocks.assets - stocks.cash + max(cash, 0.0)
    desired = max(0.0, traits.leverage_target * assets - operating_liabilities)
    wanted = max(0.5 * (desired - bank), target_cash - cash)
    if wanted > 0:
        room = MAX_LEVERAGE_LENT * assets - (operating_liabilities + bank)
        return 0.0 if called else min(wanted, max(0.0, room))
    # Repay only out of cash above the buffer.
    return -min(-wanted, bank, max(0.0, cash - target_cash))


def settle(
    rng: random.Random, traits: FirmTraits, world: World, prev: State, ops: Operations,
    *, year: int, age: float,
) -> Settled:
    """Fund the year: roll or repay debt, draw on owners, and decide whether the firm defaults."""
    stocks = ops.state
    called = _called(rng, traits, world, prev, year=year, age=age)
    cash = prev.cash + ops.free_cash_flow - called
    restricted = traits.margin_deposit * stocks.bills
    target_cash = traits.cash_buffer * stocks.revenue + restricted
    borrowed = _borrowing(traits, prev, stocks, cash=cash, called=called,
                          target_cash=target_cash)
    cash += borrowed
    injected = 0.0
    if cash - restricted < 0.01 * stocks.revenue and rng.random() < traits.shareholder_support:
        injected = min((restricted + 0.01 * stocks.revenue - cash) * rng.uniform(1.0, 1.5),
                       0.3 * prev.assets)
    cash += injected
    stretched = max(0.0, restricted - cash)
    if stretched > PAYABLES_STRETCH * stocks.trade_payables:
        return Settled(None, ops.operating_cash_flow, 0.0, cause="liquidity")
    cash += stretched
    equity = prev.equity + ops.net_profit - ops.dividends
    assets = stocks.assets - stocks.cash + cash
    if equity - stocks.hidden_loss < -0.1 * assets and rng.random() < 0.35:
        return Settled(None, ops.operating_cash_flow, 0.0, cause="insolvency")
    if _contagion(rng, traits, world, year):
        return Settled(None, ops.operating_cash_flow, 0.0, cause="contagion")
    state = _close_balance(replace(
        stocks, cash=cash, trade_payables=stocks.trade_payables + stretched,
        bank_debt=prev.bank_debt - called + borrowed,
        shareholder_loans=prev.shareholder_loans + injected, equity=equity,
        net_profit=ops.net_profit,
    ))
    operating = ops.operating_cash_flow + stretched
    investing = -ops.capex
    return Settled(state, operating, cash - prev.cash - operating - investing)
