"""What a synthetic firm is: its peer group, size, age and the traits a lender cannot see.

Hidden traits drive the firm's economics and, through them, its default; the rating model
only ever sees the statements those economics produce.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from crm_risk.rating.model.industry import industry_group
from crm_sim.rating.world import GROUPS, REVENUE_BANDS, SIZE_CLASSES, SIZE_MIX, GroupEconomics

# Age mix of a book at the rating date: start-ups (under 3 years) are about one in eight.
_AGE_BANDS: Final = ((0.07, 0.1, 1.0), (0.07, 1.0, 3.0), (0.16, 3.0, 6.0), (0.70, 6.0, 30.0))


@dataclass(frozen=True)
class FirmSpec:
    """The observable identity of a firm: industry class, MIIT size class, founding date."""

    industry_code: str
    size_class: str
    founded: date


@dataclass(frozen=True)
class FirmTraits:
    """A firm's identity plus the hidden traits that shape its economics."""

    spec: FirmSpec
    group: str
    quality: float  # management and franchise quality, N(0, 1)
    margin_edge: float  # persistent margin above or below the group's
    short_share: float  # share of bank debt that is short-term: rollover dependence
    bills_user: bool  # pays suppliers with bank acceptances
    margin_deposit: float  # restricted cash held against acceptances, share of the bills
    shareholder_support: float  # probability the owner steps in when cash runs short
    guarantee_exposure: float  # 互保 chain exposure: contagion nobody reports
    leverage_target: float
    cash_buffer: float  # cash the firm aims to hold, share of revenue
    payout: float  # dividend share of last year's profit
    rate_spread: float  # loan rate above the base rate
    window_dressing: float  # share of impairment losses the firm does not book
    decline_from: int | None  # year its franchise starts eroding (lost market, old product)
    working_capital: tuple[float, float, float]  # receivable, inventory, payable day factors
    full_year_revenue: float  # revenue of a full year at the rating date

    @property
    def economics(self) -> GroupEconomics:
        """Return the firm's peer-group economics."""
        return GROUPS[self.group]


def _weighted(rng: random.Random, options: tuple[str, ...], weights: tuple[float, ...]) -> str:
    return rng.choices(options, weights=weights)[0]


def draw_spec(rng: random.Random, *, rating_year_end: date) -> FirmSpec:
    """Draw a firm's industry, size class and founding date for a book rated at a year end."""
    names = tuple(GROUPS)
    group = _weighted(rng, names, tuple(GROUPS[n].weight for n in names))
    code = rng.choice(GROUPS[group].classes)
    size = _weighted(rng, SIZE_CLASSES, SIZE_MIX)
    share, low, high = rng.choices(_AGE_BANDS, weights=[b[0] for b in _AGE_BANDS])[0]
    del share
    age_years = rng.uniform(low, high)
    founded = rating_year_end - timedelta(days=int(age_years * 365.25))
    return FirmSpec(industry_code=code, size_class=size, founded=founded)


def draw_traits(rng: random.Random, spec: FirmSpec) -> FirmTraits:
    """Draw the hidden traits of a firm with identity ``spec``."""
    group = industry_group(spec.industry_code)
    econ = GROUPS[group]
    quality = rng.gauss(0, 1)
    small = spec.size_class in {"small", "micro"}
    short = econ.short_share + (0.15 if small else -0.05) + rng.gauss(0, 0.15)
    low, high = REVENUE_BANDS[spec.size_class]
    return FirmTraits(
        spec=spec,
        group=group,
        quality=quality,
        margin_edge=0.35 * econ.margin * (0.6 * quality + 0.8 * rng.gauss(0, 1)),
        short_share=min(0.97, max(0.1, short)),
        bills_user=rng.random() < econ.bills_users,
        margin_deposit=rng.uniform(0.2, 1.0),
        shareholder_support=min(0.9, max(0.0, rng.gauss(0.35 if small else 0.5, 0.2))),
        guarantee_exposure=rng.random() if rng.random() < (0.3 if small else 0.12) else 0.0,
        leverage_target=min(0.92, max(0.15, econ.leverage - 0.05 * quality
                                      + rng.gauss(0, 0.09))),
        cash_buffer=max(0.02, rng.gauss(0.10, 0.04) + 0.02 * quality),
        payout=max(0.0, rng.gauss(0.2, 0.12)) if not small else max(0.0, rng.gauss(0.1, 0.1)),
        rate_spread=max(0.0, 0.006 + (0.012 if small else 0.0) - 0.004 * quality
                        + rng.gauss(0, 0.004)),
        # Weak firms are likelier to defer write-downs; nobody outside sees how much.
        window_dressing=rng.uniform(0.3, 0.9) if rng.random() < 0.15 - 0.08 * quality else 0.0,
        decline_from=(rng.randrange(2018, 2028)
                      if rng.random() < 0.18 + (0.1 if quality < 0 else 0.0) else None),
        working_capital=(math.exp(rng.gauss(0, 0.3) - 0.1 * quality),
                         math.exp(rng.gauss(0, 0.3) - 0.05 * quality),
                         math.exp(rng.gauss(0, 0.25))),
        full_year_revenue=math.exp(rng.uniform(math.log(low), math.log(high))),
    )
