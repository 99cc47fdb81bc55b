"""Portfolio concentration: exposures, shares, HHI, top-10 share and limit use (DOMAIN §5).

Pure functions over holdings. Single-client and group limits are shares of net capital
(资本净额); industry and region limits are shares of total loans, as bank practice sets them
(行业限额), measured against the larger of the configured loan book and the registered
exposure. Exposure is the committed amount of every registered facility in
CNY (credit granted, 授信), before mitigation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

Dimension = Literal["client", "group", "industry", "region"]
DIMENSIONS: Final[tuple[Dimension, ...]] = ("client", "group", "industry", "region")
UNKNOWN: Final = ""


@dataclass(frozen=True)
class Holding:
    """One client's exposure with the facts that place it in groups, industries and regions."""

    client_id: str
    amount: Decimal
    group: str = ""
    industry_section: str = ""
    province: str = ""

    def key(self, dimension: Dimension) -> str:
        """Return this holding's key in a dimension ("" when not known)."""
        if dimension == "client":
            return self.client_id
        if dimension == "group":
            return self.group
        if dimension == "industry":
            return self.industry_section
        return self.province


@dataclass(frozen=True)
class Limits:
    """Configured limits."""

    net_capital: Decimal
    single_client: float
    group: float
    industry: Mapping[str, float]
    default_industry: float
    region: Mapping[str, float]
    default_region: float
    warn_use: float = 0.8
    # The bank's loan book: industry and region shares are measured against the larger of it
    # and the registered exposure, so a young or partial portfolio is not "100 % one industry".
    loan_book: Decimal = Decimal(0)

    def limit(self, dimension: Dimension, key: str) -> float:
        """Return the limit share of one key."""
        if dimension == "client":
            return self.single_client
        if dimension == "group":
            return self.group
        if dimension == "industry":
            return self.industry.get(key, self.default_industry)
        return self.region.get(key, self.default_region)


@dataclass(frozen=True)
class Usage:
    """One limit's use: shares of its base, headroom in CNY, flags."""

    dimension: Dimension
    key: str
    limit_share: float
    used_share: float
    headroom: Decimal
    near_limit: bool
    breached: bool


def exposures(holdings: Iterable[Holding]) -> dict[Dimension, dict[str, Decimal]]:
    """Return exposure per key in each dimension (unknown keys left out)."""
    result: dict[Dimension, dict[str, Decimal]] = {d: defaultdict(Decimal) for d in DIMENSIONS}
    for holding in holdings:
        for dimension in DIMENSIONS:
            key = holding.key(dimension)
            if key != UNKNOWN:
                result[dimension][key] += holding.amount
    return {d: dict(v) for d, v in result.items()}


def total(holdings: Iterable[Holding]) -> Decimal:
    """Return the total exposure."""
    return sum((h.amount for h in holdings), Decimal(0))


def hhi(holdings: Iterable[Holding]) -> float:
    """Return the Herfindahl-Hirschman index of client shares of total exposure (0-1)."""
    per_client = exposures(holdings)["client"]
    whole = sum(per_client.values(), Decimal(0))
    if whole <= 0:
        return 0.0
    return float(sum((a / whole) ** 2 for a in per_client.values()))


def top_share(holdings: Iterable[Holding], n: int = 10) -> Decimal:
    """Return the exposure of the `n` largest clients."""
    per_client = sorted(exposures(holdings)["client"].values(), reverse=True)
    return sum(per_client[:n], Decimal(0))


def usage(
    dimension: Dimension, key: str, amount: Decimal, whole: Decimal, limits: Limits
) -> Usage:
    """Return the use of one key's limit given its exposure and the portfolio total."""
    share = limits.limit(dimension, key)
    limit = Decimal(str(share))
    if dimension in ("client", "group"):
        base = limits.net_capital
        used = amount / base
        headroom = limit * base - amount
    else:
        base = whole
        used = amount / base if base > 0 else Decimal(0)
        # Adding x to this key also adds x to the total: (a + x) / (T + x) = L.
        headroom = (limit * base - amount) / (1 - limit) if limit < 1 else Decimal("Infinity")
    used_float = float(used)
    return Usage(
        dimension=dimension,
        key=key,
        limit_share=share,
        used_share=used_float,
        headroom=headroom.quantize(Decimal("0.01")) if headroom.is_finite() else headroom,
        near_limit=used_float >= share * limits.warn_use,
        breached=used_float > share,
    )


def usages(
    holdings: Iterable[Holding],
    limits: Limits,
    *,
    only: Mapping[Dimension, Iterable[str]] | None = None,
) -> list[Usage]:
    """Return limit use for every key (or only the keys named in `only`)."""
    listed = list(holdings)
    whole = max(total(listed), limits.loan_book)
    found: list[Usage] = []
    for dimension, amounts in exposures(listed).items():
        keys = amounts.keys() if only is None else [k for k in only.get(dimension, ()) if k]
        for key in keys:
            found.append(usage(dimension, key, amounts.get(key, Decimal(0)), whole, limits))
    return found


def with_proposal(holdings: Iterable[Holding], proposal: Holding) -> list[Holding]:
    """Return the holdings as they would be with `proposal` added."""
    return [*holdings, proposal]


def keys_of(holding: Holding) -> dict[Dimension, list[str]]:
    """Return the keys a holding counts against, per dimension."""
    return {d: [holding.key(d)] for d in DIMENSIONS}
