"""Draw firm size figures that land in an intended MIIT size class, and money messages.

The thresholds come from ``crm_client.domain.size_class`` (the same table the service
classifies with), so the generator cannot drift from the rule. For an intended class one
"binding" measure is drawn inside that class's band, which alone keeps the firm out of
the class above; the other measures follow from sector economics (revenue per employee,
assets per unit of revenue) and are raised to the class's lower bounds when they fall
short, which keeps the firm out of the class below.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final, TypeVar

from google.type import date_pb2, money_pb2

from crm_client.domain.size_class import (
    DEFAULT_SIZE_STANDARD,
    SIZE_STANDARDS,
    Measure,
    SectorThresholds,
    SizeClassName,
)

SIZE_MIX: Final[tuple[tuple[SizeClassName, float], ...]] = (
    ("large", 10.0), ("medium", 30.0), ("small", 40.0), ("micro", 20.0),
)  # fmt: skip
"""Target size mix of the book, in percent."""

PROJECT_FINANCE_SIZE_MIX: Final[tuple[tuple[SizeClassName, float], ...]] = (
    ("large", 10.0), ("medium", 40.0), ("small", 45.0), ("micro", 5.0),
)  # fmt: skip
"""Project companies are rarely micro: they hold a whole plant or road."""

# Yuan per unit of each measure, and the granularity figures are rounded down to.
_UNIT: Final[dict[Measure, int]] = {"employees": 1, "revenue_wan": 10_000, "assets_wan": 10_000}
_STEP: Final[dict[Measure, int]] = {"employees": 1, "revenue_wan": 1_000, "assets_wan": 1_000}
_LARGE_SPAN: Final = 8.0  # large firms are drawn up to 8x the large-tier bounds
_MICRO_FLOOR: Final = 0.1  # micro firms are drawn down to 10% of the small-tier bounds

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Economics:
    """Typical ratios of a sector: revenue per employee (万) and assets per unit of revenue."""

    revenue_per_employee_wan: tuple[float, float]
    assets_per_revenue: tuple[float, float]


_ECONOMICS: Final[dict[str, _Economics]] = {
    "industry": _Economics((60, 250), (0.6, 2.0)),
    "construction": _Economics((80, 300), (0.8, 1.6)),
    "wholesale": _Economics((300, 2000), (0.3, 0.8)),
    "retail": _Economics((60, 300), (0.4, 1.0)),
    "transport": _Economics((40, 150), (0.8, 2.5)),
    "warehousing": _Economics((40, 150), (1.0, 3.0)),
    "postal": _Economics((30, 80), (0.5, 1.5)),
    "hotels_catering": _Economics((20, 60), (1.0, 3.0)),
    "telecoms": _Economics((80, 300), (1.0, 2.5)),
    "software_it": _Economics((40, 150), (0.6, 1.5)),
    "real_estate_development": _Economics((300, 1500), (2.0, 6.0)),
    "property_management": _Economics((8, 20), (0.3, 0.8)),
    "leasing_business_services": _Economics((50, 300), (1.5, 8.0)),
    "agriculture": _Economics((20, 80), (1.0, 2.5)),
    "other": _Economics((30, 120), (0.8, 2.0)),
}
# Power plants, mines and financed projects carry far more assets per yuan of revenue.
_ASSET_HEAVY_SECTIONS: Final[dict[str, tuple[float, float]]] = {"D": (2.5, 6.0), "B": (1.5, 3.5)}
_PROJECT_FINANCE_ASSETS_PER_REVENUE: Final = (6.0, 12.0)


@dataclass(frozen=True)
class SizeFigures:
    """Employees, revenue and assets of a firm (money in whole yuan) and its intended class."""

    size_class: SizeClassName
    employees: int
    revenue_yuan: int
    assets_yuan: int


def weighted_choice(rng: random.Random, options: tuple[tuple[_T, float], ...]) -> _T:
    """Return one option drawn with probability proportional to its weight."""
    values = [value for value, _ in options]
    weights = [weight for _, weight in options]
    return rng.choices(values, weights=weights)[0]


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    """Return a value spread evenly on a log scale over [low, high)."""
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _band(
    thresholds: SectorThresholds, index: int, size_class: SizeClassName
) -> tuple[float, float]:
    """Return the [low, high) band of measure ``index`` that only ``size_class`` covers."""
    large, medium = thresholds.large[index], thresholds.medium[index]
    small = thresholds.small[index]
    bands: dict[SizeClassName, tuple[float, float]] = {
        "large": (large, large * _LARGE_SPAN),
        "medium": (medium, large),
        "small": (small, medium),
        "micro": (small * _MICRO_FLOOR, small),
    }
    return bands[size_class]


def _in_band(rng: random.Random, measure: Measure, low: float, high: float) -> int:
    """Return a base-unit figure (people or yuan) in [low, high) of the measure's unit."""
    unit, step = _UNIT[measure], _STEP[measure]
    low_units = max(step, math.ceil(low * unit))
    high_units = math.ceil(high * unit)  # exclusive
    drawn = int(_log_uniform(rng, low_units, high_units)) // step * step
    # Rounding can leave the band at either edge; pull the figure back inside.
    return min(max(drawn, low_units), high_units - 1)


def _lower_bounds(thresholds: SectorThresholds, size_class: SizeClassName) -> tuple[int, ...]:
    """Return the bounds every measure must reach for ``size_class`` (none for micro)."""
    if size_class == "micro":
        return tuple(0 for _ in thresholds.measures)
    return {"large": thresholds.large, "medium": thresholds.medium, "small": thresholds.small}[
        size_class
    ]


def draw_size_figures(
    rng: random.Random,
    *,
    sector: str,
    section: str,
    size_class: SizeClassName,
    project_finance: bool,
) -> SizeFigures:
    """Return figures for a firm in MIIT ``sector`` that classify as ``size_class``."""
    thresholds = SIZE_STANDARDS[DEFAULT_SIZE_STANDARD].sectors[sector]
    economics = _ECONOMICS[sector]
    measures = thresholds.measures
    binding: Measure = (
        "revenue_wan" if "revenue_wan" in measures and rng.random() < 0.7 else rng.choice(measures)
    )
    low, high = _band(thresholds, measures.index(binding), size_class)
    drawn = _in_band(rng, binding, low, high)

    revenue_per_employee = rng.uniform(*economics.revenue_per_employee_wan) * 10_000
    assets_range = economics.assets_per_revenue
    if project_finance:
        assets_range = _PROJECT_FINANCE_ASSETS_PER_REVENUE
    elif section in _ASSET_HEAVY_SECTIONS:
        assets_range = _ASSET_HEAVY_SECTIONS[section]
    assets_per_revenue = rng.uniform(*assets_range)

    if binding == "revenue_wan":
        revenue = float(drawn)
    elif binding == "employees":
        revenue = drawn * revenue_per_employee
    else:
        revenue = drawn / assets_per_revenue
    figures: dict[Measure, int] = {
        "employees": max(3, int(revenue / revenue_per_employee)),
        "revenue_wan": max(_STEP["revenue_wan"], int(revenue) // 1000 * 1000),
        "assets_wan": max(_STEP["assets_wan"], int(revenue * assets_per_revenue) // 1000 * 1000),
    }
    figures[binding] = drawn

    # Raise short measures to the class's lower bounds so the firm does not drop a tier.
    for measure, bound in zip(measures, _lower_bounds(thresholds, size_class), strict=True):
        floor_units = bound * _UNIT[measure]
        if measure != binding and figures[measure] < floor_units:
            figures[measure] = _in_band(rng, measure, bound, bound * 1.3)
    return SizeFigures(
        size_class=size_class,
        employees=figures["employees"],
        revenue_yuan=figures["revenue_wan"],
        assets_yuan=figures["assets_wan"],
    )


def previous_revenue(rng: random.Random, revenue_yuan: int, growth: tuple[float, float]) -> int:
    """Return last year's revenue so that this year's shows a growth drawn from ``growth``."""
    rate = rng.uniform(*growth)
    return max(1_000, int(revenue_yuan / (1 + rate)) // 1000 * 1000)


def registered_capital(rng: random.Random, assets_yuan: int, *, state_owned: bool) -> int:
    """Return a registered capital in yuan, a round multiple of 10万, from total assets."""
    share = rng.uniform(0.08, 0.35) * (1.5 if state_owned else 1.0)
    return max(100_000, int(assets_yuan * share) // 100_000 * 100_000)


_CENT: Final = Decimal("0.01")


def cny(amount: Decimal | int) -> money_pb2.Money:
    """Return CNY Money for a yuan amount, rounded to the cent."""
    value = Decimal(amount).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    units = int(value)
    nanos = int((value - units) * 10**9)
    return money_pb2.Money(currency_code="CNY", units=units, nanos=nanos)


def date_message(day: date) -> date_pb2.Date:
    """Return a google.type.Date for ``day``."""
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)
