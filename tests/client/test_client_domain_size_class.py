"""Tests for MIIT 2011 SME size classification (工信部联企业〔2011〕300号)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_client.domain.size_class import (
    DEFAULT_SIZE_STANDARD,
    SIZE_STANDARDS,
    SizeResult,
    classify_size,
    yuan_to_wan,
)

E, R, A = "employees", "revenue_wan", "assets_wan"

# DOMAIN §2, transcribed independently of the module: measures, then large, medium
# and small lower bounds aligned with the measures.
EXPECTED: dict[str, tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {
    "industry": ((E, R), (1000, 40000), (300, 2000), (20, 300)),
    "construction": ((R, A), (80000, 80000), (6000, 5000), (300, 300)),
    "wholesale": ((E, R), (200, 40000), (20, 5000), (5, 1000)),
    "retail": ((E, R), (300, 20000), (50, 500), (10, 100)),
    "transport": ((E, R), (1000, 30000), (300, 3000), (20, 200)),
    "warehousing": ((E, R), (200, 30000), (100, 1000), (20, 100)),
    "postal": ((E, R), (1000, 30000), (300, 2000), (20, 100)),
    "hotels_catering": ((E, R), (300, 10000), (100, 2000), (10, 100)),
    "telecoms": ((E, R), (2000, 100000), (100, 1000), (10, 100)),
    "software_it": ((E, R), (300, 10000), (100, 1000), (10, 50)),
    "real_estate_development": ((R, A), (200000, 10000), (1000, 5000), (100, 2000)),
    "property_management": ((E, R), (1000, 5000), (300, 1000), (100, 500)),
    "leasing_business_services": ((E, A), (300, 120000), (100, 8000), (10, 100)),
    "agriculture": ((R,), (20000,), (500,), (50,)),
    "other": ((E,), (300,), (100,), (10,)),
}
TIERS = ("large", "medium", "small")
ONE_YUAN_IN_WAN = Decimal("0.0001")


def classify(sector: str, values: dict[str, Decimal]) -> SizeResult:
    """Classify with the given measures; unused measures are passed as None."""
    employees = values.get(E)
    return classify_size(
        sector=sector,
        employees=None if employees is None else int(employees),
        revenue_wan=values.get(R),
        assets_wan=values.get(A),
    )


def just_below(measure: str, bound: int) -> Decimal:
    """Return the largest value under ``bound``: one person or one yuan less."""
    return Decimal(bound - 1) if measure == E else Decimal(bound) - ONE_YUAN_IN_WAN


class TestConfiguration:
    def test_default_version_matches_domain_table(self) -> None:
        """The MIIT-2011-300 thresholds equal the DOMAIN §2 table for all 15 sectors."""
        standard = SIZE_STANDARDS[DEFAULT_SIZE_STANDARD]
        assert DEFAULT_SIZE_STANDARD == "MIIT-2011-300"
        assert standard.version == DEFAULT_SIZE_STANDARD
        actual = {
            key: (t.measures, t.large, t.medium, t.small) for key, t in standard.sectors.items()
        }
        assert actual == EXPECTED


@pytest.mark.parametrize("sector", list(EXPECTED))
class TestBoundaries:
    def test_exactly_at_each_tier(self, sector: str) -> None:
        """Meeting every bound of a tier exactly gives that tier (bounds are inclusive)."""
        measures, *tiers = EXPECTED[sector]
        for tier, bounds in zip(TIERS, tiers, strict=True):
            values = {m: Decimal(b) for m, b in zip(measures, bounds, strict=True)}
            assert classify(sector, values).size_class == tier

    def test_one_below_on_any_measure_drops_a_tier(self, sector: str) -> None:
        """Falling one unit short on any one measure drops to the next tier down."""
        measures, *tiers = EXPECTED[sector]
        lower_tiers = (*TIERS[1:], "micro")
        for tier_bounds, lower in zip(tiers, lower_tiers, strict=True):
            for short in measures:
                values = {
                    m: just_below(m, b) if m == short else Decimal(b)
                    for m, b in zip(measures, tier_bounds, strict=True)
                }
                assert classify(sector, values).size_class == lower, (short, values)

    def test_zero_is_micro(self, sector: str) -> None:
        """A firm with nothing on every measure is micro."""
        measures = EXPECTED[sector][0]
        assert classify(sector, dict.fromkeys(measures, Decimal(0))).size_class == "micro"

    def test_missing_required_measure_is_named(self, sector: str) -> None:
        """Leaving out a measure the sector uses raises ValueError naming that measure."""
        measures, large, *_ = EXPECTED[sector]
        for missing in measures:
            values = {m: Decimal(b) for m, b in zip(measures, large, strict=True) if m != missing}
            with pytest.raises(ValueError, match=missing):
                classify(sector, values)


class TestRules:
    def test_brief_example_reason(self) -> None:
        """The reason names the sector, each comparison and the result."""
        result = classify_size(
            sector="industry", employees=350, revenue_wan=Decimal(2500), assets_wan=None
        )
        assert result == SizeResult(
            "medium",
            "MIIT-2011-300",
            "industry: employees 350 >= 300 and revenue 2500万 >= 2000万 → medium",
        )

    def test_micro_reason_names_failed_bounds(self) -> None:
        """A micro result lists the small-tier bounds that were missed."""
        result = classify_size(
            sector="leasing_business_services",
            employees=50,
            revenue_wan=None,
            assets_wan=Decimal("99.5"),
        )
        assert result.size_class == "micro"
        assert result.reason == "leasing_business_services: assets 99.5万 < 100万 → micro"

    def test_big_headcount_with_small_revenue_drops_tiers(self) -> None:
        """Both bounds must be met: 1500 staff but 1000万 revenue is only small."""
        result = classify_size(
            sector="industry", employees=1500, revenue_wan=Decimal(1000), assets_wan=None
        )
        assert result.size_class == "small"

    def test_real_estate_large_needs_assets_too(self) -> None:
        """Huge development revenue with assets under 10000万 is medium, not large."""
        result = classify_size(
            sector="real_estate_development",
            employees=None,
            revenue_wan=Decimal(300000),
            assets_wan=Decimal(9999),
        )
        assert result.size_class == "medium"

    def test_unused_measures_are_ignored(self) -> None:
        """Agriculture looks at revenue only, whatever the headcount and assets."""
        result = classify_size(
            sector="agriculture", employees=5, revenue_wan=Decimal(20000), assets_wan=Decimal(1)
        )
        assert result.size_class == "large"

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"sector": "mining"}, ValueError, "unknown size-class sector"),
            ({"version": "MIIT-2099"}, ValueError, "unknown size standard version"),
            ({"employees": -1}, ValueError, "employees must be a finite, non-negative"),
            ({"revenue_wan": Decimal("NaN")}, ValueError, "revenue_wan must be a finite"),
            ({"revenue_wan": Decimal("Infinity")}, ValueError, "revenue_wan must be a finite"),
            ({"employees": True}, TypeError, "not a bool"),
        ],
    )
    def test_rejected_inputs(self, kwargs: dict[str, object], error: type, match: str) -> None:
        """Unknown sectors or versions and unusable measures raise instead of guessing."""
        arguments: dict[str, object] = {
            "sector": "industry",
            "employees": 100,
            "revenue_wan": Decimal(100),
            "assets_wan": None,
            **kwargs,
        }
        with pytest.raises(error, match=match):
            classify_size(**arguments)  # type: ignore[arg-type]

    @settings(max_examples=200, database=None)
    @given(
        sector=st.sampled_from(list(EXPECTED)),
        base=st.tuples(*[st.integers(min_value=0, max_value=250_000)] * 3),
        extra=st.tuples(*[st.integers(min_value=0, max_value=250_000)] * 3),
    )
    def test_growing_never_shrinks_the_class(
        self, sector: str, base: tuple[int, int, int], extra: tuple[int, int, int]
    ) -> None:
        """Raising any measures never gives a smaller size class (monotonicity)."""
        order = ["micro", "small", "medium", "large"]
        before = dict(zip((E, R, A), map(Decimal, base), strict=True))
        after = {m: before[m] + d for m, d in zip((E, R, A), extra, strict=True)}
        small_result = classify(sector, before).size_class
        big_result = classify(sector, after).size_class
        assert order.index(big_result) >= order.index(small_result)


class TestYuanToWan:
    @pytest.mark.parametrize(
        ("yuan", "wan"),
        [
            ("10000", "1"),
            ("0", "0"),
            ("20000000", "2000"),
            ("123456789.12", "12345.678912"),
            ("1", "0.0001"),
            ("-50000", "-5"),
        ],
    )
    def test_exact_conversion(self, yuan: str, wan: str) -> None:
        """Yuan divide by 10,000 exactly, keeping every digit."""
        assert yuan_to_wan(Decimal(yuan)) == Decimal(wan)

    def test_many_digits_survive(self) -> None:
        """More digits than the default context precision are not rounded away."""
        yuan = Decimal("1234567890123456789012345678901.23")
        assert yuan_to_wan(yuan) == Decimal("123456789012345678901234567.890123")

    @pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
    def test_non_finite_amounts_are_refused(self, bad: str) -> None:
        """NaN and infinities are not amounts and raise ValueError."""
        with pytest.raises(ValueError, match="finite"):
            yuan_to_wan(Decimal(bad))
