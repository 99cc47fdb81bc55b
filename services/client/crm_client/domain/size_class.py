"""Classify firms as large, medium, small or micro under versioned MIIT size standards.

The 2011 standard (工信部联企业〔2011〕300号 《中小企业划型标准规定》) gives each sector
two measures (one for agriculture and "other") and three tiers. A firm is large only if
it meets both large bounds; medium and small firms must meet both bounds of their tier,
otherwise they drop a tier; anything below the small tier is micro. So: test large,
then medium, then small, and return the first tier whose bounds are all met (``>=``).

Thresholds are data keyed by a version id, so a revised standard can be added beside
the 2011 one and results can say which version produced them. Money is in 万 (10,000
RMB); the API carries yuan, hence :func:`yuan_to_wan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final, Literal

Measure = Literal["employees", "revenue_wan", "assets_wan"]
SizeClassName = Literal["large", "medium", "small", "micro"]
TierName = Literal["large", "medium", "small"]

_MEASURE_LABELS: Final[dict[str, str]] = {
    "employees": "employees",
    "revenue_wan": "revenue",
    "assets_wan": "assets",
}
_WAN_PER_YUAN_EXPONENT: Final = -4


@dataclass(frozen=True)
class SectorThresholds:
    """The measures one sector is judged on and the minimum of each, per tier.

    ``large``, ``medium`` and ``small`` are aligned with ``measures``: the n-th number is
    the lower bound (inclusive) for the n-th measure.
    """

    label: str
    measures: tuple[Measure, ...]
    large: tuple[int, ...]
    medium: tuple[int, ...]
    small: tuple[int, ...]

    def tiers(self) -> tuple[tuple[TierName, tuple[int, ...]], ...]:
        """Return the tiers from largest to smallest with their bounds."""
        return (("large", self.large), ("medium", self.medium), ("small", self.small))


@dataclass(frozen=True)
class SizeStandard:
    """One published size standard: a version id, its source and per-sector thresholds."""

    version: str
    source: str
    sectors: Mapping[str, SectorThresholds]


@dataclass(frozen=True)
class SizeResult:
    """A size class with the standard version that produced it and a readable reason."""

    size_class: SizeClassName
    version: str
    reason: str


def _sector(
    label: str,
    measures: tuple[Measure, ...],
    large: tuple[int, ...],
    medium: tuple[int, ...],
    small: tuple[int, ...],
) -> SectorThresholds:
    """Build a sector's thresholds, checking every tier has one bound per measure."""
    if not len(measures) == len(large) == len(medium) == len(small):
        msg = f"{label}: every tier needs one bound per measure"
        raise ValueError(msg)
    return SectorThresholds(label, measures, large, medium, small)


_E_R: Final[tuple[Measure, ...]] = ("employees", "revenue_wan")
_R_A: Final[tuple[Measure, ...]] = ("revenue_wan", "assets_wan")
_E_A: Final[tuple[Measure, ...]] = ("employees", "assets_wan")

# DOMAIN §2, checked against the 2011 text as reproduced in public code. Keys are the
# sector keys returned by industry.miit_sector_of.
_MIIT_2011_SECTORS: Final = MappingProxyType({
    "industry": _sector("工业 industry", _E_R, (1000, 40000), (300, 2000), (20, 300)),
    "construction": _sector("建筑业 construction", _R_A, (80000, 80000), (6000, 5000), (300, 300)),
    "wholesale": _sector("批发业 wholesale", _E_R, (200, 40000), (20, 5000), (5, 1000)),
    "retail": _sector("零售业 retail", _E_R, (300, 20000), (50, 500), (10, 100)),
    "transport": _sector("交通运输业 transport", _E_R, (1000, 30000), (300, 3000), (20, 200)),
    "warehousing": _sector("仓储业 warehousing", _E_R, (200, 30000), (100, 1000), (20, 100)),
    "postal": _sector("邮政业 postal", _E_R, (1000, 30000), (300, 2000), (20, 100)),
    "hotels_catering": _sector(
        "住宿和餐饮业 hotels and catering", _E_R, (300, 10000), (100, 2000), (10, 100),
    ),
    "telecoms": _sector("信息传输业 telecoms", _E_R, (2000, 100000), (100, 1000), (10, 100)),
    "software_it": _sector(
        "软件和信息技术服务业 software and IT", _E_R, (300, 10000), (100, 1000), (10, 50),
    ),
    "real_estate_development": _sector(
        "房地产开发经营 real estate development", _R_A, (200000, 10000), (1000, 5000), (100, 2000),
    ),
    "property_management": _sector(
        "物业管理 property management", _E_R, (1000, 5000), (300, 1000), (100, 500),
    ),
    "leasing_business_services": _sector(
        "租赁和商务服务业 leasing and business services",
        _E_A, (300, 120000), (100, 8000), (10, 100),
    ),
    "agriculture": _sector(
        "农、林、牧、渔业 agriculture", ("revenue_wan",), (20000,), (500,), (50,),
    ),
    "other": _sector("其他未列明行业 other", ("employees",), (300,), (100,), (10,)),
})

DEFAULT_SIZE_STANDARD: Final = "MIIT-2011-300"

SIZE_STANDARDS: Final[dict[str, SizeStandard]] = {
    DEFAULT_SIZE_STANDARD: SizeStandard(
        version=DEFAULT_SIZE_STANDARD,
        source="工信部联企业〔2011〕300号 《中小企业划型标准规定》",
        sectors=_MIIT_2011_SECTORS,
    ),
}


def yuan_to_wan(amount_yuan: Decimal) -> Decimal:
    """Convert yuan to 万 (10,000 yuan) exactly, without rounding.

    Raise ValueError for NaN or infinity, which have no amount in 万.
    """
    # Shift the exponent on the digit tuple: division or scaleb would round to the
    # context precision (28 digits), and money must never be silently rounded.
    sign, digits, exponent = Decimal(amount_yuan).as_tuple()
    if not isinstance(exponent, int):  # NaN and infinities carry a str exponent
        msg = "amount in yuan must be finite"
        raise ValueError(msg)
    return Decimal((sign, digits, exponent + _WAN_PER_YUAN_EXPONENT))


def _format_value(measure: Measure, value: Decimal) -> str:
    """Render a measure's value for a reason string, e.g. "2500万" or "350"."""
    text = format(value.normalize(), "f")
    return text if measure == "employees" else f"{text}万"


def _measure_values(
    sector: str,
    thresholds: SectorThresholds,
    supplied: Mapping[Measure, int | Decimal | None],
) -> dict[Measure, Decimal]:
    """Return the sector's required measures as Decimals; raise ValueError if unusable."""
    values: dict[Measure, Decimal] = {}
    for measure in thresholds.measures:
        raw = supplied[measure]
        if raw is None:
            msg = f"{sector}: {measure} is required for this sector"
            raise ValueError(msg)
        if isinstance(raw, bool):
            msg = f"{sector}: {measure} must be a number, not a bool"
            raise TypeError(msg)
        value = Decimal(raw)
        if not value.is_finite() or value < 0:
            msg = f"{sector}: {measure} must be a finite, non-negative number"
            raise ValueError(msg)
        values[measure] = value
    return values


def _comparison(measure: Measure, value: Decimal, bound: int, operator: str) -> str:
    """Render one comparison such as "revenue 2500万 >= 2000万"."""
    label = _MEASURE_LABELS[measure]
    bound_text = _format_value(measure, Decimal(bound))
    return f"{label} {_format_value(measure, value)} {operator} {bound_text}"


def classify_size(
    *,
    sector: str,
    employees: int | None,
    revenue_wan: Decimal | None,
    assets_wan: Decimal | None,
    version: str = DEFAULT_SIZE_STANDARD,
) -> SizeResult:
    """Return the size class of a firm in ``sector`` under the standard ``version``.

    Only the measures the sector uses are required; the others may be None and are
    ignored. Raise ValueError for an unknown version or sector, or for a required
    measure that is missing, negative or not finite; raise TypeError for a bool.
    """
    standard = SIZE_STANDARDS.get(version)
    if standard is None:
        msg = f"unknown size standard version {version!r}"
        raise ValueError(msg)
    thresholds = standard.sectors.get(sector)
    if thresholds is None:
        msg = f"unknown size-class sector {sector!r} in {version}"
        raise ValueError(msg)
    supplied: dict[Measure, int | Decimal | None] = {
        "employees": employees,
        "revenue_wan": revenue_wan,
        "assets_wan": assets_wan,
    }
    values = _measure_values(sector, thresholds, supplied)
    for tier, bounds in thresholds.tiers():
        pairs = list(zip(thresholds.measures, bounds, strict=True))
        if all(values[measure] >= bound for measure, bound in pairs):
            met = " and ".join(_comparison(m, values[m], b, ">=") for m, b in pairs)
            return SizeResult(tier, version, f"{sector}: {met} → {tier}")
    small_pairs = zip(thresholds.measures, thresholds.small, strict=True)
    failed = " and ".join(
        _comparison(m, values[m], b, "<") for m, b in small_pairs if values[m] < b
    )
    return SizeResult("micro", version, f"{sector}: {failed} → micro")
