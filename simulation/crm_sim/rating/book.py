"""A seeded book of synthetic borrowers: statements per fiscal year and when each defaulted.

``generate_book`` draws firms until the book holds ``n_clients`` performing borrowers at the
first rating date (the end of fiscal year ``RATING_YEARS[0]``), simulates each from its
founding (or from the world's first year) to the last outcome year, and records its CAS
statements and its default year, if any. A firm that defaulted before a rating date is not
in that period's book, as in a real bank. Each firm has its own random stream, so the first
N firms of a seed are the same whatever the book size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from crm_risk.rating.model.statements import FinancialStatement
from crm_sim.rating.cas import statement
from crm_sim.rating.dynamics import founding_state, opening_state, operate
from crm_sim.rating.funding import settle
from crm_sim.rating.traits import FirmSpec, FirmTraits, draw_spec, draw_traits
from crm_sim.rating.world import FIRST_YEAR, World, make_world

RATING_YEARS: Final = (2024, 2025)  # two periods: rated at these year ends
LAST_YEAR: Final = RATING_YEARS[-1] + 1  # outcomes of the second period
STATEMENTS_PER_RATING: Final = 3
MIN_FIRST_PERIOD_DAYS: Final = 28
SHOW_FOUNDING_DATE: Final = 0.85  # share of submitters who fill in the founding date
ENTRANTS: Final = 0.08  # firms founded during the second period's year, as a share


@dataclass(frozen=True)
class FirmHistory:
    """One firm: identity, hidden traits, statements by fiscal year, default year."""

    index: int
    traits: FirmTraits
    statements: dict[int, FinancialStatement]
    default_year: int | None
    default_cause: str

    @property
    def spec(self) -> FirmSpec:
        """Return the firm's observable identity."""
        return self.traits.spec

    def performing_at(self, year: int) -> bool:
        """Return True when the firm filed a statement for ``year`` and had not defaulted."""
        return year in self.statements and (self.default_year is None
                                            or self.default_year > year)

    def statements_up_to(self, year: int) -> tuple[FinancialStatement, ...]:
        """Return up to three statements ending with fiscal ``year``, oldest first."""
        years = sorted(y for y in self.statements if y <= year)[-STATEMENTS_PER_RATING:]
        return tuple(self.statements[y] for y in years)

    def defaulted_in(self, year: int) -> bool:
        """Return True when the firm defaulted during ``year``."""
        return self.default_year == year


def _periods(founded: date) -> list[tuple[int, date, date]]:
    """Return (fiscal year, start, end) from the founding date or the world's first year."""
    first = max(founded, date(FIRST_YEAR, 1, 1))
    year_end = date(first.year, 12, 31)
    if (year_end - first).days + 1 < MIN_FIRST_PERIOD_DAYS:
        year_end = date(first.year + 1, 12, 31)  # a December start reports with next year
    periods = [(year_end.year, first, year_end)]
    periods += [(y, date(y, 1, 1), date(y, 12, 31)) for y in range(year_end.year + 1,
                                                                      LAST_YEAR + 1)]
    return periods


def simulate_firm(index: int, traits: FirmTraits, world: World, rng: random.Random) -> FirmHistory:
    """Simulate a firm year by year; stop at its default."""
    founded = traits.spec.founded
    periods = _periods(founded)
    # Revenue is drawn for the first rating date; start from what it was back then.
    years_back = max(0, RATING_YEARS[0] - periods[0][0])
    mature = traits.full_year_revenue / (1.0 + traits.economics.growth) ** years_back
    startup = founded >= date(FIRST_YEAR, 1, 1)
    state = (founding_state(rng, traits, mature) if startup
             else opening_state(rng, traits, mature))
    show_founding = rng.random() < SHOW_FOUNDING_DATE
    statements: dict[int, FinancialStatement] = {}
    for year, start, end in periods:
        age = (end - founded).days / 365.25
        fraction = min(1.0, ((end - start).days + 1) / 365.0)
        ops = operate(rng, traits, world, state, year=year, fraction=fraction,
                      mature_revenue=mature, age=age)
        settled = settle(rng, traits, world, state, ops, year=year, age=age)
        if settled.state is None:
            return FirmHistory(index, traits, statements, year, settled.cause)
        statements[year] = statement(rng, traits, ops, settled, start=start, end=end,
                                     show_founding=show_founding)
        state = settled.state
    return FirmHistory(index, traits, statements, None, "")


def firm(seed: int, index: int, world: World, *, spec: FirmSpec | None = None) -> FirmHistory:
    """Return firm ``index`` of ``seed``'s book (or a firm with the given identity)."""
    rng = random.Random(f"{seed}-firm-{index}")
    rating_end = date(RATING_YEARS[0], 12, 31)
    if spec is None:
        spec = draw_spec(rng, rating_year_end=rating_end)
        if rng.random() < ENTRANTS:
            # An entrant founded during the second period's year.
            founded = date(RATING_YEARS[1], 1, 1) + timedelta(days=rng.randrange(330))
            spec = FirmSpec(spec.industry_code, spec.size_class, founded)
    return simulate_firm(index, draw_traits(rng, spec), world, rng)


@dataclass(frozen=True)
class Book:
    """A seed's world and every firm drawn for it (performing or not at each rating date)."""

    seed: int
    world: World
    firms: tuple[FirmHistory, ...]

    def performing(self, year: int) -> list[FirmHistory]:
        """Return the firms a bank would rate at the end of fiscal ``year``."""
        return [f for f in self.firms if f.performing_at(year)]


def generate_book(*, seed: int, n_clients: int) -> Book:
    """Draw firms until ``n_clients`` are performing at the first rating date."""
    if n_clients < 1:
        msg = "n_clients must be at least 1"
        raise ValueError(msg)
    world = make_world(seed, last_year=LAST_YEAR)
    firms: list[FirmHistory] = []
    performing = 0
    index = 0
    while performing < n_clients:
        history = firm(seed, index, world)
        firms.append(history)
        performing += history.performing_at(RATING_YEARS[0])
        index += 1
    return Book(seed=seed, world=world, firms=tuple(firms))
